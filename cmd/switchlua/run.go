package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/switchlua/switchlua/esl/fssim"
	"github.com/switchlua/switchlua/host"
	"github.com/switchlua/switchlua/host/cdr"
	"github.com/switchlua/switchlua/host/originator"
)

// Defaults of run's load flags.
const (
	defaultRate  = originator.DefaultRate
	defaultLimit = 100
)

// Shutdown budget after Ctrl-C / SIGTERM: our calls are hung up and waited
// for until hangupWait, then the CDR is flushed and the summary printed; if
// anything hangs, the process exits at shutdownLimit regardless.
const (
	hangupWait    = 3 * time.Second
	shutdownLimit = 4800 * time.Millisecond
)

func runCommand() *cli.Command {
	flags := append(appFlags(), hostFlags()...)
	flags = append(flags,
		&cli.Float64Flag{Name: "rate", Value: defaultRate, Usage: "calls offered per second"},
		&cli.IntFlag{Name: "limit", Value: defaultLimit, Usage: "most calls in progress at once (erlangs)"},
		withDefaultText(durationFlag("duration", 0, "how long each call lasts from its originate, answered or not: every call is hung up by then unless its app sets call.vars.noautohangup; seconds or as 500ms, 2m"), "limit/rate + 1s"),
		&cli.Int64Flag{Name: "max-offered", DefaultText: "0", Usage: "stop after offering this many calls and wait for them to end; 0: no limit, offer until Ctrl-C"},
		&cli.StringFlag{Name: "dest", Usage: "where calls go: USER@HOST[:PORT] through --profile, or a full dial string (default: a self-call to the node's own --profile SIP address)"},
		&cli.StringFlag{Name: "profile", Value: originator.DefaultProfile, Usage: "sofia profile the calls go out through"},
		&cli.StringFlag{Name: "proxy", Usage: "send the INVITEs through this SIP proxy `HOST[:PORT]` (;fs_path)"},
		&cli.StringFlag{Name: "metrics-file", Usage: "write one CDR row per call to `FILE`: CSV, or SQLite when it ends in .db"},
		&cli.StringFlag{Name: "summary-json", Usage: "write the end-of-run summary as JSON to `FILE`"},
	)
	flags = append(flags, metricsFlags()...)
	flags = append(flags, logFlags()...)
	return &cli.Command{
		Name:      "run",
		Usage:     "originate calls, run scripts on them, and report",
		UsageText: "switchlua run --script APP [--host HOST[:PORT]...] [--rate N] [--limit N] [--max-offered N] [options]",
		Description: "Offers --rate calls per second, at most --limit at once. Every call, answered or\n" +
			"not, is hung up --duration after its originate unless its app sets\n" +
			"call.vars.noautohangup (unanswered ones with ALLOTTED_TIMEOUT). Both legs of each\n" +
			"call run the app of its X-switchlua_app header; with several --script apps, calls\n" +
			"are shared by their :weight=N. Without --host the built-in FreeSWITCH simulator is\n" +
			"started on loopback. On each node, run raises fsctl sps and max_sessions to what\n" +
			"the rate and limit need (at least 10000 each, never lowering them) and sets fsctl\n" +
			"verbose_events true if the apps use events that need it (DTMF, CHANNEL_CALLSTATE...).\n" +
			"Ctrl-C or SIGTERM stops offering, hangs up our calls, writes the CDR and the\n" +
			"summary (a second Ctrl-C exits at once); calls not answered yet that it hangs up\n" +
			"count as cancelled, not failed. A node whose connection stays down longer\n" +
			"than max(10s, --duration) is lost: its calls are counted failed with\n" +
			"SWITCHLUA_CONNECTION_LOST (with CDR rows), and once every node is lost the run\n" +
			"ends with a line saying so and exit status 1.\n" +
			"Exit status: 0 when the run ended (failed calls do not change it); 1 on errors\n" +
			"(a node unreachable, refusing the password or lost; a broken script; a file that\n" +
			"cannot be written); 2 on a bad command line (a bad flag or --script spec); 3 when\n" +
			"calls were offered and none was answered (a set-up problem).\n\n" +
			"   switchlua run --script toneplay --rate 20 --limit 100 --max-offered 100\n" +
			"   switchlua run --script a.lua:weight=3 --script b.lua --host fs1 --metrics-file cdr.db",
		Flags:  flags,
		Action: runAction,
	}
}

