package fssim

import (
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func execOf(uuid, app string) func(*rawFrame) bool {
	return func(f *rawFrame) bool {
		return f.name() == "CHANNEL_EXECUTE" && f.ev("Unique-ID") == uuid && f.ev("Application") == app
	}
}

func completeOf(uuid, app string) func(*rawFrame) bool {
	return func(f *rawFrame) bool {
		return f.name() == "CHANNEL_EXECUTE_COMPLETE" && f.ev("Unique-ID") == uuid && f.ev("Application") == app
	}
}

func TestOriginateApplications(t *testing.T) {
	_, c := loggedIn(t, Config{FileDuration: 50 * time.Millisecond})
	c.subscribeAll()
	// &echo(): the outbound leg echoes until hung up
	user := newUser()
	out, job := c.originate(user, "", "&echo()")
	in := c.parkedIn(user)
	c.api("uuid_answer " + in)
	c.jobResult(job)
	c.waitEvent("echo", execOf(out, "echo"))
	c.api("uuid_kill " + out)
	c.waitEvent("in destroy", evIs("CHANNEL_DESTROY", in))
	if evs := c.eventsOf(out); strings.Join(evs, " ") != "CHANNEL_STATE CHANNEL_CREATE CHANNEL_ORIGINATE CHANNEL_STATE CHANNEL_STATE "+
		"CHANNEL_ANSWER CHANNEL_CALLSTATE CHANNEL_STATE CHANNEL_EXECUTE CHANNEL_HANGUP CHANNEL_EXECUTE_COMPLETE "+
		"CHANNEL_STATE CHANNEL_CALLSTATE CHANNEL_STATE CHANNEL_HANGUP_COMPLETE CHANNEL_DESTROY CHANNEL_STATE" {
		t.Errorf("echo call: %v", evs)
	}

	// &playback(file): the extension ends after the file and the leg hangs up
	user = newUser()
	out, job = c.originate(user, "", "&playback(/tmp/hello.wav)")
	in = c.parkedIn(user)
	c.api("uuid_answer " + in)
	c.jobResult(job)
	stop := c.waitEvent("stop", evIs("PLAYBACK_STOP", out))
	if stop.ev("Playback-Status") != "done" || stop.ev("Playback-File-Type") != "" {
		t.Errorf("file playback stop: %v", stop.evHdrs[len(stop.evHdrs)-3:])
	}
	h := c.waitEvent("hangup", evIs("CHANNEL_HANGUP", out))
	if h.ev("Hangup-Cause") != "NORMAL_CLEARING" {
		t.Errorf("cause %q", h.ev("Hangup-Cause"))
	}
	c.waitEvent("in destroy", evIs("CHANNEL_DESTROY", in))

	// an unknown application hangs up with DESTINATION_OUT_OF_ORDER
	user = newUser()
	out, job = c.originate(user, "", "&nosuchapp()")
	in = c.parkedIn(user)
	c.api("uuid_answer " + in)
	h = c.waitEvent("hangup", evIs("CHANNEL_HANGUP", out))
	if h.ev("Hangup-Cause") != "DESTINATION_OUT_OF_ORDER" {
		t.Errorf("unknown app cause %q", h.ev("Hangup-Cause"))
	}
}

func TestOriginateFailuresBeforeAnswer(t *testing.T) {
	_, c := loggedIn(t, Config{})
	c.subscribeAll()
	// the inbound leg rejected with USER_BUSY: 486, the originate fails USER_BUSY
	user := newUser()
	out, job := c.originate(user, "", "")
	in := c.parkedIn(user)
	c.api("uuid_kill " + in + " USER_BUSY")
	if r := c.jobResult(job); r != "-ERR USER_BUSY\n" {
		t.Errorf("job %q", r)
	}
	if h := c.waitEvent("out hangup", evIs("CHANNEL_HANGUP", out)); h.ev("Hangup-Cause") != "USER_BUSY" {
		t.Errorf("outbound cause %q", h.ev("Hangup-Cause"))
	}
	hc := c.waitEvent("in complete", evIs("CHANNEL_HANGUP_COMPLETE", in))
	if hc.ev("variable_sip_hangup_disposition") != "send_refuse" {
		t.Errorf("disposition %q", hc.ev("variable_sip_hangup_disposition"))
	}

	// respond 603 on the parked leg
	user = newUser()
	out, job = c.originate(user, "", "")
	in = c.parkedIn(user)
	c.send("sendmsg " + in + "\ncall-command: execute\nexecute-app-name: respond\nexecute-app-arg: 603 Decline")
	c.reply()
	if r := c.jobResult(job); r != "-ERR CALL_REJECTED\n" {
		t.Errorf("respond 603 job %q", r)
	}

	// originate_timeout: NO_ANSWER, the parked leg is cancelled
	user = newUser()
	out, job = c.originate(user, "originate_timeout=1", "")
	in = c.parkedIn(user)
	if r := c.jobResult(job); r != "-ERR NO_ANSWER\n" {
		t.Errorf("timeout job %q", r)
	}
	if h := c.waitEvent("in hangup", evIs("CHANNEL_HANGUP", in)); h.ev("Hangup-Cause") != "ORIGINATOR_CANCEL" {
		t.Errorf("cancelled leg cause %q", h.ev("Hangup-Cause"))
	}

	// the outbound leg killed while ringing: the job fails with its cause
	user = newUser()
	out, job = c.originate(user, "", "")
	in = c.parkedIn(user)
	c.api("uuid_kill " + out)
	if r := c.jobResult(job); r != "-ERR NORMAL_CLEARING\n" {
		t.Errorf("job %q", r)
	}
	c.waitEvent("in destroy", evIs("CHANNEL_DESTROY", in))
}

func TestAPIOriginateBlocksUntilAnswer(t *testing.T) {
	s, c := loggedIn(t, Config{})
	c2 := dialRaw(t, s.Addr())
	c2.login("ClueCon")
	c2.cmd("event plain CHANNEL_PARK")
	c.send("api originate {origination_uuid=0c000000-0000-4000-8000-000000000001}sofia/external/blk@127.0.0.1:5080 &park()")
	park := c2.waitEvent("park", func(f *rawFrame) bool { return f.ev("Call-Direction") == "inbound" })
	select {
	case <-time.After(20 * time.Millisecond):
	}
	c.mu.Lock()
	early := len(c.replies)
	c.mu.Unlock()
	if early != 0 {
		t.Fatal("api originate answered before the call was")
	}
	c2.api("uuid_answer " + park.ev("Unique-ID"))
	if f := c.reply(); f.body != "+OK 0c000000-0000-4000-8000-000000000001\n" {
		t.Errorf("api originate %q", f.body)
	}
}

func TestSendmsgForms(t *testing.T) {
	_, c := loggedIn(t, Config{})
	c.subscribeAll()
	out, _ := c.answeredCall()
	// CRLF, upper-case header names, the argument in a text/plain body, an Event-UUID
	body := "tone_stream://%(20,0,350)"
	c.send("sendmsg " + out + "\r\nCall-Command: execute\r\nExecute-App-Name: playback\r\nEvent-UUID: e1\r\n" +
		"event-lock: true\r\nContent-Type: text/plain\r\nContent-Length: " + itoa(len(body)) + "\r\n\r\n" + body)
	if r := c.reply().get("Reply-Text"); r != "+OK" {
		t.Fatalf("sendmsg %q", r)
	}
	ex := c.waitEvent("execute", execOf(out, "playback"))
	if ex.ev("Application-Data") != body || ex.ev("Application-UUID") != "e1" {
		t.Errorf("execute data %q uuid %q", ex.ev("Application-Data"), ex.ev("Application-UUID"))
	}
	done := c.waitEvent("complete", completeOf(out, "playback"))
	if done.ev("Application-UUID") != "e1" || done.ev("variable_current_loop") != "1" {
		t.Errorf("complete %q %q", done.ev("Application-UUID"), done.ev("variable_current_loop"))
	}

	// loops: a run of at least half a second repeats
	c.cmd("sendmsg " + out + "\ncall-command: execute\nexecute-app-name: playback\nexecute-app-arg: silence_stream://510\nloops: 2\nEvent-UUID: e2")
	c.waitFor("two loops", 5*time.Second, func() bool {
		n := 0
		for _, e := range c.evlog {
			if e.name() == "CHANNEL_EXECUTE_COMPLETE" && e.ev("Application-UUID") == "e2" {
				n++
			}
		}
		return n == 2
	})
	// set, then a sendmsg hangup with a cause
	c.cmd("sendmsg " + out + "\ncall-command: execute\nexecute-app-name: set\nexecute-app-arg: mood=happy")
	c.waitEvent("set", completeOf(out, "set"))
	if b := c.api("uuid_getvar " + out + " mood"); b != "happy" {
		t.Errorf("set: %q", b)
	}
	c.cmd("sendmsg " + out + "\ncall-command: hangup\nhangup-cause: CALL_REJECTED")
	if h := c.waitEvent("hangup", evIs("CHANNEL_HANGUP", out)); h.ev("Hangup-Cause") != "CALL_REJECTED" {
		t.Errorf("cause %q", h.ev("Hangup-Cause"))
	}
}

func itoa(n int) string { return uintStr(uint64(n)) }

func TestPlaybackLengths(t *testing.T) {
	tests := []struct {
		arg  string
		dur  time.Duration
		kind string
	}{
		{"tone_stream://%(300,0,1004)", 300 * time.Millisecond, "tone_stream"},
		{"tone_stream://%(100,200,350,440);loops=3", 900 * time.Millisecond, "tone_stream"},
		{"tone_stream://L=2;%(100,100,350)", 400 * time.Millisecond, "tone_stream"},
		{"{loops=-1}tone_stream://%(251,0,1004)", 0, "tone_stream"},
		{"tone_stream://%(251,0,1004);loops=-1", 0, "tone_stream"},
		{"silence_stream://250", 250 * time.Millisecond, ""},
		{"silence_stream://0", 0, ""},
		{"silence_stream://-1", 0, ""},
		{"local_stream://moh", 0, "local_stream"},
		{"/sounds/hello.wav", time.Second, ""},
		{"/sounds/hello.wav@@8000", time.Second, ""},
	}
	for _, tt := range tests {
		p := parsePlayFile(tt.arg, time.Second)
		if p.dur != tt.dur || p.ftype != tt.kind {
			t.Errorf("%s: %v %q, want %v %q", tt.arg, p.dur, p.ftype, tt.dur, tt.kind)
		}
	}
	// a silence_stream://0 plays until broken; {params} become event headers
	_, c := loggedIn(t, Config{})
	c.subscribeAll()
	out, _ := c.answeredCall()
	c.cmd("sendmsg " + out + "\ncall-command: execute\nexecute-app-name: playback\nexecute-app-arg: {loops=-1}silence_stream://0")
	start := c.waitEvent("start", evIs("PLAYBACK_START", out))
	if start.ev("loops") != "-1" || start.ev("Playback-File-Path") != "silence_stream://0" {
		t.Errorf("start headers %v", start.evHdrs[len(start.evHdrs)-3:])
	}
	c.api("uuid_break " + out + " all")
	if s := c.waitEvent("stop", evIs("PLAYBACK_STOP", out)); s.ev("Playback-Status") != "break" {
		t.Errorf("status %q", s.ev("Playback-Status"))
	}
}

func TestDTMFDigitsDialed(t *testing.T) {
	_, c := loggedIn(t, Config{DTMFDuration: 5 * time.Millisecond})
	c.subscribeAll()
	out, in := c.answeredCall()
	if b := c.api("uuid_send_dtmf " + in + " 9w#@100"); b != "+OK "+in+" sent DTMF 9w#@100.\n" {
		t.Errorf("send dtmf %q", b)
	}
	c.waitFor("2 DTMF on the outbound leg", 5*time.Second, func() bool {
		n := 0
		for _, e := range c.evlog {
			if e.name() == "DTMF" && e.ev("Unique-ID") == out {
				n++
			}
		}
		return n == 2
	})
	d := c.waitEvent("dtmf", evIs("DTMF", out))
	if d.ev("DTMF-Duration") != "800" || d.ev("DTMF-Source") != "RTP" {
		t.Errorf("DTMF headers %v", d.evHdrs[len(d.evHdrs)-3:])
	}
	c.api("uuid_kill " + out)
	hc := c.waitEvent("complete", evIs("CHANNEL_HANGUP_COMPLETE", out))
	if hc.ev("variable_digits_dialed") != "9#" {
		t.Errorf("digits_dialed %q", hc.ev("variable_digits_dialed"))
	}
}

func TestBridge(t *testing.T) {
	_, c := loggedIn(t, Config{})
	c.subscribeAll()
	// uuid_bridge of two answered outbound legs
	a, ai := c.answeredCall()
	b, bi := c.answeredCall()
	if r := c.api("uuid_bridge " + a + " " + b); r != "+OK "+b+"\n" {
		t.Fatalf("uuid_bridge %q", r)
	}
	br := c.waitEvent("bridge", evIs("CHANNEL_BRIDGE", a))
	if br.ev("Bridge-A-Unique-ID") != a || br.ev("Bridge-B-Unique-ID") != b {
		t.Errorf("bridge headers %q %q", br.ev("Bridge-A-Unique-ID"), br.ev("Bridge-B-Unique-ID"))
	}
	c.api("uuid_kill " + bi)
	c.waitEvent("unbridge", evIs("CHANNEL_UNBRIDGE", a))
	for _, u := range []string{a, b, ai, bi} {
		c.waitEvent("destroy", evIs("CHANNEL_DESTROY", u))
	}

	// the bridge app on a parked inbound leg dials a new self-call
	user := newUser()
	out, job := c.originate(user, "", "")
	in := c.parkedIn(user)
	target := newUser()
	c.cmd("sendmsg " + in + "\ncall-command: execute\nexecute-app-name: bridge\nexecute-app-arg: sofia/external/" +
		target + "@127.0.0.1:5080")
	far := c.parkedIn(target)
	c.api("uuid_answer " + far)
	brEv := c.waitEvent("bridge", evIs("CHANNEL_BRIDGE", in))
	bleg := brEv.ev("Bridge-B-Unique-ID")
	if r := c.jobResult(job); r != "+OK "+out+"\n" {
		t.Errorf("the bridge answered the a-leg: job %q", r)
	}
	// the far end hangs up: the b-leg goes, the a-leg unbridges and parks on
	c.api("uuid_kill " + far)
	c.waitEvent("b destroyed", evIs("CHANNEL_DESTROY", bleg))
	c.waitEvent("unbridge", evIs("CHANNEL_UNBRIDGE", in))
	c.waitEvent("bridge complete", completeOf(in, "bridge"))
	if r := c.api("uuid_exists " + in); r != "true" {
		t.Error("a-leg hung up after the bridge")
	}
	// a failing bridge completes with originate_disposition
	c.cmd("sendmsg " + in + "\ncall-command: execute\nexecute-app-name: bridge\nexecute-app-arg: error/user_busy")
	c.waitFor("failed bridge", 5*time.Second, func() bool {
		n := 0
		for _, e := range c.evlog {
			if completeOf(in, "bridge")(e) {
				n++
			}
		}
		return n == 2
	})
	if r := c.api("uuid_getvar " + in + " originate_disposition"); r != "USER_BUSY" {
		t.Errorf("originate_disposition %q", r)
	}
}

func TestLoopbackAndInternalProfile(t *testing.T) {
	_, c := loggedIn(t, Config{})
	c.subscribeAll()
	c.cmd("bgapi originate {origination_uuid=0d000000-0000-4000-8000-000000000001}loopback/1234/default &park()\nJob-UUID: j1")
	park := c.waitEvent("b park", func(f *rawFrame) bool {
		return f.name() == "CHANNEL_PARK" && f.ev("Channel-Name") == "loopback/1234-b"
	})
	c.api("uuid_answer " + park.ev("Unique-ID"))
	if r := c.jobResult("j1"); r != "+OK 0d000000-0000-4000-8000-000000000001\n" {
		t.Errorf("loopback job %q", r)
	}
	// the internal profile's address is a self-call too, into context public
	c.cmd("bgapi originate sofia/internal/int1@127.0.0.1:5060 &park()\nJob-UUID: j2")
	in := c.waitEvent("internal park", func(f *rawFrame) bool {
		return f.name() == "CHANNEL_PARK" && f.ev("Caller-Destination-Number") == "int1"
	})
	if in.ev("Caller-Context") != "public" || in.ev("Channel-Name") != "sofia/internal/0000000000@127.0.0.1" {
		t.Errorf("internal inbound leg %q %q", in.ev("Caller-Context"), in.ev("Channel-Name"))
	}
}

// TestStateEventsMatchLoadCapture: with CHANNEL_STATE and CHANNEL_CALLSTATE
// subscribed, a call answered on park and killed from its outbound leg
// shows each leg's sequence of load-100calls.raw's first call.
func TestStateEventsMatchLoadCapture(t *testing.T) {
	fh, err := os.Open(filepath.Join(transcripts, "load-100calls.raw.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	zr, err := gzip.NewReader(fh)
	if err != nil {
		t.Fatal(err)
	}
	var legs [2]string // outbound, inbound of the first call
	want := map[string][]string{}
	br := newFrameReader(zr)
	for {
		f, err := readFrame(br)
		if err != nil {
			break
		}
		if f.ctype != "text/event-plain" || f.ev("Unique-ID") == "" {
			continue
		}
		u := f.ev("Unique-ID")
		if legs[0] == "" && f.ev("Call-Direction") == "outbound" {
			legs[0] = u
		}
		if legs[1] == "" && f.ev("Call-Direction") == "inbound" {
			legs[1] = u
		}
		if u == legs[0] || u == legs[1] {
			want[u] = append(want[u], f.name()+"/"+f.ev("Channel-State")+"/"+f.ev("Channel-Call-State"))
		}
	}
	_, c := loggedIn(t, Config{})
	c.cmd("event plain CHANNEL_CREATE CHANNEL_ORIGINATE CHANNEL_ANSWER CHANNEL_PARK CHANNEL_HANGUP " +
		"CHANNEL_HANGUP_COMPLETE CHANNEL_DESTROY CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE CHANNEL_CALLSTATE " +
		"CHANNEL_STATE BACKGROUND_JOB PLAYBACK_START PLAYBACK_STOP DTMF")
	out, in := c.answeredCall()
	c.api("uuid_kill " + out)
	c.waitEvent("in destroy", evIs("CHANNEL_STATE", in))
	c.waitFor("in CS_DESTROY", 5*time.Second, func() bool {
		for _, e := range c.evlog {
			if e.ev("Unique-ID") == in && e.ev("Channel-State") == "CS_DESTROY" {
				return true
			}
		}
		return false
	})
	got := map[string][]string{}
	c.mu.Lock()
	for _, e := range c.evlog {
		if u := e.ev("Unique-ID"); u != "" {
			got[u] = append(got[u], e.name()+"/"+e.ev("Channel-State")+"/"+e.ev("Channel-Call-State"))
		}
	}
	c.mu.Unlock()
	for i, pair := range [][2]string{{legs[0], out}, {legs[1], in}} {
		if strings.Join(got[pair[1]], " ") != strings.Join(want[pair[0]], " ") {
			t.Errorf("leg %d:\n got %v\nwant %v", i, got[pair[1]], want[pair[0]])
		}
	}
}

// TestVerboseEvents: fsctl verbose_events adds the variables to every
// channel event (CHANNEL_STATE has none by default).
func TestVerboseEvents(t *testing.T) {
	_, c := loggedIn(t, Config{})
	c.cmd("event plain CHANNEL_STATE DTMF")
	user := newUser()
	out, _ := c.originate(user, "", "")
	st := c.waitEvent("state", evIs("CHANNEL_STATE", out))
	if st.ev("variable_uuid") != "" {
		t.Error("variables without verbose_events")
	}
	c.api("fsctl verbose_events true")
	o2, _ := c.originate(newUser(), "", "")
	st = c.waitEvent("state", evIs("CHANNEL_STATE", o2))
	if st.ev("variable_uuid") != o2 {
		t.Error("no variables with verbose_events")
	}
}

// execApp runs app via sendmsg on uuid and waits for its EXECUTE_COMPLETE.
func (c *rawClient) execApp(uuid, app, arg string) *rawFrame {
	c.t.Helper()
	ev := "x" + newUser()
	c.cmd("sendmsg " + uuid + "\ncall-command: execute\nexecute-app-name: " + app + "\nexecute-app-arg: " + arg +
		"\nEvent-UUID: " + ev)
	return c.waitEvent(app+" complete", func(f *rawFrame) bool {
		return f.name() == "CHANNEL_EXECUTE_COMPLETE" && f.ev("Application-UUID") == ev
	})
}

func TestApplications(t *testing.T) {
	s, c := loggedIn(t, Config{DTMFDuration: 5 * time.Millisecond})
	c.subscribeAll()
	out, in := c.answeredCall()
	getvar := func(u, name string) string { return c.api("uuid_getvar " + u + " " + name) }

	c.execApp(out, "set", "greeting=hello world")
	c.execApp(out, "set", "echo=${greeting}!")
	if v := getvar(out, "echo"); v != "hello world!" {
		t.Errorf("${var} expansion: %q", v)
	}
	c.execApp(out, "unset", "greeting")
	if v := getvar(out, "greeting"); v != "_undef_" {
		t.Errorf("unset: %q", v)
	}
	c.execApp(out, "multiset", "^^:a=1:b=2")
	if getvar(out, "a") != "1" || getvar(out, "b") != "2" {
		t.Error("multiset")
	}
	c.execApp(out, "export", "x=y")
	if getvar(out, "x") != "y" || getvar(out, "export_vars") != "x" {
		t.Error("export")
	}
	c.execApp(out, "set_global", "gv=42")
	if b := c.api("global_getvar gv"); b != "42" {
		t.Errorf("set_global: %q", b)
	}
	c.execApp(out, "set", "g2=$${gv}")
	if v := getvar(out, "g2"); v != "42" {
		t.Errorf("$${global}: %q", v)
	}
	c.execApp(out, "log", "INFO hello")

	// sleep ends on its own, or on uuid_break
	c.execApp(out, "sleep", "20")
	c.cmd("sendmsg " + out + "\ncall-command: execute\nexecute-app-name: sleep\nexecute-app-arg: 60000")
	c.waitEvent("sleep", execOf(out, "sleep"))
	c.api("uuid_break " + out)
	c.waitFor("sleep broken", 5*time.Second, func() bool {
		n := 0
		for _, e := range c.evlog {
			if completeOf(out, "sleep")(e) {
				n++
			}
		}
		return n == 2
	})

	// record_session / stop_record_session; record with a limit
	c.execApp(out, "record_session", "/tmp/a.wav")
	c.waitEvent("record start", evIs("RECORD_START", out))
	c.execApp(out, "stop_record_session", "/tmp/a.wav")
	if r := c.waitEvent("record stop", evIs("RECORD_STOP", out)); r.ev("Record-File-Path") != "/tmp/a.wav" {
		t.Errorf("record stop path %q", r.ev("Record-File-Path"))
	}
	c.execApp(out, "record", "/tmp/b.wav 1")
	if getvar(out, "record_seconds") != "1" {
		t.Errorf("record_seconds %q", getvar(out, "record_seconds"))
	}

	// send_dtmf reaches the peer
	c.execApp(out, "send_dtmf", "5")
	if d := c.waitEvent("dtmf", evIs("DTMF", in)); d.ev("DTMF-Digit") != "5" {
		t.Errorf("digit %q", d.ev("DTMF-Digit"))
	}
	// sched_api and sched_hangup as applications
	c.execApp(out, "sched_api", "+0 none uuid_setvar "+out+" later yes")
	deadline := time.Now().Add(5 * time.Second)
	for getvar(out, "later") != "yes" && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if getvar(out, "later") != "yes" {
		t.Error("sched_api app")
	}
	// uuid_park while a file plays: the playback is cut and the leg parks
	c.cmd("sendmsg " + out + "\ncall-command: execute\nexecute-app-name: playback\nexecute-app-arg: silence_stream://0")
	c.waitEvent("playing", evIs("PLAYBACK_START", out))
	if b := c.api("uuid_park " + out); b != "+OK\n" {
		t.Errorf("uuid_park %q", b)
	}
	c.waitEvent("playback cut", evIs("PLAYBACK_STOP", out))
	// transfer (no dialplan: the leg parks again)
	c.execApp(in, "transfer", "9999 XML default")
	c.waitFor("parked after transfer", 5*time.Second, func() bool {
		n := 0
		for _, e := range c.evlog {
			if e.name() == "CHANNEL_PARK" && e.ev("Unique-ID") == in {
				n++
			}
		}
		return n == 2
	})
	if b := c.api("uuid_transfer " + in + " 1234"); b != "+OK\n" {
		t.Errorf("uuid_transfer %q", b)
	}
	c.execApp(out, "sched_hangup", "+0 USER_BUSY")
	if h := c.waitEvent("hangup", evIs("CHANNEL_HANGUP", out)); h.ev("Hangup-Cause") != "USER_BUSY" {
		t.Errorf("sched_hangup app cause %q", h.ev("Hangup-Cause"))
	}
	c.waitEvent("in destroy", evIs("CHANNEL_DESTROY", in))
	if n := s.ActiveChannels(); n != 0 || len(s.Channels()) != 0 {
		t.Errorf("%d channels left", n)
	}

	// the hangup app with a cause; playback on an unanswered leg pre-answers it
	user := newUser()
	o2, job := c.originate(user, "", "")
	i2 := c.parkedIn(user)
	c.cmd("sendmsg " + i2 + "\ncall-command: execute\nexecute-app-name: playback\nexecute-app-arg: silence_stream://20")
	pm := c.waitEvent("progress media", evIs("CHANNEL_PROGRESS_MEDIA", o2))
	if pm.ev("Answer-State") != "early" {
		t.Errorf("Answer-State %q", pm.ev("Answer-State"))
	}
	c.execApp(i2, "hangup", "CALL_REJECTED")
	if r := c.jobResult(job); r != "-ERR CALL_REJECTED\n" {
		t.Errorf("job %q", r)
	}
	if b := c.api("module_exists mod_sofia"); b != "true" {
		t.Errorf("module_exists %q", b)
	}
	s.SetSessionsPerSecond(5)
	if b := c.api("fsctl sps"); b != "+OK sessions per second: 5\n" {
		t.Errorf("SetSessionsPerSecond: %q", b)
	}
	s.SetDropAfterEvents(1)
	c.originate(newUser(), "", "")
	if !c.closed(5 * time.Second) {
		t.Error("SetDropAfterEvents: not dropped")
	}
}
