package host

import (
	"errors"
	"strings"
	"time"
	"unique"

	"github.com/switchlua/switchlua/models"
)

// intern returns a canonical copy of s that pins no event buffer (for the
// few distinct values: app ids, causes).
func intern(s string) string {
	if s == "" {
		return ""
	}
	return unique.Make(s).Value()
}

// onEvent applies one event to the tracking and hands it to the runtime,
// then to Config.OnEvent and the waiters of its session. Runs on the
// Listener goroutine.
func (l *Listener) onEvent(ev models.Event) {
	l.nEvents++
	e, s := l.track(ev)
	if l.cfg.OnEvent != nil {
		l.cfg.OnEvent(ev, s)
	}
	if e != nil && len(l.waiters) > 0 && !e.gone {
		l.checkWaitersOf(e)
	}
}

// track applies one event to the tracking and hands it to the runtime. It
// returns the entry of the event's session and the session (the entry lets
// go of it when the session is destroyed); nils if it has none.
func (l *Listener) track(ev models.Event) (*entry, *models.Session) {
	name := ev.Name()
	switch name {
	case models.EvCreate, models.EvOriginate:
		if e := l.onCreate(ev); e != nil {
			return e, e.s
		}
		return nil, nil
	case "BACKGROUND_JOB":
		l.onJobEvent(ev)
		return nil, nil
	}
	uuid := ev.UUID()
	if uuid == "" {
		l.rt.Dispatch(nil, ev) // HEARTBEAT, custom events, ...
		return nil, nil
	}
	e := l.sessions[uuid]
	if e == nil {
		l.nUntracked++
		return nil, nil
	}
	s := e.s
	wasAnswered := s.Answered
	s.Update(ev)
	switch name {
	case models.EvAnswer:
		e.taken = true
		if !wasAnswered {
			l.count(func(st *Stats) { st.Answered++ })
		}
	case "CHANNEL_BRIDGE":
		e.taken = true
	}
	l.rt.Dispatch(s, ev)
	switch name {
	case "CHANNEL_PARK":
		// Armed after the apps had their on_park: most take it at once.
		// Only for our sessions (see Config.ParkTimeout): never someone
		// else's call on a shared FreeSWITCH.
		if l.cfg.ParkTimeout > 0 && !e.taken && !e.gone && e.parkAt == 0 && s.IsInbound() && l.ours(e) {
			e.parkAt = time.Now().Add(l.cfg.ParkTimeout).UnixNano()
			l.parkQ.push(parked{e: e, at: e.parkAt})
		}
	case models.EvDestroy:
		l.destroy(e)
	}
	return e, s
}

// onCreate handles CHANNEL_CREATE and CHANNEL_ORIGINATE: FreeSWITCH sends
// them in either order, so the first makes the session and the second
// updates it. It returns the session's entry (nil without a uuid).
func (l *Listener) onCreate(ev models.Event) *entry {
	uuid := ev.UUID()
	if uuid == "" {
		return nil
	}
	if e := l.sessions[uuid]; e != nil {
		e.s.Update(ev)
		l.rt.Dispatch(e.s, ev)
		return e
	}
	e := &entry{l: l, gen: l.gen}
	s := models.NewSession(ev, l.node, e)
	e.s = s
	if app := ev.Get(l.cfg.AppHeader); app != "" {
		s.AppID = intern(app)
	} else {
		s.AppID = intern(l.cfg.DefaultApp)
	}
	if o := l.origs[s.UUID]; o != nil {
		s.Job = o.j
		o.created = true
	}
	key := ""
	for _, h := range l.cfg.TrackingHeaders {
		if v := ev.Get(h); v != "" {
			key = v
			break
		}
	}
	if key == "" {
		key = s.UUID // untracked: a call of its own
	} else if key == uuid {
		key = s.UUID // already a clone
	} else {
		key = strings.Clone(key)
	}
	ce := l.calls[key]
	newCall := ce == nil
	if newCall {
		ce = &callEntry{c: models.NewCall(key)}
		l.calls[key] = ce
	}
	// A call is ours when one of its legs is: the leg we originated (its
	// Job), or any leg of it whichever FreeSWITCH announces first (the key
	// of our calls is the origination uuid; with other tracking headers,
	// our header itself names it).
	if !ce.ours {
		ce.ours = s.Job != nil || l.origs[key] != nil || l.origs[ev.Get(OriginatingSessionHeader)] != nil
	}
	if s.Job != nil && ce.jobLaunch.IsZero() {
		ce.jobLaunch = s.Job.Launch
	}
	ce.c.Append(s)
	ce.live++
	ce.legs++
	e.call = ce
	l.sessions[s.UUID] = e
	l.count(func(st *Stats) {
		st.Sessions++
		st.TotalSessions++
		if l.rt.HasApp(s.AppID) {
			st.SessionsPerApp[s.AppID]++
		} else {
			st.SessionsPerApp[UnloadedApp]++
		}
		if newCall {
			st.Calls++
			st.TotalCalls++
			ce.sessAt = st.Sessions
		}
	})
	l.rt.Dispatch(s, ev)
	return e
}

