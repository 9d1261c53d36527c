package bindings

import (
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/switchlua/switchlua/models"
)

// dispatch implements Runtime.Dispatch.
func (r *Runtime) dispatch(s *models.Session, ev models.Event) {
	if r.closed || ev == nil {
		return
	}
	key := eventKey(ev)
	lz := lazyEvent{r: r, ev: ev}

	var so *sessObj
	if s != nil {
		so, _ = s.Ext.(*sessObj)
	}
	if so != nil {
		// Coroutines with a command in flight on this session remember
		// its events for a sess:wait that follows the reply.
		for _, co := range so.cmds {
			if len(co.recent) < maxRecent {
				co.recent = append(co.recent, recentEvent{key: key, ev: ev})
			}
		}
		// Waiters first, in the order they started waiting. A waiter
		// that waits again is not matched by this same event.
		if len(so.waiters) > 0 {
			r.wakeWaiters(so, key, &lz)
		}
	}

	if s == nil {
		// No tracked session: the on() handlers of every app.
		for _, id := range r.order {
			a := r.apps[id]
			r.runHandlers(a, nil, key, "", nil, &lz)
		}
		return
	}
	a := r.apps[s.AppID]
	if a == nil {
		return
	}
	cb := ""
	if ev.Name() != "CUSTOM" {
		cb = eventCallbacks[key]
	}
	var extra lua.LValue
	if cb == "on_dtmf" {
		extra = lua.LString(strings.Clone(ev.Get("DTMF-Digit")))
	}
	r.runHandlers(a, s, key, cb, extra, &lz)
}

// lazyEvent makes the Lua value of an event on first use.
type lazyEvent struct {
	r  *Runtime
	ev models.Event
	v  lua.LValue
}

func (l *lazyEvent) value() lua.LValue {
	if l.v == nil {
		l.v = l.r.eventValue(l.ev)
	}
	return l.v
}

// maxRecent bounds the events a coroutine remembers during one command.
const maxRecent = 16

// wakeWaiters resumes the waiters of so that this event satisfies, and
// those a hangup cuts short.
func (r *Runtime) wakeWaiters(so *sessObj, key string, lz *lazyEvent) {
	hungup := so.s.Hungup
	var wake []*coro
	for _, co := range so.waiters {
		if matches(co.waitNames, key) || hungup && !allHangupFamily(co.waitNames) {
			wake = append(wake, co)
		}
	}
	for _, co := range wake {
		if matches(co.waitNames, key) {
			r.wake(co, co.seq, waitEvent, lz.value())
		} else {
			r.wake(co, co.seq, waitEvent, lua.LNil, lua.LString("hangup"))
		}
	}
}

// runHandlers starts, in load order, each script's on_* callback for the
// event and its on(key) handlers (for CUSTOM events also on("CUSTOM")).
func (r *Runtime) runHandlers(a *app, s *models.Session, key, cb string, extra lua.LValue, lz *lazyEvent) {
	var sv lua.LValue = lua.LNil
	var so *sessObj
	for _, sc := range a.scripts {
		if cb != "" {
			if fn, ok := sc.env.RawGetString(cb).(*lua.LFunction); ok {
				if so == nil && s != nil {
					so = r.sessObj(s)
					sv = so.ud
				}
				if extra != nil {
					r.start(a, so, cb, fn, sv, extra, lz.value())
				} else {
					r.start(a, so, cb, fn, sv, lz.value(), lua.LNil)
				}
			}
		}
		if sc.on == nil {
			continue
		}
		for _, fn := range sc.on[key] {
			if so == nil && s != nil {
				so = r.sessObj(s)
				sv = so.ud
			}
			r.start(a, so, "on("+key+")", fn, sv, lz.value(), lua.LNil)
		}
		if isSubclass(key) {
			for _, fn := range sc.on["CUSTOM"] {
				if so == nil && s != nil {
					so = r.sessObj(s)
					sv = so.ud
				}
				r.start(a, so, "on(CUSTOM)", fn, sv, lz.value(), lua.LNil)
			}
		}
	}
}

// dispatchJob implements Runtime.DispatchJob.
func (r *Runtime) dispatchJob(s *models.Session, j *models.Job) {
	if s != nil {
		r.dispatchJobTo(s.AppID, s, j)
		return
	}
	if r.closed || j == nil {
		return
	}
	for _, id := range r.order {
		if a := r.apps[id]; a != nil {
			r.runJob(a, nil, j)
		}
	}
}

// dispatchJobTo implements Runtime.DispatchJobTo.
func (r *Runtime) dispatchJobTo(id string, s *models.Session, j *models.Job) {
	if r.closed || j == nil {
		return
	}
	if a := r.apps[id]; a != nil {
		r.runJob(a, s, j)
	}
}

// runJob starts on_job(sess, job) of each script of a that defines it, in
// load order; sess is nil when s is.
func (r *Runtime) runJob(a *app, s *models.Session, j *models.Job) {
	var jv lua.LValue
	for _, sc := range a.scripts {
		fn, ok := sc.env.RawGetString("on_job").(*lua.LFunction)
		if !ok {
			continue
		}
		if jv == nil {
			jv = r.jobValue(j)
		}
		var so *sessObj
		var sv lua.LValue = lua.LNil
		if s != nil {
			so = r.sessObj(s)
			sv = so.ud
		}
		r.start(a, so, "on_job", fn, sv, jv, lua.LNil)
	}
}

// sessionGone implements Runtime.SessionGone. The session object keeps s
// (and s.Ext keeps the object, so sess.call.first still gives the same
// one): Lua reads the final state of a gone session. What the Runtime
// itself holds for s (waiters, commands in flight, events remembered for a
// wait) is dropped, so s lives on only while Lua code holds its object.
func (r *Runtime) sessionGone(s *models.Session) {
	so, ok := s.Ext.(*sessObj)
	if !ok {
		s.Ext = goneExt // an object made later (sess.call.first) is gone too
		return
	}
	so.gone = true
	for _, co := range so.cmds {
		if co.cmdSess == so {
			co.resetRecent()
		}
	}
	so.cmds = nil
	waiters := so.waiters
	so.waiters = nil
	for _, co := range waiters {
		co.waitSess = nil // already removed
		r.wake(co, co.seq, waitEvent, lua.LNil, lua.LString("hangup"))
	}
}

// handles implements Runtime.Handles.
func (r *Runtime) handles(id, event string) bool {
	a := r.apps[id]
	if a == nil {
		return false
	}
	key := eventName(event)
	cb := ""
	if !strings.Contains(key, "::") {
		cb = eventCallbacks[key]
	}
	for _, sc := range a.scripts {
		if cb != "" {
			if _, ok := sc.env.RawGetString(cb).(*lua.LFunction); ok {
				return true
			}
		}
		if len(sc.on[key]) > 0 || isSubclass(key) && len(sc.on["CUSTOM"]) > 0 {
			return true
		}
	}
	return false
}