// runOpts are run's validated flags.
type runOpts struct {
	rate        float64
	limit       int
	duration    time.Duration
	maxOffered  int64
	nodes       []string
	password    string
	metricsFile string
	summaryJSON string
}

func runFlags(c *cli.Context) (runOpts, error) {
	o := runOpts{
		rate:        c.Float64("rate"),
		limit:       c.Int("limit"),
		duration:    durationOf(c, "duration"),
		maxOffered:  c.Int64("max-offered"),
		password:    c.String("password"),
		metricsFile: c.String("metrics-file"),
		summaryJSON: c.String("summary-json"),
	}
	switch {
	case c.NArg() > 0:
		return o, usageErr("run takes no arguments (got %q); scripts go in --script", c.Args().First())
	case len(c.StringSlice("script")) == 0:
		return o, usageErr("run: no --script given (a .lua file or a built-in app, see list-apps)")
	case !(o.rate > 0) || o.rate > 1e6:
		return o, usageErr("--rate %v: want calls per second > 0", c.Float64("rate"))
	case o.limit < 1:
		return o, usageErr("--limit %d: want at least 1 call", o.limit)
	case o.duration < 0:
		return o, usageErr("--duration must not be negative")
	case o.maxOffered < 0:
		return o, usageErr("--max-offered must not be negative")
	case o.password == "":
		return o, usageErr("--password must not be empty")
	case o.metricsFile != "" && o.metricsFile == o.summaryJSON:
		return o, usageErr("--metrics-file and --summary-json name the same file")
	}
	var err error
	o.nodes, err = parseHosts(c.StringSlice("host"))
	return o, err
}

