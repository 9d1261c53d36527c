package esl

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
)

// fakeFS is a scripted FreeSWITCH for tests: it accepts connections on
// 127.0.0.1, does the auth handshake (unless noAuth) and hands each
// connection to handle.
type fakeFS struct {
	t        testing.TB
	ln       net.Listener
	password string
	noAuth   bool
	handle   func(fc *fakeConn)

	mu    sync.Mutex
	conns []*fakeConn
	wg    sync.WaitGroup
	n     int // connections accepted
}

type fakeConn struct {
	nc  net.Conn
	br  *bufio.Reader
	wmu sync.Mutex
	num int // 1 for the first connection
}

func newFakeFS(t testing.TB, handle func(fc *fakeConn)) *fakeFS {
	t.Helper()
	return startFakeFS(t, &fakeFS{handle: handle})
}

// newRawFakeFS is newFakeFS without the auth handshake.
func newRawFakeFS(t testing.TB, handle func(fc *fakeConn)) *fakeFS {
	t.Helper()
	return startFakeFS(t, &fakeFS{handle: handle, noAuth: true})
}

func startFakeFS(t testing.TB, f *fakeFS) *fakeFS {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.t, f.ln = t, ln
	if f.password == "" {
		f.password = "ClueCon"
	}
	f.wg.Add(1)
	go f.accept()
	t.Cleanup(f.Close)
	return f
}

func (f *fakeFS) Addr() string { return f.ln.Addr().String() }

func (f *fakeFS) Close() {
	f.ln.Close()
	f.mu.Lock()
	for _, c := range f.conns {
		c.nc.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

func (f *fakeFS) accept() {
	defer f.wg.Done()
	for {
		nc, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.n++
		fc := &fakeConn{nc: nc, br: bufio.NewReader(nc), num: f.n}
		f.conns = append(f.conns, fc)
		f.mu.Unlock()
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer nc.Close()
			if !f.noAuth && !fc.auth(f.password) {
				return
			}
			if f.handle != nil {
				f.handle(fc)
			}
		}()
	}
}

// auth does FreeSWITCH's handshake; false when the password was wrong.
func (fc *fakeConn) auth(password string) bool {
	fc.send("Content-Type: auth/request\n\n")
	cmd, _, err := fc.read()
	if err != nil {
		return false
	}
	if cmd != "auth "+password {
		fc.send("Content-Type: command/reply\nReply-Text: -ERR invalid\n\n")
		fc.send(disconnectNotice)
		return false
	}
	fc.send("Content-Type: command/reply\nReply-Text: +OK accepted\n\n")
	return true
}

const disconnectNotice = "Content-Type: text/disconnect-notice\nContent-Length: 67\n\nDisconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"

func (fc *fakeConn) send(s string) {
	fc.wmu.Lock()
	defer fc.wmu.Unlock()
	_, _ = io.WriteString(fc.nc, s)
}

// waitClosed reads and discards until the client closes the connection.
func (fc *fakeConn) waitClosed() { _, _ = io.Copy(io.Discard, fc.br) }

// read reads one command: its header block (lines joined by "\n", CRs
// dropped) and its body when it has a Content-Length.
func (fc *fakeConn) read() (cmd, body string, err error) {
	var lines []string
	clen := 0
	for {
		line, err := fc.br.ReadString('\n')
		if err != nil {
			return "", "", err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if len(lines) == 0 {
				continue
			}
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "content-length") {
			clen, _ = strconv.Atoi(strings.TrimSpace(v))
		}
		lines = append(lines, line)
	}
	if clen > 0 {
		b := make([]byte, clen)
		if _, err := io.ReadFull(fc.br, b); err != nil {
			return "", "", err
		}
		body = string(b)
	}
	return strings.Join(lines, "\n"), body, nil
}

func (fc *fakeConn) reply(text string) {
	fc.send("Content-Type: command/reply\nReply-Text: " + text + "\n\n")
}

func (fc *fakeConn) apiResponse(body string) {
	fc.send(fmt.Sprintf("Content-Type: api/response\nContent-Length: %d\n\n%s", len(body), body))
}

func (fc *fakeConn) event(body string, kv ...string) {
	fc.send(string(NewEventWithBody(body, kv...).AppendFrame(nil)))
}

// answer replies to one command the way FreeSWITCH does, in a simple way:
// api -> "+OK <args>\n", bgapi -> the Job-UUID reply then BACKGROUND_JOB,
// exit -> bye and disconnect, others -> "+OK <cmd>". It returns false on exit.
func (fc *fakeConn) answer(cmd, body string) bool {
	first, _, _ := strings.Cut(cmd, "\n")
	verb, args, _ := strings.Cut(first, " ")
	switch verb {
	case "api":
		fc.apiResponse("+OK " + args + "\n")
	case "bgapi":
		id := header(cmd, "Job-UUID")
		fc.send("Content-Type: command/reply\nReply-Text: +OK Job-UUID: " + id + "\nJob-UUID: " + id + "\n\n")
		fc.event("+OK "+args+"\n", "Event-Name", "BACKGROUND_JOB", "Job-UUID", id, "Job-Command", args)
	case "exit":
		fc.reply("+OK bye")
		fc.send(disconnectNotice)
		return false
	case "event":
		fc.reply("+OK event listener enabled plain")
	default:
		if body != "" {
			fc.reply("+OK " + first + " body=" + body)
		} else {
			fc.reply("+OK " + first)
		}
	}
	return true
}

// serve answers commands until the connection ends.
func (fc *fakeConn) serve() {
	for {
		cmd, body, err := fc.read()
		if err != nil || !fc.answer(cmd, body) {
			return
		}
	}
}

func header(cmd, name string) string {
	for _, line := range strings.Split(cmd, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// waitFor polls cond for up to 5 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
