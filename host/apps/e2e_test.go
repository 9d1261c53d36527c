package apps

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchlua/switchlua/esl/fssim/fstest"
	"github.com/switchlua/switchlua/host"
	"github.com/switchlua/switchlua/hotreload"
	"github.com/switchlua/switchlua/hotreload/hrtest"
	"github.com/switchlua/switchlua/models"
)

// End-to-end tests: the Manager over a Pool dialled over TCP to the shared
// harness's node (the simulator, or the FreeSWITCH of SWITCHLUA_TEST_FS),
// with a real hotreload watcher on a temporary folder.

// simpleApp answers the inbound leg, counts answers per version in
// switchlua.shared and hangs the call up from the outbound leg.
func simpleApp(v int) string {
	return fmt.Sprintf(`-- simple app, version %d
local V = "%d"
function on_park(sess)
  if sess:is_inbound() then sess:answer() end
end
function on_answer(sess)
  switchlua.shared.incr("answered:" .. V, 1)
  if sess:is_outbound() then sess:hangup() end
end
`, v, v)
}

// oneCall makes a call running app and waits until it is over.
func (r *rig) oneCall(app string) {
	r.t.Helper()
	j := r.originate(app)
	r.waitJobs([]*models.Job{j}, 10*time.Second)
	r.idle(r.pool, 10*time.Second)
}

// Every save style reloads a running app: the next call runs the new
// version, and one save is one reload.
func TestE2ESaveStylesReload(t *testing.T) {
	for _, style := range hrtest.Styles {
		t.Run(style.String(), func(t *testing.T) {
			r := newRig(t, rigConfig{files: map[string]string{"app.lua": simpleApp(1)}, scripts: []string{"app.lua"}})
			r.oneCall("app")
			if n := r.num("answered:1"); n != 2 {
				t.Fatalf("version 1 answered %d legs, want 2", n)
			}
			gen0 := r.m.Apps()[0].Generation
			if err := hrtest.Save(style, r.path("app.lua"), []byte(simpleApp(2))); err != nil {
				t.Fatal(err)
			}
			rl := r.reload(5 * time.Second)
			if !rl.OK || rl.App != "app" || rl.Generation <= gen0 || rl.Nodes != 1 || rl.Latency <= 0 {
				t.Fatalf("reload %+v (generation before %d)", rl, gen0)
			}
			if got := r.m.Apps()[0].Generation; got != rl.Generation {
				t.Fatalf("app generation %d, want %d", got, rl.Generation)
			}
			r.oneCall("app")
			if n1, n2 := r.num("answered:1"), r.num("answered:2"); n1 != 2 || n2 != 2 {
				t.Fatalf("answered by version 1: %d, by version 2: %d; want 2 and 2", n1, n2)
			}
			if st := r.m.Stats(); st.Reloads != 1 || st.Failed != 0 || st.Removed != 0 || !st.Watching {
				t.Fatalf("stats %+v: want exactly one reload", st)
			}
			if lines := r.logs.matching(slog.LevelInfo, "apps: reloaded"); len(lines) != 1 ||
				!strings.Contains(lines[0].Text, "app=app") || !strings.Contains(lines[0].Text, fmt.Sprintf("generation=%d", rl.Generation)) ||
				!strings.Contains(lines[0].Text, "event_to_live=") {
				t.Fatalf("reload log lines %v", lines)
			}
		})
	}
}

