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
	"sync"
	"sync/atomic"
	"unsafe"
)

// Event is one FreeSWITCH event (text/event-plain, url-decoded) with its
// headers in wire order and an optional body. It is immutable once delivered
// and safe to share between goroutines.
//
// A received event starts as one owned copy of its wire text (one
// allocation, not zeroed). Name is read from the first line when the event
// is made; Get, Lookup, UUID, Subclass and Body search the wire text in place
// (a search for a rare byte of the name, then a check of the line), so a
// consumer that reads a few headers never pays for the rest. The first call
// that needs every header (Len, Header, Range, AppendNameIDs, String), or the
// fifth search, indexes the event once, whichever goroutine asks: header
// values are url-decoded into one compact string (names are interned
// process-wide, see names.go, so only a 2-byte id per header is kept) and the
// wire text is dropped. An indexed event keeps about 0.44x its wire size. A
// connection whose consumer indexes most events delivers them indexed
// already (see adapt.go); either way an event answers the same.
//
// Values returned by Get, Header, Range, Body, Name and UUID are substrings
// of the event's memory: a caller that keeps one of them long after dropping
// the event pins it, so it should strings.Clone values it keeps for long.
// Names returned by Name, Header and Range are interned strings and pin
// nothing.
type Event struct {
	// The wire text (url-encoded headers, then the inner body), owned, until
	// the compact form replaces it; nil after that.
	rawp   atomic.Pointer[byte]
	rawn   int32
	hdrEnd atomic.Int32 // 1 + the end of the header lines in the wire text (0: not yet known)
	scans  atomic.Int32 // searches of the wire text so far
	once   sync.Once    // builds the compact form
	done   atomic.Bool  // the compact form is built

	name   string // Event-Name when nameOK (interned)
	nameOK bool
	use    *usage // counts this event's indexing for its connection (see adapter), or nil

	// The compact form: the decoded header values, then the body, then an
	// index with one entry per header (a 2-byte name id and the end offset of
	// the value). Valid once done.
	s         string
	nh        int32 // number of headers
	ix        int32 // offset of the index in s (= end of the body)
	body      int32 // offset of the body in s
	wide      bool  // index entries are 6 bytes (4-byte ends), else 4
	hasInline bool  // some names are stored in s (the name table was full)

	nameI, uuidI, subI int32 // header numbers of Event-Name, Unique-ID, Event-Subclass; -1 if absent
}

// maxScans is how many header searches an event answers from its wire text
// before it is indexed: a search costs about a tenth of indexing.
const maxScans = 4

// maxEventLen bounds an event's text (offsets are int32).
const maxEventLen = 1<<31 - 2

// newRawEvent makes an event of the text/event-plain body raw, which it
// owns from now on. Only the first header line is read.
func newRawEvent(raw string) (*Event, error) {
	if len(raw) > maxEventLen {
		return nil, ErrEventTooLarge
	}
	e := &Event{rawn: int32(len(raw)), nameI: -1, uuidI: -1, subI: -1}
	found := false
	for pos := 0; pos < len(raw); {
		end, next := lineAt(raw, pos)
		col := strings.IndexByte(raw[pos:end], ':')
		if col < 0 {
			pos = next // a blank line, or a line without a colon: skipped
			continue
		}
		name := raw[pos : pos+col]
		vs := pos + col + 1
		if vs < end && raw[vs] == ' ' {
			vs++
		}
		if name == "Content-Length" && blankAt(raw, next) {
			if _, ok := parseLen(raw[vs:end]); ok {
				break // the body starts before any header
			}
		}
		found = true
		if name == "Event-Name" {
			v := raw[vs:end]
			if strings.IndexByte(v, '%') >= 0 {
				v = URLDecode(v)
			}
			if id := internT(names, v); id != inlineID {
				e.name, e.nameOK = names.names[id], true
			}
		}
		break
	}
	if !found {
		return nil, ErrEmptyEvent
	}
	if len(raw) > 0 {
		e.rawp.Store(unsafe.StringData(raw))
	}
	return e, nil
}

// indexed makes the compact form of the text/event-plain body raw at once
// (raw is only read, and may be reused afterwards).
func (b *eventBuilder) indexed(raw string) (*Event, error) {
	if len(raw) > maxEventLen {
		return nil, ErrEventTooLarge
	}
	body := b.parsePlain(raw)
	e, err := b.event(body)
	if cap(b.text) > 1<<20 {
		b.text = nil // do not keep a buffer grown for one huge event
	}
	return e, err
}

