package bindings

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/switchlua/switchlua/models"
)

// sessObj is the Lua side of one models.Session, kept in Session.Ext so the
// same session always maps to the same Lua object. Session, Call and Event
// are bound by hand (a metatable whose __index checks methods, then fields,
// then headers): luar cannot index arbitrary header names nor give a method
// the *lua.LState it needs to yield, and a hand-written method call is 3-5x
// cheaper (see BenchmarkMethodCall).
type sessObj struct {
	// s stays set after the session is gone, so Lua reads its final
	// state (hungup, cause, times, call, headers); only Lua code that still
	// holds the object keeps it alive (the Runtime drops its own
	// references in SessionGone).
	s    *models.Session
	gone bool // CHANNEL_DESTROY was processed: commands and waits refuse
	ud   *lua.LUserData
	vars *lua.LTable // sess.vars, made on first use

	waiters []*coro // sess:wait, in order
	cmds    []*coro // coroutines with a command in flight on this session
}

func (so *sessObj) removeWaiter(co *coro) {
	for i, w := range so.waiters {
		if w == co {
			so.waiters = slices.Delete(so.waiters, i, i+1) // clears the tail: no finished coroutine stays pinned
			return
		}
	}
}

func (so *sessObj) removeCmd(co *coro) {
	for i, w := range so.cmds {
		if w == co {
			so.cmds = slices.Delete(so.cmds, i, i+1)
			return
		}
	}
}

// goneExt is the Session.Ext of a session that left before Lua ever saw it.
var goneExt = new(struct{ gone bool })

// sessObj returns (making on first use) the Lua object of s.
func (r *Runtime) sessObj(s *models.Session) *sessObj {
	if so, ok := s.Ext.(*sessObj); ok {
		return so
	}
	so := &sessObj{s: s, gone: s.Ext == goneExt}
	ud := r.L.NewUserData()
	ud.Value = so
	ud.Metatable = r.sessMT
	so.ud = ud
	s.Ext = so
	return so
}

// sessValue returns the Lua value of s (nil for a nil session).
func (r *Runtime) sessValue(s *models.Session) lua.LValue {
	if s == nil {
		return lua.LNil
	}
	return r.sessObj(s).ud
}

func checkSess(L *lua.LState) *sessObj {
	if ud, ok := L.Get(1).(*lua.LUserData); ok {
		if so, ok := ud.Value.(*sessObj); ok {
			return so
		}
	}
	L.ArgError(1, "session expected (call methods with ':', e.g. sess:answer())")
	return nil
}

// initObjects builds the metatables of sessions, events and calls.
func (r *Runtime) initObjects() {
	L := r.L
	r.sessMeth = L.NewTable()
	L.SetFuncs(r.sessMeth, r.sessionMethods())
	r.sessMT = L.NewTable()
	r.sessMT.RawSetString("__index", L.NewFunction(r.sessIndex))
	r.sessMT.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("session fields are read-only (cannot set %q); keep app state in sess.vars", L.CheckString(2))
		return 0
	}))
	r.sessMT.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString("session " + checkSess(L).s.UUID))
		return 1
	}))
	r.sessMT.RawSetString("__metatable", lua.LString("session"))

	r.evMeth = L.NewTable()
	L.SetFuncs(r.evMeth, map[string]lua.LGFunction{
		"get": func(L *lua.LState) int {
			ev := checkEvent(L)
			v, ok := ev.Lookup(L.CheckString(2))
			if !ok {
				L.Push(lua.LNil)
				return 1
			}
			L.Push(lua.LString(strings.Clone(v)))
			return 1
		},
		"headers": func(L *lua.LState) int {
			ev := checkEvent(L)
			t := L.CreateTable(0, 64)
			ev.Range(func(n, v string) bool {
				t.RawSetString(strings.Clone(n), lua.LString(strings.Clone(v)))
				return true
			})
			L.Push(t)
			return 1
		},
	})
	r.evMT = L.NewTable()
	r.evMT.RawSetString("__index", L.NewFunction(r.evIndex))
	r.evMT.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		ev := checkEvent(L)
		L.Push(lua.LString("event " + eventKey(ev)))
		return 1
	}))
	r.evMT.RawSetString("__metatable", lua.LString("event"))

	r.callMeth = L.NewTable()
	L.SetFuncs(r.callMeth, map[string]lua.LGFunction{
		"peer": func(L *lua.LState) int {
			c := checkCall(L)
			so := checkSessAt(L, 2)
			L.Push(r.sessValue(c.Peer(so.s)))
			return 1
		},
		"hangup": func(L *lua.LState) int {
			c := checkCall(L)
			cause := L.OptString(2, "")
			return r.command(L, nil, "call:hangup()", func(done models.Done) { c.Hangup(cause, done) })
		},
	})
	r.callMT = L.NewTable()
	r.callMT.RawSetString("__index", L.NewFunction(r.callIndex))
	r.callMT.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString("call " + checkCall(L).UUID))
		return 1
	}))
	r.callMT.RawSetString("__metatable", lua.LString("call"))
	r.initCallVars()

	r.conv.init(r.L)
}

