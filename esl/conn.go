package esl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/percipia/eslgo/command"
)

const (
	defaultPassword     = "ClueCon"
	defaultTimeout      = 5 * time.Second
	defaultReconnectMin = 100 * time.Millisecond
	defaultReconnectMax = 5 * time.Second
	defaultEventBuffer  = 4096
	closeFlushTimeout   = time.Second
)

// connection states (Conn.state)
const (
	stDown   = iota // reconnecting
	stUp            // authenticated, commands flow
	stClosed        // for good
)

// Conn is one authenticated ESL connection. All methods are safe for
// concurrent use.
type Conn struct {
	addr   string
	opts   Options
	log    *slog.Logger
	events chan *Event // nil in Handler mode

	quit    chan struct{} // closed by Close
	done    chan struct{} // closed when the reader goroutine ends
	wake    chan struct{} // deferred callbacks are waiting (cap 1)
	closing atomic.Bool

	mu        sync.Mutex
	state     int
	sess      *session
	fifo      fifo
	jobs      map[string]*jobEntry
	subs      subscriptions
	filters   [][2]string
	jobsUsed  bool // a bgapi was sent: keep BACKGROUND_JOB coming (see jobevents.go)
	jobFilter bool // the filter Event-Name BACKGROUND_JOB is (to be) applied
	deferred  []func()
	batch     []*Event // events read and not yet handed over (reader goroutine only)
	adapt     adapter  // where events are indexed (reader goroutine only)
	finalErr  error    // what commands get after the end: ErrClosed or the loss
	err       error    // why it ended (nil for Close)
}

// session is one socket: its reader (owned by the reader goroutine) and the
// write queue its writer goroutine drains.
type session struct {
	nc    net.Conn
	rd    *Reader
	wbuf  []byte        // commands waiting for the writer (under Conn.mu)
	wake  chan struct{} // cap 1
	dead  chan struct{} // closed when the session is torn down
	wdone chan struct{} // closed when the writer goroutine ends
	// closeAfterFlush makes the writer close the socket after writing what is
	// queued (Close's "exit").
	closeAfterFlush bool
}

// pending is one command waiting for its reply, in FIFO order.
type pending struct {
	done func(reply string, err error) // SendAsync
	ch   chan result                   // Send (buffered 1; abandoned on ctx expiry)
	job  *jobEntry                     // bgapi: a refused command fails the job
}

type result struct {
	reply *Reply
	err   error
}

// fifo is the queue of commands awaiting replies.
type fifo struct {
	items []*pending
	head  int
}

func (q *fifo) push(p *pending) { q.items = append(q.items, p) }

func (q *fifo) pop() *pending {
	if q.head >= len(q.items) {
		return nil
	}
	p := q.items[q.head]
	q.items[q.head] = nil
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	} else if q.head > 1024 && q.head*2 > len(q.items) {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	return p
}

func (q *fifo) take() []*pending {
	out := q.items[q.head:]
	q.items, q.head = nil, 0
	return out
}

func (q *fifo) len() int { return len(q.items) - q.head }

