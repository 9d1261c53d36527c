package esl

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"unsafe"
)

// Event is one FreeSWITCH event (text/event-plain, url-decoded) with its
// headers in wire order and an optional body. It is immutable once delivered
// and safe to share between goroutines.
//
// An Event is stored compactly: one string holds every decoded header name and
// value, then the body, then a small index (the end offset of every name and
// value: 2 bytes each when the text is under 64 KiB, else 4). Parsing an event
// costs two allocations (this struct and that string) and the event retains
// about the size of its wire text. Strings returned by Get, Header, Range,
// Body, Name and UUID are substrings of that one string: a caller that keeps
// one of them long after dropping the event pins the whole event, so it should
// strings.Clone values it keeps for long.
type Event struct {
	s    string // names and values, then the body, then the index
	nh   int32  // number of headers
	ix   int32  // offset of the index in s (= end of the body)
	body int32  // offset of the body in s
	wide bool   // index entries are uint32 (else uint16)

	nameI, uuidI, subI int32 // header numbers of Event-Name, Unique-ID, Event-Subclass; -1 if absent
}

// le32 reads a little-endian uint32 at s[i:].
func le32(s string, i int) int {
	_ = s[i+3]
	return int(uint32(s[i]) | uint32(s[i+1])<<8 | uint32(s[i+2])<<16 | uint32(s[i+3])<<24)
}

// le16 reads a little-endian uint16 at s[i:].
func le16(s string, i int) int {
	_ = s[i+1]
	return int(uint16(s[i]) | uint16(s[i+1])<<8)
}

// off returns index entry k: the end of name k/2 (even k) or of value k/2
// (odd k).
func (e *Event) off(k int) int {
	if e.wide {
		return le32(e.s, int(e.ix)+4*k)
	}
	return le16(e.s, int(e.ix)+2*k)
}

// value returns the value of header i (which must be valid).
func (e *Event) value(i int32) string {
	return e.s[e.off(2*int(i)):e.off(2*int(i)+1)]
}

// Name is the Event-Name header.
func (e *Event) Name() string {
	if e.nameI < 0 {
		return ""
	}
	return e.value(e.nameI)
}

// Subclass is the Event-Subclass header (CUSTOM events).
func (e *Event) Subclass() string {
	if e.subI < 0 {
		return ""
	}
	return e.value(e.subI)
}

// UUID is the Unique-ID header (the channel's uuid), empty if none.
func (e *Event) UUID() string {
	if e.uuidI < 0 {
		return ""
	}
	return e.value(e.uuidI)
}

// Get returns the first value of header name (exact, case-sensitive as
// FreeSWITCH writes it), or "".
func (e *Event) Get(name string) string {
	v, _ := e.Lookup(name)
	return v
}

// Lookup is Get that also says whether the header is present.
func (e *Event) Lookup(name string) (string, bool) {
	if name == "" {
		return e.lookupEmpty()
	}
	s := e.s
	last := name[len(name)-1]
	start := 0
	if !e.wide {
		for p, end := int(e.ix), int(e.ix)+4*int(e.nh); p < end; p += 4 {
			ne := le16(s, p)
			// Same length, same last byte (names often share a prefix), then all.
			if ne-start == len(name) && s[ne-1] == last && s[start:ne] == name {
				return s[ne:le16(s, p+2)], true
			}
			start = le16(s, p+2)
		}
		return "", false
	}
	for p, end := int(e.ix), int(e.ix)+8*int(e.nh); p < end; p += 8 {
		ne := le32(s, p)
		if ne-start == len(name) && s[ne-1] == last && s[start:ne] == name {
			return s[ne:le32(s, p+4)], true
		}
		start = le32(s, p+4)
	}
	return "", false
}

// lookupEmpty finds a header with an empty name (a line ": value").
func (e *Event) lookupEmpty() (string, bool) {
	for i := 0; i < int(e.nh); i++ {
		if n, v := e.Header(i); n == "" {
			return v, true
		}
	}
	return "", false
}