// ours reports whether the park timeout may hang up e's session: it is part
// of a call we originated, or its app is loaded here and handles the park
// (Config.ParkTimeout).
func (l *Listener) ours(e *entry) bool {
	return (e.call != nil && e.call.ours) || l.rt.Handles(e.s.AppID, "CHANNEL_PARK")
}

// destroy forgets a session after its CHANNEL_DESTROY; the call goes when
// its last leg has gone.
func (l *Listener) destroy(e *entry) {
	s := e.s
	e.gone = true
	delete(l.sessions, s.UUID)
	if s.Job != nil && l.jobs[s.Job.UUID] == nil {
		delete(l.origs, s.UUID) // the job is done too
	}
	ce := e.call
	ce.c.Remove(s)
	ce.live--
	cause := s.Cause
	if cause == "" {
		cause = "UNKNOWN"
	}
	failed := !s.Answered || cause != "NORMAL_CLEARING"
	callEnded := ce.live <= 0
	if callEnded {
		delete(l.calls, ce.c.UUID)
	}
	var end CallEnd
	l.count(func(st *Stats) {
		st.Sessions--
		st.HangupCauses[cause]++
		if failed {
			st.FailedSessions[cause]++
		}
		if callEnded {
			st.Calls--
			first := ce.c.First()
			if first != nil && (!first.Answered || first.Cause != "NORMAL_CLEARING") {
				st.FailedCalls++
			}
			end = CallEnd{ActiveSessions: st.Sessions, ActiveCalls: st.Calls, FailedCalls: st.FailedCalls}
		}
	})
	l.rt.SessionGone(s)
	if len(l.waiters) > 0 {
		l.checkWaitersOf(e)
	}
	// The entry may stay in the park queue until its deadline: it must not
	// keep the session or the call alive.
	e.s, e.call = nil, nil
	if callEnded && l.cfg.OnCallEnd != nil {
		first, last := ce.c.First(), ce.c.Last()
		end.Node, end.Key, end.Legs, end.JobLaunch, end.SessionsAtCreate = l.node, ce.c.UUID, ce.legs, ce.jobLaunch, ce.sessAt
		if first != nil {
			end.App, end.Cause, end.CallerUUID, end.Caller, end.Answered = first.AppID, first.Cause, first.UUID, first.Times, first.Answered
		}
		if last != nil {
			end.CalleeUUID, end.Callee = last.UUID, last.Times
		}
		l.cfg.OnCallEnd(end)
	}
}

// onJobEvent completes a job the Listener launched. A BACKGROUND_JOB of
// someone else's job goes to the apps as a plain event.
func (l *Listener) onJobEvent(ev models.Event) {
	id := ev.Get("Job-UUID")
	if done := l.bgCalls[id]; done != nil {
		// A BackgroundAPI call (switchlua.api): its result, not an event
		// for the apps.
		body := strings.Clone(strings.TrimRight(ev.Body(), "\r\n"))
		var err error
		if strings.HasPrefix(body, "-ERR") || strings.HasPrefix(body, "-USAGE") {
			err, body = errors.New(body), ""
		}
		l.finishBackground(id, body, err)
		return
	}
	j := l.jobs[id]
	if j == nil {
		l.rt.Dispatch(nil, ev)
	} else {
		j.Complete(ev)
		l.finishJob(j)
	}
}

