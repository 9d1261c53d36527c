package apps

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchlua/switchlua/hotreload"
	"github.com/switchlua/switchlua/hotreload/hrtest"
	"github.com/switchlua/switchlua/models"
)

// benchApp is version v of an app that logs "first-event V" on the first
// event it handles (globals are fresh in each generation) and keeps calls
// short: the outbound leg hangs up 0.2 s after the answer.
func benchApp(v int) string {
	return fmt.Sprintf(`-- reload latency bench app, version %d
local V = "%d"
local first = true
local function mark()
  if first then first = false; log.info("first-event " .. V) end
end
function on_park(sess)
  mark()
  if sess:is_inbound() then sess:answer() end
end
function on_answer(sess)
  mark()
  if sess:is_outbound() then sleep(0.2); sess:hangup() end
end
function on_hangup(sess) mark() end
function on_destroy(sess) mark() end
`, v, v)
}

var benchReloadOnce sync.Once

// BenchmarkReloadLatency measures, while calls run on the simulator (about
// 100 new calls/s, 20-40 in flight), the time from a save to the first event
// handled by the new generation, with the default 100 ms debounce, over 10
// saves. It prints the median and the worst, the ratio of the median to the
// debounce, and the Manager's own "file event to live" figure.
func BenchmarkReloadLatency(b *testing.B) {
	const saves = 10
	r := newRig(b, rigConfig{
		files:   map[string]string{"bench.lua": benchApp(1)},
		scripts: []string{"bench.lua"},
		opts:    Options{Debounce: hotreload.DefaultDebounce},
		sim:     loadSim,
	})
	r.setSPS(10000)
	firsts := make([]chan time.Time, saves+2)
	for i := range firsts {
		firsts[i] = make(chan time.Time, 1)
	}
	watch := func(rec logRec) {
		if v, ok := strings.CutPrefix(rec.Text, "first-event "); ok {
			var n int
			fmt.Sscanf(v, "%d", &n)
			if n > 0 && n < len(firsts) {
				select {
				case firsts[n] <- time.Now():
				default:
				}
			}
		}
	}
	r.logs.watch.Store(&watch)

	var stop atomic.Bool
	var wg sync.WaitGroup
	var jobsMu sync.Mutex
	var jobs []*models.Job
	wg.Go(func() {
		for !stop.Load() {
			j := r.originate("bench")
			jobsMu.Lock()
			jobs = append(jobs, j)
			jobsMu.Unlock()
			time.Sleep(10 * time.Millisecond)
		}
	})
	time.Sleep(500 * time.Millisecond)

	b.ResetTimer()
	var toFirst, toLive []time.Duration
	for v := 2; v <= saves+1; v++ {
		t0 := time.Now()
		if err := hrtest.WriteAtomic(r.path("bench.lua"), []byte(benchApp(v))); err != nil {
			b.Fatal(err)
		}
		select {
		case t1 := <-firsts[v]:
			toFirst = append(toFirst, t1.Sub(t0))
		case <-time.After(5 * time.Second):
			b.Fatalf("version %d handled no event within 5 s", v)
		}
		rl := r.reload(5 * time.Second)
		if !rl.OK {
			b.Fatalf("reload %+v", rl)
		}
		toLive = append(toLive, rl.Latency)
		time.Sleep(150 * time.Millisecond)
	}
	b.StopTimer()
	stop.Store(true)
	wg.Wait()
	r.waitJobs(jobs, 10*time.Second)
	st := r.idle(r.pool, 10*time.Second)
	if st.FailedCalls != 0 || st.ScriptErrors != 0 {
		b.Fatalf("failed calls %d, script errors %d", st.FailedCalls, st.ScriptErrors)
	}

	med := median(toFirst)
	worst := slicesMax(toFirst)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(med), "ms/reload")
	benchReloadOnce.Do(func() {
		fmt.Printf("bench: reload_latency_ms %.1f ms\n", ms(med))
		fmt.Printf("bench: reload_latency_max_ms %.1f ms\n", ms(worst))
		fmt.Printf("bench: reload_latency_vs_debounce %.2f x\n", float64(med)/float64(hotreload.DefaultDebounce))
		fmt.Printf("bench: reload_event_to_live_ms %.1f ms\n", ms(median(toLive)))
		fmt.Printf("bench: reload_calls_during_bench %d calls\n", len(jobs))
	})
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func slicesMax(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}
