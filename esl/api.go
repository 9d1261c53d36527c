// Package esl is one connection to one FreeSWITCH over the Event Socket
// (inbound mode): dial and auth with timeouts, a hand-rolled frame reader,
// events delivered in arrival order on one bounded channel (or to a handler),
// pipelined commands matched FIFO with their replies, bgapi jobs that cannot
// race their BACKGROUND_JOB, and reconnect with backoff that re-subscribes.
//
// esl imports nothing of switchlua's own packages. esl/esltest is a small
// fake event socket (auth, +OK to every command, a replayed event stream) for
// tests and benchmarks.
//
// # Goroutines and ordering
//
// A Conn has one reader goroutine for its whole life (it also redials), and
// per socket a writer goroutine. The reader goroutine reads the socket into
// one large buffer, cuts frames out of it and dispatches them itself: events
// are handed to the Handler (or the Events channel, in batches of the events
// of one read), replies complete their commands. Everything the connection
// calls back — Options.Handler, SendAsync and BgAPIAsync callbacks,
// Options.OnState — runs on the reader goroutine, in the order FreeSWITCH
// sent the frames that caused them (for a BACKGROUND_JOB: the job's callback,
// then the Handler). A command that cannot be sent because the connection is
// down (reconnecting) fails on the reader goroutine too, soon after the call
// (never inside it); only after the connection is closed for good are
// callbacks called at once on the caller's goroutine. Callbacks must not call
// the blocking methods (Send, API, BgAPI, Subscribe, ...): their reply could
// only be read by the goroutine they block. SendAsync, BgAPIAsync and Close
// are fine.
//
// # Wire format and events
//
// The Reader takes frames out of one large buffer in a single pass (outer
// headers up to a blank line, then exactly Content-Length body bytes, never
// scanned); a frame split across reads is stitched only when that happens,
// and an announced length above the limit (64 MiB) is an error, never an
// allocation.
//
// A plain event costs the reader one copy of its body; its headers are
// found when they are asked for: Get searches the url-encoded text in place,
// and the first call that needs them all (Range, Header, Len, ...) indexes
// the event into a compact form (decoded values, 2-byte interned name ids,
// about 0.44x the wire size) that replaces the text. A connection whose
// consumer ends up indexing most events (the host's Listener does) indexes
// them on the reader goroutine instead, straight from the read buffer while
// it is hot in cache (see adapt.go). Values are url-decoded as FreeSWITCH's
// switch_url_decode does (%XX; '+' stays a plus).
package esl

import (
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

// Error returns the reply, e.g. "-ERR No such channel!".
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
	// StateClosed is reported once when the connection ends for good.
	OnState func(StateChange)

	Logger *slog.Logger // default: discard

	// MaxFrame caps one frame (headers and Content-Length body); a larger
	// announced Content-Length drops the connection with ErrFrameTooLarge
	// instead of allocating it. Default DefaultMaxFrame (64 MiB).
	MaxFrame int
}

// State is the state of a connection.
type State int

// Connection states reported through Options.OnState.
const (
	StateConnected    State = iota // authenticated and subscribed (also after a reconnect)
	StateDisconnected              // lost; Err says why; reconnecting if enabled
	StateClosed                    // closed for good
)

// String names the state.
func (s State) String() string {
	switch s {
	case StateConnected:
		return "connected"
	case StateDisconnected:
		return "disconnected"
	case StateClosed:
		return "closed"
	}
	return "State(?)"
}

// StateChange reports a change of connection state.
type StateChange struct {
	State State
	Err   error // why it went down
	// Reconnected is true for StateConnected after a reconnect: the owner should
	// reconcile what it tracks (e.g. with `show channels`).
	Reconnected bool
}

// Reply is FreeSWITCH's answer to one command.
type Reply struct {
	ContentType string // "command/reply" or "api/response"
	Text        string // api/response body or Reply-Text, trailing newline trimmed
	JobUUID     string // for bgapi
}