// Dial connects to addr (host:port; port 8021 if missing) and authenticates.
// A wrong password returns an error wrapping ErrAuth; a rude rejection one
// wrapping ErrRejected; an unreachable host an error within DialTimeout.
func Dial(ctx context.Context, addr string, opts Options) (*Conn, error) {
	if opts.Password == "" {
		opts.Password = defaultPassword
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = defaultTimeout
	}
	if opts.AuthTimeout <= 0 {
		opts.AuthTimeout = defaultTimeout
	}
	if opts.ReconnectMin <= 0 {
		opts.ReconnectMin = defaultReconnectMin
	}
	if opts.ReconnectMax <= 0 {
		opts.ReconnectMax = defaultReconnectMax
	}
	if opts.ReconnectMax < opts.ReconnectMin {
		opts.ReconnectMax = opts.ReconnectMin
	}
	if opts.EventBuffer <= 0 {
		opts.EventBuffer = defaultEventBuffer
	}
	if opts.MaxFrame <= 0 {
		opts.MaxFrame = DefaultMaxFrame
	}
	c := &Conn{
		addr: withDefaultPort(addr),
		opts: opts,
		log:  opts.Logger,
		quit: make(chan struct{}),
		done: make(chan struct{}),
		wake: make(chan struct{}, 1),
		jobs: make(map[string]*jobEntry),
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if opts.Handler == nil {
		c.events = make(chan *Event, opts.EventBuffer)
	}
	s, early, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.state = stUp
	c.sess = s
	c.mu.Unlock()
	go c.writeLoop(s)
	go c.run(s, early)
	return c, nil
}

func withDefaultPort(addr string) string {
	if _, _, err := net.SplitHostPort(addr); err == nil {
		return addr
	}
	host := strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
	return net.JoinHostPort(host, "8021")
}

// ---- dial, auth and (re)subscribe ----

// connect dials, authenticates and re-applies filters and subscriptions. It
// returns the events that arrived during the handshake (normally none), to be
// delivered before anything else.
func (c *Conn) connect(ctx context.Context) (*session, []*Event, error) {
	d := net.Dialer{Timeout: c.opts.DialTimeout}
	nc, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return nil, nil, fmt.Errorf("esl: cannot connect to FreeSWITCH at %s (dial timeout %v): %w", c.addr, c.opts.DialTimeout, err)
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	s := &session{
		nc:    nc,
		rd:    NewReader(nc),
		wake:  make(chan struct{}, 1),
		dead:  make(chan struct{}),
		wdone: make(chan struct{}),
	}
	s.rd.MaxFrame = c.opts.MaxFrame
	early, err := c.handshake(ctx, s)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return s, early, nil
}

func (c *Conn) handshake(ctx context.Context, s *session) ([]*Event, error) {
	deadline := time.Now().Add(c.opts.AuthTimeout)
	ctxDeadline := false
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline, ctxDeadline = d, true
	}
	_ = s.nc.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = s.nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	h := handshaker{c: c, s: s}
	err := h.run()
	if err != nil {
		timeout := errors.Is(err, os.ErrDeadlineExceeded)
		if cerr := ctx.Err(); cerr != nil || (timeout && ctxDeadline) {
			if cerr == nil {
				cerr = context.DeadlineExceeded
			}
			err = fmt.Errorf("esl: connecting to %s: %w", c.addr, cerr)
		} else if timeout {
			err = fmt.Errorf("esl: FreeSWITCH at %s did not complete authentication within the auth timeout (%v): %w",
				c.addr, c.opts.AuthTimeout, err)
		}
		return nil, err
	}
	// Deadlines are for the handshake only: clear them.
	if err := s.nc.SetDeadline(time.Time{}); err != nil {
		return nil, fmt.Errorf("esl: %s: %w", c.addr, err)
	}
	return h.early, nil
}

type handshaker struct {
	c     *Conn
	s     *session
	early []*Event
}

func (h *handshaker) run() error {
	c := h.c
	// auth/request
	if _, err := h.next(true); err != nil {
		return err
	}
	reply, err := h.command(command.Auth{User: c.opts.User, Password: c.opts.Password}.BuildMessage())
	if err != nil {
		return err
	}
	if !strings.HasPrefix(reply, "+OK") {
		who := "password"
		if c.opts.User != "" {
			who = "user or password"
		}
		return fmt.Errorf("%w: FreeSWITCH at %s replied %q (wrong %s?)", ErrAuth, c.addr, reply, who)
	}
	// Filters before the subscription, so no unfiltered event slips through.
	c.mu.Lock()
	filters := append([][2]string(nil), c.filters...)
	if c.jobFilter {
		filters = append(filters, [2]string{"Event-Name", jobEventName})
	}
	sub := c.subs.message()
	c.mu.Unlock()
	for _, f := range filters {
		msg := command.Filter{EventHeader: f[0], FilterValue: f[1]}.BuildMessage()
		if r, err := h.command(msg); err != nil {
			return err
		} else if isErrorReply(r) {
			c.log.Warn("esl: re-applying filter failed", "addr", c.addr, "filter", msg, "reply", r)
		}
	}
	if sub != "" {
		if r, err := h.command(sub); err != nil {
			return err
		} else if isErrorReply(r) {
			c.log.Warn("esl: re-subscribing failed", "addr", c.addr, "command", sub, "reply", r)
		}
	}
	return nil
}

