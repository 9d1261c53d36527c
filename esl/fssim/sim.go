package fssim

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"time"
)

// Sim is a FreeSWITCH simulator: an ESL server (inbound mode) with a channel
// model. All methods are safe for concurrent use.
type Sim struct {
	cfg Config
	log *slog.Logger

	mu sync.Mutex
	// everything below is guarded by mu
	closed     bool
	lns        []net.Listener
	conns      map[*conn]struct{}
	listeners  []*conn // connections with events enabled
	legs       map[string]*leg
	seq        uint64
	rng        *rand.Rand
	hostBlock  string
	dates      dateCache
	start      time.Time
	deferring  bool
	deferred   []deferredEv
	verbose    bool
	globals    map[string]string
	tasks      map[uint32]*task
	taskID     uint32
	heartbeat  *time.Timer
	password   string
	dropAfter  int
	failRate   float64
	failCause  string
	ansDelay   time.Duration
	autoAnswer bool
	logLevel   int
	// DTMF durations in samples (see dtmf.go)
	dtmfDef, dtmfMin, dtmfMax int

	// FreeSWITCH's session accounting (switch_core_session.c)
	sessionsSince uint64 // session ids handed out
	maxSessions   int
	spsTotal      int
	sps           int   // tokens left in the current second
	spsSecond     int64 // the second sps belongs to
	spsLast       int
	spsPeak       int
	spsPeak5      int
	sessPeak      int
	sessPeak5     int

	stats   counters
	batch   lineBatch          // scratch of leg.apply and cdrVars
	scratch []byte             // where events are built
	lines   map[lineKey]string // see Sim.line
	// varIndex is the scratch name index of lineBatch.commitIndexed
	varIndex map[string]int
	wg       sync.WaitGroup
	profs    [2]sipProfile
	// now is the clock of sessions-per-second (tests replace it)
	now func() time.Time
}

// counters are the simulator's running totals, read through Stats.
type counters struct {
	originates, originateFailures, callsAnswered, legsCreated, legsDestroyed uint64
	eventsBuilt, eventsQueued, eventsLost, commands                          uint64
}

// Stats is a snapshot of the simulator's counters.
type Stats struct {
	Connections       int    // open ESL connections
	ActiveChannels    int    // legs not yet destroyed
	Originates        uint64 // originate commands run (api and bgapi)
	OriginateFailures uint64 // originates whose result was -ERR
	CallsAnswered     uint64 // self-calls whose inbound leg answered
	LegsCreated       uint64
	LegsDestroyed     uint64
	EventsBuilt       uint64 // events serialized (at least one listener wanted them)
	EventsQueued      uint64 // event copies queued to connections
	EventsLost        uint64 // events lost to full connection queues
	Commands          uint64 // ESL commands handled
}

