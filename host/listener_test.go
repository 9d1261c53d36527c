package host

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchlua/switchlua/bindings"
	"github.com/switchlua/switchlua/esl"
	"github.com/switchlua/switchlua/models"
)

// selfCall feeds the events of a self-call we originated: outbound leg out
// and inbound leg in, both carrying the X-headers, up to both answered.
func selfCall(c *fakeConn, out, in, app string) {
	x := []string{OriginatingSessionHeader, out}
	if app != "" {
		x = append(x, AppHeader, app)
	}
	c.event(chanEvent("CHANNEL_CREATE", out, "outbound", x...))
	c.event(chanEvent("CHANNEL_ORIGINATE", out, "outbound", x...))
	c.event(chanEvent("CHANNEL_CREATE", in, "inbound", x...))
	c.event(chanEvent("CHANNEL_PARK", in, "inbound", x...))
	c.event(chanEvent("CHANNEL_ANSWER", in, "inbound", x...))
	c.event(chanEvent("CHANNEL_ANSWER", out, "outbound", x...))
}

func hangupCall(c *fakeConn, cause string, uuids ...string) {
	for _, u := range uuids {
		c.event(chanEvent("CHANNEL_HANGUP", u, "", "Hangup-Cause", cause))
	}
	for _, u := range uuids {
		c.event(chanEvent("CHANNEL_DESTROY", u, "", "Hangup-Cause", cause))
	}
}

// onLoop runs fn on the Listener goroutine.
func onLoop(t *testing.T, l *Listener, fn func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.Do(ctx, fn); err != nil {
		t.Fatal(err)
	}
}

func TestTrackSelfCall(t *testing.T) {
	var ends []CallEnd
	var seen []string
	l, c, rt := newTestListener(t, Config{
		OnCallEnd: func(e CallEnd) { ends = append(ends, e) },
		OnEvent: func(ev models.Event, s *models.Session) {
			id := "nil"
			if s != nil {
				id = s.UUID
			}
			seen = append(seen, ev.Name()+" "+id)
		},
	})
	if err := rt.Load(bindings.AppSpec{ID: "toneplay"}); err != nil {
		t.Fatal(err)
	}
	selfCall(c, "out-1", "in-1", "toneplay")
	c.sync(t)
	onLoop(t, l, func() {
		if len(l.sessions) != 2 || len(l.calls) != 1 {
			t.Fatalf("sessions %d calls %d, want 2 and 1", len(l.sessions), len(l.calls))
		}
		ce := l.calls["out-1"]
		if ce == nil || ce.c.First().UUID != "out-1" || ce.c.Last().UUID != "in-1" {
			t.Fatalf("call not keyed by the originating session: %+v", l.calls)
		}
		for _, e := range l.sessions {
			if e.s.AppID != "toneplay" || !e.s.Answered {
				t.Fatalf("session %s app %q answered %v", e.s.UUID, e.s.AppID, e.s.Answered)
			}
		}
		if !l.sessions["in-1"].s.IsInbound() {
			t.Fatal("in-1 not inbound")
		}
	})
	st := l.Stats()
	if st.Sessions != 2 || st.Calls != 1 || st.Answered != 2 || st.SessionsPerApp["toneplay"] != 2 {
		t.Fatalf("stats %+v", st)
	}
	hangupCall(c, "NORMAL_CLEARING", "in-1", "out-1")
	c.sync(t)
	st = l.Stats()
	if st.Sessions != 0 || st.Calls != 0 || st.TotalCalls != 1 || st.TotalSessions != 2 || st.HangupCauses["NORMAL_CLEARING"] != 2 || st.FailedCalls != 0 || len(st.FailedSessions) != 0 {
		t.Fatalf("stats after hangup %+v", st)
	}
	onLoop(t, l, func() {
		if len(ends) != 1 {
			t.Fatalf("%d call ends", len(ends))
		}
		e := ends[0]
		if e.Key != "out-1" || e.CallerUUID != "out-1" || e.CalleeUUID != "in-1" || e.App != "toneplay" || e.Cause != "NORMAL_CLEARING" || e.Legs != 2 || !e.Answered {
			t.Fatalf("call end %+v", e)
		}
		if e.Caller.Create.IsZero() || e.Caller.Answer.IsZero() || e.Callee.Answer.IsZero() || e.Callee.Hangup.IsZero() {
			t.Fatalf("call end times %+v", e)
		}
		if e.SessionsAtCreate != 1 || e.ActiveSessions != 0 || e.ActiveCalls != 0 {
			t.Fatalf("call end counts %+v", e)
		}
		if len(seen) != 10 || seen[0] != "CHANNEL_CREATE out-1" || seen[9] != "CHANNEL_DESTROY out-1" {
			t.Fatalf("OnEvent saw %q", seen)
		}
	})
	// The runtime saw every event, in order, and each session went.
	log := rt.logged()
	want := []string{"CHANNEL_CREATE out-1", "CHANNEL_ORIGINATE out-1", "CHANNEL_CREATE in-1", "CHANNEL_PARK in-1",
		"CHANNEL_ANSWER in-1", "CHANNEL_ANSWER out-1", "CHANNEL_HANGUP in-1", "CHANNEL_HANGUP out-1",
		"CHANNEL_DESTROY in-1", "GONE in-1", "CHANNEL_DESTROY out-1", "GONE out-1"}
	if !slices.Equal(log, want) {
		t.Fatalf("runtime saw\n%q\nwant\n%q", log, want)
	}
}

