package models

import (
	"strconv"
	"strings"
	"time"
	"unique"
)

// HistoryLimit is the number of entries a session's history keeps (the
// oldest are dropped first). Set it before sessions are created; it is read
// without locking.
var HistoryLimit = 32

// AppHeader is the header NewSession reads the app id from
// (the originate's sip_h_X-switchlua_app, as FreeSWITCH shows it on both legs).
// The host may set Session.AppID itself when it uses another header.
const AppHeader = "variable_sip_h_X-switchlua_app"

// DefaultApp is the AppID of a session without an app header.
const DefaultApp = "default"

// Event names that change session state.
const (
	EvCreate         = "CHANNEL_CREATE"
	EvOriginate      = "CHANNEL_ORIGINATE"
	EvAnswer         = "CHANNEL_ANSWER"
	EvHangup         = "CHANNEL_HANGUP"
	EvHangupComplete = "CHANNEL_HANGUP_COMPLETE"
	EvDestroy        = "CHANNEL_DESTROY"
)

type direction int8

const (
	dirUnknown direction = iota
	dirInbound
	dirOutbound
)

type histEntry struct {
	id uint32 // event name, in nameTable
	us int64  // Event-Date-Timestamp, microseconds
}

// now is the clock for Times.ReqOriginate (a local time stamp, as switchio).
var now = time.Now

// intern returns a canonical copy of s that pins no event buffer.
func intern(s string) string {
	if s == "" {
		return ""
	}
	return unique.Make(s).Value()
}

// NewSession makes a session from its first event (CHANNEL_CREATE or
// CHANNEL_ORIGINATE, in either order) and applies that event. The UUID is the
// event's Unique-ID; AppID is the AppHeader value, else DefaultApp.
func NewSession(ev Event, node string, s Sender) *Session {
	sess := &Session{
		UUID:  strings.Clone(ev.UUID()),
		AppID: DefaultApp,
		Node:  intern(node),
		snd:   s,
	}
	if app := ev.Get(AppHeader); app != "" {
		sess.AppID = intern(app)
	}
	sess.Update(ev)
	return sess
}

// Update applies one event to the session: latest header values, history,
// times, answered/hungup/cause. The session keeps ev (the newest event), at
// most one older event whole (the last one with many headers ev lacks, such
// as a channel's variables, which FreeSWITCH sends in some events and not in
// others), and copies the few other headers older events had and ev lacks
// into one compact block (see extras.go), so at most two events stay
// referenced. Applying the same event twice is harmless.
func (s *Session) Update(ev Event) {
	if ev == nil {
		return
	}
	old := s.latest
	if old == ev || (old == nil && len(s.extras.ents) == 0 && s.prev == nil) {
		s.latest = ev
		s.apply(ev, nil)
		return
	}
	ns := setPool.Get().(*nameSet)
	if ie, ok := ev.(idEvent); ok {
		if oe, ok := old.(idEvent); ok && s.carryIDs(ns, ie, oe) {
			s.latest = ev
			ns.release()
			s.apply(ev, nil)
			return
		}
	}
	s.foldPrev(ns)
	ns.fill(ev)
	s.carry(ns, old)
	s.latest = ev
	s.apply(ev, &ns.f)
	ns.release()
}

// evFields are the headers apply reads, picked up while fill walks an event.
type evFields struct {
	ts, dir string
	hasDir  bool
}

// apply updates the state derived from ev; f, if not nil, has its headers
// already.
func (s *Session) apply(ev Event, f *evFields) {
	if f == nil {
		var x evFields
		x.ts = ev.Get("Event-Date-Timestamp")
		x.dir, x.hasDir = ev.Lookup("Call-Direction")
		f = &x
	}
	name := ev.Name()
	us, _ := strconv.ParseInt(f.ts, 10, 64)
	s.record(eventID(name), us)
	ts := time.Time{}
	if us > 0 {
		ts = time.UnixMicro(us)
	}
	if f.hasDir {
		switch f.dir {
		case "inbound":
			s.dir = dirInbound
		case "outbound":
			s.dir = dirOutbound
		}
	}
	switch name {
	case EvCreate:
		setOnce(&s.Times.Create, ts)
	case EvOriginate:
		setOnce(&s.Times.Create, ts)
		setOnce(&s.Times.Originate, ts)
		setOnce(&s.Times.ReqOriginate, now())
	case EvAnswer:
		s.Answered = true
		setOnce(&s.Times.Answer, ts)
	case EvHangup, EvHangupComplete, EvDestroy:
		s.Hungup = true
		setOnce(&s.Times.Hangup, ts)
		if s.Cause == "" {
			s.Cause = intern(ev.Get("Hangup-Cause"))
		}
	}
}

func setOnce(t *time.Time, v time.Time) {
	if t.IsZero() {
		*t = v
	}
}

// record appends a history entry, dropping the oldest past HistoryLimit.
func (s *Session) record(id uint32, us int64) {
	limit := HistoryLimit
	if limit <= 0 {
		return
	}
	if len(s.hist) < limit {
		if s.hist == nil {
			s.hist = make([]histEntry, 0, min(limit, 16))
		}
		s.hist = append(s.hist, histEntry{id, us})
		return
	}
	s.hist[s.head] = histEntry{id, us}
	s.head = (s.head + 1) % len(s.hist)
}

// Get returns the latest value of a header seen on this session ("" if none).
func (s *Session) Get(name string) string {
	v, _ := s.Lookup(name)
	return v
}

// Lookup is Get that also says whether the header was seen. The newest event
// that carried the header wins, even when its value is empty.
func (s *Session) Lookup(name string) (string, bool) {
	if s.latest != nil {
		if v, ok := s.latest.Lookup(name); ok {
			return v, true
		}
	}
	if v, ok := s.extras.lookup(name); ok {
		return v, true
	}
	if s.prev != nil {
		return s.prev.Lookup(name)
	}
	return "", false
}

// Latest is the newest event applied.
func (s *Session) Latest() Event { return s.latest }

// History returns the bounded history, oldest first (a fresh slice).
func (s *Session) History() []HistoryEntry {
	out := make([]HistoryEntry, 0, len(s.hist))
	for i := range s.hist {
		e := s.hist[(s.head+i)%len(s.hist)]
		var t time.Time
		if e.us > 0 {
			t = time.UnixMicro(e.us)
		}
		out = append(out, HistoryEntry{Name: nameOf(e.id), Time: t})
	}
	return out
}

// Time is the Event-Date-Timestamp of the newest event applied (switchio's
// sess.time); zero if it had none.
func (s *Session) Time() time.Time {
	if len(s.hist) == 0 {
		return time.Time{}
	}
	e := s.hist[(s.head+len(s.hist)-1)%len(s.hist)]
	if e.us <= 0 {
		return time.Time{}
	}
	return time.UnixMicro(e.us)
}

// IsInbound reports Call-Direction == inbound.
func (s *Session) IsInbound() bool { return s.dir == dirInbound }

// IsOutbound reports Call-Direction == outbound.
func (s *Session) IsOutbound() bool { return s.dir == dirOutbound }

// Uptime is now minus Times.Create (zero before the create time is known).
func (s *Session) Uptime(now time.Time) time.Duration {
	if s.Times.Create.IsZero() {
		return 0
	}
	return now.Sub(s.Times.Create)
}

// SetSender replaces the Sender (e.g. after a reconnect).
func (s *Session) SetSender(snd Sender) { s.snd = snd }

// Sender returns the session's Sender.
func (s *Session) Sender() Sender { return s.snd }
