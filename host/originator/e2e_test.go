package originator

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchlua/switchlua/bindings"
	"github.com/switchlua/switchlua/esl/fssim"
	"github.com/switchlua/switchlua/esl/fssim/fstest"
	"github.com/switchlua/switchlua/host"
	"github.com/switchlua/switchlua/host/cdr"
)

// End-to-end tests: a Pool over TCP to the node(s) of the shared harness
// (the simulator, or the real FreeSWITCH of SWITCHLUA_TEST_FS), with a Lua
// app that answers the inbound legs. Calls go to a user of their own and
// carry the harness's tag, so a real FreeSWITCH is cleaned up after each
// test. Tests that need fault knobs or two nodes need the simulator.

// rig is one test's Originator, pool and records.
type rig struct {
	t    *testing.T
	o    *Originator
	pool *host.Pool
	tgs  []*fstest.Target

	mu     sync.Mutex
	offers []Offer
	rows   []cdr.Row
	ended  map[string]time.Time // call uuid -> local time its row came
}

// app compiles a test app.
func app(t *testing.T, id string, path string) bindings.AppSpec {
	t.Helper()
	sc, err := bindings.CompileFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bindings.AppSpec{ID: id, Scripts: []bindings.Script{sc}}
}

// newRig dials every target, loads apps, hooks and attaches an Originator
// with cfg (its destination user and tag filled in).
func newRig(t *testing.T, cfg Config, tgs []*fstest.Target, apps ...bindings.AppSpec) *rig {
	t.Helper()
	r := &rig{t: t, tgs: tgs, ended: map[string]time.Time{}}
	if cfg.User == "" {
		cfg.User = fstest.NewUser("orig")
	}
	vars := map[string]string{fstest.TagVar: tgs[0].Tag}
	for k, v := range cfg.Vars {
		vars[k] = v
	}
	cfg.Vars = vars
	cfg.Logger = testLogger(t)
	userEnd, userOffer := cfg.OnCallEnd, cfg.OnOffer
	cfg.OnCallEnd = func(row cdr.Row) {
		r.mu.Lock()
		r.rows = append(r.rows, row)
		r.ended[row.CallUUID] = time.Now()
		r.mu.Unlock()
		if userEnd != nil {
			userEnd(row)
		}
	}
	cfg.OnOffer = func(of Offer) {
		r.mu.Lock()
		r.offers = append(r.offers, of)
		r.mu.Unlock()
		if userOffer != nil {
			userOffer(of)
		}
	}
	o, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.o = o
	hc := host.Config{Password: tgs[0].Password, Logger: cfg.Logger}
	o.Hook(&hc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var addrs []string
	for _, tg := range tgs {
		addrs = append(addrs, tg.Addr)
	}
	pool, err := host.DialPool(ctx, addrs, hc)
	if err != nil {
		t.Fatal(err)
	}
	r.pool = pool
	t.Cleanup(func() {
		o.Stop(true)
		wctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = o.Wait(wctx)
		o.Close()
		pool.Close()
	})
	for _, a := range apps {
		if err := pool.Load(ctx, a); err != nil {
			t.Fatalf("load %s: %v", a.ID, err)
		}
	}
	if err := o.Attach(ctx, pool); err != nil {
		t.Fatal(err)
	}
	return r
}

// run starts the Originator and waits (up to d) until it is STOPPED.
func (r *rig) run(d time.Duration) Counts {
	r.t.Helper()
	if err := r.o.Start(); err != nil {
		r.t.Fatal(err)
	}
	return r.wait(d)
}

func (r *rig) wait(d time.Duration) Counts {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := r.o.Wait(ctx); err != nil {
		r.t.Fatalf("not STOPPED after %v: %v; %v", d, err, r.o.Counts())
	}
	return r.o.Counts()
}

func (r *rig) snapshot() ([]Offer, []cdr.Row, map[string]time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.offers), slices.Clone(r.rows), cloneMap(r.ended)
}

