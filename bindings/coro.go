package bindings

import (
	"errors"
	"fmt"
	"reflect"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/switchlua/switchlua/models"
)

// ErrCPUBudget is matched (errors.Is) by the error of a callback stopped
// because it ran longer than Options.CPUBudget without yielding.
var ErrCPUBudget = errors.New("bindings: callback exceeded its CPU budget")

// waitKind says what a suspended coroutine waits for.
type waitKind uint8

const (
	waitNone  waitKind = iota
	waitCmd            // a command's reply (session command, ctx.api)
	waitEvent          // sess:wait
	waitSleep          // sleep
)

// recentEvent is an event of the session a command was sent to, seen while
// the command was in flight (FreeSWITCH may send CHANNEL_ANSWER before the
// +OK of uuid_answer): a sess:wait right after the command finds it here.
type recentEvent struct {
	key string
	ev  models.Event
}

// coro is a reusable trampoline coroutine and the state of the callback run
// it carries. A callback that finishes without yielding leaves its coro idle
// for the next; one that yields keeps it until it finishes.
type coro struct {
	th   *lua.LState
	run  runInfo
	kind waitKind
	seq  uint64 // bumped at each suspension; stale wake-ups compare it
	nret int    // results the yielding call site expects (lua.MultRet: any)

	suspended bool         // yielded to the Runtime (not just about to)
	early     []lua.LValue // results that arrived before the coroutine yielded
	hasEarly  bool

	// waitEvent
	waitNames []string
	waitSess  *sessObj
	timer     *time.Timer

	// waitCmd on a session: events of that session seen meanwhile
	cmdSess *sessObj
	recent  []recentEvent
}

// runInfo describes the callback run a coro carries.
type runInfo struct {
	app     *app
	cb      string
	so      *sessObj
	uuid    string
	start   time.Time
	cpu     time.Duration
	timing  bool
	runFrom time.Time
	// sync, if set, receives the outcome of a run that ends before its
	// first yield (startSync); such an error is the caller's to report.
	sync *syncResult
}

// syncResult is the outcome of a callback run that ended without yielding.
type syncResult struct {
	done bool
	err  error
}

// initTrampoline compiles the trampoline: it calls the function it is given,
// yields the done sentinel, and loops with the next function.
func (r *Runtime) initTrampoline() error {
	r.done = r.L.NewUserData()
	v, err := r.compileString(`local yield, done = ...
return function(fn, a, b, c)
  while true do
    fn(a, b, c)
    fn, a, b, c = nil, nil, nil, nil -- an idle trampoline pins no session
    fn, a, b, c = yield(done)
  end
end`, "=trampoline", r.L.GetField(r.L.GetGlobal("coroutine"), "yield"), r.done)
	if err != nil {
		return err
	}
	r.tramp = v.(*lua.LFunction)
	return nil
}

func (r *Runtime) getCoro() *coro {
	if n := len(r.pool); n > 0 {
		c := r.pool[n-1]
		r.pool[n-1] = nil
		r.pool = r.pool[:n-1]
		return c
	}
	th, cancel := r.L.NewThread()
	if cancel != nil { // the main state never carries a context between runs
		th.RemoveContext()
		cancel()
	}
	return &coro{th: th}
}

func (r *Runtime) putCoro(c *coro) {
	c.run = runInfo{}
	c.resetRecent()
	if len(r.pool) < min(max(poolSize, r.peakWaiting), maxPoolSize) && !r.closed {
		r.pool = append(r.pool, c)
	}
}

// start runs fn(a, b, c) as a callback of app in a coroutine.
func (r *Runtime) start(ap *app, so *sessObj, cb string, fn *lua.LFunction, a, b, c lua.LValue) {
	r.startRun(ap, so, cb, fn, nil, a, b, c)
}

// startSync is start for setup: it reports whether the run ended before its
// first yield (done) and, if so, its error, which it does not log (the
// caller reports it). A run that yields goes on as any callback: an error
// after the yield is logged and counted.
func (r *Runtime) startSync(ap *app, cb string, fn *lua.LFunction, a lua.LValue) (done bool, err error) {
	var res syncResult
	r.startRun(ap, nil, cb, fn, &res, a, lua.LNil, lua.LNil)
	return res.done, res.err
}

func (r *Runtime) startRun(ap *app, so *sessObj, cb string, fn *lua.LFunction, res *syncResult, a, b, c lua.LValue) {
	if r.closed {
		return
	}
	co := r.getCoro()
	co.run = runInfo{app: ap, cb: cb, so: so, sync: res}
	if so != nil {
		co.run.uuid = so.s.UUID
	}
	if r.opt.OnCallback != nil {
		co.run.timing = true
		co.run.start = time.Now()
	}
	r.ncb++
	r.resume(co, fn, a, b, c)
	if res != nil && !res.done && co.run.sync == res {
		co.run.sync = nil // it yielded: later outcomes are a callback's
	}
}

