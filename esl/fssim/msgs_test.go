package fssim

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// sendmsgExec sends `sendmsg uuid` executing app(arg) with an Event-UUID and
// extra header lines, and returns the Event-UUID.
func (c *rawClient) sendmsgExec(uuid, app, arg, extra string) string {
	c.t.Helper()
	ev := "m" + newUser()
	if extra != "" {
		extra = "\n" + extra
	}
	if r := c.cmd("sendmsg " + uuid + "\ncall-command: execute\nexecute-app-name: " + app + "\nexecute-app-arg: " + arg +
		"\nEvent-UUID: " + ev + extra).get("Reply-Text"); r != "+OK" {
		c.t.Fatalf("sendmsg %s: %q", app, r)
	}
	return ev
}

// appEvent matches an event of the application run with Event-UUID id.
func appEvent(name, id string) func(*rawFrame) bool {
	return func(f *rawFrame) bool { return f.name() == name && f.ev("Application-UUID") == id }
}

// playEvent matches a PLAYBACK_START/STOP of path on uuid.
func playEvent(name, uuid, path string) func(*rawFrame) bool {
	return func(f *rawFrame) bool {
		return f.name() == name && f.ev("Unique-ID") == uuid && f.ev("Playback-File-Path") == path
	}
}

// index returns the position of the first logged event matching pred (-1: none).
func (c *rawClient) index(pred func(*rawFrame) bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, e := range c.evlog {
		if pred(e) {
			return i
		}
	}
	return -1
}

// inOrder checks that the events matching preds were logged in that order.
func (c *rawClient) inOrder(what string, preds ...func(*rawFrame) bool) {
	c.t.Helper()
	last := -1
	for i, p := range preds {
		at := c.index(p)
		if at < 0 || at < last {
			c.t.Errorf("%s: event %d at %d, after %d", what, i, at, last)
			return
		}
		last = at
	}
}

func stamp(f *rawFrame) time.Duration {
	n, _ := strconv.ParseInt(f.ev("Event-Date-Timestamp"), 10, 64)
	return time.Duration(n) * time.Microsecond
}

const endlessTone = "tone_stream://%(300,0,1004);loops=-1"

// TestPlaybackRunsMessagesNested is the review's repro: FreeSWITCH's
// switch_ivr_play_file parses the channel's messages in its frame loop, so a
// set or another playback sent during an endless tone runs at once, nested.
func TestPlaybackRunsMessagesNested(t *testing.T) {
	_, c := loggedIn(t, Config{})
	c.subscribeAll()
	out, _ := c.answeredCall()
	tone := c.sendmsgExec(out, "playback", endlessTone, "")
	c.waitEvent("tone start", playEvent("PLAYBACK_START", out, endlessTone))

	set := c.sendmsgExec(out, "set", "mood=happy", "")
	c.waitEvent("set complete", appEvent("CHANNEL_EXECUTE_COMPLETE", set))
	if v := c.api("uuid_getvar " + out + " mood"); v != "happy" {
		t.Errorf("getvar during the tone: %q", v)
	}
	// the set ran as a message: PRIVATE_COMMAND after it, with its headers
	pc := c.waitEvent("private command", func(f *rawFrame) bool {
		return f.name() == "PRIVATE_COMMAND" && f.ev("Event-UUID") == set
	})
	if pc.ev("Command") != "sendmsg "+out || pc.ev("execute-app-name") != "set" || pc.ev("Unique-ID") != out ||
		pc.ev("Event-Calling-Function") != "switch_ivr_parse_next_event" || pc.ev("variable_mood") != "" {
		t.Errorf("PRIVATE_COMMAND %v", pc.evHdrs)
	}
	if names := headerNames(pc); strings.Join(names[:6], ",") != "Command,call-command,execute-app-name,execute-app-arg,Event-UUID,Event-Name" {
		t.Errorf("PRIVATE_COMMAND header order %v", names)
	}

	// another playback runs nested; the tone goes on after it
	beep := "silence_stream://100"
	nested := c.sendmsgExec(out, "playback", beep, "")
	c.waitEvent("nested complete", appEvent("CHANNEL_EXECUTE_COMPLETE", nested))
	c.inOrder("nested playback", appEvent("CHANNEL_EXECUTE", nested), playEvent("PLAYBACK_START", out, beep),
		playEvent("PLAYBACK_STOP", out, beep), appEvent("CHANNEL_EXECUTE_COMPLETE", nested))
	if s := c.waitEvent("nested stop", playEvent("PLAYBACK_STOP", out, beep)); s.ev("Playback-Status") != "done" {
		t.Errorf("nested status %q", s.ev("Playback-Status"))
	}
	time.Sleep(30 * time.Millisecond)
	if c.index(playEvent("PLAYBACK_STOP", out, endlessTone)) >= 0 || c.index(appEvent("CHANNEL_EXECUTE_COMPLETE", tone)) >= 0 {
		t.Error("the tone stopped after the nested playback")
	}

	// a sendmsg hangup during the tone hangs up at once
	c.cmd("sendmsg " + out + "\ncall-command: hangup\nhangup-cause: USER_BUSY")
	if h := c.waitEvent("hangup", evIs("CHANNEL_HANGUP", out)); h.ev("Hangup-Cause") != "USER_BUSY" {
		t.Errorf("cause %q", h.ev("Hangup-Cause"))
	}
	c.waitEvent("destroy", evIs("CHANNEL_DESTROY", out))
	hupPC := func(f *rawFrame) bool { return f.name() == "PRIVATE_COMMAND" && f.ev("call-command") == "hangup" }
	c.inOrder("hangup message", evIs("CHANNEL_HANGUP", out), hupPC, appEvent("CHANNEL_EXECUTE_COMPLETE", tone),
		evIs("CHANNEL_HANGUP_COMPLETE", out))
}

