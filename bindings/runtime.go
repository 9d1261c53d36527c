package bindings

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	lua "github.com/yuin/gopher-lua"
	luar "layeh.com/gopher-luar"
)

// DefaultCPUBudget is the longest a callback may run between two yields when
// Options.CPUBudget is zero.
const DefaultCPUBudget = 100 * time.Millisecond

// Lua state sizes. Every suspended callback keeps its own coroutine (a
// gopher-lua thread with its own call stack and value stack), so both start
// small and grow on demand: a waiting coroutine costs a few KB, not the
// ~112 KB of gopher-lua's defaults.
const (
	callStackSize      = 200        // frames, grown on demand (MinimizeStackMemory)
	registrySize       = 128        // initial value-stack slots per thread (gopher-lua's minimum)
	registryGrowStep   = 128        // slots added when it grows
	registryMaxSize    = 256 * 1024 // slots (the value stack never shrinks)
	threadRegistrySize = 48         // initial value-stack slots of a coroutine
	// Idle trampolines kept: at least poolSize, and as many as the most
	// coroutines ever waiting at once (up to maxPoolSize, about 1 MB), so
	// that a node whose calls wait in hundreds of callbacks at once reuses
	// their coroutines instead of making a new thread for every callback
	// (a gopher-lua state: ~14x the cost of a reuse, and a quarter of a
	// busy Listener's garbage).
	poolSize    = 8
	maxPoolSize = 256
)

func newRuntime(h Host, o Options) (*Runtime, error) {
	if h == nil {
		return nil, fmt.Errorf("bindings: nil Host")
	}
	if o.CPUBudget == 0 {
		o.CPUBudget = DefaultCPUBudget
	}
	if o.Shared == nil {
		o.Shared = NewShared()
	}
	lg := o.Logger
	if lg == nil {
		lg = slog.Default()
	}
	r := &Runtime{
		host: h,
		opt:  o,
		log:  lg,
		apps: make(map[string]*app),
		dyn:  make(map[string]bool),
	}
	r.L = lua.NewState(lua.Options{
		SkipOpenLibs:        true,
		CallStackSize:       callStackSize,
		MinimizeStackMemory: true,
		RegistrySize:        registrySize,
		RegistryGrowStep:    registryGrowStep,
		RegistryMaxSize:     registryMaxSize,
	})
	// gopher-lua will not start a state below 128 value-stack slots, but a
	// coroutine made from it with NewThread takes its options as they are:
	// start them at threadRegistrySize and let them grow.
	r.L.Options.RegistrySize = threadRegistrySize
	cfg := luar.GetConfig(r.L)
	cfg.FieldNames = luarFieldNames
	cfg.MethodNames = luarMethodNames

	if err := r.openLibs(); err != nil {
		r.L.Close()
		return nil, err
	}
	r.initObjects()
	if err := r.initTrampoline(); err != nil {
		r.L.Close()
		return nil, err
	}
	if o.CPUBudget > 0 {
		r.ctx, r.wd = newWatchdog(o.CPUBudget)
	}
	return r, nil
}