func runAction(c *cli.Context) error {
	ro, err := runFlags(c)
	if err != nil {
		return err
	}
	s, err := newSetup(c)
	if err != nil {
		return err
	}
	// Everything started below is stopped by closeAll, in order: the pool
	// (and apps, metrics), then the CDR file, then the simulator, so the
	// nodes do not see their server vanish first. It is idempotent: the
	// normal path calls it before printing the summary.
	var w cdr.Writer
	var sim *fssim.Sim
	closeAll := func() {
		s.close()
		if w != nil {
			_ = w.Close()
		}
		if sim != nil {
			_ = sim.Close()
		}
	}
	defer closeAll()
	if err := s.loadApps(""); err != nil {
		return err
	}

	// The CDR file and the summary file are opened first, so a path that
	// cannot be written is an error before any call is made.
	if ro.metricsFile != "" {
		var once sync.Once
		w, err = cdr.OpenWith(ro.metricsFile, cdr.Options{OnError: func(err error) {
			once.Do(func() { s.log.Error("CDR file: write failed; later rows are lost", "file", ro.metricsFile, "err", err) })
		}})
		if err != nil {
			w = nil
			return fmt.Errorf("--metrics-file %s: %v", ro.metricsFile, unwrapPath(err))
		}
	}
	if ro.summaryJSON != "" {
		if err := checkWritable(ro.summaryJSON); err != nil {
			return fmt.Errorf("--summary-json %s: %v", ro.summaryJSON, err)
		}
	}
	// Ctrl-C / SIGTERM: stop (the first), exit at once (the second). The
	// stopping line is logged only once calls were started: before that
	// the run ends with an "interrupted while ..." error. startMu orders
	// the signal against the start.
	var interrupted atomic.Bool
	var sigAt atomic.Int64
	var startMu sync.Mutex
	started := false
	sig := watchSignals(c.Context, func(os.Signal) {
		startMu.Lock()
		interrupted.Store(true)
		sigAt.Store(time.Now().UnixNano())
		if started {
			s.log.Info("stopping: no more calls; hanging up ours (Ctrl-C again to exit at once)")
		}
		startMu.Unlock()
		time.AfterFunc(shutdownLimit, func() {
			fmt.Fprintln(c.App.ErrWriter, "switchlua: shutdown took too long; exiting")
			os.Exit(exitError)
		})
	}, nil)
	defer sig.stop()
	// After the signal handler: a test (or a user) that sees the metrics
	// endpoint's log line can interrupt the run.
	if err := s.startMetrics(); err != nil {
		return err
	}

	if len(ro.nodes) == 0 {
		var addr string
		sim, addr, err = startEmbeddedSim(ro.password)
		if err != nil {
			return err
		}
		ro.nodes = []string{addr}
		s.con.Println("no --host: started the built-in FreeSWITCH simulator on " + addr)
	}
	sum := cdr.NewSummary()
	s.onScriptError = sum.ScriptError
	s.onReload = sum.Reloaded
	var oapps []originator.App
	for _, a := range s.mgr.Apps() {
		oapps = append(oapps, originator.App{ID: a.ID, Weight: a.Weight})
	}
	m := s.metrics
	orig, err := originator.New(originator.Config{
		Rate:       ro.rate,
		Limit:      ro.limit,
		Duration:   ro.duration,
		MaxOffered: ro.maxOffered,
		Apps:       oapps,
		Dest:       c.String("dest"),
		Profile:    c.String("profile"),
		Proxy:      c.String("proxy"),
		Logger:     s.log,
		OnOffer: func(of originator.Offer) {
			sum.Offered(of.Time)
			m.Originated()
		},
		OnCallEnd: func(r cdr.Row) {
			if w != nil {
				_ = w.Write(r) // a failed write is logged once by OnError
			}
			sum.CallEnded(r)
		},
	})
	if err != nil {
		return usageErr("%v", strings.TrimPrefix(err.Error(), "originator: "))
	}
	hc := s.hostConfig(ro.password)
	orig.Hook(&hc)
	if err := s.dial(sig.ctx, ro.nodes, hc); err != nil {
		if sig.ctx.Err() != nil {
			return withCode(exitError, errors.New("interrupted while connecting"))
		}
		return err
	}
	// Attach raises the nodes' `fsctl sps` if it must and then waits for
	// FreeSWITCH's next refill of the sessions-per-second budget, so the
	// first second's calls are not refused.
	actx, acancel := context.WithTimeout(sig.ctx, 10*time.Second)
	err = orig.Attach(actx, s.pool)
	acancel()
	if err != nil {
		if sig.ctx.Err() != nil {
			return withCode(exitError, errors.New("interrupted while setting up the nodes"))
		}
		return fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "originator: "))
	}

	var names []string
	for _, a := range s.mgr.Apps() {
		names = append(names, fmt.Sprintf("%s(weight %d)", a.ID, a.Weight))
	}
	maxOff := "until Ctrl-C"
	if ro.maxOffered > 0 {
		maxOff = fmt.Sprint(ro.maxOffered)
	}
	s.log.Info("originating", "nodes", strings.Join(ro.nodes, ","), "apps", strings.Join(names, ","),
		"rate", ro.rate, "limit", ro.limit, "duration", orig.Duration(), "max_offered", maxOff,
		"reload", s.mgr.Watching())

	startMu.Lock()
	if !interrupted.Load() { // not interrupted while setting up
		if err := orig.Start(); err != nil {
			startMu.Unlock()
			return err
		}
		started = true
	}
	startMu.Unlock()

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	nm := newNodeMetrics(m)
	wg.Go(func() { nm.run(ctx, s.pool) })
	sr := &statusReporter{con: s.con, log: s.log, tty: s.tty, interval: statusInterval,
		get: func() progress {
			k := orig.Counts()
			return progress{Active: k.Active, Offered: k.Offered, Answered: k.Answered, Failed: k.Failed}
		}}
	wg.Go(func() { sr.run(ctx) })

	// Run until STOPPED (max-offered reached and every call ended), a
	// signal, or every node lost.
	runCtx, runCancel := context.WithCancel(sig.ctx)
	lostCh := make(chan error, 1)
	go func() {
		err := watchLost(runCtx, orig)
		if err != nil {
			runCancel()
		}
		lostCh <- err
	}()
	_ = orig.Wait(runCtx)
	runCancel()
	lost := <-lostCh
	if lost != nil && !interrupted.Load() {
		// The lost nodes' calls were given up already: this only moves the
		// Originator to STOPPED.
		orig.Stop(true)
		wctx, wcancel := context.WithTimeout(context.Background(), time.Second)
		_ = orig.Wait(wctx)
		wcancel()
	}
	if interrupted.Load() {
		orig.Stop(true)
		deadline := time.Unix(0, sigAt.Load()).Add(hangupWait)
		wctx, wcancel := context.WithDeadline(context.Background(), deadline)
		if orig.Wait(wctx) != nil {
			k := orig.Counts()
			s.log.Warn("calls still up after the shutdown wait; leaving them",
				"active", k.Active, "clear_with", clearCommands(oapps))
		}
		wcancel()
	}
	// No more offers, then no more call ends (the nodes' Listeners close):
	// the counts and in-progress calls below are final, and a call cannot
	// end between the two and be counted both ended and in progress.
	orig.Close()
	s.close()
	k := orig.Counts()
	left := orig.InProgress()
	sum.Stop(time.Now())
	sum.Concurrent(k.Peak)
	sum.LeftUp(k.Active, k.ActiveAnswered)
	for _, r := range left { // their setup latencies: they have no row
		sum.InProgress(r)
	}
	cancel()
	wg.Wait()

	var errs []error
	if w != nil {
		if err := w.Close(); err != nil {
			errs = append(errs, fmt.Errorf("--metrics-file %s: %v", ro.metricsFile, err))
		}
		sum.SetCDRRows(w.Rows())
	}
	rep := sum.Report()
	closeAll()

	out := c.App.Writer
	fmt.Fprintln(out)
	_ = rep.WriteTable(out)
	if w != nil {
		fmt.Fprintf(out, "CDR: %d rows in %s\n", w.Rows(), ro.metricsFile)
	}
	if ro.summaryJSON != "" {
		if err := os.WriteFile(ro.summaryJSON, rep.JSON(), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("--summary-json %s: %v", ro.summaryJSON, unwrapPath(err)))
		}
	}
	if lost != nil {
		errs = append([]error{lost}, errs...)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if rep.Offered > 0 && rep.Answered == 0 && !interrupted.Load() {
		return withCode(exitNoAnswer, fmt.Errorf("%d calls offered, none answered (is the %s profile's context parking calls? is --dest right?)",
			rep.Offered, c.String("profile")))
	}
	return nil
}