// Body is the event's body (e.g. a BACKGROUND_JOB result), or "".
func (e *Event) Body() string { return e.s[e.body:e.ix] }

// Len is the number of headers.
func (e *Event) Len() int { return int(e.nh) }

// Header returns header i (0 <= i < Len) in wire order.
func (e *Event) Header(i int) (name, value string) {
	if i < 0 || i >= int(e.nh) {
		panic(fmt.Sprintf("esl: Event.Header(%d) out of range [0,%d)", i, e.nh))
	}
	start := 0
	if i > 0 {
		start = e.off(2*i - 1)
	}
	ne := e.off(2 * i)
	return e.s[start:ne], e.s[ne:e.off(2*i+1)]
}

// Range calls fn for each header in wire order until fn returns false.
func (e *Event) Range(fn func(name, value string) bool) {
	start := 0
	for k, end := 0, 2*int(e.nh); k < end; k += 2 {
		ne, ve := e.off(k), e.off(k+1)
		if !fn(e.s[start:ne], e.s[ne:ve]) {
			return
		}
		start = ve
	}
}

// Size is the number of bytes the event retains (its one string).
func (e *Event) Size() int { return len(e.s) }

// String renders the event as text/event-plain (for logs and debugging).
func (e *Event) String() string { return string(e.AppendPlain(nil)) }

// AppendPlain appends the event serialized as FreeSWITCH writes a
// text/event-plain body: `Name: url-encoded value` lines, then either a blank
// line, or `Content-Length: N`, a blank line and the body.
func (e *Event) AppendPlain(dst []byte) []byte {
	e.Range(func(name, value string) bool {
		dst = append(dst, name...)
		dst = append(dst, ':', ' ')
		if value == "" {
			dst = append(dst, "_undef_"...)
		} else {
			dst = appendURLEncode(dst, value)
		}
		dst = append(dst, '\n')
		return true
	})
	if b := e.Body(); b != "" {
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, int64(len(b)), 10)
		dst = append(dst, '\n', '\n')
		dst = append(dst, b...)
	} else {
		dst = append(dst, '\n')
	}
	return dst
}

// AppendFrame appends the event as a whole text/event-plain frame as
// FreeSWITCH sends it: `Content-Length`, `Content-Type: text/event-plain`, a
// blank line and the plain body.
func (e *Event) AppendFrame(dst []byte) []byte {
	body := e.AppendPlain(nil)
	dst = append(dst, "Content-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\nContent-Type: text/event-plain\n\n"...)
	return append(dst, body...)
}

// ---- building events ----

// eventBuilder accumulates decoded names and values and the index, then
// finishes into an Event with one string allocation. Its buffers are reused.
type eventBuilder struct {
	text []byte
	idx  []uint32
}

func (b *eventBuilder) reset() {
	b.text = b.text[:0]
	b.idx = b.idx[:0]
}

// addName appends a header name; the value must follow with addValue*/endValue.
func (b *eventBuilder) endName() { b.idx = append(b.idx, uint32(len(b.text))) }
func (b *eventBuilder) endValue() {
	b.idx = append(b.idx, uint32(len(b.text)))
}

func (b *eventBuilder) add(name, value string) {
	b.text = append(b.text, name...)
	b.endName()
	b.text = append(b.text, value...)
	b.endValue()
}

