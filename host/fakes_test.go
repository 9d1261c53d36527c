package host

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchlua/switchlua/bindings"
	"github.com/switchlua/switchlua/models"
	"github.com/switchlua/switchlua/models/modelstest"
)

// fakeConn is a conn whose "reader goroutine" delivers, in order, the events
// a test feeds and the replies of the commands the Listener sends.
type fakeConn struct {
	l     *Listener
	actCh chan func()
	quit  chan struct{}
	wg    sync.WaitGroup

	mu    sync.Mutex
	sent  []string
	subs  []string
	reply func(cmd string) (string, error) // default: "+OK"
	// subErr, if set, fails Subscribe and Unsubscribe (as esl does while
	// the connection is down).
	subErr error
}

func newFakeConn() *fakeConn {
	c := &fakeConn{actCh: make(chan func(), 1<<16), quit: make(chan struct{})}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			select {
			case fn := <-c.actCh:
				fn()
			case <-c.quit:
				return
			}
		}
	}()
	return c
}

func (c *fakeConn) SendAsync(cmd string, done func(string, error)) {
	c.mu.Lock()
	c.sent = append(c.sent, cmd)
	rf := c.reply
	c.mu.Unlock()
	reply, err := "+OK", error(nil)
	if rf != nil {
		reply, err = rf(cmd)
	}
	c.actCh <- func() { done(reply, err) }
}

func (c *fakeConn) Subscribe(_ context.Context, names ...string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.subErr != nil {
		return c.subErr
	}
	c.sent = append(c.sent, "event plain "+strings.Join(names, " "))
	for _, n := range names {
		if !slices.Contains(c.subs, n) {
			c.subs = append(c.subs, n)
		}
	}
	return nil
}

func (c *fakeConn) Unsubscribe(_ context.Context, names ...string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.subErr != nil {
		return c.subErr
	}
	c.sent = append(c.sent, "nixevent "+strings.Join(names, " "))
	c.subs = slices.DeleteFunc(c.subs, func(n string) bool { return slices.Contains(names, n) })
	return nil
}

func (c *fakeConn) Connected() bool { return true }

func (c *fakeConn) Close() error {
	select {
	case <-c.quit:
	default:
		close(c.quit)
	}
	c.wg.Wait()
	return nil
}

// event feeds ev as the esl reader would (blocking when the inbox is full).
func (c *fakeConn) event(ev models.Event) {
	c.actCh <- func() { c.l.in.pushEvent(ev) }
}

// state feeds a state change as the esl reader would.
func (c *fakeConn) state(fn func()) {
	c.actCh <- func() { c.l.in.push(item{kind: kindFunc, fn: fn}) }
}

func (c *fakeConn) setSubErr(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.subErr = err
}

// subscribed returns what the fake FreeSWITCH has been subscribed to.
func (c *fakeConn) subscribed() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.subs)
}

func (c *fakeConn) commands() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sent)
}

// waitCommand waits until a command with prefix was sent and returns it.
func (c *fakeConn) waitCommand(t *testing.T, prefix string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, cmd := range c.commands() {
			if strings.HasPrefix(cmd, prefix) {
				return cmd
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("no command %q sent; sent: %q", prefix, c.commands())
	return ""
}

// fakeRuntime records what the Listener hands it and runs hooks per event.
type fakeRuntime struct {
	mu        sync.Mutex
	apps      []string
	events    map[string][]string // app -> events
	log       []string            // "EVENT uuid" per Dispatch, "JOB ..." per DispatchJob, "GONE uuid"
	onEvent   func(s *models.Session, ev models.Event)
	gone      int
	closed    bool
	callbacks uint64
}

func newFakeRuntime() *fakeRuntime { return &fakeRuntime{events: map[string][]string{}} }

func (r *fakeRuntime) Load(spec bindings.AppSpec) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if msg := spec.Args["fail"]; msg != "" {
		return errors.New(msg) // a top-level error: the old generation stays
	}
	if !slices.Contains(r.apps, spec.ID) {
		r.apps = append(r.apps, spec.ID)
	}
	// tests pass the app's events through Args["events"]
	if spec.Args["events"] == "" {
		r.events[spec.ID] = nil
	} else {
		r.events[spec.ID] = strings.Fields(spec.Args["events"])
	}
	return nil
}

func (r *fakeRuntime) Unload(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.apps = slices.DeleteFunc(r.apps, func(a string) bool { return a == id })
	delete(r.events, id)
}

func (r *fakeRuntime) HasApp(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Contains(r.apps, id)
}

// Handles: the app is loaded and lists event in Args["events"].
func (r *fakeRuntime) Handles(id, event string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Contains(r.apps, id) && slices.Contains(r.events[id], event)
}

func (r *fakeRuntime) Apps() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.apps)
}

