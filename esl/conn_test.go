package esl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func dial(t *testing.T, f *fakeFS, opts Options) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, f.Addr(), opts)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() {
		c.Close()
		select {
		case <-c.Done():
		case <-time.After(5 * time.Second):
			t.Error("connection did not finish after Close")
		}
	})
	return c
}

func ctx5(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestDialAPISend(t *testing.T) {
	f := newFakeFS(t, func(fc *fakeConn) {
		for {
			cmd, _, err := fc.read()
			if err != nil {
				return
			}
			switch cmd {
			case "api uuid_kill nope":
				fc.apiResponse("-ERR No such channel!\n")
			case "api status":
				fc.apiResponse("UP 0 years\nready\n")
			case "api nosuch":
				fc.apiResponse("-ERR nosuch Command not found!\n")
			case "sendmsg x":
				fc.reply("-ERR invalid session id [x]")
			default:
				fc.answer(cmd, "")
			}
		}
	})
	c := dial(t, f, Options{})
	ctx := ctx5(t)
	if !c.Connected() {
		t.Fatal("not connected")
	}
	got, err := c.API(ctx, "status")
	if err != nil || got != "UP 0 years\nready" {
		t.Fatalf("API status = %q, %v", got, err)
	}
	_, err = c.API(ctx, "uuid_kill nope")
	var se *ServerError
	if !errors.As(err, &se) || se.Reply != "-ERR No such channel!" || err.Error() != "-ERR No such channel!" {
		t.Fatalf("uuid_kill err = %v", err)
	}
	r, err := c.Send(ctx, "api nosuch")
	if !errors.As(err, &se) || r == nil || r.ContentType != TypeAPIResponse || r.Text != "-ERR nosuch Command not found!" {
		t.Fatalf("Send api nosuch = %+v, %v", r, err)
	}
	r, err = c.Send(ctx, "sendmsg x")
	if !errors.As(err, &se) || se.Reply != "-ERR invalid session id [x]" || r.ContentType != TypeCommandReply {
		t.Fatalf("sendmsg err = %+v %v", r, err)
	}
	r, err = c.Send(ctx, "linger")
	if err != nil || r.Text != "+OK linger" {
		t.Fatalf("linger = %+v %v", r, err)
	}
	ch := make(chan string, 1)
	c.SendAsync("api uuid_kill nope", func(reply string, err error) { ch <- fmt.Sprint(reply, "|", err) })
	if got := <-ch; got != "|-ERR No such channel!" {
		t.Fatalf("SendAsync got %q", got)
	}
}

func TestAPIMessage(t *testing.T) {
	cases := []struct {
		cmd  string
		bg   bool
		want string
	}{
		{"status", false, "api status"},
		{"  status  ", false, "api status"},
		{"uuid_answer abc", false, "api uuid_answer abc"},
		{"originate {a=b}sofia/x &park()", true, "bgapi originate {a=b}sofia/x &park()"},
		{"show channels", true, "bgapi show channels"},
	}
	for _, tc := range cases {
		if got := apiMessage(tc.cmd, tc.bg); got != tc.want {
			t.Errorf("apiMessage(%q, %v) = %q, want %q", tc.cmd, tc.bg, got, tc.want)
		}
	}
}

func TestCommandWireFormat(t *testing.T) {
	cases := []struct{ cmd, want string }{
		{"api status", "api status\n\n"},
		{"api status\n", "api status\n\n"},
		{"sendmsg X\ncall-command: execute\nexecute-app-name: playback", "sendmsg X\ncall-command: execute\nexecute-app-name: playback\n\n"},
		{"sendmsg X\ncall-command: execute\ncontent-length: 5\n\nhello", "sendmsg X\ncall-command: execute\ncontent-length: 5\n\nhello"},
		{"sendevent CUSTOM\r\nContent-Length: 2\r\n\r\nhi", "sendevent CUSTOM\r\nContent-Length: 2\r\n\r\nhi"},
	}
	for _, tc := range cases {
		if got := string(appendCommand(nil, tc.cmd)); got != tc.want {
			t.Errorf("appendCommand(%q) = %q, want %q", tc.cmd, got, tc.want)
		}
	}
}

func TestCommandWithBody(t *testing.T) {
	f := newFakeFS(t, (*fakeConn).serve)
	c := dial(t, f, Options{})
	r, err := c.Send(ctx5(t), "sendmsg abc\ncall-command: execute\nContent-Length: 11\n\nhello world")
	if err != nil || r.Text != "+OK sendmsg abc body=hello world" {
		t.Fatalf("got %+v %v", r, err)
	}
	// The next command is framed correctly after the body.
	if got, err := c.API(ctx5(t), "status"); err != nil || got != "+OK status" {
		t.Fatalf("after body: %q %v", got, err)
	}
}

// eslgo defect: a wrong password was not a clear error.
func TestDialWrongPassword(t *testing.T) {
	f := newFakeFS(t, (*fakeConn).serve)
	_, err := Dial(ctx5(t), f.Addr(), Options{Password: "nope"})
	if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "authentication failed") || !strings.Contains(err.Error(), "-ERR invalid") {
		t.Fatalf("err = %v", err)
	}
}

