// Package bindings is the Lua side of switchlua: one Runtime (one Lua state)
// per Listener, the sandbox, Session/Call/Job exposed to Lua, callbacks run as
// coroutines (sess:wait, sleep, commands that yield until FreeSWITCH replies)
// and the `switchlua` module (log, shared store, router).
// bindings imports models, never host: the Listener hands it a Host.
//
// # The Lua app contract
//
// An app is one or more scripts loaded under an app id (Runtime.Load). Each
// script runs in its own environment table whose misses fall back to the
// sandboxed globals, so several scripts of one app can each define on_park;
// their callbacks run in load order. Callbacks are globals named after the
// event they handle:
//
//	on_create            CHANNEL_CREATE          on_dtmf(sess, digit, ev)  DTMF
//	on_originate         CHANNEL_ORIGINATE       on_playback_start         PLAYBACK_START
//	on_park              CHANNEL_PARK            on_playback_stop          PLAYBACK_STOP
//	on_answer            CHANNEL_ANSWER          on_record_start           RECORD_START
//	on_bridge            CHANNEL_BRIDGE          on_record_stop            RECORD_STOP
//	on_unbridge          CHANNEL_UNBRIDGE        on_callstate              CHANNEL_CALLSTATE
//	on_hangup            CHANNEL_HANGUP          on_execute_complete       CHANNEL_EXECUTE_COMPLETE
//	on_destroy           CHANNEL_DESTROY         on_job(sess, job) *       BACKGROUND_JOB (DispatchJob, DispatchJobTo)
//
//	* sess is nil for an originate that failed before its channel existed
//	  (e.g. USER_BUSY): the job is the app's only news of the call.
//
// and get (sess, ev). on("EVENT_NAME", fn) and on("module::subclass", fn)
// (CUSTOM events; on("CUSTOM", fn) gets them all) register handlers for any
// other event; handlers of events without a tracked session get sess == nil.
// setup(ctx) runs after a load (ctx.args, ctx.node, ctx.app, ctx.generation,
// ctx.api(cmd)), teardown(ctx) before an unload or a replacement.
//
// Event names are checked against FreeSWITCH's event types (EVENT_NAMES of
// switch_event.c; case does not matter; CUSTOM subclasses "module::name"
// are free-form), because FreeSWITCH refuses a whole subscription for one
// bad word without naming it. A name it does not have is never subscribed:
// on() raises (at load: Load fails with script:line and the nearest known
// name, e.g. `x.lua:3: on(): unknown event CHANNEL_ANSWR (did you mean
// CHANNEL_ANSWER?)`); a constant name in x:wait("NAME") written in capitals
// fails the Load the same way; any other unknown name makes sess:wait
// return nil, "unknown event NAME ..." (logged once per name).
// LintCallbacks (`switchlua check`) reports all of them.
//
// Every callback runs as a coroutine taken from a small pool of reusable
// trampolines, so it may wait: sess:wait(name | {names}, timeout) returns the
// event, or nil, "timeout", or nil, "hangup" (the session hung up while
// waiting for something else; a wait started after the hangup returns at
// once unless it waits for CHANNEL_HANGUP_COMPLETE or CHANNEL_DESTROY).
// Waiters run before the callbacks of the same event. A wait right after a
// command also sees the events of that session that arrived while the
// command was in flight (FreeSWITCH may send CHANNEL_ANSWER before the +OK of
// uuid_answer). sleep(s) yields for s seconds (sleep(0): until the events
// already queued have run). Every session command yields until FreeSWITCH
// replies and returns true (getvar: the value, or nil if unset), or nil and
// FreeSWITCH's reply text ("-ERR No such channel!"). A callback cannot wait
// at the top level of a script, inside pcall/xpcall or another function
// called from Go, or inside a coroutine it created: it gets a clear error.
//
// The session object: sess.uuid, sess["Header-Name"] and sess:get(h) (the
// latest value seen, nil if never), sess:is_inbound(), sess:is_outbound(),
// sess.answered, sess.hungup, sess.cause, sess.app, sess.node, sess.gone,
// sess.vars (a plain table for app state), sess.call (uuid, first, last,
// sessions, len, vars, peer(sess), hangup(cause)), sess.job, sess.times
// (create, answer, req_originate, originate, hangup: float seconds since the
// epoch, nil if not yet), sess:uptime(), sess:history(). sess.call.vars is
// the call's state shared with Go (e.g. call.vars.noautohangup = true turns
// the originator's auto-hangup off): strings, numbers and booleans cross as
// Go string, float64 and bool; it is a userdata, not a table, but
// pairs(call.vars) walks it in key order (the sandbox's pairs honours a
// __pairs metamethod, as Lua 5.2 does) and #call.vars counts its keys; next()
// does not work on it. Once the session is gone (CHANNEL_DESTROY processed,
// sess.gone true), every field and header still reads its final value
// (hungup, cause, answered, times, call, sess["Hangup-Cause"], ...) for as
// long as the script holds the object, sess:uptime() stops at the hangup,
// commands return nil, "session UUID is gone" and waits nil, "hangup".
// Commands (switchio's names and wire
// commands, see models.Session): answer, hangup(cause), park,
// bridge{dest_url, profile, gateway, proxy, params} (or bridge(dest_url)),
// playback(path | {paths}, {start_sample, endless, params, loops, app_uuid}),
// broadcast(path, leg), execute(app, arg, {loops, app_uuid, lock}),
// start_record(path, {rx_only, stereo, sample_rate}), stop_record(path,
// delay), record(action, path), echo, mute(direction, level),
// unmute(direction), send_dtmf(digits, duration_ms),
// sched_dtmf(delay, digits, duration_ms), sched_hangup(delay, cause),
// clear_tasks, breakmedia, bypass_media(on), respond(code), deflect(uri),
// setvar(k, v), setvars{k = v}, unsetvar(k), getvar(k). The event object:
// ev.name, ev.subclass, ev.uuid, ev.body, ev["Header-Name"], ev:get(h),
// ev:headers(). The job object (gopher-luar): job.uuid, job.sess_uuid,
// job.command, job:ready(), job:successful(), job:result(), job:cause(),
// job:launch_time().
//
// Globals besides the sandboxed standard library: log.debug/info/warn/error
// (slog, with the app, the session uuid and script:line; print is
// log.info), sleep, on, require, and switchlua: switchlua.shared (get, set,
// incr, delete: a Go store all Runtimes share; strings, numbers and
// booleans), switchlua.api(cmd), switchlua.log, switchlua.node and
// switchlua.router (switchio's Router; see lua/router.lua).
//
// switchlua.api(cmd) and ctx.api(cmd) run an api command with `bgapi`
// (Host.BackgroundAPI) and yield until its BACKGROUND_JOB: they return the
// job's result text (trailing newline removed), or nil and the "-ERR ..."
// text (or the error of a refused bgapi or a lost connection). A leading
// "api " or "bgapi " is dropped; "sendmsg ..." and "sendevent ..." go out
// as they are and return their reply. Not plain `api`: FreeSWITCH's
// mod_event_socket runs an api command inline in the connection's thread
// and writes no event on it until the command returns, so
// switchlua.api("originate ...") would freeze the node's whole event stream
// (every call of the node) for the ring time. Session commands (uuid_answer,
// uuid_kill, sendmsg execute, ...), which FreeSWITCH answers at once, use
// plain api (Host.API).
//
// # Errors and limits
//
// An error in a callback is logged with script:line, the app and the session
// uuid, counted (Stats, Options.OnCallback) and stops nothing else. A
// callback that runs longer than Options.CPUBudget (default 100 ms) without
// yielding is stopped with an error that says so (errors.Is ErrCPUBudget):
// gopher-lua checks the Runtime's context at every instruction and a
// watchdog goroutine cancels it. The pattern functions string.find, match,
// gmatch and gsub (method forms too) check it as they match, so a pattern
// that backtracks for ever is stopped as well ("x.lua:3: string.find:
// pattern too complex, stopped after 25ms: exceeded its CPU budget ...").
// string.rep, string.gsub, string.format and table.concat refuse results
// over 64 MiB. These limits hold with Options.Unsafe too: they protect the
// node.
//
// # Sandbox
//
// By default scripts get base (without dofile, loadfile, collectgarbage,
// getfenv, setfenv, module, newproxy), table, string, math, coroutine and
// os.time, os.clock, os.date and os.difftime. What is left out is never
// opened, but using it says why: dofile(...), os.execute(...), io.open(...),
// debug.getinfo(...), package.path and the like raise "NAME is not
// available in the sandbox (run with --unsafe)" (io, debug and package are
// stand-in tables whose every field raises so), instead of "attempt to call
// a nil value". load and loadstring compile text only and run in the
// calling script's environment. require loads "switchlua",
// "switchlua.router", or what Options.Module resolves (the scripts' own
// folders); modules are cached per app generation. pairs honours __pairs.
// Options.Unsafe opens the full standard library.
//
// # Hot reload and app state
//
// Load of an app id that is already loaded runs the new scripts in fresh
// environments. If one raises at the top level (or names an unknown event,
// see above), the old generation stays and Load returns the error
// (script:line). Otherwise teardown() of the old generation runs, then
// setup(ctx) of the new one, in that order (they may share resources: a
// new setup never runs before the old teardown). If a setup raises before
// its first yield, the new generation is refused: Load returns its error
// (`script:line: message (in setup)`), the scripts of the new generation
// whose setup had already run get their teardown, the old generation is
// put back and its setup(ctx) runs again (its teardown had run), so it
// serves on as it was; on a first load the app is simply not installed.
// The host counts such a Load as a failed load (the running version
// stays). A setup that raises after a yield (after ctx.api, say) runs
// after the swap: its error is logged and counted like any callback's, and
// the new generation stays. A global table named
// `state` survives reloads: each script starts with `state` set to the app's
// state table (empty on the first load), so initialise fields with
// `state.n = state.n or 0`; a script that assigns a new table to `state`
// hands that one on. Everything else (globals, locals, modules) is fresh.
// Coroutines already waiting finish on the code they started with; new
// events run the new code.
package bindings

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
	// The Runtime uses it for session commands (uuid_answer, sendmsg, ...),
	// which FreeSWITCH answers at once.
	API(cmd string, done func(reply string, err error))
	// BackgroundAPI runs cmd (an api command without the "api "/"bgapi "
	// prefix) with `bgapi` on this node; done runs once, on the Listener
	// goroutine, with the BACKGROUND_JOB body (without its trailing
	// newline), or with an error: a "-ERR ..."/"-USAGE ..." body (the error
	// text is the body), a refused bgapi, a lost connection. The Runtime
	// uses it for switchlua.api and ctx.api: FreeSWITCH runs a plain `api`
	// inline in the event socket's thread and writes no event on that
	// connection until it returns, so a slow command (an originate that
	// rings) would freeze the node's whole event stream.
	BackgroundAPI(cmd string, done func(result string, err error))
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
	varsMT       *lua.LTable // call.vars
	conv         converters
	coResume     lua.LGFunction // the coroutine library's resume
	coCreateOrig lua.LGFunction // and its create

	pool    []*coro         // idle trampolines
	cur     *coro           // the coroutine running now, nil outside one
	depth   int             // nesting of Lua runs on this goroutine
	queue   []pendingResume // wake-ups asked for while Lua was running
	waiting int
	// peakWaiting is the most coroutines ever waiting at once: the idle
	// pool keeps up to that many (see maxPoolSize).
	peakWaiting int

	apps     map[string]*app
	loading  *app // app whose chunks run now (top-level code)
	order    []string
	gen      uint64
	known    map[string]bool // Events() as last computed
	dyn      map[string]bool // events needed at run time beyond the scripts' constants
	badNames map[string]bool // unknown event names already logged (sess:wait)
	wd       *watchdog
	ctx      context.Context
	closed   bool
	ncb      uint64
	nerr     uint64
}