// command writes one command and waits for its reply text.
func (h *handshaker) command(cmd string) (string, error) {
	if _, err := h.s.nc.Write(appendCommand(nil, cmd)); err != nil {
		return "", fmt.Errorf("esl: writing to %s: %w", h.c.addr, err)
	}
	f, err := h.next(false)
	if err != nil {
		return "", err
	}
	if f.ContentType == TypeAPIResponse {
		return trimReply(string(f.Body)), nil
	}
	return trimReply(string(f.lookup("Reply-Text"))), nil
}

// next reads frames until an auth/request (auth) or a reply (!auth).
func (h *handshaker) next(auth bool) (*Frame, error) {
	c := h.c
	for {
		f, err := h.s.rd.ReadFrame()
		if err != nil {
			if err == io.EOF || errors.Is(err, net.ErrClosed) {
				return nil, fmt.Errorf("esl: FreeSWITCH at %s closed the connection during authentication", c.addr)
			}
			return nil, fmt.Errorf("esl: reading from %s during authentication: %w", c.addr, err)
		}
		switch f.ContentType {
		case TypeAuthRequest:
			if auth {
				return f, nil
			}
		case TypeCommandReply, TypeAPIResponse:
			if !auth {
				return f, nil
			}
		case TypeRudeRejection:
			return nil, fmt.Errorf("%w: %s said %q", ErrRejected, c.addr, strings.TrimSpace(string(f.Body)))
		case TypeDisconnect:
			return nil, fmt.Errorf("esl: FreeSWITCH at %s disconnected during authentication: %q", c.addr, strings.TrimSpace(string(f.Body)))
		case TypeEventPlain, TypeEventJSON:
			if ev, err := f.Event(); err == nil {
				h.early = append(h.early, ev)
			}
		}
	}
}

// ---- the reader goroutine ----

// run is the reader goroutine: it reads the current socket until it fails,
// fails what was in flight, reconnects if enabled, and finally closes Events
// and Done.
func (c *Conn) run(s *session, early []*Event) {
	for {
		for _, ev := range early {
			if !c.deliver(ev) {
				break
			}
		}
		cause := c.readLoop(s)
		closing := c.closing.Load()
		final := closing || !c.opts.Reconnect
		if closing {
			// Let the writer flush Close's "exit" (it closes the socket).
			t := time.NewTimer(closeFlushTimeout)
			select {
			case <-s.wdone:
			case <-t.C:
			}
			t.Stop()
		}

		c.mu.Lock()
		s.nc.Close()
		close(s.dead)
		c.sess = nil
		if final {
			c.state = stClosed
		} else {
			c.state = stDown
		}
		inflight := c.fifo.take()
		jobs := c.jobs
		c.jobs = make(map[string]*jobEntry)
		var failErr error = ErrClosed
		if !closing {
			failErr = lostError(c.addr, cause)
		}
		if final {
			c.finalErr = failErr
			if !closing {
				c.err = failErr
			}
		}
		c.mu.Unlock()

		if !closing {
			c.log.Warn("esl: connection lost", "addr", c.addr, "err", cause, "reconnect", c.opts.Reconnect)
		}
		for _, p := range inflight {
			p.complete(nil, failErr)
		}
		for _, j := range jobs {
			j.complete(nil, failErr)
		}
		if final {
			c.finish(failErr, closing)
			return
		}
		c.state_(StateChange{State: StateDisconnected, Err: failErr})
		s, early = c.reconnect()
		if s == nil {
			c.finish(ErrClosed, true)
			return
		}
		c.state_(StateChange{State: StateConnected, Reconnected: true})
	}
}

func lostError(addr string, cause error) error {
	switch {
	case cause == nil:
		return ErrConnectionLost
	case errors.Is(cause, io.EOF):
		return fmt.Errorf("%w: FreeSWITCH at %s closed the connection", ErrConnectionLost, addr)
	}
	return fmt.Errorf("%w: %s: %w", ErrConnectionLost, addr, cause)
}

// finish ends the connection for good: late deferred callbacks, StateClosed,
// Events and Done.
func (c *Conn) finish(err error, closing bool) {
	c.mu.Lock()
	c.state = stClosed
	if c.finalErr == nil {
		c.finalErr = err
	}
	c.mu.Unlock()
	c.runDeferred()
	var why error
	if !closing {
		why = err
	}
	c.state_(StateChange{State: StateClosed, Err: why})
	if c.events != nil {
		close(c.events)
	}
	close(c.done)
}

func (c *Conn) state_(sc StateChange) {
	if c.opts.OnState != nil {
		c.opts.OnState(sc)
	}
}

