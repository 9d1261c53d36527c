package originator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchlua/switchlua/host"
	"github.com/switchlua/switchlua/host/cdr"
	"github.com/switchlua/switchlua/models"
)

// State is the Originator's state.
type State int32

// The Originator's states (switchio's, plus STOPPING: offering has stopped
// and the Originator waits for its calls to end).
const (
	Initial State = iota
	Originating
	Stopping
	Stopped
)

// String returns the state's name as switchio prints it, e.g. "ORIGINATING".
func (s State) String() string {
	switch s {
	case Initial:
		return "INITIAL"
	case Originating:
		return "ORIGINATING"
	case Stopping:
		return "STOPPING"
	case Stopped:
		return "STOPPED"
	}
	return fmt.Sprintf("State(%d)", int32(s))
}

// Defaults of Config (switchio's).
const (
	DefaultRate  = 30
	DefaultLimit = 1
	// AutoDurationOffset is added to limit/rate for the automatic duration
	// (switchio adds 5 s). With it the calls outlive the ramp, so the run
	// reaches and holds the limit.
	AutoDurationOffset = time.Second
	// DefaultUser is the user part of the default self-call destination.
	DefaultUser = "switchlua"
	// DefaultProfile is the sofia profile of the self-call.
	DefaultProfile = "external"
	// MinSPS and MinMaxSessions are the least `fsctl sps` and `fsctl
	// max_sessions` the node set-up applies (switchio sets both to 10000).
	MinSPS         = 10000
	MinMaxSessions = 10000
	// DefaultLostAfter is the least time a node's connection stays down
	// before its calls are given up (see Config.LostAfter).
	DefaultLostAfter = 10 * time.Second
)

// spsSettle is how long Attach waits after raising a node's sps, for
// FreeSWITCH's once-a-second refill of the sessions-per-second budget.
const spsSettle = 1100 * time.Millisecond

// Offer describes one originate sent.
type Offer struct {
	Node string    // the node it was sent to
	UUID string    // the outbound leg's uuid, the call's tracking key
	App  string    // the app id ("" for the default app)
	Time time.Time // when it was sent
}

// Config configures an Originator. Rate, Limit, Duration, MaxOffered and
// Apps can be changed later with the Set methods.
type Config struct {
	// Rate is the offered load in calls per second (default 30; a negative
	// rate pauses offering).
	Rate float64
	// Limit is the most calls in progress at once, in erlangs (default 1).
	Limit int
	// Duration is how long a call lasts from its originate before the
	// Originator hangs it up, answered or not: every call offered is gone
	// by its offer time plus Duration, unless its app set
	// call.vars.noautohangup. 0: automatic, Limit/Rate + AutoDurationOffset
	// (recomputed when the rate or limit changes); negative: never (the app
	// hangs up).
	Duration time.Duration
	// MaxOffered stops offering after that many calls (0: no end); the
	// Originator then waits for the calls to end and reaches STOPPED.
	MaxOffered int64
	// Apps is the weighted mix of app ids (default: one app, the default).
	Apps []App

	// Dest is where the calls go: a SIP address user@host[:port] dialled
	// through Profile (or Gateway), or a full dial string containing '/'.
	// Default: a self-call to User@<the node's Profile SIP address>, read
	// with `sofia status profile <Profile>`.
	Dest string
	// User is the user part of the default self-call (default "switchlua").
	User string
	// Profile (default "external"), Gateway and Proxy as in
	// host.OriginateOptions.
	Profile, Gateway, Proxy string
	// Vars are extra channel variables of every originate.
	Vars map[string]string
	// OriginateTimeout is originate_timeout (default 60 s).
	OriginateTimeout time.Duration

	// LostAfter is how long a node's connection may stay down before the
	// node counts as lost: its calls in progress end at once as failed with
	// host.CauseLostConnection (one row each, with what was known of them;
	// their channels are killed if the node comes back) and
	// NodeCounts.Lost is set until it reconnects. 0: DefaultLostAfter or
	// the call duration, whichever is longer (a node back within a call's
	// duration ends its calls as usual); negative: never.
	LostAfter time.Duration

	// NodeLimits caps the calls in progress on a node (by its address as
	// given to the Pool), besides max_sessions/2.
	NodeLimits map[string]int
	// NoSetup leaves the nodes' fsctl settings alone.
	NoSetup bool
	// VerboseEvents forces `fsctl verbose_events true` in the node set-up
	// (otherwise it is set only when the apps' events need it).
	VerboseEvents bool

	// OnCallEnd, if set, gets one CDR row per call of ours once its last
	// leg is destroyed, or once its originate failed with no channel. It
	// runs on the node's Listener goroutine and must not block.
	OnCallEnd func(cdr.Row)
	// OnOffer, if set, is called after each originate is sent, on the
	// Originator's goroutine. It must not block.
	OnOffer func(Offer)

	// Logger (default: discard).
	Logger *slog.Logger
}

