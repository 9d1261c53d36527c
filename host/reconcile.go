package host

import (
	"strconv"
	"strings"
	"time"

	"github.com/switchlua/switchlua/esl"
	"github.com/switchlua/switchlua/models"
)

// causeError is an error whose text is a hangup/job cause, wrapping why.
type causeError struct {
	cause string
	err   error
}

func (e *causeError) Error() string { return e.cause }
func (e *causeError) Unwrap() error { return e.err }

// onState handles a connection state change (Listener goroutine, in wire
// order with the events).
func (l *Listener) onState(sc esl.StateChange) {
	switch sc.State {
	case esl.StateDisconnected:
		l.setConnected(false)
		l.log.Warn("connection to FreeSWITCH lost", "err", sc.Err, "sessions", len(l.sessions), "jobs", len(l.jobs))
		// A job's BACKGROUND_JOB may never come now: fail them (as esl
		// fails its own), so no caller waits forever.
		for _, j := range l.jobs {
			l.failJob(j, &causeError{CauseLostConnection, esl.ErrConnectionLost})
		}
		for id := range l.bgCalls {
			l.finishBackground(id, "", &causeError{CauseLostConnection, esl.ErrConnectionLost})
		}
	case esl.StateConnected:
		l.setConnected(true)
		if sc.Reconnected {
			l.count(func(st *Stats) { st.Reconnects++ })
			l.log.Info("reconnected to FreeSWITCH; reconciling sessions", "sessions", len(l.sessions))
			l.reconcile()
			// esl has re-subscribed what it remembers: the names whose
			// subscribe succeeded. An update that failed while we were
			// away is not among them: diff again.
			l.resubscribe()
		}
	case esl.StateClosed:
		l.setConnected(false)
	}
}

// reconcile asks FreeSWITCH for its channels and closes the sessions we knew
// before the reconnect that it no longer has. Sessions created after the
// reconnect are left alone (they may not be in the answer yet).
func (l *Listener) reconcile() {
	l.gen++
	gen := l.gen
	l.send("api show channels", func(reply string, err error) {
		if err != nil {
			l.log.Warn("reconcile: show channels failed", "err", err)
			return
		}
		alive := parseShowChannels(reply)
		var gone []*entry
		for _, e := range l.sessions {
			if e.gen < gen && !alive[e.s.UUID] {
				gone = append(gone, e)
			}
		}
		for _, e := range gone {
			if !e.gone {
				l.vanish(e)
			}
		}
		l.log.Info("reconciled sessions after reconnect", "alive", len(alive), "vanished", len(gone), "sessions", len(l.sessions))
	})
}

// parseShowChannels returns the uuids listed by `show channels` (CSV with a
// header line, then "N total.").
func parseShowChannels(reply string) map[string]bool {
	alive := make(map[string]bool)
	for line := range strings.Lines(reply) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "uuid,") || strings.HasSuffix(line, " total.") {
			continue
		}
		id, _, _ := strings.Cut(line, ",")
		if id != "" {
			alive[id] = true
		}
	}
	return alive
}

// vanish closes a session FreeSWITCH no longer has: the apps see a
// CHANNEL_HANGUP (waiters get "hangup") and a CHANNEL_DESTROY with
// CauseVanished, and the session is counted and forgotten like any other.
func (l *Listener) vanish(e *entry) {
	s := e.s
	l.log.Warn("session vanished while disconnected; closing it", "uuid", s.UUID, "app", s.AppID, "cause", CauseVanished)
	now := time.Now()
	if !s.Hungup {
		l.onEvent(synthEvent("CHANNEL_HANGUP", s.UUID, CauseVanished, now))
	}
	if !e.gone {
		l.onEvent(synthEvent("CHANNEL_DESTROY", s.UUID, CauseVanished, now))
	}
	l.count(func(st *Stats) { st.Vanished++ })
}

// event is a small models.Event the Listener makes itself.
type event struct {
	hdrs []string // name, value, name, value, ...
}

func synthEvent(name, uuid, cause string, t time.Time) *event {
	return &event{hdrs: []string{
		"Event-Name", name,
		"Unique-ID", uuid,
		"Hangup-Cause", cause,
		"Event-Date-Timestamp", strconv.FormatInt(t.UnixMicro(), 10),
		"Event-Calling-Function", "switchlua_reconcile",
	}}
}

var _ models.Event = (*event)(nil)

func (e *event) Name() string     { return e.Get("Event-Name") }
func (e *event) Subclass() string { return e.Get("Event-Subclass") }
func (e *event) UUID() string     { return e.Get("Unique-ID") }
func (e *event) Body() string     { return "" }
func (e *event) Get(name string) string {
	v, _ := e.Lookup(name)
	return v
}
func (e *event) Lookup(name string) (string, bool) {
	for i := 0; i+1 < len(e.hdrs); i += 2 {
		if e.hdrs[i] == name {
			return e.hdrs[i+1], true
		}
	}
	return "", false
}
func (e *event) Range(fn func(name, value string) bool) {
	for i := 0; i+1 < len(e.hdrs); i += 2 {
		if !fn(e.hdrs[i], e.hdrs[i+1]) {
			return
		}
	}
}