func cloneMap(m map[string]time.Time) map[string]time.Time {
	out := make(map[string]time.Time, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// idle checks that the pool and the simulators hold nothing any more. On a
// real FreeSWITCH, which other tests may use at the same time, only our
// own calls are checked.
func (r *rig) idle() {
	r.t.Helper()
	if c := r.o.Counts(); c.Active != 0 || c.Ended != c.Offered {
		r.t.Errorf("calls left: %v (ended %d)", c, c.Ended)
	}
	if r.tgs[0].Real() {
		return
	}
	eventually(r.t, 10*time.Second, "the pool to track nothing", func() bool {
		st := r.pool.Stats()
		return st.Sessions == 0 && st.Calls == 0 && st.Jobs == 0
	})
	for _, tg := range r.tgs {
		if tg.Sim != nil {
			eventually(r.t, 5*time.Second, "the simulator's channels to go", func() bool {
				return tg.Sim.ActiveChannels() == 0
			})
		}
	}
	if st := r.pool.Stats(); st.Untracked != 0 || st.ParkTimeouts != 0 {
		r.t.Errorf("untracked events %d, park timeouts %d", st.Untracked, st.ParkTimeouts)
	}
}

// maxConcurrent is the most calls in progress at once, from the offer
// times and the local times their rows came (independent of the
// Originator's own counter).
func maxConcurrent(offers []Offer, ended map[string]time.Time) int {
	type ev struct {
		t time.Time
		d int
	}
	var evs []ev
	for _, of := range offers {
		evs = append(evs, ev{of.Time, +1})
		if e, ok := ended[of.UUID]; ok {
			evs = append(evs, ev{e, -1})
		}
	}
	sort.Slice(evs, func(i, j int) bool {
		if evs[i].t.Equal(evs[j].t) {
			return evs[i].d < evs[j].d
		}
		return evs[i].t.Before(evs[j].t)
	})
	n, peak := 0, 0
	for _, e := range evs {
		n += e.d
		peak = max(peak, n)
	}
	return peak
}

// maxInWindow is the most offers within any window of length w.
func maxInWindow(offers []Offer, w time.Duration) int {
	ts := make([]time.Time, len(offers))
	for i, of := range offers {
		ts[i] = of.Time
	}
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	best, j := 0, 0
	for i := range ts {
		for ts[i].Sub(ts[j]) >= w {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

// offersIn counts offers in [from, to) after start.
func offersIn(offers []Offer, start time.Time, from, to time.Duration) int {
	n := 0
	for _, of := range offers {
		d := of.Time.Sub(start)
		if d >= from && d < to {
			n++
		}
	}
	return n
}

// eventually polls cond until it holds or d passes.
var eventually = fstest.Eventually

func TestOriginate300(t *testing.T) {
	tg := fstest.Start(t)
	r := newRig(t, Config{Rate: 50, Limit: 100, MaxOffered: 300, Apps: []App{{ID: "answer", Weight: 1}}},
		[]*fstest.Target{tg}, app(t, "answer", "testdata/answer.lua"))
	if d := r.o.Duration(); d != 3*time.Second {
		t.Errorf("auto duration = %v, want limit/rate + 1 s = 3s", d)
	}
	c := r.run(30 * time.Second)
	if c.State != Stopped || c.Offered != 300 || c.Answered != 300 || c.Failed != 0 || c.Ended != 300 || c.Active != 0 {
		t.Fatalf("counts: %v (ended %d, by cause %v)", c, c.Ended, c.FailedByCause)
	}
	if c.Peak > 100 || c.Peak < 90 {
		t.Errorf("peak concurrent %d, want the limit region (90..100]", c.Peak)
	}
	offers, rows, ended := r.snapshot()
	if len(offers) != 300 || len(rows) != 300 {
		t.Fatalf("%d offers, %d rows", len(offers), len(rows))
	}
	if n := maxConcurrent(offers, ended); n > 100 {
		t.Errorf("%d calls in progress at once, over the limit 100", n)
	}
	// Smooth: 50 calls/s is one every 20 ms; a burst per second would put
	// 50 in one window.
	if n := maxInWindow(offers, 100*time.Millisecond); n > 9 {
		t.Errorf("%d offers within 100 ms at 50 calls/s: not smooth", n)
	}
	// Before the limit binds (first 2 s), gaps are ~20 ms.
	var gaps []time.Duration
	for i := 1; i < 90; i++ {
		gaps = append(gaps, offers[i].Time.Sub(offers[i-1].Time))
	}
	slices.Sort(gaps)
	if med := gaps[len(gaps)/2]; med < 15*time.Millisecond || med > 25*time.Millisecond {
		t.Errorf("median gap between offers %v, want ~20ms", med)
	}
	for _, row := range rows {
		if row.Failed() || row.CalleeCreate == 0 || row.JobLaunch == 0 || row.SwitchluaApp != "answer" {
			t.Fatalf("bad row %+v", row)
		}
	}
	// Local clock only (a real FreeSWITCH's clock may differ): from the
	// offer to the row.
	var durs []time.Duration
	for _, of := range offers {
		durs = append(durs, ended[of.UUID].Sub(of.Time))
	}
	slices.Sort(durs)
	if med := durs[len(durs)/2]; med < 2900*time.Millisecond || med > 3500*time.Millisecond {
		t.Errorf("median call length from its originate %v, want ~3 s", med)
	}
	r.idle()
}

func TestFailuresByCause(t *testing.T) {
	tg := fstest.StartConfig(t, fssim.Config{FailRate: 0.1, FailCause: "USER_BUSY", Seed: 7})
	tg.RequireSim(t)
	r := newRig(t, Config{Rate: 200, Limit: 100, Duration: 200 * time.Millisecond, MaxOffered: 500,
		Apps: []App{{ID: "answer", Weight: 1}}}, []*fstest.Target{tg}, app(t, "answer", "testdata/answer.lua"))
	c := r.run(20 * time.Second)
	if c.Offered != 500 || c.Ended != 500 || c.Active != 0 {
		t.Fatalf("counts: %v", c)
	}
	busy := c.FailedByCause["USER_BUSY"]
	if busy < 25 || busy > 80 || c.Failed != busy || c.Answered+busy != 500 {
		t.Fatalf("failed %d by cause %v, answered %d: want ~50 USER_BUSY and the rest answered", c.Failed, c.FailedByCause, c.Answered)
	}
	_, rows, _ := r.snapshot()
	nb, withSessions := 0, 0
	for _, row := range rows {
		if row.HangupCause == "USER_BUSY" {
			nb++
			if row.JobLaunch == 0 || row.CallerCreate != 0 || row.FailedCalls == 0 || row.SwitchluaApp != "answer" {
				t.Errorf("failed-job row %+v: want the job's launch and cause only", row)
			}
			// The plot's active sessions and erlangs lines must not drop
			// to 0 at a failed call: the row carries the figures of its
			// offer like any other (this call included in the erlangs).
			if row.Erlangs < 1 || row.Erlangs > 100 {
				t.Errorf("failed-job row erlangs %d, want 1..100: %+v", row.Erlangs, row)
			}
			if row.ActiveSessions > 0 {
				withSessions++
			}
		}
	}
	if nb != int(busy) || len(rows) != 500 {
		t.Errorf("%d rows, %d USER_BUSY rows, want 500 and %d", len(rows), nb, busy)
	}
	// Sessions are sampled every 100 ms: only the first offers of the run
	// can see none up.
	if withSessions < nb/2 {
		t.Errorf("%d of %d failed-job rows have active_sessions > 0, want most", withSessions, nb)
	}
	r.idle()
}

func TestTwoNodes(t *testing.T) {
	a, b := fstest.Start(t), fstest.Start(t)
	a.RequireSim(t)
	r := newRig(t, Config{Rate: 100, Limit: 40, Duration: 300 * time.Millisecond, MaxOffered: 100,
		Apps: []App{{ID: "answer", Weight: 1}}}, []*fstest.Target{a, b}, app(t, "answer", "testdata/answer.lua"))
	c := r.run(20 * time.Second)
	if c.Answered != 100 || c.Failed != 0 {
		t.Fatalf("counts: %v", c)
	}
	for _, n := range c.Nodes {
		if n.Offered < 40 {
			t.Errorf("node %s got %d calls of 100", n.Node, n.Offered)
		}
	}
	_, rows, _ := r.snapshot()
	per := map[string]int{}
	for _, row := range rows {
		per[row.Node]++
	}
	if per[a.Addr] < 40 || per[b.Addr] < 40 {
		t.Errorf("rows per node %v", per)
	}
	r.idle()
}

func TestNodeAtCapacity(t *testing.T) {
	// Node a admits 8 legs (4 calls), b plenty; without set-up the
	// Originator learns that from `fsctl max_sessions`.
	a := fstest.StartConfig(t, fssim.Config{MaxSessions: 8, SessionsPerSecond: 1000})
	b := fstest.StartConfig(t, fssim.Config{MaxSessions: 1000, SessionsPerSecond: 1000})
	a.RequireSim(t)
	r := newRig(t, Config{Rate: 100, Limit: 30, Duration: time.Second, MaxOffered: 100, NoSetup: true,
		Apps: []App{{ID: "answer", Weight: 1}}}, []*fstest.Target{a, b}, app(t, "answer", "testdata/answer.lua"))
	c := r.run(20 * time.Second)
	if c.Answered != 100 || c.Failed != 0 {
		t.Fatalf("counts: %v, failed by cause %v (a node over its max_sessions refuses)", c, c.FailedByCause)
	}
	na, nb := c.Nodes[0], c.Nodes[1]
	if na.Capacity != 4 || na.Peak > 4 || na.Peak < 3 {
		t.Errorf("node a: capacity %d, peak %d; want 4 and at most 4", na.Capacity, na.Peak)
	}
	if nb.Offered < 70 {
		t.Errorf("node b got %d calls, want the rest (>= 70)", nb.Offered)
	}
	r.idle()
}

func TestNodeLimits(t *testing.T) {
	a, b := fstest.Start(t), fstest.Start(t)
	a.RequireSim(t)
	r := newRig(t, Config{Rate: 100, Limit: 30, Duration: time.Second, MaxOffered: 60,
		NodeLimits: map[string]int{a.Addr: 3}, Apps: []App{{ID: "answer", Weight: 1}}},
		[]*fstest.Target{a, b}, app(t, "answer", "testdata/answer.lua"))
	c := r.run(20 * time.Second)
	if c.Answered != 60 || c.Nodes[0].Capacity != 3 || c.Nodes[0].Peak > 3 || c.Nodes[1].Offered < 40 {
		t.Fatalf("counts: %v, nodes %+v", c, c.Nodes)
	}
	r.idle()
}

func TestLiveChanges(t *testing.T) {
	tg := fstest.Start(t)
	r := newRig(t, Config{Rate: 50, Limit: 10, Duration: time.Second, Apps: []App{{ID: "answer", Weight: 1}}},
		[]*fstest.Target{tg}, app(t, "answer", "testdata/answer.lua"))
	start := time.Now()
	if err := r.o.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	tLimit := time.Now()
	r.o.SetLimit(1000)
	time.Sleep(2 * time.Second)
	tRate := time.Now()
	r.o.SetRate(150)
	time.Sleep(2 * time.Second)
	c := r.o.Counts()
	if c.Rate != 150 || c.Limit != 1000 || c.State != Originating {
		t.Errorf("counts after changes: %v rate %v limit %d", c, c.Rate, c.Limit)
	}
	r.o.Stop(true)
	c = r.wait(10 * time.Second)
	if c.Failed != 0 || c.Active != 0 {
		t.Errorf("counts: %v by cause %v", c, c.FailedByCause)
	}
	offers, _, ended := r.snapshot()
	cps := func(from, to time.Time) float64 {
		return float64(offersIn(offers, from, 0, to.Sub(from))) / to.Sub(from).Seconds()
	}
	// 10 calls of 1 s at most: ~10 calls/s once the limit binds.
	if v := cps(start.Add(time.Second), tLimit); v > 16 {
		t.Errorf("limit 10, 1 s calls: %.1f calls/s, want ~10", v)
	}
	if v := cps(tLimit.Add(300*time.Millisecond), tRate); v < 35 || v > 60 {
		t.Errorf("limit raised: %.1f calls/s, want ~50", v)
	}
	if v := cps(tRate.Add(300*time.Millisecond), tRate.Add(2*time.Second)); v < 100 || v > 170 {
		t.Errorf("rate 150: %.1f calls/s", v)
	}
	var before []Offer
	for _, of := range offers {
		if of.Time.Before(tLimit) {
			before = append(before, of)
		}
	}
	if n := maxConcurrent(before, ended); n > 10 {
		t.Errorf("%d calls at once under limit 10", n)
	}
	r.idle()
}

func TestStopHangsUp(t *testing.T) {
	tg := fstest.Start(t)
	r := newRig(t, Config{Rate: 100, Limit: 50, Duration: time.Minute, Apps: []App{{ID: "answer", Weight: 1}}},
		[]*fstest.Target{tg}, app(t, "answer", "testdata/answer.lua"))
	if err := r.o.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "50 answered calls", func() bool {
		c := r.o.Counts()
		return c.Answered >= 50 && c.Active == 50
	})
	time.Sleep(100 * time.Millisecond)
	if c := r.o.Counts(); c.Offered != 50 || c.Active != 50 {
		t.Fatalf("at the limit: %v", c)
	}
	r.o.Stop(true)
	if s := r.o.State(); s != Stopping && s != Stopped {
		t.Errorf("state after Stop: %v", s)
	}
	c := r.wait(10 * time.Second)
	if c.State != Stopped || c.Ended != 50 || c.Failed != 0 {
		t.Errorf("counts: %v by cause %v", c, c.FailedByCause)
	}
	_, rows, _ := r.snapshot()
	for _, row := range rows {
		if row.HangupCause != "NORMAL_CLEARING" || row.CallerHangup-row.JobLaunch > 30 {
			t.Errorf("row %+v", row)
		}
	}
	r.idle()
	// Start again after STOPPED: it originates again.
	r.o.SetMaxOffered(60)
	r.o.SetDuration(200 * time.Millisecond)
	c = r.run(10 * time.Second)
	if c.Offered != 60 || c.Ended != 60 || c.Failed != 0 {
		t.Errorf("after a restart: %v", c)
	}
	r.idle()
}

func TestNoAutoHangup(t *testing.T) {
	tg := fstest.Start(t)
	r := newRig(t, Config{Rate: 50, Limit: 20, Duration: 300 * time.Millisecond, MaxOffered: 10,
		Apps: []App{{ID: "keep", Weight: 1}, {ID: "auto", Weight: 1}}},
		[]*fstest.Target{tg}, app(t, "keep", "testdata/noauto.lua"), app(t, "auto", "testdata/answer.lua"))
	if err := r.o.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the auto calls to end", func() bool {
		c := r.o.Counts()
		return c.Answered == 10 && c.Ended == 5
	})
	time.Sleep(time.Second) // 3x the duration
	c := r.o.Counts()
	if c.Active != 5 || c.Ended != 5 || c.State != Stopping {
		t.Fatalf("counts: %v, want the 5 noautohangup calls up", c)
	}
	offers, rows, ended := r.snapshot()
	for _, row := range rows {
		if row.SwitchluaApp != "auto" {
			t.Errorf("a call of app %s ended", row.SwitchluaApp)
		}
	}
	for _, of := range offers {
		if e, ok := ended[of.UUID]; ok {
			if d := e.Sub(of.Time); d < 300*time.Millisecond || d > 600*time.Millisecond {
				t.Errorf("an auto call lasted %v, want ~300ms", d)
			}
		}
	}
	r.o.Stop(true)
	c = r.wait(10 * time.Second)
	if c.Ended != 10 || c.Failed != 0 {
		t.Errorf("counts: %v", c)
	}
	r.idle()
}

func TestWeightedRoundRobin(t *testing.T) {
	w, err := newWRR([]App{{"a", 3}, {"b", 1}, {"c", 0}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for range 8 {
		got = append(got, w.next())
	}
	if s := strings.Join(got, ""); s != "aabaaaba" && s != "abaaabaa" && s != "aababaab" {
		// nginx's smooth WRR for 3:1 gives a a b a repeating
		if strings.Count(s, "a") != 6 || strings.Count(s, "b") != 2 || strings.Contains(s, "bb") || strings.Contains(s, "aaaa") {
			t.Errorf("3:1 mix over 8 picks = %s", s)
		}
	}
	for _, bad := range [][]App{{{"a", -1}}, {{"a", 0}}, {{"a", 1}, {"a", 2}}} {
		if _, err := newWRR(bad); err == nil {
			t.Errorf("newWRR(%v) accepted", bad)
		}
	}
	if w, _ := newWRR(nil); w.next() != "" {
		t.Error("no apps: want the default app")
	}
}

func TestSetupHelpers(t *testing.T) {
	for out, want := range map[string]int{"+OK max sessions: 1000\n": 1000, "+OK sessions per second: 30": 30} {
		if n, ok := fsctlNumber(out); !ok || n != want {
			t.Errorf("fsctlNumber(%q) = %d %v", out, n, ok)
		}
	}
	if _, ok := fsctlNumber("-ERR Invalid command"); ok {
		t.Error("an error read as a number")
	}
	if needsVerbose(host.TrackingEvents) || !needsVerbose(append(slices.Clone(host.TrackingEvents), "DTMF")) {
		t.Error("needsVerbose: tracking events need no verbose_events, DTMF does")
	}
	o, _ := New(Config{Rate: 1000, Limit: 20000})
	sps, m := o.wantLimitsLocked()
	if sps < 2000 || m < 40000 {
		t.Errorf("for 1000 calls/s and 20000 erlangs: sps %d, max_sessions %d", sps, m)
	}
	if d := o.Duration(); d != 21*time.Second {
		t.Errorf("auto duration %v, want 21s", d)
	}
	o.SetRate(0)
	if d := o.Duration(); d != 21*time.Second {
		t.Errorf("paused: auto duration %v, want it kept", d)
	}
	o.SetRate(500)
	if d := o.Duration(); d != 41*time.Second {
		t.Errorf("auto duration at 500 cps %v, want 41s", d)
	}
}

// testLogger sends warnings and errors to the test log while it runs.
func testLogger(t *testing.T) *slog.Logger {
	var live atomic.Bool
	live.Store(true)
	t.Cleanup(func() { live.Store(false) })
	return slog.New(slog.NewTextHandler(&tlog{t: t, live: &live}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tlog struct {
	t    *testing.T
	live *atomic.Bool
}

func (w *tlog) Write(p []byte) (int, error) {
	if w.live.Load() {
		w.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

var _ io.Writer = (*tlog)(nil)

func TestLifecycleWithoutNodes(t *testing.T) {
	o, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if o.State() != Initial || o.State().String() != "INITIAL" {
		t.Fatalf("state %v", o.State())
	}
	if err := o.Start(); err == nil {
		t.Error("Start before Attach accepted")
	}
	if err := o.Attach(context.Background(), host.NewPool()); err == nil {
		t.Error("Attach without Hook accepted")
	}
	var hc host.Config
	o.Hook(&hc)
	if hc.OnCallEnd == nil || hc.OnJob == nil {
		t.Fatal("Hook set no hooks")
	}
	if err := o.Attach(context.Background(), host.NewPool()); err == nil {
		t.Error("Attach to an empty pool accepted")
	}
	o.Stop(true) // nothing to stop
	if err := o.Wait(context.Background()); err != nil {
		t.Errorf("Wait in INITIAL: %v", err)
	}
	o.Close()
	o.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := o.Wait(ctx); err != nil || o.State() != Stopped {
		t.Errorf("after Close: %v, %v", err, o.State())
	}
	c := o.Counts()
	if c.Rate != DefaultRate || c.Limit != DefaultLimit || c.Duration != time.Second/30+AutoDurationOffset {
		t.Errorf("defaults: %+v", c)
	}
	if !strings.Contains(c.String(), "state=STOPPED") {
		t.Errorf("status line %q", c.String())
	}
}

func TestNodeDrops(t *testing.T) {
	// A node's connection drops mid-run: esl reconnects, the host
	// reconciles, and every call still ends (some may fail: their jobs or
	// events were lost with the connection).
	a, b := fstest.Start(t), fstest.Start(t)
	sa := a.RequireSim(t)
	r := newRig(t, Config{Rate: 100, Limit: 40, Duration: 300 * time.Millisecond, MaxOffered: 200,
		Apps: []App{{ID: "answer", Weight: 1}}}, []*fstest.Target{a, b}, app(t, "answer", "testdata/answer.lua"))
	if err := r.o.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "40 calls offered", func() bool { return r.o.Counts().Offered >= 40 })
	sa.DropConnections()
	c := r.wait(20 * time.Second)
	if c.Offered != 200 || c.Ended != 200 || c.Active != 0 {
		t.Fatalf("counts: %v by cause %v", c, c.FailedByCause)
	}
	if c.Failed > 30 {
		t.Errorf("%d calls failed (by cause %v) for one dropped connection", c.Failed, c.FailedByCause)
	}
	t.Logf("after the drop: %v, by cause %v, nodes %+v", c, c.FailedByCause, c.Nodes)
	_, rows, _ := r.snapshot()
	for _, row := range rows {
		if row.Erlangs < 1 {
			t.Errorf("row with erlangs %d (cause %s): want the calls in progress at its offer", row.Erlangs, row.HangupCause)
		}
	}
	eventually(t, 10*time.Second, "the pool to track nothing", func() bool {
		st := r.pool.Stats()
		return st.Sessions == 0 && st.Calls == 0 && st.Jobs == 0
	})
	eventually(t, 5*time.Second, "the simulators' channels to go", func() bool {
		return sa.ActiveChannels() == 0 && b.Sim.ActiveChannels() == 0
	})
}

// TestStopCancelsRinging: calls still ringing (the far end answers after
// 2 s) when Stop(hangup) comes are hung up by us: cancelled, not failed,
// each with a row that keeps its cause.
func TestStopCancelsRinging(t *testing.T) {
	tg := fstest.StartConfig(t, fssim.Config{AnswerDelay: 2 * time.Second})
	tg.RequireSim(t)
	r := newRig(t, Config{Rate: 50, Limit: 1000, Duration: 30 * time.Second,
		Apps: []App{{ID: "answer", Weight: 1}}}, []*fstest.Target{tg}, app(t, "answer", "testdata/answer.lua"))
	if err := r.o.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "30 calls offered", func() bool { return r.o.Counts().Offered >= 30 })
	r.o.Stop(true)
	c := r.wait(10 * time.Second)
	if c.Failed != 0 || len(c.FailedByCause) != 0 {
		t.Errorf("counts %v by cause %v: calls we hung up at the stop counted failed", c, c.FailedByCause)
	}
	if c.Ended != c.Offered || c.Cancelled+c.Answered != c.Offered || c.Cancelled == 0 {
		t.Errorf("counts %v: want every call ended, answered or cancelled, some cancelled", c)
	}
	_, rows, _ := r.snapshot()
	nc := 0
	for _, row := range rows {
		if row.Cancelled {
			nc++
			if row.HangupCause == "" || row.FailedCalls != 0 || row.Failed() {
				t.Errorf("cancelled row %+v: want its cause kept, no failed calls", row)
			}
		}
	}
	if int64(nc) != c.Cancelled || int64(len(rows)) != c.Offered {
		t.Errorf("%d rows, %d cancelled: want %d and %d", len(rows), nc, c.Offered, c.Cancelled)
	}
	r.idle()
}
