// Package esl is one connection to one FreeSWITCH over the Event Socket
// (inbound mode): dial and auth with timeouts, a hand-rolled frame reader,
// events delivered in arrival order on one bounded channel (or to a handler),
// pipelined commands matched FIFO with their replies, bgapi jobs that cannot
// race their BACKGROUND_JOB, and reconnect with backoff that re-subscribes.
//
// esl imports nothing of switchlua's own packages.
package esl

// CONTRACT STUB: this file fixes the public surface other packages code
// against. Bodies are filled in by the esl implementation; signatures may only
// grow, not change, without telling the other package owners.

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Errors returned by Dial and by commands. Match them with errors.Is.
var (
	// ErrAuth means FreeSWITCH refused the password ("-ERR invalid").
	ErrAuth = errors.New("esl: authentication failed")
	// ErrRejected means FreeSWITCH sent text/rude-rejection: its ACL refused our address.
	ErrRejected = errors.New("esl: connection refused by the server's ACL (text/rude-rejection)")
	// ErrConnectionLost fails commands and jobs in flight when the socket goes away.
	ErrConnectionLost = errors.New("esl: connection lost")
	// ErrNotConnected fails commands sent while the connection is down (reconnecting).
	ErrNotConnected = errors.New("esl: not connected")
	// ErrClosed fails commands sent after Close.
	ErrClosed = errors.New("esl: connection closed")
)

// ServerError is a reply from FreeSWITCH that starts with "-ERR" (or "-USAGE").
// Reply is the whole reply text, trimmed of the trailing newline,
// e.g. "-ERR No such channel!".
type ServerError struct{ Reply string }

func (e *ServerError) Error() string { return e.Reply }

// Options configure Dial. The zero value is usable: password ClueCon, 5 s
// dial and auth timeouts, no reconnect, an event channel of 4096.
type Options struct {
	Password    string        // default "ClueCon"
	User        string        // for userauth user@domain; empty uses plain auth
	DialTimeout time.Duration // default 5s
	AuthTimeout time.Duration // default 5s

	// Reconnect makes the connection redial with exponential backoff
	// (ReconnectMin..ReconnectMax, defaults 100ms..5s) after it is lost,
	// re-authenticate, and re-apply subscriptions and filters.
	Reconnect    bool
	ReconnectMin time.Duration
	ReconnectMax time.Duration

	// EventBuffer is the capacity of the Events channel (default 4096).
	// When it is full the reader stops reading: back-pressure, never drops.
	EventBuffer int

	// Handler, when set, receives every event on the reader goroutine, in
	// arrival order, instead of the Events channel. It may block (that is
	// back-pressure). Reply callbacks of SendAsync and state changes are also
	// called on the reader goroutine, in wire order relative to Handler calls,
	// so a consumer that funnels all three into one queue sees them in the
	// order FreeSWITCH sent them.
	Handler func(*Event)

	// OnState is called when the connection goes down or comes back
	// (Reconnect only). With Handler set it is called on the reader goroutine
	// in order with events; otherwise on an internal goroutine.
	OnState func(StateChange)

	Logger *slog.Logger // default: discard
}

// State is the state of a connection.
type State int

// Connection states reported through Options.OnState.
const (
	StateConnected    State = iota // authenticated and subscribed (also after a reconnect)
	StateDisconnected              // lost; Err says why; reconnecting if enabled
	StateClosed                    // closed for good
)

// StateChange reports a change of connection state.
type StateChange struct {
	State State
	Err   error // why it went down
	// Reconnected is true for StateConnected after a reconnect: the owner should
	// reconcile what it tracks (e.g. with `show channels`).
	Reconnected bool
}

// Conn is one authenticated ESL connection. All methods are safe for
// concurrent use.
type Conn struct{ _ struct{} }

// Dial connects to addr (host:port; port 8021 if missing) and authenticates.
// A wrong password returns an error wrapping ErrAuth; a rude rejection one
// wrapping ErrRejected; an unreachable host an error within DialTimeout.
func Dial(ctx context.Context, addr string, opts Options) (*Conn, error) {
	panic("unimplemented")
}

// Events returns the channel of events in arrival order. It is closed when
// the connection is closed for good. Unused (nil) when Options.Handler is set.
func (c *Conn) Events() <-chan *Event { panic("unimplemented") }

// Send writes one raw command (e.g. "api status", or a multi-line sendmsg,
// without the terminating blank line) and waits for its reply. If ctx ends
// first Send returns ctx.Err() and the late reply is discarded, never handed
// to another command. A "-ERR" reply is returned as a *ServerError with the
// reply. For api the reply is the api/response body; for other commands the
// Reply-Text.
func (c *Conn) Send(ctx context.Context, cmd string) (*Reply, error) { panic("unimplemented") }

// SendAsync queues cmd and returns at once; it never blocks on the network.
// done is called exactly once with the reply text (api body or Reply-Text,
// without trailing newline) or an error (*ServerError, ErrConnectionLost,
// ErrNotConnected, ErrClosed). See Options.Handler for ordering.
func (c *Conn) SendAsync(cmd string, done func(reply string, err error)) { panic("unimplemented") }

