package fssim

import (
	"bufio"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawFrame is one frame from the server, raw and parsed.
type rawFrame struct {
	raw   []byte
	ctype string
	hdrs  []hdr // outer headers
	body  string
	// for text/event-plain
	evHdrs []hdr // decoded
	evBody string
}

func (f *rawFrame) get(name string) string {
	for _, h := range f.hdrs {
		if h.name == name {
			return h.value
		}
	}
	return ""
}

// ev returns event header name (decoded).
func (f *rawFrame) ev(name string) string {
	for _, h := range f.evHdrs {
		if h.name == name {
			return h.value
		}
	}
	return ""
}

func (f *rawFrame) name() string { return f.ev("Event-Name") }

func readFrame(br *bufio.Reader) (*rawFrame, error) {
	f := &rawFrame{}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, err
		}
		f.raw = append(f.raw, line...)
		line = strings.TrimRight(line, "\n")
		if line == "" {
			break
		}
		k, v, _ := strings.Cut(line, ": ")
		f.hdrs = append(f.hdrs, hdr{k, v})
	}
	f.ctype = f.get("Content-Type")
	if cl := f.get("Content-Length"); cl != "" {
		n, _ := strconv.Atoi(cl)
		b := make([]byte, n)
		if _, err := io.ReadFull(br, b); err != nil {
			return nil, err
		}
		f.raw = append(f.raw, b...)
		f.body = string(b)
	}
	if f.ctype == "text/event-plain" {
		head, inner, _ := strings.Cut(f.body, "\n\n")
		for _, line := range strings.Split(head, "\n") {
			k, v, _ := strings.Cut(line, ": ")
			d, err := url.PathUnescape(v)
			if err != nil {
				d = v
			}
			f.evHdrs = append(f.evHdrs, hdr{k, d})
		}
		f.evBody = inner
	}
	return f, nil
}

// rawClient is a minimal ESL client for the simulator's own tests.
type rawClient struct {
	t  testing.TB
	nc net.Conn

	mu      sync.Mutex
	cond    *sync.Cond
	events  []*rawFrame // not yet taken
	evlog   []*rawFrame // every event
	replies []*rawFrame
	all     []*rawFrame
	err     error
}

func dialRaw(t testing.TB, addr string) *rawClient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c := &rawClient{t: t, nc: nc}
	c.cond = sync.NewCond(&c.mu)
	go c.readLoop()
	t.Cleanup(func() { nc.Close() })
	return c
}

func (c *rawClient) readLoop() {
	br := bufio.NewReader(c.nc)
	for {
		f, err := readFrame(br)
		c.mu.Lock()
		if err != nil {
			c.err = err
			c.cond.Broadcast()
			c.mu.Unlock()
			return
		}
		c.all = append(c.all, f)
		if f.ctype == "text/event-plain" {
			c.events = append(c.events, f)
			c.evlog = append(c.evlog, f)
		} else {
			c.replies = append(c.replies, f)
		}
		c.cond.Broadcast()
		c.mu.Unlock()
	}
}

// waitFor waits until cond (called with c.mu held) is true.
func (c *rawClient) waitFor(what string, d time.Duration, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	timer := time.AfterFunc(d, func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer timer.Stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for !cond() {
		if c.err != nil || time.Now().After(deadline) {
			c.t.Fatalf("waiting for %s: err=%v", what, c.err)
		}
		c.cond.Wait()
	}
}

// reply reads the next reply frame (command/reply, api/response, auth/request, ...).
func (c *rawClient) reply() *rawFrame {
	c.t.Helper()
	var f *rawFrame
	c.waitFor("reply", 5*time.Second, func() bool {
		if len(c.replies) > 0 {
			f = c.replies[0]
			c.replies = c.replies[1:]
			return true
		}
		return false
	})
	return f
}

func (c *rawClient) send(cmd string) {
	c.t.Helper()
	if _, err := io.WriteString(c.nc, cmd+"\n\n"); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// cmd sends a command and returns its reply frame.
func (c *rawClient) cmd(cmd string) *rawFrame {
	c.t.Helper()
	c.send(cmd)
	return c.reply()
}

// api runs an api command and returns its body.
func (c *rawClient) api(cmd string) string {
	c.t.Helper()
	f := c.cmd("api " + cmd)
	if f.ctype != "api/response" {
		c.t.Fatalf("api %s: got %q", cmd, f.raw)
	}
	return f.body
}

// login reads auth/request and authenticates.
func (c *rawClient) login(pw string) {
	c.t.Helper()
	if f := c.reply(); f.ctype != "auth/request" {
		c.t.Fatalf("want auth/request, got %q", f.raw)
	}
	if f := c.cmd("auth " + pw); f.get("Reply-Text") != "+OK accepted" {
		c.t.Fatalf("auth: %q", f.raw)
	}
}

// waitEvent waits for an event matching pred and returns it (events stay buffered).
func (c *rawClient) waitEvent(what string, pred func(*rawFrame) bool) *rawFrame {
	c.t.Helper()
	var got *rawFrame
	c.waitFor(what, 10*time.Second, func() bool {
		for _, e := range c.events {
			if pred(e) {
				got = e
				return true
			}
		}
		return false
	})
	return got
}

// takeEvent is waitEvent that removes the event and those before it.
func (c *rawClient) takeEvent(what string, pred func(*rawFrame) bool) *rawFrame {
	c.t.Helper()
	var got *rawFrame
	c.waitFor(what, 10*time.Second, func() bool {
		for i, e := range c.events {
			if pred(e) {
				got = e
				c.events = c.events[i+1:]
				return true
			}
		}
		return false
	})
	return got
}

func evIs(name, uuid string) func(*rawFrame) bool {
	return func(f *rawFrame) bool {
		return f.name() == name && (uuid == "" || f.ev("Unique-ID") == uuid)
	}
}

// eventsOf returns the names of the buffered events of uuid.
func (c *rawClient) eventsOf(uuid string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, e := range c.evlog {
		if e.ev("Unique-ID") == uuid {
			out = append(out, e.name())
		}
	}
	return out
}

func (c *rawClient) closed(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		err := c.err
		c.mu.Unlock()
		if err != nil {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

// startSim starts a simulator on 127.0.0.1:0 for one test.
func startSim(t testing.TB, cfg Config) (*Sim, string) {
	t.Helper()
	s := New(cfg)
	addr, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, addr
}

// loggedIn starts a simulator and returns an authenticated client.
func loggedIn(t testing.TB, cfg Config) (*Sim, *rawClient) {
	t.Helper()
	s, addr := startSim(t, cfg)
	c := dialRaw(t, addr)
	c.login("ClueCon")
	return s, c
}

// dump writes everything received to $FSSIM_DUMP/<name>.raw (debugging aid).
func (c *rawClient) dump(name string) {
	dir := os.Getenv("FSSIM_DUMP")
	if dir == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var b []byte
	for _, f := range c.all {
		b = append(b, f.raw...)
	}
	_ = os.WriteFile(filepath.Join(dir, name+".raw"), b, 0o644)
}

func newFrameReader(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, 1<<16) }
