package modelstest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// Event is a compact, immutable models.Event laid out like esl.Event: one
// string holds the decoded names and values, and an index holds two uint32
// offsets per header (so memory measured with it is realistic).
type Event struct {
	buf   string   // names and values, then the body
	idx   []uint32 // name start, value start per header, then the end of the last value
	body  string
	name  string
	uuid  string
	subcl string
}

// NewEvent builds an event from name/value pairs:
// NewEvent("Event-Name", "CHANNEL_ANSWER", "Unique-ID", "u1").
func NewEvent(kv ...string) *Event {
	if len(kv)%2 != 0 {
		panic("modelstest.NewEvent: odd number of arguments")
	}
	var b strings.Builder
	for i := 0; i < len(kv); i += 2 {
		b.WriteString(kv[i])
		b.WriteString(kv[i+1])
	}
	e := &Event{buf: b.String(), idx: make([]uint32, 0, len(kv)+1)}
	off := 0
	for i := 0; i < len(kv); i += 2 {
		e.idx = append(e.idx, uint32(off), uint32(off+len(kv[i])))
		off += len(kv[i]) + len(kv[i+1])
	}
	e.idx = append(e.idx, uint32(off))
	e.index()
	return e
}

// WithBody returns a copy of e with body set (e.g. a BACKGROUND_JOB result).
func (e *Event) WithBody(body string) *Event {
	c := *e
	c.body = body
	return &c
}

func (e *Event) index() {
	e.name = e.Get("Event-Name")
	e.uuid = e.Get("Unique-ID")
	e.subcl = e.Get("Event-Subclass")
}

// ParseEvent parses a text/event-plain body: url-encoded "Name: value" lines,
// a blank line or the end, and, when a Content-Length header is present, that
// many bytes of inner body after the blank line.
func ParseEvent(plain []byte) (*Event, error) {
	head, rest, _ := bytes.Cut(plain, []byte("\n\n"))
	lines := strings.Split(strings.TrimRight(string(head), "\n"), "\n")
	var b strings.Builder
	b.Grow(len(plain))
	type span struct{ n0, n1, v1 int }
	spans := make([]span, 0, len(lines))
	clen := -1
	for _, ln := range lines {
		ln = strings.TrimRight(ln, "\r")
		if ln == "" {
			continue
		}
		name, val, ok := strings.Cut(ln, ": ")
		if !ok {
			name, val, ok = strings.Cut(ln, ":")
			if !ok {
				return nil, fmt.Errorf("modelstest: bad header line %q", ln)
			}
		}
		if name == "Content-Length" {
			n, err := strconv.Atoi(val)
			if err != nil {
				return nil, fmt.Errorf("modelstest: bad Content-Length %q", val)
			}
			clen = n
		}
		if dec, err := url.PathUnescape(val); err == nil {
			val = dec
		}
		n0 := b.Len()
		b.WriteString(name)
		n1 := b.Len()
		b.WriteString(val)
		spans = append(spans, span{n0, n1, b.Len()})
	}
	bodyStart := b.Len()
	if clen >= 0 {
		if clen > len(rest) {
			return nil, errors.New("modelstest: short event body")
		}
		b.Write(rest[:clen])
	}
	buf := b.String()
	e := &Event{buf: buf, idx: make([]uint32, 0, 2*len(spans)+1), body: buf[bodyStart:]}
	for _, s := range spans {
		e.idx = append(e.idx, uint32(s.n0), uint32(s.n1))
	}
	e.idx = append(e.idx, uint32(bodyStart))
	e.index()
	return e, nil
}

// Name is the Event-Name header.
func (e *Event) Name() string { return e.name }

// Subclass is the Event-Subclass header.
func (e *Event) Subclass() string { return e.subcl }

// UUID is the Unique-ID header.
func (e *Event) UUID() string { return e.uuid }

// Get returns the first value of header name, or "".
func (e *Event) Get(name string) string {
	v, _ := e.Lookup(name)
	return v
}

// Lookup is Get that also says whether the header is present.
func (e *Event) Lookup(name string) (string, bool) {
	for i, n := 0, e.Len(); i < n; i++ {
		if hn, v := e.Header(i); hn == name {
			return v, true
		}
	}
	return "", false
}

// Body is the event's body, or "".
func (e *Event) Body() string { return e.body }

// Len is the number of headers.
func (e *Event) Len() int { return len(e.idx) / 2 }

// Header returns header i in order.
func (e *Event) Header(i int) (name, value string) {
	n0, v0, v1 := e.idx[2*i], e.idx[2*i+1], e.idx[2*i+2]
	return e.buf[n0:v0], e.buf[v0:v1]
}

// Range calls fn for each header in order until fn returns false.
func (e *Event) Range(fn func(name, value string) bool) {
	for i, n := 0, e.Len(); i < n; i++ {
		if !fn(e.Header(i)) {
			return
		}
	}
}

// Size is the number of bytes e holds (text, header table, struct), for
// memory accounting in tests.
func (e *Event) Size() int {
	return len(e.buf) + cap(e.idx)*4 + 120
}

// TranscriptEvents returns the raw text/event-plain bodies found in a
// capture file of testdata/transcripts (the server's bytes, with our
// commands on lines starting ">>> "; a path ending in .gz is gunzipped). Parse each with ParseEvent; parsing
// again gives fresh copies, as a real connection would.
func TranscriptEvents(path string) ([][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		if data, err = io.ReadAll(zr); err != nil {
			return nil, err
		}
	}
	var out [][]byte
	r := bufio.NewReader(bytes.NewReader(data))
	for {
		// frame header block
		clen, ctype := -1, ""
		sawHeader := false
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return out, nil
			}
			line = strings.TrimRight(line, "\r\n")
			if strings.HasPrefix(line, ">>> ") {
				continue
			}
			if line == "" {
				if sawHeader {
					break
				}
				continue
			}
			sawHeader = true
			name, val, _ := strings.Cut(line, ": ")
			switch name {
			case "Content-Length":
				clen, _ = strconv.Atoi(val)
			case "Content-Type":
				ctype = val
			}
		}
		if clen <= 0 {
			continue
		}
		body := make([]byte, clen)
		if _, err := io.ReadFull(r, body); err != nil {
			return nil, fmt.Errorf("modelstest: %s: short frame: %v", path, err)
		}
		if ctype == "text/event-plain" {
			out = append(out, body)
		}
	}
}