// lineAt returns the end of the line that starts at pos (before "\n" or
// "\r\n") and the start of the next one.
func lineAt(s string, pos int) (end, next int) {
	end, next = len(s), len(s)
	if i := strings.IndexByte(s[pos:], '\n'); i >= 0 {
		end, next = pos+i, pos+i+1
	}
	if end > pos && s[end-1] == '\r' {
		end--
	}
	return end, next
}

// raw returns the wire text, or false once the compact form replaced it.
func (e *Event) raw() (string, bool) {
	p := e.rawp.Load()
	if p == nil {
		return "", false
	}
	return unsafe.String(p, int(e.rawn)), true
}

// ready builds the compact form if it is not built yet.
func (e *Event) ready() {
	if !e.done.Load() {
		e.once.Do(e.build)
	}
}

func (e *Event) build() {
	raw, ok := e.raw()
	if !ok {
		return
	}
	b := getBuilder()
	body := b.parsePlain(raw)
	// newRawEvent found a header, so this cannot fail.
	if err := b.finish(e, body); err != nil {
		panic("esl: indexing an event: " + err.Error())
	}
	b.release()
	e.done.Store(true)
	e.rawp.Store(nil) // the wire text can go
	if e.use != nil {
		e.use.indexed.Add(1)
	}
}

// headerEnd returns where the header lines of raw end: at the line that
// starts the inner body, or at the end.
func (e *Event) headerEnd(raw string) int {
	if h := e.hdrEnd.Load(); h != 0 {
		return int(h - 1)
	}
	h := bodyMark(raw, len(raw))
	e.hdrEnd.Store(int32(h + 1))
	return h
}

// bodyMark returns where the line `Content-Length: N` that is followed by a
// blank line (the start of the inner body) begins, if it begins before
// limit; else len(raw). It searches for "Length:" (a rare 'L' in
// FreeSWITCH's text), not line by line.
func bodyMark(raw string, limit int) int {
	const prefix = "Content-"
	end := min(len(raw), limit+len("Content-Length:"))
	for off := 0; ; {
		i := strings.Index(raw[off:end], "Length:")
		if i < 0 {
			return len(raw)
		}
		p := off + i - len(prefix)
		off += i + 1
		if p < 0 || raw[p:p+len(prefix)] != prefix || (p > 0 && raw[p-1] != '\n') {
			continue
		}
		if p >= limit {
			return len(raw)
		}
		end, next := lineAt(raw, p)
		vs := p + len("Content-Length:")
		if vs < end && raw[vs] == ' ' {
			vs++
		}
		if _, ok := parseLen(raw[vs:end]); ok && blankAt(raw, next) {
			return p
		}
	}
}

// rawBody is the inner body of raw, whose header lines end at hend.
func rawBody(raw string, hend int) string {
	if hend >= len(raw) {
		return ""
	}
	end, next := lineAt(raw, hend)
	vs := hend + len("Content-Length:")
	if vs < end && raw[vs] == ' ' {
		vs++
	}
	n, _ := parseLen(raw[vs:end])
	body := raw[skipBlank(raw, next):]
	if n < int64(len(body)) {
		body = body[:n]
	}
	return body
}

// rarity ranks bytes by how often they occur in FreeSWITCH's event text
// (measured on a capture of real calls): the lower, the rarer; bytes not
// listed are the rarest.
var rarity = func() (r [256]uint8) {
	const byFrequency = "ea0ri_lt%-no\n :sp12cbvd3Cu.m47D8A5fh96IPgNTESwUMHR/FBy" + "W,xLOkGqXKjV~ZQYz"
	for i := 0; i < len(byFrequency); i++ {
		r[byFrequency[i]] = uint8(len(byFrequency) - i)
	}
	return r
}()

// findLine returns where the line `name:` starts in s, or -1. It searches
// for the tail of name from its rarest byte on (strings.Index skips ahead
// with a vectorised byte search), then checks the candidate line.
func findLine(s, name string) int {
	k := 0
	for i := 1; i < len(name); i++ {
		if rarity[name[i]] < rarity[name[k]] {
			k = i
		}
	}
	tail := name[k:]
	for off := 0; off < len(s); {
		i := strings.Index(s[off:], tail)
		if i < 0 {
			return -1
		}
		q := off + i
		off = q + 1
		p := q - k
		if p < 0 {
			continue
		}
		if e := p + len(name); e >= len(s) || s[e] != ':' {
			continue
		}
		if (p > 0 && s[p-1] != '\n') || s[p:q] != name[:k] {
			continue
		}
		return p
	}
	return -1
}

