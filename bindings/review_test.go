package bindings

import (
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"weak"

	"github.com/switchlua/switchlua/models"
)

// Handles tells an app that takes parked calls (on_park, on("CHANNEL_PARK"))
// from one that only watches.
func TestHandles(t *testing.T) {
	e := newEnv(t, Options{})
	e.mustLoad("parker", "p.lua", `function on_park(sess) end`)
	e.mustLoad("onpark", "a.lua", `function on_hangup() end`, "b.lua", `on("channel_park", function() end)`)
	e.mustLoad("monitor", "m.lua", `function on_hangup(sess) end; on("mod_x::y", function() end)`)
	e.mustLoad("custom", "c.lua", `on("CUSTOM", function() end)`)
	for _, c := range []struct {
		app, event string
		want       bool
	}{
		{"parker", "CHANNEL_PARK", true},
		{"onpark", "CHANNEL_PARK", true},
		{"onpark", "CHANNEL_HANGUP", true},
		{"monitor", "CHANNEL_PARK", false},
		{"monitor", "CHANNEL_HANGUP", true},
		{"monitor", "mod_x::y", true},
		{"custom", "mod_x::y", true},
		{"custom", "CHANNEL_PARK", false},
		{"nosuch", "CHANNEL_PARK", false},
	} {
		if got := e.rt.Handles(c.app, c.event); got != c.want {
			t.Errorf("Handles(%s, %s) = %v", c.app, c.event, got)
		}
	}
}

// A setup that raises before its first yield fails the Load with
// script:line: on a first load the app is not installed; on a reload the
// old generation comes back (its teardown ran before the new setup, and its
// setup runs again) and keeps handling calls.
func TestSetupErrorRefusesLoad(t *testing.T) {
	e := newEnv(t, Options{})
	bad := "local V = 'v2'\nfunction setup(ctx) rec('v2 setup') error('no db') end\nfunction teardown() rec('v2 teardown') end\nfunction on_park(s) rec('v2 park') end"
	err := e.load("app", "app.lua", bad)
	if err == nil || !strings.Contains(err.Error(), "app.lua:2: no db") {
		t.Fatalf("first load: %v", err)
	}
	if e.rt.HasApp("app") || len(e.rt.Apps()) != 0 || len(e.rt.Events()) != 0 {
		t.Fatalf("a refused first load left app %v, events %v", e.rt.Apps(), e.rt.Events())
	}

	e.resetRecords()
	e.mustLoad("app", "app.lua", `function setup(ctx) rec("v1 setup", ctx.generation) end
		function teardown() rec("v1 teardown") end
		function on_park(s) rec("v1 park") end`)
	err = e.load("app", "app.lua", bad)
	if err == nil || !strings.Contains(err.Error(), "app.lua:2: no db") {
		t.Fatalf("reload: %v", err)
	}
	e.send(e.session("u1", "app", "inbound"), "CHANNEL_PARK")
	want := []string{"v1 setup 2", "v1 teardown", "v2 setup", "v1 setup 2", "v1 park"}
	if got := e.records(); !slices.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	if strings.Contains(e.logs.String(), "lua callback failed") {
		t.Fatalf("the refused setup was also logged as a callback error:\n%s", e.logs)
	}
	if st := e.rt.Stats(); st.Errors != 2 {
		t.Fatalf("errors %d, want the two refused setups", st.Errors)
	}
}

// In an app of several scripts, the scripts whose setup ran before the one
// that raised get their teardown.
func TestSetupErrorTearsDownEarlierScripts(t *testing.T) {
	e := newEnv(t, Options{})
	err := e.load("app",
		"a.lua", `function setup() rec("a setup") end function teardown() rec("a teardown") end`,
		"b.lua", `function teardown() rec("b teardown (no setup)") end`,
		"c.lua", `function setup() error("c broke") end function teardown() rec("c teardown") end`,
		"d.lua", `function setup() rec("d setup") end`)
	if err == nil || !strings.Contains(err.Error(), "c.lua:1: c broke") {
		t.Fatal(err)
	}
	if got := e.records(); !slices.Equal(got, []string{"a setup", "a teardown"}) {
		t.Fatalf("got %q", got)
	}
}

// A setup that raises after it yielded (e.g. after ctx.api) is a callback
// error: logged and counted, the new generation stays.
func TestSetupErrorAfterYield(t *testing.T) {
	e := newEnv(t, Options{})
	e.mustLoad("app", "app.lua", `function on_park() end`)
	e.mustLoad("app", "app.lua", "function setup(ctx)\n  ctx.api('status')\n  error('late')\nend\nfunction on_park(s) rec('v2 park') end")
	e.host.runUntil(t, 5*time.Second, func() bool { return e.rt.Stats().Errors == 1 })
	if !strings.Contains(e.logs.String(), "app.lua:3: late") {
		t.Fatalf("log:\n%s", e.logs)
	}
	e.send(e.session("u1", "app", "inbound"), "CHANNEL_PARK")
	if got := e.recorded(); got != "v2 park" {
		t.Fatalf("got %q", got)
	}
}

