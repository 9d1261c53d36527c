package apps

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchlua/switchlua/esl"
	"github.com/switchlua/switchlua/esl/fssim/fstest"
	"github.com/switchlua/switchlua/hotreload/hrtest"
	"github.com/switchlua/switchlua/models"
)

// countedEvents are the events the load app handles and counts.
var countedEvents = []string{"CHANNEL_PARK", "CHANNEL_ANSWER", "CHANNEL_HANGUP", "CHANNEL_DESTROY"}

// loadApp is version v of an app that counts, in switchlua.shared, every
// event it handles per version ("h:V") and per leg and event
// ("seen:UUID:EVENT"), names its version on each answered leg (a channel
// variable app_version=V, visible in the leg's later events, and
// "ver:UUID" in the store) and hangs the call up from the outbound leg after
// holding it holdMin..holdMin+holdSpread seconds.
func loadApp(v int, holdMin, holdSpread float64) string {
	return fmt.Sprintf(`-- load app, version %d
local V = "%d"
local sh = switchlua.shared
local function count(sess, ev)
  sh.incr("h:" .. V, 1)
  sh.incr("seen:" .. sess.uuid .. ":" .. ev, 1)
end
function setup(ctx) sh.set("gen:" .. V, ctx.generation) end
function on_park(sess)
  count(sess, "CHANNEL_PARK")
  if sess:is_inbound() then sess:answer() end
end
function on_answer(sess)
  count(sess, "CHANNEL_ANSWER")
  sh.set("ver:" .. sess.uuid, V)
  assert(sess:execute("set", "app_version=" .. V))
  if sess:is_outbound() then
    sleep(%g + math.random() * %g)
    sess:hangup()
  end
end
function on_hangup(sess) count(sess, "CHANNEL_HANGUP") end
function on_destroy(sess) count(sess, "CHANNEL_DESTROY") end
`, v, v, holdMin, holdSpread)
}

// recordWire records, on a connection of its own, the counted events of
// the test's calls as FreeSWITCH sends them.
func recordWire(t *testing.T, r *rig) *fstest.Recorder {
	t.Helper()
	c := r.tg.Dial(t, esl.Options{})
	rec := fstest.Record(c)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Subscribe(ctx, countedEvents...); err != nil {
		t.Fatal(err)
	}
	return rec
}

// ours tells the test's legs' events apart (on a real FreeSWITCH there may
// be other calls).
func (r *rig) ours(ev *esl.Event) bool { return ev.Get("variable_"+fstest.TagVar) == r.tg.Tag }

// loadCheck verifies, once every call is over, that each event of the
// test's calls was handled exactly once by some version of the app, and
// returns the version each answered leg named on the wire.
func loadCheck(t *testing.T, r *rig, rec *fstest.Recorder, calls, maxVersion int) map[string]string {
	t.Helper()
	st := r.idle(r.pool, 15*time.Second)
	rec.Count(t, 10*time.Second, "every leg destroyed", 2*calls, func(ev *esl.Event) bool {
		return ev.Name() == "CHANNEL_DESTROY" && r.ours(ev)
	})
	if st.FailedCalls != 0 || st.ScriptErrors != 0 || st.HangupCauses["NORMAL_CLEARING"] != uint64(2*calls) || st.Answered != uint64(2*calls) {
		t.Fatalf("node stats: failed calls %d, script errors %d, causes %v, answered %d (want 0, 0, %d NORMAL_CLEARING, %d)",
			st.FailedCalls, st.ScriptErrors, st.HangupCauses, st.Answered, 2*calls, 2*calls)
	}
	// The wire: what FreeSWITCH sent for our legs.
	wire := map[string]int{}   // uuid:event -> count
	byName := map[string]int{} // event -> count
	named := map[string]string{}
	for _, ev := range rec.Events() {
		if !r.ours(ev) {
			continue
		}
		wire[ev.UUID()+":"+ev.Name()]++
		byName[ev.Name()]++
		if ev.Name() == "CHANNEL_HANGUP" {
			named[ev.UUID()] = ev.Get("variable_app_version")
		}
	}
	if len(named) != 2*calls {
		t.Fatalf("%d legs hung up on the wire, want %d", len(named), 2*calls)
	}
	// Each event handled exactly once, by the app.
	for key, n := range wire {
		if got := r.num("seen:" + key); got != n {
			t.Errorf("event %s: sent %d times, handled %d times", key, n, got)
		}
	}
	// What the Listener dispatched to Lua, what the versions counted and
	// what was sent agree.
	cbs, errs := r.callbacks()
	if len(errs) > 0 {
		t.Fatalf("callback errors: %v", errs)
	}
	handled, keys := 0, len(wire)
	for v := 1; v <= maxVersion; v++ {
		if n := r.num(fmt.Sprintf("h:%d", v)); n > 0 {
			handled += n
			keys++
		}
		if r.str(fmt.Sprintf("gen:%d", v)) != "" {
			keys++
		}
	}
	sent, dispatched := 0, 0
	for _, name := range countedEvents {
		cb := "on_" + strings.ToLower(strings.TrimPrefix(name, "CHANNEL_"))
		if cbs[cb] != byName[name] {
			t.Errorf("%s: %d sent, %s ran %d times", name, byName[name], cb, cbs[cb])
		}
		sent += byName[name]
		dispatched += cbs[cb]
	}
	if handled != sent || dispatched != sent {
		t.Fatalf("events sent %d, dispatched %d, handled by the versions %d", sent, dispatched, handled)
	}
	// No stray key: every seen:, h:, gen: and ver: key is accounted for.
	if n := r.shared.Len(); n != keys+2*calls {
		t.Fatalf("shared store has %d keys, want %d", n, keys+2*calls)
	}
	// The version each leg named on the wire is the one that answered it.
	for uuid, v := range named {
		if want := r.str("ver:" + uuid); v != want || v == "" {
			t.Errorf("leg %s: app_version %q on the wire, answered by version %q", uuid, v, want)
		}
	}
	return named
}

