package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchlua/switchlua/bindings"
	"github.com/switchlua/switchlua/esl"
	"github.com/switchlua/switchlua/models"
)

// Header names and defaults of the tracking (switchio's EventListener).
const (
	// AppHeader is the default header the app id of a session is read from
	// when it is created (the originate's sip_h_X-switchlua_app, as
	// FreeSWITCH shows it on both legs of a self-call).
	AppHeader = "variable_sip_h_X-switchlua_app"
	// OriginatingSessionHeader groups the legs of the calls we originate
	// (sip_h_X-switchlua_originating_session = the outbound leg's uuid).
	OriginatingSessionHeader = "variable_sip_h_X-switchlua_originating_session"
	// CallUUIDHeader groups the legs FreeSWITCH bridges itself.
	CallUUIDHeader = "variable_call_uuid"

	// DefaultApp is the app of a session without an app header.
	DefaultApp = models.DefaultApp
	// UnloadedApp is the Stats.SessionsPerApp key of sessions whose app id
	// was not loaded when they were created.
	UnloadedApp = "(unloaded)"
	// DefaultParkTimeout is how long an inbound parked session may stay
	// untaken before the Listener hangs it up.
	DefaultParkTimeout = 30 * time.Second

	// CauseParkTimeout is the hangup cause the Listener gives a parked
	// inbound session that no app took (the Q.850 cause for an expired timer).
	CauseParkTimeout = "RECOVERY_ON_TIMER_EXPIRE"
	// CauseVanished is the cause of a session that FreeSWITCH no longer had
	// when the Listener reconciled after a reconnect. The Listener closes such
	// sessions itself (no FreeSWITCH event says so), so this is not a
	// FreeSWITCH cause: it says the channel disappeared while we were away.
	CauseVanished = "SWITCHLUA_VANISHED_ON_RECONNECT"
	// CauseLostConnection is the Cause of a bgapi job that was in flight when
	// the connection went down (its BACKGROUND_JOB can no longer arrive).
	CauseLostConnection = "SWITCHLUA_CONNECTION_LOST"
)

// TrackingEvents are the events the Listener subscribes to for its own
// tracking, whatever the apps use.
var TrackingEvents = []string{
	"CHANNEL_CREATE", "CHANNEL_ORIGINATE", "CHANNEL_ANSWER", "CHANNEL_PARK",
	"CHANNEL_HANGUP", "CHANNEL_DESTROY", "BACKGROUND_JOB",
}

// Errors of the Listener.
var (
	// ErrClosed is returned by a Listener (or Pool) used after Close.
	ErrClosed = errors.New("host: listener closed")
	// ErrSessionGone is returned by WaitFor when the session left (was
	// destroyed) before the condition held.
	ErrSessionGone = errors.New("host: session gone")
	// ErrSubscribe is wrapped by the error Load, Unload and Pool.Load return
	// when the apps changed as asked but the node's event subscription could
	// not follow (typically: the connection was down). The new apps are
	// live; the Listener keeps retrying the subscription (after a reconnect,
	// and every few seconds while connected), so the events they use start
	// to flow once it succeeds. Test it with errors.Is.
	ErrSubscribe = errors.New("host: event subscription not updated")
	// ErrNoProfile is wrapped by the error of ProfileAddr when the node has
	// no sofia profile of that name (FreeSWITCH answers "Invalid Profile!").
	ErrNoProfile = errors.New("host: no such sofia profile")
)

