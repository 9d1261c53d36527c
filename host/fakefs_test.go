package host

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchlua/switchlua/esl/esltest"
)

// loadCaptureFrames returns the text/event-plain frames (headers and body,
// ready to write) of a capture in testdata/transcripts (.gz or plain).
func loadCaptureFrames(tb testing.TB, path string) [][]byte {
	tb.Helper()
	frames, err := readCaptureFrames(path)
	if err != nil {
		tb.Fatal(err)
	}
	return frames
}

// readCaptureFrames is loadCaptureFrames without a testing.TB.
func readCaptureFrames(path string) ([][]byte, error) {
	return esltest.LoadFrames(path)
}

// readCommand reads one command from the client: its header lines (the
// first is the command), its body (if any) read and dropped.
func readCommand(r *bufio.Reader) ([]string, error) {
	var lines []string
	clen := 0
	for {
		ln, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		ln = strings.TrimRight(ln, "\r\n")
		if ln == "" {
			if len(lines) == 0 {
				continue
			}
			break
		}
		if v, ok := strings.CutPrefix(strings.ToLower(ln), "content-length: "); ok {
			clen, _ = strconv.Atoi(v)
		}
		lines = append(lines, ln)
	}
	if clen > 0 {
		if _, err := io.CopyN(io.Discard, r, int64(clen)); err != nil {
			return nil, err
		}
	}
	return lines, nil
}

// eventFrame frames a plain event body.
func eventFrame(body string) []byte {
	return fmt.Appendf(nil, "Content-Length: %d\nContent-Type: text/event-plain\n\n%s", len(body), body)
}

// fakeFS is a minimal ESL server: it accepts any password, answers every
// command "+OK" (api with an api/response "+OK", bgapi with its Job-UUID)
// and lets a test write event frames to the connected client.
type fakeFS struct {
	ln net.Listener

	mu       sync.Mutex // guards w (replies and events interleave at frame boundaries)
	w        *bufio.Writer
	nc       net.Conn
	conns    chan net.Conn
	commands int
	subbed   chan struct{} // closed once the client subscribed to events
	subOnce  sync.Once
	wg       sync.WaitGroup
	// apiReply, if set, answers api commands (default "+OK").
	apiReply func(cmd string) string
}

func newFakeFS(tb testing.TB) *fakeFS {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := &fakeFS{ln: ln, conns: make(chan net.Conn, 4), subbed: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.serve(nc) }()
		}
	}()
	tb.Cleanup(s.close)
	return s
}

func (s *fakeFS) addr() string { return s.ln.Addr().String() }

func (s *fakeFS) close() {
	s.ln.Close()
	s.mu.Lock()
	if s.nc != nil {
		s.nc.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *fakeFS) serve(nc net.Conn) {
	defer nc.Close()
	w := bufio.NewWriterSize(nc, 256<<10)
	s.mu.Lock()
	s.nc, s.w = nc, w
	w.WriteString("Content-Type: auth/request\n\n")
	w.Flush()
	s.mu.Unlock()
	r := bufio.NewReaderSize(nc, 64<<10)
	for {
		lines, err := readCommand(r)
		if err != nil {
			return
		}
		s.reply(lines)
	}
}

// replyTo is a fake server's reply to a command (its header lines): "+OK"
// to everything, api with apiReply's body (nil: "+OK\n"), bgapi with its
// Job-UUID.
func replyTo(lines []string, apiReply func(cmd string) string) string {
	cmd := lines[0]
	switch {
	case strings.HasPrefix(cmd, "auth "):
		return "Content-Type: command/reply\nReply-Text: +OK accepted\n\n"
	case strings.HasPrefix(cmd, "api "):
		body := "+OK\n"
		if apiReply != nil {
			body = apiReply(cmd[4:])
		}
		return fmt.Sprintf("Content-Type: api/response\nContent-Length: %d\n\n%s", len(body), body)
	case strings.HasPrefix(cmd, "bgapi "):
		job := "00000000-0000-4000-8000-000000000000"
		for _, ln := range lines[1:] {
			if v, ok := strings.CutPrefix(ln, "Job-UUID: "); ok {
				job = v
			}
		}
		return fmt.Sprintf("Content-Type: command/reply\nReply-Text: +OK Job-UUID: %s\nJob-UUID: %s\n\n", job, job)
	case strings.HasPrefix(cmd, "exit"):
		return "Content-Type: command/reply\nReply-Text: +OK bye\n\n"
	}
	return "Content-Type: command/reply\nReply-Text: +OK\n\n"
}

func (s *fakeFS) reply(lines []string) {
	out := replyTo(lines, s.apiReply)
	if strings.HasPrefix(lines[0], "event ") {
		defer s.subOnce.Do(func() { close(s.subbed) })
	}
	s.mu.Lock()
	s.commands++
	s.w.WriteString(out)
	s.w.Flush()
	s.mu.Unlock()
}

// waitSubscribed waits until the client has sent `event plain ...`.
func (s *fakeFS) waitSubscribed(tb testing.TB) {
	select {
	case <-s.subbed:
	case <-time.After(10 * time.Second):
		tb.Fatal("client never subscribed")
	}
}

// write writes frames in chunks of about chunk bytes, each chunk under the
// lock (so replies interleave at frame boundaries), flushing each chunk. It
// returns when all are written.
func (s *fakeFS) write(frames [][]byte, chunk int) error {
	i := 0
	for i < len(frames) {
		s.mu.Lock()
		n := 0
		for i < len(frames) && n < chunk {
			s.w.Write(frames[i])
			n += len(frames[i])
			i++
		}
		err := s.w.Flush()
		s.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// dropConn closes the current client connection (a lost connection).
func (s *fakeFS) dropConn() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nc != nil {
		s.nc.Close()
	}
}
