package apps

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchlua/switchlua/bindings"
	"github.com/switchlua/switchlua/esl/fssim"
	"github.com/switchlua/switchlua/esl/fssim/fstest"
	"github.com/switchlua/switchlua/host"
	"github.com/switchlua/switchlua/models"
)

// logRec is one captured log record: level, message and attributes as text.
type logRec struct {
	Level slog.Level
	Text  string
}

// logCapture is a slog.Handler keeping every record (and passing warnings
// and errors to the test log while the test runs).
type logCapture struct {
	mu    *sync.Mutex
	recs  *[]logRec
	t     testing.TB
	live  *atomic.Bool
	attrs string
	watch *atomic.Pointer[func(logRec)]
}

func newLogCapture(t testing.TB) *logCapture {
	c := &logCapture{mu: new(sync.Mutex), recs: new([]logRec), t: t, live: new(atomic.Bool), watch: new(atomic.Pointer[func(logRec)])}
	c.live.Store(true)
	t.Cleanup(func() { c.live.Store(false) })
	return c
}

func (c *logCapture) Enabled(context.Context, slog.Level) bool { return true }

func (c *logCapture) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	b.WriteString(c.attrs)
	r.Attrs(func(a slog.Attr) bool { b.WriteString(" " + a.String()); return true })
	rec := logRec{Level: r.Level, Text: b.String()}
	if fn := c.watch.Load(); fn != nil {
		(*fn)(rec)
	}
	c.mu.Lock()
	*c.recs = append(*c.recs, rec)
	c.mu.Unlock()
	if r.Level >= slog.LevelWarn && c.live.Load() {
		c.t.Log(r.Level.String() + " " + rec.Text)
	}
	return nil
}

func (c *logCapture) WithAttrs(as []slog.Attr) slog.Handler {
	n := *c
	for _, a := range as {
		n.attrs += " " + a.String()
	}
	return &n
}

func (c *logCapture) WithGroup(string) slog.Handler { return c }

// matching returns the records at level lvl or above whose text contains s.
func (c *logCapture) matching(lvl slog.Level, s string) []logRec {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []logRec
	for _, r := range *c.recs {
		if r.Level >= lvl && strings.Contains(r.Text, s) {
			out = append(out, r)
		}
	}
	return out
}

// rig is one end-to-end set-up: a node (simulator or real FreeSWITCH), a
// folder of scripts, a Manager on it and a Pool that runs the apps.
type rig struct {
	t       testing.TB
	tg      *fstest.Target
	dir     string
	m       *Manager
	pool    *host.Pool
	shared  *bindings.Shared
	logs    *logCapture
	reloads chan Reload
	user    string

	cbMu sync.Mutex
	cbs  map[string]int // finished on_* callbacks by name, as the Listeners ran them
	errs []string
}

type rigConfig struct {
	files   map[string]string // relative path -> source, written before start
	scripts []string          // --script arguments, relative to the folder
	opts    Options
	sim     fssim.Config
	cfg     host.Config
}

