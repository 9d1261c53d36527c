package host

import "maps"

// Stats are a Listener's counters (switchio's EventListener counts). Active
// figures (Sessions, Calls, Jobs, Waiting) go back to 0 when the node is idle.
type Stats struct {
	Node      string
	Connected bool

	Sessions      int    // sessions tracked now
	Calls         int    // calls tracked now
	Jobs          int    // bgapi jobs launched by the Listener and not completed
	TotalSessions uint64 // sessions seen
	TotalCalls    uint64 // calls seen
	Answered      uint64 // sessions answered

	// HangupCauses counts every destroyed session by its hangup cause;
	// FailedSessions those that were not answered or did not end with
	// NORMAL_CLEARING (switchio's failed_sessions).
	HangupCauses   map[string]uint64
	FailedSessions map[string]uint64
	// FailedCalls counts calls whose first leg failed, plus originates that
	// failed before any channel existed.
	FailedCalls uint64
	// SessionsPerApp counts sessions by the app chosen at create. Sessions
	// whose app id was not loaded then count under UnloadedApp: the id comes
	// from a SIP header anyone can set, so the map stays as small as the set
	// of loaded apps.
	SessionsPerApp map[string]uint64

	JobsLaunched uint64
	JobsOK       uint64
	JobsFailed   uint64
	// OriginateFailures counts failed originate jobs by cause (the
	// BACKGROUND_JOB's "-ERR CAUSE", or the error when it could not be sent).
	OriginateFailures map[string]uint64

	ParkTimeouts uint64 // parked inbound sessions hung up by the park timeout
	Vanished     uint64 // sessions closed by reconciliation after a reconnect
	Reconnects   uint64

	Events    uint64 // events handled
	Untracked uint64 // events for channels the Listener does not track

	// From the Lua runtime.
	Callbacks    uint64
	ScriptErrors uint64
	Waiting      int // coroutines suspended

	Queued int // items waiting in the inbox now (the backlog)
}

func newStats(node string) Stats {
	return Stats{
		Node:              node,
		HangupCauses:      map[string]uint64{},
		FailedSessions:    map[string]uint64{},
		SessionsPerApp:    map[string]uint64{},
		OriginateFailures: map[string]uint64{},
	}
}

func (s Stats) clone() Stats {
	s.HangupCauses = maps.Clone(s.HangupCauses)
	s.FailedSessions = maps.Clone(s.FailedSessions)
	s.SessionsPerApp = maps.Clone(s.SessionsPerApp)
	s.OriginateFailures = maps.Clone(s.OriginateFailures)
	return s
}

// add adds o's counters to s (Pool totals).
func (s *Stats) add(o Stats) {
	s.Connected = s.Connected && o.Connected
	s.Sessions += o.Sessions
	s.Calls += o.Calls
	s.Jobs += o.Jobs
	s.TotalSessions += o.TotalSessions
	s.TotalCalls += o.TotalCalls
	s.Answered += o.Answered
	s.FailedCalls += o.FailedCalls
	s.JobsLaunched += o.JobsLaunched
	s.JobsOK += o.JobsOK
	s.JobsFailed += o.JobsFailed
	s.ParkTimeouts += o.ParkTimeouts
	s.Vanished += o.Vanished
	s.Reconnects += o.Reconnects
	s.Events += o.Events
	s.Untracked += o.Untracked
	s.Callbacks += o.Callbacks
	s.ScriptErrors += o.ScriptErrors
	s.Waiting += o.Waiting
	s.Queued += o.Queued
	for _, p := range []struct{ dst, src map[string]uint64 }{
		{s.HangupCauses, o.HangupCauses}, {s.FailedSessions, o.FailedSessions},
		{s.SessionsPerApp, o.SessionsPerApp}, {s.OriginateFailures, o.OriginateFailures},
	} {
		for k, v := range p.src {
			p.dst[k] += v
		}
	}
}

// Stats returns a snapshot of the counters. Safe from any goroutine.
func (l *Listener) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.st.clone()
	st.Queued = l.in.len()
	return st
}

// Active returns the sessions and calls the Listener tracks now (Stats'
// Sessions and Calls) without copying anything: two atomic loads, cheap
// enough for every CDR row or status line. Safe from any goroutine; the two
// figures are each exact but may be a moment apart from each other.
func (l *Listener) Active() (sessions, calls int) {
	return int(l.nSessions.Load()), int(l.nCalls.Load())
}

// Connected reports whether the connection to the node is up now (Stats'
// Connected), with one atomic load. Safe from any goroutine.
func (l *Listener) Connected() bool { return l.connected.Load() }

// count updates the counters under the stats lock (Listener goroutine).
func (l *Listener) count(fn func(*Stats)) {
	l.mu.Lock()
	fn(&l.st)
	l.nSessions.Store(int64(l.st.Sessions))
	l.nCalls.Store(int64(l.st.Calls))
	l.mu.Unlock()
}

func (l *Listener) setConnected(up bool) {
	l.mu.Lock()
	l.st.Connected = up
	l.connected.Store(up)
	l.mu.Unlock()
}