// failJob fails a pending job (a refused bgapi, a lost connection).
func (l *Listener) failJob(j *models.Job, err error) {
	if l.jobs[j.UUID] != j {
		return
	}
	j.Fail(err)
	l.finishJob(j)
}

// finishJob forgets a completed job, counts it and tells the hooks and apps.
// A failed originate creates no channel: the job is the only trace of it,
// and it is counted as a failed call with the job's cause.
func (l *Listener) finishJob(j *models.Job) {
	delete(l.jobs, j.UUID)
	var s *models.Session
	app := ""
	channelless := false // a failed originate that never made a channel
	if j.SessUUID != "" {
		o := l.origs[j.SessUUID]
		channelless = o == nil || !o.created
		if o != nil {
			app = o.app
		}
		if e := l.sessions[j.SessUUID]; e != nil {
			s = e.s
		} else {
			delete(l.origs, j.SessUUID) // the session is done too
		}
	}
	ok := j.Successful()
	cause := intern(j.Cause())
	l.count(func(st *Stats) {
		st.Jobs--
		if ok {
			st.JobsOK++
			return
		}
		st.JobsFailed++
		if j.SessUUID != "" {
			st.OriginateFailures[cause]++
			if channelless {
				st.FailedCalls++
			}
		}
	})
	if l.cfg.OnJob != nil {
		l.cfg.OnJob(j, s)
	}
	switch {
	case s != nil:
		l.rt.DispatchJob(s, j)
	case app != "":
		// No session (the originate failed before its channel existed, or
		// the channel is gone already): the job is the app's only news of
		// the call.
		l.dispatchJobTo(app, j)
	}
}

// dispatchJobTo runs on_job(nil, j) of app only: never another app's, so
// with weighted apps each sees the failures of its own calls.
func (l *Listener) dispatchJobTo(app string, j *models.Job) {
	l.rt.DispatchJobTo(app, nil, j)
}

// parked is a pending park deadline.
type parked struct {
	e  *entry
	at int64
}

// parkQueue is a FIFO of park deadlines. The park timeout is the same for
// every session, so deadlines are pushed in order and expire from the head.
type parkQueue struct {
	q    []parked
	head int
}

func (p *parkQueue) push(x parked) { p.q = append(p.q, x) }

func (p *parkQueue) len() int { return len(p.q) - p.head }

// expireParked hangs up the inbound sessions still parked and untaken whose
// deadline passed.
func (l *Listener) expireParked(now time.Time) {
	p := &l.parkQ
	n := now.UnixNano()
	for p.head < len(p.q) && p.q[p.head].at <= n {
		x := p.q[p.head]
		p.q[p.head] = parked{}
		p.head++
		e := x.e
		if e.parkAt != x.at {
			continue
		}
		e.parkAt = 0
		if e.gone || e.taken || e.s == nil || e.s.Hungup {
			continue
		}
		s := e.s
		l.log.Warn("park timeout: no app took the parked inbound session; hanging it up",
			"uuid", s.UUID, "app", s.AppID, "app_loaded", l.rt.HasApp(s.AppID),
			"timeout", l.cfg.ParkTimeout, "cause", CauseParkTimeout)
		l.count(func(st *Stats) { st.ParkTimeouts++ })
		uuid := s.UUID
		s.Hangup(CauseParkTimeout, func(_ string, err error) {
			if err != nil {
				l.log.Warn("park timeout: hangup failed", "uuid", uuid, "err", err)
			}
		})
	}
	if p.head == len(p.q) {
		p.q, p.head = p.q[:0], 0
	} else if p.head > 1024 && p.head*2 > len(p.q) {
		m := copy(p.q, p.q[p.head:])
		clear(p.q[m:])
		p.q, p.head = p.q[:m], 0
	}
}