// Originator generates calls on a host.Pool. Its methods are safe for
// concurrent use.
type Originator struct {
	cfg    Config // immutable parts: destination, hooks, logger
	log    *slog.Logger
	hooked atomic.Bool

	// Settings and state; guarded by cfgMu.
	cfgMu      sync.Mutex
	state      State
	rate       float64
	limit      int
	autoDur    bool
	maxOffered int64
	apps       *wrr
	stoppedCh  chan struct{} // closed on entering STOPPED
	attached   bool
	closed     bool
	spsSet     int // the sps and max_sessions the set-up wants (for live raises)
	maxSet     int

	// Read without locks by the hooks and the pacer.
	stateA  atomic.Int32
	dur     atomic.Int64 // ns; < 0: no hangup
	killing atomic.Bool  // Stop(hangup): kill calls as they answer

	// nodes follows the pool (see syncNodes): written under cfgMu, by
	// Attach and then only by the Originator's goroutine, which reads it
	// without the lock; others read it under cfgMu.
	nodes []*node
	rr    int        // next node to try (the goroutine's)
	pool  *host.Pool // set by Attach

	joinMu  sync.Mutex
	joining map[*host.Listener]time.Time // nodes being set up (zero) or to retry then
	joined  []*node                      // set up, to add to nodes

	mu     sync.Mutex // guards calls and causes
	calls  map[string]*call
	causes map[string]int64
	cps    cpsRing

	hmu sync.Mutex // guards hq
	hq  deadlines

	active, peak, offered, answered, failed, ended atomic.Int64
	cancelled                                      atomic.Int64 // unanswered calls Stop(hangup) ended
	upAnswered                                     atomic.Int64 // answered calls not ended
	firstOffer, lastOffer                          atomic.Int64 // unix ns
	missed                                         atomic.Int64 // offers the pacer gave up after stalls

	wake chan struct{} // cap 1: a call ended, a setting changed, a deadline moved up
	quit chan struct{} // closed by Close
}

// node is one FreeSWITCH node of the pool.
type node struct {
	name string
	l    *host.Listener
	dest string

	capacity  atomic.Int64 // most calls in progress (0: no cap)
	active    atomic.Int64
	peak      atomic.Int64
	offered   atomic.Int64
	sessions  atomic.Int64 // sampled every housekeeping tick
	connected atomic.Bool
	dead      atomic.Bool // its Listener is closed
	left      atomic.Bool // its Listener left the pool (Pool.Remove): no new calls
	lost      atomic.Bool // down longer than LostAfter (until it reconnects)
	lostCalls atomic.Int64
	downSince time.Time // when its connection went down (the goroutine's)
	sps, maxS int       // the set-up it got (joining nodes)
	orphans   []string  // uuids to kill once connected (guarded by Originator.mu)
}

