package hotreload_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/switchlua/switchlua/hotreload"
	"github.com/switchlua/switchlua/hotreload/hrtest"
)

var printSaveToUpdate sync.Once

// BenchmarkSaveToUpdate measures, with the default 100 ms debounce, the time
// from the start of a save (temp-and-rename, the common editor style; and
// in-place) to the update being received from Updates: the watcher's share
// of issue 4's reload_latency_ms. The workload is fixed (20 saves of an
// app that requires a module) whatever b.N; the figures print once:
// the median, and the median over the debounce (the in-run baseline: the
// floor any debounced watcher has).
func BenchmarkSaveToUpdate(b *testing.B) {
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		app := filepath.Join(dir, "app.lua")
		if err := os.WriteFile(app, script("v0"), 0o644); err != nil {
			b.Fatal(err)
		}
		w, err := hotreload.New([]string{dir}, hotreload.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if _, ok := hrtest.Next(w.Updates(), 5*time.Second); !ok {
			b.Fatal("no initial update")
		}
		var lat, fromEvent []time.Duration
		for n := 1; n <= 20; n++ {
			style := hrtest.Atomic
			if n%2 == 0 {
				style = hrtest.InPlace
			}
			start := time.Now()
			if err := hrtest.Save(style, app, script(fmt.Sprintf("v%d", n))); err != nil {
				b.Fatal(err)
			}
			u, ok := hrtest.Next(w.Updates(), 5*time.Second)
			now := time.Now()
			if !ok || u.Err != nil {
				b.Fatalf("save %d: %+v", n, u)
			}
			lat = append(lat, now.Sub(start))
			fromEvent = append(fromEvent, now.Sub(u.Event))
		}
		w.Close()
		med, medEv := median(lat), median(fromEvent)
		printSaveToUpdate.Do(func() {
			ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
			fmt.Printf("bench: hotreload_save_to_update_ms %.1f ms\n", ms(med))
			fmt.Printf("bench: hotreload_save_to_update_max_ms %.1f ms\n", ms(maxDuration(lat)))
			fmt.Printf("bench: hotreload_event_to_update_ms %.1f ms\n", ms(medEv))
			fmt.Printf("bench: hotreload_save_to_update_vs_debounce %.3f x\n", float64(med)/float64(hotreload.DefaultDebounce))
		})
	}
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func maxDuration(d []time.Duration) time.Duration {
	m := d[0]
	for _, x := range d {
		m = max(m, x)
	}
	return m
}