// sessIndex is the session's __index: methods, then fields, then the latest
// value of a header (nil if never seen).
func (r *Runtime) sessIndex(L *lua.LState) int {
	so := L.Get(1).(*lua.LUserData).Value.(*sessObj)
	key := L.CheckString(2)
	if m := r.sessMeth.RawGetString(key); m != lua.LNil {
		L.Push(m)
		return 1
	}
	s := so.s
	switch key {
	case "uuid":
		L.Push(lua.LString(so.s.UUID))
		return 1
	case "vars":
		if so.vars == nil {
			so.vars = L.CreateTable(0, 4)
		}
		L.Push(so.vars)
		return 1
	case "gone":
		L.Push(lua.LBool(so.gone))
		return 1
	}
	switch key {
	case "answered":
		L.Push(lua.LBool(s.Answered))
	case "hungup":
		L.Push(lua.LBool(s.Hungup))
	case "cause":
		L.Push(optString(s.Cause))
	case "app":
		L.Push(lua.LString(s.AppID))
	case "node":
		L.Push(lua.LString(s.Node))
	case "call":
		L.Push(r.callValue(s.Call))
	case "job":
		L.Push(r.jobValue(s.Job))
	case "times":
		L.Push(r.timesTable(&s.Times))
	default:
		v, ok := s.Lookup(key)
		if !ok {
			L.Push(lua.LNil)
			return 1
		}
		// A copy: Lua may keep it, and the original pins a whole event.
		L.Push(lua.LString(strings.Clone(v)))
	}
	return 1
}

func optString(s string) lua.LValue {
	if s == "" {
		return lua.LNil
	}
	return lua.LString(s)
}

func epoch(t time.Time) lua.LValue {
	if t.IsZero() {
		return lua.LNil
	}
	return lua.LNumber(float64(t.UnixMicro()) / 1e6)
}

// timesTable is sess.times: create, answer, req_originate, originate and
// hangup as float seconds since the epoch, nil if not yet. A fresh table on
// each read.
func (r *Runtime) timesTable(t *models.Times) *lua.LTable {
	tb := r.L.CreateTable(0, 5)
	tb.RawSetString("create", epoch(t.Create))
	tb.RawSetString("answer", epoch(t.Answer))
	tb.RawSetString("req_originate", epoch(t.ReqOriginate))
	tb.RawSetString("originate", epoch(t.Originate))
	tb.RawSetString("hangup", epoch(t.Hangup))
	return tb
}

