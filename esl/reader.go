package esl

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Content types FreeSWITCH sends on the event socket.
const (
	TypeAuthRequest   = "auth/request"
	TypeCommandReply  = "command/reply"
	TypeAPIResponse   = "api/response"
	TypeEventPlain    = "text/event-plain"
	TypeEventJSON     = "text/event-json"
	TypeEventXML      = "text/event-xml"
	TypeDisconnect    = "text/disconnect-notice"
	TypeRudeRejection = "text/rude-rejection"
	TypeLogData       = "log/data"
)

// DefaultMaxFrame is the largest frame (outer headers plus Content-Length
// body) a Reader accepts unless told otherwise: 64 MiB.
const DefaultMaxFrame = 64 << 20

// maxHeaderBlock bounds a frame's outer header block (a few short lines in
// practice).
const maxHeaderBlock = 64 << 10

const (
	defaultReadBuffer = 256 << 10
	minRead           = 16 << 10 // compact when less than this is free at the tail
)

// ErrFrameTooLarge means a frame announced a Content-Length above the
// reader's limit (or its header block never ended). The stream cannot be
// trusted after it; the connection is dropped.
var ErrFrameTooLarge = errors.New("esl: frame too large")

// ErrProtocol means the byte stream is not ESL framing (e.g. a Content-Length
// that is not a number).
var ErrProtocol = errors.New("esl: protocol error")

// Frame is one ESL message: its outer header block and its body (exactly
// Content-Length bytes). Header and Body alias the Reader's buffer and are
// valid only until the next ReadFrame.
type Frame struct {
	// ContentType is the Content-Type header ("" if none). Known types are
	// the Type* constants (no allocation).
	ContentType string
	// Header is the raw outer header block: its lines, without the newline
	// of the last one and without the blank line.
	Header []byte
	// Body is the Content-Length body (nil if none).
	Body []byte

	rd *Reader
}

// Get returns the outer header name (case-insensitive), copied, or "".
func (f *Frame) Get(name string) string { return string(f.lookup(name)) }

// lookup returns the outer header value without copying.
func (f *Frame) lookup(name string) []byte {
	h := f.Header
	for len(h) > 0 {
		line := h
		if i := bytes.IndexByte(h, '\n'); i >= 0 {
			line, h = h[:i], h[i+1:]
		} else {
			h = nil
		}
		c := bytes.IndexByte(line, ':')
		if c < 0 || !equalFold(line[:c], name) {
			continue
		}
		return bytes.TrimSpace(line[c+1:])
	}
	return nil
}

// Event makes an event of the frame's body (text/event-plain or
// text/event-json). The event owns its memory (one copy of the body): it
// stays valid after the next ReadFrame. A plain event is indexed lazily (see
// Event).
func (f *Frame) Event() (*Event, error) {
	switch f.ContentType {
	case TypeEventPlain:
		return newRawEvent(string(f.Body))
	case TypeEventJSON:
		return ParseEventJSON(f.Body)
	}
	return nil, fmt.Errorf("esl: %q frame is not an event", f.ContentType)
}

// Reader reads ESL frames from a byte stream in the shape of nats-server's
// parser: one pass over a large read buffer, bodies taken by their announced
// Content-Length (never scanned), and a frame split across reads moved to the
// front of the buffer only when that happens. It is not safe for concurrent
// use.
type Reader struct {
	src  io.Reader
	buf  []byte
	r, w int
	size int   // initial (and, rotating, minimum) buffer size
	err  error // sticky
	rerr error // read error seen with data, returned once the data is used

	// MaxFrame is the largest frame accepted (default DefaultMaxFrame). Set it
	// before the first ReadFrame.
	MaxFrame int

	frame Frame
	ps    parseState
}

// NewReader returns a Reader on rd with a 256 KiB buffer (allocated on the
// first read).
func NewReader(rd io.Reader) *Reader { return NewReaderSize(rd, defaultReadBuffer) }

