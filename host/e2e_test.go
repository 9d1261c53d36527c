package host

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"weak"

	"github.com/switchlua/switchlua/bindings"
	"github.com/switchlua/switchlua/esl"
	"github.com/switchlua/switchlua/esl/fssim/fstest"
	"github.com/switchlua/switchlua/models"
)

// End-to-end tests: a Listener over TCP to the node of the shared harness
// esl/fssim/fstest (the simulator, or the real FreeSWITCH of
// SWITCHLUA_TEST_FS), running the real apps of scripts/. Calls carry the
// harness's tag so a real FreeSWITCH is cleaned up after each test.

const (
	toneplayLua = "../scripts/builtin/toneplay.lua"
	proxierLua  = "../scripts/builtin/proxier.lua"
	ivrLua      = "../scripts/ivr.lua"
)

// e2eListener dials the node with cfg and loads apps.
func e2eListener(t *testing.T, n *fstest.Target, cfg Config, apps ...bindings.AppSpec) *Listener {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if cfg.Password == "" {
		cfg.Password = n.Password
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	l, err := Dial(ctx, n.Addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	for _, a := range apps {
		if err := l.Load(ctx, a); err != nil {
			t.Fatalf("load %s: %v", a.ID, err)
		}
	}
	return l
}

// tagged is o with the harness's tag variable (see fstest.TagVar).
func tagged(n *fstest.Target, o OriginateOptions) OriginateOptions {
	vars := map[string]string{fstest.TagVar: n.Tag}
	for k, v := range o.Vars {
		vars[k] = v
	}
	o.Vars = vars
	return o
}

// appWith compiles an app with args.
func appWith(t *testing.T, id string, args map[string]string, paths ...string) bindings.AppSpec {
	a := compileApp(t, id, paths...)
	a.Args = args
	return a
}

// eventually polls cond until it holds or d passes.
var eventually = fstest.Eventually

// idle waits until the Listener tracks nothing and checks that no call,
// session or job is left in its memory.
func idle(t *testing.T, l *Listener) {
	t.Helper()
	eventually(t, 15*time.Second, "no session, call or job left", func() bool {
		st := l.Stats()
		return st.Sessions == 0 && st.Calls == 0 && st.Jobs == 0
	})
	onLoop(t, l, func() {
		if n := len(l.sessions) + len(l.calls) + len(l.jobs) + len(l.origs); n != 0 {
			t.Errorf("listener still holds %d sessions, %d calls, %d jobs, %d originates", len(l.sessions), len(l.calls), len(l.jobs), len(l.origs))
		}
	})
}

func peerOf(t *testing.T, l *Listener, s *models.Session) *models.Session {
	t.Helper()
	var p *models.Session
	eventually(t, 10*time.Second, "the peer leg", func() bool {
		onLoop(t, l, func() {
			if s.Call != nil {
				p = s.Call.Peer(s)
			}
		})
		return p != nil
	})
	return p
}

func hangup(t *testing.T, l *Listener, s *models.Session) {
	t.Helper()
	onLoop(t, l, func() { s.Hangup("NORMAL_CLEARING", nil) })
}

func get(t *testing.T, l *Listener, fn func()) { t.Helper(); onLoop(t, l, fn) }

// ranApp reports whether s has executed app (arg containing argPart).
func ranApp(s *models.Session, app, argPart string) bool {
	if s.Get("Application") == app && strings.Contains(s.Get("Application-Data"), argPart) {
		return true
	}
	return s.Get("variable_current_application") == app
}

func TestE2ETonePlaySelfCall(t *testing.T) {
	n := fstest.Start(t)
	l := e2eListener(t, n, Config{Events: []string{"CHANNEL_EXECUTE"}}, compileApp(t, "toneplay", toneplayLua))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c := Caller(l)
	sess, err := c.Call(ctx, n.Dest(fstest.NewUser("doggy")), tagged(n, OriginateOptions{App: "toneplay"}))
	if err != nil {
		t.Fatal(err)
	}
	var out, answered bool
	get(t, l, func() { out, answered = sess.IsOutbound(), sess.Answered })
	if !out || !answered {
		t.Fatalf("sync caller returned outbound=%v answered=%v", out, answered)
	}
	peer := peerOf(t, l, sess)
	// Both legs answered; the tone on the outbound leg, echo on the inbound one.
	if err := c.WaitFor(ctx, peer, func(s *models.Session) bool { return s.Answered && s.IsInbound() }); err != nil {
		t.Fatalf("inbound leg: %v", err)
	}
	if err := c.WaitFor(ctx, sess, func(s *models.Session) bool { return ranApp(s, "playback", "tone_stream://") }); err != nil {
		t.Fatalf("no tone on the outbound leg: %v", err)
	}
	if err := c.WaitFor(ctx, peer, func(s *models.Session) bool { return ranApp(s, "echo", "") }); err != nil {
		t.Fatalf("no echo on the inbound leg: %v", err)
	}
	st := l.Stats()
	if st.Sessions != 2 || st.Calls != 1 || st.Answered != 2 || st.SessionsPerApp["toneplay"] != 2 {
		t.Fatalf("stats during the call: %+v", st)
	}
	hangup(t, l, sess)
	if err := c.WaitFor(ctx, peer, func(s *models.Session) bool { return s.Hungup }); err != nil {
		t.Fatal(err)
	}
	idle(t, l)
	st = l.Stats()
	if st.HangupCauses["NORMAL_CLEARING"] != 2 || st.FailedCalls != 0 || st.ScriptErrors != 0 || st.JobsOK != 1 {
		t.Fatalf("stats after the call: %+v", st)
	}
}

// Proxier bridges the inbound leg to its request URI. The app is chosen by
// Caller-Destination-Number here, so the bridged leg (to toneplay@node) runs
// TonePlay instead of being proxied again.
func TestE2EProxier(t *testing.T) {
	n := fstest.Start(t)
	// Unique users, which are also the app ids.
	proxier, toneplay := fstest.NewUser("proxier"), fstest.NewUser("toneplay")
	l := e2eListener(t, n, Config{AppHeader: "Caller-Destination-Number"},
		appWith(t, proxier, map[string]string{"dest_url": toneplay + "@" + n.SIPAddr}, proxierLua),
		compileApp(t, toneplay, toneplayLua))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	sess, err := Caller(l).Call(ctx, n.Dest(proxier), tagged(n, OriginateOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	// Four legs: ours (A), the proxied inbound (B), the bridge's outbound (C)
	// and the inbound leg TonePlay answers (D). All answered.
	eventually(t, 10*time.Second, "four answered legs", func() bool {
		st := l.Stats()
		return st.Sessions == 4 && st.Answered == 4
	})
	st := l.Stats()
	if st.SessionsPerApp[proxier] != 2 || st.SessionsPerApp[toneplay] != 2 {
		t.Fatalf("apps: %v", st.SessionsPerApp)
	}
	hangup(t, l, sess)
	idle(t, l)
	if st := l.Stats(); st.ScriptErrors != 0 || st.TotalSessions != 4 {
		t.Fatalf("stats after: %+v", st)
	}
}

// Proxier to a busy far end: the bridge fails, and the proxied leg is hung
// up with the far end's cause instead of staying parked (the bridge's +OK
// only says FreeSWITCH took the command). Every leg ends USER_BUSY: D (the
// busy app), C (its 486), B (Proxier) and A (B's 486).
func TestE2EProxierBusy(t *testing.T) {
	n := fstest.Start(t)
	proxier, busy := fstest.NewUser("proxier"), fstest.NewUser("busy")
	l := e2eListener(t, n, Config{AppHeader: "Caller-Destination-Number"},
		appWith(t, proxier, map[string]string{"dest_url": busy + "@" + n.SIPAddr}, proxierLua),
		compileApp(t, busy, "testdata/busy.lua"))
	j, err := l.Originate(n.Dest(proxier), tagged(n, OriginateOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-j.Done():
	case <-time.After(15 * time.Second):
		t.Fatal("the originate did not end: the proxied leg was left parked")
	}
	if j.Successful() || j.Cause() != "USER_BUSY" {
		t.Fatalf("originate: ok %v cause %q, want USER_BUSY", j.Successful(), j.Cause())
	}
	idle(t, l)
	st := l.Stats()
	if st.HangupCauses["USER_BUSY"] != 4 || st.TotalSessions != 4 || st.ScriptErrors != 0 || st.ParkTimeouts != 0 {
		t.Fatalf("want 4 legs ended USER_BUSY: %+v", st)
	}
}

// scripts/ivr.lua's digit 1 bridges the caller to dest: a busy far end hangs
// the caller up with USER_BUSY; an answered one is bridged, and when it
// hangs up the caller is hung up too (instead of going back to park).
func TestE2EIVRTransfer(t *testing.T) {
	n := fstest.Start(t)
	for _, far := range []string{"busy", "answer"} {
		t.Run(far, func(t *testing.T) {
			ivr, dest := fstest.NewUser("ivr"), fstest.NewUser(far)
			farApp := compileApp(t, dest, "testdata/busy.lua")
			if far == "answer" {
				farApp = compileApp(t, dest, toneplayLua)
			}
			app := appWith(t, ivr, map[string]string{
				"prompt": "tone_stream://%(3000,0,440)", "timeout": "5",
				"caller": "press:1", "dest": dest + "@" + n.SIPAddr,
			}, ivrLua, "testdata/ivr_caller.lua")
			l := e2eListener(t, n, Config{AppHeader: "Caller-Destination-Number"}, app, farApp)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c := Caller(l)
			sess, err := c.Call(ctx, n.Dest(ivr), tagged(n, OriginateOptions{}))
			if err != nil {
				t.Fatal(err)
			}
			peer := peerOf(t, l, sess)
			want := "USER_BUSY"
			if far == "answer" {
				want = "NORMAL_CLEARING"
				// Bridged: the far end's two legs answered (C by D's
				// answer). Then the far end (D) hangs up.
				var d *models.Session
				eventually(t, 10*time.Second, "the caller bridged to the far end", func() bool {
					if l.Stats().Answered < 4 {
						return false
					}
					onLoop(t, l, func() {
						for _, e := range l.sessions {
							if e.s.AppID == dest && e.s.IsInbound() {
								d = e.s
							}
						}
					})
					return d != nil
				})
				hangup(t, l, d)
			}
			if err := c.WaitFor(ctx, peer, func(s *models.Session) bool { return s.Hungup }); err != nil {
				t.Fatalf("the IVR leg was not hung up: %v", err)
			}
			var cause string
			get(t, l, func() { cause = peer.Cause })
			if cause != want {
				t.Fatalf("IVR leg hung up with %q, want %q", cause, want)
			}
			idle(t, l)
			if st := l.Stats(); st.ScriptErrors != 0 || st.TotalSessions != 4 {
				t.Fatalf("stats: %+v", st)
			}
		})
	}
}

// The IVR flow of scripts/ivr.lua on the inbound leg; the outbound leg plays
// the caller (testdata/ivr_caller.lua).
func TestE2EIVR(t *testing.T) {
	n := fstest.Start(t)
	cases := []struct {
		mode    string
		timeout string
		cause   string        // the inbound leg's hangup cause ("" any)
		minRun  time.Duration // on_park of the inbound leg ran at least...
		maxRun  time.Duration // ...and at most this long
	}{
		{"press:2", "5", "NORMAL_CLEARING", 0, 4 * time.Second},
		{"silent", "1", "NO_USER_RESPONSE", time.Second, 4 * time.Second},
		{"hangup", "5", "", 0, 4 * time.Second}, // the wait ends with "hangup", not the timeout
	}
	for _, tc := range cases {
		t.Run(tc.mode, func(t *testing.T) {
			var mu sync.Mutex
			runs := map[string]bindings.CallbackInfo{}
			cfg := Config{}
			cfg.Runtime.OnCallback = func(ci bindings.CallbackInfo) {
				if ci.Callback == "on_park" {
					mu.Lock()
					runs[ci.UUID] = ci
					mu.Unlock()
				}
			}
			id := "ivr_" + strings.ReplaceAll(tc.mode, ":", "")
			app := appWith(t, id, map[string]string{
				"prompt": "tone_stream://%(3000,0,440)", "goodbye": "tone_stream://%(300,0,440)",
				"timeout": tc.timeout, "caller": tc.mode,
			}, ivrLua, "testdata/ivr_caller.lua")
			l := e2eListener(t, n, cfg, app)
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			c := Caller(l)
			sess, err := c.Call(ctx, n.Dest(fstest.NewUser("ivr")), tagged(n, OriginateOptions{App: id}))
			if err != nil {
				t.Fatal(err)
			}
			peer := peerOf(t, l, sess)
			var in string
			get(t, l, func() { in = peer.UUID })
			if err := c.WaitFor(ctx, peer, func(s *models.Session) bool { return s.Hungup }); err != nil {
				t.Fatal(err)
			}
			var cause string
			get(t, l, func() { cause = peer.Cause })
			if tc.cause != "" && cause != tc.cause {
				t.Fatalf("inbound leg hung up with %q, want %q", cause, tc.cause)
			}
			if tc.mode != "hangup" {
				if err := c.WaitFor(ctx, sess, func(s *models.Session) bool { return s.Hungup }); err != nil && err != ErrSessionGone {
					t.Fatal(err)
				}
			}
			eventually(t, 10*time.Second, "on_park of the inbound leg to finish", func() bool {
				mu.Lock()
				defer mu.Unlock()
				_, ok := runs[in]
				return ok
			})
			mu.Lock()
			ci := runs[in]
			mu.Unlock()
			if ci.Err != nil || ci.Elapsed < tc.minRun || ci.Elapsed > tc.maxRun {
				t.Fatalf("on_park ran %v (want %v..%v), err %v", ci.Elapsed, tc.minRun, tc.maxRun, ci.Err)
			}
			idle(t, l)
			if st := l.Stats(); st.ScriptErrors != 0 {
				t.Fatalf("script errors: %d", st.ScriptErrors)
			}
		})
	}
}

// A callback that fails is counted and stops nothing: calls still complete.
func TestE2EFailingCallback(t *testing.T) {
	n := fstest.Start(t)
	var mu sync.Mutex
	var errs []error
	cfg := Config{}
	cfg.Runtime.OnCallback = func(ci bindings.CallbackInfo) {
		if ci.Err != nil {
			mu.Lock()
			errs = append(errs, ci.Err)
			mu.Unlock()
		}
	}
	l := e2eListener(t, n, cfg, compileApp(t, "failing", toneplayLua, "testdata/failing.lua"))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c := Caller(l)
	for i := range 3 {
		sess, err := c.Call(ctx, n.Dest(fstest.NewUser("fail")), tagged(n, OriginateOptions{App: "failing"}))
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		peer := peerOf(t, l, sess)
		if err := c.WaitFor(ctx, peer, func(s *models.Session) bool { return s.Answered }); err != nil {
			t.Fatal(err)
		}
		hangup(t, l, sess)
	}
	idle(t, l)
	st := l.Stats()
	if st.TotalCalls != 3 || st.Answered != 6 || st.FailedCalls != 0 || st.ScriptErrors < 6 {
		t.Fatalf("stats %+v", st)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(errs[0].Error(), "failing.lua:") || !strings.Contains(errs[0].Error(), "deliberate failure") {
		t.Fatalf("error does not say script:line: %v", errs[0])
	}
}

// A callback that never yields is stopped by the CPU budget; the call and
// the Listener go on.
func TestE2ERunawayLoopStopped(t *testing.T) {
	n := fstest.Start(t)
	errc := make(chan bindings.CallbackInfo, 16)
	cfg := Config{}
	cfg.Runtime.CPUBudget = 50 * time.Millisecond
	cfg.Runtime.OnCallback = func(ci bindings.CallbackInfo) {
		if ci.Err != nil {
			errc <- ci
		}
	}
	l := e2eListener(t, n, cfg, compileApp(t, "runaway", toneplayLua, "testdata/runaway.lua"))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c := Caller(l)
	sess, err := c.Call(ctx, n.Dest(fstest.NewUser("loop")), tagged(n, OriginateOptions{App: "runaway"}))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case ci := <-errc:
		if ci.Callback != "on_answer" || ci.Duration > 5*time.Second {
			t.Fatalf("stopped %s after %v: %v", ci.Callback, ci.Duration, ci.Err)
		}
		t.Logf("stopped after %v: %v", ci.Duration, ci.Err)
	case <-ctx.Done():
		t.Fatal("runaway callback never stopped")
	}
	// The Listener still serves the call.
	peer := peerOf(t, l, sess)
	if err := c.WaitFor(ctx, peer, func(s *models.Session) bool { return s.Answered }); err != nil {
		t.Fatal(err)
	}
	hangup(t, l, sess)
	idle(t, l)
	if st := l.Stats(); st.ScriptErrors != 1 || st.HangupCauses["NORMAL_CLEARING"] != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestE2ESandbox(t *testing.T) {
	n := fstest.Start(t)
	shared := bindings.NewShared()
	cfg := Config{}
	cfg.Runtime.Shared = shared
	l := e2eListener(t, n, cfg, compileApp(t, "sandbox", "testdata/sandbox.lua"))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	sess, err := Caller(l).Call(ctx, n.Dest(fstest.NewUser("sandbox")), tagged(n, OriginateOptions{App: "sandbox"}))
	if err != nil {
		t.Fatal(err)
	}
	v, ok := shared.Get("sandbox")
	if !ok || v != "closed" {
		t.Fatalf("sandbox let the script reach: %v", v)
	}
	hangup(t, l, sess)
	idle(t, l)
}

// With a nonsense tracking header, every leg is a call of its own.
func TestE2EUntrackedCalls(t *testing.T) {
	n := fstest.Start(t)
	l := e2eListener(t, n, Config{TrackingHeaders: []string{"variable_doggypants"}}, compileApp(t, "toneplay", toneplayLua))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	sess, err := Caller(l).Call(ctx, n.Dest(fstest.NewUser("jonesy")), tagged(n, OriginateOptions{App: "toneplay"}))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "two sessions", func() bool { return l.Stats().Sessions == 2 })
	if st := l.Stats(); st.Calls != 2 {
		t.Fatalf("%d calls for 2 untracked legs", st.Calls)
	}
	hangup(t, l, sess)
	idle(t, l)
}

// An inbound call that no app takes is hung up after the park timeout
// (switchio issue #47), and its originate fails.
func TestE2EParkTimeout(t *testing.T) {
	n := fstest.Start(t)
	l := e2eListener(t, n, Config{ParkTimeout: 300 * time.Millisecond}, compileApp(t, "toneplay", toneplayLua))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	j, err := l.Originate(n.Dest(fstest.NewUser("nobody")), tagged(n, OriginateOptions{App: "not-loaded", Timeout: 10 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-j.Done():
	case <-ctx.Done():
		t.Fatal("originate never completed")
	}
	if j.Successful() {
		t.Fatal("originate to an untaken park succeeded")
	}
	idle(t, l)
	st := l.Stats()
	if st.ParkTimeouts != 1 || st.HangupCauses[CauseParkTimeout] < 1 || st.OriginateFailures[j.Cause()] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// 1000 concurrent calls are tracked, then the counts go back to 0 and no
// session stays in memory.
func TestE2E1000ConcurrentCalls(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	n := fstest.Start(t)
	const calls = 1000
	app := "load_" + esl.NewUUID()[:8]
	l := e2eListener(t, n, Config{InboxSize: 1024}, compileApp(t, app, toneplayLua))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, cmd := range []string{"fsctl sps 10000", "fsctl max_sessions 10000"} {
		if _, err := l.Command(ctx, cmd); err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
	}
	// FreeSWITCH applies a new sessions-per-second limit from the next second.
	time.Sleep(1100 * time.Millisecond)
	dest := n.Dest(fstest.NewUser("load"))
	start := time.Now()
	jobs := make([]*models.Job, 0, calls)
	for range calls {
		j, err := l.Originate(dest, tagged(n, OriginateOptions{App: app}))
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, j)
	}
	for _, j := range jobs {
		select {
		case <-j.Done():
		case <-ctx.Done():
			t.Fatalf("originates not done: %+v", l.Stats())
		}
		if !j.Successful() {
			t.Fatalf("originate failed: %s", j.Cause())
		}
	}
	t.Logf("%d originates done after %v", calls, time.Since(start))
	eventually(t, 30*time.Second, "1000 calls with 2000 answered legs", func() bool {
		st := l.Stats()
		return st.Sessions == 2*calls && st.Answered == 2*calls
	})
	var refs []weak.Pointer[models.Session]
	get(t, l, func() {
		if len(l.calls) != calls {
			t.Errorf("%d calls tracked, want %d", len(l.calls), calls)
		}
		for _, e := range l.sessions {
			refs = append(refs, weak.Make(e.s))
			if e.s.Call.Len() != 2 {
				t.Errorf("call %s has %d legs", e.s.Call.UUID, e.s.Call.Len())
			}
		}
	})
	if _, err := l.Command(ctx, "hupall NORMAL_CLEARING sip_h_X-switchlua_app "+app); err != nil {
		t.Fatal(err)
	}
	t.Logf("all answered after %v", time.Since(start))
	idle(t, l)
	t.Logf("all gone after %v", time.Since(start))
	st := l.Stats()
	if st.TotalCalls != calls || st.HangupCauses["NORMAL_CLEARING"] != 2*calls || st.FailedCalls != 0 || st.ScriptErrors != 0 {
		t.Fatalf("stats %+v", st)
	}
	// Nothing (host, models, bindings) still references a session.
	eventually(t, 5*time.Second, "sessions to be collected", func() bool {
		runtime.GC()
		for _, r := range refs {
			if r.Value() != nil {
				return false
			}
		}
		return true
	})
}

// After the connection drops, the sessions FreeSWITCH ended meanwhile are
// closed with CauseVanished; the others stay tracked.
func TestE2EReconnectReconcile(t *testing.T) {
	n := fstest.Start(t)
	sim := n.RequireSim(t)
	cfg := Config{ESL: esl.Options{ReconnectMin: time.Second, ReconnectMax: time.Second}}
	l := e2eListener(t, n, cfg, compileApp(t, "toneplay", toneplayLua))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c := Caller(l)
	var legs [][2]string
	for range 3 {
		sess, err := c.Call(ctx, n.Dest(fstest.NewUser("rc")), tagged(n, OriginateOptions{App: "toneplay"}))
		if err != nil {
			t.Fatal(err)
		}
		peer := peerOf(t, l, sess)
		get(t, l, func() { legs = append(legs, [2]string{sess.UUID, peer.UUID}) })
	}
	eventually(t, 5*time.Second, "6 sessions", func() bool { return l.Stats().Sessions == 6 })
	sim.DropConnections()
	eventually(t, 5*time.Second, "the listener to notice the drop", func() bool { return !l.Stats().Connected })
	// A second connection hangs up two calls while the Listener is away
	// (it redials after a second).
	other := n.Dial(t, esl.Options{})
	for _, call := range legs[:2] {
		if _, err := other.API(ctx, "uuid_kill "+call[0]); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 5*time.Second, "the killed channels to go", func() bool { return sim.ActiveChannels() == 2 })
	eventually(t, 10*time.Second, "reconnect and reconcile", func() bool {
		st := l.Stats()
		return st.Reconnects == 1 && st.Vanished == 4 && st.Sessions == 2
	})
	st := l.Stats()
	if st.Sessions != 2 || st.Calls != 1 || st.HangupCauses[CauseVanished] != 4 || !st.Connected {
		t.Fatalf("stats after reconcile: %+v", st)
	}
	get(t, l, func() {
		if l.Session(legs[2][0]) == nil || l.Session(legs[2][1]) == nil {
			t.Error("the live call was closed")
		}
	})
	// The live call still works after the reconnect.
	if _, err := l.Command(ctx, "uuid_kill "+legs[2][0]); err != nil {
		t.Fatal(err)
	}
	idle(t, l)
	if st := l.Stats(); st.HangupCauses["NORMAL_CLEARING"] != 2 {
		t.Fatalf("live call's hangup not tracked after reconnect: %+v", st)
	}
}

// luaApp compiles an app from Lua source.
func luaApp(t *testing.T, id, src string) bindings.AppSpec {
	t.Helper()
	sc, err := bindings.CompileScript(id+".lua", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return bindings.AppSpec{ID: id, Scripts: []bindings.Script{sc}}
}

// The park timeout never hangs up a call no app of ours is responsible
// for: a call another client originated (no switchlua header) stays parked
// as long as it likes under `switchlua run`, where no app handles inbound
// calls, and under `serve --script monitor.lua` whose app only watches
// (on_hangup, no on_park); in serve mode with an app that handles the park
// (on_park) but leaves the call alone, the same call is ours and is hung up.
func TestE2EParkTimeoutOnlyOurs(t *testing.T) {
	for _, tc := range []struct {
		name       string
		defaultApp string
		ours       bool
	}{
		{"run mode: not ours", "", false},
		{"serve mode, passive app: not ours", "monitor", false},
		{"serve mode: the default app's on_park", "idle", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := fstest.Start(t)
			user := fstest.NewUser("foreign")
			parked := make(chan string, 1)
			cfg := Config{
				ParkTimeout: 200 * time.Millisecond,
				DefaultApp:  tc.defaultApp,
				OnEvent: func(ev models.Event, s *models.Session) {
					if s != nil && ev.Name() == "CHANNEL_PARK" && s.IsInbound() && ev.Get("Caller-Destination-Number") == user {
						select {
						case parked <- s.UUID:
						default:
						}
					}
				},
			}
			l := e2eListener(t, n, cfg, compileApp(t, "toneplay", toneplayLua),
				luaApp(t, "idle", "function on_park(sess) end"), // takes the park, does nothing
				luaApp(t, "monitor", "function on_hangup(sess) end"))
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			// Another user of the node originates a self-call of their own.
			other := n.Dial(t, esl.Options{})
			out := esl.NewUUID()
			_, err := other.BgAPI(ctx, "originate {origination_uuid="+out+",originate_timeout=20,"+fstest.TagVar+"="+n.Tag+"}"+n.Dest(user)+" &park()")
			if err != nil {
				t.Fatal(err)
			}
			var in string
			select {
			case in = <-parked:
			case <-ctx.Done():
				t.Fatal("the inbound leg never parked")
			}
			if tc.ours {
				eventually(t, 5*time.Second, "the park timeout", func() bool { return l.Stats().ParkTimeouts == 1 })
				idle(t, l) // both legs are gone
				if st := l.Stats(); st.ParkTimeouts != 1 || st.HangupCauses[CauseParkTimeout] < 1 {
					t.Fatalf("stats %+v", st)
				}
				return
			}
			time.Sleep(time.Second) // five park timeouts
			get(t, l, func() {
				if s := l.Session(in); s == nil || s.Hungup {
					t.Error("someone else's parked call was hung up")
				}
			})
			if st := l.Stats(); st.ParkTimeouts != 0 {
				t.Fatalf("park timeouts %d", st.ParkTimeouts)
			}
			if _, err := other.API(ctx, "uuid_kill "+out); err != nil {
				t.Fatal(err)
			}
			idle(t, l)
		})
	}
}

// A Load while the connection is down returns ErrSubscribe (the app is
// live), and the events it needs are subscribed once the connection is
// back: its on_dtmf runs on the next call.
func TestE2ESubscribeAfterReconnect(t *testing.T) {
	n := fstest.Start(t)
	sim := n.RequireSim(t)
	shared := bindings.NewShared()
	cfg := Config{
		ESL:     esl.Options{ReconnectMin: 50 * time.Millisecond, ReconnectMax: 100 * time.Millisecond},
		Runtime: bindings.Options{Shared: shared},
	}
	l := e2eListener(t, n, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	sim.SetPassword("not-" + n.Password) // the redials fail until it is put back
	sim.DropConnections()
	eventually(t, 5*time.Second, "the listener to notice the drop", func() bool { return !l.Connected() })
	err := l.Load(ctx, luaApp(t, "dtmf", `
		function on_park(sess) if sess:is_inbound() then sess:answer() end end
		function on_dtmf(sess, digit) switchlua.shared.set("digit", digit) end`))
	if !errors.Is(err, ErrSubscribe) {
		t.Fatalf("load while disconnected: %v; want ErrSubscribe", err)
	}
	if apps, _ := l.Apps(ctx); len(apps) != 1 || apps[0] != "dtmf" {
		t.Fatalf("apps %q", apps)
	}
	sim.SetPassword(n.Password)
	eventually(t, 10*time.Second, "reconnect and DTMF subscribed", func() bool {
		return l.Connected() && slices.Contains(l.Subscribed(), "DTMF")
	})
	sess, err := Caller(l).Call(ctx, n.Dest(fstest.NewUser("dtmf")), tagged(n, OriginateOptions{App: "dtmf"}))
	if err != nil {
		t.Fatal(err)
	}
	var uuid string
	get(t, l, func() { uuid = sess.UUID })
	if _, err := l.Command(ctx, "uuid_send_dtmf "+uuid+" 7"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "on_dtmf", func() bool { v, _ := shared.Get("digit"); return v == "7" })
	hangup(t, l, sess)
	idle(t, l)
}

// An originate that fails before any channel exists reaches on_job(nil,
// job) of its app, and never another app's.
func TestE2EFailedOriginateOnJob(t *testing.T) {
	n := fstest.Start(t)
	sim := n.RequireSim(t)
	shared := bindings.NewShared()
	onJob := func(id string) string {
		return `function on_job(sess, job) switchlua.shared.set("` + id + `", (sess and "sess" or "nil") .. " " .. job:cause()) end`
	}
	l := e2eListener(t, n, Config{Runtime: bindings.Options{Shared: shared}}, luaApp(t, "a", onJob("a")))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	sim.SetFailure(1, "USER_BUSY")
	dest := n.Dest(fstest.NewUser("busy"))
	fail := func() {
		t.Helper()
		j, err := l.Originate(dest, tagged(n, OriginateOptions{App: "a"}))
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-j.Done():
		case <-ctx.Done():
			t.Fatal("originate not done")
		}
		if j.Successful() || j.Cause() != "USER_BUSY" {
			t.Fatalf("originate: ok %v cause %q", j.Successful(), j.Cause())
		}
		onLoop(t, l, func() {}) // on_job ran (it does not yield)
	}
	fail()
	if v, _ := shared.Get("a"); v != "nil USER_BUSY" {
		t.Fatalf("on_job of a: %v", v)
	}
	// With a second app (weighted apps), b never sees a's failures; a
	// still does (bindings.Runtime.DispatchJobTo).
	if err := l.Load(ctx, luaApp(t, "b", onJob("b"))); err != nil {
		t.Fatal(err)
	}
	shared.Delete("a")
	fail()
	if v, ok := shared.Get("b"); ok {
		t.Fatalf("b's on_job saw a's failure: %v", v)
	}
	if v, _ := shared.Get("a"); v != "nil USER_BUSY" {
		t.Fatalf("on_job of a with two apps loaded: %v", v)
	}
	idle(t, l)
}