// A flow that sleeps past its session's CHANNEL_DESTROY still reads the
// final state: hungup, cause, answered, times, call, headers.
func TestSessionStateAfterDestroy(t *testing.T) {
	e := newEnv(t, Options{})
	e.mustLoad("default", "x.lua", `
		function on_hangup(sess)
		  sleep(0.01)
		  if not sess.gone then rec("not gone yet") end
		  local t = sess.times
		  rec(sess.uuid, sess.gone, sess.hungup, sess.cause, sess.answered, sess.app, sess.node,
		      type(t.create), type(t.answer), type(t.hangup), sess.call and sess.call.uuid,
		      sess.call and sess.call.first == sess, sess["Hangup-Cause"], sess:get("Call-Direction"),
		      sess:is_inbound(), sess:uptime() >= 0, #sess:history() > 0, sess.vars.mark)
		  rec(sess:answer())
		  rec(sess:wait("DTMF", 1))
		  rec(sess:getvar("x"))
		end
		function on_park(sess) sess.vars.mark = "kept" end`)
	s := e.session("u1", "", "inbound")
	newCall("k1", s)
	e.send(s, "CHANNEL_PARK")
	e.send(s, "CHANNEL_ANSWER")
	e.send(s, "CHANNEL_HANGUP", "Hangup-Cause", "USER_BUSY")
	e.send(s, "CHANNEL_DESTROY", "Hangup-Cause", "USER_BUSY")
	e.rt.SessionGone(s)
	e.host.runUntil(t, 5*time.Second, func() bool { return len(e.records()) >= 4 })
	want := []string{
		"u1 true true USER_BUSY true default node1 number number number k1 true USER_BUSY inbound true true true kept",
		"nil session u1 is gone", "nil hangup", "nil session u1 is gone"}
	if got := e.records(); !slices.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	e.noErrors()
}

