package originator

import (
	"container/heap"
	"errors"
	"time"

	"github.com/switchlua/switchlua/esl"
	"github.com/switchlua/switchlua/host"
	"github.com/switchlua/switchlua/host/cdr"
	"github.com/switchlua/switchlua/models"
)

// onCallEnd runs on a Listener goroutine when a call's last leg is gone.
func (o *Originator) onCallEnd(e host.CallEnd) {
	o.mu.Lock()
	c := o.calls[e.Key]
	if c == nil || c.node.name != e.Node {
		o.mu.Unlock()
		return // not ours
	}
	if e.Answered {
		o.answerLocked(c)
	}
	o.endLocked(c)
	o.mu.Unlock()
	cause := e.Cause
	if cause == "" {
		cause = "UNKNOWN"
	}
	failed := !e.Answered || cause != cdr.NormalClearing
	o.finish(c, failed, cause, Row(e))
}

// answerLocked counts c answered (once). Called with o.mu held.
func (o *Originator) answerLocked(c *call) {
	if c.answered {
		return
	}
	c.answered = true
	o.answered.Add(1)
	if !c.ended {
		o.upAnswered.Add(1)
	}
}

// endLocked removes c from the calls in progress: the caller then
// finishes it. Called with o.mu held, for a call not ended yet.
func (o *Originator) endLocked(c *call) {
	delete(o.calls, c.key)
	c.ended = true
	if c.answered {
		o.upAnswered.Add(-1)
	}
}

// onJob runs on a Listener goroutine when a bgapi job completes: for our
// originates, a success counts the call answered (its hangup deadline was
// set when it was offered); a failure with no channel ends the call.
func (o *Originator) onJob(j *models.Job, s *models.Session) {
	if j.SessUUID == "" {
		return
	}
	o.mu.Lock()
	c := o.calls[j.SessUUID]
	if c != nil && j.Successful() {
		o.answerLocked(c)
		if s != nil {
			c.times = s.Times // kept for a row if the call is lost
		}
	}
	o.mu.Unlock()
	if c == nil {
		return
	}
	l := c.node.l
	if j.Successful() {
		if s == nil || s.Hungup {
			return
		}
		if o.killing.Load() {
			kill(l, s.UUID, cdr.NormalClearing)
		}
		return
	}
	if l.Call(j.SessUUID) != nil {
		// Its channels are up (a far end that refused, a job lost with the
		// connection while the call goes on): the call's end counts it, and
		// its deadline (set at the offer) ends it if nothing else does.
		if o.killing.Load() {
			o.killOne(c)
		}
		return
	}
	o.mu.Lock()
	mine := !c.ended
	if mine {
		o.endLocked(c)
	}
	o.mu.Unlock()
	if !mine {
		return
	}
	cause := j.Cause()
	switch err := j.Err(); {
	case errors.Is(err, esl.ErrNotConnected): // never sent
		cause = host.CauseLostConnection
	case errors.Is(err, esl.ErrConnectionLost) || errors.Is(err, esl.ErrClosed) ||
		cause == host.CauseLostConnection:
		// The originate may have run while we were away: its channels,
		// unknown to the host, would stay up. Kill them blindly once the
		// node is back.
		cause = host.CauseLostConnection
		o.mu.Lock()
		c.node.orphans = append(c.node.orphans, c.key)
		o.mu.Unlock()
	}
	if cause == "" {
		cause = "UNKNOWN"
	}
	o.finish(c, true, cause, JobRow(o.appID(c), cause, j.Launch, c.node.name, c.key))
}

// killOrphans sends uuid_kill for the calls of nd whose originate was lost
// with the connection (see onJob), once the node is connected again; a kill
// that fails for want of a connection is tried again later.
func (o *Originator) killOrphans(nd *node) {
	o.mu.Lock()
	keys := nd.orphans
	nd.orphans = nil
	o.mu.Unlock()
	for _, k := range keys {
		nd.l.API("uuid_kill "+k+" NORMAL_CLEARING", func(_ string, err error) {
			if errors.Is(err, esl.ErrConnectionLost) {
				o.mu.Lock()
				nd.orphans = append(nd.orphans, k)
				o.mu.Unlock()
			}
		})
	}
}