// eslgo defect: text/rude-rejection killed the receive loop silently.
func TestDialRudeRejection(t *testing.T) {
	f := newRawFakeFS(t, func(fc *fakeConn) {
		fc.send("Content-Type: text/rude-rejection\nContent-Length: 24\n\nAccess Denied, go away.\n")
	})
	_, err := Dial(ctx5(t), f.Addr(), Options{})
	if !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), "ACL") || !strings.Contains(err.Error(), "Access Denied") {
		t.Fatalf("err = %v", err)
	}
}

// eslgo defect: Dial had no timeout.
func TestDialTimeout(t *testing.T) {
	// A listener whose backlog we never accept still completes TCP handshakes,
	// so use an address nothing answers: TEST-NET-1 is not routed.
	start := time.Now()
	_, err := Dial(context.Background(), "192.0.2.1:8021", Options{DialTimeout: 300 * time.Millisecond})
	if err == nil {
		t.Fatal("dial succeeded")
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("dial took %v", el)
	}
	if !strings.Contains(err.Error(), "cannot connect") {
		t.Fatalf("err = %v", err)
	}
	// Port without a listener: refused at once.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	if _, err := Dial(context.Background(), addr, Options{DialTimeout: time.Second}); err == nil {
		t.Fatal("dial to a closed port succeeded")
	}
}