func TestCreateOriginateEitherOrder(t *testing.T) {
	l, c, rt := newTestListener(t, Config{})
	c.event(chanEvent("CHANNEL_ORIGINATE", "a", "outbound"))
	c.event(chanEvent("CHANNEL_CREATE", "a", "outbound"))
	c.event(chanEvent("CHANNEL_CREATE", "b", "outbound"))
	c.event(chanEvent("CHANNEL_ORIGINATE", "b", "outbound"))
	c.sync(t)
	st := l.Stats()
	if st.Sessions != 2 || st.TotalSessions != 2 {
		t.Fatalf("stats %+v", st)
	}
	if n := len(rt.logged()); n != 4 {
		t.Fatalf("runtime saw %d events, want 4", n)
	}
	onLoop(t, l, func() {
		if l.sessions["a"].s.AppID != DefaultApp {
			t.Fatalf("app %q", l.sessions["a"].s.AppID)
		}
	})
}

func TestTrackingHeaders(t *testing.T) {
	cases := []struct {
		name    string
		headers []string
		calls   int
	}{
		{"originating session", nil, 1},
		{"call uuid", []string{CallUUIDHeader}, 2}, // a SIP self-call: each leg has its own call_uuid
		{"nonsense", []string{"variable_doggypants"}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, c, _ := newTestListener(t, Config{TrackingHeaders: tc.headers})
			selfCall(c, "o", "i", "")
			c.sync(t)
			if st := l.Stats(); st.Calls != tc.calls || st.Sessions != 2 {
				t.Fatalf("calls %d sessions %d, want %d and 2", st.Calls, st.Sessions, tc.calls)
			}
			hangupCall(c, "NORMAL_CLEARING", "o", "i")
			c.sync(t)
			if st := l.Stats(); st.Calls != 0 || st.Sessions != 0 {
				t.Fatalf("calls %d sessions %d after hangup", st.Calls, st.Sessions)
			}
		})
	}
	// Bridged legs share variable_call_uuid (the A leg's uuid).
	l, c, _ := newTestListener(t, Config{})
	c.event(chanEvent("CHANNEL_CREATE", "A", "inbound"))
	c.event(withHeader(chanEvent("CHANNEL_CREATE", "B", "outbound"), CallUUIDHeader, "A"))
	c.sync(t)
	onLoop(t, l, func() {
		if len(l.calls) != 1 || l.calls["A"].c.Len() != 2 {
			t.Fatalf("bridged legs not one call: %v", l.calls)
		}
	})
}

// withHeader replaces header name's value in ev.
func withHeader(ev models.Event, name, value string) models.Event {
	var kv []string
	ev.Range(func(n, v string) bool {
		if n == name {
			v = value
		}
		kv = append(kv, n, v)
		return true
	})
	return newEv(kv...)
}