// openLibs builds the global table: the sandbox by default, everything with
// Options.Unsafe; then switchlua's own globals.
func (r *Runtime) openLibs() error {
	L := r.L
	open := func(name string, fn lua.LGFunction) {
		L.Push(L.NewFunction(fn))
		L.Push(lua.LString(name))
		L.Call(1, 0)
	}
	G := L.G.Global
	if r.opt.Unsafe {
		L.OpenLibs()
	} else {
		open(lua.BaseLibName, lua.OpenBase)
		open(lua.TabLibName, lua.OpenTable)
		open(lua.StringLibName, lua.OpenString)
		open(lua.MathLibName, lua.OpenMath)
		open(lua.CoroutineLibName, lua.OpenCoroutine)
		// os.time, os.clock and os.date only.
		open(lua.OsLibName, lua.OpenOs)
		full := L.GetGlobal("os").(*lua.LTable)
		os := L.NewTable()
		for _, k := range []string{"time", "clock", "date", "difftime"} {
			os.RawSetString(k, full.RawGetString(k))
		}
		// The rest of os refuses with a clear error, never opened.
		for _, k := range []string{"execute", "exit", "getenv", "remove", "rename", "setlocale", "tmpname"} {
			os.RawSetString(k, r.refused(L, "os."+k))
		}
		G.RawSetString("os", os)
		for _, k := range []string{"dofile", "loadfile", "collectgarbage", "getfenv", "setfenv",
			"module", "newproxy"} {
			G.RawSetString(k, r.refused(L, k))
		}
		for _, k := range []string{"io", "debug", "package"} {
			G.RawSetString(k, r.refusedLib(L, k))
		}
		// require, load and loadstring are each script's own (newEnv).
		for _, k := range []string{"_printregs", "require", "load", "loadstring"} {
			G.RawSetString(k, lua.LNil)
		}
	}
	if err := installStringLimits(L); err != nil {
		return err
	}
	// pairs honours a __pairs metamethod (Lua 5.2's rule; gopher-lua's
	// pairs takes tables only), so pairs(sess.call.vars) works.
	next := G.RawGetString("next")
	G.RawSetString("pairs", L.NewFunction(func(L *lua.LState) int {
		v := L.CheckAny(1)
		if mm := L.GetMetaField(v, "__pairs"); mm != lua.LNil {
			L.Push(mm)
			L.Push(v)
			L.Call(1, 3)
			return 3
		}
		if _, ok := v.(*lua.LTable); !ok {
			L.ArgError(1, "table expected, got "+v.Type().String())
		}
		L.Push(next)
		L.Push(v)
		L.Push(lua.LNil)
		return 3
	}))
	r.globals = G

	// Coroutines the scripts create share the Runtime's CPU-budget context
	// (gopher-lua would give each one a child context that is never released).
	co, ok := L.GetGlobal("coroutine").(*lua.LTable)
	if !ok {
		return fmt.Errorf("bindings: no coroutine library")
	}
	r.coResume = co.RawGetString("resume").(*lua.LFunction).GFunction
	r.coCreateOrig = co.RawGetString("create").(*lua.LFunction).GFunction
	co.RawSetString("create", L.NewFunction(r.coCreate))
	co.RawSetString("resume", L.NewFunction(r.coResumeSync))
	wrap, err := r.compileString(`local create, resume, select, error, unpack = ...
return function(f)
  local co = create(f)
  local function ret(ok, ...)
    if not ok then error((...), 2) end
    return ...
  end
  return function(...) return ret(resume(co, ...)) end
end`, "=coroutine.wrap", co.RawGetString("create"), co.RawGetString("resume"),
		G.RawGetString("select"), G.RawGetString("error"), G.RawGetString("unpack"))
	if err != nil {
		return err
	}
	co.RawSetString("wrap", wrap)

	// switchlua's globals.
	logT := r.logModule()
	G.RawSetString("log", logT)
	G.RawSetString("print", L.NewFunction(r.lPrint))
	G.RawSetString("sleep", L.NewFunction(r.lSleep))
	m := L.NewTable()
	m.RawSetString("shared", sharedModule(L, r.opt.Shared))
	m.RawSetString("log", logT)
	m.RawSetString("sleep", G.RawGetString("sleep"))
	m.RawSetString("api", L.NewFunction(r.lAPI))
	m.RawSetString("node", lua.LString(r.host.Node()))
	m.RawSetString("version", lua.LString("switchlua-1"))
	mt := L.NewTable()
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		if L.CheckString(2) == "router" {
			L.Push(r.routerModule(L))
			return 1
		}
		return 0
	}))
	L.SetMetatable(m, mt)
	r.module = m
	G.RawSetString("switchlua", m)
	return nil
}

// sandboxHint ends the errors of what the sandbox refuses.
const sandboxHint = "is not available in the sandbox (run with --unsafe)"

// refused is a function that raises "<name> is not available in the sandbox".
func (r *Runtime) refused(L *lua.LState, name string) *lua.LFunction {
	return L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("%s %s", name, sandboxHint)
		return 0
	})
}

// refusedLib is a stand-in for a library the sandbox does not open: any
// field read or write raises "<lib>.<field> is not available in the
// sandbox", so io.open(...) says why instead of "attempt to index a nil
// value".
func (r *Runtime) refusedLib(L *lua.LState, lib string) *lua.LTable {
	t := L.NewTable()
	mt := L.NewTable()
	raise := L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("%s.%s %s", lib, L.ToStringMeta(L.Get(2)).String(), sandboxHint)
		return 0
	})
	mt.RawSetString("__index", raise)
	mt.RawSetString("__newindex", raise)
	mt.RawSetString("__metatable", lua.LFalse)
	L.SetMetatable(t, mt)
	return t
}

// compileString compiles and runs a helper chunk with args; it returns the
// chunk's first result.
func (r *Runtime) compileString(src, name string, args ...lua.LValue) (lua.LValue, error) {
	fn, err := r.L.Load(strings.NewReader(src), name)
	if err != nil {
		return nil, err
	}
	fn.Env = r.globals
	r.L.Push(fn)
	for _, a := range args {
		r.L.Push(a)
	}
	if err := r.L.PCall(len(args), 1, nil); err != nil {
		return nil, err
	}
	v := r.L.Get(-1)
	r.L.Pop(1)
	return v, nil
}

// coCreate is coroutine.create, but the new thread shares the Runtime's
// context: gopher-lua would give it a child context whose cancel function is
// never called, so every coroutine a script made would stay registered in the
// parent context for ever.
func (r *Runtime) coCreate(L *lua.LState) int {
	saved := L.RemoveContext()
	n := r.coCreateOrig(L)
	if saved != nil {
		L.SetContext(saved)
	}
	if th, ok := L.Get(-1).(*lua.LState); ok && r.ctx != nil {
		th.SetContext(r.ctx)
	}
	return n
}

