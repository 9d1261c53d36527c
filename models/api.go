// Package models holds switchlua's call state: Session (one FreeSWITCH
// channel), Call (the legs that belong together), Job (a bgapi future) and the
// Event interface they are built from. Sessions build switchio's wire
// commands and send them through a Sender; models imports nothing of
// switchlua's own packages (an *esl.Event satisfies Event, an *esl.Conn
// satisfies Sender).
package models

// CONTRACT STUB: this file fixes the public surface that bindings and host
// code against. Bodies are filled in by the models implementation;
// signatures may only grow, not change, without telling the other owners.

import (
	"sync"
	"time"
)

// Event is what models need of a FreeSWITCH event. *esl.Event satisfies it.
type Event interface {
	Name() string     // Event-Name
	Subclass() string // Event-Subclass (CUSTOM)
	UUID() string     // Unique-ID
	Get(name string) string
	Lookup(name string) (string, bool)
	Body() string
	Range(fn func(name, value string) bool)
}

// Done receives the result of a command: the reply text (api/response body or
// Reply-Text), or an error whose text is FreeSWITCH's reply ("-ERR ...") or
// why the command could not be sent.
type Done func(reply string, err error)

// Sender sends one raw ESL command (e.g. "api uuid_answer <uuid>" or a
// multi-line "sendmsg <uuid>\ncall-command: execute\n..." without the
// terminating blank line) and calls done exactly once with its reply.
// SendAsync must never block on the network. *esl.Conn satisfies Sender; the
// host wraps it so done runs on the Listener goroutine.
type Sender interface {
	SendAsync(cmd string, done func(reply string, err error))
}

// Times are the moments of a session's life, from Event-Date-Timestamp.
// Zero means "not yet".
type Times struct {
	Create, Answer, ReqOriginate, Originate, Hangup time.Time
}

// HistoryEntry is one event in a session's bounded history.
type HistoryEntry struct {
	Name string
	Time time.Time
}

// Session is one FreeSWITCH channel: the latest value of every header it has
// seen, a bounded history, times, direction and answered/hungup state, plus
// the command methods. A Session is owned by one goroutine (its Listener); it
// is not safe for concurrent use.
type Session struct {
	UUID  string
	AppID string // the app that handles it (from the app header at create, else "default")
	Node  string // the FreeSWITCH node it lives on
	Call  *Call
	Job   *Job // the bgapi job that originated it, if we did
	Times Times

	Answered bool
	Hungup   bool
	Cause    string // Hangup-Cause once hung up

	// Ext is for the binding layer (e.g. its Lua-side state); models never touches it.
	Ext any

	snd    Sender
	latest Event       // the newest event applied (the only event retained)
	extras extras      // headers seen only in older events, copied out of them
	hist   []histEntry // ring of at most HistoryLimit entries
	head   int         // index of the oldest entry once hist is full
	dir    direction
}

// Call groups the sessions (legs) that share a tracking key.
type Call struct {
	UUID     string // the tracking key
	Sessions []*Session
	Vars     map[string]any // app state for the call (e.g. "noautohangup")
	Ext      any            // for the binding layer

	first, last *Session // kept after Remove, as switchio's first/last
}

// Job is a bgapi job: launched, then completed by its BACKGROUND_JOB.
type Job struct {
	UUID     string // Job-UUID
	SessUUID string // origination_uuid of the session it creates, if any
	Command  string
	Launch   time.Time
	Ext      any // for the binding layer

	mu     sync.Mutex
	done   chan struct{}
	state  jobState
	result string
	cause  string
	err    error
}

// BridgeOptions are the arguments of Session.Bridge (switchio's bridge()).
type BridgeOptions struct {
	DestURL string            // default ${sip_req_uri}
	Profile string            // default ${sofia_profile_name}
	Gateway string            // gateway/<gw> instead of sofia/<profile>
	Proxy   string            // ;fs_path=sip:<proxy>
	Params  map[string]string // {k=v} channel variables
}

// PlaybackOptions are the arguments of Session.Playback.
type PlaybackOptions struct {
	StartSample int               // @@sample
	Endless     bool              // endless_playback
	Leg         string            // unused for sendmsg; kept for broadcast fallbacks
	Params      map[string]string // {k=v}
	Loops       int
	AppUUID     string // Event-UUID: matches Application-UUID of CHANNEL_EXECUTE(_COMPLETE)
}

// RecordOptions are the arguments of Session.StartRecord.
type RecordOptions struct {
	RxOnly     bool
	Stereo     bool
	SampleRate int // default 16000
}

// ExecuteOptions are extra sendmsg headers for Session.ExecuteWith.
type ExecuteOptions struct {
	Loops   int
	AppUUID string // Event-UUID
	Lock    bool   // event-lock
}
