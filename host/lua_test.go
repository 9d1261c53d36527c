package host

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchlua/switchlua/bindings"
	"github.com/switchlua/switchlua/esl"
	"github.com/switchlua/switchlua/esl/fssim/fstest"
	"github.com/switchlua/switchlua/models"
)

// BackgroundAPI sends `bgapi` with its own Job-UUID and completes with the
// BACKGROUND_JOB body; "-ERR" bodies, refused bgapis and a lost connection
// are errors; its jobs are not the apps' events.
func TestBackgroundAPI(t *testing.T) {
	l, c, rt := newTestListener(t, Config{})
	c.mu.Lock()
	c.reply = func(cmd string) (string, error) {
		if strings.HasPrefix(cmd, "bgapi refused") {
			return "", errors.New("-ERR refused")
		}
		return "+OK Job-UUID: x", nil
	}
	c.mu.Unlock()
	var mu sync.Mutex
	got := map[string]string{}
	call := func(cmd string) {
		l.BackgroundAPI(cmd, func(res string, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				res = "error: " + err.Error()
			}
			got[cmd] = res
		})
	}
	onLoop(t, l, func() {
		for _, cmd := range []string{"status", "bad", "refused", "two\nlines", "slow"} {
			call(cmd)
		}
	})
	jobOf := func(cmd string) string {
		sent := c.waitCommand(t, "bgapi "+cmd+"\nJob-UUID: ")
		return strings.TrimPrefix(sent, "bgapi "+cmd+"\nJob-UUID: ")
	}
	c.event(jobEvent(jobOf("status"), "UP 0 years, 0 days\n"))
	c.event(jobEvent(jobOf("bad"), "-ERR bad Command not found!\n"))
	jobOf("slow")
	c.state(func() { l.onState(esl.StateChange{State: esl.StateDisconnected, Err: esl.ErrConnectionLost}) })
	c.sync(t)
	want := map[string]string{
		"status":     "UP 0 years, 0 days",
		"bad":        "error: -ERR bad Command not found!",
		"refused":    "error: -ERR refused",
		"two\nlines": `error: host: api command "two\nlines" has a line break`,
		"slow":       "error: " + CauseLostConnection,
	}
	mu.Lock()
	defer mu.Unlock()
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%q: got %q, want %q", k, got[k], w)
		}
	}
	onLoop(t, l, func() {
		if len(l.bgCalls) != 0 {
			t.Errorf("%d calls left", len(l.bgCalls))
		}
	})
	for _, x := range rt.logged() {
		if strings.Contains(x, "BACKGROUND_JOB") {
			t.Errorf("a BackgroundAPI job reached the apps: %s", x)
		}
	}
	if st := l.Stats(); st.Jobs != 0 || st.JobsLaunched != 0 {
		t.Errorf("counted as jobs: %+v", st)
	}
}

// switchlua.api and ctx.api run their commands with bgapi on the node (a
// plain api would freeze the node's events while it runs) and return the
// BACKGROUND_JOB result, or nil and the "-ERR" text.
func TestE2ELuaAPIUsesBgapi(t *testing.T) {
	n := fstest.Start(t)
	shared := bindings.NewShared()
	var mu sync.Mutex
	var jobs []string
	cfg := Config{OnEvent: func(ev models.Event, _ *models.Session) {
		if ev.Name() == "BACKGROUND_JOB" {
			mu.Lock()
			jobs = append(jobs, ev.Get("Job-Command")+" "+ev.Get("Job-Command-Arg"))
			mu.Unlock()
		}
	}}
	cfg.Runtime.Shared = shared
	l := e2eListener(t, n, cfg, luaApp(t, "api", `
		local sh = switchlua.shared
		function setup(ctx) sh.set("setup", ctx.api("global_getvar hostname")) end
		function on_park(sess)
		  if not sess:is_inbound() then return end
		  sess:answer()
		  local v, err = switchlua.api("nosuchcommand_switchlua")
		  sh.set("bad", tostring(v) .. "|" .. tostring(err))
		  sh.set("prefixed", switchlua.api("api global_getvar hostname"))
		end`))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	host, err := l.Command(ctx, "global_getvar hostname")
	if err != nil {
		t.Fatal(err)
	}
	sess, err := Caller(l).Call(ctx, n.Dest(fstest.NewUser("api")), tagged(n, OriginateOptions{App: "api"}))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the app's api results", func() bool {
		_, ok := shared.Get("prefixed")
		return ok
	})
	hangup(t, l, sess)
	idle(t, l)
	setup, _ := shared.Get("setup")
	bad, _ := shared.Get("bad")
	prefixed, _ := shared.Get("prefixed")
	if setup != host || prefixed != host || !strings.HasPrefix(bad.(string), "nil|-ERR nosuchcommand_switchlua") {
		t.Fatalf("setup %q prefixed %q bad %q (hostname %q)", setup, prefixed, bad, host)
	}
	mu.Lock()
	defer mu.Unlock()
	var ours int
	for _, j := range jobs {
		if j == "global_getvar hostname" || j == "nosuchcommand_switchlua " {
			ours++
		}
	}
	if ours != 3 {
		t.Fatalf("BACKGROUND_JOBs seen %q: want the app's 3 commands", jobs)
	}
	if st := l.Stats(); st.ScriptErrors != 0 {
		t.Fatalf("script errors %d", st.ScriptErrors)
	}
}