func (r *fakeRuntime) Events() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, a := range r.apps {
		out = append(out, r.events[a]...)
	}
	return out
}

func (r *fakeRuntime) Dispatch(s *models.Session, ev models.Event) {
	r.mu.Lock()
	id := ""
	if s != nil {
		id = s.UUID
	}
	r.log = append(r.log, ev.Name()+" "+id)
	r.callbacks++
	fn := r.onEvent
	r.mu.Unlock()
	if fn != nil {
		fn(s, ev)
	}
}

func (r *fakeRuntime) DispatchJob(s *models.Session, j *models.Job) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := "-" // every app (bindings' DispatchJob(nil, j))
	if s != nil {
		id = s.UUID
	}
	r.log = append(r.log, "JOB "+id+" "+j.Result())
}

func (r *fakeRuntime) DispatchJobTo(app string, s *models.Session, j *models.Job) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := "-"
	if s != nil {
		id = s.UUID
	}
	r.log = append(r.log, "JOB["+app+"] "+id+" "+j.Result())
}

func (r *fakeRuntime) SessionGone(s *models.Session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, "GONE "+s.UUID)
	r.gone++
}

func (r *fakeRuntime) Stats() bindings.Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bindings.Stats{Callbacks: r.callbacks}
}

func (r *fakeRuntime) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
}

func (r *fakeRuntime) setOnEvent(fn func(s *models.Session, ev models.Event)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.onEvent = fn
}

func (r *fakeRuntime) logged() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.log)
}

// newTestListener starts a Listener on fakes.
func newTestListener(t *testing.T, cfg Config) (*Listener, *fakeConn, *fakeRuntime) {
	t.Helper()
	rt := newFakeRuntime()
	l, c := newTestListenerRT(t, cfg, rt)
	return l, c, rt
}

// newTestListenerRT starts a Listener on a fake connection and rt.
func newTestListenerRT(t *testing.T, cfg Config, rt appRuntime) (*Listener, *fakeConn) {
	t.Helper()
	l := newListener(cfg, "fake:8021")
	c := newFakeConn()
	c.l = l
	l.start(c, rt)
	if err := l.setSubscriptions(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, c
}

// sync waits until everything fed so far has been handled by the Listener.
func (c *fakeConn) sync(t *testing.T) {
	t.Helper()
	done := make(chan struct{})
	c.actCh <- func() { c.l.in.push(item{kind: kindFunc, fn: func() { close(done) }}) }
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("listener did not drain")
	}
}

var seq int64

// chanEvent builds a channel event like FreeSWITCH's (the headers tracking
// reads), with extra name/value pairs appended.
func chanEvent(name, uuid, dir string, kv ...string) *modelstest.Event {
	seq++
	base := []string{
		"Event-Name", name,
		"Core-UUID", "core-1",
		"Event-Date-Timestamp", strconv.FormatInt(time.Now().UnixMicro(), 10),
		"Event-Sequence", strconv.FormatInt(seq, 10),
		"Unique-ID", uuid,
		"Call-Direction", dir,
		"Channel-Call-UUID", uuid,
		"variable_call_uuid", uuid,
	}
	return modelstest.NewEvent(append(base, kv...)...)
}

func newEv(kv ...string) *modelstest.Event { return modelstest.NewEvent(kv...) }

func jobEvent(jobUUID, body string) *modelstest.Event {
	return modelstest.NewEvent("Event-Name", "BACKGROUND_JOB", "Job-UUID", jobUUID,
		"Job-Command", "originate").WithBody(body)
}