// The `state` table survives a reload, other globals start afresh,
// teardown of the old generation and setup of the new run, and a callback
// waiting across the reload finishes on the code it started with.
func TestE2EStateAcrossReload(t *testing.T) {
	app := func(v int) string {
		return fmt.Sprintf(`-- state app, version %d
local V = "%d"
local sh = switchlua.shared
state.loads = (state.loads or 0) + 1
counter = (counter or 0) + 1
function setup(ctx)
  sh.set("setup:" .. V, ctx.generation)
  sh.set("loads:" .. V, state.loads)
  sh.set("counter:" .. V, counter)
end
function teardown() sh.set("teardown:" .. V, true) end
function on_park(sess)
  if sess:is_inbound() then sess:answer() end
end
function on_answer(sess)
  if sess:is_inbound() then return end
  sh.set("answered_by:" .. sess.uuid, V)
  if sess.vars.hold == nil and V == "1" then
    sh.set("holding", true)
    sleep(0.6)
    sh.set("after_sleep:" .. sess.uuid, V)
  end
  sess:hangup()
end
`, v, v)
	}
	r := newRig(t, rigConfig{files: map[string]string{"app.lua": app(1)}, scripts: []string{"app.lua:k=v"}})
	if r.num("loads:1") != 1 || r.num("counter:1") != 1 || r.num("setup:1") == 0 {
		t.Fatalf("first load: loads %d counter %d setup %d", r.num("loads:1"), r.num("counter:1"), r.num("setup:1"))
	}
	held := r.originate("app")
	eventually(t, 5*time.Second, "the first call to wait in sleep()", func() bool { return r.str("holding") == "true" })
	if err := hrtest.WriteAtomic(r.path("app.lua"), []byte(app(2))); err != nil {
		t.Fatal(err)
	}
	rl := r.reload(5 * time.Second)
	if !rl.OK {
		t.Fatalf("reload %+v", rl)
	}
	// A call made after the reload runs version 2 while the first still sleeps.
	j2 := r.originate("app")
	r.waitJobs([]*models.Job{held, j2}, 10*time.Second)
	r.idle(r.pool, 10*time.Second)
	if got := r.str("answered_by:" + j2.SessUUID); got != "2" {
		t.Fatalf("call after the reload answered by version %q, want 2", got)
	}
	if got := r.str("after_sleep:" + held.SessUUID); got != "1" {
		t.Fatalf("the waiting callback finished on version %q, want 1", got)
	}
	if r.str("teardown:1") != "true" {
		t.Fatal("teardown of version 1 did not run")
	}
	if r.num("setup:2") != int(rl.Generation) {
		t.Fatalf("setup of version 2 saw generation %d, want %d", r.num("setup:2"), rl.Generation)
	}
	if r.num("loads:2") != 2 {
		t.Fatalf("state.loads = %d after one reload, want 2 (carried over)", r.num("loads:2"))
	}
	if r.num("counter:2") != 1 {
		t.Fatalf("global counter = %d after a reload, want 1 (fresh)", r.num("counter:2"))
	}
}

// A save that does not compile and a save whose top level raises both keep
// the running version; each is logged once with file:line and counted; a
// fixed save then applies.
func TestE2EBrokenSaves(t *testing.T) {
	r := newRig(t, rigConfig{files: map[string]string{"app.lua": simpleApp(1)}, scripts: []string{"app.lua"}})
	// Line 3 has a syntax error in the middle of the file.
	syntaxBad := "-- broken\nlocal V = \"x\"\nfunction on_park(sess) if then end end\nfunction on_answer(sess) end\n"
	if err := hrtest.WriteAtomic(r.path("app.lua"), []byte(syntaxBad)); err != nil {
		t.Fatal(err)
	}
	rl := r.reload(5 * time.Second)
	var se *hotreload.SyntaxError
	if rl.OK || rl.App != "app" || !errors.As(rl.Err, &se) || se.Line != 3 {
		t.Fatalf("syntax error reload %+v", rl)
	}
	// Line 4 raises at the top level.
	runtimeBad := "-- broken at load\nlocal V = \"y\"\nfunction on_park(sess) end\nlocal t = nil; t.x = 1\n"
	if err := hrtest.WriteAtomic(r.path("app.lua"), []byte(runtimeBad)); err != nil {
		t.Fatal(err)
	}
	rl = r.reload(5 * time.Second)
	if rl.OK || rl.Err == nil || !strings.Contains(rl.Err.Error(), "app.lua:4:") {
		t.Fatalf("runtime error reload %+v", rl)
	}
	r.oneCall("app")
	if n := r.num("answered:1"); n != 2 {
		t.Fatalf("version 1 answered %d legs after the broken saves, want 2", n)
	}
	if err := hrtest.WriteAtomic(r.path("app.lua"), []byte(simpleApp(2))); err != nil {
		t.Fatal(err)
	}
	if rl = r.reload(5 * time.Second); !rl.OK {
		t.Fatalf("fixed save %+v", rl)
	}
	r.oneCall("app")
	if n := r.num("answered:2"); n != 2 {
		t.Fatalf("version 2 answered %d legs, want 2", n)
	}
	if st := r.m.Stats(); st.Reloads != 1 || st.Failed != 2 {
		t.Fatalf("stats %+v: want 1 reload and 2 failed", st)
	}
	if lines := r.logs.matching(slog.LevelWarn, "app.lua:3:"); len(lines) != 1 {
		t.Fatalf("syntax error logged %d times: %v", len(lines), lines)
	}
	if lines := r.logs.matching(slog.LevelWarn, "app.lua:4:"); len(lines) != 1 || lines[0].Level != slog.LevelError {
		t.Fatalf("load error logged %d times: %v", len(lines), lines)
	}
}