// readLoop reads frames and dispatches them in wire order until the socket
// fails, the server says goodbye or Close is called. It returns why.
//
// It is the whole read side: frames are cut out of one large buffer in
// place, an event costs one copy of its body (see Event: it is indexed
// lazily, by whoever needs its headers), and replies are paired as they come.
// Events for the Events channel are handed over in batches (those of one
// read, at most maxBatch), so a consumer that keeps up is woken once per
// batch rather than once per event; anything else that arrives (a reply, a
// notice, an error) first flushes the batch, so the order is kept.
func (c *Conn) readLoop(s *session) error {
	rd := s.rd
	batch := c.batch[:0]
	defer func() {
		clear(batch)
		c.batch = batch[:0]
	}()
	flush := func() bool {
		for i, ev := range batch {
			if !c.deliver(ev) {
				clear(batch[i:])
				batch = batch[:0]
				return false
			}
			batch[i] = nil
		}
		batch = batch[:0]
		return true
	}
	for {
		if c.closing.Load() {
			return ErrClosed
		}
		f, need, err := rd.buffered()
		if f == nil && err == nil {
			// Nothing complete is buffered: hand over what we have before
			// the read blocks.
			if !flush() {
				return ErrClosed
			}
			if err = rd.more(need); err == nil {
				continue
			}
		}
		if err != nil {
			if !flush() || c.closing.Load() {
				return ErrClosed
			}
			return err
		}
		switch f.ContentType {
		case TypeEventPlain, TypeEventJSON:
			var ev *Event
			var err error
			if f.ContentType == TypeEventPlain {
				ev, err = c.adapt.event(f)
			} else {
				ev, err = f.Event()
			}
			if err != nil {
				c.log.Warn("esl: skipping unparsable event", "addr", c.addr, "err", err)
				continue
			}
			if c.events == nil {
				if !c.deliver(ev) {
					return ErrClosed
				}
				continue
			}
			batch = append(batch, ev)
			if len(batch) >= maxBatch && !flush() {
				return ErrClosed
			}
			continue
		}
		if !flush() {
			return ErrClosed
		}
		switch f.ContentType {
		case TypeCommandReply:
			r := &Reply{ContentType: f.ContentType, Text: trimReply(string(f.lookup("Reply-Text")))}
			if j := f.lookup("Job-UUID"); len(j) > 0 {
				r.JobUUID = string(j)
			}
			c.reply(r)
		case TypeAPIResponse:
			c.reply(&Reply{ContentType: f.ContentType, Text: trimReply(string(f.Body))})
		case TypeDisconnect:
			if string(f.lookup("Content-Disposition")) == "linger" {
				continue // outbound sockets only; the socket stays up
			}
			return fmt.Errorf("server sent text/disconnect-notice: %q", strings.TrimSpace(string(f.Body)))
		case TypeRudeRejection:
			return fmt.Errorf("%w: %q", ErrRejected, strings.TrimSpace(string(f.Body)))
		default:
			// log/data (we never ask for logs), a late auth/request, unknown
			// types: skipped, never fatal.
			c.log.Debug("esl: skipping frame", "addr", c.addr, "content_type", f.ContentType)
		}
	}
}

// maxBatch bounds the events held back for one hand-over to the Events
// channel.
const maxBatch = 64

// deliver completes a BACKGROUND_JOB's job, then hands the event on. It
// returns false when Close interrupted a blocked delivery.
func (c *Conn) deliver(ev *Event) bool {
	if ev.Name() == "BACKGROUND_JOB" {
		if id := ev.Get("Job-UUID"); id != "" {
			c.mu.Lock()
			j := c.jobs[id]
			if j != nil {
				delete(c.jobs, id)
			}
			c.mu.Unlock()
			if j != nil {
				j.complete(ev, nil)
			}
		}
	}
	if h := c.opts.Handler; h != nil {
		h(ev)
		return true
	}
	select {
	case c.events <- ev:
		return true
	default:
	}
	select {
	case c.events <- ev:
		return true
	case <-c.quit:
		return false
	}
}