// clearCommands are the FreeSWITCH API commands (fs_cli -x) that hang up
// the calls of the run's apps: every leg of ours carries its app id in
// sip_h_X-switchlua_app.
func clearCommands(apps []originator.App) string {
	var cmds []string
	for _, a := range apps {
		cmds = append(cmds, "hupall NORMAL_CLEARING sip_h_X-switchlua_app "+a.ID)
	}
	return strings.Join(cmds, "; ")
}

// checkWritable makes sure path can be created (it is written at the end of
// the run), without leaving a file behind if it did not exist.
func checkWritable(path string) error {
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return unwrapPath(err)
	}
	_ = f.Close()
	if errors.Is(statErr, os.ErrNotExist) {
		_ = os.Remove(path)
	}
	return nil
}

// unwrapPath drops the "open PATH: " of a *os.PathError (the caller names
// the file).
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// lostPoll is how often the run checks whether its nodes are lost.
const lostPoll = 250 * time.Millisecond

// watchLost returns an error once every node of the Originator is lost (its
// connection down longer than LostAfter, or its Listener closed), nil when
// ctx ends first. The error is the run's last line: which nodes, for how
// long, and how many calls were counted lost.
func watchLost(ctx context.Context, orig *originator.Originator) error {
	tk := time.NewTicker(lostPoll)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tk.C:
		}
		k := orig.Counts()
		if len(k.Nodes) == 0 {
			continue
		}
		var names []string
		var calls int64
		for _, n := range k.Nodes {
			if !n.Lost {
				names = nil
				break
			}
			names = append(names, n.Node)
			calls += n.LostCalls
		}
		if names == nil {
			continue
		}
		what := "node " + names[0]
		if len(names) > 1 {
			what = "every node (" + strings.Join(names, ", ") + ")"
		}
		return fmt.Errorf("%s lost: no connection for %v; %d calls counted lost (failed, cause %s)",
			what, orig.LostAfter(), calls, host.CauseLostConnection)
	}
}
