package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/switchlua/switchlua/bindings"
	"github.com/switchlua/switchlua/host"
	"github.com/switchlua/switchlua/host/apps"
	"github.com/switchlua/switchlua/host/metrics"
	"github.com/switchlua/switchlua/models"
)

// appFlags are the script flags of run and serve.
func appFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "script", Usage: "`SCRIPT`: a .lua file or a built-in app name (see list-apps), with :k=v options: :weight=N (share of originated calls), :app=ID (compose scripts under one app id), any other k=v reaches setup(ctx) as ctx.args (k: a name, or a Lua pattern starting with ^ as the router's routes: 'router:^1(%d%d%d)$=sofia/internal/%1@pbx'); repeatable"},
		&cli.BoolFlag{Name: "no-reload", Usage: "do not apply saved scripts live (hot reload is on by default)"},
		&cli.BoolFlag{Name: "unsafe", Usage: "open the full Lua standard library (io, os, debug) to the scripts"},
		withDefaultText(durationFlag("park-timeout", host.DefaultParkTimeout,
			"hang up a parked inbound call switchlua is responsible for (a leg of a call it originated, or a call whose app has on_park) "+
				"when nothing took it (answer, bridge, any command) within this time, with cause RECOVERY_ON_TIMER_EXPIRE; "+
				"other calls on the node are never touched; 0 disables it"), host.DefaultParkTimeout.String()),
	}
}

// metricsFlags are the Prometheus flags of run and serve.
func metricsFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "metrics-addr", Usage: "serve Prometheus metrics on `HOST:PORT` (GET /metrics); loopback only unless --metrics-allow-remote"},
		&cli.BoolFlag{Name: "metrics-allow-remote", Usage: "allow --metrics-addr on a non-loopback address"},
	}
}

// setup is what run and serve share: logging, the apps, metrics, the Pool.
type setup struct {
	c   *cli.Context
	con *console
	log *slog.Logger
	tty bool

	mgr     *apps.Manager
	metrics *metrics.Metrics
	msrv    *metrics.Server
	pool    *host.Pool

	onScriptError func()
	onReload      func()
	closeOnce     sync.Once
	// appsLog holds the apps' start-up logs until they are loaded on the
	// nodes (see heldLog).
	appsLog *heldLog
}

// newSetup builds the logger (on a console that can keep a status line) and
// the apps (compiled now, so a broken script is an error before anything
// else starts).
func newSetup(c *cli.Context) (*setup, error) {
	s := &setup{c: c, con: newConsole(c.App.ErrWriter), tty: isTerminal(c.App.ErrWriter)}
	log, err := newLogger(c, s.con)
	if err != nil {
		return nil, err
	}
	s.log = log
	if durationOf(c, "park-timeout") < 0 {
		return nil, usageErr("--park-timeout must not be negative (0 disables it)")
	}
	s.metrics = metrics.New()
	return s, nil
}

// loadApps parses and compiles the --script specs. A spec that cannot be
// parsed or resolved (a bad option, a bad app id, a missing file, the same
// script twice) and a --default-app that is none of the apps are
// command-line errors (exit status 2); a script that does not compile is an
// error (1).
func (s *setup) loadApps(defaultApp string) error {
	specs, err := apps.ParseSpecs(s.c.StringSlice("script"))
	if err != nil {
		return withCode(exitUsage, err)
	}
	if defaultApp != "" && !slices.ContainsFunc(specs, func(sp apps.Spec) bool { return sp.App == defaultApp }) {
		var ids []string
		for _, sp := range specs {
			if !slices.Contains(ids, sp.App) {
				ids = append(ids, sp.App)
			}
		}
		return usageErr("--default-app %q is none of the scripts' apps (%s)", defaultApp, strings.Join(ids, ", "))
	}
	var log *slog.Logger
	s.appsLog, log = newHeldLog(s.log)
	s.mgr, err = apps.New(specs, apps.Options{
		NoReload:   s.c.Bool("no-reload"),
		DefaultApp: defaultApp,
		Logger:     log,
		OnReload: func(r apps.Reload) {
			s.metrics.Reloaded(r.OK)
			if r.OK && s.onReload != nil {
				s.onReload()
			}
		},
	})
	return err
}

// startMetrics starts the Prometheus endpoint of --metrics-addr, if given.
func (s *setup) startMetrics() error {
	addr := s.c.String("metrics-addr")
	if addr == "" {
		return nil
	}
	srv, err := s.metrics.Start(addr, s.c.Bool("metrics-allow-remote"))
	switch {
	case errors.Is(err, metrics.ErrNotLoopback):
		return usageErr("--metrics-addr %s is not a loopback address; add --metrics-allow-remote to serve metrics on it", addr)
	case errors.Is(err, metrics.ErrBadAddress):
		return usageErr("--metrics-addr %q: want HOST:PORT, e.g. 127.0.0.1:9090", addr)
	case err != nil:
		return fmt.Errorf("--metrics-addr %s: %v", addr, strings.TrimPrefix(err.Error(), "metrics: "))
	}
	s.msrv = srv
	s.log.Info("metrics endpoint", "url", srv.URL())
	return nil
}