// TestNestedPlaybackPausesTheOuterOne: the outer file's position does not
// move while a nested one plays, so it ends that much later, after the nested
// one's PLAYBACK_STOP and EXECUTE_COMPLETE; playback_ms is what it played.
func TestNestedPlaybackPausesTheOuterOne(t *testing.T) {
	_, c := loggedIn(t, Config{})
	c.subscribeAll()
	out, _ := c.answeredCall()
	outer, inner := "silence_stream://1000", "silence_stream://300"
	o := c.sendmsgExec(out, "playback", outer, "")
	start := c.waitEvent("outer start", playEvent("PLAYBACK_START", out, outer))
	n := c.sendmsgExec(out, "playback", inner, "")
	stop := c.waitEvent("outer stop", playEvent("PLAYBACK_STOP", out, outer))
	c.waitEvent("outer complete", appEvent("CHANNEL_EXECUTE_COMPLETE", o))
	c.inOrder("nested in a finite playback", playEvent("PLAYBACK_START", out, outer), appEvent("CHANNEL_EXECUTE", n),
		playEvent("PLAYBACK_STOP", out, inner), appEvent("CHANNEL_EXECUTE_COMPLETE", n),
		playEvent("PLAYBACK_STOP", out, outer), appEvent("CHANNEL_EXECUTE_COMPLETE", o))
	if d := stamp(stop) - stamp(start); d < 1300*time.Millisecond {
		t.Errorf("outer playback ended %v after it started, want >= 1.3s", d)
	}
	if stop.ev("Playback-Status") != "done" || stop.ev("variable_playback_ms") != "1000" {
		t.Errorf("outer stop %q playback_ms %q", stop.ev("Playback-Status"), stop.ev("variable_playback_ms"))
	}
}