// API runs `api cmd` and returns the response body (trailing newline trimmed).
func (c *Conn) API(ctx context.Context, cmd string) (string, error) { panic("unimplemented") }

// BgAPI runs `bgapi cmd` with its own Job-UUID header, so the job is
// registered before FreeSWITCH can answer. The Job completes with the
// BACKGROUND_JOB event (which is also delivered to the event stream).
func (c *Conn) BgAPI(ctx context.Context, cmd string) (*Job, error) { panic("unimplemented") }

// BgAPIAsync is BgAPI that never blocks: jobUUID is sent as the Job-UUID
// header (generated when empty) and returned; done is called once with the
// BACKGROUND_JOB event or an error (a refused command, ErrConnectionLost...).
func (c *Conn) BgAPIAsync(cmd, jobUUID string, done func(ev *Event, err error)) string {
	panic("unimplemented")
}

// Subscribe sends `event plain <names...>` (a CUSTOM subclass is given as
// "CUSTOM sub::class" or just "sub::class") and remembers the names so a
// reconnect re-subscribes.
func (c *Conn) Subscribe(ctx context.Context, names ...string) error { panic("unimplemented") }

// Unsubscribe sends `nixevent <names...>` and forgets them.
func (c *Conn) Unsubscribe(ctx context.Context, names ...string) error { panic("unimplemented") }

// NoEvents sends `noevents` and forgets all subscriptions.
func (c *Conn) NoEvents(ctx context.Context) error { panic("unimplemented") }

// Filter sends `filter <header> <value>` and remembers it for reconnects.
func (c *Conn) Filter(ctx context.Context, header, value string) error { panic("unimplemented") }

// FilterDelete sends `filter delete <header> [<value>]` and forgets it.
func (c *Conn) FilterDelete(ctx context.Context, header, value string) error {
	panic("unimplemented")
}

// Close sends `exit` (best effort), closes the socket, fails what is in
// flight with ErrClosed and closes the Events channel. Idempotent.
func (c *Conn) Close() error { panic("unimplemented") }

// Done is closed when the connection is closed for good.
func (c *Conn) Done() <-chan struct{} { panic("unimplemented") }

// Err says why the connection closed (nil for Close).
func (c *Conn) Err() error { panic("unimplemented") }

// Connected reports whether the socket is currently up and authenticated.
func (c *Conn) Connected() bool { panic("unimplemented") }

// Addr is the address dialed.
func (c *Conn) Addr() string { panic("unimplemented") }

// Reply is FreeSWITCH's answer to one command.
type Reply struct {
	ContentType string // "command/reply" or "api/response"
	Text        string // api/response body or Reply-Text, trailing newline trimmed
	JobUUID     string // for bgapi
}

// Job is a bgapi job: a future completed by its BACKGROUND_JOB event.
type Job struct{ UUID string }

// Done is closed when the job has its result or failed.
func (j *Job) Done() <-chan struct{} { panic("unimplemented") }

// Wait waits for the job's BACKGROUND_JOB event. The body ("+OK <uuid>\n" or
// "-ERR <CAUSE>\n") is ev.Body().
func (j *Job) Wait(ctx context.Context) (*Event, error) { panic("unimplemented") }

// Event is one FreeSWITCH event (text/event-plain, url-decoded) with its
// headers in wire order and an optional body. It is immutable once delivered
// and safe to share between goroutines.
type Event struct{ _ struct{} }

// Name is the Event-Name header.
func (e *Event) Name() string { panic("unimplemented") }

// Subclass is the Event-Subclass header (CUSTOM events).
func (e *Event) Subclass() string { panic("unimplemented") }

// UUID is the Unique-ID header (the channel's uuid), empty if none.
func (e *Event) UUID() string { panic("unimplemented") }

// Get returns the first value of header name (exact, case-sensitive as
// FreeSWITCH writes it), or "".
func (e *Event) Get(name string) string { panic("unimplemented") }

// Lookup is Get that also says whether the header is present.
func (e *Event) Lookup(name string) (string, bool) { panic("unimplemented") }

// Body is the event's body (e.g. a BACKGROUND_JOB result), or "".
func (e *Event) Body() string { panic("unimplemented") }

// Len is the number of headers.
func (e *Event) Len() int { panic("unimplemented") }

// Header returns header i (0 <= i < Len) in wire order.
func (e *Event) Header(i int) (name, value string) { panic("unimplemented") }

// Range calls fn for each header in wire order until fn returns false.
func (e *Event) Range(fn func(name, value string) bool) { panic("unimplemented") }

// ParseEvent parses a text/event-plain body (url-encoded `Name: value` lines,
// optionally followed by Content-Length and an inner body).
func ParseEvent(plain []byte) (*Event, error) { panic("unimplemented") }

// NewEvent builds an event from name/value pairs (tests, the simulator):
// NewEvent("Event-Name", "CUSTOM", "Event-Subclass", "x::y").
func NewEvent(kv ...string) *Event { panic("unimplemented") }
