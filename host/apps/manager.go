package apps

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/switchlua/switchlua/bindings"
	"github.com/switchlua/switchlua/host"
	"github.com/switchlua/switchlua/hotreload"
	"github.com/switchlua/switchlua/scripts/builtin"
	lua "github.com/yuin/gopher-lua"
)

// DefaultLoadTimeout bounds how long one load (or reload) waits for a node.
const DefaultLoadTimeout = 10 * time.Second

// Options configure a Manager. The zero value reloads live with hotreload's
// default timings.
type Options struct {
	// NoReload compiles the scripts once and watches nothing (--no-reload).
	NoReload bool
	// Debounce and Settle are the watcher's timings (hotreload.Options);
	// zero: hotreload's defaults (100 ms, 500 ms).
	Debounce time.Duration
	Settle   time.Duration
	// DefaultApp is the app id the default app of inbound calls should be
	// (serve mode); "" means the first app given. It must be one of the apps.
	DefaultApp string
	// LoadTimeout bounds each load on a node (default DefaultLoadTimeout).
	LoadTimeout time.Duration
	// OnReload, if set, is called once per reload outcome: an app generation
	// that went live (OK), a save that did not compile, a new generation that
	// failed at load. It is called on the Manager's goroutine after the
	// reload's log line; it must not block. The CLI feeds host/metrics
	// (Reloaded(r.OK)) and cdr.Summary (Reloaded() when r.OK) from it.
	OnReload func(Reload)
	// Logger receives the Manager's lines and the watcher's (default:
	// discard).
	Logger *slog.Logger
}

// Reload is the outcome of one save (or of a group of saves applied
// together) for one app.
type Reload struct {
	// App is the app id; "" for a failed compile of a module (its users are
	// not known until it compiles).
	App string
	// Path is the file whose save caused the reload; Cause the module whose
	// save did, when the app was reloaded because it requires that module.
	Path  string
	Cause string
	// Generation is the generation that went live (OK) or was refused at
	// load; for a save that did not compile, the generation kept running.
	Generation uint64
	// OK reports that the new generation runs on the nodes. Otherwise Err
	// says why: a syntax error (`file:line: message`, a *hotreload.SyntaxError)
	// or an error raised by the scripts' top level at load (`script:line:
	// message`); the previous generation keeps running. OK with Err set: the
	// generation went live on some nodes and failed on the others (Err says
	// which).
	OK  bool
	Err error
	// Latency is the time from the file event to the new generation being
	// live on every node (OK only).
	Latency time.Duration
	// Nodes is the number of nodes the new generation went live on.
	Nodes int
}

// Stats are a Manager's counters, for the metrics endpoint and the summary.
type Stats struct {
	// Reloads counts app generations that went live after the start.
	Reloads uint64
	// Failed counts refused reloads: saves that did not compile (of an app's
	// script or of a module an app required) and new generations that failed
	// at load. The running version was kept each time.
	Failed uint64
	// Removed counts app scripts deleted while running (their last version
	// keeps running).
	Removed uint64
	// Watching reports that live reload is on.
	Watching bool
}

// App describes one loaded app, for the Originator and the CLI.
type App struct {
	// ID is the app id: the X-switchlua_app header of the calls it handles.
	ID string
	// Weight is the app's share of originated calls (0: none).
	Weight int
	// Scripts are the app's scripts in load order: file paths, or
	// "builtin/<name>.lua" for built-in apps.
	Scripts []string
	// Args are ctx.args of setup(ctx).
	Args map[string]string
	// Generation is the generation running now (the newest watcher
	// generation among its scripts and the modules they loaded; 1 without
	// reload).
	Generation uint64
}

// Manager turns script specs into apps loaded on every node and keeps them
// live: it compiles the scripts (through a hotreload.Watcher on their folders
// unless Options.NoReload), serves `require` from those folders, loads every
// app on the Pools and Listeners it is given, and applies each save as a new
// generation on all of them. Safe for concurrent use.
type Manager struct {
	o   Options
	log *slog.Logger
	w   *hotreload.Watcher // nil without reload, or with built-ins only

	dirs []string // module folders as shown (the scripts' folders, in order)

	mu      sync.Mutex
	apps    []*app
	byID    map[string]*app
	byAbs   map[string]*script // file scripts by absolute path
	modules map[string]bindings.Script
	used    map[string]bool // absolute paths of modules served to require
	stats   Stats
	closed  bool

	// loadMu serialises loads onto nodes (initial loads, attaches, reloads),
	// so every node sees the generations in order. Never held with mu
	// while waiting on a node: a node's Load calls Module, which takes mu.
	loadMu    sync.Mutex
	pools     []*host.Pool
	listeners []*host.Listener

	ctx    context.Context // cancelled by Close: stops a reload waiting for a node
	cancel context.CancelFunc
	done   chan struct{}
}