// TestBreakDuringNestedPlayback: uuid_break while a message plays stops the
// broadcast: the nested playback and the playback it ran in both stop
// (switch_ivr_parse_event sets CF_BREAK again once the message is done); a
// parked leg stays parked.
func TestBreakDuringNestedPlayback(t *testing.T) {
	_, c := loggedIn(t, Config{})
	c.subscribeAll()
	// the outbound leg's own application (originate &playback) plays forever
	user := newUser()
	out, job := c.originate(user, "", "&playback("+endlessTone+")")
	in := c.parkedIn(user)
	c.api("uuid_answer " + in)
	c.jobResult(job)
	c.waitEvent("tone", playEvent("PLAYBACK_START", out, endlessTone))
	n := c.sendmsgExec(out, "playback", "silence_stream://0", "")
	c.waitEvent("nested", playEvent("PLAYBACK_START", out, "silence_stream://0"))
	c.api("uuid_break " + out)
	c.waitEvent("outer stop", playEvent("PLAYBACK_STOP", out, endlessTone))
	c.inOrder("break", playEvent("PLAYBACK_STOP", out, "silence_stream://0"), appEvent("CHANNEL_EXECUTE_COMPLETE", n),
		playEvent("PLAYBACK_STOP", out, endlessTone))
	for _, p := range []string{"silence_stream://0", endlessTone} {
		if s := c.waitEvent("stop", playEvent("PLAYBACK_STOP", out, p)); s.ev("Playback-Status") != "break" {
			t.Errorf("%s: status %q", p, s.ev("Playback-Status"))
		}
	}
	// the extension is done: the leg hangs up
	if h := c.waitEvent("hangup", evIs("CHANNEL_HANGUP", out)); h.ev("Hangup-Cause") != "NORMAL_CLEARING" {
		t.Errorf("cause %q", h.ev("Hangup-Cause"))
	}

	// on a parked leg the park goes on
	out, _ = c.answeredCall()
	c.sendmsgExec(out, "playback", endlessTone, "")
	c.waitEvent("tone", playEvent("PLAYBACK_START", out, endlessTone))
	c.sendmsgExec(out, "playback", "silence_stream://0", "")
	c.waitEvent("nested", playEvent("PLAYBACK_START", out, "silence_stream://0"))
	c.api("uuid_break " + out)
	c.waitEvent("tone stop", playEvent("PLAYBACK_STOP", out, endlessTone))
	set := c.sendmsgExec(out, "set", "still=parked", "")
	c.waitEvent("set", appEvent("CHANNEL_EXECUTE_COMPLETE", set))
	if r := c.api("uuid_exists " + out); r != "true" || c.index(evIs("CHANNEL_UNPARK", out)) >= 0 {
		t.Errorf("parked leg: exists %q, unparked %v", r, c.index(evIs("CHANNEL_UNPARK", out)) >= 0)
	}
}

// TestEventLockAndSleep: a message with event-lock runs alone (the messages
// after it wait until it is done); sleep parses messages and counts wall
// time, nested ones included.
func TestEventLockAndSleep(t *testing.T) {
	_, c := loggedIn(t, Config{})
	c.subscribeAll()
	out, _ := c.answeredCall()
	lock := c.sendmsgExec(out, "playback", "silence_stream://0", "event-lock: true")
	c.waitEvent("locked playback", appEvent("CHANNEL_EXECUTE", lock))
	set := c.sendmsgExec(out, "set", "x=1", "")
	time.Sleep(30 * time.Millisecond)
	if v := c.api("uuid_getvar " + out + " x"); v != "_undef_" {
		t.Errorf("a message ran under event-lock: x=%q", v)
	}
	c.api("uuid_break " + out)
	c.waitEvent("set after the lock", appEvent("CHANNEL_EXECUTE_COMPLETE", set))
	c.inOrder("event-lock", appEvent("CHANNEL_EXECUTE_COMPLETE", lock), appEvent("CHANNEL_EXECUTE", set))

	// sleep 500 with an 800 ms playback nested: the sleep is over when the
	// playback ends
	sl := c.sendmsgExec(out, "sleep", "500", "")
	c.waitEvent("sleep", appEvent("CHANNEL_EXECUTE", sl))
	pb := c.sendmsgExec(out, "playback", "silence_stream://800", "")
	c.waitEvent("sleep complete", appEvent("CHANNEL_EXECUTE_COMPLETE", sl))
	c.inOrder("sleep", appEvent("CHANNEL_EXECUTE", pb), appEvent("CHANNEL_EXECUTE_COMPLETE", pb),
		appEvent("CHANNEL_EXECUTE_COMPLETE", sl))
	if next := c.index(appEvent("CHANNEL_EXECUTE_COMPLETE", pb)) + 1; c.index(appEvent("CHANNEL_EXECUTE_COMPLETE", sl)) > next+1 {
		// the nested message's PRIVATE_COMMAND may come between
		t.Error("the sleep did not end right after the nested playback")
	}
}