// sessionMethods are the session's methods (sess:name(...)). Every command
// yields its callback until FreeSWITCH replies and returns true, or nil and
// FreeSWITCH's reply text.
func (r *Runtime) sessionMethods() map[string]lua.LGFunction {
	cmd := func(name string, send func(L *lua.LState, s *models.Session, done models.Done)) lua.LGFunction {
		what := "sess:" + name + "()"
		return func(L *lua.LState) int {
			so := checkSess(L)
			return r.command(L, so, what, func(done models.Done) { send(L, so.s, done) })
		}
	}
	m := map[string]lua.LGFunction{
		"get": func(L *lua.LState) int {
			so := checkSess(L)
			name := L.CheckString(2)
			v, ok := so.s.Lookup(name)
			if !ok {
				L.Push(lua.LNil)
				return 1
			}
			L.Push(lua.LString(strings.Clone(v)))
			return 1
		},
		"is_inbound": func(L *lua.LState) int {
			so := checkSess(L)
			L.Push(lua.LBool(so.s.IsInbound()))
			return 1
		},
		"is_outbound": func(L *lua.LState) int {
			so := checkSess(L)
			L.Push(lua.LBool(so.s.IsOutbound()))
			return 1
		},
		"uptime": func(L *lua.LState) int {
			so := checkSess(L)
			now := time.Now()
			if h := so.s.Times.Hangup; so.gone && !h.IsZero() {
				now = h // a gone session's uptime stops at its hangup
			}
			L.Push(lua.LNumber(so.s.Uptime(now).Seconds()))
			return 1
		},
		"history": func(L *lua.LState) int {
			so := checkSess(L)
			t := L.CreateTable(32, 0)
			for _, h := range so.s.History() {
				e := L.CreateTable(0, 2)
				e.RawSetString("name", lua.LString(h.Name))
				e.RawSetString("time", epoch(h.Time))
				t.Append(e)
			}
			L.Push(t)
			return 1
		},
		"wait": r.lWait,

		"answer": cmd("answer", func(L *lua.LState, s *models.Session, d models.Done) { s.Answer(d) }),
		"hangup": cmd("hangup", func(L *lua.LState, s *models.Session, d models.Done) {
			s.Hangup(L.OptString(2, ""), d)
		}),
		"park": cmd("park", func(L *lua.LState, s *models.Session, d models.Done) { s.Park(d) }),
		"bridge": cmd("bridge", func(L *lua.LState, s *models.Session, d models.Done) {
			var o models.BridgeOptions
			switch v := L.Get(2).(type) {
			case lua.LString:
				o.DestURL = string(v)
			case *lua.LTable:
				o = r.conv.bridge(L, v)
			case *lua.LNilType:
			default:
				L.ArgError(2, "bridge takes a table {dest_url=, profile=, gateway=, proxy=, params={}} or a dest_url string")
			}
			s.Bridge(o, d)
		}),
		"playback": cmd("playback", func(L *lua.LState, s *models.Session, d models.Done) {
			var o models.PlaybackOptions
			if t, ok := L.Get(3).(*lua.LTable); ok {
				o = r.conv.playback(L, t)
			}
			switch v := L.Get(2).(type) {
			case *lua.LTable:
				var paths []string
				v.ForEach(func(_, p lua.LValue) { paths = append(paths, p.String()) })
				s.PlaybackFiles(paths, o, d)
			default:
				s.Playback(L.CheckString(2), o, d)
			}
		}),
		"broadcast": cmd("broadcast", func(L *lua.LState, s *models.Session, d models.Done) {
			s.Broadcast(L.CheckString(2), L.OptString(3, ""), d)
		}),
		"execute": cmd("execute", func(L *lua.LState, s *models.Session, d models.Done) {
			app, arg := L.CheckString(2), argString(L, 3)
			if t, ok := L.Get(4).(*lua.LTable); ok {
				s.ExecuteWith(app, arg, r.conv.execute(L, t), d)
				return
			}
			s.Execute(app, arg, d)
		}),
		"start_record": cmd("start_record", func(L *lua.LState, s *models.Session, d models.Done) {
			var o models.RecordOptions
			if t, ok := L.Get(3).(*lua.LTable); ok {
				o = r.conv.record(L, t)
			}
			s.StartRecord(L.CheckString(2), o, d)
		}),
		"stop_record": cmd("stop_record", func(L *lua.LState, s *models.Session, d models.Done) {
			s.StopRecord(L.OptString(2, ""), secs(L.OptNumber(3, 0)), d)
		}),
		"record": cmd("record", func(L *lua.LState, s *models.Session, d models.Done) {
			s.Record(L.CheckString(2), L.CheckString(3), d)
		}),
		"echo": cmd("echo", func(L *lua.LState, s *models.Session, d models.Done) { s.Echo(d) }),
		"mute": cmd("mute", func(L *lua.LState, s *models.Session, d models.Done) {
			s.Mute(L.OptString(2, ""), L.OptInt(3, 1), d)
		}),
		"unmute": cmd("unmute", func(L *lua.LState, s *models.Session, d models.Done) {
			s.Unmute(L.OptString(2, ""), d)
		}),
		"send_dtmf": cmd("send_dtmf", func(L *lua.LState, s *models.Session, d models.Done) {
			s.SendDTMF(L.CheckString(2), argString(L, 3), d)
		}),
		"sched_dtmf": cmd("sched_dtmf", func(L *lua.LState, s *models.Session, d models.Done) {
			s.SchedDTMF(secs(L.CheckNumber(2)), L.CheckString(3), argString(L, 4), d)
		}),
		"sched_hangup": cmd("sched_hangup", func(L *lua.LState, s *models.Session, d models.Done) {
			s.SchedHangup(secs(L.OptNumber(2, 0)), L.OptString(3, ""), d)
		}),
		"clear_tasks": cmd("clear_tasks", func(L *lua.LState, s *models.Session, d models.Done) { s.ClearTasks(d) }),
		"breakmedia":  cmd("breakmedia", func(L *lua.LState, s *models.Session, d models.Done) { s.BreakMedia(d) }),
		"bypass_media": cmd("bypass_media", func(L *lua.LState, s *models.Session, d models.Done) {
			on := true
			if L.GetTop() >= 2 {
				on = lua.LVAsBool(L.Get(2))
			}
			s.BypassMedia(on, d)
		}),
		"respond": cmd("respond", func(L *lua.LState, s *models.Session, d models.Done) {
			s.Respond(argString(L, 2), d)
		}),
		"deflect": cmd("deflect", func(L *lua.LState, s *models.Session, d models.Done) {
			s.Deflect(L.CheckString(2), d)
		}),
		"setvar": cmd("setvar", func(L *lua.LState, s *models.Session, d models.Done) {
			s.SetVar(L.CheckString(2), argString(L, 3), d)
		}),
		"setvars": cmd("setvars", func(L *lua.LState, s *models.Session, d models.Done) {
			t := L.CheckTable(2)
			vars := make(map[string]string)
			t.ForEach(func(k, v lua.LValue) { vars[k.String()] = v.String() })
			s.SetVars(vars, d)
		}),
		"unsetvar": cmd("unsetvar", func(L *lua.LState, s *models.Session, d models.Done) {
			s.UnsetVar(L.CheckString(2), d)
		}),
		"getvar": r.lGetVar,
	}
	return m
}