// NewReaderSize returns a Reader whose buffer starts at size bytes (at least
// 4 KiB); it grows as needed for larger frames.
func NewReaderSize(rd io.Reader, size int) *Reader {
	r := &Reader{src: rd, MaxFrame: DefaultMaxFrame, size: max(size, 4096)}
	r.frame.rd = r
	return r
}

// Reset discards buffered data and errors and reads from rd next, keeping the
// buffers.
func (r *Reader) Reset(rd io.Reader) {
	r.src = rd
	r.r, r.w = 0, 0
	r.err, r.rerr = nil, nil
	r.ps = parseState{}
}

// Buffered is the number of bytes read from the source and not yet returned
// in a frame.
func (r *Reader) Buffered() int { return r.w - r.r }

// ReadFrame returns the next frame. The frame and its slices are reused by
// the next call. At the end of the stream it returns io.EOF (or
// io.ErrUnexpectedEOF inside a frame); after any error it keeps returning it.
func (r *Reader) ReadFrame() (*Frame, error) {
	for {
		f, need, err := r.buffered()
		if f != nil || err != nil {
			return f, err
		}
		if err := r.more(need); err != nil {
			return nil, err
		}
	}
}

// buffered returns the next frame if it is wholly in the buffer; otherwise
// nil and how many bytes the frame needs (-1 unknown), for more.
func (r *Reader) buffered() (*Frame, int, error) {
	if r.err != nil {
		return nil, 0, r.err
	}
	need, err := r.parse()
	if err != nil {
		r.err = err
		return nil, 0, err
	}
	if need == 0 {
		return &r.frame, 0, nil
	}
	return nil, need, nil
}

// more reads from the source once (blocking).
func (r *Reader) more(need int) error {
	if err := r.fill(need); err != nil {
		r.err = err
		return err
	}
	return nil
}

// parseState is the progress through a frame whose bytes have not all
// arrived. Offsets are relative to r.r, so compaction does not disturb them.
type parseState struct {
	p          int // next byte of the header block to scan (0: not started)
	ctS, ctE   int // Content-Type value
	clen       int64
	hend       int // end of the header lines, once the blank line is seen
	total      int // frame size once known (0: header block incomplete)
	headerDone bool
}

// parse tries to take one frame from buf[r:w]. It returns need == 0 when
// r.frame is set, else the number of bytes from r.r the frame needs (-1 when
// the header block is incomplete). A frame that arrives in pieces is scanned
// once: parse resumes where it stopped.
func (r *Reader) parse() (need int, err error) {
	ps := &r.ps
	if !ps.headerDone {
		if ps.p == 0 {
			// Blank lines between frames are skipped.
			for r.r < r.w && (r.buf[r.r] == '\n' || r.buf[r.r] == '\r') {
				r.r++
			}
			*ps = parseState{ctS: -1}
		}
		data := r.buf[r.r:r.w]
		p := ps.p
		for {
			i := bytes.IndexByte(data[p:], '\n')
			if i < 0 {
				if len(data) > maxHeaderBlock {
					return 0, fmt.Errorf("%w: header block longer than %d bytes", ErrFrameTooLarge, maxHeaderBlock)
				}
				ps.p = p
				return -1, nil
			}
			lineStart := p
			line := data[p : p+i]
			p += i + 1
			if n := len(line); n > 0 && line[n-1] == '\r' {
				line = line[:n-1]
			}
			if len(line) == 0 {
				ps.hend = lineStart
				break
			}
			c := bytes.IndexByte(line, ':')
			if c < 0 {
				continue
			}
			name := line[:c]
			switch len(name) {
			case 12:
				if equalFold(name, "Content-Type") {
					val := line[c+1:]
					lead := len(val) - len(bytes.TrimLeft(val, " \t"))
					ps.ctS = lineStart + c + 1 + lead
					ps.ctE = ps.ctS + len(bytes.TrimSpace(val))
				}
			case 14:
				if equalFold(name, "Content-Length") {
					n, ok := parseLen(line[c+1:])
					if !ok {
						return 0, fmt.Errorf("%w: bad Content-Length %q", ErrProtocol, truncate(line[c+1:], 40))
					}
					if n > int64(r.maxFrame()) {
						return 0, fmt.Errorf("%w: Content-Length %d is above the limit of %d bytes", ErrFrameTooLarge, n, r.maxFrame())
					}
					ps.clen = n
				}
			}
		}
		// Header: the lines without the newline of the last one.
		if ps.hend > 0 {
			ps.hend--
			if ps.hend > 0 && data[ps.hend-1] == '\r' {
				ps.hend--
			}
		}
		ps.p = p
		ps.total = p + int(ps.clen)
		ps.headerDone = true
	}
	if ps.total > r.w-r.r {
		return ps.total, nil
	}
	data := r.buf[r.r:r.w]
	f := &r.frame
	if ps.ctS >= 0 {
		f.ContentType = internType(data[ps.ctS:ps.ctE])
	} else {
		f.ContentType = ""
	}
	f.Header = data[:ps.hend]
	if ps.clen > 0 {
		f.Body = data[ps.p:ps.total:ps.total]
	} else {
		f.Body = nil
	}
	r.r += ps.total
	*ps = parseState{}
	return 0, nil
}