// TestBlockingAPIHoldsEvents: a blocking api (originate) runs in the
// connection's own thread, so that connection gets no event until the
// api/response; they come after it, none lost. Other connections get them
// as they happen.
func TestBlockingAPIHoldsEvents(t *testing.T) {
	s, c := loggedIn(t, Config{})
	c.subscribeAll()
	c2 := dialRaw(t, s.Addr())
	c2.login("ClueCon")
	c2.subscribeAll()
	const out = "0c000000-0000-4000-8000-0000000000aa"
	c.send("api originate {origination_uuid=" + out + ",originate_timeout=1}sofia/external/hold@127.0.0.1:5080 &park()")
	// the other connection sees the call ring
	c2.waitEvent("inbound park", func(f *rawFrame) bool {
		return f.name() == "CHANNEL_PARK" && f.ev("Caller-Destination-Number") == "hold"
	})
	c.mu.Lock()
	early := len(c.evlog)
	c.mu.Unlock()
	if early != 0 {
		t.Errorf("%d events during the blocking api", early)
	}
	if f := c.reply(); f.body != "-ERR NO_ANSWER\n" {
		t.Fatalf("api originate %q", f.body)
	}
	c.waitEvent("out destroy", evIs("CHANNEL_DESTROY", out))
	c.mu.Lock()
	var seq []string
	reply := -1
	for i, f := range c.all {
		if f.ctype == "api/response" {
			reply = i
		}
		if f.ev("Unique-ID") == out && (len(seq) == 0 || seq[len(seq)-1] != f.name()) {
			seq = append(seq, f.name())
		}
		if f.name() == "CHANNEL_CREATE" && f.ev("Unique-ID") == out && reply < 0 {
			t.Error("CHANNEL_CREATE before the api/response")
		}
	}
	c.mu.Unlock()
	if got := strings.Join(seq, " "); !strings.HasPrefix(got, "CHANNEL_STATE CHANNEL_CREATE CHANNEL_ORIGINATE") ||
		!strings.Contains(got, "CHANNEL_HANGUP CHANNEL_STATE CHANNEL_CALLSTATE CHANNEL_STATE CHANNEL_HANGUP_COMPLETE CHANNEL_DESTROY") {
		t.Errorf("outbound leg events after the reply: %v", got)
	}
	// an api answered at once changes nothing
	if b := c.api("uuid_exists " + out); b != "false" {
		t.Errorf("uuid_exists %q", b)
	}
}

func TestDTMFPlan(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	type d = dtmfDigit
	tests := []struct {
		spec   string
		want   []dtmfDigit
		lastMs int
		ok     bool
	}{
		// the capture: 2000 samples, 2080 on the wire, 260 ms, 520 ms apart
		{"123", []d{{'1', 2080, ms(260)}, {'2', 2080, ms(780)}, {'3', 2080, ms(1300)}}, 1500, true},
		// @ms sets the length: ms*8 samples
		{"12@200", []d{{'1', 1600, ms(200)}, {'2', 1600, ms(600)}}, 900, true},
		{"1@100", []d{{'1', 800, ms(100)}}, 350, true},
		// not above min/8 (50 ms): the default
		{"1@50", []d{{'1', 2080, ms(260)}}, 500, true},
		{"1@x", []d{{'1', 2080, ms(260)}}, 500, true},
		{"1@51", []d{{'1', 480, ms(60)}}, 301, true},
		// clamped to max_dtmf_duration (192000)
		{"1@30000", []d{{'1', 192000, ms(24000)}}, 24250, true},
		// w/W pause 500 ms / 1 s and count in last_dtmf_duration
		{"1w2", []d{{'1', 2080, ms(260)}, {'w', 0, ms(1020)}, {'2', 2080, ms(1280)}}, 1500, true},
		{"W#", []d{{'W', 0, ms(1000)}, {'#', 2080, ms(1260)}}, 1000, true},
		// '+' separates groups, each with its own @ms
		{"1@100+2", []d{{'1', 800, ms(100)}, {'2', 2080, ms(460)}}, 850, true},
		{"~a*F", []d{{'a', 2080, ms(260)}, {'*', 2080, ms(780)}, {'F', 2080, ms(1300)}}, 1500, true},
		{"xyz", nil, 0, false},
		{"", nil, 0, false},
		{strings.Repeat("1", 100), nil, 0, false},
	}
	s := New(Config{HeartbeatInterval: -1})
	defer s.Close()
	for _, tt := range tests {
		got, last, ok := s.dtmfPlan(tt.spec)
		if ok != tt.ok || last != tt.lastMs || len(got) != len(tt.want) {
			t.Errorf("%q: %v %d %v, want %v %d %v", tt.spec, got, last, ok, tt.want, tt.lastMs, tt.ok)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%q #%d: %+v, want %+v", tt.spec, i, got[i], tt.want[i])
			}
		}
	}
}