// resume runs co until it finishes or yields. Wake-ups asked for while Lua
// is running (a reply delivered synchronously, say) are queued and run after.
func (r *Runtime) resume(co *coro, args ...lua.LValue) {
	if r.depth > 0 {
		r.queue = append(r.queue, pendingResume{co, append([]lua.LValue(nil), args...)})
		return
	}
	r.depth++
	r.resumeOne(co, args)
	for len(r.queue) > 0 {
		p := r.queue[0]
		r.queue[0] = pendingResume{}
		r.queue = r.queue[1:]
		r.resumeOne(p.co, p.args)
	}
	r.depth--
}

// pendingResume is a resume asked for while Lua was running.
type pendingResume struct {
	co   *coro
	args []lua.LValue
}

func (r *Runtime) resumeOne(co *coro, args []lua.LValue) {
	prev := r.cur
	r.cur = co
	if co.run.timing {
		co.run.runFrom = time.Now()
	}
	r.arm(co.th)
	st, err, vals := r.safeResume(co.th, args)
	fired := r.disarm()
	r.cur = prev
	if co.run.timing {
		co.run.cpu += time.Since(co.run.runFrom)
	}
	switch {
	case err != nil:
		// The thread is dead: it is not returned to the pool. An error
		// raised after the coroutine registered a wait (a bad argument
		// read late) must not leave it registered.
		r.abandon(co)
		r.finish(co, r.luaError(err, fired))
	case co.kind != waitNone:
		co.suspended = true
		r.waiting++
		r.peakWaiting = max(r.peakWaiting, r.waiting)
	case st == lua.ResumeYield && len(vals) > 0 && vals[0] == r.done:
		r.finish(co, nil)
		r.putCoro(co)
	default:
		// A bare coroutine.yield() in a callback, or a trampoline that
		// returned: nobody would ever resume it.
		r.abandon(co)
		r.finish(co, &scriptError{msg: fmt.Sprintf("%s: %s yielded with coroutine.yield; use sleep() or sess:wait() to wait in a callback",
			co.run.appID(), co.run.cb)})
	}
}

func (ri *runInfo) appID() string {
	if ri.app == nil {
		return "?"
	}
	return ri.app.id
}

// safeResume is L.Resume that turns a Go panic (a gopher-lua state broken by
// a yield it could not handle) into an error.
func (r *Runtime) safeResume(th *lua.LState, args []lua.LValue) (st lua.ResumeState, err error, vals []lua.LValue) {
	defer func() {
		if p := recover(); p != nil {
			st, err, vals = lua.ResumeError, fmt.Errorf("lua: %v", p), nil
		}
	}()
	return r.L.Resume(th, r.tramp, args...)
}

// finish ends a callback run: count, log, report.
func (r *Runtime) finish(co *coro, err error) {
	ri := &co.run
	if ri.sync != nil {
		ri.sync.done, ri.sync.err = true, err
	}
	if err != nil {
		r.nerr++
		if ri.sync == nil {
			r.log.Error("lua callback failed", "app", ri.appID(), "callback", ri.cb, "uuid", ri.uuid, "err", err.Error())
		}
	}
	if r.opt.OnCallback != nil {
		info := CallbackInfo{App: ri.appID(), Callback: ri.cb, UUID: ri.uuid, Err: err}
		if ri.timing {
			info.Duration = ri.cpu
			info.Elapsed = time.Since(ri.start)
		}
		r.opt.OnCallback(info)
	}
}

// yieldable returns the running callback coroutine if the Go function called
// on L may yield it, else raises a Lua error that says why not.
func (r *Runtime) yieldable(L *lua.LState, what string) *coro {
	co := r.cur
	if co == nil {
		L.RaiseError("%s waits, so it can only be called from a callback, setup or teardown (not at the top level of a script)", what)
	}
	if co.th != L {
		L.RaiseError("%s cannot wait inside a coroutine the script created itself", what)
	}
	// gopher-lua cannot yield through a Go function that called back into
	// Lua (pcall, xpcall, table.sort, string.gsub, require...): it would
	// corrupt the coroutine.
	for lvl := 1; ; lvl++ {
		dbg, ok := L.GetStack(lvl)
		if !ok {
			break
		}
		if _, err := L.GetInfo("S", dbg, lua.LNil); err == nil && dbg.What == "G" {
			L.RaiseError("%s cannot wait inside pcall, xpcall or a function called from Go (commands return nil, err instead of raising)", what)
		}
	}
	return co
}

// resetRecent forgets the events buffered during the last command.
func (co *coro) resetRecent() {
	clear(co.recent)
	co.recent = co.recent[:0]
	co.cmdSess = nil
}