// finish appends the body and the index and builds the Event.
func (b *eventBuilder) finish(body []byte) *Event {
	bodyOff := len(b.text)
	b.text = append(b.text, body...)
	ix := len(b.text)
	wide := ix > 0xffff
	if wide {
		for _, v := range b.idx {
			b.text = append(b.text, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
		}
	} else {
		for _, v := range b.idx {
			b.text = append(b.text, byte(v), byte(v>>8))
		}
	}
	e := &Event{
		s:     string(b.text),
		nh:    int32(len(b.idx) / 2),
		ix:    int32(ix),
		body:  int32(bodyOff),
		wide:  wide,
		nameI: -1, uuidI: -1, subI: -1,
	}
	start := uint32(0)
	for i := 0; i+1 < len(b.idx); i += 2 {
		ne := b.idx[i]
		name := b.text[start:ne]
		start = b.idx[i+1]
		switch len(name) {
		case 10:
			if e.nameI < 0 && string(name) == "Event-Name" {
				e.nameI = int32(i / 2)
			}
		case 9:
			if e.uuidI < 0 && string(name) == "Unique-ID" {
				e.uuidI = int32(i / 2)
			}
		case 14:
			if e.subI < 0 && string(name) == "Event-Subclass" {
				e.subI = int32(i / 2)
			}
		}
	}
	return e
}

// ErrEventTooLarge means an event does not fit the compact representation
// (more than 4 GiB of text).
var ErrEventTooLarge = errors.New("esl: event too large")

// ErrEmptyEvent means a text/event-plain body held no header.
var ErrEmptyEvent = errors.New("esl: event has no headers")

// parsePlain copies a text/event-plain body into a buffer the event will own
// and parses it there (see parseOwned).
func (b *eventBuilder) parsePlain(p []byte) (*Event, error) {
	return b.parseOwned(ownCopy(p))
}

// ownCopy copies p into a new buffer with a little room for the index. The
// copy is not zeroed first (the compiler turns make+copy into one call).
func ownCopy(p []byte) []byte {
	raw := make([]byte, len(p)+len(p)/64+64)
	copy(raw, p)
	return raw[:len(p)]
}

// parseOwned parses the text/event-plain body raw (which the event will own;
// cap(raw) beyond len(raw) is free room) in place and builds the Event.
// Header values are url-decoded as FreeSWITCH's switch_url_decode does
// (`%XX` only; `+` stays a plus). A line `Content-Length: N` followed by a
// blank line introduces the inner body (N bytes, clamped to what is there).
// Lines without a colon are skipped.
//
// Names and decoded values are compacted toward the front of raw (the write
// position never passes the read position), then the body, then the index.
// '%' is searched once per stretch of headers, not once per value.
func (b *eventBuilder) parseOwned(raw []byte) (*Event, error) {
	p := raw
	if uint64(len(p)) > 1<<31-1 {
		return nil, ErrEventTooLarge
	}
	b.idx = b.idx[:0]
	e := &Event{nameI: -1, uuidI: -1, subI: -1}
	w := 0
	pos := 0
	pct := -2 // position of the next '%' at or after the current value; -1 none; -2 unknown
	bodyS, bodyE := 0, 0
	for pos < len(p) {
		end, next := len(p), len(p)
		if i := bytes.IndexByte(p[pos:], '\n'); i >= 0 {
			end, next = pos+i, pos+i+1
		}
		if end > pos && p[end-1] == '\r' {
			end--
		}
		if end == pos {
			break // blank line: end of headers
		}
		col := bytes.IndexByte(p[pos:end], ':')
		if col < 0 {
			pos = next
			continue
		}
		nameEnd := pos + col
		vs := nameEnd + 1
		if vs < end && p[vs] == ' ' {
			vs++
		}
		switch nameEnd - pos {
		case 14:
			name := p[pos:nameEnd]
			if string(name) == "Content-Length" && blankAt(p, next) {
				if n, ok := parseLen(p[vs:end]); ok {
					bodyS = skipBlank(p, next)
					bodyE = len(p)
					if n < int64(bodyE-bodyS) {
						bodyE = bodyS + int(n)
					}
				}
				break
			}
			if e.subI < 0 && string(name) == "Event-Subclass" {
				e.subI = int32(len(b.idx) / 2)
			}
		case 10:
			if e.nameI < 0 && string(p[pos:nameEnd]) == "Event-Name" {
				e.nameI = int32(len(b.idx) / 2)
			}
		case 9:
			if e.uuidI < 0 && string(p[pos:nameEnd]) == "Unique-ID" {
				e.uuidI = int32(len(b.idx) / 2)
			}
		}
		if bodyE > 0 {
			break
		}
		w += copy(p[w:], p[pos:nameEnd])
		b.idx = append(b.idx, uint32(w))
		if pct == -2 || (pct >= 0 && pct < vs) {
			pct = -1
			if i := bytes.IndexByte(p[vs:], '%'); i >= 0 {
				pct = vs + i
			}
		}
		if pct >= 0 && pct < end {
			w = decodeInPlace(p, w, vs, end)
		} else {
			w += copy(p[w:], p[vs:end])
		}
		b.idx = append(b.idx, uint32(w))
		pos = next
	}
	idx := b.idx
	if len(idx) == 0 {
		return nil, ErrEmptyEvent
	}
	e.body = int32(w)
	w += copy(p[w:], p[bodyS:bodyE])
	e.ix = int32(w)
	e.nh = int32(len(b.idx) / 2)
	e.wide = w > 0xffff
	per := 2
	if e.wide {
		per = 4
	}
	need := w + per*len(idx)
	if need > cap(p) {
		// Rare: not enough room for the index.
		np := make([]byte, need)
		copy(np, p[:w])
		p = np
	}
	p = p[:need]
	if e.wide {
		for _, v := range idx {
			binary.LittleEndian.PutUint32(p[w:], v)
			w += 4
		}
	} else {
		for _, v := range idx {
			binary.LittleEndian.PutUint16(p[w:], uint16(v))
			w += 2
		}
	}
	// p is never written again: the string shares its memory.
	e.s = unsafe.String(&p[0], len(p))
	return e, nil
}

var nl = []byte{'\n'}

// hexVal maps a byte to its hex digit value, or 0xff.
var hexVal = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i := byte(0); i < 10; i++ {
		t['0'+i] = i
	}
	for i := byte(0); i < 6; i++ {
		t['a'+i] = 10 + i
		t['A'+i] = 10 + i
	}
	return t
}()