// New makes a Runtime with its sandboxed Lua state.
func New(h Host, o Options) (*Runtime, error) { return newRuntime(h, o) }

// Load installs or replaces app spec.ID. Each script runs in its own
// environment; on a replace, teardown() of the old generation runs, then
// setup(ctx) of the new, and the old `state` table is carried over. If the new
// scripts fail to run (a top-level error, an unknown event name) or a setup
// raises before its first yield, the old generation stays (after a setup
// error: is put back, and its setup runs again) and the error (script:line)
// is returned; see the package doc. Coroutines already waiting keep running
// the code they started with.
func (r *Runtime) Load(spec AppSpec) error { return r.load(spec) }

// Unload runs teardown() of app id and removes it.
func (r *Runtime) Unload(id string) { r.unload(id) }

// HasApp reports whether app id is loaded.
func (r *Runtime) HasApp(id string) bool { return r.apps[id] != nil }

// Handles reports whether app id is loaded and handles event (an ESL event
// name such as "CHANNEL_PARK", or a CUSTOM subclass "module::name"): one of
// its scripts defines the event's on_* callback (on_park for CHANNEL_PARK)
// or has registered on(event, fn). The host asks it to know whether an app
// takes responsibility for parked calls (host.Config.ParkTimeout).
func (r *Runtime) Handles(id, event string) bool { return r.handles(id, event) }

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
// With a nil s it runs on_job(nil, job) of every loaded app; use
// DispatchJobTo to reach one app only.
func (r *Runtime) DispatchJob(s *models.Session, j *models.Job) { r.dispatchJob(s, j) }

// DispatchJobTo runs on_job(sess, job) of app only, in its scripts' load
// order, whatever app s belongs to. s may be nil (an originate that failed
// before its channel existed: the job is the app's only news of the call).
// An app that is not loaded gets nothing.
func (r *Runtime) DispatchJobTo(app string, s *models.Session, j *models.Job) {
	r.dispatchJobTo(app, s, j)
}

// SessionGone releases the Lua side of s after CHANNEL_DESTROY: waiters get
// nil, "hangup", commands and waits started later get nil, "session UUID is
// gone", and the Runtime drops everything it held for s (waiters, commands
// in flight, events kept for a wait). The session object keeps s, so Lua
// code that still holds it reads its final state; s lives on only as long as
// such code does.
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
