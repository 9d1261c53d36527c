package models_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/switchlua/switchlua/models"
	"github.com/switchlua/switchlua/models/modelstest"
)

// BenchmarkUpdate replays the 100-call load capture (3783 real events)
// through a minimal tracker (NewSession, Update, Call, remove on DESTROY)
// and prints the cost per event against a baseline measured in the same
// run: visiting every header of every event once (a lower bound for anyone
// who reads the event).
func BenchmarkUpdate(b *testing.B) {
	raws, err := modelstest.TranscriptEvents(loadTranscript)
	if err != nil {
		b.Fatal(err)
	}
	evs := make([]*modelstest.Event, len(raws))
	for i, raw := range raws {
		if evs[i], err = modelstest.ParseEvent(raw); err != nil {
			b.Fatal(err)
		}
	}
	const rounds = 20
	n := float64(rounds * len(evs))

	sink := 0
	start := time.Now()
	for r := 0; r < rounds; r++ {
		for _, ev := range evs {
			ev.Range(func(name, value string) bool { sink += len(value); return true })
		}
	}
	base := time.Since(start)

	start = time.Now()
	for r := 0; r < rounds; r++ {
		tr := &tracker{map[string]*models.Session{}, map[string]*models.Call{}}
		for _, ev := range evs {
			tr.apply(ev)
		}
	}
	upd := time.Since(start)
	for i := 0; i < b.N; i++ {
	}
	updOnce.Do(func() {
		fmt.Printf("bench: models_update_ns_per_event %.0f ns\n", float64(upd.Nanoseconds())/n)
		fmt.Printf("bench: models_update_vs_header_walk %.2f x\n", float64(upd)/float64(base))
	})
	_ = sink
}

// BenchmarkUpdateStream is the tracker replay of BenchmarkUpdate as a plain
// Go benchmark (one op = the whole 3783-event stream), for profiling.
func BenchmarkUpdateStream(b *testing.B) {
	raws, err := modelstest.TranscriptEvents(loadTranscript)
	if err != nil {
		b.Fatal(err)
	}
	evs := make([]*modelstest.Event, len(raws))
	for i, raw := range raws {
		evs[i], _ = modelstest.ParseEvent(raw)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tr := &tracker{map[string]*models.Session{}, map[string]*models.Call{}}
		for _, ev := range evs {
			tr.apply(ev)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(evs)), "ns/event")
}
