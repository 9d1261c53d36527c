package models_test

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/switchlua/switchlua/esl"
	"github.com/switchlua/switchlua/models"
	"github.com/switchlua/switchlua/models/modelstest"
)

// parser turns one text/event-plain body into an event. Memory is measured
// with esl's real Event and with modelstest's (same layout idea).
type parser struct {
	name  string
	parse func([]byte) (models.Event, error)
}

var parsers = []parser{
	{"esl", func(b []byte) (models.Event, error) { return esl.ParseEvent(b) }},
	{"modelstest", func(b []byte) (models.Event, error) { return modelstest.ParseEvent(b) }},
}

// memFigures is what retained-memory measurement found, per two-leg call.
type memFigures struct {
	calls        int
	eventBytes   float64 // retaining just the latest event of each leg (the baseline)
	activeBytes  float64 // two sessions + call, each leg fed up to before its CHANNEL_HANGUP
	endedBytes   float64 // the same after the whole sequence (through CHANNEL_DESTROY)
	eventsPerLeg [2]int

	// The 100-call load capture replayed up to its peak of active calls.
	loadCalls      float64 // active two-leg calls at the peak (all copies)
	loadEventBytes float64 // per call: the latest event of each leg only
	loadBytes      float64 // per call: sessions, calls and tracking maps
}

var (
	memMu  sync.Mutex
	memRes = map[string]memFigures{}
)

// heapDelta returns the live heap growth caused by build, which must return
// what it wants kept alive.
func heapDelta(build func() any) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	keep := build()
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(keep)
	return float64(int64(after.HeapAlloc) - int64(before.HeapAlloc))
}

func mustParse(p parser, raw []byte) models.Event {
	ev, err := p.parse(raw)
	if err != nil {
		panic(fmt.Sprintf("%s: %v", p.name, err))
	}
	return ev
}

// measureMemory feeds the capture's two legs into calls fresh sessions each
// (every event parsed anew, as a connection would deliver it) and measures
// the live heap they keep, then does the same with the load capture.
func measureMemory(p parser, calls int) (f memFigures, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	raws, err := modelstest.TranscriptEvents(transcript)
	if err != nil {
		return f, err
	}
	// Which raw events belong to which leg, and where each leg's hangup starts.
	var legRaw [2][][]byte
	var uuids []string
	for _, raw := range raws {
		u := mustParse(p, raw).UUID()
		if u == "" {
			continue
		}
		i := -1
		for k, x := range uuids {
			if x == u {
				i = k
			}
		}
		if i < 0 {
			uuids = append(uuids, u)
			i = len(uuids) - 1
		}
		if i > 1 {
			return f, fmt.Errorf("more than two legs")
		}
		legRaw[i] = append(legRaw[i], raw)
	}
	active := [2]int{}
	for l := range legRaw {
		for k, raw := range legRaw[l] {
			if mustParse(p, raw).Name() == "CHANNEL_HANGUP" {
				active[l] = k
				break
			}
		}
	}
	build := func(upto func(leg int) int) func() any {
		return func() any {
			out := make([]*models.Call, 0, calls)
			for i := 0; i < calls; i++ {
				c := models.NewCall(fmt.Sprintf("call-%d", i))
				for l := range legRaw {
					n := upto(l)
					s := models.NewSession(mustParse(p, legRaw[l][0]), "127.0.0.1:8021", nil)
					for _, raw := range legRaw[l][1:n] {
						s.Update(mustParse(p, raw))
					}
					c.Append(s)
				}
				out = append(out, c)
			}
			return out
		}
	}
	f.calls = calls
	f.eventsPerLeg = [2]int{len(legRaw[0]), len(legRaw[1])}
	f.eventBytes = heapDelta(func() any {
		keep := make([]models.Event, 0, 2*calls)
		for i := 0; i < calls; i++ {
			for l := range legRaw {
				keep = append(keep, mustParse(p, legRaw[l][active[l]-1]))
			}
		}
		return keep
	}) / float64(calls)
	f.activeBytes = heapDelta(build(func(l int) int { return active[l] })) / float64(calls)
	f.endedBytes = heapDelta(build(func(l int) int { return len(legRaw[l]) })) / float64(calls)
	return f, measureLoad(p, &f)
}

const loadTranscript = "../testdata/transcripts/load-100calls.raw.gz"

// tracker is the least a host does: sessions by uuid, calls by tracking
// header, created on CREATE/ORIGINATE, removed on DESTROY.
type tracker struct {
	sessions map[string]*models.Session
	calls    map[string]*models.Call
}

func newTracker() *tracker {
	return &tracker{map[string]*models.Session{}, map[string]*models.Call{}}
}