// Reload under load: ~200 calls in flight on the node and 20 saves while
// they run. Every event is handled exactly once by some generation, no call
// is lost or stuck, and the switch shows in what the app does.
func TestE2EReloadUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	const (
		calls = 200
		saves = 20
	)
	r := newRig(t, rigConfig{
		files:   map[string]string{"load.lua": loadApp(1, 2, 1)},
		scripts: []string{"load.lua"},
		sim:     loadSim,
	})
	r.setSPS(10000)
	rec := recordWire(t, r)

	start := time.Now()
	var wg sync.WaitGroup
	jobs := make([]*models.Job, calls)
	wg.Go(func() { // 200 calls over about a second
		for i := range jobs {
			jobs[i] = r.originate("load")
			time.Sleep(5 * time.Millisecond)
		}
	})
	var saveErr error
	var peak int   // calls in flight, sampled at each save
	wg.Go(func() { // 20 saves, 150 ms apart, from 300 ms on
		time.Sleep(300 * time.Millisecond)
		for v := 2; v <= saves+1; v++ {
			style := hrtest.Styles[v%len(hrtest.Styles)]
			if err := hrtest.Save(style, r.path("load.lua"), []byte(loadApp(v, 2, 1))); err != nil {
				saveErr = err
				return
			}
			peak = max(peak, r.pool.Stats().Calls)
			time.Sleep(150 * time.Millisecond)
		}
	})
	wg.Wait()
	if saveErr != nil {
		t.Fatal(saveErr)
	}
	eventually(t, 5*time.Second, "the last save to be live", func() bool { return r.str(fmt.Sprintf("gen:%d", saves+1)) != "" })
	r.waitJobs(jobs, 10*time.Second)
	named := loadCheck(t, r, rec, calls, saves+1)

	versions := map[string]int{}
	for _, v := range named {
		versions[v]++
	}
	st := r.m.Stats()
	var lat []time.Duration
	for len(r.reloads) > 0 {
		rl := <-r.reloads
		if !rl.OK {
			t.Errorf("reload refused: %+v", rl)
		}
		lat = append(lat, rl.Latency)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("%d calls (up to %d in flight during the saves), %d reloads applied for %d saves, versions answering legs %v, event-to-live p50 %v max %v, took %v",
		calls, peak, st.Reloads, saves, versions, lat[len(lat)/2], lat[len(lat)-1], time.Since(start))
	if st.Failed != 0 || st.Reloads < 2 {
		t.Fatalf("manager stats %+v", st)
	}
	if len(versions) < 2 {
		t.Fatalf("legs answered by versions %v: the switch is not visible", versions)
	}
	if got, want := r.m.Apps()[0].Generation, uint64(r.num(fmt.Sprintf("gen:%d", saves+1))); got != want {
		t.Fatalf("app generation %d, the last save's setup saw %d", got, want)
	}
}

