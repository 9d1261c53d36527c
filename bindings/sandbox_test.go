package bindings

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/switchlua/switchlua/models"
	"github.com/switchlua/switchlua/models/modelstest"
)

func TestSandbox(t *testing.T) {
	cases := []struct{ expr, want string }{
		// What the sandbox refuses says so, with script:line, and is
		// never opened.
		{`select(2, pcall(function() return io.open("/etc/hostname") end))`, "sandbox.lua:1: io.open is not available in the sandbox (run with --unsafe)"},
		{`select(2, pcall(function() io.stdout = 1 end))`, "io.stdout is not available in the sandbox"},
		{`select(2, pcall(os.execute, "true"))`, "os.execute is not available in the sandbox (run with --unsafe)"},
		{`select(2, pcall(os.getenv, "HOME"))`, "os.getenv is not available in the sandbox"},
		{`select(2, pcall(os.remove, "/tmp/x"))`, "os.remove is not available in the sandbox"},
		{`select(2, pcall(os.exit))`, "os.exit is not available in the sandbox"},
		{`select(2, pcall(function() return debug.getinfo(1) end))`, "debug.getinfo is not available in the sandbox"},
		{`select(2, pcall(dofile, "/etc/hostname"))`, "dofile is not available in the sandbox (run with --unsafe)"},
		{`select(2, pcall(loadfile, "/etc/hostname"))`, "loadfile is not available in the sandbox"},
		{`select(2, pcall(collectgarbage))`, "collectgarbage is not available in the sandbox"},
		{`select(2, pcall(getfenv, 1))`, "getfenv is not available in the sandbox"},
		{`select(2, pcall(setfenv, 1, {}))`, "setfenv is not available in the sandbox"},
		{`select(2, pcall(function() return package.path end))`, "package.path is not available in the sandbox"},
		{`getmetatable(io)`, "false"},
		{`channel`, "nil"},
		{`_printregs`, "nil"},
		{`type(os.time())`, "number"},
		{`type(os.clock())`, "number"},
		{`type(os.date("%Y"))`, "string"},
		{`string.format("%d", 42)`, "42"},
		{`math.max(1, 2)`, "2"},
		{`table.concat({"a", "b"}, ",")`, "a,b"},
		{`load("return 1 + 1")()`, "2"},
		{`loadstring("return 3")()`, "3"},
		{`select(2, load("\27LuaQ"))`, "load: binary chunks are not allowed"},
		{`(function() y = 5; load("y = y + 1")(); return y end)()`, "6"},
		{`select(2, pcall(require, "nosuch"))`, `module "nosuch" not found`},
		{`select(2, pcall(require, "../../etc/passwd"))`, "limited to the scripts' own folders"},
		{`require("switchlua") == switchlua`, "true"},
		{`type(switchlua.shared.get)`, "function"},
		{`_G == _G._G`, "true"},
		{`getmetatable(_G)`, "false"},
	}
	e := newEnv(t, Options{})
	var b strings.Builder
	for i, c := range cases {
		fmt.Fprintf(&b, "rec(%d, tostring(%s))\n", i, c.expr)
	}
	e.mustLoad("default", "sandbox.lua", b.String())
	got := e.records()
	if len(got) != len(cases) {
		t.Fatalf("got %d records: %q", len(got), got)
	}
	for i, c := range cases {
		v := strings.TrimPrefix(got[i], fmt.Sprint(i)+" ")
		if !strings.Contains(v, c.want) {
			t.Errorf("%s = %q, want %q", c.expr, v, c.want)
		}
	}
}

func TestSandboxGlobalsArePerScript(t *testing.T) {
	e := newEnv(t, Options{})
	e.mustLoad("default",
		"a.lua", `x = "a"; _G.y = "a"; function on_park() rec("a", x, y) end`,
		"b.lua", `function on_park() rec("b", x, y, rawget(_G, "x")) end`)
	e.send(e.session("u1", "", "inbound"), "CHANNEL_PARK")
	if got := e.records(); !slices.Equal(got, []string{"a a a", "b nil nil nil"}) {
		t.Fatalf("got %q", got)
	}
}