// reply pairs a command/reply or api/response with the oldest command.
func (c *Conn) reply(r *Reply) {
	c.mu.Lock()
	p := c.fifo.pop()
	c.mu.Unlock()
	if p == nil {
		if !c.closing.Load() {
			c.log.Warn("esl: reply with no command waiting", "addr", c.addr, "content_type", r.ContentType)
		}
		return
	}
	var err error
	if isErrorReply(r.Text) {
		err = &ServerError{Reply: r.Text}
	}
	p.complete(r, err)
}

func (p *pending) complete(r *Reply, err error) {
	if p.job != nil && err != nil {
		p.job.c.dropJob(p.job)
		p.job.complete(nil, err)
	}
	switch {
	case p.ch != nil:
		p.ch <- result{r, err}
	case p.done != nil:
		if err != nil {
			p.done("", err)
		} else {
			p.done(r.Text, nil)
		}
	}
}

func trimReply(s string) string { return strings.TrimRight(s, "\r\n") }

func isErrorReply(s string) bool {
	return strings.HasPrefix(s, "-ERR") || strings.HasPrefix(s, "-USAGE")
}

// reconnect redials with exponential backoff until it succeeds or Close is
// called (nil). Commands sent meanwhile fail on this goroutine.
func (c *Conn) reconnect() (*session, []*Event) {
	delay := c.opts.ReconnectMin
	for attempt := 1; ; attempt++ {
		// Jitter of +-20% so many clients do not redial in step.
		wait := time.Duration(float64(delay) * (0.8 + 0.4*rand.Float64()))
		if !c.sleep(wait) {
			return nil, nil
		}
		type res struct {
			s     *session
			early []*Event
			err   error
		}
		ctx, cancel := context.WithCancel(context.Background())
		ch := make(chan res, 1)
		go func() {
			s, early, err := c.connect(ctx)
			ch <- res{s, early, err}
		}()
		var r res
	wait:
		for {
			select {
			case r = <-ch:
				break wait
			case <-c.wake:
				c.runDeferred()
			case <-c.quit:
				cancel()
				r = <-ch
				if r.s != nil {
					r.s.nc.Close()
				}
				return nil, nil
			}
		}
		cancel()
		if r.err != nil {
			c.log.Warn("esl: reconnect failed", "addr", c.addr, "attempt", attempt, "err", r.err)
			delay *= 2
			if delay > c.opts.ReconnectMax {
				delay = c.opts.ReconnectMax
			}
			continue
		}
		c.mu.Lock()
		if c.closing.Load() {
			c.mu.Unlock()
			r.s.nc.Close()
			return nil, nil
		}
		c.state = stUp
		c.sess = r.s
		c.mu.Unlock()
		// Anything deferred before we came up fails before new traffic.
		c.runDeferred()
		go c.writeLoop(r.s)
		c.log.Info("esl: reconnected", "addr", c.addr, "attempt", attempt)
		return r.s, r.early
	}
}

// sleep waits d while running deferred callbacks; false if Close was called.
func (c *Conn) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			return true
		case <-c.wake:
			c.runDeferred()
		case <-c.quit:
			return false
		}
	}
}

func (c *Conn) runDeferred() {
	for {
		c.mu.Lock()
		fns := c.deferred
		c.deferred = nil
		c.mu.Unlock()
		if len(fns) == 0 {
			return
		}
		for _, fn := range fns {
			fn()
		}
	}
}

// ---- the writer goroutine ----

func (c *Conn) writeLoop(s *session) {
	defer close(s.wdone)
	var spare []byte
	for {
		select {
		case <-s.wake:
		case <-s.dead:
			return
		}
		c.mu.Lock()
		buf := s.wbuf
		s.wbuf = spare[:0]
		closeAfter := s.closeAfterFlush
		c.mu.Unlock()
		if len(buf) > 0 {
			if _, err := s.nc.Write(buf); err != nil {
				// The reader sees the failure and reports the loss.
				s.nc.Close()
				return
			}
		}
		if cap(buf) <= 1<<20 {
			spare = buf
		} else {
			spare = nil
		}
		if closeAfter {
			s.nc.Close()
			return
		}
	}
}

func (s *session) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// appendCommand appends cmd as it goes on the wire: a command without a body
// is terminated by a blank line; a command whose header block carries
// Content-Length already is `headers\n\nbody` and is written as is.
func appendCommand(dst []byte, cmd string) []byte {
	if hasBody(cmd) {
		return append(dst, cmd...)
	}
	dst = append(dst, strings.TrimRight(cmd, "\r\n")...)
	return append(dst, '\n', '\n')
}

