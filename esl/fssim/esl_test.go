package fssim

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func TestCommandRepliesBeforeAuth(t *testing.T) {
	_, addr := startSim(t, Config{})
	c := dialRaw(t, addr)
	c.reply() // auth/request
	if r := c.cmd("api status").get("Reply-Text"); r != "-ERR command not found" {
		t.Errorf("api before auth: %q", r)
	}
	// CRLF line ends are accepted
	c.send("auth ClueCon\r")
	if r := c.reply().get("Reply-Text"); r != "+OK accepted" {
		t.Errorf("auth with CRLF: %q", r)
	}
	if b := c.api("version"); !strings.HasPrefix(b, "FreeSWITCH Version 1.11.3-dev") {
		t.Errorf("version %q", b)
	}
}

func TestUserauthAndPassword(t *testing.T) {
	s, addr := startSim(t, Config{Password: "secret"})
	c := dialRaw(t, addr)
	c.reply()
	if f := c.cmd("userauth admin@default:secret"); f.get("Reply-Text") != "+OK accepted" {
		t.Errorf("userauth: %q", f.raw)
	}
	s.SetPassword("other")
	c2 := dialRaw(t, addr)
	c2.reply()
	if r := c2.cmd("auth secret").get("Reply-Text"); r != "-ERR invalid" {
		t.Errorf("old password: %q", r)
	}
	if !c2.closed(5 * time.Second) {
		t.Error("not closed after bad auth")
	}
	c3 := dialRaw(t, addr)
	c3.login("other")
}

func TestCommandReplies(t *testing.T) {
	_, c := loggedIn(t, Config{})
	tests := []struct{ cmd, want string }{
		{"event plain NOSUCH", "-ERR no keywords supplied"},
		{"event plain", "-ERR no keywords supplied"},
		{"noevents", "-ERR not listening for events"},
		{"event plain CHANNEL_CREATE SWITCH_EVENT_CHANNEL_DESTROY", "+OK event listener enabled plain"},
		{"event plain CUSTOM sofia::register conference::maintenance", "+OK event listener enabled plain"},
		{"nixevent CHANNEL_CREATE", "+OK events nixed"},
		{"nixevent", "-ERR no keywords supplied"},
		{"noevents", "+OK no longer listening for events"},
		{"filter Unique-ID", "-ERR invalid syntax"},
		{"filter Unique-ID abc", "+OK filter added. [Unique-ID]=[abc]"},
		{"filter add Event-Name CHANNEL_PARK", "+OK filter added. [Event-Name]=[CHANNEL_PARK]"},
		{"filter delete Unique-ID abc", "+OK filter deleted. [Unique-ID][abc]"},
		{"filter delete Event-Name", "+OK filter deleted. [Event-Name][]"},
		{"filter delete all", "+OK filter deleted. [all][]"},
		{"log info", "+OK log level info [6]"},
		{"log", "+OK log level  [7]"},
		{"log bogus", "-ERR invalid log level"},
		{"nolog", "+OK no longer logging"},
		{"nolog", "-ERR not loging"},
		{"linger", "-ERR not controlling a session"},
		{"sendmsg 00000000-0000-0000-0000-000000000000\ncall-command: execute\nexecute-app-name: park",
			"-ERR invalid session id [00000000-0000-0000-0000-000000000000]"},
		{"frobnicate", "-ERR command not found"},
		{"myevents 00000000-0000-0000-0000-000000000000", "+OK Events Enabled"},
		{"myevents 00000000-0000-0000-0000-000000000000", "-ERR aready enabled."},
	}
	for _, tt := range tests {
		if got := c.cmd(tt.cmd).get("Reply-Text"); got != tt.want {
			t.Errorf("%q: got %q, want %q", tt.cmd, got, tt.want)
		}
	}
}

func TestExitSendsByeAndNotice(t *testing.T) {
	_, c := loggedIn(t, Config{})
	f := c.cmd("exit")
	if string(f.raw) != "Content-Type: command/reply\nReply-Text: +OK bye\n\n" {
		t.Errorf("exit reply %q", f.raw)
	}
	n := c.reply()
	if string(n.raw) != "Content-Type: text/disconnect-notice\nContent-Length: 67\n\n"+goodbye {
		t.Errorf("notice %q", n.raw)
	}
	if !c.closed(5 * time.Second) {
		t.Error("not closed")
	}
}