type app struct {
	id      string
	weight  int
	args    map[string]string
	scripts []*script
	live    bindings.AppSpec // the generation the nodes run
}

type script struct {
	app     *app
	path    string // chunk name and display path
	abs     string // "" for a built-in
	builtin bool
	proto   *lua.FunctionProto
	gen     uint64 // watcher generation of proto (or of the last removal)
}

// New compiles the scripts of specs (see ParseSpecs), groups them into apps
// and, unless o.NoReload, starts watching their folders. A missing file or a
// syntax error (`file:line: message`) is an error. Close the Manager when
// done. The apps are not loaded anywhere until Load or Attach.
func New(specs []Spec, o Options) (*Manager, error) {
	if len(specs) == 0 {
		return nil, errors.New("apps: no script given")
	}
	groups, err := group(specs)
	if err != nil {
		return nil, err
	}
	if o.LoadTimeout <= 0 {
		o.LoadTimeout = DefaultLoadTimeout
	}
	m := &Manager{
		o:       o,
		log:     o.Logger,
		byID:    map[string]*app{},
		byAbs:   map[string]*script{},
		modules: map[string]bindings.Script{},
		used:    map[string]bool{},
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if o.DefaultApp != "" {
		found := false
		for _, g := range groups {
			found = found || g.id == o.DefaultApp
		}
		if !found {
			return nil, fmt.Errorf("apps: default app %q is not one of the scripts' apps", o.DefaultApp)
		}
	}

	// Compile every file first, so a broken script is one clear error
	// before anything is watched (and logged once, here, not by the
	// watcher too).
	var errs []error
	seenDir := map[string]bool{}
	for _, g := range groups {
		a := &app{id: g.id, weight: g.weight, args: g.args}
		for _, sp := range g.specs {
			sc := &script{app: a}
			if sp.Builtin != "" {
				b, _ := builtin.Lookup(sp.Builtin)
				s, err := bindings.CompileScript(b.Path(), []byte(b.Source))
				if err != nil {
					errs = append(errs, err)
					continue
				}
				sc.path, sc.builtin, sc.proto, sc.gen = s.Path, true, s.Proto, 1
			} else {
				abs, err := filepath.Abs(sp.Path)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				src, err := os.ReadFile(sp.Path)
				if err != nil {
					errs = append(errs, fmt.Errorf("script %s: %w", sp.Path, err))
					continue
				}
				proto, err := hotreload.Compile(sp.Path, src)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				sc.path, sc.abs, sc.proto, sc.gen = sp.Path, abs, proto, 1
				m.byAbs[abs] = sc
				dir := filepath.Dir(sp.Path)
				absDir := filepath.Dir(abs)
				if !seenDir[absDir] {
					seenDir[absDir] = true
					m.dirs = append(m.dirs, dir)
				}
			}
			a.scripts = append(a.scripts, sc)
		}
		m.apps = append(m.apps, a)
		m.byID[a.id] = a
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	if !o.NoReload && len(m.dirs) > 0 {
		// Only the scripts given count (plus the modules they require):
		// other *.lua files beside them, e.g. in a home directory, are
		// neither compiled nor reported.
		files := make([]string, 0, len(m.byAbs))
		for abs := range m.byAbs {
			files = append(files, abs)
		}
		slices.Sort(files)
		w, err := hotreload.New(m.dirs, hotreload.Options{Debounce: o.Debounce, Settle: o.Settle, Logger: m.log, Files: files})
		if err != nil {
			return nil, fmt.Errorf("apps: watch %s: %w", strings.Join(m.dirs, ", "), err)
		}
		// Take the watcher's versions (the same files, unless one was saved
		// in between) and their generations.
		for _, sc := range m.byAbs {
			u, ok := w.Script(sc.abs)
			switch {
			case !ok:
				errs = append(errs, fmt.Errorf("script %s: no such file", sc.path))
			case u.Proto == nil:
				errs = append(errs, u.Err)
			default:
				// The watcher's chunk name is its folder joined with the
				// file name: the cleaned path as given.
				sc.proto, sc.gen, sc.path = u.Proto, u.Generation, u.Path
			}
		}
		if err := errors.Join(errs...); err != nil {
			w.Close()
			return nil, err
		}
		m.w = w
		m.stats.Watching = true
	}
	for _, a := range m.apps {
		a.live = a.spec()
		for _, sc := range a.scripts {
			for _, l := range bindings.LintCallbacks(bindings.Script{Path: sc.path, Proto: sc.proto}) {
				m.log.Warn("apps: "+l.String(), "app", a.id)
			}
		}
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.done = make(chan struct{})
	if m.w != nil {
		go m.loop()
	} else {
		close(m.done)
	}
	return m, nil
}

// spec builds the app's AppSpec from its scripts' current versions. Called
// with mu held (or before the Manager is shared).
func (a *app) spec() bindings.AppSpec {
	s := bindings.AppSpec{ID: a.id, Args: a.args}
	for _, sc := range a.scripts {
		s.Scripts = append(s.Scripts, bindings.Script{Path: sc.path, Proto: sc.proto})
		s.Generation = max(s.Generation, sc.gen)
	}
	return s
}

// Apps returns the apps in the order given, with their weights, for the
// Originator (an app of weight 0 gets no originated calls).
func (m *Manager) Apps() []App {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]App, 0, len(m.apps))
	for _, a := range m.apps {
		ap := App{ID: a.id, Weight: a.weight, Args: maps.Clone(a.args), Generation: a.live.Generation}
		for _, sc := range a.scripts {
			ap.Scripts = append(ap.Scripts, sc.path)
		}
		out = append(out, ap)
	}
	return out
}

// DefaultApp is the app id for inbound calls that carry no app header
// (serve mode): Options.DefaultApp, else the first app given. Set
// host.Config.DefaultApp to it when serving inbound calls.
func (m *Manager) DefaultApp() string {
	if m.o.DefaultApp != "" {
		return m.o.DefaultApp
	}
	return m.apps[0].id
}

// Specs returns the AppSpecs the nodes run now, in order.
func (m *Manager) Specs() []bindings.AppSpec {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]bindings.AppSpec, 0, len(m.apps))
	for _, a := range m.apps {
		out = append(out, a.live)
	}
	return out
}