// argString reads an optional string-or-number argument ("" when absent).
func argString(L *lua.LState, n int) string {
	switch v := L.Get(n).(type) {
	case *lua.LNilType:
		return ""
	case lua.LString:
		return string(v)
	case lua.LNumber, lua.LBool:
		return v.String()
	default:
		L.ArgError(n, "string expected, got "+v.Type().String())
	}
	return ""
}

// command sends one command for so (nil for a call) and yields the callback
// until its reply: true, or nil and the error text.
func (r *Runtime) command(L *lua.LState, so *sessObj, what string, send func(done models.Done)) int {
	co := r.yieldable(L, what)
	if so != nil && so.gone {
		L.Push(lua.LNil)
		L.Push(lua.LString("session " + so.s.UUID + " is gone"))
		return 2
	}
	seq := co.suspend(L, waitCmd)
	co.resetRecent()
	co.cmdSess = so
	if so != nil {
		so.cmds = append(so.cmds, co)
	}
	send(func(_ string, err error) {
		if err != nil {
			r.wake(co, seq, waitCmd, lua.LNil, lua.LString(err.Error()))
			return
		}
		r.wake(co, seq, waitCmd, lua.LTrue)
	})
	return co.yield(L)
}

// lGetVar is sess:getvar(name): the value, nil if unset, or nil, err.
func (r *Runtime) lGetVar(L *lua.LState) int {
	so := checkSess(L)
	name := L.CheckString(2)
	co := r.yieldable(L, "sess:getvar()")
	if so.gone {
		L.Push(lua.LNil)
		L.Push(lua.LString("session " + so.s.UUID + " is gone"))
		return 2
	}
	seq := co.suspend(L, waitCmd)
	co.resetRecent()
	co.cmdSess = so
	so.cmds = append(so.cmds, co)
	so.s.GetVar(name, func(value string, ok bool, err error) {
		switch {
		case err != nil:
			r.wake(co, seq, waitCmd, lua.LNil, lua.LString(err.Error()))
		case !ok:
			r.wake(co, seq, waitCmd, lua.LNil)
		default:
			r.wake(co, seq, waitCmd, lua.LString(value))
		}
	})
	return co.yield(L)
}

