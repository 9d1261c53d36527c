package bindings

import (
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
	luar "layeh.com/gopher-luar"

	"github.com/switchlua/switchlua/models"
	"github.com/switchlua/switchlua/models/modelstest"
)

// Benchmarks run a fixed workload whatever b.N is (make bench uses
// -benchtime 1x) and print `bench:` lines once per run, as ratios against a
// baseline measured in the same run.

var printed sync.Map

func report(name, format string, args ...any) {
	if _, dup := printed.LoadOrStore(name, true); dup {
		return
	}
	fmt.Printf("bench: "+name+" "+format+"\n", args...)
}

// best runs f a few times and returns the fastest per-op time.
func best(ops int, f func()) time.Duration { return interleaved(ops, f)[0] }

// interleaved runs the workloads in turn, five rounds, and returns each
// one's fastest per-op time: a load change on the shared machine hits all of
// them alike.
func interleaved(ops int, fs ...func()) []time.Duration {
	out := make([]time.Duration, len(fs))
	for i := range out {
		out[i] = time.Duration(1 << 62)
	}
	for round := 0; round < 5; round++ {
		for i, f := range fs {
			start := time.Now()
			f()
			if d := time.Since(start); d < out[i] {
				out[i] = d
			}
		}
	}
	for i := range out {
		out[i] /= time.Duration(ops)
	}
	return out
}

