package host

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/switchlua/switchlua/bindings"
	"github.com/switchlua/switchlua/esl"
	"github.com/switchlua/switchlua/models"
)

const loadCapture = "../testdata/transcripts/load-100calls.raw.gz"

// compileApp compiles the scripts at paths into app id.
func compileApp(tb testing.TB, id string, paths ...string) bindings.AppSpec {
	tb.Helper()
	spec := bindings.AppSpec{ID: id}
	for _, p := range paths {
		sc, err := bindings.CompileFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		spec.Scripts = append(spec.Scripts, sc)
	}
	return spec
}

// toneplayApp is TonePlay under the app id the load capture's calls carry.
func toneplayApp(tb testing.TB) bindings.AppSpec {
	return compileApp(tb, "capture", "../scripts/builtin/toneplay.lua")
}

func repeatFrames(frames [][]byte, n int) [][]byte {
	out := make([][]byte, 0, len(frames)*n)
	for range n {
		out = append(out, frames...)
	}
	return out
}

// benchReader measures events/s through a bare esl connection (Handler mode,
// counting) for stream, written by a fake server as fast as it is read.
func benchReader(tb testing.TB, stream [][]byte) float64 {
	fs := newFakeFS(tb)
	var n atomic.Int64
	total := int64(len(stream))
	done := make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := esl.Dial(ctx, fs.addr(), esl.Options{Handler: func(*esl.Event) {
		if n.Add(1) == total {
			close(done)
		}
	}})
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	if err := c.Subscribe(ctx, TrackingEvents...); err != nil {
		tb.Fatal(err)
	}
	start := time.Now()
	go fs.write(stream, 64<<10)
	select {
	case <-done:
	case <-ctx.Done():
		tb.Fatalf("reader got %d of %d events", n.Load(), total)
	}
	return float64(total) / time.Since(start).Seconds()
}