func TestBgapiReplyAndJob(t *testing.T) {
	_, c := loggedIn(t, Config{})
	c.cmd("event plain BACKGROUND_JOB")
	f := c.cmd("bgapi status")
	job := f.get("Job-UUID")
	if job == "" || f.get("Reply-Text") != "+OK Job-UUID: "+job {
		t.Fatalf("bgapi without Job-UUID: %q", f.raw)
	}
	body := c.jobResult(job)
	if !strings.HasPrefix(body, "UP ") {
		t.Errorf("job body %q", body)
	}
	ev := c.waitEvent("job", evIs("BACKGROUND_JOB", ""))
	if ev.ev("Job-Command") != "status" || ev.ev("Job-Command-Arg") != "" {
		t.Errorf("Job-Command %q arg %q", ev.ev("Job-Command"), ev.ev("Job-Command-Arg"))
	}
	// an own Job-UUID header, in any case, with CRLF
	c.send("bgapi version\r\njob-uuid: 11111111-2222-4333-8444-555555555555\r")
	if r := c.reply().get("Job-UUID"); r != "11111111-2222-4333-8444-555555555555" {
		t.Errorf("own job uuid: %q", r)
	}
	if b := c.jobResult("11111111-2222-4333-8444-555555555555"); !strings.HasPrefix(b, "FreeSWITCH Version") {
		t.Errorf("job body %q", b)
	}
}

// TestEventFraming checks the frame of an event: Content-Length first, a
// body exactly that long, url-encoded values, an increasing Event-Sequence
// and a microsecond timestamp.
func TestEventFraming(t *testing.T) {
	_, c := loggedIn(t, Config{})
	c.subscribeAll()
	out, _ := c.answeredCall()
	c.mu.Lock()
	evs := append([]*rawFrame(nil), c.evlog...)
	c.mu.Unlock()
	var last int
	for _, e := range evs {
		if !strings.HasPrefix(string(e.raw), "Content-Length: ") || e.hdrs[1].name != "Content-Type" {
			t.Fatalf("frame headers %q", e.raw[:60])
		}
		seq := atoi(e.ev("Event-Sequence"))
		if seq <= last {
			t.Errorf("Event-Sequence %d after %d", seq, last)
		}
		last = seq
		ts := e.ev("Event-Date-Timestamp")
		if len(ts) != 16 || atoi(ts) == 0 {
			t.Errorf("Event-Date-Timestamp %q", ts)
		}
	}
	create := c.waitEvent("create", evIs("CHANNEL_CREATE", out))
	if !strings.Contains(create.body, "Channel-Name: sofia/external/"+create.ev("Caller-Destination-Number")+"%40127.0.0.1%3A5080\n") {
		t.Errorf("Channel-Name not url-encoded:\n%s", create.body)
	}
	if !strings.Contains(create.body, "Event-Date-GMT: ") || !strings.Contains(create.body, "%20GMT\n") {
		t.Error("Event-Date-GMT")
	}
}

func atoi(s string) int {
	n := 0
	for _, ch := range s {
		if ch < '0' || ch > '9' {
			return 0
		}
		n = n*10 + int(ch-'0')
	}
	return n
}