func newRig(t testing.TB, rc rigConfig) *rig {
	t.Helper()
	r := &rig{
		t:       t,
		dir:     t.TempDir(),
		shared:  bindings.NewShared(),
		logs:    newLogCapture(t),
		reloads: make(chan Reload, 1000),
		cbs:     map[string]int{},
		user:    fstest.NewUser("apps"),
	}
	for p, src := range rc.files {
		writeFile(t, filepath.Join(r.dir, p), src)
	}
	var args []string
	for _, s := range rc.scripts {
		if !strings.HasPrefix(s, "builtin:") {
			s = filepath.Join(r.dir, s)
		} else {
			s = strings.TrimPrefix(s, "builtin:")
		}
		args = append(args, s)
	}
	specs, err := ParseSpecs(args)
	if err != nil {
		t.Fatal(err)
	}
	o := rc.opts
	o.Logger = slog.New(r.logs)
	o.OnReload = func(rl Reload) {
		select {
		case r.reloads <- rl:
		default:
		}
	}
	m, err := New(specs, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	r.m = m
	r.tg = fstest.StartConfig(t, rc.sim)
	r.pool = r.dial(rc.cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.Load(ctx, r.pool); err != nil {
		t.Fatal(err)
	}
	return r
}

// dial connects a Pool to the rig's node with the Manager's settings.
func (r *rig) dial(cfg host.Config) *host.Pool {
	return r.dialTo(r.tg, cfg)
}

func (r *rig) dialTo(tg *fstest.Target, cfg host.Config) *host.Pool {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg.Password = tg.Password
	cfg.Logger = slog.New(r.logs)
	cfg.Runtime.Shared = r.shared
	cfg.Runtime.OnCallback = func(ci bindings.CallbackInfo) {
		r.cbMu.Lock()
		defer r.cbMu.Unlock()
		if strings.HasPrefix(ci.Callback, "on_") {
			r.cbs[ci.Callback]++
		}
		if ci.Err != nil {
			r.errs = append(r.errs, ci.Err.Error())
		}
	}
	if cfg.InboxSize == 0 {
		cfg.InboxSize = 4096
	}
	r.m.Configure(&cfg)
	p, err := host.DialPool(ctx, []string{tg.Addr}, cfg)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { p.Close() })
	return p
}

// path is the absolute path of a file of the rig's folder.
func (r *rig) path(rel string) string { return filepath.Join(r.dir, rel) }

// originate starts a self-call running app on the rig's node.
func (r *rig) originate(app string) *models.Job {
	r.t.Helper()
	return r.originateOn(r.pool, r.tg, app)
}

func (r *rig) originateOn(p *host.Pool, tg *fstest.Target, app string) *models.Job {
	r.t.Helper()
	l := p.Listeners()[0]
	j, err := l.Originate(tg.Dest(r.user), host.OriginateOptions{App: app, Vars: map[string]string{fstest.TagVar: tg.Tag}})
	if err != nil {
		r.t.Fatal(err)
	}
	return j
}

// waitJobs waits for every job and fails on a failed originate.
func (r *rig) waitJobs(jobs []*models.Job, d time.Duration) {
	r.t.Helper()
	deadline := time.After(d)
	for _, j := range jobs {
		select {
		case <-j.Done():
		case <-deadline:
			r.t.Fatalf("originate %s not done after %v: %+v", j.UUID, d, r.pool.Stats())
		}
		if !j.Successful() {
			r.t.Fatalf("originate %s failed: %s", j.UUID, j.Cause())
		}
	}
}

// idle waits until the pool tracks nothing and no coroutine waits.
func (r *rig) idle(p *host.Pool, d time.Duration) host.Stats {
	r.t.Helper()
	var st host.Stats
	eventually(r.t, d, "no session, call, job or coroutine left", func() bool {
		st = p.Stats()
		return st.Sessions == 0 && st.Calls == 0 && st.Jobs == 0 && st.Waiting == 0
	})
	return st
}

// reload waits for the next reload outcome.
func (r *rig) reload(d time.Duration) Reload {
	r.t.Helper()
	rl, ok := r.nextReload(d)
	if !ok {
		r.t.Fatalf("no reload within %v (stats %+v)", d, r.m.Stats())
	}
	return rl
}

// nextReload waits for the next reload outcome; ok is false on timeout.
// Safe from any goroutine.
func (r *rig) nextReload(d time.Duration) (Reload, bool) {
	select {
	case rl := <-r.reloads:
		return rl, true
	case <-time.After(d):
		return Reload{}, false
	}
}

// num returns a number from the shared store (0 if unset).
func (r *rig) num(key string) int {
	v, _ := r.shared.Get(key)
	f, _ := v.(float64)
	return int(f)
}

func (r *rig) str(key string) string {
	v, ok := r.shared.Get(key)
	if !ok {
		return ""
	}
	return fmt.Sprint(v)
}

func (r *rig) callbacks() (map[string]int, []string) {
	r.cbMu.Lock()
	defer r.cbMu.Unlock()
	out := make(map[string]int, len(r.cbs))
	for k, v := range r.cbs {
		out[k] = v
	}
	return out, append([]string(nil), r.errs...)
}

// setSPS lifts a real FreeSWITCH's session rate and count limits for load
// tests (the simulator gets them from rigConfig.sim).
func (r *rig) setSPS(n int) {
	r.t.Helper()
	if !r.tg.Real() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, cmd := range []string{fmt.Sprintf("fsctl sps %d", n), fmt.Sprintf("fsctl max_sessions %d", n)} {
		if _, err := r.pool.Listeners()[0].Command(ctx, cmd); err != nil {
			r.t.Fatalf("%s: %v", cmd, err)
		}
	}
	// FreeSWITCH applies a new sessions-per-second limit from the next second.
	time.Sleep(1100 * time.Millisecond)
}

// loadSim is a simulator without the default 30 sessions/s limit.
var loadSim = fssim.Config{SessionsPerSecond: 10000, MaxSessions: 10000}

// eventually polls cond until it holds or d passes.
var eventually = fstest.Eventually