// call is one call of ours, from its originate to its end.
type call struct {
	key      string
	node     *node
	app      string
	offered  time.Time
	erlangs  int64        // calls in progress (ours, this one included) when offered
	sessions int64        // sessions on the pool's nodes when offered (sampled)
	answered bool         // the originate job succeeded; guarded by Originator.mu
	ended    bool         // guarded by Originator.mu
	stopped  bool         // Stop(hangup) hung it up; guarded by Originator.mu
	times    models.Times // the outbound leg's, at answer; guarded by Originator.mu
}

// New returns an Originator in state INITIAL. It errs only on an invalid
// app mix (see App).
func New(cfg Config) (*Originator, error) {
	if cfg.Rate == 0 {
		cfg.Rate = DefaultRate
	}
	if cfg.Rate < 0 {
		cfg.Rate = 0
	}
	if cfg.Limit <= 0 {
		cfg.Limit = DefaultLimit
	}
	if cfg.User == "" {
		cfg.User = DefaultUser
	}
	if cfg.Profile == "" {
		cfg.Profile = DefaultProfile
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	apps, err := newWRR(cfg.Apps)
	if err != nil {
		return nil, err
	}
	o := &Originator{
		cfg:        cfg,
		log:        cfg.Logger,
		rate:       cfg.Rate,
		limit:      cfg.Limit,
		maxOffered: cfg.MaxOffered,
		apps:       apps,
		stoppedCh:  make(chan struct{}),
		calls:      make(map[string]*call),
		causes:     make(map[string]int64),
		joining:    make(map[*host.Listener]time.Time),
		wake:       make(chan struct{}, 1),
		quit:       make(chan struct{}),
	}
	o.setDurationLocked(cfg.Duration)
	return o, nil
}

// Hook chains the Originator's call-end and job hooks in front of cfg's
// OnCallEnd and OnJob. Call it on the host.Config the Pool is dialled with,
// before dialling: without it the Originator never sees its calls end.
// Calls that are not ours pass through untouched.
func (o *Originator) Hook(cfg *host.Config) {
	prevEnd, prevJob := cfg.OnCallEnd, cfg.OnJob
	cfg.OnCallEnd = func(e host.CallEnd) {
		o.onCallEnd(e)
		if prevEnd != nil {
			prevEnd(e)
		}
	}
	cfg.OnJob = func(j *models.Job, s *models.Session) {
		o.onJob(j, s)
		if prevJob != nil {
			prevJob(j, s)
		}
	}
	o.hooked.Store(true)
}

// Attach prepares the pool's nodes: each node's destination (its own SIP
// address for the default self-call), the fsctl set-up (unless NoSetup)
// and its capacity. Call it once, after Hook and DialPool, before Start.
//
// The Originator then follows the pool (Pool.Listeners) while it runs: a
// node added later (dialled with the hooked host.Config, its apps loaded,
// e.g. apps.Manager.Attach, then Pool.Add) is set up the same way in the
// background and gets calls once that is done; a node removed
// (Pool.Remove) gets no new calls, and leaves Counts.Nodes once its calls
// in progress have ended.
func (o *Originator) Attach(ctx context.Context, pool *host.Pool) error {
	if !o.hooked.Load() {
		return errors.New("originator: Hook was not called on the pool's host.Config")
	}
	ls := pool.Listeners()
	if len(ls) == 0 {
		return errors.New("originator: the pool has no node")
	}
	o.cfgMu.Lock()
	if o.attached {
		o.cfgMu.Unlock()
		return errors.New("originator: already attached")
	}
	sps, maxS := o.wantLimitsLocked()
	o.cfgMu.Unlock()

	nodes := make([]*node, len(ls))
	errs := make([]error, len(ls))
	var raised atomic.Bool
	var wg sync.WaitGroup
	for i, l := range ls {
		nd := &node{name: l.Node(), l: l}
		nd.connected.Store(true)
		nodes[i] = nd
		wg.Go(func() {
			r, err := o.setupNode(ctx, nd, sps, maxS)
			var np *noProfileError
			switch {
			case errors.As(err, &np): // names the node
				errs[i] = fmt.Errorf("originator: %w", err)
			case err != nil:
				errs[i] = fmt.Errorf("originator: node %s: %w", nd.name, err)
			}
			if r {
				raised.Store(true)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if raised.Load() {
		if err := spsSettled(ctx); err != nil {
			return err
		}
	}
	o.cfgMu.Lock()
	defer o.cfgMu.Unlock()
	if o.attached {
		return errors.New("originator: already attached")
	}
	o.nodes = nodes
	o.pool = pool
	o.spsSet, o.maxSet = sps, maxS
	o.attached = true
	return nil
}

// Start begins (or resumes) offering: INITIAL, STOPPING or STOPPED become
// ORIGINATING. It needs Attach first.
func (o *Originator) Start() error {
	o.cfgMu.Lock()
	defer o.cfgMu.Unlock()
	if !o.attached {
		return errors.New("originator: Start before Attach")
	}
	if o.closed {
		return errors.New("originator: closed")
	}
	o.killing.Store(false)
	switch o.state {
	case Originating:
		return nil
	case Stopping: // the goroutine still runs
		o.setStateLocked(Originating)
		o.poke()
		return nil
	case Stopped:
		o.stoppedCh = make(chan struct{})
	}
	o.setStateLocked(Originating)
	go o.run()
	return nil
}

// Stop stops offering (ORIGINATING becomes STOPPING, then STOPPED once our
// calls have ended). With hangup it also hangs up every call of ours
// (uuid_kill per call, now and again each second for calls whose channel
// did not exist yet; a call whose originate succeeds later is killed at
// once). It does not wait: see Wait.
func (o *Originator) Stop(hangup bool) {
	o.cfgMu.Lock()
	if o.state == Originating {
		o.setStateLocked(Stopping)
	}
	run := o.state == Stopping
	if hangup && run {
		o.killing.Store(true)
	}
	o.cfgMu.Unlock()
	if hangup && run {
		o.killAll()
	}
	o.poke()
}

// Wait waits until the Originator is STOPPED (at once if it never started),
// or ctx ends.
func (o *Originator) Wait(ctx context.Context) error {
	o.cfgMu.Lock()
	ch, st := o.stoppedCh, o.state
	o.cfgMu.Unlock()
	if st == Initial {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the Originator's goroutine at once, without hanging up calls
// or waiting for them: the state becomes STOPPED and Wait returns. The pool
// is left open. Idempotent.
func (o *Originator) Close() {
	o.cfgMu.Lock()
	defer o.cfgMu.Unlock()
	if o.closed {
		return
	}
	o.closed = true
	if o.state != Stopped { // (entering STOPPED closed it)
		close(o.stoppedCh)
	}
	o.setStateLocked(Stopped)
	close(o.quit)
}

// State returns the current state.
func (o *Originator) State() State { return State(o.stateA.Load()) }

func (o *Originator) setStateLocked(s State) {
	o.state = s
	o.stateA.Store(int32(s))
}

// poke wakes the Originator's goroutine.
func (o *Originator) poke() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// SetRate changes the offered load (calls/s; 0 pauses offering), and the
// automatic duration with it. The nodes' sps is raised if it must be.
func (o *Originator) SetRate(r float64) {
	o.cfgMu.Lock()
	o.rate = max(r, 0)
	if o.autoDur {
		o.setDurationLocked(0)
	}
	o.raiseLimitsLocked()
	o.cfgMu.Unlock()
	o.poke()
}

// SetLimit changes the most calls in progress at once (and the automatic
// duration). Lowering it below the calls in progress stops offering until
// enough of them end; it hangs up nothing.
func (o *Originator) SetLimit(n int) {
	o.cfgMu.Lock()
	o.limit = max(n, 0)
	if o.autoDur {
		o.setDurationLocked(0)
	}
	o.raiseLimitsLocked()
	o.cfgMu.Unlock()
	o.poke()
}

// SetDuration changes the duration of calls offered from now on (0:
// automatic, negative: no hangup).
func (o *Originator) SetDuration(d time.Duration) {
	o.cfgMu.Lock()
	o.setDurationLocked(d)
	o.cfgMu.Unlock()
}

// SetMaxOffered changes the number of calls after which offering stops (0:
// no end).
func (o *Originator) SetMaxOffered(n int64) {
	o.cfgMu.Lock()
	o.maxOffered = max(n, 0)
	o.cfgMu.Unlock()
	o.poke()
}

// SetApps replaces the app mix.
func (o *Originator) SetApps(apps []App) error {
	w, err := newWRR(apps)
	if err != nil {
		return err
	}
	o.cfgMu.Lock()
	o.apps = w
	o.cfgMu.Unlock()
	return nil
}

// Duration returns the current call duration (negative: no hangup).
func (o *Originator) Duration() time.Duration { return time.Duration(o.dur.Load()) }

func (o *Originator) setDurationLocked(d time.Duration) {
	o.autoDur = d == 0
	if d == 0 {
		if o.rate <= 0 {
			return // keep the previous automatic duration while paused
		}
		d = time.Duration(float64(o.limit)/o.rate*float64(time.Second)) + AutoDurationOffset
	}
	o.dur.Store(int64(d))
}

// Counts is a snapshot of the Originator, for a status line and a summary.
type Counts struct {
	State      State
	Rate       float64
	Limit      int
	Duration   time.Duration
	MaxOffered int64

	// Active calls are in progress: from the originate to the destruction
	// of the last leg (or to the failure of a channel-less originate).
	// ActiveAnswered of them were answered (their originate succeeded).
	Active, ActiveAnswered int64
	// Peak is the most calls in progress at once so far.
	Peak int64
	// Offered counts originates sent; Answered originates that succeeded
	// (the outbound leg answered); Ended calls that are over; Failed calls
	// that were not answered or ended with a cause other than
	// NORMAL_CLEARING (switchio's rule), including originates that failed
	// with no channel, by cause in FailedByCause. Cancelled calls are not
	// in Failed: calls not answered yet that Stop(hangup) hung up (their
	// rows have Cancelled set and keep their cause); a call that failed
	// on its own while stopping still counts as failed.
	Offered, Answered, Ended, Failed, Cancelled int64
	FailedByCause                               map[string]int64
	// CPS is the offered rate over about the last second; AvgCPS over the
	// run, from the first to the last offer.
	CPS, AvgCPS float64
	// Missed counts offers the pacer skipped because it fell more than
	// 50 ms behind its schedule (the process was starved of CPU); offers
	// held back by the limit or full nodes are not missed.
	Missed int64
	// Nodes are per-node figures, in pool order (a node that joined later
	// after the others; one removed from the pool until its calls ended).
	Nodes []NodeCounts
}

// NodeCounts are one node's figures.
type NodeCounts struct {
	Node      string
	Connected bool
	Capacity  int64 // most calls in progress (0: no cap)
	Active    int64
	Peak      int64
	Offered   int64
	// Lost reports that the node's connection has been down longer than
	// Config.LostAfter (or its Listener was closed): its calls were given
	// up. LostCalls counts the node's calls that ended as lost with a
	// connection (host.CauseLostConnection): given up so, or whose
	// originate was in flight when the connection dropped.
	Lost      bool
	LostCalls int64
}

// Counts returns a snapshot of the counters.
func (o *Originator) Counts() Counts {
	o.cfgMu.Lock()
	c := Counts{State: o.state, Rate: o.rate, Limit: o.limit, MaxOffered: o.maxOffered}
	nodes := o.nodes
	o.cfgMu.Unlock()
	c.Duration = o.Duration()
	// Active and Peak are read before Offered: a call counts as active
	// from just before its originate is sent (for the limit) but as
	// offered only once it was sent, so the one offer in flight is left
	// out of Active; a peak is recorded after its offer is counted.
	c.Active, c.Peak = o.active.Load(), o.peak.Load()
	c.Offered, c.Answered = o.offered.Load(), o.answered.Load()
	c.Active = min(c.Active, c.Offered)
	c.ActiveAnswered = min(max(o.upAnswered.Load(), 0), c.Active)
	c.Ended, c.Failed, c.Missed = o.ended.Load(), o.failed.Load(), o.missed.Load()
	c.Cancelled = o.cancelled.Load()
	now := time.Now()
	o.mu.Lock()
	c.FailedByCause = maps.Clone(o.causes)
	c.CPS = o.cps.rate(now, c.Offered)
	o.mu.Unlock()
	if f, l := o.firstOffer.Load(), o.lastOffer.Load(); c.Offered > 1 && l > f {
		c.AvgCPS = float64(c.Offered-1) / (float64(l-f) / 1e9)
	}
	for _, nd := range nodes {
		nc := NodeCounts{
			Node: nd.name, Connected: nd.connected.Load() && !nd.dead.Load(),
			Capacity: nd.capacity.Load(), Active: nd.active.Load(), Peak: nd.peak.Load(),
		}
		nc.Offered = nd.offered.Load() // after Active and Peak, as above
		nc.Lost = nd.lost.Load() || nd.dead.Load()
		nc.LostCalls = nd.lostCalls.Load()
		nc.Active = min(nc.Active, nc.Offered)
		c.Nodes = append(c.Nodes, nc)
	}
	return c
}

// InProgress returns a partial CDR row for each call of ours still in
// progress, with what the Originator knows of it: its app, node, uuid and
// offer (job_launch), the sessions and calls in progress at its offer, and
// for an answered call the outbound leg's times at its answer (so its
// setup latency). Its hangup cause and hangup time are empty. It is meant
// for the end of a run whose calls did not all end (a summary's setup
// latency); the rows are not CDR rows of ended calls.
func (o *Originator) InProgress() []cdr.Row {
	failed := o.failed.Load()
	o.mu.Lock()
	defer o.mu.Unlock()
	rows := make([]cdr.Row, 0, len(o.calls))
	for _, c := range o.calls {
		r := o.partialRowLocked(c, "")
		r.ActiveSessions, r.Erlangs, r.FailedCalls = c.sessions, c.erlangs, failed
		rows = append(rows, r)
	}
	return rows
}

// partialRowLocked is the row of call c with what the Originator knows of
// it: its app, offer (job_launch), node and uuid, cause, and for an answered
// call the outbound leg's set-up times. Called with o.mu held.
func (o *Originator) partialRowLocked(c *call, cause string) cdr.Row {
	r := JobRow(o.appID(c), cause, c.offered, c.node.name, c.key)
	if c.answered {
		setCallerSetup(&r, c.times)
	}
	return r
}

// String is a one-line status, e.g. for a log line.
func (c Counts) String() string {
	return fmt.Sprintf("state=%s active=%d offered=%d answered=%d failed=%d cancelled=%d cps=%.1f peak=%d",
		c.State, c.Active, c.Offered, c.Answered, c.Failed, c.Cancelled, c.CPS, c.Peak)
}

// cpsRing keeps (time, offered) samples of about the last second.
type cpsRing struct {
	t [16]int64
	n [16]int64
	i int
}

func (r *cpsRing) add(now time.Time, offered int64) {
	r.i = (r.i + 1) % len(r.t)
	r.t[r.i], r.n[r.i] = now.UnixNano(), offered
}

// rate is the offers per second since the oldest sample at least 1 s old
// (or the oldest there is).
func (r *cpsRing) rate(now time.Time, offered int64) float64 {
	ns := now.UnixNano()
	best := -1
	for k := range len(r.t) {
		j := (r.i - k + len(r.t)) % len(r.t)
		if r.t[j] == 0 {
			break
		}
		best = j
		if ns-r.t[j] >= int64(time.Second) {
			break
		}
	}
	if best < 0 || ns <= r.t[best] {
		return 0
	}
	return float64(offered-r.n[best]) / (float64(ns-r.t[best]) / 1e9)
}
