// Package models holds switchlua's call state: Session (one FreeSWITCH
// channel), Call (the legs that belong together), Job (a bgapi future) and the
// Event interface they are built from. Sessions build switchio's wire
// commands and send them through a Sender; models imports nothing of
// switchlua's own packages (an *esl.Event satisfies Event, an *esl.Conn
// satisfies Sender).
//
// Memory: a Session keeps its newest event and, in one compact block, the
// values of headers that only older events had (names as ids of a
// process-wide table); it never keeps a substring of an older event. The
// wire builders (ExecuteCmd, BridgeArg,
// PlaybackArg, VarSet, SetVarsArg, Secs) are pure functions. Package
// modelstest has a fake Sender and a compact test Event.
package models

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

// Times are the moments of a session's life, from Event-Date-Timestamp
// (microseconds): Create from the first CHANNEL_CREATE or CHANNEL_ORIGINATE,
// Originate from CHANNEL_ORIGINATE, Answer from CHANNEL_ANSWER, Hangup from
// CHANNEL_HANGUP (or HANGUP_COMPLETE/DESTROY if that came first), each set
// once. ReqOriginate is the local clock when CHANNEL_ORIGINATE was applied
// (switchio's req_originate). Zero means "not yet".
type Times struct {
	Create, Answer, ReqOriginate, Originate, Hangup time.Time
}

// HistoryEntry is one event in a session's bounded history (see
// HistoryLimit): its Event-Name and Event-Date-Timestamp.
type HistoryEntry struct {
	Name string
	Time time.Time
}

// Session is one FreeSWITCH channel: the latest value of every header it has
// seen, a bounded history, times, direction and answered/hungup state, plus
// the command methods. A Session is owned by one goroutine (its Listener); it
// is not safe for concurrent use.
//
// Each command method builds switchio's wire command and hands it to the
// Sender; done (which may be nil) is called exactly once with the reply or an
// error, possibly before the method returns (no Sender, an argument with a
// newline, an empty SetVars). Methods that send several commands
// (StartRecord, PlaybackFiles with several files) pipeline them and call done
// once, after the last reply, with the first error if any.
type Session struct {
	UUID  string
	AppID string // the app that handles it (from the app header at create, else "default")
	Node  string // the FreeSWITCH node it lives on
	Call  *Call
	Job   *Job // the bgapi job that originated it, if we did
	Times Times

	Answered bool   // a CHANNEL_ANSWER was applied
	Hungup   bool   // a CHANNEL_HANGUP, HANGUP_COMPLETE or DESTROY was applied
	Cause    string // Hangup-Cause once hung up

	// Ext is for the binding layer (e.g. its Lua-side state); models never touches it.
	Ext any

	snd    Sender
	latest Event       // the newest event applied
	prev   Event       // an older event kept whole while it has headers latest lacks (see carryIDs)
	extras extras      // other headers seen only in older events, copied out of them
	hist   []histEntry // ring of at most HistoryLimit entries
	head   int         // index of the oldest entry once hist is full
	dir    direction
}

// Call groups the sessions (legs) that share a tracking key. Like a Session
// it is owned by one goroutine.
type Call struct {
	UUID     string // the tracking key
	Sessions []*Session
	Vars     map[string]any // app state for the call (e.g. "noautohangup")
	Ext      any            // for the binding layer

	first, last *Session // kept after Remove, as switchio's first/last
}

// Job is a bgapi job: launched, then completed by its BACKGROUND_JOB (or
// failed). Its methods are safe for concurrent use; the exported fields are
// set at NewJob and not changed after.
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
	Leg         string            // unused: sendmsg plays on the session itself (use Broadcast for bleg/both)
	Params      map[string]string // {k=v}
	Loops       int               // sendmsg loops (0 means 1, -1 forever)
	AppUUID     string            // Event-UUID: matches Application-UUID of CHANNEL_EXECUTE(_COMPLETE)
}

// RecordOptions are the arguments of Session.StartRecord.
type RecordOptions struct {
	RxOnly     bool // RECORD_READ_ONLY=true: record what the channel receives
	Stereo     bool // RECORD_STEREO=true (ignored with RxOnly, as switchio)
	SampleRate int  // record_sample_rate, default 16000
}

// ExecuteOptions are extra sendmsg headers for Session.ExecuteWith.
type ExecuteOptions struct {
	Loops   int    // 0 means 1, -1 forever
	AppUUID string // Event-UUID
	Lock    bool   // event-lock: true
}