// New returns a simulator configured by cfg (zero fields take DefaultConfig's
// values). It does not listen until Listen, Start or Run.
func New(cfg Config) *Sim {
	cfg = cfg.withDefaults()
	seed := uint64(cfg.Seed)
	if seed == 0 {
		var b [8]byte
		_, _ = io.ReadFull(crand.Reader, b[:])
		seed = binary.LittleEndian.Uint64(b[:])
	}
	s := &Sim{
		cfg:         cfg,
		log:         cfg.Logger,
		conns:       make(map[*conn]struct{}),
		legs:        make(map[string]*leg),
		rng:         rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		start:       time.Now(),
		globals:     make(map[string]string),
		tasks:       make(map[uint32]*task),
		password:    cfg.Password,
		dropAfter:   cfg.DropAfterEvents,
		failRate:    cfg.FailRate,
		failCause:   cfg.FailCause,
		ansDelay:    cfg.AnswerDelay,
		autoAnswer:  cfg.AutoAnswer,
		maxSessions: cfg.MaxSessions,
		spsTotal:    cfg.SessionsPerSecond,
		logLevel:    7,
		dtmfDef:     dtmfDefault,
		dtmfMin:     dtmfMin,
		dtmfMax:     dtmfMax,
		now:         time.Now,
		lines:       make(map[lineKey]string),
		varIndex:    make(map[string]int, 256),
		scratch:     make([]byte, 0, 32<<10),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if cfg.CoreUUID == "" {
		s.cfg.CoreUUID = s.newUUID()
	}
	s.sps = s.spsTotal
	s.profs = newProfiles(s.cfg)
	b := make([]byte, 0, 256)
	b = appendHeader(b, "Core-UUID", s.cfg.CoreUUID)
	b = appendHeader(b, "FreeSWITCH-Hostname", cfg.Hostname)
	b = appendHeader(b, "FreeSWITCH-Switchname", cfg.Hostname)
	b = appendHeader(b, "FreeSWITCH-IPv4", cfg.IPv4)
	b = appendHeader(b, "FreeSWITCH-IPv6", cfg.IPv6)
	s.hostBlock = string(b)
	s.initGlobals()
	if cfg.HeartbeatInterval > 0 {
		s.heartbeat = time.AfterFunc(cfg.HeartbeatInterval, s.beat)
	}
	return s
}

// Config returns the simulator's configuration (with defaults filled in).
func (s *Sim) Config() Config { return s.cfg }

// Listen starts serving ESL on addr ("127.0.0.1:0" picks a port) in the
// background and returns the listening address.
func (s *Sim) Listen(addr string) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = s.Serve(ln)
	}()
	return ln.Addr(), nil
}

// Start is Listen that returns the address as a string.
func (s *Sim) Start(addr string) (string, error) {
	a, err := s.Listen(addr)
	if err != nil {
		return "", err
	}
	return a.String(), nil
}

// ErrClosed is returned by Serve after Close.
var ErrClosed = errors.New("fssim: simulator closed")

// Serve accepts ESL connections on ln until Close (or until ln fails).
func (s *Sim) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ln.Close()
		return ErrClosed
	}
	s.lns = append(s.lns, ln)
	s.mu.Unlock()
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return ErrClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		if tc, ok := nc.(*net.TCPConn); ok {
			_ = tc.SetNoDelay(true)
		}
		c := newConn(s, nc)
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = nc.Close()
			return ErrClosed
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			c.serve()
		}()
	}
}

// ListenAndServe listens on cfg.Listen and serves until ctx ends, then closes
// the simulator. It is what `switchlua sim` runs.
func (s *Sim) ListenAndServe(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ln) }()
	select {
	case <-ctx.Done():
		s.Close()
		<-errc
		return nil
	case err := <-errc:
		s.Close()
		return err
	}
}

// Run is ListenAndServe.
func (s *Sim) Run(ctx context.Context) error { return s.ListenAndServe(ctx) }

// Addr returns the address of the first listener, or "" before Listen.
func (s *Sim) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.lns) == 0 {
		return ""
	}
	return s.lns[0].Addr().String()
}

// Close stops listening, tells every connection "The system is being shut
// down." and closes it, stops every timer and waits for the goroutines.
// Channels are dropped without events. Idempotent.
func (s *Sim) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closed = true
	for _, ln := range s.lns {
		_ = ln.Close()
	}
	for c := range s.conns {
		c.kill(shuttingDown)
		_ = c.nc.SetReadDeadline(time.Now())
	}
	if s.heartbeat != nil {
		s.heartbeat.Stop()
	}
	for _, l := range s.legs {
		l.stopTimers()
	}
	for _, t := range s.tasks {
		t.timer.Stop()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// Stats returns a snapshot of the counters.
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{
		Connections:       len(s.conns),
		ActiveChannels:    len(s.legs),
		Originates:        s.stats.originates,
		OriginateFailures: s.stats.originateFailures,
		CallsAnswered:     s.stats.callsAnswered,
		LegsCreated:       s.stats.legsCreated,
		LegsDestroyed:     s.stats.legsDestroyed,
		EventsBuilt:       s.stats.eventsBuilt,
		EventsQueued:      s.stats.eventsQueued,
		EventsLost:        s.stats.eventsLost,
		Commands:          s.stats.commands,
	}
}

// ActiveChannels returns the number of channels (legs) not yet destroyed.
func (s *Sim) ActiveChannels() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.legs)
}