// decodeInPlace url-decodes p[i:end] to p[w:] (w <= i) and returns the new
// write position. Runs without '%' move eight bytes at a time; a write never
// passes the bytes already read.
func decodeInPlace(p []byte, w, i, end int) int {
	const pcts = 0x2525252525252525 // "%%%%%%%%"
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	for i < end {
		if i+8 <= end {
			x := binary.LittleEndian.Uint64(p[i:])
			y := x ^ pcts
			m := (y - lo) &^ y & hi
			if m == 0 {
				binary.LittleEndian.PutUint64(p[w:], x)
				w += 8
				i += 8
				continue
			}
			// Bytes before the first '%' (the lowest flagged byte is exact).
			if k := bits.TrailingZeros64(m) / 8; k > 0 {
				if i-w >= 8 {
					// The whole word lands on bytes already read.
					binary.LittleEndian.PutUint64(p[w:], x)
				} else {
					copy(p[w:], p[i:i+k])
				}
				w += k
				i += k
			}
		}
		c := p[i]
		if c == '%' && i+2 < end {
			h, l := hexVal[p[i+1]], hexVal[p[i+2]]
			if h != 0xff && l != 0xff {
				c = h<<4 | l
				i += 2
			}
		}
		p[w] = c
		w++
		i++
	}
	return w
}

// blankAt reports whether p[pos:] starts with a blank line.
func blankAt(p []byte, pos int) bool {
	if pos < len(p) && p[pos] == '\n' {
		return true
	}
	return pos+1 < len(p) && p[pos] == '\r' && p[pos+1] == '\n'
}

func skipBlank(p []byte, pos int) int {
	if p[pos] == '\r' {
		pos++
	}
	return pos + 1
}

// parseLen parses a decimal length (surrounding spaces allowed).
func parseLen(v []byte) (int64, bool) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// ParseEvent parses a text/event-plain body (url-encoded `Name: value` lines,
// optionally followed by Content-Length and an inner body).
func ParseEvent(plain []byte) (*Event, error) {
	var b eventBuilder
	return b.parsePlain(plain)
}