func hasBody(cmd string) bool {
	end := strings.Index(cmd, "\n\n")
	if e := strings.Index(cmd, "\r\n\r\n"); e >= 0 && (end < 0 || e < end) {
		end = e
	}
	if end < 0 {
		return false
	}
	for _, line := range strings.Split(cmd[:end], "\n") {
		if i := strings.IndexByte(line, ':'); i >= 0 && strings.EqualFold(strings.TrimSpace(line[:i]), "Content-Length") {
			return true
		}
	}
	return false
}

// ---- sending ----

// enqueue queues a command and its FIFO slot (and registers its job) under
// one lock, so replies pair in write order. It returns ErrNotConnected or the
// final error without queuing anything.
func (c *Conn) enqueue(cmd string, p *pending) error {
	c.mu.Lock()
	if c.closing.Load() && c.state != stClosed {
		c.mu.Unlock()
		return ErrClosed
	}
	switch c.state {
	case stClosed:
		err := c.finalErr
		c.mu.Unlock()
		return err
	case stDown:
		c.mu.Unlock()
		return ErrNotConnected
	}
	s := c.sess
	if p.job != nil {
		if _, dup := c.jobs[p.job.uuid]; dup {
			c.mu.Unlock()
			return fmt.Errorf("esl: a job with Job-UUID %s is already running", p.job.uuid)
		}
		c.jobs[p.job.uuid] = p.job
		c.ensureJobEventsLocked(s)
	}
	c.fifo.push(p)
	s.wbuf = appendCommand(s.wbuf, cmd)
	c.mu.Unlock()
	s.signal()
	return nil
}

// fail reports err to a callback: on the reader goroutine while the
// connection may come back, at once when it is closed for good.
func (c *Conn) fail(err error, fn func()) {
	if errors.Is(err, ErrNotConnected) {
		c.mu.Lock()
		if c.state != stClosed {
			c.deferred = append(c.deferred, fn)
			c.mu.Unlock()
			select {
			case c.wake <- struct{}{}:
			default:
			}
			return
		}
		c.mu.Unlock()
	}
	fn()
}

// Events returns the channel of events in arrival order. It is closed when
// the connection is closed for good. Unused (nil) when Options.Handler is set.
func (c *Conn) Events() <-chan *Event {
	if c.events == nil {
		return nil
	}
	return c.events
}

// Send writes one raw command (e.g. "api status", or a multi-line sendmsg,
// without the terminating blank line) and waits for its reply. If ctx ends
// first Send returns ctx.Err() and the late reply is discarded, never handed
// to another command. A "-ERR" reply is returned as a *ServerError with the
// reply (the *Reply is returned too). For api the reply is the api/response
// body; for other commands the Reply-Text.
func (c *Conn) Send(ctx context.Context, cmd string) (*Reply, error) {
	return c.send(ctx, cmd, nil)
}

func (c *Conn) send(ctx context.Context, cmd string, job *jobEntry) (*Reply, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := &pending{ch: make(chan result, 1), job: job}
	if err := c.enqueue(cmd, p); err != nil {
		return nil, err
	}
	select {
	case r := <-p.ch:
		return r.reply, r.err
	case <-ctx.Done():
		// The slot stays in the FIFO: the late reply lands in p.ch, unread.
		if job != nil {
			c.dropJob(job)
		}
		return nil, ctx.Err()
	}
}

// SendAsync queues cmd and returns at once; it never blocks on the network.
// done is called exactly once with the reply text (api body or Reply-Text,
// without trailing newline) or an error (*ServerError, ErrConnectionLost,
// ErrNotConnected, ErrClosed). See Options.Handler for ordering.
func (c *Conn) SendAsync(cmd string, done func(reply string, err error)) {
	if done == nil {
		done = func(string, error) {}
	}
	if err := c.enqueue(cmd, &pending{done: done}); err != nil {
		c.fail(err, func() { done("", err) })
	}
}

// API runs `api cmd` and returns the response body (trailing newline trimmed).
func (c *Conn) API(ctx context.Context, cmd string) (string, error) {
	r, err := c.Send(ctx, apiMessage(cmd, false))
	if err != nil {
		return "", err
	}
	return r.Text, nil
}