// coResumeSync is coroutine.resume, refreshing the thread's context first
// (it is replaced after a CPU-budget stop).
func (r *Runtime) coResumeSync(L *lua.LState) int {
	th := L.CheckThread(1)
	if r.ctx != nil && th.Context() != r.ctx {
		th.SetContext(r.ctx)
	}
	return r.coResume(L)
}

// close tears every app down and releases the state.
func (r *Runtime) close() {
	if r.closed {
		return
	}
	for i := len(r.order) - 1; i >= 0; i-- {
		if a := r.apps[r.order[i]]; a != nil {
			r.teardown(a)
		}
	}
	r.closed = true
	r.apps = map[string]*app{}
	r.order = nil
	if r.wd != nil {
		r.wd.stop()
	}
	r.pool = nil
	r.L.Close()
}

// ---- the CPU budget ----

// watchdog stops a Lua run that goes on longer than the budget without
// yielding. The Runtime arms it around each run (a mutex and no clock read);
// a ticker goroutine counts ticks of budget/4 and cancels the shared context
// once a run has lasted more than four ticks, so a runaway is stopped after
// between 1 and 1.25 budgets. The Lua VM checks the context at every
// instruction; after a stop the Runtime installs a fresh context.
type watchdog struct {
	mu        sync.Mutex
	running   bool
	fired     bool
	tick      uint64
	startTick uint64
	cancel    context.CancelFunc
	quit      chan struct{}
	once      sync.Once
	budget    time.Duration
}

const watchdogTicks = 4

func newWatchdog(budget time.Duration) (context.Context, *watchdog) {
	ctx, cancel := context.WithCancel(context.Background())
	w := &watchdog{cancel: cancel, quit: make(chan struct{}), budget: budget}
	period := budget / watchdogTicks
	if period < time.Millisecond {
		period = time.Millisecond
	}
	go w.loop(period)
	return ctx, w
}

func (w *watchdog) loop(period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-w.quit:
			return
		case <-t.C:
			w.mu.Lock()
			w.tick++
			if w.running && !w.fired && w.tick-w.startTick > watchdogTicks {
				w.fired = true
				w.cancel()
			}
			w.mu.Unlock()
		}
	}
}

func (w *watchdog) begin() {
	w.mu.Lock()
	w.running = true
	w.startTick = w.tick
	w.mu.Unlock()
}

// end disarms the watchdog and reports whether it stopped the run.
func (w *watchdog) end() bool {
	w.mu.Lock()
	w.running = false
	f := w.fired
	w.fired = false
	w.mu.Unlock()
	return f
}

// renew replaces the cancelled context.
func (w *watchdog) renew() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	w.mu.Lock()
	w.cancel = cancel
	w.mu.Unlock()
	return ctx
}

func (w *watchdog) stop() { w.once.Do(func() { close(w.quit) }) }

// budgetError is the error of a run stopped by the watchdog.
type budgetError struct{ msg string }

// Error is the Lua error text with script:line and the budget.
func (e *budgetError) Error() string { return e.msg }

// Is makes errors.Is(err, ErrCPUBudget) true.
func (e *budgetError) Is(target error) bool { return target == ErrCPUBudget }

// scriptError is a Lua error from a script; its text starts with script:line.
type scriptError struct{ msg string }

// Error is the Lua error text, starting with script:line.
func (e *scriptError) Error() string { return e.msg }

// armed runs fn with the CPU budget armed on th (the main state or a thread).
// It reports whether the watchdog stopped it.
func (r *Runtime) arm(th *lua.LState) {
	if r.wd == nil {
		return
	}
	if th.Context() != r.ctx {
		th.SetContext(r.ctx)
	}
	r.wd.begin()
}

func (r *Runtime) disarm() (fired bool) {
	if r.wd == nil {
		return false
	}
	if r.wd.end() {
		r.ctx = r.wd.renew()
		return true
	}
	return false
}

// luaError turns an error from Resume or PCall into a Go error, naming the
// CPU budget when the watchdog stopped the run.
func (r *Runtime) luaError(err error, fired bool) error {
	msg := err.Error()
	if ae, ok := err.(*lua.ApiError); ok && ae.Object != nil {
		msg = ae.Object.String()
	}
	if fired || strings.Contains(msg, context.Canceled.Error()) {
		text := fmt.Sprintf("exceeded its CPU budget of %v without yielding and was stopped", r.opt.CPUBudget)
		if i := strings.Index(msg, context.Canceled.Error()); i >= 0 {
			msg = msg[:i] + text
		} else {
			msg = msg + " (" + text + ")"
		}
		return &budgetError{msg: msg}
	}
	return &scriptError{msg: msg}
}