func TestUnsafe(t *testing.T) {
	e := newEnv(t, Options{Unsafe: true})
	e.mustLoad("default", "u.lua", `rec(type(io), type(os.execute), type(debug), type(dofile), type(package), require("string") == string)`)
	if got := e.recorded(); got != "table function table function table true" {
		t.Fatalf("got %q", got)
	}
}

func TestRequire(t *testing.T) {
	var runs int
	mod := func(src string) Script {
		s, err := CompileScript("lib/util.lua", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	util := mod(`runs_inc() local M = {} function M.greet(n) return "hi " .. n end return M`)
	globalsMod := mod(`function helper() return "helped" end`)
	e := newEnv(t, Options{Module: func(name string) (Script, error) {
		switch name {
		case "util":
			return util, nil
		case "legacy":
			return globalsMod, nil
		}
		return Script{}, errors.New("no such file in the scripts' folders")
	}})
	e.rt.L.SetGlobal("runs_inc", e.rt.L.NewFunction(func(L *lua.LState) int { runs++; return 0 }))
	src := `local u = require("util")
		local u2 = require("util")
		rec(u.greet("bob"), u == u2, require("legacy").helper())
		function on_park() rec(require("util") == u) end`
	e.mustLoad("default", "main.lua", src)
	e.send(e.session("u1", "", "inbound"), "CHANNEL_PARK")
	if got := e.records(); !slices.Equal(got, []string{"hi bob true helped", "true"}) {
		t.Fatalf("got %q", got)
	}
	if runs != 1 {
		t.Fatalf("module ran %d times", runs)
	}
	e.mustLoad("default", "main.lua", src) // a reload gets a fresh module
	if runs != 2 {
		t.Fatalf("module ran %d times after reload", runs)
	}
}

func TestRouterModule(t *testing.T) {
	e := newEnv(t, Options{})
	e.mustLoad("default", "r.lua", `
		local router = require("switchlua.router").new{guards = {["Call-Direction"] = "inbound"}, reject_on_guard = false}
		router:route("^1(%d+)$", function(sess, ext) rec("ext", ext) end)
		router:route("^1", function(sess) rec("prefix"); return router.STOP end)
		router:route("^1", function(sess) rec("never") end)
		router:route("^bob$", {field = "variable_sip_from_user"}, function(sess) rec("bob") end)
		function on_park(sess) rec("ran", router:handle(sess)) end`)
	for i, c := range []struct{ dir, dest, from string }{
		{"inbound", "1234", "x"}, {"inbound", "999", "bob"}, {"inbound", "999", "x"}, {"outbound", "1234", "x"},
	} {
		s := e.session(fmt.Sprint("u", i), "", c.dir)
		e.send(s, "CHANNEL_PARK", "Caller-Destination-Number", c.dest, "variable_sip_from_user", c.from)
	}
	want := []string{"ext 234", "prefix", "ran 2", "bob", "ran 1", "ran 0", "ran 0"}
	if got := e.records(); !slices.Equal(got, want) {
		t.Fatalf("got %q want %q", got, want)
	}
	if got := e.snd.Sent(); !slices.Equal(got, []string{"api uuid_kill u2 NO_ROUTE_DESTINATION"}) {
		t.Fatalf("sent %q", got)
	}
}

func TestSharedAcrossRuntimes(t *testing.T) {
	sh := NewShared()
	const n = 300
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			rt, err := New(newFakeHost(), Options{Shared: sh})
			if err != nil {
				errs <- err
				return
			}
			defer rt.Close()
			s, _ := CompileScript("c.lua", []byte(`
				function on_park(sess)
				  switchlua.shared.incr("calls")
				  switchlua.shared:set("last", sess.uuid)
				  switchlua.shared.set("flag", true)
				  local v = switchlua.shared.get("calls")
				  if type(v) ~= "number" then error("not a number") end
				end`))
			if err := rt.Load(AppSpec{ID: "default", Scripts: []Script{s}}); err != nil {
				errs <- err
				return
			}
			snd := &modelstest.Sender{}
			for i := 0; i < n; i++ {
				first := ev("CHANNEL_CREATE", fmt.Sprint(r, "-", i), "Call-Direction", "inbound")
				sess := models.NewSession(first, "n", snd)
				rt.Dispatch(sess, ev("CHANNEL_PARK", sess.UUID))
				rt.SessionGone(sess)
			}
			if st := rt.Stats(); st.Errors != 0 {
				errs <- fmt.Errorf("runtime %d: %d errors", r, st.Errors)
			}
		}(r)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if v, _ := sh.Get("calls"); v != float64(2*n) {
		t.Fatalf("calls = %v, want %d", v, 2*n)
	}
	if v, _ := sh.Get("flag"); v != true {
		t.Fatalf("flag = %v", v)
	}
	if _, err := sh.Incr("flag", 1); err == nil {
		t.Fatal("incr of a bool")
	}
	if err := sh.Set("x", []int{1}); err == nil {
		t.Fatal("set of a slice")
	}
	sh.Set("x", 3)
	sh.Set("x", nil)
	if _, ok := sh.Get("x"); ok || sh.Len() != 3 {
		t.Fatalf("delete: len %d", sh.Len())
	}
	var zero Shared // the zero value works too
	if v, _ := zero.Incr("a", 2); v != 2 {
		t.Fatal("zero Shared")
	}
}

func TestReload(t *testing.T) {
	e := newEnv(t, Options{})
	e.snd.Hold = true
	v1 := `
		state.count = state.count or 0
		local version = "v1"
		function setup(ctx) rec("v1 setup", ctx.generation) end
		function teardown() rec("v1 teardown") end
		function on_park(sess)
		  state.count = state.count + 1
		  rec(version .. " park", sess.uuid, state.count)
		  sess:wait("CHANNEL_ANSWER", 5)
		  rec(version .. " resumed", sess.uuid, state.count)
		end`
	v2 := `
		local version = "v2"
		function setup(ctx) rec("v2 setup", state.count, ctx.generation) end
		function teardown() rec("v2 teardown") end
		function on_park(sess)
		  state.count = state.count + 1
		  rec(version .. " park", sess.uuid, state.count)
		end`
	e.mustLoad("default", "app.lua", v1)
	a := e.session("a", "", "inbound")
	e.send(a, "CHANNEL_PARK")
	e.mustLoad("default", "app.lua", v2)
	b := e.session("b", "", "inbound")
	e.send(b, "CHANNEL_PARK")
	e.send(a, "CHANNEL_ANSWER") // the old coroutine finishes on v1's code

	// A broken reload keeps v2.
	err := e.load("default", "app.lua", "function on_park() end\nerror('half-edited')")
	if err == nil || !strings.Contains(err.Error(), "app.lua:2: half-edited") {
		t.Fatalf("broken reload: %v", err)
	}
	c := e.session("c", "", "inbound")
	e.send(c, "CHANNEL_PARK")
	want := []string{"v1 setup 1", "v1 park a 1", "v1 teardown", "v2 setup 1 2", "v2 park b 2", "v1 resumed a 2", "v2 park c 3"}
	if got := e.records(); !slices.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

func TestStateReassignedIsCarried(t *testing.T) {
	e := newEnv(t, Options{})
	e.mustLoad("default", "app.lua", `state = {n = 41}`)
	e.mustLoad("default", "app.lua", `rec(state.n + 1)`)
	if got := e.recorded(); got != "42" {
		t.Fatalf("got %q", got)
	}
}

func TestEvents(t *testing.T) {
	var changes int
	e := newEnv(t, Options{})
	e.rt.opt.OnEventsChange = func() { changes++ }
	e.mustLoad("default", "app.lua", `
		function on_park(sess) sess:wait("PLAYBACK_STOP", 1) end
		function on_dtmf() end
		function on_job() end
		on("mod_bert::timeout", function() end)
		on("CUSTOM mod_bert::lost_sync", function() end)
		function on_answer(sess) on("HEART" .. "BEAT", function() end) end
		local not_an_event = "HELLO"`)
	want := []string{"BACKGROUND_JOB", "CHANNEL_ANSWER", "CHANNEL_PARK", "CUSTOM mod_bert::lost_sync",
		"CUSTOM mod_bert::timeout", "DTMF", "PLAYBACK_STOP"}
	if got := e.rt.Events(); !slices.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	s := e.session("u1", "", "inbound")
	e.send(s, "CHANNEL_ANSWER")
	e.host.drain()
	if changes != 1 {
		t.Fatalf("OnEventsChange called %d times", changes)
	}
	if got := e.rt.Events(); !slices.Contains(got, "HEARTBEAT") {
		t.Fatalf("got %q", got)
	}
	e.send(s, "CHANNEL_ANSWER") // already known: no new change
	e.host.drain()
	if changes != 1 {
		t.Fatalf("OnEventsChange called %d times", changes)
	}
}

func TestLintCallbacks(t *testing.T) {
	s, err := CompileScript("typo.lua", []byte("function on_answered(s) end\nfunction on_park(s) end\non_hangupp = function() end\nlocal function on_local() end"))
	if err != nil {
		t.Fatal(err)
	}
	got := LintCallbacks(s)
	if len(got) != 2 || got[0].Name != "on_answered" || got[0].Suggest != "on_answer" || got[0].Line != 1 ||
		got[1].Name != "on_hangupp" || got[1].Suggest != "on_hangup" || got[1].Line != 3 {
		t.Fatalf("got %+v", got)
	}
	if !strings.Contains(got[0].String(), "typo.lua:1: on_answered is not a known callback (did you mean on_answer?)") {
		t.Fatal(got[0].String())
	}
	if !slices.Contains(KnownCallbacks(), "on_execute_complete") || !slices.Contains(KnownCallbacks(), "setup") {
		t.Fatal(KnownCallbacks())
	}
	if ev, ok := CallbackEvent("on_dtmf"); !ok || ev != "DTMF" {
		t.Fatal(ev)
	}
}

func TestFrameNRet(t *testing.T) {
	// The Runtime reads gopher-lua's unexported call-frame NRet; if an
	// upgrade moves it, this fails before calls start to misbehave.
	if nretIndex == nil {
		t.Fatal("gopher-lua's lua.Debug.frame.NRet not found")
	}
	e := newEnv(t, Options{})
	var got []int
	e.rt.L.SetGlobal("probe", e.rt.L.NewFunction(func(L *lua.LState) int {
		got = append(got, frameNRet(L))
		return 0
	}))
	e.mustLoad("default", "p.lua", `probe(); local a = probe(); local b, c = probe(); print(probe())`)
	if !slices.Equal(got, []int{0, 1, 2, lua.MultRet}) {
		t.Fatalf("got %v", got)
	}
}

func TestCloseIsFinal(t *testing.T) {
	e := newEnv(t, Options{})
	e.mustLoad("default", "x.lua", `function on_park(sess) sleep(0.01); rec("late") end function teardown() rec("down") end`)
	s := e.session("u1", "", "inbound")
	e.send(s, "CHANNEL_PARK")
	e.rt.Close()
	time.Sleep(30 * time.Millisecond)
	e.host.drain()
	e.rt.Dispatch(s, ev("CHANNEL_PARK", "u1"))
	if got := e.recorded(); got != "down" {
		t.Fatalf("got %q", got)
	}
	if err := e.rt.Load(AppSpec{ID: "x"}); err == nil {
		t.Fatal("load after close")
	}
}
