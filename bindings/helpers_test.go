package bindings

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/switchlua/switchlua/models"
	"github.com/switchlua/switchlua/models/modelstest"
)

// fakeHost is a Listener stand-in: Post queues functions that the test
// goroutine (playing the Listener goroutine) runs with drain/runUntil.
type fakeHost struct {
	mu     sync.Mutex
	posted []func()
	wake   chan struct{}
	apis   []string
	// apiReply answers API commands (default "+OK"); replies are posted.
	apiReply func(cmd string) (string, error)
}

func newFakeHost() *fakeHost { return &fakeHost{wake: make(chan struct{}, 1)} }

func (h *fakeHost) Post(fn func()) {
	h.mu.Lock()
	h.posted = append(h.posted, fn)
	h.mu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

func (h *fakeHost) API(cmd string, done func(string, error)) {
	h.mu.Lock()
	h.apis = append(h.apis, cmd)
	f := h.apiReply
	h.mu.Unlock()
	reply, err := "+OK", error(nil)
	if f != nil {
		reply, err = f(cmd)
	}
	h.Post(func() { done(reply, err) })
}

// BackgroundAPI records "bgapi cmd" and answers like API (apiReply sees
// "bgapi cmd" too).
func (h *fakeHost) BackgroundAPI(cmd string, done func(string, error)) {
	h.API("bgapi "+cmd, done)
}

func (h *fakeHost) Node() string { return "node1" }

func (h *fakeHost) APIs() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.apis...)
}

// drain runs what is posted now (and what that posts) and returns how many ran.
func (h *fakeHost) drain() int {
	n := 0
	for {
		h.mu.Lock()
		p := h.posted
		h.posted = nil
		h.mu.Unlock()
		if len(p) == 0 {
			return n
		}
		for _, f := range p {
			f()
			n++
		}
	}
}

// runUntil runs posted functions until cond holds or timeout passes.
func (h *fakeHost) runUntil(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		h.drain()
		if cond() {
			return
		}
		select {
		case <-h.wake:
		case <-deadline:
			t.Fatalf("condition not met within %v", timeout)
		}
	}
}

// logBuf collects log output for assertions.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// env is one Runtime under test with its host, log and a recorder: scripts
// call rec(...) to append a line (arguments tostring'd, joined by spaces).
type env struct {
	t    *testing.T
	rt   *Runtime
	host *fakeHost
	logs *logBuf
	mu   sync.Mutex
	recs []string
	snd  *modelstest.Sender
	cbs  []CallbackInfo
}

func newEnv(t *testing.T, o Options) *env {
	t.Helper()
	e := &env{t: t, host: newFakeHost(), logs: &logBuf{}, snd: &modelstest.Sender{}}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	user := o.OnCallback
	o.OnCallback = func(ci CallbackInfo) {
		e.cbs = append(e.cbs, ci)
		if user != nil {
			user(ci)
		}
	}
	rt, err := New(e.host, o)
	if err != nil {
		t.Fatal(err)
	}
	e.rt = rt
	rt.L.SetGlobal("rec", rt.L.NewFunction(func(L *lua.LState) int {
		parts := make([]string, 0, L.GetTop())
		for i := 1; i <= L.GetTop(); i++ {
			parts = append(parts, L.ToStringMeta(L.Get(i)).String())
		}
		e.mu.Lock()
		e.recs = append(e.recs, strings.Join(parts, " "))
		e.mu.Unlock()
		return 0
	}))
	t.Cleanup(rt.Close)
	return e
}

func (e *env) records() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.recs...)
}

func (e *env) recorded() string { return strings.Join(e.records(), "\n") }

func (e *env) resetRecords() {
	e.mu.Lock()
	e.recs = nil
	e.mu.Unlock()
}

// load loads app id from (name, source) pairs.
func (e *env) load(id string, files ...string) error {
	e.t.Helper()
	spec := AppSpec{ID: id}
	for i := 0; i+1 < len(files); i += 2 {
		s, err := CompileScript(files[i], []byte(files[i+1]))
		if err != nil {
			e.t.Fatalf("compile %s: %v", files[i], err)
		}
		spec.Scripts = append(spec.Scripts, s)
	}
	return e.rt.Load(spec)
}

func (e *env) mustLoad(id string, files ...string) {
	e.t.Helper()
	if err := e.load(id, files...); err != nil {
		e.t.Fatal(err)
	}
}

// ev makes an event for uuid with extra header pairs.
func ev(name, uuid string, kv ...string) *modelstest.Event {
	base := []string{"Event-Name", name, "Unique-ID", uuid,
		"Event-Date-Timestamp", fmt.Sprint(time.Now().UnixMicro())}
	return modelstest.NewEvent(append(base, kv...)...)
}

// session makes a session from a CHANNEL_CREATE and dispatches it.
func (e *env) session(uuid, app, dir string) *models.Session {
	kv := []string{"Call-Direction", dir}
	if app != "" {
		kv = append(kv, models.AppHeader, app)
	}
	first := ev("CHANNEL_CREATE", uuid, kv...)
	s := models.NewSession(first, "node1", e.snd)
	e.rt.Dispatch(s, first)
	return s
}

// send applies an event to s and dispatches it, as the Listener does.
func (e *env) send(s *models.Session, name string, kv ...string) {
	x := ev(name, s.UUID, kv...)
	s.Update(x)
	e.rt.Dispatch(s, x)
}

func (e *env) gone(s *models.Session) {
	e.send(s, "CHANNEL_DESTROY", "Hangup-Cause", "NORMAL_CLEARING")
	e.rt.SessionGone(s)
}

var errLost = errors.New("esl: connection lost")

func newCall(key string, legs ...*models.Session) *models.Call {
	c := models.NewCall(key)
	for _, s := range legs {
		c.Append(s)
	}
	return c
}

func newJob(t *testing.T, uuid, sess, body string) *models.Job {
	t.Helper()
	j := models.NewJob(uuid, sess, "originate", time.Now())
	j.Complete(modelstest.NewEvent("Event-Name", "BACKGROUND_JOB", "Job-UUID", uuid).WithBody(body))
	return j
}
