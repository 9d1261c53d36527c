package bindings

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchlua/switchlua/models"
)

func TestCallbacksRunInLoadOrder(t *testing.T) {
	e := newEnv(t, Options{})
	e.mustLoad("default",
		"a.lua", `function on_park(sess) rec("a", sess.uuid, sess:is_inbound()) end
		          on("CHANNEL_PARK", function(sess, ev) rec("a-on", ev.name, ev["Unique-ID"]) end)`,
		"b.lua", `function on_park(sess, ev) rec("b", ev:get("Event-Name")) end`,
	)
	s := e.session("u1", "", "inbound")
	e.send(s, "CHANNEL_PARK")
	want := []string{"a u1 true", "a-on CHANNEL_PARK u1", "b CHANNEL_PARK"}
	if got := e.records(); !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if st := e.rt.Stats(); st.Callbacks != 3 || st.Errors != 0 || st.Waiting != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestCallbackTable(t *testing.T) {
	cases := []struct {
		cb, event string
		kv        []string
		want      string
	}{
		{"on_create", "CHANNEL_CREATE", nil, "CHANNEL_CREATE"},
		{"on_originate", "CHANNEL_ORIGINATE", nil, "CHANNEL_ORIGINATE"},
		{"on_answer", "CHANNEL_ANSWER", nil, "CHANNEL_ANSWER"},
		{"on_bridge", "CHANNEL_BRIDGE", nil, "CHANNEL_BRIDGE"},
		{"on_unbridge", "CHANNEL_UNBRIDGE", nil, "CHANNEL_UNBRIDGE"},
		{"on_hangup", "CHANNEL_HANGUP", []string{"Hangup-Cause", "USER_BUSY"}, "CHANNEL_HANGUP"},
		{"on_playback_start", "PLAYBACK_START", nil, "PLAYBACK_START"},
		{"on_playback_stop", "PLAYBACK_STOP", nil, "PLAYBACK_STOP"},
		{"on_record_start", "RECORD_START", nil, "RECORD_START"},
		{"on_record_stop", "RECORD_STOP", nil, "RECORD_STOP"},
		{"on_callstate", "CHANNEL_CALLSTATE", nil, "CHANNEL_CALLSTATE"},
		{"on_execute_complete", "CHANNEL_EXECUTE_COMPLETE", nil, "CHANNEL_EXECUTE_COMPLETE"},
		{"on_dtmf", "DTMF", []string{"DTMF-Digit", "5"}, "5"},
	}
	for _, c := range cases {
		t.Run(c.cb, func(t *testing.T) {
			e := newEnv(t, Options{})
			e.mustLoad("default", "x.lua", `function `+c.cb+`(sess, x) if type(x) == "string" then rec(x) else rec(x.name) end end`)
			s := e.session("u1", "", "inbound")
			if c.cb == "on_create" {
				if got := e.recorded(); got != c.want {
					t.Fatalf("got %q want %q", got, c.want)
				}
				return
			}
			e.send(s, c.event, c.kv...)
			if got := e.recorded(); got != c.want {
				t.Fatalf("got %q want %q", got, c.want)
			}
		})
	}
}

func TestOnCustomAndSessionless(t *testing.T) {
	e := newEnv(t, Options{})
	e.mustLoad("default", "x.lua", `
		on("mod_bert::lost_sync", function(sess, ev) rec("sub", sess.uuid, ev.subclass) end)
		on("CUSTOM", function(sess, ev) rec("any-custom", ev.subclass) end)
		on("heartbeat", function(sess, ev) rec("hb", sess, ev["Up-Time"]) end)`)
	s := e.session("u1", "", "inbound")
	e.send(s, "CUSTOM", "Event-Subclass", "mod_bert::lost_sync")
	e.rt.Dispatch(nil, ev("HEARTBEAT", "", "Up-Time", "42"))
	want := []string{"sub u1 mod_bert::lost_sync", "any-custom mod_bert::lost_sync", "hb nil 42"}
	if got := e.records(); !slices.Equal(got, want) {
		t.Fatalf("got %q want %q", got, want)
	}
}

func TestAppSelection(t *testing.T) {
	e := newEnv(t, Options{})
	e.mustLoad("default", "d.lua", `function on_park(s) rec("default", s.app) end`)
	e.mustLoad("tone", "t.lua", `function on_park(s) rec("tone", s.app) end`)
	e.send(e.session("u1", "", "inbound"), "CHANNEL_PARK")
	e.send(e.session("u2", "tone", "inbound"), "CHANNEL_PARK")
	e.send(e.session("u3", "nosuchapp", "inbound"), "CHANNEL_PARK")
	want := []string{"default default", "tone tone"}
	if got := e.records(); !slices.Equal(got, want) {
		t.Fatalf("got %q want %q", got, want)
	}
	if got := e.rt.Apps(); !slices.Equal(got, []string{"default", "tone"}) || !e.rt.HasApp("tone") || e.rt.HasApp("x") {
		t.Fatalf("apps %v", got)
	}
	e.rt.Unload("tone")
	if e.rt.HasApp("tone") {
		t.Fatal("unload")
	}
}

func TestCommandsYieldAndReturn(t *testing.T) {
	e := newEnv(t, Options{})
	e.snd.Hold = true
	e.snd.On("api uuid_kill", "-ERR No such channel!")
	e.snd.On("api uuid_getvar u1 known", "hello\n")
	e.snd.On("api uuid_getvar u1 missing", "_undef_")
	e.snd.OnErr("api uuid_getvar u1 broken", errLost)
	e.mustLoad("default", "x.lua", `
		function on_park(sess)
		  rec("answer", sess:answer())
		  rec("hangup", sess:hangup("USER_BUSY"))
		  rec("getvar", sess:getvar("known"))
		  rec("getvar", sess:getvar("missing"))
		  rec("getvar", sess:getvar("broken"))
		  rec("bridge", sess:bridge{dest_url = "1000@example.com", profile = "external", params = {leg_timeout = 30}})
		  rec("playback", sess:playback("tone_stream://%(100,0,400)", {loops = 2}))
		  rec("done")
		end`)
	s := e.session("u1", "", "inbound")
	e.send(s, "CHANNEL_PARK")
	if got := e.recorded(); got != "" {
		t.Fatalf("ran before the reply: %q", got)
	}
	if st := e.rt.Stats(); st.Waiting != 1 {
		t.Fatalf("waiting %d", st.Waiting)
	}
	for i := 0; i < 10 && e.snd.Flush() > 0; i++ {
	}
	want := []string{"answer true", "hangup nil -ERR No such channel!", "getvar hello", "getvar nil",
		"getvar nil esl: connection lost", "bridge true", "playback true", "done"}
	if got := e.records(); !slices.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	sent := strings.Join(e.snd.Sent(), "\n---\n")
	for _, w := range []string{"api uuid_answer u1", "api uuid_kill u1 USER_BUSY",
		"execute-app-name: bridge", "{leg_timeout=30}sofia/external/1000@example.com", "loops: 2"} {
		if !strings.Contains(sent, w) {
			t.Errorf("sent commands lack %q:\n%s", w, sent)
		}
	}
	if st := e.rt.Stats(); st.Waiting != 0 || st.Errors != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestCommandSynchronousReply(t *testing.T) {
	// modelstest.Sender without Hold answers inside SendAsync: the result
	// arrives before the coroutine yields.
	e := newEnv(t, Options{})
	e.mustLoad("default", "x.lua", `function on_park(sess) rec(sess:answer(), sess:echo(), sess:setvars{a = 1, b = "x"}) end`)
	e.send(e.session("u1", "", "inbound"), "CHANNEL_PARK")
	if got := e.recorded(); got != "true true true" {
		t.Fatalf("got %q", got)
	}
	if st := e.rt.Stats(); st.Waiting != 0 {
		t.Fatalf("waiting %d", st.Waiting)
	}
	if !slices.Contains(e.snd.Sent(), "api uuid_setvar_multi u1 a=1;b=x") {
		t.Fatalf("sent %q", e.snd.Sent())
	}
}

func TestBadOptionTable(t *testing.T) {
	e := newEnv(t, Options{})
	e.mustLoad("default", "x.lua", `function on_park(sess) sess:bridge{dest = "x"} end`)
	s := e.session("u1", "", "inbound")
	e.send(s, "CHANNEL_PARK")
	if st := e.rt.Stats(); st.Errors != 1 || st.Waiting != 0 {
		t.Fatalf("stats %+v", st)
	}
	if !strings.Contains(e.logs.String(), "unknown option dest") {
		t.Fatalf("log: %s", e.logs)
	}
	// the session is not left with a stale command waiter
	if so := s.Ext.(*sessObj); len(so.cmds) != 0 {
		t.Fatalf("cmds %d", len(so.cmds))
	}
}

func TestWaitForEvent(t *testing.T) {
	e := newEnv(t, Options{})
	e.snd.Hold = true
	e.mustLoad("default", "x.lua", `
		function on_park(sess)
		  sess:answer()
		  local ev, err = sess:wait("CHANNEL_ANSWER", 5)
		  rec("answered", ev and ev.name, err, sess.answered)
		  local d, err = sess:wait({"DTMF", "PLAYBACK_STOP"}, 5)
		  rec("got", d.name, d["DTMF-Digit"])
		end
		function on_answer(sess) rec("on_answer") end`)
	s := e.session("u1", "", "inbound")
	e.send(s, "CHANNEL_PARK")
	e.snd.Flush()
	e.send(s, "CHANNEL_ANSWER")
	e.send(s, "DTMF", "DTMF-Digit", "7")
	want := []string{"answered CHANNEL_ANSWER nil true", "on_answer", "got DTMF 7"}
	if got := e.records(); !slices.Equal(got, want) {
		t.Fatalf("got %q want %q (waiters must run before callbacks)\n%s", got, want, e.logs)
	}
}

func TestWaitSeesEventBeforeReply(t *testing.T) {
	// FreeSWITCH may send CHANNEL_ANSWER before uuid_answer's +OK.
	e := newEnv(t, Options{})
	e.snd.Hold = true
	e.mustLoad("default", "x.lua", `
		function on_park(sess)
		  sess:answer()
		  local ev, err = sess:wait("CHANNEL_ANSWER", 5)
		  rec(ev and ev.name, err)
		end`)
	s := e.session("u1", "", "inbound")
	e.send(s, "CHANNEL_PARK")
	e.send(s, "CHANNEL_ANSWER")
	e.snd.Flush()
	if got := e.recorded(); got != "CHANNEL_ANSWER nil" {
		t.Fatalf("got %q", got)
	}
}

func TestWaitTimeoutAndHangup(t *testing.T) {
	e := newEnv(t, Options{})
	e.mustLoad("default", "x.lua", `
		function on_park(sess)
		  local ev, err = sess:wait("DTMF", 0.02)
		  rec("first", ev, err)
		  ev, err = sess:wait("DTMF", 5)
		  rec("second", ev, err)
		  ev, err = sess:wait("DTMF", 5)
		  rec("after hangup", ev, err)
		  ev, err = sess:wait("CHANNEL_DESTROY", 5)
		  rec("destroy", ev and ev.name, err)
		end`)
	s := e.session("u1", "", "inbound")
	e.send(s, "CHANNEL_PARK")
	e.host.runUntil(t, 5*time.Second, func() bool { return len(e.records()) == 1 })
	e.send(s, "CHANNEL_HANGUP", "Hangup-Cause", "NORMAL_CLEARING")
	e.gone(s)
	want := []string{"first nil timeout", "second nil hangup", "after hangup nil hangup", "destroy CHANNEL_DESTROY nil"}
	if got := e.records(); !slices.Equal(got, want) {
		t.Fatalf("got %q want %q", got, want)
	}
	if st := e.rt.Stats(); st.Waiting != 0 {
		t.Fatalf("waiting %d", st.Waiting)
	}
}

func TestSessionGoneReleasesWaiters(t *testing.T) {
	e := newEnv(t, Options{})
	e.mustLoad("default", "x.lua", `
		function on_park(sess)
		  local ev, err = sess:wait("CHANNEL_DESTROY")
		  rec("woke", ev, err, sess.gone, sess["Unique-ID"])
		  rec("cmd", sess:answer())
		end`)
	s := e.session("u1", "", "inbound")
	e.send(s, "CHANNEL_PARK")
	e.rt.SessionGone(s)
	if so := s.Ext.(*sessObj); !so.gone || len(so.waiters)+len(so.cmds) != 0 {
		t.Fatalf("gone %v, %d waiters, %d commands", so.gone, len(so.waiters), len(so.cmds))
	}
	want := []string{"woke nil hangup true u1", "cmd nil session u1 is gone"}
	if got := e.records(); !slices.Equal(got, want) {
		t.Fatalf("got %q want %q", got, want)
	}
}

func TestSleep(t *testing.T) {
	e := newEnv(t, Options{})
	e.mustLoad("default", "x.lua", `
		function on_park(sess)
		  local t0 = os.clock()
		  rec("before")
		  sleep(0.03)
		  rec("after")
		  sleep(0)
		  rec("yielded")
		end`)
	s := e.session("u1", "", "inbound")
	start := time.Now()
	e.send(s, "CHANNEL_PARK")
	if got := e.recorded(); got != "before" {
		t.Fatalf("got %q", got)
	}
	e.host.runUntil(t, 5*time.Second, func() bool { return len(e.records()) == 3 })
	if d := time.Since(start); d < 25*time.Millisecond {
		t.Fatalf("slept only %v", d)
	}
}

func TestFailingCallbackDoesNotStopOthers(t *testing.T) {
	e := newEnv(t, Options{})
	e.mustLoad("default",
		"bad.lua", "function on_park(sess)\n  local x = nil\n  x.boom()\nend",
		"good.lua", `function on_park(sess) rec("good", sess.uuid) end`)
	for _, u := range []string{"u1", "u2"} {
		e.send(e.session(u, "", "inbound"), "CHANNEL_PARK")
	}
	if got := e.records(); !slices.Equal(got, []string{"good u1", "good u2"}) {
		t.Fatalf("got %q", got)
	}
	if st := e.rt.Stats(); st.Errors != 2 {
		t.Fatalf("stats %+v", st)
	}
	log := e.logs.String()
	for _, w := range []string{"bad.lua:3:", "uuid=u1", "uuid=u2", "app=default", "callback=on_park"} {
		if !strings.Contains(log, w) {
			t.Errorf("log lacks %q:\n%s", w, log)
		}
	}
	var errs int
	for _, ci := range e.cbs {
		if ci.Err != nil {
			errs++
			if !strings.HasPrefix(ci.Err.Error(), "bad.lua:3:") {
				t.Errorf("err %q", ci.Err)
			}
		}
	}
	if errs != 2 {
		t.Fatalf("OnCallback saw %d errors", errs)
	}
}

func TestRunawayCallbackIsStopped(t *testing.T) {
	e := newEnv(t, Options{CPUBudget: 20 * time.Millisecond})
	e.mustLoad("default", "loop.lua", `
		function on_park(sess)
		  if sess["variable_loop"] == "yes" then
		    while true do end
		  end
		  rec("ok", sess.uuid)
		end
		function on_answer(sess)
		  -- pcall cannot swallow the stop
		  while true do pcall(function() while true do end end) end
		end`)
	a := e.session("a", "", "inbound")
	b := e.session("b", "", "inbound")
	start := time.Now()
	e.send(a, "CHANNEL_PARK", "variable_loop", "yes")
	e.send(b, "CHANNEL_PARK")
	e.send(b, "CHANNEL_ANSWER")
	e.send(a, "CHANNEL_PARK", "variable_loop", "no") // the same session goes on after its runaway
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %v", d)
	}
	if got := e.records(); !slices.Equal(got, []string{"ok b", "ok a"}) {
		t.Fatalf("got %q\n%s", got, e.logs)
	}
	var budget int
	for _, ci := range e.cbs {
		if ci.Err != nil {
			if !errors.Is(ci.Err, ErrCPUBudget) {
				t.Errorf("err %v is not ErrCPUBudget", ci.Err)
			}
			if !strings.Contains(ci.Err.Error(), "loop.lua:") || !strings.Contains(ci.Err.Error(), "CPU budget") {
				t.Errorf("err %q", ci.Err)
			}
			budget++
		}
	}
	if budget != 2 {
		t.Fatalf("%d budget errors, want 2", budget)
	}
}

func TestRunawayTopLevelChunk(t *testing.T) {
	e := newEnv(t, Options{CPUBudget: 20 * time.Millisecond})
	err := e.load("default", "spin.lua", "local n = 0\nwhile true do n = n + 1 end")
	if !errors.Is(err, ErrCPUBudget) || !strings.Contains(err.Error(), "spin.lua:2") {
		t.Fatalf("err %v", err)
	}
	e.mustLoad("default", "ok.lua", `function on_park(s) rec("ok") end`)
	e.send(e.session("u1", "", "inbound"), "CHANNEL_PARK")
	if e.recorded() != "ok" {
		t.Fatal("runtime unusable after a stopped chunk")
	}
}

func TestWaitingRestrictions(t *testing.T) {
	e := newEnv(t, Options{})
	err := e.load("default", "top.lua", `sleep(1)`)
	if err == nil || !strings.Contains(err.Error(), "top.lua:1") || !strings.Contains(err.Error(), "only be called from a callback") {
		t.Fatalf("top-level sleep: %v", err)
	}
	e.mustLoad("default", "x.lua", `
		function on_park(sess)
		  local ok, err = pcall(function() return sess:answer() end)
		  rec("pcall", ok, err)
		  local co = coroutine.create(function() sleep(1) end)
		  rec("coroutine", coroutine.resume(co))
		  rec("yield", pcall(coroutine.yield))
		  rec("still running")
		end
		function on_answer(sess) coroutine.yield() end`)
	s := e.session("u1", "", "inbound")
	e.send(s, "CHANNEL_PARK")
	got := e.recorded()
	for _, w := range []string{"pcall false x.lua:3: sess:answer() cannot wait inside pcall",
		"coroutine false x.lua:5: sleep() cannot wait inside a coroutine the script created",
		"still running"} {
		if !strings.Contains(got, w) {
			t.Errorf("records lack %q:\n%s", w, got)
		}
	}
	// pcall(coroutine.yield) lets the callback go on with a broken
	// coroutine (a gopher-lua limit); the Runtime counts the error when it
	// ends and drops that coroutine.
	if st := e.rt.Stats(); st.Errors != 1 {
		t.Fatalf("stats %+v", st)
	}
	e.send(s, "CHANNEL_ANSWER")
	if st := e.rt.Stats(); st.Errors != 2 || st.Waiting != 0 {
		t.Fatalf("stats %+v", st)
	}
	e.resetRecords()
	e.mustLoad("default", "y.lua", `function on_park(sess) rec("fine") end`)
	e.send(s, "CHANNEL_PARK")
	if e.recorded() != "fine" {
		t.Fatal("runtime broken")
	}
	if !strings.Contains(e.logs.String(), "coroutine.yield") {
		t.Fatalf("log: %s", e.logs)
	}
}

func TestSessionObject(t *testing.T) {
	e := newEnv(t, Options{})
	e.mustLoad("default", "x.lua", `
		function on_answer(sess)
		  sess.vars.count = (sess.vars.count or 0) + 1
		  rec(sess.uuid, sess.app, sess.node, sess.answered, sess.hungup, sess.cause,
		      sess["Caller-Destination-Number"], sess:get("Call-Direction"), sess.nothere, sess.call, sess.job)
		  rec(type(sess.times.create), type(sess.times.answer), sess.times.hangup, sess:uptime() >= 0)
		  rec(tostring(sess), sess.vars.count, #sess:history(), sess:is_outbound(), sess:is_inbound())
		  local ok, err = pcall(function() sess.uuid = "x" end)
		  rec(ok, err)
		end`)
	a := e.session("a", "", "outbound")
	e.send(a, "CHANNEL_ANSWER", "Caller-Destination-Number", "1000")
	e.send(a, "CHANNEL_ANSWER")
	want := []string{
		"a default node1 true false nil 1000 outbound nil nil nil",
		"number number nil true",
		"session a 1 2 true false",
	}
	got := e.records()
	if len(got) != 8 || !slices.Equal(got[:3], want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	if !strings.Contains(got[3], "false") || !strings.Contains(got[3], "read-only") {
		t.Fatalf("assignment: %q", got[3])
	}
	if !strings.HasPrefix(got[6], "session a 2") {
		t.Fatalf("vars do not persist: %q", got)
	}
}

func TestCallObject(t *testing.T) {
	e := newEnv(t, Options{})
	e.mustLoad("default", "x.lua", `
		function on_park(sess)
		  local call = sess.call
		  local peer = call:peer(sess)
		  rec(call.uuid, #call.sessions, call.len, call.first.uuid, call.last.uuid, peer.uuid, peer == call.last)
		  call.vars.noautohangup = true
		  call.vars.n = 3
		  rec(call.vars.noautohangup, call.vars.n, call:hangup("USER_BUSY"))
		end`)
	a := e.session("a", "", "outbound")
	b := e.session("b", "", "inbound")
	c := newCall("k1", a, b)
	e.send(a, "CHANNEL_PARK")
	want := "k1 2 2 a b b true\ntrue 3 true"
	if got := e.recorded(); got != want {
		t.Fatalf("got %q want %q", got, want)
	}
	if c.Vars["noautohangup"] != true || c.Vars["n"] != 3.0 {
		t.Fatalf("vars %v", c.Vars)
	}
	if e.snd.Last() != "api uuid_kill a USER_BUSY" {
		t.Fatalf("sent %q", e.snd.Last())
	}
}

func TestJobCallback(t *testing.T) {
	e := newEnv(t, Options{})
	e.mustLoad("default", "x.lua", `
		function on_job(sess, job)
		  rec(sess and sess.uuid, job.uuid, job.sess_uuid, job.command, job:ready(), job:successful(),
		      job:result(), job:cause(), job:launch_time() > 0, job.ext, job.done)
		end`)
	j := newJob(t, "j1", "a", "+OK a")
	s := e.session("a", "", "outbound")
	e.rt.DispatchJob(s, j)
	f := newJob(t, "j2", "", "-ERR USER_BUSY")
	e.rt.DispatchJob(nil, f)
	want := []string{"a j1 a originate true true a  true nil nil",
		"nil j2  originate true false -ERR USER_BUSY USER_BUSY true nil nil"}
	if got := e.records(); !slices.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

func TestAPIFromSetupAndCallbacks(t *testing.T) {
	e := newEnv(t, Options{})
	e.host.apiReply = func(cmd string) (string, error) {
		if strings.HasPrefix(cmd, "bgapi bad") {
			return "", errors.New("-ERR bad Command not found!")
		}
		return "+OK " + cmd, nil
	}
	e.mustLoad("default", "x.lua", `
		function setup(ctx)
		  rec("setup", ctx.args.rate, ctx.node, ctx.app, ctx.api("status"))
		  rec("setup2", ctx.api("bad"))
		end
		function on_park(sess)
		  rec("park", switchlua.api("uuid_dump " .. sess.uuid))
		  rec("prefixes", switchlua.api("api status"), switchlua.api("bgapi status"))
		  rec("raw", switchlua.api("sendevent CUSTOM\nEvent-Subclass: x::y"))
		end
		function teardown() rec("teardown") end`)
	e.host.runUntil(t, 5*time.Second, func() bool { return len(e.records()) == 2 })
	s := e.session("u1", "", "inbound")
	e.send(s, "CHANNEL_PARK")
	e.host.runUntil(t, 5*time.Second, func() bool { return len(e.records()) == 5 })
	e.rt.Unload("default")
	// api commands go out as bgapi (a plain api freezes the node's events
	// while it runs); a raw sendevent as it is.
	want := []string{"setup nil node1 default +OK bgapi status", "setup2 nil -ERR bad Command not found!",
		"park +OK bgapi uuid_dump u1", "prefixes +OK bgapi status +OK bgapi status",
		"raw +OK sendevent CUSTOM\nEvent-Subclass: x::y", "teardown"}
	if got := e.records(); !slices.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	wantCmds := []string{"bgapi status", "bgapi bad", "bgapi uuid_dump u1", "bgapi status", "bgapi status",
		"sendevent CUSTOM\nEvent-Subclass: x::y"}
	if got := e.host.APIs(); !slices.Equal(got, wantCmds) {
		t.Fatalf("commands %q\nwant %q", got, wantCmds)
	}
}

func TestSetupArgs(t *testing.T) {
	e := newEnv(t, Options{})
	s, _ := CompileScript("x.lua", []byte(`function setup(ctx) rec(ctx.args.rate, ctx.args.profile, ctx.generation) end`))
	if err := e.rt.Load(AppSpec{ID: "a", Scripts: []Script{s}, Args: map[string]string{"rate": "30", "profile": "external"}, Generation: 7}); err != nil {
		t.Fatal(err)
	}
	if got := e.recorded(); got != "30 external 7" {
		t.Fatalf("got %q", got)
	}
}

func TestLogModule(t *testing.T) {
	e := newEnv(t, Options{})
	e.mustLoad("myapp", "x.lua", `
		log.info("top level", 1, true)
		function on_park(sess)
		  log.warn("parked", sess.uuid)
		  switchlua.log.error("err")
		  print("printed")
		  log.debug({})
		end`)
	e.send(e.session("u9", "myapp", "inbound"), "CHANNEL_PARK")
	out := e.logs.String()
	for _, w := range []string{`msg="top level 1 true" app=myapp src=x.lua:2`,
		`level=WARN msg="parked u9" app=myapp uuid=u9 src=x.lua:4`,
		`level=ERROR msg=err app=myapp uuid=u9`, `msg=printed`, `level=DEBUG msg="table:`} {
		if !strings.Contains(out, w) {
			t.Errorf("log lacks %q:\n%s", w, out)
		}
	}
}

func TestDeepStackInCoroutine(t *testing.T) {
	// Coroutines start with a small value stack and grow it on demand.
	e := newEnv(t, Options{})
	e.mustLoad("default", "deep.lua", `
		local function f(n, a, b, c, d, e)
		  if n == 0 then
		    sleep(0)
		    return 0
		  end
		  local x, y, z = n, n * 2, n * 3
		  return 1 + f(n - 1, x, y, z, a, b)
		end
		function on_park(sess) rec(f(150)) end
		function on_answer(sess) local function g(n) return 1 + g(n + 1) end g(1) end`)
	s := e.session("u1", "", "inbound")
	e.send(s, "CHANNEL_PARK")
	e.host.runUntil(t, 5*time.Second, func() bool { return len(e.records()) == 1 })
	if got := e.recorded(); got != "150" {
		t.Fatalf("got %q", got)
	}
	e.send(s, "CHANNEL_ANSWER") // unbounded recursion: an error, not a crash
	if st := e.rt.Stats(); st.Errors != 1 || !strings.Contains(e.logs.String(), "stack overflow") {
		t.Fatalf("stats %+v\n%s", st, e.logs)
	}
	e.send(s, "CHANNEL_PARK")
	e.host.runUntil(t, 5*time.Second, func() bool { return len(e.records()) == 2 })
}

func TestDispatchJobTo(t *testing.T) {
	e := newEnv(t, Options{})
	e.mustLoad("a", "a1.lua", `function on_job(sess, job) rec("a1", sess and sess.uuid, job.uuid, job:cause()) end`,
		"a2.lua", `x = 1`,
		"a3.lua", `function on_job(sess, job) rec("a3", sess and sess.uuid, job.uuid) end`)
	e.mustLoad("b", "b.lua", `function on_job(sess, job) rec("b", sess and sess.uuid, job.uuid) end`)
	tests := []struct {
		name string
		app  string
		sess string // "" for nil
		want []string
	}{
		{"failed originate, no channel", "a", "", []string{"a1 nil j USER_BUSY", "a3 nil j"}},
		{"other app", "b", "", []string{"b nil j"}},
		{"with a session of another app", "b", "s", []string{"b s j"}},
		{"not loaded", "c", "", nil},
		{"empty id", "", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.resetRecords()
			var s *models.Session
			if tc.sess != "" {
				s = e.session(tc.sess, "a", "outbound")
			}
			e.rt.DispatchJobTo(tc.app, s, newJob(t, "j", "s", "-ERR USER_BUSY"))
			if got := e.records(); !slices.Equal(got, tc.want) {
				t.Fatalf("got %q want %q", got, tc.want)
			}
		})
	}
	e.rt.Unload("a")
	e.resetRecords()
	e.rt.DispatchJobTo("a", nil, newJob(t, "j", "", "-ERR USER_BUSY"))
	if got := e.records(); len(got) != 0 {
		t.Fatalf("unloaded app ran: %q", got)
	}
}

// The idle coroutine pool keeps as many as were ever waiting at once (up to
// maxPoolSize): a second wave of callbacks that wait reuses them all.
func TestCoroutinePoolFollowsPeak(t *testing.T) {
	e := newEnv(t, Options{})
	e.mustLoad("default", "wait.lua", `function on_park(sess) sess:wait("CHANNEL_ANSWER") end`)
	for _, n := range []int{20, maxPoolSize + 40} {
		wave := func(prefix string) []*models.Session {
			var ss []*models.Session
			for i := range n {
				s := e.session(fmt.Sprint(prefix, i), "", "inbound")
				e.send(s, "CHANNEL_PARK")
				ss = append(ss, s)
			}
			if st := e.rt.Stats(); st.Waiting != n {
				t.Fatalf("%d waiting, want %d", st.Waiting, n)
			}
			for _, s := range ss {
				e.send(s, "CHANNEL_ANSWER")
				e.gone(s)
			}
			return ss
		}
		wave(fmt.Sprint("a", n, "-"))
		want := min(n, maxPoolSize)
		if len(e.rt.pool) != want {
			t.Fatalf("after %d waiting at once the pool keeps %d, want %d", n, len(e.rt.pool), want)
		}
		// The second wave takes its coroutines from the pool.
		before := append([]*coro(nil), e.rt.pool...)
		wave(fmt.Sprint("b", n, "-"))
		reused := 0
		for _, c := range e.rt.pool {
			if slices.Contains(before, c) {
				reused++
			}
		}
		if reused != want {
			t.Fatalf("%d of the pool's %d coroutines were reused", reused, want)
		}
	}
	e.noErrors()
}