// lWait is sess:wait(name | {names}, timeout): the event, or nil, "timeout",
// or nil, "hangup".
func (r *Runtime) lWait(L *lua.LState) int {
	so := checkSess(L)
	var names []string
	switch v := L.Get(2).(type) {
	case lua.LString:
		names = []string{eventName(string(v))}
	case *lua.LTable:
		v.ForEach(func(_, n lua.LValue) { names = append(names, eventName(n.String())) })
	default:
		L.ArgError(2, "event name (or a table of names) expected")
	}
	if len(names) == 0 {
		L.ArgError(2, "no event name")
	}
	timeout := secs(L.OptNumber(3, 0))
	co := r.yieldable(L, "sess:wait()")
	for _, n := range names {
		if err := checkEventKey(n); err != nil {
			// Never subscribed (FreeSWITCH would refuse the whole
			// subscription); said once per name in the log.
			r.warnUnknownEvent(L, n, err)
			L.Push(lua.LNil)
			L.Push(lua.LString(err.Error()))
			return 2
		}
	}
	r.needEvents(names)

	// An event of this session that arrived while the command just before
	// was in flight.
	if co.cmdSess == so {
		for i, re := range co.recent {
			if matches(names, re.key) {
				ev := re.ev
				co.recent = slices.Delete(co.recent, 0, i+1)
				L.Push(r.eventValue(ev))
				return 1
			}
		}
	}
	co.resetRecent()

	if so.gone || so.s.Hungup && !allHangupFamily(names) || so.s.Hungup && contains(names, "CHANNEL_HANGUP") {
		L.Push(lua.LNil)
		L.Push(lua.LString("hangup"))
		return 2
	}
	seq := co.suspend(L, waitEvent)
	co.waitNames = names
	co.waitSess = so
	so.waiters = append(so.waiters, co)
	if timeout > 0 {
		co.timer = r.after(timeout, func() { r.wake(co, seq, waitEvent, lua.LNil, lua.LString("timeout")) })
	}
	return co.yield(L)
}

// eventName normalises a name given to wait or on: "CUSTOM a::b" -> "a::b";
// plain names are upper-cased.
func eventName(n string) string {
	n = strings.TrimSpace(n)
	if rest, ok := strings.CutPrefix(n, "CUSTOM "); ok {
		return strings.TrimSpace(rest)
	}
	if strings.Contains(n, "::") {
		return n
	}
	return strings.ToUpper(n)
}

func matches(names []string, key string) bool {
	for _, n := range names {
		if n == key {
			return true
		}
	}
	return false
}

func contains(names []string, n string) bool { return matches(names, n) }

func allHangupFamily(names []string) bool {
	for _, n := range names {
		if !hangupFamily(n) {
			return false
		}
	}
	return true
}

// ---- events ----

func checkEvent(L *lua.LState) models.Event {
	if ud, ok := L.Get(1).(*lua.LUserData); ok {
		if ev, ok := ud.Value.(models.Event); ok {
			return ev
		}
	}
	L.ArgError(1, "event expected")
	return nil
}

// eventKey is the dispatch key of ev: its name, or its subclass for CUSTOM.
func eventKey(ev models.Event) string {
	name := ev.Name()
	if name == "CUSTOM" {
		if sub := ev.Subclass(); sub != "" {
			return sub
		}
	}
	return name
}

func (r *Runtime) eventValue(ev models.Event) lua.LValue {
	if ev == nil {
		return lua.LNil
	}
	ud := r.L.NewUserData()
	ud.Value = ev
	ud.Metatable = r.evMT
	return ud
}