// finish accounts for a call that is over (already removed from o.calls)
// and hands its row on, with the pool-wide figures of the call's offer
// (sessions and calls in progress) whatever way it ended: a failed
// originate or a lost call counts in the plot's lines like any other.
// The row goes out before the call's slot is freed, so whoever watches
// rows and offers never sees more than Limit calls at once.
//
// A call Stop(hangup) hung up before it was answered, that ended with the
// cause of that hangup, is cancelled, not failed: the node did nothing
// wrong, we gave up the call.
func (o *Originator) finish(c *call, failed bool, cause string, r cdr.Row) {
	r.ActiveSessions, r.Erlangs = c.sessions, c.erlangs
	if cause == host.CauseLostConnection {
		c.node.lostCalls.Add(1)
	}
	if failed {
		o.mu.Lock()
		cancelled := c.stopped && !c.answered && stopCause(cause)
		if !cancelled {
			o.causes[cause]++
		}
		o.mu.Unlock()
		if cancelled {
			r.Cancelled = true
			o.cancelled.Add(1)
			r.FailedCalls = o.failed.Load()
		} else {
			r.FailedCalls = o.failed.Add(1)
		}
	} else {
		r.FailedCalls = o.failed.Load()
	}
	if o.cfg.OnCallEnd != nil {
		o.cfg.OnCallEnd(r)
	}
	o.ended.Add(1)
	c.node.active.Add(-1)
	o.active.Add(-1)
	o.poke()
}

// stopCause reports whether cause is what a call not answered yet ends with
// when we hang it up (uuid_kill NORMAL_CLEARING on its outbound leg; the
// far end's leg, or a job whose channel went, may report
// ORIGINATOR_CANCEL).
func stopCause(cause string) bool {
	return cause == cdr.NormalClearing || cause == "ORIGINATOR_CANCEL"
}

// appID is the app id a call's rows carry.
func (o *Originator) appID(c *call) string {
	if c.app == "" {
		return host.DefaultApp
	}
	return c.app
}

// causeDeadline ends a call whose duration ran out before it was answered:
// FreeSWITCH's cause for a call that used up its allotted time
// (sched_hangup's default), so failed_by_cause tells these apart from the
// far end's NO_ANSWER. Every other kill is NORMAL_CLEARING.
const causeDeadline = "ALLOTTED_TIMEOUT"

// kill hangs up a leg with cause (on its Listener's goroutine or any other).
func kill(l *host.Listener, uuid, cause string) {
	l.API("uuid_kill "+uuid+" "+cause, nil)
}

// killCalls hangs up each call of cs on nd, unless (at the deadline) the
// app set call.vars.noautohangup. It runs on nd's Listener goroutine: it
// kills the first leg still up, which for our calls is the outbound leg
// (FreeSWITCH then hangs up the far end), with NORMAL_CLEARING, or at the
// deadline with causeDeadline when it is not answered yet. (Stop uses
// NORMAL_CLEARING for all: a call answering at that moment would otherwise
// count as failed.) At the deadline, a call whose legs the host does not know
// (yet: the originate is still in progress, or its events were lost) is
// killed by its key, the outbound leg's origination_uuid, so that every
// call we offered ends by its deadline (a kill of a channel that does not
// exist does nothing). At Stop such a call is left to complete: it is
// killed when its originate succeeds, or at the next round of kills.
func killCalls(nd *node, cs []*call, atDeadline bool) {
	unanswered := cdr.NormalClearing
	if atDeadline {
		unanswered = causeDeadline
	}
	for _, c := range cs {
		mc := nd.l.Call(c.key)
		if mc == nil {
			if atDeadline {
				kill(nd.l, c.key, unanswered)
			}
			continue
		}
		if atDeadline && noAutoHangup(mc.Vars) {
			continue
		}
		for _, s := range mc.Sessions {
			if !s.Hungup {
				cause := unanswered
				if s.Answered {
					cause = cdr.NormalClearing
				}
				kill(nd.l, s.UUID, cause)
				break
			}
		}
	}
}