// Config configures a Listener (and every Listener of a Pool). The zero value
// works against a FreeSWITCH with the default password.
type Config struct {
	// Password of the event socket (default ClueCon).
	Password string
	// ESL are extra connection options. Password (above), Handler, OnState,
	// Reconnect and Logger are set by the Listener.
	ESL esl.Options
	// NoReconnect turns off esl's reconnect with backoff.
	NoReconnect bool

	// AppHeader is the header the app id is read from when a session is
	// created (default AppHeader); DefaultApp the id when it is absent
	// (default "default").
	AppHeader  string
	DefaultApp string
	// TrackingHeaders are tried in order to find a session's call key; the
	// first one present wins, and a session with none is a call of its own
	// (its uuid is the key). Default: OriginatingSessionHeader, CallUUIDHeader.
	TrackingHeaders []string

	// ParkTimeout is how long a parked inbound session we are responsible
	// for may stay untaken before it is hung up with CauseParkTimeout
	// (default 30 s; negative disables), so that a call nobody handles does
	// not stay parked forever (switchio issue #47).
	//
	// It applies only where switchlua is responsible for the parked call,
	// decided at its CHANNEL_PARK, once the apps' on_park callbacks have run:
	//   - the session is a leg of a call this Listener originated
	//     (Originate): its uuid, or its call's tracking key (the
	//     sip_h_X-switchlua_originating_session header of our originates),
	//     is one of our origination uuids, whether or not its app is loaded;
	//     or
	//   - its app handles the park: the app named by its app header
	//     (AppHeader; DefaultApp when it has none) is loaded here and defines
	//     on_park or registered on("CHANNEL_PARK", fn).
	// Anything else is left alone, however long it stays parked: other
	// users' calls on a shared FreeSWITCH, calls of an app that only watches
	// (say a `serve --script monitor.lua` whose script has only on_hangup),
	// inbound calls when no default app is loaded (`switchlua run`), and
	// calls another switchlua (or another Listener) originated for an app
	// this Listener does not run.
	//
	// A session is taken once anything acts on it: a command sent through its
	// Session (answer, playback, bridge, hangup, ... from an app or from Go),
	// or it is answered or bridged. So one of our sessions is hung up when its
	// on_park does nothing with it, or when we originated it for an app that
	// is not loaded.
	ParkTimeout time.Duration

	// InboxSize bounds the events queued for the Listener goroutine (default
	// 4096); when full, the esl reader waits (back-pressure, never drops).
	InboxSize int
	// Events are extra event names to subscribe to, beyond TrackingEvents
	// and what the loaded apps use.
	Events []string

	// Runtime configures the node's Lua runtime (CPU budget, sandbox, shared
	// store, OnCallback for metrics...). Logger defaults to Config.Logger;
	// OnEventsChange is the Listener's own.
	Runtime bindings.Options

	// OnCallEnd, if set, is called on the Listener goroutine when a call's
	// last leg is destroyed. It must not block.
	OnCallEnd func(CallEnd)
	// OnEvent, if set, is called on the Listener goroutine for every event
	// after the tracking and the apps have seen it; s is its session (nil if
	// untracked, e.g. HEARTBEAT). For metrics and Go observers. It must not
	// block nor keep ev (or strings from it) for long.
	OnEvent func(ev models.Event, s *models.Session)
	// OnJob, if set, is called on the Listener goroutine when a bgapi job the
	// Listener launched completes or fails; s is the session it originated,
	// nil if none (e.g. a failed originate). It must not block.
	OnJob func(j *models.Job, s *models.Session)

	// Logger for the Listener (default: discard).
	Logger *slog.Logger
}

