package host

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// BenchmarkActiveVsStats compares Active, the figures for a per-call CDR
// field or a status line, with Stats, which copies its four maps, on a
// Listener whose maps hold a realistic spread of causes and apps.
func BenchmarkActiveVsStats(b *testing.B) {
	l := newListener(Config{}, "bench")
	l.count(func(st *Stats) {
		st.Sessions, st.Calls = 1200, 600
		for i := range 12 {
			cause := fmt.Sprintf("CAUSE_%d", i)
			st.HangupCauses[cause] = uint64(i)
			st.FailedSessions[cause] = uint64(i)
			st.OriginateFailures[cause] = uint64(i)
		}
		for i := range 4 {
			st.SessionsPerApp[fmt.Sprintf("app%d", i)] = uint64(i)
		}
	})
	const n = 200000
	var sink int
	perOp := func(fn func()) float64 { // ns
		start := time.Now()
		for range n {
			fn()
		}
		return float64(time.Since(start).Nanoseconds()) / n
	}
	var once sync.Once
	for range b.N {
		stats := perOp(func() { st := l.Stats(); sink += st.Sessions + st.Calls })
		active := perOp(func() { s, c := l.Active(); sink += s + c })
		once.Do(func() {
			fmt.Printf("bench: listener_stats_ns %.0f ns\n", stats)
			fmt.Printf("bench: listener_active_ns %.1f ns\n", active)
			fmt.Printf("bench: listener_stats_vs_active %.0f x\n", stats/max(active, 0.1))
		})
	}
	if sink == 0 {
		b.Fatal("no figures")
	}
}
