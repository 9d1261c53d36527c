// Package esltest is a minimal fake FreeSWITCH event socket for tests and
// benchmarks: it authenticates, answers every command with +OK, and after the
// first `event ...` command replays a stream of recorded frames (for example
// the text/event-plain frames of a real capture) as fast as the client reads.
//
// It is not a simulator (see esl/fssim for that): no channels, no state, just
// the wire. The ingest benchmarks of esl and host use it so they measure the
// same bytes.
package esltest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/switchlua/switchlua/esl"
)

// Config configures a Server.
type Config struct {
	// Password is the ESL password (default "ClueCon"); a wrong one gets
	// "-ERR invalid" and a disconnect notice, as FreeSWITCH does.
	Password string
	// Frames are whole frames (outer headers, blank line, body) replayed in
	// order, cycling, after the client's first `event` command.
	Frames [][]byte
	// Count is how many frames to send per connection (default len(Frames)).
	Count int
	// BackgroundJobs makes bgapi commands also get a BACKGROUND_JOB event
	// with body "+OK\n" (for the Job-UUID the client sent).
	BackgroundJobs bool
}

// Server is a running fake. Close it when done.
type Server struct {
	cfg  Config
	ln   net.Listener
	blob []byte // Frames concatenated
	ends []int  // end offset of each frame in blob

	commands atomic.Int64
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	wg       sync.WaitGroup
	closed   bool
}

// Start listens on 127.0.0.1 (a free port) and serves until Close.
func Start(cfg Config) (*Server, error) {
	if cfg.Password == "" {
		cfg.Password = "ClueCon"
	}
	if cfg.Count <= 0 {
		cfg.Count = len(cfg.Frames)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, ln: ln, conns: map[net.Conn]struct{}{}}
	for _, f := range cfg.Frames {
		s.blob = append(s.blob, f...)
		s.ends = append(s.ends, len(s.blob))
	}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr is the host:port to dial.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Commands is the number of commands received (auth included).
func (s *Server) Commands() int64 { return s.commands.Load() }

// StreamBytes is the number of bytes of the stream one connection receives
// (Count frames), replies excluded.
func (s *Server) StreamBytes() int64 {
	if len(s.ends) == 0 {
		return 0
	}
	full, rem := s.cfg.Count/len(s.ends), s.cfg.Count%len(s.ends)
	n := int64(full) * int64(len(s.blob))
	if rem > 0 {
		n += int64(s.ends[rem-1])
	}
	return n
}

// Close stops the server and drops its connections.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serve(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			c.Close()
		}()
	}
}

type conn struct {
	nc  net.Conn
	wmu sync.Mutex
}

func (c *conn) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.nc.Write(b)
	return err
}

const disconnectNotice = "Content-Type: text/disconnect-notice\nContent-Length: 67\n\nDisconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"

func (s *Server) serve(nc net.Conn) {
	c := &conn{nc: nc}
	br := bufio.NewReader(nc)
	if c.write([]byte("Content-Type: auth/request\n\n")) != nil {
		return
	}
	cmd, err := readCommand(br)
	if err != nil {
		return
	}
	s.commands.Add(1)
	if cmd != "auth "+s.cfg.Password {
		c.write([]byte("Content-Type: command/reply\nReply-Text: -ERR invalid\n\n" + disconnectNotice))
		return
	}
	if c.write([]byte("Content-Type: command/reply\nReply-Text: +OK accepted\n\n")) != nil {
		return
	}
	done := make(chan struct{})
	defer close(done)
	streaming := false
	startStream := func() {
		if streaming || len(s.ends) == 0 {
			return
		}
		streaming = true
		go s.stream(c, done)
	}
	for {
		cmd, err := readCommand(br)
		if err != nil {
			return
		}
		s.commands.Add(1)
		first, _, _ := strings.Cut(cmd, "\n")
		verb, args, _ := strings.Cut(first, " ")
		var reply string
		switch strings.ToLower(verb) {
		case "api":
			reply = "Content-Type: api/response\nContent-Length: 4\n\n+OK\n"
		case "bgapi":
			id := header(cmd, "Job-UUID")
			if id == "" {
				id = esl.NewUUID()
			}
			reply = "Content-Type: command/reply\nReply-Text: +OK Job-UUID: " + id + "\nJob-UUID: " + id + "\n\n"
			if s.cfg.BackgroundJobs {
				ev := esl.NewEventWithBody("+OK\n", "Event-Name", "BACKGROUND_JOB", "Job-UUID", id, "Job-Command", args)
				reply += string(ev.AppendFrame(nil))
			}
		case "event":
			reply = "Content-Type: command/reply\nReply-Text: +OK event listener enabled plain\n\n"
		case "exit":
			c.write([]byte("Content-Type: command/reply\nReply-Text: +OK bye\n\n" + disconnectNotice))
			return
		default:
			reply = "Content-Type: command/reply\nReply-Text: +OK\n\n"
		}
		if c.write([]byte(reply)) != nil {
			return
		}
		if strings.EqualFold(verb, "event") {
			startStream()
		}
	}
}

// stream writes Count frames in large chunks, taking the write lock per chunk
// so replies interleave at frame boundaries.
func (s *Server) stream(c *conn, done <-chan struct{}) {
	const chunk = 256 << 10
	left := s.cfg.Count
	for left > 0 {
		// Frames from the start of the blob, at most one pass.
		n := min(left, len(s.ends))
		end := s.ends[n-1]
		for off := 0; off < end; {
			select {
			case <-done:
				return
			default:
			}
			// Cut at a frame boundary at or after off+chunk.
			stop := end
			if off+chunk < end {
				stop = s.ends[sort.SearchInts(s.ends, off+chunk)]
			}
			if c.write(s.blob[off:stop]) != nil {
				return
			}
			off = stop
		}
		left -= n
	}
}

// readCommand reads one command: header lines up to a blank line (CRs
// dropped), plus the body when it has a Content-Length.
func readCommand(br *bufio.Reader) (string, error) {
	var lines []string
	clen := 0
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return "", err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if len(lines) == 0 {
				continue
			}
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "content-length") {
			clen, _ = strconv.Atoi(strings.TrimSpace(v))
		}
		lines = append(lines, line)
	}
	if clen > 0 {
		if _, err := io.CopyN(io.Discard, br, int64(clen)); err != nil {
			return "", err
		}
	}
	return strings.Join(lines, "\n"), nil
}

func header(cmd, name string) string {
	for _, line := range strings.Split(cmd, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// LoadFrames reads a capture of server bytes (gzip when the name ends in
// .gz) and returns its frames of the given content types, each as whole
// frame bytes (default: text/event-plain only).
func LoadFrames(path string, types ...string) ([][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if data, err = io.ReadAll(zr); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	if len(types) == 0 {
		types = []string{esl.TypeEventPlain}
	}
	rd := esl.NewReader(bytes.NewReader(data))
	var out [][]byte
	for {
		f, err := rd.ReadFrame()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: frame %d: %w", path, len(out), err)
		}
		for _, t := range types {
			if f.ContentType == t {
				out = append(out, Frame(f))
				break
			}
		}
	}
}

// Frame rebuilds the wire bytes of a frame read by an esl.Reader.
func Frame(f *esl.Frame) []byte {
	b := make([]byte, 0, len(f.Header)+2+len(f.Body))
	b = append(b, f.Header...)
	b = append(b, '\n', '\n')
	return append(b, f.Body...)
}