func benchRuntime(b *testing.B, o Options, src string) (*Runtime, *fakeHost) {
	b.Helper()
	h := newFakeHost()
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	rt, err := New(h, o)
	if err != nil {
		b.Fatal(err)
	}
	s, err := CompileScript("bench.lua", []byte(src))
	if err != nil {
		b.Fatal(err)
	}
	if err := rt.Load(AppSpec{ID: "default", Scripts: []Script{s}}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(rt.Close)
	return rt, h
}

// BenchmarkDispatch: one event through Dispatch to a callback (trampoline
// coroutine) against a plain protected call of the same function, and
// against a new coroutine per callback.
func BenchmarkDispatch(b *testing.B) {
	const n = 30000
	rt, _ := benchRuntime(b, Options{}, `local k = 0
		function on_park(sess, ev) k = k + 1 end`)
	first := ev("CHANNEL_CREATE", "u1", "Call-Direction", "inbound")
	s := models.NewSession(first, "n", &modelstest.Sender{})
	park := ev("CHANNEL_PARK", "u1")
	s.Update(park)
	rt.Dispatch(s, park)

	fn := rt.apps["default"].scripts[0].env.RawGetString("on_park").(*lua.LFunction)
	sv := rt.sessObj(s).ud
	co := rt.getCoro()
	co.th.SetContext(rt.ctx)
	ds := interleaved(n, func() {
		for i := 0; i < n; i++ {
			rt.Dispatch(s, park)
		}
	}, func() {
		// the same per-instruction budget check as callbacks
		rt.L.SetContext(rt.ctx)
		for i := 0; i < n; i++ {
			evv := rt.eventValue(park) // Dispatch makes one per event too
			if err := rt.L.CallByParam(lua.P{Fn: fn, NRet: 0, Protect: true}, sv, evv); err != nil {
				b.Fatal(err)
			}
		}
		rt.L.RemoveContext()
	}, func() {
		// the bare trampoline: Resume of a pooled coroutine with the function
		for i := 0; i < n; i++ {
			if _, err, _ := rt.L.Resume(co.th, rt.tramp, fn, sv, rt.eventValue(park)); err != nil {
				b.Fatal(err)
			}
		}
	})
	tramp, pcall, bare := ds[0], ds[1], ds[2]
	const m = 2000
	fresh := best(m, func() {
		for i := 0; i < m; i++ {
			th, _ := rt.L.NewThread()
			if _, err, _ := rt.L.Resume(th, fn, sv, rt.eventValue(park)); err != nil {
				b.Fatal(err)
			}
		}
	})
	report("dispatch_callback_ns", "%.0f ns", float64(tramp))
	report("dispatch_pcall_ns", "%.0f ns", float64(pcall))
	report("dispatch_trampoline_vs_pcall", "%.2f x", float64(tramp)/float64(pcall))
	report("bare_trampoline_vs_pcall", "%.2f x", float64(bare)/float64(pcall))
	report("dispatch_newcoroutine_vs_trampoline", "%.1f x", float64(fresh)/float64(tramp))
	if st := rt.Stats(); st.Errors != 0 {
		b.Fatalf("errors %d", st.Errors)
	}
}

// BenchmarkDispatchNoCallback: an event the app has no callback for (most
// of a call's events with TonePlay).
func BenchmarkDispatchNoCallback(b *testing.B) {
	const n = 200000
	rt, _ := benchRuntime(b, Options{}, `function on_park(sess) end`)
	first := ev("CHANNEL_CREATE", "u1", "Call-Direction", "inbound")
	s := models.NewSession(first, "n", &modelstest.Sender{})
	exe := ev("CHANNEL_EXECUTE", "u1")
	d := best(n, func() {
		for i := 0; i < n; i++ {
			rt.Dispatch(s, exe)
		}
	})
	report("dispatch_nocallback_ns", "%.0f ns", float64(d))
}

// BenchmarkMethodCall: a Lua loop calling session methods and reading
// fields through the hand-written binding against the same through
// gopher-luar (the *models.Session bound with luar and the snake_case config).
func BenchmarkMethodCall(b *testing.B) {
	const n = 50000
	rt, _ := benchRuntime(b, Options{}, ``)
	first := ev("CHANNEL_CREATE", "u1", "Call-Direction", "inbound", "Caller-Destination-Number", "1000")
	s := models.NewSession(first, "n", &modelstest.Sender{})
	L := rt.L
	L.SetGlobal("hs", rt.sessObj(s).ud)
	L.SetGlobal("ls", luar.New(L, s))
	run := func(src string) time.Duration {
		fn, err := L.Load(strings.NewReader(fmt.Sprintf("for i = 1, %d do %s end", n, src)), "=bench")
		if err != nil {
			b.Fatal(err)
		}
		return best(n, func() {
			L.Push(fn)
			if err := L.PCall(0, 0, nil); err != nil {
				b.Fatal(err)
			}
		})
	}
	empty := run(`local x = i`)
	hm := run(`local x = hs:is_inbound()`) - empty
	lm := run(`local x = ls:is_inbound()`) - empty
	hf := run(`local x = hs.uuid`) - empty
	lf := run(`local x = ls.uuid`) - empty
	hh := run(`local x = hs["Caller-Destination-Number"]`) - empty
	lh := run(`local x = ls:get("Caller-Destination-Number")`) - empty
	report("method_hand_ns", "%.0f ns", float64(hm))
	report("method_luar_ns", "%.0f ns", float64(lm))
	report("method_luar_vs_hand", "%.1f x", float64(lm)/float64(hm))
	report("field_luar_vs_hand", "%.1f x", float64(lf)/float64(hf))
	report("header_luar_vs_hand", "%.1f x", float64(lh)/float64(hh))
	report("header_hand_ns", "%.0f ns", float64(hh))
}

// BenchmarkOptionTable: sess:bridge{...}'s luar table-to-struct conversion.
func BenchmarkOptionTable(b *testing.B) {
	const n = 20000
	rt, _ := benchRuntime(b, Options{}, ``)
	L := rt.L
	t := L.NewTable()
	t.RawSetString("dest_url", lua.LString("1000@example.com"))
	t.RawSetString("profile", lua.LString("external"))
	p := L.NewTable()
	p.RawSetString("leg_timeout", lua.LString("30"))
	t.RawSetString("params", p)
	ds := interleaved(n, func() {
		for i := 0; i < n; i++ {
			rt.conv.bridge(L, t)
		}
	}, func() {
		for i := 0; i < n; i++ {
			var o models.BridgeOptions
			o.DestURL = lua.LVAsString(t.RawGetString("dest_url"))
			o.Profile = lua.LVAsString(t.RawGetString("profile"))
			o.Params = map[string]string{}
			t.RawGetString("params").(*lua.LTable).ForEach(func(k, v lua.LValue) { o.Params[k.String()] = v.String() })
		}
	})
	d, hand := ds[0], ds[1]
	report("option_table_luar_ns", "%.0f ns", float64(d))
	report("option_table_luar_vs_hand", "%.1f x", float64(d)/float64(hand))
}

// BenchmarkCPUBudget: the cost of the per-instruction context check on a
// CPU-bound callback, against the same Runtime with the budget disabled.
func BenchmarkCPUBudget(b *testing.B) {
	src := `function on_park(sess) local k = 0 for i = 1, 20000 do k = k + i end end`
	with, _ := benchRuntime(b, Options{}, src)
	without, _ := benchRuntime(b, Options{CPUBudget: -1}, src)
	first := ev("CHANNEL_CREATE", "u1", "Call-Direction", "inbound")
	s1 := models.NewSession(first, "n", &modelstest.Sender{})
	s2 := models.NewSession(first, "n", &modelstest.Sender{})
	park := ev("CHANNEL_PARK", "u1")
	const n = 300
	ds := interleaved(n, func() {
		for i := 0; i < n; i++ {
			with.Dispatch(s1, park)
		}
	}, func() {
		for i := 0; i < n; i++ {
			without.Dispatch(s2, park)
		}
	})
	dw, dn := ds[0], ds[1]
	report("cpu_budget_overhead", "%.2f x", float64(dw)/float64(dn))
}

// BenchmarkMemory: Lua-side bytes per session (the session object with its
// vars table, as a callback leaves it) and per session whose callback is
// suspended in sess:wait (an IVR waiting for a digit), measured on the heap
// against the same sessions without Lua objects.
func BenchmarkMemory(b *testing.B) {
	const n = 2000
	measure := func(src string) float64 {
		rt, _ := benchRuntime(b, Options{}, src)
		snd := &modelstest.Sender{}
		sessions := make([]*models.Session, n)
		parks := make([]models.Event, n)
		for i := range sessions {
			first := ev("CHANNEL_CREATE", fmt.Sprint("uuid-", i), "Call-Direction", "inbound")
			sessions[i] = models.NewSession(first, "n", snd)
			parks[i] = ev("CHANNEL_PARK", sessions[i].UUID)
			sessions[i].Update(parks[i])
		}
		before := heap()
		for i, s := range sessions {
			rt.Dispatch(s, parks[i])
		}
		after := heap()
		runtime.KeepAlive(sessions)
		runtime.KeepAlive(parks)
		return float64(after-before) / n
	}
	plain := measure(`function on_park(sess) sess.vars.seen = true end`)
	waiting := measure(`function on_park(sess) sess.vars.seen = true; sess:wait("DTMF", 30) end`)
	report("lua_bytes_per_session", "%.0f B", plain)
	report("lua_bytes_per_waiting_session", "%.0f B", waiting)
}

func heap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