// apiMessage builds `api cmd` / `bgapi cmd` with eslgo's command.API, minus
// the trailing space it adds when there are no arguments.
func apiMessage(cmd string, bg bool) string {
	cmd = strings.TrimSpace(cmd)
	name, args, _ := strings.Cut(cmd, " ")
	msg := command.API{Command: name, Arguments: args, Background: bg}.BuildMessage()
	if args == "" {
		msg = strings.TrimSuffix(msg, " ")
	}
	return msg
}

// BgAPI runs `bgapi cmd` with its own Job-UUID header, so the job is
// registered before FreeSWITCH can answer. The Job completes with the
// BACKGROUND_JOB event (which is also delivered to the event stream).
//
// FreeSWITCH only sends BACKGROUND_JOB to a connection subscribed to it, so
// the first bgapi subscribes the connection to BACKGROUND_JOB if Subscribe
// did not (and, while it has filters, adds a filter Event-Name
// BACKGROUND_JOB); this is remembered for reconnects like the caller's own
// subscriptions, and the events show up in the stream. A NoEvents or an
// Unsubscribe of BACKGROUND_JOB while jobs run starves them until the next
// bgapi subscribes again: give Wait a context with a deadline.
func (c *Conn) BgAPI(ctx context.Context, cmd string) (*Job, error) {
	j := &Job{UUID: NewUUID(), done: make(chan struct{})}
	je := &jobEntry{c: c, uuid: j.UUID, job: j}
	if _, err := c.send(ctx, bgapiMessage(cmd, j.UUID), je); err != nil {
		return nil, err
	}
	return j, nil
}

func bgapiMessage(cmd, jobUUID string) string {
	return apiMessage(cmd, true) + "\nJob-UUID: " + jobUUID
}

// BgAPIAsync is BgAPI that never blocks: jobUUID is sent as the Job-UUID
// header (generated when empty) and returned; done is called once with the
// BACKGROUND_JOB event or an error (a refused command, ErrConnectionLost...).
// It subscribes to BACKGROUND_JOB as BgAPI does.
func (c *Conn) BgAPIAsync(cmd, jobUUID string, done func(ev *Event, err error)) string {
	if jobUUID == "" {
		jobUUID = NewUUID()
	}
	if done == nil {
		done = func(*Event, error) {}
	}
	je := &jobEntry{c: c, uuid: jobUUID, done: done}
	if err := c.enqueue(bgapiMessage(cmd, jobUUID), &pending{job: je}); err != nil {
		c.fail(err, func() { done(nil, err) })
	}
	return jobUUID
}

// ---- subscriptions and filters ----

// Subscribe sends `event plain <names...>` (a CUSTOM subclass is given as
// "CUSTOM sub::class" or just "sub::class") and remembers the names so a
// reconnect re-subscribes.
func (c *Conn) Subscribe(ctx context.Context, names ...string) error {
	var add subscriptions
	add.add(names)
	msg := add.message()
	if msg == "" {
		return errors.New("esl: Subscribe: no event names")
	}
	if err := c.ack(ctx, msg); err != nil {
		return err
	}
	c.mu.Lock()
	c.subs.add(names)
	c.mu.Unlock()
	return nil
}

// Unsubscribe sends `nixevent <names...>` and forgets them.
func (c *Conn) Unsubscribe(ctx context.Context, names ...string) error {
	var rm subscriptions
	rm.add(names)
	toks := rm.tokens()
	if len(toks) == 0 {
		return errors.New("esl: Unsubscribe: no event names")
	}
	// eslgo's command.Event{Ignore: true} writes "nixevent plain ...", which
	// is not FreeSWITCH's syntax: build it by hand.
	if err := c.ack(ctx, "nixevent "+strings.Join(toks, " ")); err != nil {
		return err
	}
	c.mu.Lock()
	c.subs.remove(&rm)
	c.mu.Unlock()
	return nil
}

// NoEvents sends `noevents` and forgets all subscriptions.
func (c *Conn) NoEvents(ctx context.Context) error {
	if err := c.ack(ctx, command.DisableEvents{}.BuildMessage()); err != nil {
		return err
	}
	c.mu.Lock()
	c.subs = subscriptions{}
	c.mu.Unlock()
	return nil
}