// hostConfig is the Listener configuration with the metrics hooks.
func (s *setup) hostConfig(password string) host.Config {
	cfg := host.Config{
		Password:    password,
		Logger:      s.log,
		ParkTimeout: durationOf(s.c, "park-timeout"),
		Runtime: bindings.Options{
			Unsafe: s.c.Bool("unsafe"),
			Logger: s.log,
		},
	}
	m := s.metrics
	if cfg.ParkTimeout == 0 {
		cfg.ParkTimeout = -1 // --park-timeout 0: off (host's 0 is its default)
	}
	cfg.Runtime.OnCallback = func(ci bindings.CallbackInfo) {
		m.ObserveCallback(ci.App, ci.Duration)
		if ci.Err != nil {
			m.ScriptError(ci.App)
			if s.onScriptError != nil {
				s.onScriptError()
			}
		}
	}
	cfg.OnEvent = func(ev models.Event, _ *models.Session) {
		if ev.Name() == "CUSTOM" {
			m.Event("CUSTOM " + ev.Subclass())
			return
		}
		m.Event(ev.Name())
	}
	cfg.OnJob = func(j *models.Job, _ *models.Session) {
		if !j.Successful() {
			m.JobFailed(j.Cause())
		}
	}
	s.mgr.Configure(&cfg)
	return cfg
}

// dial connects the Pool and loads the apps on it.
func (s *setup) dial(ctx context.Context, nodes []string, cfg host.Config) error {
	pool, err := dialNodes(ctx, nodes, cfg)
	if err != nil {
		return err
	}
	s.pool = pool
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err = s.mgr.Load(lctx, pool)
	s.appsLog.release(err)
	return err
}

// close stops what setup started, in reverse order. Idempotent.
func (s *setup) close() {
	s.closeOnce.Do(func() {
		if s.appsLog != nil {
			s.appsLog.release(nil)
		}
		if s.mgr != nil {
			_ = s.mgr.Close()
		}
		if s.pool != nil {
			_ = s.pool.Close()
		}
		if s.msrv != nil {
			_ = s.msrv.Close()
		}
	})
}

// nodeMetrics copies the Listeners' counters into the Prometheus metrics:
// gauges (sessions, calls, queue depth) are set, counters (hangups by cause,
// reconnects) advance by what changed since the last poll. Only its run
// goroutine uses it.
type nodeMetrics struct {
	m    *metrics.Metrics
	prev map[string]host.Stats
	node map[string]*metrics.Node
}

func newNodeMetrics(m *metrics.Metrics) *nodeMetrics {
	return &nodeMetrics{m: m, prev: map[string]host.Stats{}, node: map[string]*metrics.Node{}}
}

func (n *nodeMetrics) poll(p *host.Pool) {
	for _, l := range p.Listeners() {
		st := l.Stats()
		name := l.Node()
		nm := n.node[name]
		if nm == nil {
			nm = n.m.Node(name)
			n.node[name] = nm
		}
		nm.SetSessions(st.Sessions)
		nm.SetCalls(st.Calls)
		nm.SetQueueDepth(st.Queued)
		prev := n.prev[name]
		if st.Reconnects > prev.Reconnects {
			nm.Reconnects(st.Reconnects - prev.Reconnects)
		}
		for cause, v := range st.HangupCauses {
			if was := prev.HangupCauses[cause]; v > was {
				n.m.Hangups(cause, v-was)
			}
		}
		n.prev[name] = st
	}
}

// run polls every second until ctx ends, then once more.
func (n *nodeMetrics) run(ctx context.Context, p *host.Pool) {
	tk := time.NewTicker(time.Second)
	defer tk.Stop()
	n.poll(p)
	for {
		select {
		case <-ctx.Done():
			n.poll(p)
			return
		case <-tk.C:
			n.poll(p)
		}
	}
}

// signals turns the first SIGINT/SIGTERM into a cancelled context and a
// second one into an immediate exit (status 130).
type signals struct {
	ch     chan os.Signal
	ctx    context.Context
	cancel context.CancelFunc
	once   sync.Once
}

// watchSignals starts watching; onFirst runs (on the signal goroutine) at
// the first signal.
func watchSignals(parent context.Context, onFirst func(os.Signal), onSecond func()) *signals {
	s := &signals{ch: make(chan os.Signal, 2)}
	s.ctx, s.cancel = context.WithCancel(parent)
	signal.Notify(s.ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case sig, ok := <-s.ch:
			if !ok { // stop
				return
			}
			if onFirst != nil {
				onFirst(sig)
			}
			s.cancel()
		case <-parent.Done():
			return
		}
		if _, ok := <-s.ch; ok {
			if onSecond != nil {
				onSecond()
			}
			os.Exit(exitInterrupts)
		}
	}()
	return s
}

// stop stops watching (the channel is closed so the goroutine ends).
func (s *signals) stop() {
	s.once.Do(func() {
		signal.Stop(s.ch)
		close(s.ch)
		s.cancel()
	})
}