// abandon unregisters a coroutine that died or will never be resumed.
func (r *Runtime) abandon(co *coro) {
	co.kind = waitNone
	co.seq++
	if co.timer != nil {
		co.timer.Stop()
		co.timer = nil
	}
	if co.waitSess != nil {
		co.waitSess.removeWaiter(co)
		co.waitSess = nil
	}
	if co.cmdSess != nil {
		co.cmdSess.removeCmd(co)
	}
	co.resetRecent()
	co.early, co.hasEarly = nil, false
}

// suspend prepares co to yield for kind and returns the new sequence number
// that its wake-up must carry. L is the coroutine, inside the Go function
// that is about to yield.
func (co *coro) suspend(L *lua.LState, kind waitKind) uint64 {
	co.seq++
	co.kind = kind
	co.hasEarly = false
	co.early = nil
	co.nret = frameNRet(L)
	return co.seq
}

// gopher-lua places the values of the Resume that follows a yield from a Go
// function at the call site as they are: it neither pads nor truncates them
// to the number of results the call expects, and a call site that expects
// more values than it gets reads stale registers (and may crash the VM).
// So the Runtime reads the expected count (the Go function's call frame
// NRet, not exported by gopher-lua v1.1.1) when it suspends and adjusts the
// values of the wake-up to it. TestFrameNRet guards the field access.
var nretIndex = func() []int {
	dbg, ok := reflect.TypeOf(lua.Debug{}).FieldByName("frame")
	if !ok || dbg.Type.Kind() != reflect.Pointer {
		return nil
	}
	nr, ok := dbg.Type.Elem().FieldByName("NRet")
	if !ok || nr.Type.Kind() != reflect.Int {
		return nil
	}
	return []int{dbg.Index[0], nr.Index[0]}
}()

// frameNRet is the result count the caller of the running Go function
// expects (lua.MultRet: all of them).
func frameNRet(L *lua.LState) int {
	if nretIndex == nil {
		return lua.MultRet
	}
	dbg, ok := L.GetStack(0)
	if !ok {
		return lua.MultRet
	}
	f := reflect.ValueOf(dbg).Elem().Field(nretIndex[0])
	if f.IsNil() {
		return lua.MultRet
	}
	return int(f.Elem().Field(nretIndex[1]).Int())
}

// fit pads or truncates wake-up values to what the call site expects.
func fit(vals []lua.LValue, n int) []lua.LValue {
	if n < 0 || len(vals) == n {
		return vals
	}
	if len(vals) > n {
		return vals[:n]
	}
	out := make([]lua.LValue, n)
	copy(out, vals)
	for i := len(vals); i < n; i++ {
		out[i] = lua.LNil
	}
	return out
}

// yield finishes a Go function that suspended its coroutine: it returns the
// early results if the wake-up already came, else yields.
func (co *coro) yield(L *lua.LState) int {
	if co.hasEarly {
		vals := co.early
		co.early, co.hasEarly = nil, false
		co.kind = waitNone
		for _, v := range vals {
			L.Push(v)
		}
		return len(vals)
	}
	return L.Yield()
}

// wake resumes co with vals if it is still suspended for kind under seq.
// Called on the Listener goroutine (reply callbacks, posted timers, events).
func (r *Runtime) wake(co *coro, seq uint64, kind waitKind, vals ...lua.LValue) bool {
	if co.seq != seq || co.kind != kind || r.closed {
		return false
	}
	if co.timer != nil {
		co.timer.Stop()
		co.timer = nil
	}
	if co.waitSess != nil {
		co.waitSess.removeWaiter(co)
		co.waitSess = nil
	}
	if co.cmdSess != nil && kind == waitCmd {
		co.cmdSess.removeCmd(co)
		// keep cmdSess and recent for a sess:wait that follows at once
	}
	co.kind = waitNone
	if !co.suspended {
		// Delivered before the Go function yielded (a synchronous reply).
		co.early, co.hasEarly = vals, true
		return true
	}
	co.suspended = false
	r.waiting--
	r.resume(co, fit(vals, co.nret)...)
	return true
}

// post runs fn on the Listener goroutine after d.
func (r *Runtime) after(d time.Duration, fn func()) *time.Timer {
	return time.AfterFunc(d, func() { r.host.Post(fn) })
}

func secs(v lua.LNumber) time.Duration { return time.Duration(float64(v) * float64(time.Second)) }

// lSleep is sleep(seconds): yields the callback; sleep(0) lets the events
// already queued run first.
func (r *Runtime) lSleep(L *lua.LState) int {
	d := secs(L.OptNumber(1, 0))
	co := r.yieldable(L, "sleep()")
	seq := co.suspend(L, waitSleep)
	co.resetRecent()
	wakeFn := func() { r.wake(co, seq, waitSleep) }
	if d <= 0 {
		r.host.Post(wakeFn)
	} else {
		co.timer = r.after(d, wakeFn)
	}
	return co.yield(L)
}
