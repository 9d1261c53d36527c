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

// BenchmarkCallbackLatency: event-to-callback latency (the fake server's
// write of a CHANNEL_PARK/CHANNEL_ANSWER to the start of TonePlay's on_park /
// on_answer) with the stream paced at half the Listener's maximum rate. The
// "host" figures start the clock when the esl reader hands the event over,
// so they leave out TCP, parsing and the pacing's bursts.
func BenchmarkCallbackLatency(b *testing.B) {
	frames := loadCaptureFrames(b, loadCapture)
	app := toneplayApp(b)
	once("CallbackLatency", func() {
		maxRate, _ := listenerMax.Load().(float64)
		if maxRate == 0 {
			maxRate = benchListener(b, repeatFrames(frames, 10), app)
		}
		rate := maxRate / 2
		lat, bursts := callbackLatency(b, frames, app, rate, 2*time.Second)
		fmt.Printf("bench: callback_latency_rate %.0f events/s\n", rate)
		fmt.Printf("bench: callback_latency_p50_us %.0f us\n", pct(lat.wire, 50))
		fmt.Printf("bench: callback_latency_p99_us %.0f us\n", pct(lat.wire, 99))
		fmt.Printf("bench: callback_latency_host_p50_us %.1f us\n", pct(lat.host, 50))
		fmt.Printf("bench: callback_latency_host_p99_us %.1f us\n", pct(lat.host, 99))
		fmt.Printf("bench: callback_latency_events_per_write %.1f events\n", rate*2/float64(bursts))
		fmt.Printf("bench: callback_latency_samples %d n\n", len(lat.wire))
		// And at a fixed, moderate rate (20k events/s: ~500 call set-ups/s).
		lat, _ = callbackLatency(b, frames, app, 20000, 2*time.Second)
		fmt.Printf("bench: callback_latency_20k_p50_us %.0f us\n", pct(lat.wire, 50))
		fmt.Printf("bench: callback_latency_20k_p99_us %.0f us\n", pct(lat.wire, 99))
	})
}

var (
	reName = regexp.MustCompile(`(?m)^Event-Name: (.*)$`)
	reUUID = regexp.MustCompile(`(?m)^Unique-ID: (.*)$`)
)

// latency holds callback latencies in microseconds.
type latency struct{ wire, host []float64 }

func pct(v []float64, p int) float64 {
	if len(v) == 0 {
		return 0
	}
	sort.Float64s(v)
	return v[len(v)*p/100]
}

// callbackLatency streams frames (repeated) at rate events/s for about d and
// returns, for each TonePlay callback, the time from the server's write of
// its event to the callback's start (wire) and from the esl reader's hand-off
// of the event to the callback's start (host: inbox, tracking, dispatch).
func callbackLatency(tb testing.TB, frames [][]byte, app bindings.AppSpec, rate float64, d time.Duration) (lat latency, bursts int) {
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
	var mu sync.Mutex
	sent := map[string][]time.Time{}
	arrived := map[string][]time.Time{}
	cfg := Config{}
	cfg.Runtime.OnCallback = func(ci bindings.CallbackInfo) {
		begin := time.Now().Add(-ci.Elapsed)
		k := ci.UUID + "|" + ci.Callback
		mu.Lock()
		defer mu.Unlock()
		if q := sent[k]; len(q) > 0 {
			sent[k] = q[1:]
			lat.wire = append(lat.wire, float64(begin.Sub(q[0]).Microseconds()))
		}
		if q := arrived[k]; len(q) > 0 {
			arrived[k] = q[1:]
			lat.host = append(lat.host, float64(begin.Sub(q[0]).Nanoseconds())/1e3)
		}
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
		now := time.Now()
		k := ev.UUID() + cb
		mu.Lock()
		arrived[k] = append(arrived[k], now)
		mu.Unlock()
	}
	fs := newFakeFS(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l, err := dial(ctx, fs.addr(), cfg, arrive)
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	if err := l.Load(ctx, app); err != nil {
		tb.Fatal(err)
	}
	total := int(rate * d.Seconds())
	start := time.Now()
	for i := 0; i < total; {
		due := int(time.Since(start).Seconds() * rate)
		if due > total {
			due = total
		}
		if due > i {
			// Record the send time before writing: a callback may run
			// before Write returns.
			now := time.Now()
			mu.Lock()
			for j := i; j < due; j++ {
				if k := keys[j%len(frames)]; k != "" {
					sent[k] = append(sent[k], now)
				}
			}
			mu.Unlock()
			fs.mu.Lock()
			for ; i < due; i++ {
				fs.w.Write(frames[i%len(frames)])
			}
			fs.w.Flush()
			fs.mu.Unlock()
			bursts++
		}
		time.Sleep(50 * time.Microsecond)
	}
	for l.Stats().Events < uint64(total) && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(lat.wire) == 0 || len(lat.host) == 0 {
		tb.Fatal("no latency samples")
	}
	return lat, bursts
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