// scan finds header name in the wire text: the first line `name:` that
// starts before the inner body, if any.
func (e *Event) scan(raw, name string) (string, bool) {
	if strings.IndexByte(name, ':') >= 0 || strings.IndexByte(name, '\n') >= 0 {
		return "", false // not a header name
	}
	h, known := raw, false
	if end := e.hdrEnd.Load(); end != 0 {
		h, known = raw[:end-1], true
	}
	p := findLine(h, name)
	if p < 0 {
		return "", false
	}
	if !known && bodyMark(raw, p+1) <= p {
		// The first such line starts the inner body, or is in it. (Only the
		// text up to the line is searched for the body's start: a header
		// near the top costs no pass over the rest.)
		return "", false
	}
	vs := p + len(name) + 1
	end, _ := lineAt(h, p)
	if vs < end && h[vs] == ' ' {
		vs++
	}
	v := h[vs:max(vs, end)]
	if strings.IndexByte(v, '%') >= 0 {
		v = URLDecode(v)
	}
	return v, true
}

// le32 reads a little-endian uint32 at s[i:].
func le32(s string, i int) int {
	s = s[i : i+4]
	return int(uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24)
}

// le16 reads a little-endian uint16 at s[i:].
func le16(s string, i int) int {
	s = s[i : i+2]
	return int(uint16(s[0]) | uint16(s[1])<<8)
}

// entry returns the name id and value end of header i (compact form).
func (e *Event) entry(i int) (uint16, int) {
	if e.wide {
		p := int(e.ix) + 6*i
		return uint16(le16(e.s, p)), le32(e.s, p+2)
	}
	p := int(e.ix) + 4*i
	return uint16(le16(e.s, p)), le16(e.s, p+2)
}

// header returns header i, which must be valid (compact form).
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

// value returns the value of header i (compact form).
func (e *Event) value(i int32) string {
	if i < 0 {
		return ""
	}
	_, v := e.header(int(i))
	return v
}

// Name is the Event-Name header.
func (e *Event) Name() string {
	if e.nameOK {
		return e.name
	}
	if e.done.Load() {
		return e.value(e.nameI)
	}
	v, _ := e.Lookup("Event-Name")
	return v
}

// Subclass is the Event-Subclass header (CUSTOM events).
func (e *Event) Subclass() string {
	if e.done.Load() {
		return e.value(e.subI)
	}
	v, _ := e.Lookup("Event-Subclass")
	return v
}

// UUID is the Unique-ID header (the channel's uuid), empty if none.
func (e *Event) UUID() string {
	if e.done.Load() {
		return e.value(e.uuidI)
	}
	v, _ := e.Lookup("Unique-ID")
	return v
}

// Get returns the first value of header name (exact, case-sensitive as
// FreeSWITCH writes it), or "".
func (e *Event) Get(name string) string {
	v, _ := e.Lookup(name)
	return v
}

// Lookup is Get that also says whether the header is present.
func (e *Event) Lookup(name string) (string, bool) {
	if !e.done.Load() {
		if raw, ok := e.raw(); ok && name != "" && e.scans.Add(1) <= maxScans {
			return e.scan(raw, name)
		}
		e.ready()
	}
	return e.lookup(name)
}