// evIndex is the event's __index: name, subclass, uuid, body, get, headers,
// else the header of that name (nil if absent).
func (r *Runtime) evIndex(L *lua.LState) int {
	ev := L.Get(1).(*lua.LUserData).Value.(models.Event)
	key := L.CheckString(2)
	switch key {
	case "name":
		L.Push(lua.LString(strings.Clone(ev.Name())))
		return 1
	case "subclass":
		L.Push(optString(strings.Clone(ev.Subclass())))
		return 1
	case "uuid":
		L.Push(optString(strings.Clone(ev.UUID())))
		return 1
	case "body":
		L.Push(lua.LString(strings.Clone(ev.Body())))
		return 1
	}
	if m := r.evMeth.RawGetString(key); m != lua.LNil {
		L.Push(m)
		return 1
	}
	v, ok := ev.Lookup(key)
	if !ok {
		L.Push(lua.LNil)
		return 1
	}
	L.Push(lua.LString(strings.Clone(v)))
	return 1
}

// ---- calls ----

// callObj is kept in Call.Ext.
type callObj struct {
	*models.Call
	ud   *lua.LUserData
	vars *lua.LUserData // call.vars: a view of Call.Vars (shared with Go: noautohangup)
}

func (r *Runtime) callValue(c *models.Call) lua.LValue {
	if c == nil {
		return lua.LNil
	}
	if co, ok := c.Ext.(*callObj); ok {
		return co.ud
	}
	co := &callObj{Call: c}
	ud := r.L.NewUserData()
	ud.Value = co
	ud.Metatable = r.callMT
	co.ud = ud
	c.Ext = co
	return ud
}

func checkCall(L *lua.LState) *callObj {
	if ud, ok := L.Get(1).(*lua.LUserData); ok {
		if c, ok := ud.Value.(*callObj); ok {
			return c
		}
	}
	L.ArgError(1, "call expected (call methods with ':', e.g. call:hangup())")
	return nil
}

func checkSessAt(L *lua.LState, n int) *sessObj {
	if ud, ok := L.Get(n).(*lua.LUserData); ok {
		if so, ok := ud.Value.(*sessObj); ok {
			return so
		}
	}
	L.ArgError(n, "session expected")
	return nil
}

// callIndex is the call's __index: uuid, first, last, sessions, vars, len,
// then the methods peer(sess) and hangup(cause).
func (r *Runtime) callIndex(L *lua.LState) int {
	c := checkCall(L)
	key := L.CheckString(2)
	switch key {
	case "uuid":
		L.Push(lua.LString(c.UUID))
	case "first":
		L.Push(r.sessValue(c.First()))
	case "last":
		L.Push(r.sessValue(c.Last()))
	case "sessions":
		t := L.CreateTable(len(c.Sessions), 0)
		for _, s := range c.Sessions {
			t.Append(r.sessValue(s))
		}
		L.Push(t)
	case "len":
		L.Push(lua.LNumber(len(c.Sessions)))
	case "vars":
		if c.vars == nil {
			if c.Vars == nil {
				c.Vars = make(map[string]any)
			}
			ud := L.NewUserData()
			ud.Value = c
			ud.Metatable = r.varsMT
			c.vars = ud
		}
		L.Push(c.vars)
	default:
		L.Push(r.callMeth.RawGetString(key))
	}
	return 1
}

// ---- jobs ----

// luaJob is what Lua sees of a models.Job, through luar: job.uuid,
// job.sess_uuid, job.command, job:ready(), job:successful(), job:result(),
// job:cause(), job:launch_time().
type luaJob struct{ *models.Job }

// LaunchTime is the job's launch time in float seconds since the epoch.
func (j luaJob) LaunchTime() float64 { return float64(j.Launch.UnixMicro()) / 1e6 }

func (r *Runtime) jobValue(j *models.Job) lua.LValue {
	if j == nil {
		return lua.LNil
	}
	if v, ok := j.Ext.(lua.LValue); ok {
		return v
	}
	v := r.conv.newValue(r.L, luaJob{j})
	j.Ext = v
	return v
}

// sortedKeys is for deterministic iteration in tests and logs.
func sortedKeys[M ~map[string]V, V any](m M) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var _ = fmt.Sprintf