// Watching reports whether saves are applied live.
func (m *Manager) Watching() bool { return m.w != nil }

// Stats returns the counters.
func (m *Manager) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stats
}

// Configure sets what a Listener's runtime needs from the Manager:
// cfg.Runtime.Module, so `require` serves modules from the scripts' own
// folders (through the watcher: saving a module reloads its users). Call it
// on the Config before dialling. It leaves cfg.DefaultApp alone: a serve
// command sets it to DefaultApp.
func (m *Manager) Configure(cfg *host.Config) {
	cfg.Runtime.Module = m.Module
}

// Module resolves `require(name)` for a runtime (bindings.Options.Module):
// "lib.util" is lib/util.lua in the first of the scripts' folders that has
// it, in the version running now.
func (m *Manager) Module(name string) (bindings.Script, error) {
	if len(m.dirs) == 0 {
		return bindings.Script{}, fmt.Errorf("module '%s' not found: no scripts folder (built-in apps only)", name)
	}
	if m.w != nil {
		u, err := m.w.Module(name)
		if err != nil {
			return bindings.Script{}, err
		}
		if abs, err := filepath.Abs(u.Path); err == nil {
			m.mu.Lock()
			m.used[abs] = true
			m.mu.Unlock()
		}
		return bindings.Script{Path: u.Path, Proto: u.Proto}, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.modules[name]; ok {
		return s, nil
	}
	rel, ok := hotreload.ModuleFile(name)
	if !ok {
		return bindings.Script{}, fmt.Errorf("module '%s' not found: invalid module name", name)
	}
	var tried []string
	for _, d := range m.dirs {
		p := filepath.Join(d, rel)
		src, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			tried = append(tried, p)
			continue
		}
		if err != nil {
			return bindings.Script{}, fmt.Errorf("module '%s': %w", name, err)
		}
		proto, err := hotreload.Compile(p, src)
		if err != nil {
			return bindings.Script{}, err
		}
		s := bindings.Script{Path: p, Proto: proto}
		m.modules[name] = s
		return s, nil
	}
	return bindings.Script{}, fmt.Errorf("module '%s' not found: no file %s", name, strings.Join(tried, ", no file "))
}

// Load loads every app, in order, on every Listener of p, and keeps them
// following reloads. An app that fails on a node (an error raised by its top
// level, `script:line: message`) is an error; the CLI should stop then.
func (m *Manager) Load(ctx context.Context, p *host.Pool) error {
	m.loadMu.Lock()
	defer m.loadMu.Unlock()
	if !slices.Contains(m.pools, p) {
		m.pools = append(m.pools, p)
	}
	return m.loadAllApps(ctx, p.Listeners())
}