func (r *Reader) maxFrame() int {
	if r.MaxFrame <= 0 {
		return DefaultMaxFrame
	}
	return r.MaxFrame
}

// fill reads more data. need is the size of the pending frame from r.r, or -1
// when unknown. The buffer grows only when it is full, so memory follows the
// bytes actually received, never an announced length.
func (r *Reader) fill(need int) error {
	if r.rerr != nil {
		return r.eofErr()
	}
	if r.buf == nil {
		r.buf = make([]byte, r.size)
	}
	if r.r == r.w {
		r.r, r.w = 0, 0
	}
	if r.r > 0 && (r.w == len(r.buf) || len(r.buf)-r.w < min(minRead, r.size/4) || (need > 0 && r.r+need > len(r.buf))) {
		// Stitch: move the partial frame to the front.
		n := copy(r.buf, r.buf[r.r:r.w])
		r.r, r.w = 0, n
	}
	if r.w == len(r.buf) {
		limit := r.maxFrame() + maxHeaderBlock
		if len(r.buf) >= limit {
			return fmt.Errorf("%w: more than %d bytes without a complete frame", ErrFrameTooLarge, limit)
		}
		n := 2 * len(r.buf)
		if n > limit {
			n = limit
		}
		nb := make([]byte, n)
		copy(nb, r.buf[r.r:r.w])
		r.w -= r.r
		r.r = 0
		r.buf = nb
	}
	return r.read()
}

// read reads once into the free tail of the buffer.
func (r *Reader) read() error {
	for tries := 0; tries < 100; tries++ {
		n, err := r.src.Read(r.buf[r.w:])
		if n < 0 || n > len(r.buf)-r.w {
			return fmt.Errorf("%w: source returned an invalid count", ErrProtocol)
		}
		r.w += n
		if err != nil {
			r.rerr = err
			if n > 0 {
				return nil
			}
			return r.eofErr()
		}
		if n > 0 {
			return nil
		}
	}
	return io.ErrNoProgress
}

// eofErr turns the source's end into io.ErrUnexpectedEOF when a frame is
// cut short.
func (r *Reader) eofErr() error {
	if r.rerr == io.EOF && r.w > r.r && len(bytes.Trim(r.buf[r.r:r.w], "\r\n")) > 0 {
		return io.ErrUnexpectedEOF
	}
	return r.rerr
}

func internType(ct []byte) string {
	switch string(ct) {
	case TypeEventPlain:
		return TypeEventPlain
	case TypeCommandReply:
		return TypeCommandReply
	case TypeAPIResponse:
		return TypeAPIResponse
	case TypeAuthRequest:
		return TypeAuthRequest
	case TypeEventJSON:
		return TypeEventJSON
	case TypeEventXML:
		return TypeEventXML
	case TypeDisconnect:
		return TypeDisconnect
	case TypeRudeRejection:
		return TypeRudeRejection
	case TypeLogData:
		return TypeLogData
	case "":
		return ""
	}
	return string(ct)
}

// equalFold reports whether b equals the ASCII string s ignoring case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