// benchListener measures events/s through a whole Listener with app loaded.
func benchListener(tb testing.TB, stream [][]byte, app bindings.AppSpec) float64 {
	fs := newFakeFS(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l, err := Dial(ctx, fs.addr(), Config{})
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	if err := l.Load(ctx, app); err != nil {
		tb.Fatal(err)
	}
	total := uint64(len(stream))
	base := l.Stats().Events
	start := time.Now()
	go fs.write(stream, 64<<10)
	for l.Stats().Events-base < total {
		if ctx.Err() != nil {
			tb.Fatalf("listener handled %d of %d events", l.Stats().Events-base, total)
		}
		time.Sleep(200 * time.Microsecond)
	}
	el := time.Since(start)
	st := l.Stats()
	if st.Callbacks == 0 {
		tb.Fatalf("no callback ran: %+v", st)
	}
	if st.ScriptErrors > 0 {
		tb.Logf("script errors: %d", st.ScriptErrors)
	}
	return float64(total) / el.Seconds()
}

var (
	printOnce   sync.Map // benchmark name -> *sync.Once
	listenerMax atomic.Value
)

func once(name string, fn func()) {
	o, _ := printOnce.LoadOrStore(name, new(sync.Once))
	o.(*sync.Once).Do(fn)
}

// BenchmarkListenerVsReader: events/s through the whole Listener with
// TonePlay loaded, against the bare esl reader, on the same replayed real
// stream (the load capture's 3800 events, ~4 KB each), in the same run.
func BenchmarkListenerVsReader(b *testing.B) {
	frames := loadCaptureFrames(b, loadCapture)
	stream := repeatFrames(frames, 30)
	app := toneplayApp(b)
	once("ListenerVsReader", func() {
		var rd, ls []float64
		for range 2 { // interleaved, best of two: the machine is shared
			rd = append(rd, benchReader(b, stream))
			ls = append(ls, benchListener(b, stream, app))
		}
		r, l := slices.Max(rd), slices.Max(ls)
		listenerMax.Store(l)
		fmt.Printf("bench: reader_events_per_s %.0f events/s\n", r)
		fmt.Printf("bench: listener_events_per_s %.0f events/s\n", l)
		fmt.Printf("bench: listener_vs_reader %.2f x\n", l/r)
	})
}

// BenchmarkCallbackLatency: event-to-callback latency with TonePlay loaded,
// from the moment a server in its own process writes the frame of a
// CHANNEL_PARK or CHANNEL_ANSWER (its wall clock just before the write) to
// the start of TonePlay's on_park / on_answer for that event on the Listener
// goroutine (the Listener process's wall clock; one machine, one clock).
//
// The server replays the load capture (cycling) at half the Listener's
// maximum rate measured in the same run (BenchmarkListenerVsReader's
// listener_events_per_s when it ran first, else measured here), printed as
// callback_latency_rate. It writes every ~100 us the events that fell due
// since its last write (callback_latency_events_per_write of them on
// average), so a latency includes the loopback TCP, the esl reader's
// parsing, the hand-over to the Listener, the tracking and dispatch, and the
// wait behind the events of the same write that come first. The "host"
// figures start the clock when the esl reader hands the event over (they
// leave out TCP and parsing). A second point at 20k events/s (~500 call
// set-ups/s). The CPU the Listener's process and the server used while
// streaming is printed in cores (of the machine's two): how loaded the
// machine was.
//
// The server runs in its own process (see replay_test.go) so that its pacing
// and writes do not compete with the Listener's goroutines for the Go
// scheduler, nor add to their garbage collections; the two processes still
// share the machine's cores, as FreeSWITCH and switchlua do on one host.
func BenchmarkCallbackLatency(b *testing.B) {
	frames := loadCaptureFrames(b, loadCapture)
	app := toneplayApp(b)
	once("CallbackLatency", func() {
		maxRate, _ := listenerMax.Load().(float64)
		if maxRate == 0 {
			maxRate = benchListener(b, repeatFrames(frames, 10), app)
		}
		rate := maxRate / 2
		lat := callbackLatency(b, frames, app, rate, 2*time.Second)
		fmt.Printf("bench: callback_latency_rate %.0f events/s\n", rate)
		fmt.Printf("bench: callback_latency_p50_us %.0f us\n", pct(lat.wire, 50))
		fmt.Printf("bench: callback_latency_p99_us %.0f us\n", pct(lat.wire, 99))
		fmt.Printf("bench: callback_latency_host_p50_us %.1f us\n", pct(lat.host, 50))
		fmt.Printf("bench: callback_latency_host_p99_us %.1f us\n", pct(lat.host, 99))
		fmt.Printf("bench: callback_latency_events_per_write %.1f events\n", lat.perWrite)
		fmt.Printf("bench: callback_latency_samples %d n\n", len(lat.wire))
		fmt.Printf("bench: callback_latency_host_cpu_cores %.2f cores\n", lat.cores)
		fmt.Printf("bench: callback_latency_server_cpu_cores %.2f cores\n", lat.srvCores)
		lat = callbackLatency(b, frames, app, 20000, 2*time.Second)
		fmt.Printf("bench: callback_latency_20k_p50_us %.0f us\n", pct(lat.wire, 50))
		fmt.Printf("bench: callback_latency_20k_p99_us %.0f us\n", pct(lat.wire, 99))
	})
}

var (
	reName = regexp.MustCompile(`(?m)^Event-Name: (.*)$`)
	reUUID = regexp.MustCompile(`(?m)^Unique-ID: (.*)$`)
)

// latency holds callback latencies in microseconds.
type latency struct {
	wire, host []float64
	perWrite   float64 // events per server write
	// CPU used while streaming, in cores (of the machine's 2): the
	// Listener's process and the replay server.
	cores, srvCores float64
}

func pct(v []float64, p int) float64 {
	if len(v) == 0 {
		return 0
	}
	sort.Float64s(v)
	return v[len(v)*p/100]
}

// stamp is one time stamp (wall clock, Unix ns) of a key: a session uuid
// and a callback.
type stamp struct {
	key string
	at  int64
}

// callbackLatency streams about d of frames at rate events/s from a replay
// server in its own process and returns, for each TonePlay callback, the
// time from the server's write of its event to the callback's start (wire)
// and from the esl reader's hand-off of the event to the callback's start
// (host: inbox, tracking, dispatch).
func callbackLatency(tb testing.TB, frames [][]byte, app bindings.AppSpec, rate float64, d time.Duration) latency {
	// Which frames start a TonePlay callback, and for which key.
	keys := make([]string, len(frames))
	for i, f := range frames {
		name, uuid := reName.FindSubmatch(f), reUUID.FindSubmatch(f)
		if name == nil || uuid == nil {
			continue
		}
		switch string(name[1]) {
		case "CHANNEL_PARK":
			keys[i] = string(uuid[1]) + "|on_park"
		case "CHANNEL_ANSWER":
			keys[i] = string(uuid[1]) + "|on_answer"
		}
	}
	// The hooks only record; matching is done after the run.
	var mu sync.Mutex
	var begun, arrived []stamp
	cfg := Config{}
	cfg.Runtime.OnCallback = func(ci bindings.CallbackInfo) {
		at := time.Now().Add(-ci.Elapsed).UnixNano()
		mu.Lock()
		begun = append(begun, stamp{ci.UUID + "|" + ci.Callback, at})
		mu.Unlock()
	}
	arrive := func(ev models.Event) {
		var cb string
		switch ev.Name() {
		case "CHANNEL_PARK":
			cb = "|on_park"
		case "CHANNEL_ANSWER":
			cb = "|on_answer"
		default:
			return
		}
		at := time.Now().UnixNano()
		k := ev.UUID() + cb
		mu.Lock()
		arrived = append(arrived, stamp{k, at})
		mu.Unlock()
	}
	srv := startReplay(tb, loadCapture)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l, err := dial(ctx, srv.addr, cfg, arrive)
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	if err := l.Load(ctx, app); err != nil {
		tb.Fatal(err)
	}
	total := int(rate * d.Seconds())
	base := l.Stats().Events
	var ru0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	start := time.Now()
	writes, srvCores := srv.stream(tb, rate, total)
	for l.Stats().Events-base < uint64(total) && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	hostCores := float64(cpuSince(&ru0)) / float64(time.Since(start))
	time.Sleep(50 * time.Millisecond) // replies to the last callbacks' commands
	if err := l.Do(ctx, func() {}); err != nil {
		tb.Fatal(err)
	}
	var sent []stamp
	for _, w := range writes {
		for j := w.first; j < w.first+w.count; j++ {
			if k := keys[j%len(frames)]; k != "" {
				sent = append(sent, stamp{k, w.at})
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	lat := latency{
		wire:     matchStamps(sent, begun),
		host:     matchStamps(arrived, begun),
		perWrite: float64(total) / float64(len(writes)),
		cores:    hostCores,
		srvCores: srvCores,
	}
	if len(lat.wire) == 0 || len(lat.host) == 0 {
		tb.Fatal("no latency samples")
	}
	return lat
}

// matchStamps pairs each end stamp with the latest start stamp of its key at
// or before it that no earlier end took (the capture's keys come back once
// per pass over it, tens of milliseconds apart), and returns the differences
// in microseconds.
func matchStamps(starts, ends []stamp) []float64 {
	byKey := map[string][]int64{}
	for _, s := range starts {
		byKey[s.key] = append(byKey[s.key], s.at)
	}
	next := map[string]int{}
	var out []float64
	for _, e := range ends {
		q, i := byKey[e.key], next[e.key]
		for i+1 < len(q) && q[i+1] <= e.at {
			i++
		}
		if i < len(q) && q[i] <= e.at {
			out = append(out, float64(e.at-q[i])/1e3)
			i++
		}
		next[e.key] = i
	}
	return out
}

// BenchmarkBytesPerCall: heap retained by the whole host per active two-leg
// call (both legs answered and parked, TonePlay loaded), from the real
// events of one captured call replayed with fresh uuids.
func BenchmarkBytesPerCall(b *testing.B) {
	frames := loadCaptureFrames(b, loadCapture)
	app := toneplayApp(b)
	once("BytesPerCall", func() {
		per := bytesPerCall(b, frames, app, 2000)
		fmt.Printf("bench: bytes_per_call %.0f B\n", per)
		fmt.Printf("bench: bytes_per_call_latest_events %.0f B\n", latestPerCall)
	})
}

// callTemplate returns the frames of the capture's first call up to its
// first hangup (both legs answered and parked), and the uuids to replace.
func callTemplate(tb testing.TB, frames [][]byte) (tmpl [][]byte, ids []string) {
	reJob := regexp.MustCompile(`(?m)^Job-UUID: (.*)$`)
	reOrig := regexp.MustCompile(`(?m)^variable_sip_h_X-switchlua_originating_session: (.*)$`)
	var out string
	for _, f := range frames {
		if m := reOrig.FindSubmatch(f); m != nil {
			out = string(m[1])
			break
		}
	}
	legs := map[string]bool{out: true}
	for _, f := range frames {
		if m := reOrig.FindSubmatch(f); m != nil && string(m[1]) == out {
			legs[string(reUUID.FindSubmatch(f)[1])] = true
		}
	}
	for _, f := range frames {
		name := string(reName.FindSubmatch(f)[1])
		u := reUUID.FindSubmatch(f)
		if name == "BACKGROUND_JOB" && bytes.Contains(f, []byte(out)) {
			tmpl = append(tmpl, f)
			ids = append(ids, string(reJob.FindSubmatch(f)[1]))
			continue
		}
		if u == nil || !legs[string(u[1])] {
			continue
		}
		if name == "CHANNEL_HANGUP" {
			break
		}
		tmpl = append(tmpl, f)
	}
	for id := range legs {
		ids = append(ids, id)
	}
	if len(legs) != 2 {
		tb.Fatalf("template call has %d legs", len(legs))
	}
	return tmpl, ids
}

// fresh returns a uuid-shaped id for call i, leg k.
func fresh(i, k int) string {
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", i, k)
}

func bytesPerCall(tb testing.TB, frames [][]byte, app bindings.AppSpec, calls int) float64 {
	tmpl, ids := callTemplate(tb, frames)
	fs := newFakeFS(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	l, err := Dial(ctx, fs.addr(), Config{ParkTimeout: -1})
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	if err := l.Load(ctx, app); err != nil {
		tb.Fatal(err)
	}
	// Warm up with one call so lazily made structures exist in the baseline.
	gen := func(i int) [][]byte {
		out := make([][]byte, len(tmpl))
		for j, f := range tmpl {
			for k, id := range ids {
				f = bytes.ReplaceAll(f, []byte(id), []byte(fresh(i, k)))
			}
			out[j] = f
		}
		return out
	}
	settle := func(sessions int) {
		for {
			st := l.Stats()
			if st.Sessions == sessions && st.Queued == 0 && st.Waiting == 0 {
				break
			}
			if ctx.Err() != nil {
				tb.Fatalf("not settled: %+v", st)
			}
			time.Sleep(5 * time.Millisecond)
		}
		// let replies to the apps' commands drain
		l.Do(ctx, func() {})
		time.Sleep(50 * time.Millisecond)
		l.Do(ctx, func() {})
	}
	// Warm up: one call, and a burst of untracked events that grows the
	// inbox buffers to their working size (not per-call memory).
	fs.write(gen(calls), 1<<20)
	hb := eventFrame("Event-Name: HEARTBEAT\nCore-UUID: x\n\n")
	fs.write(repeatFrames([][]byte{hb}, 20000), 1<<20)
	settle(2)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range calls {
		fs.write(gen(i), 256<<10)
	}
	settle(2 + 2*calls)
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	if p := os.Getenv("HOST_HEAPPROFILE"); p != "" {
		f, _ := os.Create(p)
		pprof.Lookup("heap").WriteTo(f, 0)
		f.Close()
	}
	if st := l.Stats(); st.Calls != calls+1 {
		tb.Fatalf("calls %d, want %d", st.Calls, calls+1)
	}
	// The part of it that is the newest event each session keeps.
	evBytes := 0
	l.Do(ctx, func() {
		for _, e := range l.sessions {
			if sz, ok := e.s.Latest().(interface{ Size() int }); ok {
				evBytes += sz.Size()
			}
		}
	})
	latestPerCall = float64(evBytes) / float64(calls+1)
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(calls)
}

// latestPerCall is the size of the two latest events a call's sessions keep.
var latestPerCall float64
