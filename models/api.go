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

import "time"

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
}

// Call groups the sessions (legs) that share a tracking key.
type Call struct {
	UUID     string // the tracking key
	Sessions []*Session
	Vars     map[string]any // app state for the call (e.g. "noautohangup")
	Ext      any            // for the binding layer
}

// Job is a bgapi job: launched, then completed by its BACKGROUND_JOB.
type Job struct {
	UUID     string // Job-UUID
	SessUUID string // origination_uuid of the session it creates, if any
	Command  string
	Launch   time.Time
	Ext      any // for the binding layer
}

// ---- Session: construction and state (stubs; see CONTRACT note) ----

// NewSession makes a session from its first event (CHANNEL_CREATE or
// CHANNEL_ORIGINATE, in either order) and applies that event.
func NewSession(ev Event, node string, s Sender) *Session { panic("unimplemented") }

// Update applies one event to the session: latest header values, history,
// times, answered/hungup/cause.
func (s *Session) Update(ev Event) { panic("unimplemented") }

// Get returns the latest value of a header seen on this session ("" if none).
func (s *Session) Get(name string) string { panic("unimplemented") }

// Lookup is Get that also says whether the header was seen.
func (s *Session) Lookup(name string) (string, bool) { panic("unimplemented") }

// Latest is the newest event applied.
func (s *Session) Latest() Event { panic("unimplemented") }

// History returns the bounded history, oldest first.
func (s *Session) History() []HistoryEntry { panic("unimplemented") }

// IsInbound reports Call-Direction == inbound.
func (s *Session) IsInbound() bool { panic("unimplemented") }

// IsOutbound reports Call-Direction == outbound.
func (s *Session) IsOutbound() bool { panic("unimplemented") }

// Uptime is now minus Times.Create.
func (s *Session) Uptime(now time.Time) time.Duration { panic("unimplemented") }

// SetSender replaces the Sender (e.g. after a reconnect).
func (s *Session) SetSender(snd Sender) { panic("unimplemented") }

// ---- Session commands: each builds switchio's wire command and sends it ----

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

func (s *Session) Answer(done Done)                                   { panic("unimplemented") }
func (s *Session) Hangup(cause string, done Done)                     { panic("unimplemented") }
func (s *Session) Park(done Done)                                     { panic("unimplemented") }
func (s *Session) Bridge(o BridgeOptions, done Done)                  { panic("unimplemented") }
func (s *Session) Playback(path string, o PlaybackOptions, done Done) { panic("unimplemented") }
func (s *Session) Broadcast(path, leg string, done Done)              { panic("unimplemented") }
func (s *Session) Execute(app, arg string, done Done)                 { panic("unimplemented") }
func (s *Session) ExecuteWith(app, arg string, o ExecuteOptions, done Done) {
	panic("unimplemented")
}
func (s *Session) StartRecord(path string, o RecordOptions, done Done) { panic("unimplemented") }
func (s *Session) StopRecord(path string, delay time.Duration, done Done) {
	panic("unimplemented")
}
func (s *Session) Record(action, path string, done Done)              { panic("unimplemented") }
func (s *Session) Echo(done Done)                                     { panic("unimplemented") }
func (s *Session) Mute(direction string, level int, done Done)        { panic("unimplemented") }
func (s *Session) Unmute(direction string, done Done)                 { panic("unimplemented") }
func (s *Session) SendDTMF(digits string, duration string, done Done) { panic("unimplemented") }
func (s *Session) SchedDTMF(delay time.Duration, digits, duration string, done Done) {
	panic("unimplemented")
}
func (s *Session) SchedHangup(delay time.Duration, cause string, done Done) { panic("unimplemented") }
func (s *Session) ClearTasks(done Done)                                     { panic("unimplemented") }
func (s *Session) BreakMedia(done Done)                                     { panic("unimplemented") }
func (s *Session) BypassMedia(on bool, done Done)                           { panic("unimplemented") }
func (s *Session) Respond(code string, done Done)                           { panic("unimplemented") }
func (s *Session) Deflect(uri string, done Done)                            { panic("unimplemented") }
func (s *Session) SetVar(name, value string, done Done)                     { panic("unimplemented") }
func (s *Session) SetVars(vars map[string]string, done Done)                { panic("unimplemented") }
func (s *Session) UnsetVar(name string, done Done)                          { panic("unimplemented") }

// GetVar runs uuid_getvar; FreeSWITCH's "_undef_" comes back as ("", nil)
// with ok=false through GetVarDone.
func (s *Session) GetVar(name string, done func(value string, ok bool, err error)) {
	panic("unimplemented")
}

// ---- Call ----

// NewCall makes an empty call with a tracking key.
func NewCall(key string) *Call { panic("unimplemented") }

func (c *Call) Append(s *Session)              { panic("unimplemented") }
func (c *Call) Remove(s *Session)              { panic("unimplemented") }
func (c *Call) First() *Session                { panic("unimplemented") }
func (c *Call) Last() *Session                 { panic("unimplemented") }
func (c *Call) Peer(s *Session) *Session       { panic("unimplemented") }
func (c *Call) Hangup(cause string, done Done) { panic("unimplemented") }

// ---- Job ----

// NewJob records a launched job.
func NewJob(uuid, sessUUID, command string, launch time.Time) *Job { panic("unimplemented") }

// Complete applies the BACKGROUND_JOB event: body "+OK <uuid>" or "-ERR <CAUSE>".
func (j *Job) Complete(ev Event) { panic("unimplemented") }

// Fail completes the job with an error (e.g. the connection was lost).
func (j *Job) Fail(err error) { panic("unimplemented") }

func (j *Job) Ready() bool           { panic("unimplemented") }
func (j *Job) Successful() bool      { panic("unimplemented") }
func (j *Job) Result() string        { panic("unimplemented") } // the body, trimmed
func (j *Job) Cause() string         { panic("unimplemented") } // CAUSE of a -ERR, or the error text
func (j *Job) Done() <-chan struct{} { panic("unimplemented") }