func TestAppHeaderConfigurable(t *testing.T) {
	l, c, rt := newTestListener(t, Config{AppHeader: "variable_my_app", DefaultApp: "fallback"})
	for _, id := range []string{"router", "fallback"} {
		if err := rt.Load(bindings.AppSpec{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	c.event(chanEvent("CHANNEL_CREATE", "a", "inbound", "variable_my_app", "router"))
	c.event(chanEvent("CHANNEL_CREATE", "b", "inbound", AppHeader, "ignored"))
	// App ids nobody loaded (a caller can put anything in the header) share
	// one key, so the map cannot grow with them.
	for i := range 5 {
		c.event(chanEvent("CHANNEL_CREATE", fmt.Sprint("u", i), "inbound", "variable_my_app", fmt.Sprint("junk", i)))
	}
	c.sync(t)
	st := l.Stats()
	if st.SessionsPerApp["router"] != 1 || st.SessionsPerApp["fallback"] != 1 || st.SessionsPerApp[UnloadedApp] != 5 || len(st.SessionsPerApp) != 3 {
		t.Fatalf("per app %v", st.SessionsPerApp)
	}
}

func TestFailedSessionsAndCalls(t *testing.T) {
	l, c, _ := newTestListener(t, Config{})
	c.event(chanEvent("CHANNEL_CREATE", "x", "outbound"))
	hangupCall(c, "USER_BUSY", "x")
	selfCall(c, "o", "i", "")
	hangupCall(c, "NORMAL_CLEARING", "o", "i")
	c.sync(t)
	st := l.Stats()
	if st.FailedCalls != 1 || st.FailedSessions["USER_BUSY"] != 1 || st.HangupCauses["NORMAL_CLEARING"] != 2 || st.TotalCalls != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestOriginateJob(t *testing.T) {
	var jobs []*models.Job
	var jobSess []*models.Session
	l, c, rt := newTestListener(t, Config{OnJob: func(j *models.Job, s *models.Session) { jobs = append(jobs, j); jobSess = append(jobSess, s) }})
	j, err := l.Originate("doggy@127.0.0.1:5080", OriginateOptions{App: "toneplay"})
	if err != nil {
		t.Fatal(err)
	}
	cmd := c.waitCommand(t, "bgapi originate ")
	if !strings.HasSuffix(cmd, "\nJob-UUID: "+j.UUID) ||
		!strings.Contains(cmd, "origination_uuid="+j.SessUUID+",") ||
		!strings.Contains(cmd, "sip_h_X-switchlua_originating_session="+j.SessUUID) ||
		!strings.Contains(cmd, "sip_h_X-switchlua_app=toneplay}sofia/external/doggy@127.0.0.1:5080 &park()") {
		t.Fatalf("originate command %q", cmd)
	}
	if st := l.Stats(); st.Jobs != 1 || st.JobsLaunched != 1 {
		t.Fatalf("stats %+v", st)
	}
	selfCall(c, j.SessUUID, "in-1", "toneplay")
	c.event(jobEvent(j.UUID, "+OK "+j.SessUUID+"\n"))
	select {
	case <-j.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("job not completed")
	}
	c.sync(t)
	if !j.Successful() || j.Result() != j.SessUUID {
		t.Fatalf("job ok=%v result %q", j.Successful(), j.Result())
	}
	onLoop(t, l, func() {
		if len(jobs) != 1 || jobSess[0] == nil || jobSess[0].UUID != j.SessUUID || jobSess[0].Job != j {
			t.Fatalf("OnJob got %v %v", jobs, jobSess)
		}
		if l.calls[j.SessUUID].jobLaunch != j.Launch {
			t.Fatal("call has no job launch time")
		}
	})
	if !slices.Contains(rt.logged(), "JOB "+j.SessUUID+" "+j.SessUUID) {
		t.Fatalf("no DispatchJob: %q", rt.logged())
	}
	if st := l.Stats(); st.Jobs != 0 || st.JobsOK != 1 {
		t.Fatalf("stats %+v", st)
	}
	hangupCall(c, "NORMAL_CLEARING", "in-1", j.SessUUID)
	c.sync(t)
	onLoop(t, l, func() {
		if len(l.origs) != 0 || len(l.jobs) != 0 {
			t.Fatalf("jobs left: %v %v", l.origs, l.jobs)
		}
	})
}

func TestOriginateFailedJobAlone(t *testing.T) {
	l, c, _ := newTestListener(t, Config{})
	j, _ := l.Originate("sofia/external/x@127.0.0.1:5999", OriginateOptions{})
	c.waitCommand(t, "bgapi originate ")
	c.event(jobEvent(j.UUID, "-ERR DESTINATION_OUT_OF_ORDER\n"))
	<-j.Done()
	c.sync(t)
	if j.Successful() || j.Cause() != "DESTINATION_OUT_OF_ORDER" {
		t.Fatalf("job %v %q", j.Successful(), j.Cause())
	}
	st := l.Stats()
	if st.JobsFailed != 1 || st.OriginateFailures["DESTINATION_OUT_OF_ORDER"] != 1 || st.FailedCalls != 1 || st.Jobs != 0 {
		t.Fatalf("stats %+v", st)
	}
	onLoop(t, l, func() {
		if len(l.origs)+len(l.jobs) != 0 {
			t.Fatal("failed job left state behind")
		}
	})
}

func TestBgAPIRefused(t *testing.T) {
	l, c, _ := newTestListener(t, Config{})
	c.reply = func(cmd string) (string, error) {
		if strings.HasPrefix(cmd, "bgapi") {
			return "", &esl.ServerError{Reply: "-ERR no reply"}
		}
		return "+OK", nil
	}
	j, _ := l.BgAPI("status")
	select {
	case <-j.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("refused job not failed")
	}
	if j.Successful() || j.Cause() != "-ERR no reply" {
		t.Fatalf("job %v %q", j.Successful(), j.Cause())
	}
}

// The park timeout hangs up only the untaken parked inbound sessions we are
// responsible for: those whose app is loaded and handles the park (on_park),
// and those of calls we originated; never other people's calls on the same
// FreeSWITCH, nor the calls of an app that only watches (no on_park).
func TestParkTimeout(t *testing.T) {
	type leg struct {
		uuid, dir string
		kv        []string
	}
	for _, tc := range []struct {
		name       string
		defaultApp string // Config.DefaultApp ("" = "default", not loaded: run mode)
		ourCall    bool   // we originate a call for "not-loaded" first (legs "out" and "in")
		legs       []leg
		killed     []string
	}{
		{
			name: "run mode",
			legs: []leg{
				{"taken", "inbound", []string{AppHeader, "app"}}, // answered on park by its app
				{"idle", "inbound", []string{AppHeader, "app"}},  // its app is loaded but does nothing
				{"foreign", "inbound", nil},                      // someone else's call, no app header
				{"foreign-x", "inbound", []string{AppHeader, "not-loaded", OriginatingSessionHeader, "someone-elses"}},
				{"outbound", "outbound", []string{AppHeader, "app"}},
			},
			killed: []string{"idle"},
		},
		{
			name:       "serve mode",
			defaultApp: "app",
			legs: []leg{
				{"plain", "inbound", nil}, // the default app is loaded and has on_park: ours
				{"foreign-x", "inbound", []string{AppHeader, "not-loaded"}},
				{"watched", "inbound", []string{AppHeader, "monitor"}}, // loaded, but no on_park
			},
			killed: []string{"plain"},
		},
		{
			// `serve --script monitor.lua` with only on_hangup: the
			// node's inbound calls are not its to end.
			name:       "serve mode, passive app",
			defaultApp: "monitor",
			legs: []leg{
				{"plain", "inbound", nil},
				{"idle", "inbound", []string{AppHeader, "app"}}, // app has on_park: ours
			},
			killed: []string{"idle"},
		},
		{
			// The inbound leg of our own originate for an app that is not
			// loaded: ours, although no app handles it (switchio #47).
			name:    "our originate",
			ourCall: true,
			killed:  []string{"in"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, c, rt := newTestListener(t, Config{ParkTimeout: 50 * time.Millisecond, DefaultApp: tc.defaultApp})
			// "app" defines on_park; "monitor" only on_hangup.
			for id, evs := range map[string]string{"app": "CHANNEL_PARK", "monitor": "CHANNEL_HANGUP"} {
				if err := l.Load(context.Background(), bindings.AppSpec{ID: id, Args: map[string]string{"events": evs}}); err != nil {
					t.Fatal(err)
				}
			}
			rt.setOnEvent(func(s *models.Session, ev models.Event) {
				if ev.Name() == "CHANNEL_PARK" && s.UUID == "taken" {
					s.Answer(nil)
				}
			})
			legs := tc.legs
			if tc.ourCall {
				j, _ := l.Originate("x@127.0.0.1:5080", OriginateOptions{App: "not-loaded", UUID: "out"})
				c.waitCommand(t, "bgapi originate ")
				x := []string{OriginatingSessionHeader, j.SessUUID, AppHeader, "not-loaded"}
				// The inbound leg first: the call is known as ours by its key.
				legs = []leg{{"in", "inbound", x}, {"out", "outbound", x}}
			}
			for _, lg := range legs {
				c.event(chanEvent("CHANNEL_CREATE", lg.uuid, lg.dir, lg.kv...))
				c.event(chanEvent("CHANNEL_PARK", lg.uuid, lg.dir, lg.kv...))
			}
			for _, k := range tc.killed {
				c.waitCommand(t, "api uuid_kill "+k+" "+CauseParkTimeout)
			}
			time.Sleep(200 * time.Millisecond) // 4 timeouts: nothing else expires
			c.sync(t)
			var kills []string
			for _, cmd := range c.commands() {
				if strings.HasPrefix(cmd, "api uuid_kill ") {
					kills = append(kills, strings.Fields(cmd)[2])
				}
			}
			if !slices.Equal(kills, tc.killed) {
				t.Fatalf("killed %q, want %q", kills, tc.killed)
			}
			if st := l.Stats(); st.ParkTimeouts != uint64(len(tc.killed)) {
				t.Fatalf("park timeouts %d", st.ParkTimeouts)
			}
			onLoop(t, l, func() {
				if l.parkQ.len() != 0 {
					t.Fatalf("park queue holds %d", l.parkQ.len())
				}
			})
		})
	}
}

// Load's error tells a refused load from a live one whose subscription lags,
// and a subscription that failed while disconnected is made after the
// reconnect.
func TestLoadSubscribeError(t *testing.T) {
	l, c, _ := newTestListener(t, Config{})
	ctx := context.Background()
	down := fmt.Errorf("esl: not connected")
	c.setSubErr(down)
	l.setConnected(false)
	err := l.Load(ctx, bindings.AppSpec{ID: "a", Args: map[string]string{"events": "DTMF"}})
	if !errors.Is(err, ErrSubscribe) || !errors.Is(err, down) {
		t.Fatalf("load while down: %v; want ErrSubscribe wrapping the cause", err)
	}
	if apps, _ := l.Apps(ctx); !slices.Equal(apps, []string{"a"}) {
		t.Fatalf("apps %q: the generation should be live", apps)
	}
	if slices.Contains(l.Subscribed(), "DTMF") {
		t.Fatal("Subscribed lists an event whose subscribe failed")
	}
	// A refused load is not a subscription error, and changes nothing.
	err = l.Load(ctx, bindings.AppSpec{ID: "a", Args: map[string]string{"fail": "a.lua:1: boom"}})
	if err == nil || errors.Is(err, ErrSubscribe) || err.Error() != "a.lua:1: boom" {
		t.Fatalf("refused load: %v", err)
	}
	// Back: the reconnect diffs again and subscribes what failed.
	c.setSubErr(nil)
	c.state(func() { l.onState(esl.StateChange{State: esl.StateConnected, Reconnected: true}) })
	eventually(t, 5*time.Second, "DTMF subscribed after the reconnect", func() bool {
		return slices.Contains(l.Subscribed(), "DTMF") && slices.Contains(c.subscribed(), "DTMF")
	})
	if l.subStale.Load() {
		t.Fatal("still stale")
	}
	if err := l.Load(ctx, bindings.AppSpec{ID: "b", Args: map[string]string{"events": "PLAYBACK_STOP"}}); err != nil {
		t.Fatalf("load when up: %v", err)
	}
	// Unload fails the same way, and the tick retries while connected.
	c.setSubErr(down)
	if err := l.Unload(ctx, "b"); !errors.Is(err, ErrSubscribe) {
		t.Fatalf("unload: %v", err)
	}
	if !slices.Contains(l.Subscribed(), "PLAYBACK_STOP") {
		t.Fatal("a failed nixevent dropped the name from Subscribed")
	}
	c.setSubErr(nil)
	onLoop(t, l, func() { l.onTick() })
	eventually(t, 5*time.Second, "PLAYBACK_STOP dropped by the retry", func() bool {
		return !slices.Contains(l.Subscribed(), "PLAYBACK_STOP") && !slices.Contains(c.subscribed(), "PLAYBACK_STOP")
	})
}

// An originate that fails before any channel exists reaches on_job of its
// own app only.
func TestFailedOriginateJobReachesItsApp(t *testing.T) {
	ctx := context.Background()
	fail := func(t *testing.T, l *Listener, c *fakeConn, app string) *models.Job {
		t.Helper()
		j, _ := l.Originate("x@127.0.0.1:5999", OriginateOptions{App: app})
		c.waitCommand(t, "bgapi originate {originate_timeout=60,origination_caller_id_name=switchlua,origination_caller_id_number=1112223333,origination_uuid="+j.SessUUID)
		c.event(jobEvent(j.UUID, "-ERR USER_BUSY\n"))
		<-j.Done()
		c.sync(t)
		return j
	}
	l, c, rt := newTestListener(t, Config{})
	for _, id := range []string{"a", "b"} {
		if err := l.Load(ctx, bindings.AppSpec{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	j := fail(t, l, c, "a")
	if got := rt.logged(); !slices.Equal(got, []string{"JOB[a] - " + j.Result()}) {
		t.Fatalf("dispatched %q", got)
	}
	j = fail(t, l, c, "") // the default app's
	if got := rt.logged(); got[len(got)-1] != "JOB[default] - "+j.Result() {
		t.Fatalf("dispatched %q", got)
	}
}

func TestReconnectReconcile(t *testing.T) {
	l, c, rt := newTestListener(t, Config{})
	c.reply = func(cmd string) (string, error) {
		if cmd == "api show channels" {
			return "uuid,direction,created,created_epoch,name,state\nkeep,inbound,2026-01-01,1,sofia/x,CS_EXECUTE\n\n1 total.\n", nil
		}
		return "+OK", nil
	}
	c.event(chanEvent("CHANNEL_CREATE", "keep", "inbound"))
	c.event(chanEvent("CHANNEL_CREATE", "lost", "inbound"))
	j, _ := l.BgAPI("status")
	c.waitCommand(t, "bgapi status")
	c.sync(t)
	// The connection drops: the job in flight fails.
	c.state(func() { l.onState(esl.StateChange{State: esl.StateDisconnected, Err: esl.ErrConnectionLost}) })
	select {
	case <-j.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("job in flight not failed on disconnect")
	}
	if j.Cause() != CauseLostConnection || !errors.Is(j.Err(), esl.ErrConnectionLost) {
		t.Fatalf("job cause %q err %v", j.Cause(), j.Err())
	}
	// It comes back: reconcile.
	c.state(func() { l.onState(esl.StateChange{State: esl.StateConnected, Reconnected: true}) })
	c.waitCommand(t, "api show channels")
	c.sync(t)
	c.sync(t)
	st := l.Stats()
	if st.Sessions != 1 || st.Vanished != 1 || st.Reconnects != 1 || st.HangupCauses[CauseVanished] != 1 {
		t.Fatalf("stats %+v", st)
	}
	log := rt.logged()
	if !slices.Contains(log, "CHANNEL_HANGUP lost") || !slices.Contains(log, "CHANNEL_DESTROY lost") || !slices.Contains(log, "GONE lost") {
		t.Fatalf("vanished session not closed through the runtime: %q", log)
	}
}

func TestSubscriptionFollowsApps(t *testing.T) {
	l, c, _ := newTestListener(t, Config{Events: []string{"HEARTBEAT"}})
	ctx := context.Background()
	base := wantedEvents([]string{"HEARTBEAT"}, nil)
	if got := l.Subscribed(); !slices.Equal(got, base) {
		t.Fatalf("subscribed %q", got)
	}
	if err := l.Load(ctx, bindings.AppSpec{ID: "a", Args: map[string]string{"events": "PLAYBACK_STOP CHANNEL_PARK mod_bert::lost_sync"}}); err != nil {
		t.Fatal(err)
	}
	if err := l.Load(ctx, bindings.AppSpec{ID: "b", Args: map[string]string{"events": "DTMF"}}); err != nil {
		t.Fatal(err)
	}
	got := l.Subscribed()
	for _, n := range []string{"PLAYBACK_STOP", "CUSTOM mod_bert::lost_sync", "DTMF", "CHANNEL_CREATE", "HEARTBEAT"} {
		if !slices.Contains(got, n) {
			t.Fatalf("%q not subscribed: %q", n, got)
		}
	}
	if err := l.Unload(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	got = l.Subscribed()
	if slices.Contains(got, "PLAYBACK_STOP") || !slices.Contains(got, "CHANNEL_PARK") || !slices.Contains(got, "DTMF") {
		t.Fatalf("after unload: %q", got)
	}
	cmds := c.commands()
	if last := cmds[len(cmds)-1]; last != "nixevent CUSTOM mod_bert::lost_sync PLAYBACK_STOP" {
		t.Fatalf("last command %q", last)
	}
	if apps, _ := l.Apps(ctx); !slices.Equal(apps, []string{"b"}) {
		t.Fatalf("apps %q", apps)
	}
}

// A reply is handled in wire order with the events around it, and a callback
// that waits for the reply sees the state of that moment.
func TestReplyOrderedWithEvents(t *testing.T) {
	l, c, rt := newTestListener(t, Config{})
	var order []string
	c.reply = func(cmd string) (string, error) { return "+OK " + cmd, nil }
	rt.setOnEvent(func(s *models.Session, ev models.Event) {
		order = append(order, ev.Name())
		if ev.Name() == "CHANNEL_PARK" {
			s.Answer(func(reply string, err error) { order = append(order, "reply:"+reply) })
			// the reply is queued on the reader after this: then the answer event
			c.event(chanEvent("CHANNEL_ANSWER", s.UUID, "inbound"))
		}
	})
	c.event(chanEvent("CHANNEL_CREATE", "u", "inbound"))
	c.event(chanEvent("CHANNEL_PARK", "u", "inbound"))
	time.Sleep(10 * time.Millisecond)
	c.sync(t)
	onLoop(t, l, func() {
		want := []string{"CHANNEL_CREATE", "CHANNEL_PARK", "reply:+OK api uuid_answer u", "CHANNEL_ANSWER"}
		if !slices.Equal(order, want) {
			t.Fatalf("order %q want %q", order, want)
		}
	})
}

// Post never blocks, even from the Listener goroutine while the inbox is
// full and the reader waits on it.
func TestPostNeverDeadlocks(t *testing.T) {
	l, c, rt := newTestListener(t, Config{InboxSize: 4})
	release := make(chan struct{})
	posted := make(chan struct{})
	var once bool
	rt.setOnEvent(func(s *models.Session, ev models.Event) {
		if once {
			return
		}
		once = true
		<-release // hold the Listener while the reader fills the inbox
		l.Post(func() { close(posted) })
		l.API("status", func(string, error) {})
	})
	for range 20 {
		c.event(newEv("Event-Name", "HEARTBEAT"))
	}
	time.Sleep(20 * time.Millisecond) // the reader is now blocked on the full inbox
	close(release)
	select {
	case <-posted:
	case <-time.After(5 * time.Second):
		t.Fatal("posted function never ran")
	}
	c.sync(t)
	if st := l.Stats(); st.Events != 20 {
		t.Fatalf("%d events handled, want 20 (none dropped)", st.Events)
	}
}

func TestWaitFor(t *testing.T) {
	l, c, _ := newTestListener(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.event(chanEvent("CHANNEL_CREATE", "w", "inbound"))
	c.sync(t)
	var s *models.Session
	onLoop(t, l, func() { s = l.Session("w") })
	errc := make(chan error, 2)
	go func() { errc <- l.WaitFor(ctx, s, func(s *models.Session) bool { return s.Answered }) }()
	go func() {
		_, err := l.WaitEvent(ctx, s, "CHANNEL_PARK")
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond)
	c.event(chanEvent("CHANNEL_PARK", "w", "inbound"))
	c.event(chanEvent("CHANNEL_ANSWER", "w", "inbound"))
	for range 2 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	go func() { errc <- l.WaitFor(ctx, s, func(s *models.Session) bool { return false }) }()
	time.Sleep(10 * time.Millisecond)
	hangupCall(c, "NORMAL_CLEARING", "w")
	if err := <-errc; !errors.Is(err, ErrSessionGone) {
		t.Fatalf("err %v, want ErrSessionGone", err)
	}
	if err := l.WaitFor(ctx, s, func(s *models.Session) bool { return s.Hungup }); err != nil {
		t.Fatalf("pred true on a gone session: %v", err)
	}
	short, cancel2 := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel2()
	c.event(chanEvent("CHANNEL_CREATE", "w2", "inbound"))
	c.sync(t)
	onLoop(t, l, func() { s = l.Session("w2") })
	if err := l.WaitFor(short, s, func(*models.Session) bool { return false }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
	c.event(newEv("Event-Name", "HEARTBEAT"))
	c.sync(t)
	onLoop(t, l, func() {
		if len(l.waiters) != 0 {
			t.Fatalf("%d waiters left", len(l.waiters))
		}
	})
}

// Nothing grows without bound: after many calls, every map and queue is empty.
func TestNothingRetained(t *testing.T) {
	l, c, _ := newTestListener(t, Config{ParkTimeout: time.Hour})
	const n = 1000
	var jobs []*models.Job
	for i := range n {
		j, err := l.Originate("x@127.0.0.1:5080", OriginateOptions{App: "a"})
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, j)
		in := fmt.Sprintf("in-%d", i)
		selfCall(c, j.SessUUID, in, "a")
		c.event(jobEvent(j.UUID, "+OK "+j.SessUUID))
		hangupCall(c, "NORMAL_CLEARING", in, j.SessUUID)
	}
	c.sync(t)
	for _, j := range jobs {
		if !j.Successful() {
			t.Fatalf("job %s: %v", j.UUID, j.Cause())
		}
	}
	st := l.Stats()
	if st.Sessions != 0 || st.Calls != 0 || st.Jobs != 0 || st.TotalCalls != n || st.TotalSessions != 2*n {
		t.Fatalf("stats %+v", st)
	}
	onLoop(t, l, func() {
		if len(l.sessions)+len(l.calls)+len(l.jobs)+len(l.origs)+len(l.waiters) != 0 {
			t.Fatalf("left: %d sessions %d calls %d jobs %d origs", len(l.sessions), len(l.calls), len(l.jobs), len(l.origs))
		}
		// parked inbound legs were answered: their deadlines are dropped at expiry
		l.expireParked(time.Now().Add(2 * time.Hour))
		if l.parkQ.len() != 0 || cap(l.parkQ.q) > 4*n {
			t.Fatalf("park queue %d/%d", l.parkQ.len(), cap(l.parkQ.q))
		}
	})
}

func TestCloseStopsEverything(t *testing.T) {
	l, c, rt := newTestListener(t, Config{})
	c.event(chanEvent("CHANNEL_CREATE", "z", "inbound"))
	c.sync(t)
	var s *models.Session
	onLoop(t, l, func() { s = l.Session("z") })
	errc := make(chan error, 1)
	go func() {
		errc <- l.WaitFor(context.Background(), s, func(*models.Session) bool { return false })
	}()
	time.Sleep(10 * time.Millisecond)
	l.Close()
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("waiter got %v", err)
	}
	if err := l.Do(context.Background(), func() {}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Do after close: %v", err)
	}
	if _, err := l.Originate("x", OriginateOptions{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Originate after close: %v", err)
	}
	l.Post(func() { t.Error("posted after close ran") })
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if !rt.closed {
		t.Fatal("runtime not closed")
	}
}