// TestDTMFDurations: uuid_send_dtmf and the send_dtmf application honour
// @ms; fsctl changes the default; the peer reports the wire length.
func TestDTMFDurations(t *testing.T) {
	_, c := loggedIn(t, Config{DTMFDuration: 13 * time.Millisecond})
	c.subscribeAll()
	out, in := c.answeredCall()
	dtmfOn := func(u string, n int) []*rawFrame {
		c.t.Helper()
		var evs []*rawFrame
		c.waitFor(strconv.Itoa(n)+" DTMF", 5*time.Second, func() bool {
			evs = evs[:0]
			for _, e := range c.evlog {
				if e.name() == "DTMF" && e.ev("Unique-ID") == u {
					evs = append(evs, e)
				}
			}
			return len(evs) >= n
		})
		return evs
	}
	if b := c.api("uuid_send_dtmf " + out + " 12@200"); b != "+OK "+out+" sent DTMF 12@200.\n" {
		t.Errorf("uuid_send_dtmf %q", b)
	}
	for _, e := range dtmfOn(in, 2) {
		if e.ev("DTMF-Duration") != "1600" {
			t.Errorf("DTMF-Duration %q, want 1600", e.ev("DTMF-Duration"))
		}
	}
	if v := c.api("uuid_getvar " + out + " last_dtmf_duration"); v != "900" {
		t.Errorf("last_dtmf_duration %q", v)
	}
	if b := c.api("uuid_send_dtmf " + out + " xyz"); b != "-ERR Operation failed\n" {
		t.Errorf("no digits: %q", b)
	}
	if b := c.api("uuid_send_dtmf " + out); b != "-USAGE: <uuid> <dtmf_data>\n" {
		t.Errorf("usage: %q", b)
	}
	c.execApp(in, "send_dtmf", "7@100")
	if e := dtmfOn(out, 1)[0]; e.ev("DTMF-Digit") != "7" || e.ev("DTMF-Duration") != "800" {
		t.Errorf("send_dtmf app: %q %q", e.ev("DTMF-Digit"), e.ev("DTMF-Duration"))
	}
	for _, tt := range [][2]string{
		{"fsctl min_dtmf_duration", "+OK min dtmf duration: 400\n"},
		{"fsctl max_dtmf_duration", "+OK max dtmf duration: 192000\n"},
		{"fsctl default_dtmf_duration 100", "+OK default dtmf duration: 400\n"},
		{"fsctl default_dtmf_duration 960", "+OK default dtmf duration: 960\n"},
	} {
		if b := c.api(tt[0]); b != tt[1] {
			t.Errorf("%s: %q, want %q", tt[0], b, tt[1])
		}
	}
	c.api("uuid_send_dtmf " + out + " 9")
	if e := dtmfOn(in, 3)[2]; e.ev("DTMF-Duration") != "960" {
		t.Errorf("after default_dtmf_duration 960: %q", e.ev("DTMF-Duration"))
	}
}