func (c *Config) withDefaults() {
	if c.AppHeader == "" {
		c.AppHeader = AppHeader
	}
	if c.DefaultApp == "" {
		c.DefaultApp = DefaultApp
	}
	if len(c.TrackingHeaders) == 0 {
		c.TrackingHeaders = []string{OriginatingSessionHeader, CallUUIDHeader}
	}
	if c.ParkTimeout == 0 {
		c.ParkTimeout = DefaultParkTimeout
	}
	if c.InboxSize <= 0 {
		c.InboxSize = 4096
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// CallEnd describes a call whose last leg left, for CDR writers: both legs'
// times as switchio's CDR reads them (caller = the first leg, callee = the
// last one; a one-leg call has Callee == Caller).
type CallEnd struct {
	Node       string
	Key        string // tracking key
	App        string // app id of the first leg
	Cause      string // hangup cause of the first leg
	CallerUUID string
	CalleeUUID string
	Caller     models.Times
	Callee     models.Times
	Answered   bool      // the first leg was answered
	JobLaunch  time.Time // when the Listener launched the originate; zero if not ours
	Legs       int       // sessions the call had
	// Active sessions and calls on the node once this call left.
	ActiveSessions, ActiveCalls int
	// SessionsAtCreate is the node's active sessions when the first leg was
	// created (this leg included).
	SessionsAtCreate int
	// FailedCalls is the node's count of failed calls so far, this one included.
	FailedCalls uint64
}

// conn is what the Listener needs of its esl connection (*esl.Conn).
type conn interface {
	SendAsync(cmd string, done func(reply string, err error))
	Subscribe(ctx context.Context, names ...string) error
	Unsubscribe(ctx context.Context, names ...string) error
	Connected() bool
	Close() error
}

// appRuntime is what the Listener needs of its Lua runtime (*bindings.Runtime).
type appRuntime interface {
	Load(spec bindings.AppSpec) error
	Unload(id string)
	HasApp(id string) bool
	// Handles reports whether app id is loaded and handles event (defines
	// its on_* callback or registered on(event)): the park timeout's rule.
	Handles(id, event string) bool
	Apps() []string
	Events() []string
	Dispatch(s *models.Session, ev models.Event)
	DispatchJob(s *models.Session, j *models.Job)
	// DispatchJobTo runs on_job of one app only (s may be nil: an
	// originate that failed before its channel existed).
	DispatchJobTo(app string, s *models.Session, j *models.Job)
	SessionGone(s *models.Session)
	Stats() bindings.Stats
	Close()
}

// Listener serves one FreeSWITCH node: one goroutine owns the node's esl
// connection (events, reply callbacks and state changes all arrive, in wire
// order, through one bounded inbox), the node's Lua runtime, and the session,
// call and job tracking. It implements bindings.Host.
//
// Sessions and calls belong to the Listener goroutine: read or command them
// only there, i.e. in Do, WaitFor predicates, the OnCallEnd/OnJob hooks and
// Lua callbacks. Every other method is safe for concurrent use.
type Listener struct {
	cfg  Config
	node string
	log  *slog.Logger
	conn conn
	rt   appRuntime
	in   *inbox

	stop     chan struct{}
	loopDone chan struct{}
	closing  sync.Once
	closed   atomic.Bool

	subMu      sync.Mutex  // serializes subscription changes (Load, Unload)
	subscribed []string    // what the node is subscribed to (what succeeded)
	resub      atomic.Bool // a subscription update is pending (resubscribe)
	subStale   atomic.Bool // the last subscription update failed: retry it

	// Cheap figures for Active and Connected (also in st).
	nSessions, nCalls atomic.Int64
	connected         atomic.Bool

	// Owned by the Listener goroutine.
	sessions   map[string]*entry
	calls      map[string]*callEntry
	jobs       map[string]*models.Job         // pending bgapi jobs by Job-UUID
	bgCalls    map[string]func(string, error) // pending BackgroundAPI calls by Job-UUID
	origs      map[string]*orig               // our originates by origination uuid, until both job and session are done
	parkQ      parkQueue
	waiters    []*waiter
	gen        uint64    // bumped at each reconnect, for reconciliation
	subRetry   time.Time // when a stale subscription was last retried
	nEvents    uint64    // events handled (published to st after each batch)
	nUntracked uint64    // events of channels not tracked

	// arrive, if set (tests), sees each event as the esl reader hands it over.
	arrive func(models.Event)

	mu sync.Mutex // guards st
	st Stats
}

// entry is the Listener's record of one session. It is the session's
// models.Sender: a command sent through the session marks it taken and its
// reply comes back through the inbox.
type entry struct {
	l      *Listener
	s      *models.Session
	call   *callEntry
	taken  bool   // an app (or Go) acted on it: no park timeout
	parkAt int64  // unix nanos of the pending park deadline, 0 if none
	gen    uint64 // Listener.gen when created
	gone   bool   // destroyed
}

// orig links an originate's job and the session it creates.
type orig struct {
	j       *models.Job
	app     string // the app its legs run (DefaultApp when none was given)
	created bool   // its channel appeared
}

// callEntry is the Listener's record of one call.
type callEntry struct {
	c         *models.Call
	live      int // legs not destroyed yet
	legs      int
	ours      bool // part of a call this Listener originated
	jobLaunch time.Time
	sessAt    int // active sessions when the call was created
}

// SendAsync sends cmd for the session; done runs on the Listener goroutine.
func (e *entry) SendAsync(cmd string, done func(reply string, err error)) {
	e.taken = true
	e.l.send(cmd, done)
}

// Dial connects to the FreeSWITCH node at addr (host:port), subscribes to the
// tracking events and starts the Listener goroutine with an empty Lua
// runtime; load apps with Load. A wrong password or an unreachable node is an
// error (esl.ErrAuth, esl.ErrRejected, a dial error).
func Dial(ctx context.Context, addr string, cfg Config) (*Listener, error) {
	return dial(ctx, addr, cfg, nil)
}

func dial(ctx context.Context, addr string, cfg Config, arrive func(models.Event)) (*Listener, error) {
	cfg.withDefaults()
	l := newListener(cfg, addr)
	l.arrive = arrive
	opts := cfg.ESL
	if cfg.Password != "" {
		opts.Password = cfg.Password
	}
	opts.Reconnect = !cfg.NoReconnect
	opts.Logger = cfg.Logger
	opts.Handler = func(ev *esl.Event) {
		if l.arrive != nil {
			l.arrive(ev)
		}
		l.in.pushEvent(ev)
	}
	opts.OnState = func(sc esl.StateChange) { l.in.push(item{kind: kindFunc, fn: func() { l.onState(sc) }}) }
	c, err := esl.Dial(ctx, addr, opts)
	if err != nil {
		l.in.close()
		return nil, err
	}
	ro := cfg.Runtime
	if ro.Logger == nil {
		ro.Logger = cfg.Logger
	}
	ro.OnEventsChange = l.eventsChanged
	rt, err := bindings.New(l, ro)
	if err != nil {
		l.in.close()
		c.Close()
		return nil, fmt.Errorf("host: lua runtime for %s: %w", addr, err)
	}
	l.start(c, rt)
	if err := l.setSubscriptions(ctx, nil); err != nil {
		l.Close()
		return nil, fmt.Errorf("host: subscribe on %s: %w", addr, err)
	}
	return l, nil
}

// newListener makes a Listener that is not started yet.
func newListener(cfg Config, node string) *Listener {
	cfg.withDefaults()
	l := &Listener{
		cfg:      cfg,
		node:     node,
		log:      cfg.Logger.With("node", node),
		in:       newInbox(cfg.InboxSize),
		stop:     make(chan struct{}),
		loopDone: make(chan struct{}),
		sessions: make(map[string]*entry),
		calls:    make(map[string]*callEntry),
		jobs:     make(map[string]*models.Job),
		bgCalls:  make(map[string]func(string, error)),
		origs:    make(map[string]*orig),
	}
	l.st = newStats(node)
	return l
}

// start hands the Listener its connection and runtime and starts its goroutine.
func (l *Listener) start(c conn, rt appRuntime) {
	l.conn, l.rt = c, rt
	l.setConnected(true)
	go l.run()
}

// eventsChanged is called on the Listener goroutine when a script starts to
// need an event the subscription may lack (an on(name, fn) after load, a
// sess:wait for an event no script names).
func (l *Listener) eventsChanged() { l.resubscribe() }

// subRetryEvery is how often a failed subscription update is tried again
// while the connection is up (a reconnect retries it at once).
const subRetryEvery = 5 * time.Second

// resubscribe brings the node's subscription in line with what the loaded
// apps use now. It runs off the Listener goroutine (it waits for
// FreeSWITCH's reply); calls made while one is pending coalesce. Safe from
// any goroutine.
func (l *Listener) resubscribe() {
	if l.closed.Load() || l.resub.Swap(true) {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		l.subMu.Lock()
		defer l.subMu.Unlock()
		l.resub.Store(false)
		var evs []string
		if err := l.Do(ctx, func() { evs = l.rt.Events() }); err != nil {
			return
		}
		if err := l.subscribe(ctx, evs); err != nil && !l.closed.Load() {
			l.log.Warn("subscription update failed; it will be retried", "err", err)
		}
	}()
}

// Node names the FreeSWITCH node (the address dialled). Part of bindings.Host.
func (l *Listener) Node() string { return l.node }

// Post queues fn to run on the Listener goroutine. It never blocks, from any
// goroutine, the Listener goroutine included; after Close, fn is dropped.
// Part of bindings.Host.
func (l *Listener) Post(fn func()) {
	l.in.push(item{kind: kindFunc, fn: fn})
}

// API sends `api cmd` (or cmd as it is when it starts with "api ", "bgapi ",
// "sendmsg" or "sendevent ") on this node without waiting; done runs on the
// Listener goroutine with the reply. Part of bindings.Host.
func (l *Listener) API(cmd string, done func(reply string, err error)) {
	l.send(apiCommand(cmd), done)
}

// BackgroundAPI runs cmd (an api command, without "api "/"bgapi ") with
// `bgapi` and its own Job-UUID; done runs once, on the Listener goroutine,
// with the BACKGROUND_JOB body (trailing newline removed), or with an error:
// a "-ERR ..." or "-USAGE ..." body (the error text is the body), a refused
// bgapi, a command with a line break, the connection lost while it ran
// (CauseLostConnection), or the Listener closed. Part of bindings.Host: the
// Lua runtime runs switchlua.api and ctx.api this way, because FreeSWITCH
// runs a plain `api` inline and writes no event on the connection until it
// returns (a ringing originate would freeze the node's events). These jobs
// are not models.Jobs: they do not count in Stats' jobs nor reach OnJob or
// on_job, and their BACKGROUND_JOB is not dispatched to the apps.
//
// Call it on the Listener goroutine (as the runtime does).
func (l *Listener) BackgroundAPI(cmd string, done func(result string, err error)) {
	if strings.ContainsAny(cmd, "\r\n") {
		done("", fmt.Errorf("host: api command %q has a line break", cmd))
		return
	}
	if l.closed.Load() {
		done("", ErrClosed)
		return
	}
	id := esl.NewUUID()
	l.bgCalls[id] = done
	l.send("bgapi "+cmd+"\nJob-UUID: "+id, func(_ string, err error) {
		if err != nil {
			l.finishBackground(id, "", err)
		}
	})
}

// finishBackground completes a BackgroundAPI call (once).
func (l *Listener) finishBackground(id, result string, err error) bool {
	done := l.bgCalls[id]
	if done == nil {
		return false
	}
	delete(l.bgCalls, id)
	done(result, err)
	return true
}

// rawCommands are the ESL commands API and Command pass through as they are.
// The ones that change the connection itself (event, nixevent, noevents,
// filter, exit, ...) are not among them: a script could silently break the
// tracking with them. They go out as `api <cmd>` and FreeSWITCH refuses them.
var rawCommands = []string{"api ", "bgapi ", "sendmsg", "sendevent "}

func apiCommand(cmd string) string {
	for _, p := range rawCommands {
		if strings.HasPrefix(cmd, p) {
			return cmd
		}
	}
	return "api " + cmd
}

// noop is the reply callback of commands nobody waits for.
func noop(string, error) {}

// send writes cmd on the connection; done (if not nil) runs on the Listener
// goroutine, in wire order with the events around the reply.
func (l *Listener) send(cmd string, done func(string, error)) {
	if done == nil {
		l.conn.SendAsync(cmd, noop)
		return
	}
	l.conn.SendAsync(cmd, func(reply string, err error) {
		l.in.push(item{kind: kindReply, done: done, reply: reply, err: err})
	})
}

// Command runs one command on the node and waits for its reply: `api cmd`,
// or cmd as it is when it starts with "api ", "bgapi ", "sendmsg" or
// "sendevent ". (Subscriptions belong to the Listener: see Config.Events.)
// A "-ERR" reply is an error whose text is the reply. For Go callers; never
// call it on the Listener goroutine.
func (l *Listener) Command(ctx context.Context, cmd string) (string, error) {
	if l.closed.Load() {
		return "", ErrClosed
	}
	type res struct {
		reply string
		err   error
	}
	ch := make(chan res, 1)
	l.conn.SendAsync(apiCommand(cmd), func(reply string, err error) { ch <- res{reply, err} })
	select {
	case r := <-ch:
		return r.reply, r.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// Do runs fn on the Listener goroutine and waits until it has run (or ctx
// ends, in which case fn may still run later). It is how Go code reads or
// commands sessions and calls. Never call it on the Listener goroutine (from
// a hook or fn itself): it would wait for itself.
func (l *Listener) Do(ctx context.Context, fn func()) error {
	done := make(chan struct{})
	if !l.in.push(item{kind: kindFunc, fn: func() { fn(); close(done) }}) {
		return ErrClosed
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-l.loopDone:
		select {
		case <-done:
			return nil
		default:
			return ErrClosed
		}
	}
}

// Load installs or replaces app spec.ID in the node's runtime (bindings
// semantics: teardown of the old generation, setup of the new), then
// subscribes the node to the events the loaded apps now use and drops the
// ones no app uses any more.
//
// The error says which of the two did not happen:
//   - nil: the new generation is live and the node subscribed to its events.
//   - an error matching ErrSubscribe (errors.Is): the new generation IS live,
//     but the subscription could not be updated (e.g. the connection was
//     down). The Listener retries it by itself, after a reconnect and every
//     few seconds while connected; until then the events only the new
//     generation uses do not arrive.
//   - any other error: the load did not happen. Either the runtime refused
//     the scripts (a top-level error, `script:line: message`; the previous
//     generation keeps running, the subscription is untouched), or the
//     Listener is closed (ErrClosed), or ctx ended before the Listener
//     goroutine ran the load (ctx.Err(); the load may still run later).
func (l *Listener) Load(ctx context.Context, spec bindings.AppSpec) error {
	return l.changeApps(ctx, func() error { return l.rt.Load(spec) })
}

// Unload removes app id (after its teardown) and updates the subscription.
// Its errors are those of Load: ErrSubscribe means the app is gone but the
// subscription still has its events (retried later).
func (l *Listener) Unload(ctx context.Context, id string) error {
	return l.changeApps(ctx, func() error { l.rt.Unload(id); return nil })
}

// Apps lists the loaded app ids in load order.
func (l *Listener) Apps(ctx context.Context) ([]string, error) {
	var apps []string
	err := l.Do(ctx, func() { apps = l.rt.Apps() })
	return apps, err
}

func (l *Listener) changeApps(ctx context.Context, change func() error) error {
	l.subMu.Lock()
	defer l.subMu.Unlock()
	var err error
	var evs []string
	if e := l.Do(ctx, func() { err = change(); evs = l.rt.Events() }); e != nil {
		return e
	}
	if err != nil {
		// Refused: the apps (and the events they use) are what they were.
		// A subscription left stale by an earlier failure is retried apart.
		return err
	}
	if serr := l.subscribe(ctx, evs); serr != nil {
		return fmt.Errorf("%w on %s (retried after a reconnect): %w", ErrSubscribe, l.node, serr)
	}
	return nil
}

// setSubscriptions subscribes to what tracking and the loaded apps need.
func (l *Listener) setSubscriptions(ctx context.Context, appEvents []string) error {
	l.subMu.Lock()
	defer l.subMu.Unlock()
	return l.subscribe(ctx, appEvents)
}

// subscribe makes the node's subscription TrackingEvents + cfg.Events +
// appEvents. Called with subMu held. l.subscribed follows what succeeded,
// as esl remembers it for its reconnects (esl re-subscribes only the names
// whose subscribe succeeded, and keeps the ones whose nixevent failed); on
// failure the subscription is marked stale, and a later resubscribe (after
// a reconnect, or from the tick) diffs again against what the apps use then.
func (l *Listener) subscribe(ctx context.Context, appEvents []string) error {
	want := wantedEvents(l.cfg.Events, appEvents)
	var add, del []string
	for _, n := range want {
		if !slices.Contains(l.subscribed, n) {
			add = append(add, n)
		}
	}
	for _, n := range l.subscribed {
		if !slices.Contains(want, n) {
			del = append(del, n)
		}
	}
	if len(add) > 0 {
		if err := l.conn.Subscribe(ctx, add...); err != nil {
			l.subStale.Store(true)
			return err
		}
		l.subscribed = append(l.subscribed, add...)
		slices.Sort(l.subscribed)
	}
	if len(del) > 0 {
		if err := l.conn.Unsubscribe(ctx, del...); err != nil {
			l.subStale.Store(true)
			return err
		}
	}
	l.subscribed = want
	l.subStale.Store(false)
	if len(add)+len(del) > 0 {
		l.log.Debug("subscription changed", "added", add, "removed", del)
	}
	return nil
}

// wantedEvents is the sorted, deduplicated union of the tracking events and
// the extra and app events. A bare "sub::class" becomes "CUSTOM sub::class".
func wantedEvents(extra, app []string) []string {
	var out []string
	for _, list := range [][]string{TrackingEvents, extra, app} {
		for _, n := range list {
			n = strings.TrimSpace(n)
			if n == "" {
				continue
			}
			if strings.Contains(n, "::") && !strings.HasPrefix(n, "CUSTOM ") {
				n = "CUSTOM " + n
			}
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	slices.Sort(out)
	return out
}

// Subscribed returns the event names the node is subscribed to.
func (l *Listener) Subscribed() []string {
	l.subMu.Lock()
	defer l.subMu.Unlock()
	return slices.Clone(l.subscribed)
}

// Close stops the Listener: the runtime's apps get their teardown, waiters
// get ErrClosed, the connection is closed. Idempotent. Never call it on the
// Listener goroutine (a hook or a Lua-driven Go callback): it waits for it.
func (l *Listener) Close() error {
	var err error
	l.closing.Do(func() {
		l.closed.Store(true)
		l.in.close() // releases the esl reader if it waits on a full inbox
		close(l.stop)
		if l.conn != nil {
			<-l.loopDone
			err = l.conn.Close()
		}
	})
	return err
}

// Done is closed once the Listener goroutine has stopped.
func (l *Listener) Done() <-chan struct{} { return l.loopDone }

// run is the Listener goroutine.
func (l *Listener) run() {
	defer close(l.loopDone)
	defer l.shutdown()
	tick := time.NewTicker(l.tickEvery())
	defer tick.Stop()
	var spare []item
	for {
		batch := l.in.take(spare)
		if len(batch) == 0 {
			select {
			case <-l.in.wake:
			case <-tick.C:
				l.onTick()
			case <-l.stop:
				return
			}
			continue
		}
		for i := range batch {
			it := &batch[i]
			switch it.kind {
			case kindEvent:
				l.onEvent(it.ev)
			case kindReply:
				it.done(it.reply, it.err)
			case kindFunc:
				it.fn()
			}
			*it = item{}
			if i&63 == 63 {
				select {
				case <-l.stop:
					return
				default:
				}
			}
		}
		spare = batch[:0]
		l.afterBatch()
		select {
		case <-tick.C:
			l.onTick()
		case <-l.stop:
			return
		default:
		}
	}
}

func (l *Listener) tickEvery() time.Duration {
	d := time.Second
	if pt := l.cfg.ParkTimeout; pt > 0 && pt/4 < d {
		d = max(pt/4, 5*time.Millisecond)
	}
	return d
}

// shutdown runs on the Listener goroutine when it stops.
func (l *Listener) shutdown() {
	for _, w := range l.waiters {
		w.finish(ErrClosed)
	}
	l.waiters = nil
	if l.rt != nil {
		l.rt.Close()
	}
	l.setConnected(false)
}

// afterBatch runs after each batch of inbox items.
func (l *Listener) afterBatch() {
	if len(l.waiters) > 0 {
		l.checkWaiters()
	}
	rs := l.rt.Stats()
	l.mu.Lock()
	l.st.Callbacks, l.st.ScriptErrors, l.st.Waiting = rs.Callbacks, rs.Errors, rs.Waiting
	l.st.Events, l.st.Untracked = l.nEvents, l.nUntracked
	l.mu.Unlock()
}

// onTick runs the periodic duties: park timeouts, retrying a failed
// subscription update.
func (l *Listener) onTick() {
	now := time.Now()
	l.expireParked(now)
	if len(l.waiters) > 0 {
		l.checkWaiters()
	}
	if l.subStale.Load() && l.connected.Load() && now.Sub(l.subRetry) >= subRetryEvery {
		l.subRetry = now
		l.resubscribe()
	}
}