// Filter sends `filter <header> <value>` and remembers it for reconnects.
// Once bgapi was used, the first filter is followed by a filter that lets
// BACKGROUND_JOB events through (see BgAPI).
func (c *Conn) Filter(ctx context.Context, header, value string) error {
	if err := c.ack(ctx, command.Filter{EventHeader: header, FilterValue: value}.BuildMessage()); err != nil {
		return err
	}
	c.mu.Lock()
	c.filters = append(c.filters, [2]string{header, value})
	c.mu.Unlock()
	c.syncJobFilter()
	return nil
}

// FilterDelete sends `filter delete <header> [<value>]` and forgets it
// (header "all" deletes every filter).
func (c *Conn) FilterDelete(ctx context.Context, header, value string) error {
	if err := c.ack(ctx, command.Filter{Delete: true, EventHeader: header, FilterValue: value}.BuildMessage()); err != nil {
		return err
	}
	c.mu.Lock()
	all := strings.EqualFold(header, "all")
	kept := c.filters[:0]
	for _, f := range c.filters {
		if all || strings.EqualFold(f[0], header) && (value == "" || f[1] == value) {
			continue
		}
		kept = append(kept, f)
	}
	c.filters = kept
	if all || isJobFilterDelete(header, value) {
		c.jobFilter = false // gone on the server too
	}
	c.mu.Unlock()
	c.syncJobFilter()
	return nil
}

func (c *Conn) ack(ctx context.Context, cmd string) error {
	_, err := c.Send(ctx, cmd)
	return err
}

// subscriptions remembers what `event plain` asked for.
type subscriptions struct {
	names   []string // event names, in first-asked order
	custom  bool     // CUSTOM was named
	classes []string // CUSTOM subclasses
}

func (s *subscriptions) add(names []string) {
	for _, arg := range names {
		for _, tok := range strings.Fields(arg) {
			switch {
			case strings.EqualFold(tok, "CUSTOM"):
				s.custom = true
			case strings.Contains(tok, "::"):
				if !contains(s.classes, tok) {
					s.classes = append(s.classes, tok)
				}
			default:
				if !contains(s.names, tok) {
					s.names = append(s.names, tok)
				}
			}
		}
	}
}

func (s *subscriptions) remove(rm *subscriptions) {
	s.names = without(s.names, rm.names)
	s.classes = without(s.classes, rm.classes)
	if rm.custom && len(rm.classes) == 0 {
		s.custom = false
		s.classes = nil
	}
}

// tokens lists the subscription as FreeSWITCH wants it: names, then CUSTOM
// and its subclasses (every word after CUSTOM is a subclass).
func (s *subscriptions) tokens() []string {
	out := append([]string(nil), s.names...)
	if s.custom || len(s.classes) > 0 {
		out = append(out, "CUSTOM")
		out = append(out, s.classes...)
	}
	return out
}

// message is the `event plain ...` command, or "" when nothing is subscribed.
func (s *subscriptions) message() string {
	toks := s.tokens()
	if len(toks) == 0 {
		return ""
	}
	return command.Event{Format: "plain", Listen: toks}.BuildMessage()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func without(list, rm []string) []string {
	var out []string
	for _, x := range list {
		if !contains(rm, x) {
			out = append(out, x)
		}
	}
	return out
}

// ---- closing and state ----

// Close sends `exit` (best effort), closes the socket, fails what is in
// flight with ErrClosed and closes the Events channel. Idempotent. Close does
// not wait for the reader goroutine (it may be the caller, from a Handler);
// Done is closed once everything is settled.
func (c *Conn) Close() error {
	if c.closing.Swap(true) {
		return nil
	}
	c.mu.Lock()
	close(c.quit)
	if s := c.sess; s != nil && c.state == stUp {
		s.wbuf = appendCommand(s.wbuf, command.Exit{}.BuildMessage())
		s.closeAfterFlush = true
		s.signal()
		// If the writer is stuck on a full socket, close it anyway.
		time.AfterFunc(closeFlushTimeout, func() { s.nc.Close() })
	}
	c.mu.Unlock()
	return nil
}

// Done is closed when the connection is closed for good.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err says why the connection closed (nil for Close).
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Connected reports whether the socket is currently up and authenticated.
func (c *Conn) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state == stUp && !c.closing.Load()
}

// Addr is the address dialed.
func (c *Conn) Addr() string { return c.addr }

// InFlight is the number of commands waiting for their reply.
func (c *Conn) InFlight() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fifo.len()
}