// TestSendevent: sendevent fires the client's event to the listeners that
// subscribed to it, as mod_event_socket does: its headers in order, an
// Event-UUID (also in the reply), Event-Subclass after it, the prep block,
// the body.
func TestSendevent(t *testing.T) {
	s, c := loggedIn(t, Config{})
	if r := c.cmd("event plain CUSTOM x::y").get("Reply-Text"); r != "+OK event listener enabled plain" {
		t.Fatal(r)
	}
	other := dialRaw(t, s.Addr())
	other.login("ClueCon")
	other.cmd("event plain BACKGROUND_JOB CUSTOM other::z")
	sender := dialRaw(t, s.Addr())
	sender.login("ClueCon")

	body := "hello\nworld"
	f := sender.cmd("sendevent CUSTOM\nEvent-Subclass: x::y\nFoo: bar baz\nContent-Type: text/plain\nContent-Length: " +
		strconv.Itoa(len(body)) + "\n\n" + body)
	reply := f.get("Reply-Text")
	if !strings.HasPrefix(reply, "+OK ") || len(reply) != 40 {
		t.Fatalf("sendevent reply %q", reply)
	}
	e := c.waitEvent("custom", evIs("CUSTOM", ""))
	if e.ev("Event-Subclass") != "x::y" || e.ev("Foo") != "bar baz" || e.ev("Event-UUID") != reply[4:] ||
		e.ev("Command") != "sendevent CUSTOM" || e.evBody != body || e.ev("Event-Calling-File") != "mod_event_socket.c" {
		t.Errorf("event %v body %q", e.evHdrs, e.evBody)
	}
	want := "Command,Foo,Content-Type,Content-Length,Event-UUID,Event-Subclass,Event-Name,Core-UUID"
	if names := headerNames(e); strings.Join(names[:8], ",") != want {
		t.Errorf("header order %v", names)
	}
	// not subscribed to x::y: nothing (a bgapi's job is the sync point)
	other.cmd("bgapi status\nJob-UUID: j-other")
	other.jobResult("j-other")
	if other.index(evIs("CUSTOM", "")) >= 0 {
		t.Error("a CUSTOM event to a listener of another subclass")
	}
	// the other subclass reaches it; an unknown name is a CLONE event
	sender.cmd("sendevent CUSTOM\nEvent-Subclass: other::z")
	other.waitEvent("other::z", func(f *rawFrame) bool { return f.ev("Event-Subclass") == "other::z" })
	c.cmd("event plain ALL")
	sender.cmd("sendevent NO_SUCH_EVENT\nX-Mark: 1")
	if e := c.waitEvent("clone", func(f *rawFrame) bool { return f.ev("X-Mark") == "1" }); e.name() != "CLONE" {
		t.Errorf("unknown event name: %q", e.name())
	}
	sender.cmd("sendevent NOTIFY\nX-Mark: 2")
	if e := c.waitEvent("notify", func(f *rawFrame) bool { return f.ev("X-Mark") == "2" }); e.name() != "NOTIFY" {
		t.Errorf("NOTIFY: %q", e.name())
	}

	// a Unique-ID of a parked channel: the channel fires it, with its data
	// and without the prep block (nobody prepares it)
	out, _ := c.answeredCall()
	sender.cmd("sendevent CUSTOM\nEvent-Subclass: x::y\nUnique-ID: " + out + "\nX-Mark: 3")
	e = c.waitEvent("session event", func(f *rawFrame) bool { return f.ev("X-Mark") == "3" })
	if e.ev("Event-Name") != "" || e.ev("Channel-State") != "CS_EXECUTE" || e.ev("variable_uuid") != out {
		t.Errorf("event through a parked channel: %v", e.evHdrs)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg Config
		bad string // "" valid, else a part of the error
	}{
		{Config{}, ""},
		{DefaultConfig(), ""},
		{Config{FailCause: "USER_BUSY", FailRate: 0.5}, ""},
		{Config{FailCause: "user_busy"}, ""},
		{Config{FailCause: "BUSY"}, `FailCause "BUSY"`},
		{Config{FailCause: "17"}, ""},
		{Config{FailCause: "4"}, `FailCause "4"`},
		{Config{FailRate: 1.5}, "FailRate"},
		{Config{SessionsPerSecond: -1}, "SessionsPerSecond"},
		{Config{AnswerDelay: -time.Second}, "AnswerDelay"},
		{Config{HeartbeatInterval: -1}, ""},
		{Config{ExternalPort: 70000}, "ExternalPort"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		switch {
		case tt.bad == "" && err != nil:
			t.Errorf("%+v: %v", tt.cfg, err)
		case tt.bad != "" && (err == nil || !strings.Contains(err.Error(), tt.bad)):
			t.Errorf("%+v: %v, want an error about %s", tt.cfg, err, tt.bad)
		}
	}
	s := New(Config{FailCause: "17", HeartbeatInterval: -1})
	defer s.Close()
	if s.Config().FailCause != "USER_BUSY" {
		t.Errorf("FailCause %q", s.Config().FailCause)
	}
	s.SetFailure(1, "NOPE")
	s.mu.Lock()
	cause := s.failCause
	s.mu.Unlock()
	if cause != "USER_BUSY" {
		t.Errorf("SetFailure with a bad cause: %q", cause)
	}
}

// TestMessagesOutsideExecute: FreeSWITCH's state machine parses a channel's
// messages in whatever state it idles in, so a ringing outbound leg
// (CS_CONSUME_MEDIA) and a uuid_bridge'd leg (CS_EXCHANGE_MEDIA) run them.
func TestMessagesOutsideExecute(t *testing.T) {
	_, c := loggedIn(t, Config{})
	c.subscribeAll()
	user := newUser()
	out, job := c.originate(user, "", "")
	in := c.parkedIn(user)
	set := c.sendmsgExec(out, "set", "ringing=yes", "")
	c.waitEvent("set while ringing", appEvent("CHANNEL_EXECUTE_COMPLETE", set))
	if v := c.api("uuid_getvar " + out + " ringing"); v != "yes" {
		t.Errorf("getvar %q", v)
	}
	c.api("uuid_answer " + in)
	c.jobResult(job)
	c.waitEvent("outbound park", evIs("CHANNEL_PARK", out))

	b, _ := c.answeredCall()
	c.api("uuid_bridge " + out + " " + b)
	c.waitEvent("bridge", evIs("CHANNEL_BRIDGE", out))
	pb := c.sendmsgExec(b, "playback", "silence_stream://20", "")
	c.waitEvent("playback on a bridged leg", appEvent("CHANNEL_EXECUTE_COMPLETE", pb))
	c.cmd("sendmsg " + b + "\ncall-command: hangup")
	c.waitEvent("hangup", evIs("CHANNEL_HANGUP", b))
}

// TestPlaybackTerminators: a DTMF of playback_terminators (default "*")
// ends a playback, as mod_dptools' on_dtmf does.
func TestPlaybackTerminators(t *testing.T) {
	_, c := loggedIn(t, Config{DTMFDuration: 5 * time.Millisecond})
	c.subscribeAll()
	out, in := c.answeredCall()
	c.sendmsgExec(in, "playback", endlessTone, "")
	c.waitEvent("tone", playEvent("PLAYBACK_START", in, endlessTone))
	c.api("uuid_send_dtmf " + out + " 1")
	c.waitEvent("digit 1", func(f *rawFrame) bool { return f.name() == "DTMF" && f.ev("DTMF-Digit") == "1" })
	if c.index(playEvent("PLAYBACK_STOP", in, endlessTone)) >= 0 {
		t.Error("1 ended the playback")
	}
	c.api("uuid_send_dtmf " + out + " *")
	if s := c.waitEvent("stop", playEvent("PLAYBACK_STOP", in, endlessTone)); s.ev("Playback-Status") != "break" ||
		s.ev("variable_playback_terminator_used") != "*" {
		t.Errorf("stop %q terminator %q", s.ev("Playback-Status"), s.ev("variable_playback_terminator_used"))
	}
	c.execApp(in, "set", "playback_terminators=none")
	tone := c.sendmsgExec(in, "playback", "silence_stream://0", "")
	c.waitEvent("silence", appEvent("CHANNEL_EXECUTE", tone))
	c.api("uuid_send_dtmf " + out + " *")
	c.waitFor("second *", 5*time.Second, func() bool {
		n := 0
		for _, e := range c.evlog {
			if e.name() == "DTMF" && e.ev("DTMF-Digit") == "*" {
				n++
			}
		}
		return n == 2
	})
	if c.index(appEvent("CHANNEL_EXECUTE_COMPLETE", tone)) >= 0 {
		t.Error("playback_terminators=none: * ended the playback")
	}
}

// TestEndlessPlayback: endless_playback plays its file again after its end
// and after uuid_break (mod_dptools.c loops while the channel is up); the
// hangup ends it.
func TestEndlessPlayback(t *testing.T) {
	_, c := loggedIn(t, Config{})
	c.subscribeAll()
	out, _ := c.answeredCall()
	file := "silence_stream://60"
	count := func(name string) int {
		n := 0
		for _, e := range c.evlog {
			if playEvent(name, out, file)(e) {
				n++
			}
		}
		return n
	}
	ep := c.sendmsgExec(out, "endless_playback", file, "")
	c.waitFor("3 runs", 5*time.Second, func() bool { return count("PLAYBACK_START") >= 3 })
	c.api("uuid_break " + out)
	c.waitFor("a broken run", 5*time.Second, func() bool {
		for _, e := range c.evlog {
			if playEvent("PLAYBACK_STOP", out, file)(e) && e.ev("Playback-Status") == "break" {
				return true
			}
		}
		return false
	})
	c.mu.Lock()
	n := count("PLAYBACK_START")
	c.mu.Unlock()
	c.waitFor("a run after the break", 5*time.Second, func() bool { return count("PLAYBACK_START") > n })
	if c.index(appEvent("CHANNEL_EXECUTE_COMPLETE", ep)) >= 0 {
		t.Error("endless_playback ended")
	}
	c.api("uuid_kill " + out)
	if e := c.waitEvent("complete", appEvent("CHANNEL_EXECUTE_COMPLETE", ep)); e.ev("Application-Response") != "PLAYBACK ERROR" {
		t.Errorf("response %q", e.ev("Application-Response"))
	}
}