func (t *tracker) apply(ev models.Event) {
	u := ev.UUID()
	if u == "" {
		return
	}
	s := t.sessions[u]
	if s == nil {
		if n := ev.Name(); n != "CHANNEL_CREATE" && n != "CHANNEL_ORIGINATE" {
			return
		}
		s = models.NewSession(ev, "127.0.0.1:8021", nil)
		t.sessions[s.UUID] = s
		key := ev.Get("variable_sip_h_X-switchlua_originating_session")
		if key == "" {
			key = s.UUID
		}
		c := t.calls[key]
		if c == nil {
			c = models.NewCall(strings.Clone(key))
			t.calls[c.UUID] = c
		}
		c.Append(s)
		return
	}
	s.Update(ev)
	if ev.Name() == "CHANNEL_DESTROY" {
		delete(t.sessions, u)
		c := s.Call
		c.Remove(s)
		if c.Len() == 0 {
			delete(t.calls, c.UUID)
		}
	}
}

// measureLoad replays the load capture, several independent copies at once,
// up to the moment the most calls are active, and measures what the
// trackers keep, against keeping just the latest event of each active leg.
func measureLoad(p parser, f *memFigures) error {
	raws, err := modelstest.TranscriptEvents(loadTranscript)
	if err != nil {
		return err
	}
	// Find the peak.
	probe := newTracker()
	peak, peakAt := 0, 0
	for i, raw := range raws {
		probe.apply(mustParse(p, raw))
		if n := len(probe.sessions); n > peak {
			peak, peakAt = n, i+1
		}
	}
	if len(probe.sessions) != 0 || len(probe.calls) != 0 {
		return fmt.Errorf("load replay left %d sessions, %d calls", len(probe.sessions), len(probe.calls))
	}
	copies := 10
	if raceOn {
		copies = 1
	}
	f.loadCalls = float64(copies*peak) / 2
	replay := func() func() any {
		return func() any {
			ts := make([]*tracker, copies)
			for k := range ts {
				ts[k] = newTracker()
				for _, raw := range raws[:peakAt] {
					ts[k].apply(mustParse(p, raw))
				}
			}
			return ts
		}
	}
	f.loadBytes = heapDelta(replay()) / f.loadCalls
	f.loadEventBytes = heapDelta(func() any {
		ls := make([]map[string]models.Event, copies)
		for k := range ls {
			ls[k] = map[string]models.Event{}
			for _, raw := range raws[:peakAt] {
				ev := mustParse(p, raw)
				if u := ev.UUID(); u != "" {
					if ev.Name() == "CHANNEL_DESTROY" {
						delete(ls[k], u)
					} else if _, ok := ls[k][u]; ok || ev.Name() == "CHANNEL_CREATE" || ev.Name() == "CHANNEL_ORIGINATE" {
						ls[k][strings.Clone(u)] = ev
					}
				}
			}
		}
		return ls
	}) / f.loadCalls
	runtime.KeepAlive(raws) // the input stays live across all measurements
	return nil
}

func figures(t testing.TB, p parser) memFigures {
	memMu.Lock()
	defer memMu.Unlock()
	if f, ok := memRes[p.name]; ok {
		return f
	}
	calls := 500
	if raceOn {
		calls = 50
	}
	f, err := measureMemory(p, calls)
	if err != nil {
		t.Fatalf("%s: %v", p.name, err)
	}
	memRes[p.name] = f
	return f
}

// TestRetainedMemory checks that a session keeps about one event: the live
// heap of an active two-leg call is the two latest events plus a small
// overhead. The bound is generous (this is not a benchmark); the figures are
// logged here and printed by BenchmarkRetainedMemory.
func TestRetainedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	for _, p := range parsers {
		t.Run(p.name, func(t *testing.T) {
			f := figures(t, p)
			over := f.activeBytes - f.eventBytes
			t.Logf("self-call, per two-leg call (%d calls, %v events per leg): latest events alone %.0f B; active call %.0f B (overhead %.0f B); after destroy %.0f B",
				f.calls, f.eventsPerLeg, f.eventBytes, f.activeBytes, over, f.endedBytes)
			t.Logf("load capture at its peak (%.0f active calls): latest events alone %.0f B per call; tracked calls %.0f B (overhead %.0f B)",
				f.loadCalls, f.loadEventBytes, f.loadBytes, f.loadBytes-f.loadEventBytes)
			if over > 8*1024 || f.loadBytes-f.loadEventBytes > 8*1024 {
				t.Errorf("sessions keep too much beyond their latest events")
			}
		})
	}
}

// BenchmarkRetainedMemory prints the retained bytes per two-leg call (with
// esl's events), against the baseline of keeping only the two latest events,
// measured in the same run.
func BenchmarkRetainedMemory(b *testing.B) {
	f := figures(b, parsers[0])
	for i := 0; i < b.N; i++ {
	}
	benchOnce.Do(func() {
		fmt.Printf("bench: models_bytes_per_call %.0f B\n", f.activeBytes)
		fmt.Printf("bench: models_bytes_per_call_vs_latest_events %.2f x\n", f.activeBytes/f.eventBytes)
		fmt.Printf("bench: models_load_bytes_per_call %.0f B\n", f.loadBytes)
		fmt.Printf("bench: models_load_bytes_per_call_vs_latest_events %.2f x\n", f.loadBytes/f.loadEventBytes)
	})
}

var benchOnce, updOnce sync.Once