// A removed script keeps running; saved again, it is applied.
func TestE2ERemovedScriptKeepsRunning(t *testing.T) {
	r := newRig(t, rigConfig{files: map[string]string{"app.lua": simpleApp(1)}, scripts: []string{"app.lua"}})
	if err := os.Remove(r.path("app.lua")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the removal to be seen", func() bool { return r.m.Stats().Removed == 1 })
	if lines := r.logs.matching(slog.LevelWarn, "script removed"); len(lines) != 1 {
		t.Fatalf("removal logged %d times", len(lines))
	}
	r.oneCall("app")
	if r.num("answered:1") != 2 {
		t.Fatal("the removed script's app did not run")
	}
	writeFile(t, r.path("app.lua"), simpleApp(2))
	if rl := r.reload(5 * time.Second); !rl.OK {
		t.Fatalf("reload %+v", rl)
	}
	r.oneCall("app")
	if r.num("answered:2") != 2 {
		t.Fatal("the recreated script did not run")
	}
}

// Saving a module reloads every app that requires it; the apps then run
// the new module.
func TestE2EModuleSaveReloadsUsers(t *testing.T) {
	user := func(name string) string {
		return fmt.Sprintf(`-- %s: uses lib
local lib = require("lib.greet")
function on_park(sess)
  if sess:is_inbound() then sess:answer() end
end
function on_answer(sess)
  if sess:is_outbound() then
    switchlua.shared.set("%s:" .. sess.uuid, lib.version)
    sess:hangup()
  end
end
`, name, name)
	}
	lib := func(v string) string { return fmt.Sprintf("return { version = %q }\n", v) }
	r := newRig(t, rigConfig{
		files:   map[string]string{"a.lua": user("a"), "b.lua": user("b"), "other.lua": simpleApp(1), "lib/greet.lua": lib("m1")},
		scripts: []string{"a.lua", "b.lua", "other.lua"},
	})
	call := func(app string) string {
		j := r.originate(app)
		r.waitJobs([]*models.Job{j}, 10*time.Second)
		r.idle(r.pool, 10*time.Second)
		return r.str(app + ":" + j.SessUUID)
	}
	if v := call("a"); v != "m1" {
		t.Fatalf("a runs module %q, want m1", v)
	}
	if err := hrtest.WriteAtomic(r.path("lib/greet.lua"), []byte(lib("m2"))); err != nil {
		t.Fatal(err)
	}
	got := map[string]Reload{}
	for len(got) < 2 {
		rl := r.reload(5 * time.Second)
		if !rl.OK || rl.Cause != filepath.Join(r.dir, "lib/greet.lua") {
			t.Fatalf("reload %+v", rl)
		}
		got[rl.App] = rl
	}
	if _, ok := got["a"]; !ok {
		t.Fatalf("reloads %v", got)
	}
	if _, ok := got["b"]; !ok {
		t.Fatalf("reloads %v", got)
	}
	if v := call("a"); v != "m2" {
		t.Fatalf("a runs module %q after its save, want m2", v)
	}
	if v := call("b"); v != "m2" {
		t.Fatalf("b runs module %q after its save, want m2", v)
	}
	if st := r.m.Stats(); st.Reloads != 2 {
		t.Fatalf("stats %+v: want 2 reloads (a and b; other does not use lib)", st)
	}
	// A module saved with a syntax error reloads nobody and counts as failed.
	if err := hrtest.WriteAtomic(r.path("lib/greet.lua"), []byte("return {\n version = = 1 }\n")); err != nil {
		t.Fatal(err)
	}
	rl := r.reload(5 * time.Second)
	if rl.OK || rl.App != "" || rl.Err == nil {
		t.Fatalf("module syntax error %+v", rl)
	}
	if v := call("b"); v != "m2" {
		t.Fatalf("b runs module %q after a broken module save, want m2", v)
	}
}

// Without reload, the scripts are compiled once, require still serves the
// scripts' folder, and saves change nothing.
func TestE2ENoReload(t *testing.T) {
	app := `local lib = require("lib")
function on_park(sess) if sess:is_inbound() then sess:answer() end end
function on_answer(sess)
  switchlua.shared.incr("answered:" .. lib.v, 1)
  if sess:is_outbound() then sess:hangup() end
end
`
	r := newRig(t, rigConfig{
		files:   map[string]string{"app.lua": app, "lib.lua": "return { v = 'one' }"},
		scripts: []string{"app.lua"},
		opts:    Options{NoReload: true},
	})
	if r.m.Watching() || r.m.Stats().Watching {
		t.Fatal("watching with NoReload")
	}
	if err := hrtest.WriteAtomic(r.path("lib.lua"), []byte("return { v = 'two' }")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	r.oneCall("app")
	if r.num("answered:one") != 2 || r.num("answered:two") != 0 {
		t.Fatalf("answered one %d two %d", r.num("answered:one"), r.num("answered:two"))
	}
	select {
	case rl := <-r.reloads:
		t.Fatalf("reload without watching: %+v", rl)
	default:
	}
}

// Built-in apps load by name and are not watched; the default app of
// inbound calls is the first one unless told otherwise; Apps gives ids,
// weights and args.
func TestE2EBuiltinAndDefaultApp(t *testing.T) {
	r := newRig(t, rigConfig{
		files:   map[string]string{"first.lua": simpleApp(1)},
		scripts: []string{"first.lua:weight=3:greeting=hi", "builtin:TonePlay:weight=0"},
	})
	apps := r.m.Apps()
	if len(apps) != 2 || apps[0].ID != "first" || apps[0].Weight != 3 || apps[0].Args["greeting"] != "hi" ||
		apps[1].ID != "toneplay" || apps[1].Weight != 0 || apps[1].Scripts[0] != "builtin/toneplay.lua" {
		t.Fatalf("apps %+v", apps)
	}
	if r.m.DefaultApp() != "first" {
		t.Fatalf("default app %q", r.m.DefaultApp())
	}
	// A second pool serving inbound calls with the default app: calls
	// without an app header run "first".
	cfg := host.Config{DefaultApp: r.m.DefaultApp()}
	p2 := r.dial(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.m.Load(ctx, p2); err != nil {
		t.Fatal(err)
	}
	got, err := p2.Listeners()[0].Apps(ctx)
	if err != nil || strings.Join(got, ",") != "first,toneplay" {
		t.Fatalf("apps on the node %v %v", got, err)
	}
	if !r.m.Watching() {
		t.Fatal("first.lua should be watched")
	}
	j := r.originateOn(p2, r.tg, "")
	r.waitJobs([]*models.Job{j}, 10*time.Second)
	r.idle(p2, 10*time.Second)
	if n := r.num("answered:1"); n != 2 {
		t.Fatalf("a call without an app header: %d legs answered by the default app, want 2", n)
	}
	// Only built-ins: nothing to watch.
	specs, err := ParseSpecs([]string{"toneplay", "proxier"})
	if err != nil {
		t.Fatal(err)
	}
	m2, err := New(specs, Options{DefaultApp: "proxier"})
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if m2.Watching() || m2.DefaultApp() != "proxier" {
		t.Fatalf("built-ins only: watching %v default %q", m2.Watching(), m2.DefaultApp())
	}
	if _, err := m2.Module("x"); err == nil {
		t.Fatal("require without a scripts folder should fail")
	}
	if _, err := New(specs, Options{DefaultApp: "nope"}); err == nil {
		t.Fatal("an unknown default app should be an error")
	}
}

// A node dialled after the start gets the apps with Attach and follows
// reloads with the others.
func TestE2EAttachLaterNode(t *testing.T) {
	r := newRig(t, rigConfig{files: map[string]string{"app.lua": simpleApp(1)}, scripts: []string{"app.lua"}})
	tg2 := fstest.Start(t)
	if tg2.Real() {
		t.Skip("needs a second node")
	}
	p2 := r.dialTo(tg2, host.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l2 := p2.Listeners()[0]
	if err := r.m.Attach(ctx, l2); err != nil {
		t.Fatal(err)
	}
	j := r.originateOn(p2, tg2, "app")
	r.waitJobs([]*models.Job{j}, 10*time.Second)
	r.idle(p2, 10*time.Second)
	if r.num("answered:1") != 2 {
		t.Fatalf("the attached node did not run the app: %d", r.num("answered:1"))
	}
	if err := hrtest.WriteAtomic(r.path("app.lua"), []byte(simpleApp(2))); err != nil {
		t.Fatal(err)
	}
	if rl := r.reload(5 * time.Second); !rl.OK || rl.Nodes != 2 {
		t.Fatalf("reload %+v: want live on 2 nodes", rl)
	}
	j = r.originateOn(p2, tg2, "app")
	r.waitJobs([]*models.Job{j}, 10*time.Second)
	r.idle(p2, 10*time.Second)
	if r.num("answered:2") != 2 {
		t.Fatal("the attached node did not follow the reload")
	}
	// A closed node is dropped from the reloads.
	l2.Close()
	if err := hrtest.WriteAtomic(r.path("app.lua"), []byte(simpleApp(3))); err != nil {
		t.Fatal(err)
	}
	if rl := r.reload(5 * time.Second); !rl.OK || rl.Nodes != 1 || rl.Err != nil {
		t.Fatalf("reload %+v: want live on 1 node", rl)
	}
}

// Scripts under one app id compose in load order, share ctx.args, and
// saving one of them reloads the app with all of them.
func TestE2EComposedApp(t *testing.T) {
	first := func(v int) string {
		return fmt.Sprintf(`-- first part, version %d
function setup(ctx) switchlua.shared.set("greeting", ctx.args.greeting) end
function on_park(sess) if sess:is_inbound() then sess:answer() end end
function on_answer(sess)
  if sess:is_outbound() then sess.vars.order = "first%d" end
end
`, v, v)
	}
	second := `-- second part
function on_answer(sess)
  if sess:is_outbound() then
    switchlua.shared.set("order:" .. sess.uuid, sess.vars.order .. ",second")
    sess:hangup()
  end
end
`
	r := newRig(t, rigConfig{
		files:   map[string]string{"first.lua": first(1), "second.lua": second},
		scripts: []string{"first.lua:app=main:greeting=hi", "second.lua:app=main"},
	})
	if apps := r.m.Apps(); len(apps) != 1 || apps[0].ID != "main" || len(apps[0].Scripts) != 2 {
		t.Fatalf("apps %+v", apps)
	}
	if r.str("greeting") != "hi" {
		t.Fatalf("ctx.args.greeting = %q", r.str("greeting"))
	}
	call := func() string {
		j := r.originate("main")
		r.waitJobs([]*models.Job{j}, 10*time.Second)
		r.idle(r.pool, 10*time.Second)
		return r.str("order:" + j.SessUUID)
	}
	if got := call(); got != "first1,second" {
		t.Fatalf("callbacks ran as %q, want first1,second", got)
	}
	if err := hrtest.WriteAtomic(r.path("first.lua"), []byte(first(2))); err != nil {
		t.Fatal(err)
	}
	if rl := r.reload(5 * time.Second); !rl.OK || rl.App != "main" {
		t.Fatalf("reload %+v", rl)
	}
	if got := call(); got != "first2,second" {
		t.Fatalf("after the reload callbacks ran as %q, want first2,second", got)
	}
}

// Only the scripts given count in their folder (hotreload's Files): an
// unrelated broken .lua beside them is neither compiled nor reported, even
// when saved again, while a module beside them that a script requires
// (literally or computed) is served, and saving it reloads its user.
func TestE2EUnrelatedScriptsBesideIgnored(t *testing.T) {
	app := `-- uses helper and (computed) helper2 beside it
local h = require("helper")
local h2 = require("help" .. "er2")
function on_park(sess)
  if sess:is_inbound() then sess:answer() end
end
function on_answer(sess)
  if sess:is_outbound() then
    switchlua.shared.set("v:" .. sess.uuid, h.v .. "/" .. h2.v)
    sess:hangup()
  end
end
`
	broken := "-- not ours\nfunction on_park(sess) if then end end\n"
	r := newRig(t, rigConfig{
		files: map[string]string{
			"app.lua": app, "helper.lua": `return { v = "h1" }`, "helper2.lua": `return { v = "c1" }`,
			"junk.lua": broken, "other.lua": simpleApp(1),
		},
		scripts: []string{"app.lua"},
	})
	call := func() string {
		j := r.originate("app")
		r.waitJobs([]*models.Job{j}, 10*time.Second)
		r.idle(r.pool, 10*time.Second)
		return r.str("v:" + j.SessUUID)
	}
	if v := call(); v != "h1/c1" {
		t.Fatalf("app runs %q, want h1/c1", v)
	}
	// Saving the unrelated files: no reload, nothing counted or logged.
	if err := hrtest.WriteAtomic(r.path("junk.lua"), []byte(broken+"-- again\n")); err != nil {
		t.Fatal(err)
	}
	if err := hrtest.WriteAtomic(r.path("other.lua"), []byte(simpleApp(2))); err != nil {
		t.Fatal(err)
	}
	// The module save that follows is applied after them (one watcher
	// loop, path order by debounce): its reload is the next outcome.
	if err := hrtest.WriteAtomic(r.path("helper.lua"), []byte(`return { v = "h2" }`)); err != nil {
		t.Fatal(err)
	}
	rl := r.reload(5 * time.Second)
	if !rl.OK || rl.App != "app" || rl.Cause != r.path("helper.lua") {
		t.Fatalf("reload %+v: want app reloaded by helper.lua", rl)
	}
	if v := call(); v != "h2/c1" {
		t.Fatalf("app runs %q after the module save, want h2/c1", v)
	}
	if rl, ok := r.nextReload(300 * time.Millisecond); ok {
		t.Fatalf("unexpected reload %+v", rl)
	}
	if st := r.m.Stats(); st.Reloads != 1 || st.Failed != 0 {
		t.Fatalf("stats %+v: want 1 reload, 0 failed", st)
	}
	if st := r.m.w.Stats(); st.Failed != 0 {
		t.Fatalf("watcher stats %+v: junk.lua was compiled", st)
	}
	for _, name := range []string{"junk.lua", "other.lua"} {
		if _, ok := r.m.w.Script(r.path(name)); ok {
			t.Errorf("the watcher tracks %s", name)
		}
		if lines := r.logs.matching(slog.LevelDebug, name); len(lines) != 0 {
			t.Errorf("%s reported: %v", name, lines)
		}
	}
}