// A flow that outlives its session (it sleeps after the hangup, past
// CHANNEL_DESTROY) still reads the final state.
func TestE2ESessionStateAfterDestroy(t *testing.T) {
	n := fstest.Start(t)
	shared := bindings.NewShared()
	cfg := Config{}
	cfg.Runtime.Shared = shared
	l := e2eListener(t, n, cfg, luaApp(t, "after", `
		function on_park(sess) if sess:is_inbound() then sess:answer() end end
		function on_hangup(sess)
		  sleep(0.3) -- CHANNEL_DESTROY comes meanwhile
		  if sess.hungup then
		    local t = sess.times
		    switchlua.shared.set("after:" .. sess.uuid, table.concat({
		      tostring(sess.gone), tostring(sess.hungup), tostring(sess.cause), tostring(sess.answered),
		      type(t.create), type(t.answer), type(t.hangup), tostring(t.hangup >= t.answer),
		      tostring(sess.call ~= nil and sess.call.uuid ~= nil), tostring(sess["Unique-ID"] == sess.uuid),
		      tostring(select(2, sess:answer()))}, " "))
		  end
		end`))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	sess, err := Caller(l).Call(ctx, n.Dest(fstest.NewUser("after")), tagged(n, OriginateOptions{App: "after"}))
	if err != nil {
		t.Fatal(err)
	}
	uuid := sess.UUID
	hangup(t, l, sess)
	idle(t, l)
	var got any
	eventually(t, 5*time.Second, "the flow after the destroy", func() bool {
		got, _ = shared.Get("after:" + uuid)
		return got != nil
	})
	want := "true true NORMAL_CLEARING true number number number true true true session " + uuid + " is gone"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	if st := l.Stats(); st.ScriptErrors != 0 {
		t.Fatalf("script errors %d", st.ScriptErrors)
	}
}

// A reload whose setup raises is refused: Load returns the error with
// script:line and the running generation keeps the calls (its setup runs
// again after its teardown).
func TestE2ESetupErrorKeepsGeneration(t *testing.T) {
	n := fstest.Start(t)
	shared := bindings.NewShared()
	cfg := Config{}
	cfg.Runtime.Shared = shared
	v1 := luaApp(t, "gen", `
		function setup() switchlua.shared.incr("setups") end
		function on_park(sess)
		  if sess:is_inbound() then switchlua.shared.set("handled", "v1"); sess:answer() end
		end`)
	l := e2eListener(t, n, cfg, v1)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	v2 := luaApp(t, "gen", "function on_park(sess) switchlua.shared.set('handled', 'v2') end\nfunction setup()\n  error('no database')\nend")
	err := l.Load(ctx, v2)
	if err == nil || errors.Is(err, ErrSubscribe) || !strings.Contains(err.Error(), "gen.lua:3: no database") {
		t.Fatalf("load: %v", err)
	}
	sess, err := Caller(l).Call(ctx, n.Dest(fstest.NewUser("gen")), tagged(n, OriginateOptions{App: "gen"}))
	if err != nil {
		t.Fatal(err)
	}
	hangup(t, l, sess)
	idle(t, l)
	handled, _ := shared.Get("handled")
	setups, _ := shared.Get("setups")
	if handled != "v1" || setups != 2.0 {
		t.Fatalf("handled by %v, %v setups", handled, setups)
	}
}