func TestSubscriptionsAndFilters(t *testing.T) {
	_, c := loggedIn(t, Config{})
	c.cmd("event plain CHANNEL_PARK BACKGROUND_JOB")
	out, _ := c.answeredCall()
	for _, e := range c.eventsOf(out) {
		if e != "CHANNEL_PARK" {
			t.Errorf("unsubscribed event %s", e)
		}
	}
	// nixevent stops an event
	c.cmd("nixevent CHANNEL_PARK")
	user := newUser()
	c.originate(user, "", "")
	time.Sleep(50 * time.Millisecond)
	c.mu.Lock()
	for _, e := range c.events {
		if e.name() == "CHANNEL_PARK" && e.ev("Caller-Destination-Number") == user {
			t.Error("CHANNEL_PARK after nixevent")
		}
	}
	c.mu.Unlock()

	// a positive filter: only matching events
	_, c2 := loggedIn(t, Config{})
	c2.subscribeAll()
	c2.cmd("filter Call-Direction inbound")
	c2.cmd("filter Event-Name BACKGROUND_JOB")
	u2 := newUser()
	o2, j2 := c2.originate(u2, "", "")
	i2 := c2.parkedIn(u2)
	c2.api("uuid_answer " + i2)
	c2.jobResult(j2)
	c2.api("uuid_kill " + o2)
	c2.waitEvent("inbound destroy", evIs("CHANNEL_DESTROY", i2))
	if evs := c2.eventsOf(o2); len(evs) > 0 {
		t.Errorf("outbound events through an inbound filter: %v", evs)
	}
	// a regex filter, then a negative one; a second connection drives the call
	c2.cmd("filter delete all")
	c2.cmd("filter Event-Name /^CHANNEL_(PARK|ANSWER)$/")
	c2.cmd("filter Call-Direction -inbound")
	driver := dialRaw(t, c2.nc.RemoteAddr().String())
	driver.login("ClueCon")
	driver.subscribeAll()
	o3, i3 := driver.answeredCall()
	c2.waitEvent("outbound park", evIs("CHANNEL_PARK", o3))
	if evs := c2.eventsOf(i3); len(evs) > 0 {
		t.Errorf("inbound events through a negative filter: %v", evs)
	}
	if evs := c2.eventsOf(o3); strings.Join(evs, " ") != "CHANNEL_ANSWER CHANNEL_PARK" {
		t.Errorf("regex filter: %v", evs)
	}
}

func TestMyEvents(t *testing.T) {
	_, c := loggedIn(t, Config{})
	c.cmd("event plain BACKGROUND_JOB CHANNEL_PARK")
	user := newUser()
	out, _ := c.originate(user, "", "")
	in := c.parkedIn(user)

	_, _ = out, in
	c2 := dialRaw(t, c.nc.RemoteAddr().String())
	c2.login("ClueCon")
	if r := c2.cmd("myevents " + in).get("Reply-Text"); r != "+OK Events Enabled" {
		t.Fatal(r)
	}
	c.api("uuid_answer " + in)
	c.api("uuid_kill " + out)
	c2.waitEvent("inbound destroy", evIs("CHANNEL_DESTROY", in))
	if evs := c2.eventsOf(out); len(evs) > 0 {
		t.Errorf("myevents got another channel's events: %v", evs)
	}
}

func TestHeartbeat(t *testing.T) {
	_, c := loggedIn(t, Config{HeartbeatInterval: 30 * time.Millisecond})
	c.cmd("event plain HEARTBEAT")
	hb := c.waitEvent("heartbeat", evIs("HEARTBEAT", ""))
	if hb.ev("Event-Info") != "System Ready" || !strings.HasPrefix(hb.ev("Up-Time"), "0 years, 0 days") ||
		hb.ev("Max-Sessions") != "1000" {
		t.Errorf("heartbeat %v", hb.evHdrs)
	}
}

// TestSlowClientIsKilled: a listener that does not read loses events once
// its queue is full and is killed with FreeSWITCH's notice after 500 lost,
// while the simulator and other connections go on.
func TestSlowClientIsKilled(t *testing.T) {
	s, addr := startSim(t, Config{MaxQueuedEvents: 20, SessionsPerSecond: 1000000, MaxSessions: 1000000, AutoAnswer: true})
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.(*net.TCPConn).SetReadBuffer(4096)
	if _, err := io.WriteString(nc, "auth ClueCon\n\nevent plain ALL\n\n"); err != nil {
		t.Fatal(err)
	}
	driver := dialRaw(t, addr)
	driver.login("ClueCon")
	deadline := time.Now().Add(15 * time.Second)
	for s.Stats().Connections > 1 && time.Now().Before(deadline) {
		for i := 0; i < 20; i++ {
			driver.api("originate sofia/external/slow@127.0.0.1:5080 &park()")
		}
		driver.api("hupall")
	}
	if s.Stats().EventsLost <= maxMissed {
		t.Errorf("lost %d events", s.Stats().EventsLost)
	}
	// the slow connection is gone; the driver still works
	if n := s.Stats().Connections; n != 1 {
		t.Errorf("%d connections (%+v)", n, s.Stats())
	}
	if b := driver.api("status"); !strings.HasPrefix(b, "UP") {
		t.Error(b)
	}
}