// A session whose object no Lua code holds any more is collected after
// SessionGone: the Runtime (waiters, idle trampolines) pins nothing.
func TestGoneSessionIsCollected(t *testing.T) {
	e := newEnv(t, Options{})
	e.mustLoad("default", "x.lua", `
		function on_park(sess) sess.vars.x = 1; sess:wait("CHANNEL_ANSWER", 5) end
		function on_hangup(sess) local c = sess.call end`)
	var refs []weak.Pointer[models.Session]
	for i := range 20 {
		s := e.session("u"+string(rune('a'+i)), "", "inbound")
		newCall(s.UUID, s)
		e.send(s, "CHANNEL_PARK")
		e.send(s, "CHANNEL_HANGUP", "Hangup-Cause", "NORMAL_CLEARING")
		e.send(s, "CHANNEL_DESTROY", "Hangup-Cause", "NORMAL_CLEARING")
		e.rt.SessionGone(s)
		refs = append(refs, weak.Make(s))
	}
	e.host.drain()
	if st := e.rt.Stats(); st.Waiting != 0 {
		t.Fatalf("waiting %d", st.Waiting)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		runtime.GC()
		alive := 0
		for _, r := range refs {
			if r.Value() != nil {
				alive++
			}
		}
		if alive == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d gone sessions still referenced", alive, len(refs))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Event names given to on() and sess:wait are FreeSWITCH's: a misspelled
// one fails the load with script:line and the nearest name, is never
// subscribed, and check (LintCallbacks) reports it.
func TestEventNames(t *testing.T) {
	e := newEnv(t, Options{})
	for _, c := range []struct{ src, want string }{
		{`on("CHANNEL_ANSWR", function() end)`, `x.lua:1: on(): unknown event CHANNEL_ANSWR (did you mean CHANNEL_ANSWER?)`},
		{"function setup()\n  on('channel_answr', function() end)\nend", `x.lua:2: on(): unknown event CHANNEL_ANSWR (did you mean CHANNEL_ANSWER?) (written "channel_answr")`},
		{"function on_park(sess)\n  sess:wait('DTMFF', 5)\nend", `x.lua:2: :wait(): unknown event DTMFF (did you mean DTMF?)`},
		{"function on_park(sess)\n  sess:wait({'DTMF', 'CHANNEL_HANGUPP'})\nend", `x.lua:2: :wait(): unknown event CHANNEL_HANGUPP (did you mean CHANNEL_HANGUP?)`},
		{`on("ALL", function() end)`, `unknown event ALL`},
		{`on("X" .. "Y", function() end)`, `x.lua:1: on(): unknown event XY`},
		{`on("", function() end)`, `empty event name`},
	} {
		err := e.load("bad", "x.lua", c.src)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s:\n got %v\nwant %s", c.src, err, c.want)
		}
	}
	if len(e.rt.Apps()) != 0 {
		t.Fatalf("apps %v", e.rt.Apps())
	}

	// Valid names, CUSTOM subclasses and other objects' wait methods load.
	e.mustLoad("good", "g.lua", `
		on("channel_answer", function() end)
		on("CUSTOM", function() end)
		on("conference::maintenance", function() end)
		on("CUSTOM sofia::register", function() end)
		local q = {wait = function(self, what) return what end}
		function on_park(sess)
		  rec(q:wait("ready"))
		  local name = "DTMF" .. (sess.vars.suffix or "F")
		  rec(sess:wait(name, 1))
		  rec(sess:wait({"DTMF", "bogus"}, 1))
		  rec(sess:wait(name, 1))
		  on("CHANNEL_" .. "ANSWR", function() end)
		end`)
	s := e.session("u1", "good", "inbound")
	e.send(s, "CHANNEL_PARK")
	want := []string{"ready", "nil unknown event DTMFF (did you mean DTMF?)",
		"nil unknown event BOGUS (not a FreeSWITCH event type; CUSTOM events are named \"module::name\")",
		"nil unknown event DTMFF (did you mean DTMF?)"}
	if got := e.records(); !slices.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	if st := e.rt.Stats(); st.Errors != 1 || !strings.Contains(e.logs.String(), "g.lua:13: on(): unknown event CHANNEL_ANSWR") {
		t.Fatalf("errors %d, log:\n%s", st.Errors, e.logs)
	}
	if n := strings.Count(e.logs.String(), "event=DTMFF"); n != 1 {
		t.Fatalf("the unknown wait name is logged %d times:\n%s", n, e.logs)
	}
	for _, ev := range e.rt.Events() {
		if k := eventName(strings.TrimPrefix(ev, "CUSTOM ")); !validEventKey(k) {
			t.Errorf("subscribed to %q", ev)
		}
	}
	wantEvents := []string{"CHANNEL_ANSWER", "CHANNEL_PARK", "CUSTOM", "CUSTOM conference::maintenance", "CUSTOM sofia::register", "DTMF"}
	if got := e.rt.Events(); !slices.Equal(got, wantEvents) {
		t.Fatalf("events %q\nwant %q", got, wantEvents)
	}
}

func TestLintEventNames(t *testing.T) {
	src := `on("CHANNEL_ANSWR", function() end)
function on_park(sess)
  local ev = sess:wait("dtmff", 5)
  sess:wait({"DTMF", "PLAYBACK_STOPP"})
  sess:wait("CHANNEL_" .. "X")
  on("mod_bert::lost_sync", function() end)
  return sess:wait("HANGUP")
end
function on_answered() end`
	s, err := CompileScript("typo.lua", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range LintCallbacks(s) {
		got = append(got, l.String())
	}
	want := []string{
		"typo.lua:1: on(): unknown event CHANNEL_ANSWR (did you mean CHANNEL_ANSWER?)",
		`typo.lua:3: :wait(): unknown event DTMFF (did you mean DTMF?) (written "dtmff")`,
		"typo.lua:4: :wait(): unknown event PLAYBACK_STOPP (did you mean PLAYBACK_STOP?)",
		"typo.lua:7: :wait(): unknown event HANGUP (did you mean CHANNEL_HANGUP?)",
		"typo.lua:9: on_answered is not a known callback (did you mean on_answer?)",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

// pairs(sess.call.vars) works (a __pairs metamethod, honoured by the
// Runtime's pairs); values cross to Go as string, float64 and bool.
func TestCallVarsPairs(t *testing.T) {
	e := newEnv(t, Options{})
	e.mustLoad("default", "x.lua", `
		function on_park(sess)
		  local v = sess.call.vars
		  v.noautohangup = true
		  v.n = 3
		  v.name = "bob"
		  v.gone = "x"
		  v.gone = nil
		  v[7] = "seven"
		  local keys = {}
		  for k, x in pairs(v) do keys[#keys + 1] = k .. "=" .. tostring(x) end
		  rec(table.concat(keys, " "), #v, v.from_go, tostring(v):sub(1, 9))
		  local n = 0
		  for k in pairs({a = 1, b = 2}) do n = n + 1 end
		  rec(n, pcall(pairs, 5))
		end`)
	s := e.session("u1", "", "inbound")
	c := newCall("k1", s)
	c.Vars["from_go"] = 2
	e.send(s, "CHANNEL_PARK")
	got := e.records()
	if len(got) != 2 || got[0] != "7=seven from_go=2 n=3 name=bob noautohangup=true 5 2 call.vars" ||
		!strings.HasPrefix(got[1], "2 false") || !strings.Contains(got[1], "table expected") {
		t.Fatalf("got %q", got)
	}
	if c.Vars["noautohangup"] != true || c.Vars["n"] != 3.0 || c.Vars["name"] != "bob" || len(c.Vars) != 5 {
		t.Fatalf("vars %v", c.Vars)
	}
}