// ParseEventJSON parses a text/event-json body: one JSON object whose string
// members are headers (in the object's order) and whose "_body" member is the
// body. Array values (FreeSWITCH's multi-value headers) are joined as
// FreeSWITCH's plain format writes them: "ARRAY::a|:b".
func ParseEventJSON(data []byte) (*Event, error) {
	var b eventBuilder
	return b.parseJSON(data)
}

func (b *eventBuilder) parseJSON(data []byte) (*Event, error) {
	if uint64(len(data)) > 1<<32-1 {
		return nil, ErrEventTooLarge
	}
	b.reset()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("esl: json event: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("esl: json event: not an object")
	}
	var body string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("esl: json event: %w", err)
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("esl: json event: %w", err)
		}
		val := jsonValue(raw)
		if key == "_body" {
			body = val
			continue
		}
		b.add(key, val)
	}
	if len(b.idx) == 0 {
		return nil, ErrEmptyEvent
	}
	return b.finish([]byte(body)), nil
}

func jsonValue(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var arr []any
	if json.Unmarshal(raw, &arr) == nil {
		var sb strings.Builder
		sb.WriteString("ARRAY::")
		for i, v := range arr {
			if i > 0 {
				sb.WriteString("|:")
			}
			fmt.Fprint(&sb, v)
		}
		return sb.String()
	}
	return strings.TrimSpace(string(raw))
}

// NewEvent builds an event from name/value pairs (tests, the simulator):
// NewEvent("Event-Name", "CUSTOM", "Event-Subclass", "x::y").
// A missing last value is "".
func NewEvent(kv ...string) *Event { return NewEventWithBody("", kv...) }

// NewEventWithBody is NewEvent with a body (e.g. a BACKGROUND_JOB result
// "+OK <uuid>\n").
func NewEventWithBody(body string, kv ...string) *Event {
	var b eventBuilder
	for i := 0; i < len(kv); i += 2 {
		v := ""
		if i+1 < len(kv) {
			v = kv[i+1]
		}
		b.add(kv[i], v)
	}
	return b.finish([]byte(body))
}

// ---- url encoding as FreeSWITCH does it ----

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// appendURLDecode appends v with `%XX` escapes decoded. Like FreeSWITCH's
// switch_url_decode, `+` is not a space and a `%` not followed by two hex
// digits is kept as is.
func appendURLDecode(dst, v []byte) []byte {
	for {
		i := bytes.IndexByte(v, '%')
		if i < 0 {
			return append(dst, v...)
		}
		dst = append(dst, v[:i]...)
		v = v[i:]
		if len(v) >= 3 {
			if h, ok := unhex(v[1]); ok {
				if l, ok := unhex(v[2]); ok {
					dst = append(dst, h<<4|l)
					v = v[3:]
					continue
				}
			}
		}
		dst = append(dst, '%')
		v = v[1:]
	}
}

// URLDecode decodes a FreeSWITCH url-encoded header value (`%XX`; `+` stays).
func URLDecode(v string) string {
	if strings.IndexByte(v, '%') < 0 {
		return v
	}
	return string(appendURLDecode(nil, []byte(v)))
}

// urlUnsafe is FreeSWITCH's SWITCH_URL_UNSAFE set.
const urlUnsafe = "\r\n #%&+:;<=>?@[\\]^`{|}\""

const upperHex = "0123456789ABCDEF"

// appendURLEncode encodes v as switch_url_encode does (double encoding on):
// bytes below space or above '~' and those of SWITCH_URL_UNSAFE become %XX.
func appendURLEncode(dst []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < ' ' || c > '~' || strings.IndexByte(urlUnsafe, c) >= 0 {
			dst = append(dst, '%', upperHex[c>>4], upperHex[c&15])
		} else {
			dst = append(dst, c)
		}
	}
	return dst
}

// URLEncode encodes a header value as FreeSWITCH writes it in plain events.
func URLEncode(v string) string { return string(appendURLEncode(nil, v)) }