// A broken save under load: zero failed calls, the old code keeps serving
// through a syntax error and an error at load, then a fix applies.
func TestE2EBrokenSaveUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	const calls = 120
	r := newRig(t, rigConfig{
		files:   map[string]string{"load.lua": loadApp(1, 0.3, 0.4)},
		scripts: []string{"load.lua"},
		sim:     loadSim,
	})
	r.setSPS(10000)
	rec := recordWire(t, r)

	jobs := make([]*models.Job, calls)
	answered := make([]time.Time, calls)
	var wg sync.WaitGroup
	wg.Go(func() { // 120 calls over about 2.4 s
		var jw sync.WaitGroup
		for i := range jobs {
			j := r.originate("load")
			jobs[i] = j
			jw.Go(func() {
				select {
				case <-j.Done():
					answered[i] = time.Now()
				case <-time.After(15 * time.Second):
				}
			})
			time.Sleep(20 * time.Millisecond)
		}
		jw.Wait()
	})
	var refusedAt, fixedAt time.Time
	var failure error
	wg.Go(func() {
		fail := func(err error) {
			if failure == nil {
				failure = err
			}
		}
		time.Sleep(400 * time.Millisecond)
		// Line 3: a syntax error in the middle of the file.
		bad := "-- broken save\nlocal V = 'x'\nfunction on_park(sess) if then end end\n"
		if err := hrtest.WriteAtomic(r.path("load.lua"), []byte(bad)); err != nil {
			fail(err)
			return
		}
		if rl, ok := r.nextReload(5 * time.Second); !ok || rl.OK {
			fail(fmt.Errorf("syntax error: %+v (reported %v)", rl, ok))
			return
		}
		// Line 4 raises at load.
		bad = "-- broken at load\nlocal V = 'y'\nfunction on_park(sess) end\nerror('refuse to load')\n"
		if err := hrtest.Save(hrtest.InPlace, r.path("load.lua"), []byte(bad)); err != nil {
			fail(err)
			return
		}
		if rl, ok := r.nextReload(5 * time.Second); !ok || rl.OK || !strings.Contains(rl.Err.Error(), "load.lua:4:") {
			fail(fmt.Errorf("load error: %+v (reported %v)", rl, ok))
			return
		}
		refusedAt = time.Now()
		time.Sleep(600 * time.Millisecond)
		if err := hrtest.WriteVim(r.path("load.lua"), []byte(loadApp(2, 0.3, 0.4))); err != nil {
			fail(err)
			return
		}
		if rl, ok := r.nextReload(5 * time.Second); !ok || !rl.OK {
			fail(fmt.Errorf("fix: %+v (reported %v)", rl, ok))
			return
		}
		fixedAt = time.Now()
	})
	wg.Wait()
	if failure != nil {
		t.Fatal(failure)
	}
	r.waitJobs(jobs, 10*time.Second)
	named := loadCheck(t, r, rec, calls, 2)

	// Calls answered while the broken saves were on disk ran version 1.
	between, after := 0, 0
	for i, j := range jobs {
		switch v := named[j.SessUUID]; {
		case v != "1" && v != "2":
			t.Fatalf("leg answered by version %q", v)
		case answered[i].After(refusedAt.Add(50*time.Millisecond)) && answered[i].Before(fixedAt.Add(-150*time.Millisecond)):
			between++
			if v != "1" {
				t.Fatalf("call answered while the broken save was on disk ran version %q", v)
			}
		case answered[i].After(fixedAt.Add(50 * time.Millisecond)):
			after++
			if v != "2" {
				t.Fatalf("call answered after the fix ran version %q", v)
			}
		}
	}
	if between == 0 || after == 0 {
		t.Fatalf("%d calls answered between the refused save and the fix, %d after: want some of each", between, after)
	}
	st := r.m.Stats()
	if st.Failed != 2 || st.Reloads != 1 {
		t.Fatalf("manager stats %+v: want 2 failed, 1 reload", st)
	}
	if lines := r.logs.matching(slog.LevelWarn, "load.lua:3:"); len(lines) != 1 {
		t.Fatalf("syntax error logged %d times", len(lines))
	}
	if lines := r.logs.matching(slog.LevelWarn, "load.lua:4:"); len(lines) != 1 {
		t.Fatalf("load error logged %d times", len(lines))
	}
	t.Logf("%d calls, %d answered by version 1 while broken saves were on disk, %d by version 2 after the fix", calls, between, after)
}
