// Package bindings is the Lua side of switchlua: one Runtime (one Lua state)
// per Listener, the sandbox, Session/Call/Job exposed to Lua with gopher-luar,
// callbacks run as coroutines (sess:wait, sleep, commands that yield until
// FreeSWITCH replies) and the `switchlua` module (log, shared store).
// bindings imports models, never host: the Listener hands it a Host.
package bindings

// CONTRACT STUB: this file fixes the surface host codes against. Bodies are
// filled in by the bindings implementation; signatures may only grow, not
// change, without telling the host owner.

import (
	"context"
	"log/slog"
	"sync"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/switchlua/switchlua/models"
)

// Host is what a Runtime needs from the Listener that owns it. The Runtime
// calls it only on the Listener goroutine, except Post.
type Host interface {
	// Post queues fn to run on the Listener goroutine. Safe from any goroutine
	// (timers use it). It never blocks the caller for long.
	Post(fn func())
	// API sends `api <cmd>` (or any raw command when cmd starts with "bgapi ",
	// "sendmsg ", ...) on this node; done runs on the Listener goroutine.
	API(cmd string, done func(reply string, err error))
	// Node names the FreeSWITCH node (its address).
	Node() string
}

// Script is one compiled Lua file (hotreload compiles; bindings runs).
type Script struct {
	Path  string // file path, used in error messages (script:line)
	Proto *lua.FunctionProto
}

// AppSpec is one app: its scripts, composed in load order, and its args.
type AppSpec struct {
	ID         string            // app id (the X-switchlua_app header value); "default" for the default app
	Scripts    []Script          // callbacks of all scripts run in this order
	Args       map[string]string // ctx.args for setup(ctx)
	Generation uint64            // hot-reload generation, for logs
}

// CallbackInfo describes one finished callback run, for metrics.
type CallbackInfo struct {
	App      string
	Callback string        // e.g. "on_park"
	UUID     string        // session uuid, if any
	Duration time.Duration // time spent running Lua (all resumes), waits excluded
	Err      error         // nil, a Lua error with script:line, or a CPU-budget error
	Elapsed  time.Duration // wall time from start to finish, waits included
}

// Options configure a Runtime.
type Options struct {
	Unsafe    bool          // open the full standard library
	CPUBudget time.Duration // max run time between yields, default 100ms
	// Module resolves `require(name)` to a compiled chunk (the host serves it
	// from the scripts' own folders, through hotreload). nil: require fails.
	Module func(name string) (Script, error)
	Shared *Shared      // switchlua.shared; nil makes a private one
	Logger *slog.Logger // log.* and callback errors
	// OnCallback, if set, is called after each callback run (on the Listener goroutine).
	OnCallback func(CallbackInfo)
	// OnEventsChange, if set, is called (through Host.Post) when a script
	// starts to need an event Events() did not list before: an on(name, fn)
	// registered after Load, or a sess:wait for an event no loaded script
	// names. The host re-reads Events() and subscribes.
	OnEventsChange func()
}

// Runtime is one Lua state with its loaded apps. Not safe for concurrent use:
// only its Listener goroutine calls it.
type Runtime struct {
	host Host
	opt  Options
	log  *slog.Logger
	L    *lua.LState

	globals      *lua.LTable    // the sandboxed global table scripts fall back to
	module       *lua.LTable    // the switchlua module
	router       lua.LValue     // switchlua.router, loaded on first use
	tramp        *lua.LFunction // trampoline body
	done         lua.LValue     // sentinel the trampoline yields after each callback
	sessMT       *lua.LTable
	sessMeth     *lua.LTable
	evMT         *lua.LTable
	evMeth       *lua.LTable
	callMT       *lua.LTable
	callMeth     *lua.LTable
	conv         converters
	coResume     lua.LGFunction // the coroutine library's resume
	coCreateOrig lua.LGFunction // and its create

	pool    []*coro  // idle trampolines
	cur     *coro    // the coroutine running now, nil outside one
	depth   int      // nesting of Lua runs on this goroutine
	queue   []func() // wake-ups asked for while Lua was running
	waiting int

	apps    map[string]*app
	loading *app // app whose chunks run now (top-level code)
	order   []string
	gen     uint64
	known   map[string]bool // Events() as last computed
	dyn     map[string]bool // events needed at run time beyond the scripts' constants
	wd      *watchdog
	ctx     context.Context
	closed  bool
	ncb     uint64
	nerr    uint64
}

// New makes a Runtime with its sandboxed Lua state.
func New(h Host, o Options) (*Runtime, error) { return newRuntime(h, o) }

// Load installs or replaces app spec.ID. Each script runs in its own
// environment; on a replace, teardown() of the old generation runs, then
// setup(ctx) of the new, and the old `state` table is carried over. If the new
// scripts fail to run (a top-level error), the old generation stays and the
// error (script:line) is returned. Coroutines already waiting keep running the
// code they started with.
func (r *Runtime) Load(spec AppSpec) error { return r.load(spec) }

// Unload runs teardown() of app id and removes it.
func (r *Runtime) Unload(id string) { r.unload(id) }

// HasApp reports whether app id is loaded.
func (r *Runtime) HasApp(id string) bool { return r.apps[id] != nil }

// Apps lists the loaded app ids in load order.
func (r *Runtime) Apps() []string { return append([]string(nil), r.order...) }

// Events returns the ESL subscription names the loaded apps need: each
// on_* callback's event name and each on(name, fn) registration, CUSTOM
// subclasses as "CUSTOM sub::class".
func (r *Runtime) Events() []string { return r.events() }

// Dispatch hands one event to the Lua side after the Listener has applied it
// to s (s is nil for events without a tracked session): coroutines of s
// waiting for this event resume first, then the callbacks of s's app for this
// event run, each in a coroutine. On CHANNEL_HANGUP, waiters of s for other
// events get nil, "hangup".
func (r *Runtime) Dispatch(s *models.Session, ev models.Event) { r.dispatch(s, ev) }

// DispatchJob runs on_job(sess, job) of s's app when a bgapi job completes.
func (r *Runtime) DispatchJob(s *models.Session, j *models.Job) { r.dispatchJob(s, j) }

// SessionGone releases the Lua side of s after CHANNEL_DESTROY: waiters get
// nil, "hangup"; nothing of s stays referenced.
func (r *Runtime) SessionGone(s *models.Session) { r.sessionGone(s) }

// Stats are the Runtime's counters.
type Stats struct {
	Callbacks uint64 // callback runs started
	Errors    uint64 // callback runs that ended in an error
	Waiting   int    // coroutines suspended now
}

// Stats returns the counters.
func (r *Runtime) Stats() Stats {
	return Stats{Callbacks: r.ncb, Errors: r.nerr, Waiting: r.waiting}
}

// Close runs teardown() of every app and closes the Lua state.
func (r *Runtime) Close() { r.close() }

// Shared is the Go-backed switchlua.shared store that all Runtimes (all
// nodes) see. Safe for concurrent use.
type Shared struct {
	once sync.Once
	mu   sync.RWMutex
	m    map[string]any // string, float64 or bool
}

// NewShared makes an empty store.
func NewShared() *Shared { return &Shared{m: make(map[string]any)} }