// Attach loads every app on a Listener that joined after Load (a node added
// later) and keeps it following reloads. It gets the generations the other
// nodes run.
func (m *Manager) Attach(ctx context.Context, l *host.Listener) error {
	m.loadMu.Lock()
	defer m.loadMu.Unlock()
	if !slices.Contains(m.listeners, l) {
		m.listeners = append(m.listeners, l)
	}
	return m.loadAllApps(ctx, []*host.Listener{l})
}

// Detach stops reloading onto l (e.g. before closing it). Closed Listeners
// are dropped on their own.
func (m *Manager) Detach(l *host.Listener) {
	m.loadMu.Lock()
	defer m.loadMu.Unlock()
	m.listeners = slices.DeleteFunc(m.listeners, func(x *host.Listener) bool { return x == l })
}

// loadAllApps loads the live generation of every app on ls. Called with
// loadMu held. A node whose event subscription lags (host.ErrSubscribe) runs
// the app: that is a warning, not an error.
func (m *Manager) loadAllApps(ctx context.Context, ls []*host.Listener) error {
	var errs []error
	for _, spec := range m.Specs() {
		res := m.loadOn(ctx, ls, spec)
		if res.err != nil {
			errs = append(errs, fmt.Errorf("load app %s: %w", spec.ID, res.err))
		}
		if res.lag != nil {
			m.log.Warn("apps: app loaded; the event subscription lags (the host retries it)",
				"app", spec.ID, "generation", spec.Generation, "error", res.lag.Error())
		}
	}
	return errors.Join(errs...)
}

// targets lists the Listeners reloads go to, without duplicates. Called
// with loadMu held.
func (m *Manager) targets() []*host.Listener {
	var out []*host.Listener
	for _, p := range m.pools {
		for _, l := range p.Listeners() {
			if !slices.Contains(out, l) {
				out = append(out, l)
			}
		}
	}
	for _, l := range m.listeners {
		if !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

// loaded is the outcome of loadOn.
type loaded struct {
	// n is the number of nodes that run the spec now, those whose event
	// subscription lags included.
	n int
	// lag, if set, names the nodes that run the spec but whose event
	// subscription could not follow (host.ErrSubscribe): the host retries
	// it, so the events only the new generation uses arrive later.
	lag error
	// err, if set, is one line per distinct failure; those nodes keep
	// their previous generation.
	err error
}

// loadOn loads spec on every Listener of ls at once. Closed Listeners are
// skipped (and forgotten). An error matching host.ErrSubscribe counts as
// loaded: the node runs the new generation, its subscription lags.
func (m *Manager) loadOn(ctx context.Context, ls []*host.Listener, spec bindings.AppSpec) loaded {
	ctx, cancel := context.WithTimeout(ctx, m.o.LoadTimeout)
	defer cancel()
	errs := make([]error, len(ls))
	var wg sync.WaitGroup
	for i, l := range ls {
		select {
		case <-l.Done():
			errs[i] = host.ErrClosed
			continue
		default:
		}
		wg.Go(func() { errs[i] = l.Load(ctx, spec) })
	}
	wg.Wait()
	var res loaded
	var lags []error
	var distinct []string
	var nodes [][]string
	for i, err := range errs {
		switch {
		case err == nil:
			res.n++
		case errors.Is(err, host.ErrSubscribe):
			res.n++
			lags = append(lags, err) // names its node
		case errors.Is(err, host.ErrClosed):
			m.listeners = slices.DeleteFunc(m.listeners, func(x *host.Listener) bool { return x == ls[i] })
		default:
			msg := err.Error()
			j := slices.Index(distinct, msg)
			if j < 0 {
				distinct = append(distinct, msg)
				nodes = append(nodes, nil)
				j = len(distinct) - 1
			}
			nodes[j] = append(nodes[j], ls[i].Node())
		}
	}
	res.lag = errors.Join(lags...)
	switch {
	case len(distinct) == 0:
	case len(distinct) == 1 && res.n == 0:
		res.err = errors.New(distinct[0]) // the same on every node: say it once
	default:
		lines := make([]string, len(distinct))
		for j, msg := range distinct {
			lines[j] = fmt.Sprintf("%s (on %s)", msg, strings.Join(nodes[j], ", "))
		}
		res.err = errors.New(strings.Join(lines, "; "))
	}
	return res
}

// Close stops watching. The apps stay loaded on the nodes; closing the
// Pools is the caller's job.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.mu.Unlock()
	m.cancel()
	var err error
	if m.w != nil {
		err = m.w.Close()
	}
	<-m.done
	return err
}
