package esl

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"
)

// Event is one FreeSWITCH event (text/event-plain, url-decoded) with its
// headers in wire order and an optional body. It is immutable once delivered
// and safe to share between goroutines.
//
// An Event is stored compactly in one string: the decoded header values, then
// the body, then an index with one entry per header (a 2-byte name id and the
// end offset of the value). Header names are interned process-wide (see
// names.go), so an event keeps about half of its wire size. Parsing an event
// costs two allocations (this struct and that string). Values returned by
// Get, Header, Range, Body, Name and UUID are substrings of that one string:
// a caller that keeps one of them long after dropping the event pins the
// whole event, so it should strings.Clone values it keeps for long. Names
// returned by Header and Range are interned strings and pin nothing.
type Event struct {
	s         string // values, then the body, then the index
	nh        int32  // number of headers
	ix        int32  // offset of the index in s (= end of the body)
	body      int32  // offset of the body in s
	wide      bool   // index entries are 6 bytes (4-byte ends), else 4
	hasInline bool   // some names are stored in s (the name table was full)

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

func (e *Event) entrySize() int {
	if e.wide {
		return 6
	}
	return 4
}

// entry returns the name id and value end of header i.
func (e *Event) entry(i int) (uint16, int) {
	if e.wide {
		p := int(e.ix) + 6*i
		return uint16(le16(e.s, p)), le32(e.s, p+2)
	}
	p := int(e.ix) + 4*i
	return uint16(le16(e.s, p)), le16(e.s, p+2)
}

// header returns header i, which must be valid.
func (e *Event) header(i int) (name, value string) {
	start := 0
	if i > 0 {
		_, start = e.entry(i - 1)
	}
	id, end := e.entry(i)
	if id == inlineID {
		n := le16(e.s, start)
		name = e.s[start+2 : start+2+n]
		start += 2 + n
	} else {
		name = names.names[id]
	}
	return name, e.s[start:end]
}

// value returns the value of header i (which must be valid).
func (e *Event) value(i int32) string {
	_, v := e.header(int(i))
	return v
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
	if id, ok := find(names, name); ok {
		s := e.s
		ix := int(e.ix)
		if !e.wide {
			for p, end := ix, ix+4*int(e.nh); p < end; p += 4 {
				if uint16(s[p])|uint16(s[p+1])<<8 == id {
					start := 0
					if p > ix {
						start = le16(s, p-2)
					}
					return s[start:le16(s, p+2)], true
				}
			}
		} else {
			for p, end := ix, ix+6*int(e.nh); p < end; p += 6 {
				if uint16(s[p])|uint16(s[p+1])<<8 == id {
					start := 0
					if p > ix {
						start = le32(s, p-4)
					}
					return s[start:le32(s, p+2)], true
				}
			}
		}
		return "", false
	}
	if e.hasInline {
		for i := 0; i < int(e.nh); i++ {
			if id, _ := e.entry(i); id == inlineID {
				if n, v := e.header(i); n == name {
					return v, true
				}
			}
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
	return e.header(i)
}

// Range calls fn for each header in wire order until fn returns false.
func (e *Event) Range(fn func(name, value string) bool) {
	s := e.s
	start := 0
	for i := 0; i < int(e.nh); i++ {
		id, end := e.entry(i)
		var name string
		if id == inlineID {
			n := le16(s, start)
			name = s[start+2 : start+2+n]
			start += 2 + n
		} else {
			name = names.names[id]
		}
		if !fn(name, s[start:end]) {
			return
		}
		start = end
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

// ErrEventTooLarge means an event does not fit the compact representation.
var ErrEventTooLarge = errors.New("esl: event too large")

// ErrEmptyEvent means a text/event-plain body held no header.
var ErrEmptyEvent = errors.New("esl: event has no headers")

type entry struct {
	id  uint16
	end uint32
}

// eventBuilder accumulates values (and inline names) and the index in
// buffers it reuses, then copies them into the event's one string.
type eventBuilder struct {
	text      []byte
	ents      []entry
	hasInline bool

	// succ, when set, predicts names: succ[prev] is 1 + the id of the name
	// that followed name id prev-1 last time (succ[0]: the first line).
	// FreeSWITCH writes headers in a stable order, so a long-lived builder
	// (a Reader's, a parse worker's) mostly confirms a guess with one
	// comparison instead of hashing.
	succ *[maxNames + 1]uint16
}

// predicting gives the builder a successor table (8 KiB).
func (b *eventBuilder) predicting() *eventBuilder {
	if b.succ == nil {
		b.succ = new([maxNames + 1]uint16)
	}
	return b
}

func (b *eventBuilder) reset() {
	b.text = b.text[:0]
	b.ents = b.ents[:0]
	b.hasInline = false
}

// name starts a header: an interned id, or the name itself in the text.
func (b *eventBuilder) name(name []byte) uint16 {
	id := names.intern(name)
	if id == inlineID {
		b.text = putID(b.text, uint16(len(name)))
		b.text = append(b.text, name...)
		b.hasInline = true
	}
	return id
}

func (b *eventBuilder) add(name, value string) {
	id := b.name([]byte(name))
	b.text = append(b.text, value...)
	b.ents = append(b.ents, entry{id, uint32(len(b.text))})
}

// finish appends the body and the index and builds the Event.
func (b *eventBuilder) finish(body []byte) (*Event, error) {
	if len(b.ents) == 0 {
		return nil, ErrEmptyEvent
	}
	if uint64(len(b.text))+uint64(len(body))+6*uint64(len(b.ents)) > 1<<31-1 {
		return nil, ErrEventTooLarge
	}
	e := &Event{nh: int32(len(b.ents)), body: int32(len(b.text)), hasInline: b.hasInline, nameI: -1, uuidI: -1, subI: -1}
	b.text = append(b.text, body...)
	ix := len(b.text)
	e.ix = int32(ix)
	e.wide = ix > 0xffff
	es := 4
	if e.wide {
		es = 6
	}
	b.text = slices.Grow(b.text, es*len(b.ents))
	for i, en := range b.ents {
		b.text = putID(b.text, en.id)
		if e.wide {
			b.text = binary.LittleEndian.AppendUint32(b.text, en.end)
		} else {
			b.text = binary.LittleEndian.AppendUint16(b.text, uint16(en.end))
		}
		switch en.id {
		case idEventName:
			if e.nameI < 0 {
				e.nameI = int32(i)
			}
		case idUniqueID:
			if e.uuidI < 0 {
				e.uuidI = int32(i)
			}
		case idEventSubclass:
			if e.subI < 0 {
				e.subI = int32(i)
			}
		}
	}
	e.s = string(b.text)
	return e, nil
}

// parsePlain parses a text/event-plain body (it is only read).
// Header values are url-decoded as FreeSWITCH's switch_url_decode does
// (`%XX` only; `+` stays a plus). A line `Content-Length: N` followed by a
// blank line introduces the inner body (N bytes, clamped to what is there).
// Lines without a colon are skipped. '%' is searched once per stretch of
// headers, not once per value.
func (b *eventBuilder) parsePlain(p []byte) (*Event, error) {
	if uint64(len(p)) > 1<<31-1 {
		return nil, ErrEventTooLarge
	}
	b.reset()
	if cap(b.text) < len(p) {
		b.text = make([]byte, 0, len(p)+len(p)/4)
	}
	var body []byte
	pos := 0
	pct := -2 // position of the next '%' at or after the current value; -1 none; -2 unknown
	prev := 0 // 1 + the id of the previous name (0: none), for b.succ
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
		var id uint16
		if sc := b.succ; sc != nil {
			// The names table only grows, and this goroutine saw cand
			// published when it stored it: reading names.names[cand] is safe.
			if g := sc[prev]; g != 0 {
				cand := g - 1
				if n := names.names[cand]; len(n) == nameEnd-pos && n == string(p[pos:nameEnd]) {
					id = cand
					goto known
				}
			}
			id = names.intern(p[pos:nameEnd])
			if id != inlineID {
				sc[prev] = id + 1
			}
		} else {
			id = names.intern(p[pos:nameEnd])
		}
	known:
		prev = 0
		if id != inlineID {
			prev = int(id) + 1
		}
		if id == idContentLength && blankAt(p, next) {
			if n, ok := parseLen(p[vs:end]); ok {
				body = p[skipBlank(p, next):]
				if n < int64(len(body)) {
					body = body[:n]
				}
				break
			}
		}
		if id == inlineID {
			b.text = putID(b.text, uint16(nameEnd-pos))
			b.text = append(b.text, p[pos:nameEnd]...)
			b.hasInline = true
		}
		if pct == -2 || (pct >= 0 && pct < vs) {
			pct = -1
			if i := bytes.IndexByte(p[vs:], '%'); i >= 0 {
				pct = vs + i
			}
		}
		if pct >= 0 && pct < end {
			b.text = appendDecoded(b.text, p[vs:end])
		} else {
			b.text = append(b.text, p[vs:end]...)
		}
		b.ents = append(b.ents, entry{id, uint32(len(b.text))})
		pos = next
	}
	return b.finish(body)
}

// appendDecoded appends v url-decoded. Runs without '%' move eight bytes at
// a time.
func appendDecoded(dst, v []byte) []byte {
	const pcts = 0x2525252525252525 // "%%%%%%%%"
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	dst = slices.Grow(dst, len(v)+8)
	w := len(dst)
	d := dst[:cap(dst)]
	for i := 0; i < len(v); {
		if i+8 <= len(v) {
			x := binary.LittleEndian.Uint64(v[i:])
			y := x ^ pcts
			binary.LittleEndian.PutUint64(d[w:], x) // room: w-len(dst) <= i
			if m := (y - lo) &^ y & hi; m == 0 {
				w += 8
				i += 8
				continue
			} else {
				// Bytes before the first '%' (the lowest flagged byte is exact).
				k := bits.TrailingZeros64(m) / 8
				w += k
				i += k
			}
		}
		c := v[i]
		if c == '%' && i+2 < len(v) {
			if h, l := hexVal[v[i+1]], hexVal[v[i+2]]; h != 0xff && l != 0xff {
				c = h<<4 | l
				i += 2
			}
		}
		d[w] = c
		w++
		i++
	}
	return d[:w]
}

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
	return b.finish([]byte(body))
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
	if len(b.ents) == 0 {
		// An event with no headers (finish refuses those for parsing).
		return &Event{nameI: -1, uuidI: -1, subI: -1, s: body, ix: int32(len(body))}
	}
	e, err := b.finish([]byte(body))
	if err != nil {
		panic(err)
	}
	return e
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