// Channels returns the uuids of the live channels.
func (s *Sim) Channels() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.legs))
	for u := range s.legs {
		out = append(out, u)
	}
	return out
}

// SetAnswerDelay changes Config.AnswerDelay.
func (s *Sim) SetAnswerDelay(d time.Duration) {
	s.mu.Lock()
	s.ansDelay = d
	s.mu.Unlock()
}

// SetAutoAnswer changes Config.AutoAnswer.
func (s *Sim) SetAutoAnswer(on bool) {
	s.mu.Lock()
	s.autoAnswer = on
	s.mu.Unlock()
}

// SetFailure makes a share rate (0..1) of originates fail with cause
// (a FreeSWITCH cause name such as USER_BUSY, in any case, or its number;
// "" keeps the current one). A cause that is not a FreeSWITCH cause name is ignored (the
// current one stays) and logged as an error: check it first with
// Config{FailCause: cause}.Validate().
func (s *Sim) SetFailure(rate float64, cause string) {
	s.mu.Lock()
	s.failRate = rate
	name, ok := CanonicalCause(cause)
	switch {
	case cause == "":
	case ok:
		s.failCause = name
	default:
		s.log.Error("fssim: SetFailure: not a FreeSWITCH hangup cause, ignored", "cause", cause, "keeping", s.failCause)
	}
	s.mu.Unlock()
}

// SetMaxSessions is `fsctl max_sessions n`.
func (s *Sim) SetMaxSessions(n int) {
	s.mu.Lock()
	if n > 0 {
		s.maxSessions = n
	}
	s.mu.Unlock()
}

// SetSessionsPerSecond is `fsctl sps n`.
func (s *Sim) SetSessionsPerSecond(n int) {
	s.mu.Lock()
	if n > 0 {
		s.spsTotal = n
	}
	s.mu.Unlock()
}

// SetPassword changes the ESL password for new logins.
func (s *Sim) SetPassword(pw string) {
	s.mu.Lock()
	s.password = pw
	s.mu.Unlock()
}

// SetDropAfterEvents makes every connection close without notice once it has
// been sent n events in all (0: never).
func (s *Sim) SetDropAfterEvents(n int) {
	s.mu.Lock()
	s.dropAfter = n
	s.mu.Unlock()
}

// DropConnections closes every ESL connection at once, without a disconnect
// notice, as a network failure or a crash would. The simulator keeps
// listening and its channels live on.
func (s *Sim) DropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.drop()
	}
}

func (s *Sim) removeConn(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	s.setListening(c, false)
	c.gone = true
}

// setListening adds or removes c from the event listeners.
func (s *Sim) setListening(c *conn, on bool) {
	if c.eventsOn == on && (!on || c.inListeners()) {
		return
	}
	c.eventsOn = on
	if on {
		if !c.gone {
			s.listeners = append(s.listeners, c)
		}
		return
	}
	for i, x := range s.listeners {
		if x == c {
			s.listeners = append(s.listeners[:i], s.listeners[i+1:]...)
			break
		}
	}
}

func (c *conn) inListeners() bool {
	for _, x := range c.s.listeners {
		if x == c {
			return true
		}
	}
	return false
}

// after runs fn with s.mu held after d, unless the simulator is closed first.
func (s *Sim) after(d time.Duration, fn func()) *time.Timer {
	return time.AfterFunc(d, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.closed {
			fn()
		}
	})
}

// newUUID returns a random version 4 uuid. Called with s.mu held (or before
// the simulator is shared).
func (s *Sim) newUUID() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], s.rng.Uint64())
	binary.LittleEndian.PutUint64(b[8:], s.rng.Uint64())
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	j := 0
	for i, x := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		out[j] = lowerHex[x>>4]
		out[j+1] = lowerHex[x&15]
		j += 2
	}
	return string(out[:])
}

const lowerHex = "0123456789abcdef"

// beat fires HEARTBEAT and re-arms itself.
func (s *Sim) beat() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.fireHeartbeat()
	s.heartbeat.Reset(s.cfg.HeartbeatInterval)
}