// eslgo defect: no auth timeout; a server that never sends auth/request hangs.
func TestAuthTimeout(t *testing.T) {
	f := newRawFakeFS(t, func(fc *fakeConn) { fc.waitClosed() })
	start := time.Now()
	_, err := Dial(context.Background(), f.Addr(), Options{AuthTimeout: 200 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "auth timeout") {
		t.Fatalf("err = %v", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("auth timeout took %v", el)
	}
	// The context cancels too.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := Dial(ctx, f.Addr(), Options{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ctx err = %v", err)
	}
}

// eslgo defect: events were delivered by one goroutine each, out of order.
func TestEventsInOrder(t *testing.T) {
	const n = 10000
	uuid := "5c6d46e0-4a55-4ef0-8cb8-b054434fcd50"
	f := newFakeFS(t, func(fc *fakeConn) {
		cmd, _, _ := fc.read()
		fc.answer(cmd, "")
		var b []byte
		for i := 0; i < n; i++ {
			b = NewEvent("Event-Name", "CHANNEL_STATE", "Unique-ID", uuid, "Event-Sequence", strconv.Itoa(i),
				"variable_x", "a b:c").AppendFrame(b)
			if len(b) > 64<<10 {
				fc.send(string(b))
				b = b[:0]
			}
		}
		fc.send(string(b))
		fc.serve()
	})
	for _, handler := range []bool{false, true} {
		t.Run(fmt.Sprintf("handler=%v", handler), func(t *testing.T) {
			var got []int
			var mu sync.Mutex
			all := make(chan struct{})
			check := func(ev *Event) {
				mu.Lock()
				defer mu.Unlock()
				if ev.UUID() != uuid || ev.Get("variable_x") != "a b:c" {
					t.Errorf("bad event %v", ev)
				}
				seq, _ := strconv.Atoi(ev.Get("Event-Sequence"))
				got = append(got, seq)
				if len(got) == n {
					close(all)
				}
			}
			opts := Options{EventBuffer: 16} // small: exercise back-pressure
			if handler {
				opts.Handler = check
			}
			c := dial(t, f, opts)
			if err := c.Subscribe(ctx5(t), "ALL"); err != nil {
				t.Fatal(err)
			}
			if !handler {
				go func() {
					for ev := range c.Events() {
						check(ev)
					}
				}()
			}
			select {
			case <-all:
			case <-time.After(10 * time.Second):
				t.Fatalf("got %d of %d events", len(got), n)
			}
			mu.Lock()
			defer mu.Unlock()
			for i, s := range got {
				if s != i {
					t.Fatalf("event %d has sequence %d", i, s)
				}
			}
		})
	}
}

// eslgo defect: a late reply was handed to the next command.
func TestTimedOutCommandLateReply(t *testing.T) {
	f := newFakeFS(t, func(fc *fakeConn) {
		for {
			cmd, _, err := fc.read()
			if err != nil {
				return
			}
			if cmd == "api slow" {
				time.Sleep(300 * time.Millisecond)
			}
			fc.answer(cmd, "")
		}
	})
	c := dial(t, f, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.API(ctx, "slow"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow: %v", err)
	}
	// The next command must get its own reply, not "+OK slow".
	for i := 0; i < 3; i++ {
		got, err := c.API(ctx5(t), "fast"+strconv.Itoa(i))
		if err != nil || got != "+OK fast"+strconv.Itoa(i) {
			t.Fatalf("fast%d = %q, %v", i, got, err)
		}
	}
	if n := c.InFlight(); n != 0 {
		t.Fatalf("%d commands still in flight", n)
	}
}

// eslgo defect: a write deadline from one context stayed on the socket.
func TestDeadlineThenNoDeadline(t *testing.T) {
	f := newFakeFS(t, (*fakeConn).serve)
	c := dial(t, f, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	if got, err := c.API(ctx, "a"); err != nil || got != "+OK a" {
		t.Fatalf("a: %q %v", got, err)
	}
	cancel()
	time.Sleep(200 * time.Millisecond) // past the first deadline
	if got, err := c.API(context.Background(), "b"); err != nil || got != "+OK b" {
		t.Fatalf("b: %q %v", got, err)
	}
	c.SendAsync("api c", nil)
	if got, err := c.API(context.Background(), "d"); err != nil || got != "+OK d" {
		t.Fatalf("d: %q %v", got, err)
	}
}

// eslgo defect: the Job-UUID listener was registered after bgapi was sent,
// so a fast BACKGROUND_JOB was missed.
func TestBackgroundJobBeforeReply(t *testing.T) {
	f := newFakeFS(t, func(fc *fakeConn) {
		for {
			cmd, _, err := fc.read()
			if err != nil {
				return
			}
			if !strings.HasPrefix(cmd, "bgapi ") {
				fc.answer(cmd, "")
				continue
			}
			id := header(cmd, "Job-UUID")
			// The job result first, then the reply (FreeSWITCH's job thread can win).
			fc.event("+OK done\n", "Event-Name", "BACKGROUND_JOB", "Job-UUID", id)
			fc.send("Content-Type: command/reply\nReply-Text: +OK Job-UUID: " + id + "\nJob-UUID: " + id + "\n\n")
		}
	})
	c := dial(t, f, Options{})
	for i := 0; i < 200; i++ {
		j, err := c.BgAPI(ctx5(t), "originate x &park()")
		if err != nil {
			t.Fatal(err)
		}
		ev, err := j.Wait(ctx5(t))
		if err != nil || ev.Body() != "+OK done\n" || ev.Get("Job-UUID") != j.UUID {
			t.Fatalf("job %d: %v %v", i, ev, err)
		}
		// Also delivered to the event stream.
		select {
		case ev2 := <-c.Events():
			if ev2 != ev {
				t.Fatalf("stream got another event")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("BACKGROUND_JOB not on the event stream")
		}
	}
	// Async form.
	got := make(chan *Event, 1)
	id := c.BgAPIAsync("status", "", func(ev *Event, err error) {
		if err != nil {
			t.Error(err)
		}
		got <- ev
	})
	if ev := <-got; ev.Get("Job-UUID") != id {
		t.Fatalf("async job got %v", ev)
	}
}

func TestBgAPIRefused(t *testing.T) {
	f := newFakeFS(t, func(fc *fakeConn) {
		for {
			cmd, _, err := fc.read()
			if err != nil {
				return
			}
			if strings.HasPrefix(cmd, "bgapi") {
				fc.reply("-ERR permission denied")
				continue
			}
			fc.answer(cmd, "")
		}
	})
	c := dial(t, f, Options{})
	if _, err := c.BgAPI(ctx5(t), "status"); err == nil || err.Error() != "-ERR permission denied" {
		t.Fatalf("BgAPI err = %v", err)
	}
	errc := make(chan error, 1)
	c.BgAPIAsync("status", "my-id", func(ev *Event, err error) { errc <- err })
	if err := <-errc; err == nil || err.Error() != "-ERR permission denied" {
		t.Fatalf("BgAPIAsync err = %v", err)
	}
}

func TestJobUUIDHeader(t *testing.T) {
	cmds := make(chan string, 10)
	f := newFakeFS(t, func(fc *fakeConn) {
		for {
			cmd, body, err := fc.read()
			if err != nil {
				return
			}
			cmds <- cmd
			fc.answer(cmd, body)
		}
	})
	c := dial(t, f, Options{})
	done := make(chan struct{})
	id := c.BgAPIAsync("originate sofia/x &park()", "aab70aed-cbb2-4dae-8b0a-49f6745b275a", func(*Event, error) { close(done) })
	<-done
	if got := <-cmds; got != "event plain BACKGROUND_JOB" {
		t.Fatalf("first wire command %q, want the subscription for job results", got)
	}
	if got := <-cmds; got != "bgapi originate sofia/x &park()\nJob-UUID: "+id {
		t.Fatalf("wire command %q", got)
	}
	u := NewUUID()
	if len(u) != 36 || u[14] != '4' || strings.Count(u, "-") != 4 || !strings.ContainsRune("89ab", rune(u[19])) {
		t.Fatalf("bad uuid %q", u)
	}
}

// eslgo defect: a plain EOF was not noticed.
func TestPlainEOFNoticed(t *testing.T) {
	release := make(chan struct{})
	f := newFakeFS(t, func(fc *fakeConn) {
		fc.read() // one command, never answered
		<-release
		// return: the socket closes without a disconnect notice
	})
	var states []StateChange
	var mu sync.Mutex
	c := dial(t, f, Options{OnState: func(s StateChange) { mu.Lock(); states = append(states, s); mu.Unlock() }})
	errc := make(chan error, 1)
	go func() { _, err := c.API(context.Background(), "status"); errc <- err }()
	waitFor(t, "command in flight", func() bool { return c.InFlight() == 1 })
	close(release)
	select {
	case err := <-errc:
		if !errors.Is(err, ErrConnectionLost) || !strings.Contains(err.Error(), "connection lost") {
			t.Fatalf("in-flight err = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("EOF not noticed")
	}
	<-c.Done()
	if !errors.Is(c.Err(), ErrConnectionLost) {
		t.Fatalf("Err = %v", c.Err())
	}
	if _, ok := <-c.Events(); ok {
		t.Fatal("Events not closed")
	}
	if _, err := c.API(context.Background(), "x"); !errors.Is(err, ErrConnectionLost) {
		t.Fatalf("after loss: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(states) != 1 || states[0].State != StateClosed || !errors.Is(states[0].Err, ErrConnectionLost) {
		t.Fatalf("states %+v", states)
	}
}

func TestDisconnectNoticeNoticed(t *testing.T) {
	f := newFakeFS(t, func(fc *fakeConn) {
		fc.read()
		fc.send(disconnectNotice)
		fc.waitClosed() // keep the socket open: the notice alone must do
	})
	c := dial(t, f, Options{})
	_, err := c.API(ctx5(t), "status")
	if !errors.Is(err, ErrConnectionLost) || !strings.Contains(err.Error(), "disconnect-notice") {
		t.Fatalf("err = %v", err)
	}
	select {
	case <-c.Done():
	case <-time.After(time.Second):
		t.Fatal("disconnect notice not noticed at once")
	}
}

// eslgo defect: log/data and text/rude-rejection stopped the receive loop.
func TestLogDataAndUnknownFramesSkipped(t *testing.T) {
	f := newFakeFS(t, func(fc *fakeConn) {
		fc.read()
		fc.event("", "Event-Name", "HEARTBEAT", "Event-Sequence", "1")
		logLine := "2026-11-22 19:06:21 [NOTICE] switch_channel.c:1142 New Channel\n"
		fc.send(fmt.Sprintf("Content-Type: log/data\nContent-Length: %d\nLog-Level: 5\nText-Channel: 3\nLog-File: switch_channel.c\nLog-Func: x\nLog-Line: 1142\nUser-Data: \n\n%s", len(logLine), logLine))
		fc.send("Content-Type: text/event-xml\nContent-Length: 7\n\n<event>")
		fc.send("Content-Type: application/x-something\nContent-Length: 3\n\nabc")
		js := `{"Event-Name":"CUSTOM","Event-Subclass":"a::b","_body":"x"}`
		fc.send(fmt.Sprintf("Content-Type: text/event-json\nContent-Length: %d\n\n%s", len(js), js))
		fc.event("", "Event-Name", "HEARTBEAT", "Event-Sequence", "2")
		fc.apiResponse("+OK\n")
		fc.serve()
	})
	c := dial(t, f, Options{})
	if got, err := c.API(ctx5(t), "status"); err != nil || got != "+OK" {
		t.Fatalf("reply after log/data: %q %v", got, err)
	}
	var names []string
	for i := 0; i < 3; i++ {
		ev := <-c.Events()
		names = append(names, ev.Name()+":"+ev.Get("Event-Sequence")+ev.Subclass())
	}
	if strings.Join(names, ",") != "HEARTBEAT:1,CUSTOM:a::b,HEARTBEAT:2" {
		t.Fatalf("events %v", names)
	}
}

func TestRudeRejectionMidStream(t *testing.T) {
	f := newFakeFS(t, func(fc *fakeConn) {
		fc.read()
		fc.send("Content-Type: text/rude-rejection\nContent-Length: 24\n\nAccess Denied, go away.\n")
		fc.waitClosed()
	})
	c := dial(t, f, Options{})
	_, err := c.API(ctx5(t), "status")
	if !errors.Is(err, ErrConnectionLost) || !errors.Is(err, ErrRejected) {
		t.Fatalf("err = %v", err)
	}
}

func TestHostileContentLength(t *testing.T) {
	f := newFakeFS(t, func(fc *fakeConn) {
		fc.read()
		fc.send("Content-Type: api/response\nContent-Length: 10000000000\n\n+OK")
		fc.waitClosed()
	})
	c := dial(t, f, Options{})
	_, err := c.API(ctx5(t), "status")
	if !errors.Is(err, ErrConnectionLost) || !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("err = %v", err)
	}
}

func TestHandlerOrdering(t *testing.T) {
	// The server interleaves events and replies; Handler, SendAsync and
	// BgAPIAsync callbacks must see exactly the wire order.
	f := newFakeFS(t, func(fc *fakeConn) {
		for i := 0; ; i++ {
			cmd, _, err := fc.read()
			if err != nil {
				return
			}
			if strings.HasPrefix(cmd, "event ") { // bgapi's own subscription
				fc.answer(cmd, "")
				i--
				continue
			}
			fc.event("", "Event-Name", "CUSTOM", "Event-Subclass", "t::before", "N", strconv.Itoa(i))
			if strings.HasPrefix(cmd, "bgapi") {
				id := header(cmd, "Job-UUID")
				fc.send("Content-Type: command/reply\nReply-Text: +OK Job-UUID: " + id + "\nJob-UUID: " + id + "\n\n")
				fc.event("+OK\n", "Event-Name", "BACKGROUND_JOB", "Job-UUID", id, "N", strconv.Itoa(i))
			} else {
				fc.answer(cmd, "")
			}
			fc.event("", "Event-Name", "CUSTOM", "Event-Subclass", "t::after", "N", strconv.Itoa(i))
		}
	})
	var mu sync.Mutex
	var log []string
	rec := func(s string) { mu.Lock(); log = append(log, s); mu.Unlock() }
	c := dial(t, f, Options{Handler: func(ev *Event) {
		rec("ev " + ev.Name() + ev.Subclass() + " " + ev.Get("N"))
	}})
	if c.Events() != nil {
		t.Fatal("Events should be nil in Handler mode")
	}
	var want []string
	const n = 50
	for i := 0; i < n; i++ {
		want = append(want, "ev CUSTOMt::before "+strconv.Itoa(i))
		if i%5 == 4 {
			c.BgAPIAsync("status", "job-"+strconv.Itoa(i), func(ev *Event, err error) { rec("job " + ev.Get("N")) })
			want = append(want, "job "+strconv.Itoa(i), "ev BACKGROUND_JOB "+strconv.Itoa(i))
		} else {
			cmd := "api c" + strconv.Itoa(i)
			c.SendAsync(cmd, func(reply string, err error) { rec("reply " + reply) })
			want = append(want, "reply +OK c"+strconv.Itoa(i))
		}
		want = append(want, "ev CUSTOMt::after "+strconv.Itoa(i))
	}
	waitFor(t, "all callbacks", func() bool { mu.Lock(); defer mu.Unlock(); return len(log) >= len(want) })
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(log, "\n") != strings.Join(want, "\n") {
		t.Fatalf("order:\n%s\nwant:\n%s", strings.Join(log, "\n"), strings.Join(want, "\n"))
	}
}

func TestPipeliningManyGoroutines(t *testing.T) {
	f := newFakeFS(t, (*fakeConn).serve)
	c := dial(t, f, Options{})
	const G, N = 32, 200
	var wg sync.WaitGroup
	var bad atomic.Int64
	for g := 0; g < G; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var inner sync.WaitGroup
			for i := 0; i < N; i++ {
				want := fmt.Sprintf("g%d-%d", g, i)
				if i%2 == 0 {
					got, err := c.API(context.Background(), want)
					if err != nil || got != "+OK "+want {
						bad.Add(1)
					}
				} else {
					inner.Add(1)
					c.SendAsync("api "+want, func(reply string, err error) {
						if err != nil || reply != "+OK "+want {
							bad.Add(1)
						}
						inner.Done()
					})
				}
			}
			inner.Wait()
		}()
	}
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d mismatched replies", bad.Load())
	}
}

func TestCloseIdempotent(t *testing.T) {
	cmds := make(chan string, 10)
	f := newFakeFS(t, func(fc *fakeConn) {
		for {
			cmd, _, err := fc.read()
			if err != nil {
				return
			}
			cmds <- cmd
			if !fc.answer(cmd, "") {
				return
			}
		}
	})
	var states []State
	c := dial(t, f, Options{OnState: func(s StateChange) { states = append(states, s.State) }})
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	<-c.Done()
	if _, ok := <-c.Events(); ok {
		t.Fatal("Events not closed")
	}
	if c.Err() != nil || c.Connected() {
		t.Fatalf("Err %v Connected %v", c.Err(), c.Connected())
	}
	if got := <-cmds; got != "exit" {
		t.Fatalf("Close sent %q", got)
	}
	if _, err := c.API(context.Background(), "status"); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	called := false
	c.SendAsync("api status", func(_ string, err error) { called = errors.Is(err, ErrClosed) })
	if !called {
		t.Fatal("SendAsync after Close did not fail at once with ErrClosed")
	}
	if len(states) != 1 || states[0] != StateClosed {
		t.Fatalf("states %v", states)
	}
}

func TestCloseFailsInFlight(t *testing.T) {
	f := newFakeFS(t, func(fc *fakeConn) {
		for {
			if _, _, err := fc.read(); err != nil {
				return
			}
		}
	})
	c := dial(t, f, Options{})
	errc := make(chan error, 2)
	go func() { _, err := c.API(context.Background(), "x"); errc <- err }()
	c.BgAPIAsync("y", "", func(_ *Event, err error) { errc <- err })
	waitFor(t, "in flight", func() bool { return c.InFlight() == 2 })
	c.Close()
	for i := 0; i < 2; i++ {
		if err := <-errc; !errors.Is(err, ErrClosed) {
			t.Fatalf("in flight got %v", err)
		}
	}
}

func TestReconnect(t *testing.T) {
	type connLog struct {
		mu   sync.Mutex
		cmds []string
	}
	logs := make([]*connLog, 3)
	for i := range logs {
		logs[i] = &connLog{}
	}
	hold := make(chan struct{})
	handle := func(fc *fakeConn) {
		lg := logs[fc.num-1]
		for {
			cmd, _, err := fc.read()
			if err != nil {
				return
			}
			lg.mu.Lock()
			lg.cmds = append(lg.cmds, cmd)
			lg.mu.Unlock()
			if fc.num == 1 && cmd == "api hang" {
				<-hold
				return // drop the connection with the command unanswered
			}
			fc.answer(cmd, "")
		}
	}
	f := newFakeFS(t, handle)
	var mu sync.Mutex
	var states []StateChange
	c := dial(t, f, Options{
		Reconnect: true, ReconnectMin: 50 * time.Millisecond, ReconnectMax: 100 * time.Millisecond,
		OnState: func(s StateChange) { mu.Lock(); states = append(states, s); mu.Unlock() },
	})
	ctx := ctx5(t)
	if err := c.Subscribe(ctx, "CHANNEL_CREATE", "CHANNEL_ANSWER"); err != nil {
		t.Fatal(err)
	}
	if err := c.Subscribe(ctx, "CUSTOM sofia::register", "BACKGROUND_JOB", "my::event"); err != nil {
		t.Fatal(err)
	}
	if err := c.Filter(ctx, "Event-Name", "CHANNEL_CREATE"); err != nil {
		t.Fatal(err)
	}
	if err := c.Filter(ctx, "Unique-ID", "abc"); err != nil {
		t.Fatal(err)
	}
	if err := c.FilterDelete(ctx, "Unique-ID", ""); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { _, err := c.API(context.Background(), "hang"); errc <- err }()
	waitFor(t, "hang in flight", func() bool {
		logs[0].mu.Lock()
		defer logs[0].mu.Unlock()
		return len(logs[0].cmds) > 0 && logs[0].cmds[len(logs[0].cmds)-1] == "api hang"
	})
	// A job whose BACKGROUND_JOB never came: fails with the connection.
	pendingJob := make(chan error, 1)
	c.mu.Lock()
	c.jobs["never"] = &jobEntry{c: c, uuid: "never", done: func(_ *Event, err error) { pendingJob <- err }}
	c.mu.Unlock()
	close(hold)
	if err := <-errc; !errors.Is(err, ErrConnectionLost) || !strings.Contains(err.Error(), "connection lost") {
		t.Fatalf("in-flight err = %v", err)
	}
	if err := <-pendingJob; !errors.Is(err, ErrConnectionLost) {
		t.Fatalf("job err = %v", err)
	}
	// While down, commands fail fast.
	notConn := make(chan error, 1)
	if !c.Connected() {
		if _, err := c.API(context.Background(), "x"); !errors.Is(err, ErrNotConnected) {
			t.Fatalf("while down: %v", err)
		}
		c.SendAsync("api y", func(_ string, err error) { notConn <- err })
		if err := <-notConn; !errors.Is(err, ErrNotConnected) {
			t.Fatalf("SendAsync while down: %v", err)
		}
	}
	waitFor(t, "reconnect", c.Connected)
	if got, err := c.API(ctx, "after"); err != nil || got != "+OK after" {
		t.Fatalf("after reconnect: %q %v", got, err)
	}
	logs[1].mu.Lock()
	got := strings.Join(logs[1].cmds, " | ")
	logs[1].mu.Unlock()
	want := "filter Event-Name CHANNEL_CREATE | event plain CHANNEL_CREATE CHANNEL_ANSWER BACKGROUND_JOB CUSTOM sofia::register my::event | api after"
	if got != want {
		t.Fatalf("second connection saw\n%s\nwant\n%s", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(states) != 2 || states[0].State != StateDisconnected || !errors.Is(states[0].Err, ErrConnectionLost) ||
		states[1].State != StateConnected || !states[1].Reconnected {
		t.Fatalf("states %+v", states)
	}
}

func TestUnsubscribeNoEvents(t *testing.T) {
	cmds := make(chan string, 10)
	f := newFakeFS(t, func(fc *fakeConn) {
		for {
			cmd, _, err := fc.read()
			if err != nil {
				return
			}
			cmds <- cmd
			fc.answer(cmd, "")
		}
	})
	c := dial(t, f, Options{})
	ctx := ctx5(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.Subscribe(ctx, "CHANNEL_CREATE CHANNEL_PARK", "x::y"))
	must(c.Unsubscribe(ctx, "CHANNEL_PARK"))
	must(c.Unsubscribe(ctx, "x::y"))
	must(c.NoEvents(ctx))
	for _, want := range []string{"event plain CHANNEL_CREATE CHANNEL_PARK CUSTOM x::y", "nixevent CHANNEL_PARK", "nixevent CUSTOM x::y", "noevents"} {
		if got := <-cmds; got != want {
			t.Errorf("got %q want %q", got, want)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.subs.message() != "" {
		t.Fatalf("subscriptions left: %q", c.subs.message())
	}
}

func TestEventBackPressure(t *testing.T) {
	// With a full channel the reader stops; nothing is dropped.
	f := newFakeFS(t, func(fc *fakeConn) {
		for i := 0; i < 100; i++ {
			fc.event("", "Event-Name", "HEARTBEAT", "N", strconv.Itoa(i))
		}
		fc.serve()
	})
	c := dial(t, f, Options{EventBuffer: 4})
	time.Sleep(100 * time.Millisecond)
	for i := 0; i < 100; i++ {
		ev := <-c.Events()
		if ev.Get("N") != strconv.Itoa(i) {
			t.Fatalf("event %d is %s", i, ev.Get("N"))
		}
	}
}

func TestCloseFromHandler(t *testing.T) {
	f := newFakeFS(t, func(fc *fakeConn) {
		fc.read()
		for i := 0; i < 1000; i++ {
			fc.event("", "Event-Name", "HEARTBEAT", "N", strconv.Itoa(i))
		}
		fc.serve()
	})
	var c *Conn
	var n atomic.Int64
	ready := make(chan struct{})
	c = dial(t, f, Options{Handler: func(ev *Event) {
		<-ready
		if n.Add(1) == 10 {
			c.Close() // must not deadlock on the reader goroutine
		}
	}})
	close(ready)
	c.SendAsync("event plain ALL", nil)
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Close from the Handler did not finish")
	}
	if got := n.Load(); got < 10 || got > 1000 {
		t.Fatalf("%d events", got)
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	f := newFakeFS(t, (*fakeConn).serve)
	time.Sleep(10 * time.Millisecond)
	base := runtime.NumGoroutine()
	for i := 0; i < 3; i++ {
		c, err := Dial(ctx5(t), f.Addr(), Options{Reconnect: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.API(ctx5(t), "status"); err != nil {
			t.Fatal(err)
		}
		j, err := c.BgAPI(ctx5(t), "status")
		if err != nil {
			t.Fatal(err)
		}
		j.Wait(ctx5(t))
		c.Close()
		<-c.Done()
	}
	waitFor(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= base })
}