// killOne hangs up a call at once (on its Listener goroutine).
func (o *Originator) killOne(c *call) { killCalls(c.node, []*call{c}, false) }

// noAutoHangup reads call.vars.noautohangup as Lua truth (any value but
// nil and false), plus the strings "false" and "0" as false.
func noAutoHangup(vars map[string]any) bool {
	v, ok := vars["noautohangup"]
	if !ok || v == nil {
		return false
	}
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return x != "false" && x != "0" && x != ""
	}
	return true
}

// killAll hangs up every call of ours (Stop with hangup).
func (o *Originator) killAll() {
	by := map[*node][]*call{}
	o.mu.Lock()
	for _, c := range o.calls {
		c.stopped = true
		by[c.node] = append(by[c.node], c)
	}
	o.mu.Unlock()
	for nd, cs := range by {
		nd.l.Post(func() { killCalls(nd, cs, false) })
	}
}

// deadline is when a call is hung up.
type deadline struct {
	at int64 // unix ns
	c  *call
}

// deadlines is a min-heap of hangup deadlines.
type deadlines []deadline

func (h deadlines) Len() int           { return len(h) }
func (h deadlines) Less(i, j int) bool { return h[i].at < h[j].at }
func (h deadlines) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *deadlines) Push(x any)        { *h = append(*h, x.(deadline)) }
func (h *deadlines) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = deadline{}
	*h = old[:len(old)-1]
	return x
}

// addDeadline schedules c's hangup at t.
func (o *Originator) addDeadline(c *call, t time.Time) {
	at := t.UnixNano()
	o.hmu.Lock()
	heap.Push(&o.hq, deadline{at: at, c: c})
	first := o.hq[0].c == c
	o.hmu.Unlock()
	if first {
		o.poke()
	}
}

// nextDeadlineLocked is the time from ns to the next deadline (idleWait if
// none). Called with o.hmu held.
func (o *Originator) nextDeadlineLocked(ns int64) time.Duration {
	if len(o.hq) > 0 {
		return time.Duration(o.hq[0].at - ns)
	}
	return idleWait
}

// sweepDeadlines hangs up the calls whose deadline passed (in one batch per
// node, run on its Listener goroutine where call.vars can be read) and
// returns the time until the next deadline.
func (o *Originator) sweepDeadlines(now time.Time) time.Duration {
	ns := now.UnixNano()
	var due []*call
	o.hmu.Lock()
	for len(o.hq) > 0 && o.hq[0].at <= ns {
		due = append(due, heap.Pop(&o.hq).(deadline).c)
	}
	if len(due) == 0 {
		wait := o.nextDeadlineLocked(ns)
		o.hmu.Unlock()
		return wait
	}
	o.hmu.Unlock()
	// Calls still up get a second look later: a kill sent while the
	// connection was down, or whose events were lost, is sent again.
	live := due[:0]
	o.mu.Lock()
	for _, c := range due {
		if !c.ended {
			live = append(live, c)
		}
	}
	o.mu.Unlock()
	due = live
	o.hmu.Lock()
	for _, c := range due {
		heap.Push(&o.hq, deadline{at: ns + int64(killRetry), c: c})
	}
	wait := o.nextDeadlineLocked(ns)
	o.hmu.Unlock()
	by := map[*node][]*call{}
	for _, c := range due {
		by[c.node] = append(by[c.node], c)
	}
	for nd, cs := range by {
		nd.l.Post(func() { killCalls(nd, cs, true) })
	}
	return wait
}