// lookup is Lookup in the compact form.
func (e *Event) lookup(name string) (string, bool) {
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
func (e *Event) Body() string {
	if !e.done.Load() {
		if raw, ok := e.raw(); ok {
			return rawBody(raw, e.headerEnd(raw))
		}
	}
	return e.s[e.body:e.ix]
}

// Len is the number of headers.
func (e *Event) Len() int {
	e.ready()
	return int(e.nh)
}

// Header returns header i (0 <= i < Len) in wire order.
func (e *Event) Header(i int) (name, value string) {
	e.ready()
	if i < 0 || i >= int(e.nh) {
		panic(fmt.Sprintf("esl: Event.Header(%d) out of range [0,%d)", i, e.nh))
	}
	return e.header(i)
}

// Range calls fn for each header in wire order until fn returns false.
func (e *Event) Range(fn func(name, value string) bool) {
	e.ready()
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

// InlineNameID is the id AppendNameIDs gives a header name that is not
// interned (the process-wide name table was full, or the name is longer than
// 255 bytes): such names must be compared as strings.
const InlineNameID uint16 = 65535

// AppendNameIDs appends the ids of the event's header names to dst, in wire
// order (the i-th is the name of Header(i)), and returns it. Header names are
// interned process-wide for the life of the process: two headers have the
// same id exactly when they have the same name, in any two events, except
// InlineNameID. It lets a consumer compare the name sets of two events
// without touching their values (see models' Session.Update).
func (e *Event) AppendNameIDs(dst []uint16) []uint16 {
	e.ready()
	dst = slices.Grow(dst, int(e.nh))
	s, p, es := e.s, int(e.ix), e.entrySize()
	for i := 0; i < int(e.nh); i++ {
		dst = append(dst, uint16(s[p])|uint16(s[p+1])<<8)
		p += es
	}
	return dst
}

func (e *Event) entrySize() int {
	if e.wide {
		return 6
	}
	return 4
}

// Size is the number of bytes the event retains: its wire text until it is
// indexed, then its compact form.
func (e *Event) Size() int {
	if !e.done.Load() {
		if raw, ok := e.raw(); ok {
			return len(raw)
		}
	}
	return len(e.s)
}

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

// ---- building the compact form ----

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
	idx       []byte  // the index as the event keeps it: 4-byte entries (narrow)
	ents      []entry // the index when a value ends past 64 KiB (wide)
	wide      bool
	n         int32    // headers
	special   [3]int32 // header numbers of Event-Name, Unique-ID, Event-Subclass (-1: none)
	hasInline bool

	// succ, when set, predicts names: succ[prev] holds 1 + the ids of the
	// two names that followed name id prev-1 most recently (succ[0]: the
	// first line), the latest first. FreeSWITCH writes headers in a stable
	// order, so a long-lived builder mostly confirms a guess with one
	// comparison instead of finding the colon and hashing (on a capture of
	// real calls: 95% first guesses, 4% second, 1.6% misses).
	succ *[maxNames + 1][2]uint16
}

// builders are the builders events are indexed with (each with its
// successor table, 16 KiB), one per P in practice.
var builders = sync.Pool{New: func() any {
	return &eventBuilder{succ: new([maxNames + 1][2]uint16)}
}}

func getBuilder() *eventBuilder {
	b := builders.Get().(*eventBuilder)
	b.reset()
	return b
}

func (b *eventBuilder) release() {
	if cap(b.text) > 1<<20 {
		b.text = nil
	}
	if cap(b.idx) > 1<<16 || cap(b.ents) > 1<<14 {
		b.ents, b.idx = nil, nil
	}
	builders.Put(b)
}

func (b *eventBuilder) reset() {
	b.text = b.text[:0]
	b.idx = b.idx[:0]
	b.ents = b.ents[:0]
	b.wide = false
	b.n = 0
	b.special = [3]int32{-1, -1, -1}
	b.hasInline = false
}

// entry records header b.n: name id and the end of its value in b.text.
func (b *eventBuilder) entry(id uint16, end int) {
	if id <= idEventSubclass && b.special[id] < 0 {
		b.special[id] = b.n
	}
	b.n++
	if !b.wide {
		if end <= 0xffff {
			b.idx = append(b.idx, byte(id), byte(id>>8), byte(end), byte(end>>8))
			return
		}
		// A value ends past 64 KiB: 4-byte ends from now on.
		b.wide = true
		for o := 0; o < len(b.idx); o += 4 {
			b.ents = append(b.ents, entry{uint16(b.idx[o]) | uint16(b.idx[o+1])<<8, uint32(b.idx[o+2]) | uint32(b.idx[o+3])<<8})
		}
	}
	b.ents = append(b.ents, entry{id, uint32(end)})
}

func (b *eventBuilder) add(name, value string) {
	id := internT(names, name)
	if id == inlineID {
		b.text = putID(b.text, uint16(len(name)))
		b.text = append(b.text, name...)
		b.hasInline = true
	}
	b.text = append(b.text, value...)
	b.entry(id, len(b.text))
}

// finish appends the body and the index and fills in e's compact form.
func (b *eventBuilder) finish(e *Event, body string) error {
	n := int(b.n)
	if n == 0 {
		return ErrEmptyEvent
	}
	if uint64(len(b.text))+uint64(len(body))+6*uint64(n) > maxEventLen {
		return ErrEventTooLarge
	}
	e.nh, e.body, e.hasInline = int32(n), int32(len(b.text)), b.hasInline
	e.nameI, e.uuidI, e.subI = b.special[idEventName], b.special[idUniqueID], b.special[idEventSubclass]
	ix := len(b.text) + len(body)
	e.ix = int32(ix)
	e.wide = b.wide
	idx := b.idx
	if b.wide {
		idx = slices.Grow(idx[:0], 6*n)[:6*n]
		for i, en := range b.ents {
			o := 6 * i
			idx[o], idx[o+1] = byte(en.id), byte(en.id>>8)
			binary.LittleEndian.PutUint32(idx[o+2:], en.end)
		}
		b.idx = idx
	}
	// One allocation, not zeroed, written once.
	var sb strings.Builder
	sb.Grow(ix + len(idx))
	sb.Write(b.text)
	sb.WriteString(body)
	sb.Write(idx)
	e.s = sb.String()
	return nil
}

// parsePlain reads a text/event-plain body into the builder and returns its
// inner body. Header values are url-decoded as FreeSWITCH's
// switch_url_decode does (`%XX` only; `+` stays a plus). The first line
// `Content-Length: N` followed by a blank line introduces the inner body (N
// bytes, clamped to what is there); blank lines before it and lines without
// a colon are skipped.
//
// The name of a line is mostly confirmed with one comparison (see succ);
// its value is copied eight bytes at a time while looking for the end of
// the line and for '%' in the same pass.
func (b *eventBuilder) parsePlain(p string) (body string) {
	b.reset()
	if cap(b.text) < len(p)+16 {
		b.text = make([]byte, 0, len(p)+len(p)/8+16)
	}
	d := b.text[:cap(b.text)]
	w := 0
	sc := b.succ
	pos := 0
	prev := 0 // 1 + the id of the previous name (0: none), for succ
	for pos < len(p) {
		var id uint16
		nameEnd := -1
		if sc != nil {
			// The names table only grows, and this goroutine saw a guess
			// published when it stored it: reading names.names[g-1] is safe.
			guess := &sc[prev]
			if g := guess[0]; g != 0 {
				n := names.names[g-1]
				if ne := pos + len(n); ne < len(p) && p[ne] == ':' && p[pos:ne] == n {
					id, nameEnd = g-1, ne
				} else if g := guess[1]; g != 0 {
					n := names.names[g-1]
					if ne := pos + len(n); ne < len(p) && p[ne] == ':' && p[pos:ne] == n {
						id, nameEnd = g-1, ne
						guess[0], guess[1] = guess[1], guess[0]
					}
				}
			}
		}
		if nameEnd < 0 {
			end, next := lineAt(p, pos)
			col := strings.IndexByte(p[pos:end], ':')
			if col < 0 {
				pos = next // blank, or no colon: skipped
				continue
			}
			nameEnd = pos + col
			id = internT(names, p[pos:nameEnd])
			if sc != nil && id != inlineID {
				guess := &sc[prev]
				guess[0], guess[1] = id+1, guess[0]
			}
		}
		prev = 0
		if id != inlineID {
			prev = int(id) + 1
		} else {
			nl := nameEnd - pos
			if w+2+nl+16 > len(d) {
				d = slices.Grow(d[:w], 2+nl+len(p)-pos+16)
				d = d[:cap(d)]
			}
			d[w], d[w+1] = byte(nl), byte(nl>>8)
			w += 2 + copy(d[w+2:], p[pos:nameEnd])
			b.hasInline = true
		}
		vs := nameEnd + 1
		if vs < len(p) && p[vs] == ' ' {
			vs++
		}
		// The value: copy up to the newline, decoding %XX on the way.
		v0 := w
		i := vs
		for {
			if i+8 <= len(p) {
				if w+8 > len(d) {
					d = slices.Grow(d[:w], len(p)-i+16)
					d = d[:cap(d)]
				}
				x := le64(p, i)
				binary.LittleEndian.PutUint64(d[w:], x)
				y, z := x^nls, x^pcts
				if m := ((y-lo)&^y | (z-lo)&^z) & hi; m == 0 {
					w += 8
					i += 8
					continue
				} else {
					// Bytes before the first newline or '%' (the lowest
					// flagged byte is exact).
					k := bits.TrailingZeros64(m) / 8
					w += k
					i += k
				}
			}
			if i >= len(p) {
				break
			}
			c := p[i]
			if c == '\n' {
				break
			}
			if c == '%' && i+2 < len(p) {
				if h, l := hexVal[p[i+1]], hexVal[p[i+2]]; h != 0xff && l != 0xff {
					c = h<<4 | l
					i += 2
				}
			}
			if w >= len(d) {
				d = slices.Grow(d[:w], len(p)-i+16)
				d = d[:cap(d)]
			}
			d[w] = c
			w++
			i++
		}
		end, next := i, i
		if i < len(p) {
			next = i + 1
		}
		if end > vs && p[end-1] == '\r' {
			end-- // the value's last byte is that '\r' (an escape ends in a digit)
			w--
		}
		if id == idContentLength && blankAt(p, next) {
			if n, ok := parseLen(p[vs:end]); ok {
				body = p[skipBlank(p, next):]
				if n < int64(len(body)) {
					body = body[:n]
				}
				b.text = d[:v0]
				return body
			}
		}
		if !b.wide && w <= 0xffff {
			if id <= idEventSubclass && b.special[id] < 0 {
				b.special[id] = b.n
			}
			b.n++
			b.idx = append(b.idx, byte(id), byte(id>>8), byte(w), byte(w>>8))
		} else {
			b.entry(id, w)
		}
		pos = next
	}
	b.text = d[:w]
	return ""
}

const (
	nls  = 0x0a0a0a0a0a0a0a0a // "\n" x 8
	pcts = 0x2525252525252525 // "%" x 8
	lo   = 0x0101010101010101
	hi   = 0x8080808080808080
)

// appendDecoded appends v url-decoded. Runs without '%' move eight bytes at
// a time.
func appendDecoded(dst []byte, v string) []byte {
	dst = slices.Grow(dst, len(v)+8)
	w := len(dst)
	d := dst[:cap(dst)]
	for i := 0; i < len(v); {
		if i+8 <= len(v) {
			x := le64(v, i)
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
func blankAt[T string | []byte](p T, pos int) bool {
	if pos < len(p) && p[pos] == '\n' {
		return true
	}
	return pos+1 < len(p) && p[pos] == '\r' && p[pos+1] == '\n'
}

func skipBlank[T string | []byte](p T, pos int) int {
	if p[pos] == '\r' {
		pos++
	}
	return pos + 1
}

// parseLen parses a decimal length (surrounding spaces allowed).
func parseLen[T string | []byte](v T) (int64, bool) {
	i, j := 0, len(v)
	for i < j && isSpace(v[i]) {
		i++
	}
	for j > i && isSpace(v[j-1]) {
		j--
	}
	if i == j || j-i > 18 {
		return 0, false
	}
	var n int64
	for ; i < j; i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// ParseEvent makes an event of a text/event-plain body (url-encoded `Name:
// value` lines, optionally followed by Content-Length and an inner body). It
// copies plain once and reads only the first header line; headers are found
// or indexed when they are asked for (see Event).
func ParseEvent(plain []byte) (*Event, error) {
	return newRawEvent(string(plain))
}

// ParseEventJSON parses a text/event-json body: one JSON object whose string
// members are headers (in the object's order) and whose "_body" member is the
// body. Array values (FreeSWITCH's multi-value headers) are joined as
// FreeSWITCH's plain format writes them: "ARRAY::a|:b".
func ParseEventJSON(data []byte) (*Event, error) {
	b := getBuilder()
	defer b.release()
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
	return b.event(body)
}

// event makes a compact (already indexed) event of what the builder holds.
func (b *eventBuilder) event(body string) (*Event, error) {
	e := &Event{}
	if err := b.finish(e, body); err != nil {
		return nil, err
	}
	e.done.Store(true)
	return e, nil
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
	if len(kv) == 0 {
		// An event with no headers (parsing refuses those).
		e := &Event{nameI: -1, uuidI: -1, subI: -1, s: body, ix: int32(len(body))}
		e.done.Store(true)
		return e
	}
	b := getBuilder()
	defer b.release()
	for i := 0; i < len(kv); i += 2 {
		v := ""
		if i+1 < len(kv) {
			v = kv[i+1]
		}
		b.add(kv[i], v)
	}
	e, err := b.event(body)
	if err != nil {
		panic(err)
	}
	return e
}

// ---- url encoding as FreeSWITCH does it ----

// URLDecode decodes a FreeSWITCH url-encoded header value (`%XX`; `+` stays).
func URLDecode(v string) string {
	if strings.IndexByte(v, '%') < 0 {
		return v
	}
	b := appendDecoded(make([]byte, 0, len(v)+8), v)
	return unsafe.String(unsafe.SliceData(b), len(b)) // b is not used again
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
