package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/urfave/cli/v2"
)

func serveCommand() *cli.Command {
	flags := append(appFlags(), hostFlags()...)
	flags = append(flags,
		&cli.StringFlag{Name: "default-app", Usage: "app `ID` for inbound calls without an X-switchlua_app header (default: the first --script)"},
	)
	flags = append(flags, metricsFlags()...)
	flags = append(flags, logFlags()...)
	return &cli.Command{
		Name:  "serve",
		Usage: "run scripts on the inbound calls of one or more nodes until signalled",
		Description: "Each node gets one Listener (one Lua state) running every --script. Inbound\n" +
			"calls are handled by the app their X-switchlua_app header names, else by the\n" +
			"default app (--default-app, or the first script). Stops on Ctrl-C or SIGTERM;\n" +
			"calls in progress are left to FreeSWITCH.\n\n" +
			"   switchlua serve --script router.lua --host fs1 --host fs2",
		Flags:  flags,
		Action: serveAction,
	}
}

func serveAction(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageErr("serve takes no arguments (got %q); scripts go in --script", c.Args().First())
	}
	if len(c.StringSlice("script")) == 0 {
		return usageErr("serve: no --script given (a .lua file or a built-in app, see list-apps)")
	}
	nodes, err := parseHosts(c.StringSlice("host"))
	if err != nil {
		return err
	}
	if len(nodes) == 0 {
		return usageErr("serve: no --host given (HOST[:PORT] of a FreeSWITCH event socket, or SWITCHLUA_HOST)")
	}
	s, err := newSetup(c)
	if err != nil {
		return err
	}
	defer s.close()
	if err := s.loadApps(c.String("default-app")); err != nil {
		return err
	}
	var sigOnce sync.Once
	sig := watchSignals(c.Context, func(os.Signal) {
		sigOnce.Do(func() { s.log.Info("stopping (Ctrl-C again to exit at once)") })
	}, nil)
	defer sig.stop()
	if err := s.startMetrics(); err != nil { // after the signal handler, as in run
		return err
	}

	cfg := s.hostConfig(c.String("password"))
	cfg.DefaultApp = s.mgr.DefaultApp()
	if err := s.dial(sig.ctx, nodes, cfg); err != nil {
		if sig.ctx.Err() != nil {
			return nil
		}
		return err
	}
	var ids []string
	for _, a := range s.mgr.Apps() {
		ids = append(ids, a.ID)
	}
	s.log.Info("serving", "nodes", strings.Join(nodes, ","), "apps", strings.Join(ids, ","),
		"default_app", cfg.DefaultApp, "reload", s.mgr.Watching())

	nm := newNodeMetrics(s.metrics)
	ctx, cancel := context.WithCancel(sig.ctx)
	var wg sync.WaitGroup
	wg.Go(func() { nm.run(ctx, s.pool) })
	sr := &statusReporter{con: s.con, log: s.log, tty: s.tty, interval: statusInterval, serve: true,
		get: func() progress {
			st := s.pool.Stats()
			return progress{Active: int64(st.Calls), Ended: int64(st.TotalCalls) - int64(st.Calls),
				Answered: int64(st.Answered), Failed: int64(st.FailedCalls)}
		}}
	wg.Go(func() { sr.run(ctx) })

	// Serve until signalled, or until every node is gone for good.
	allDone := make(chan struct{})
	go func() {
		for _, l := range s.pool.Listeners() {
			<-l.Done()
		}
		close(allDone)
	}()
	select {
	case <-sig.ctx.Done():
	case <-allDone:
	}
	cancel()
	wg.Wait()
	st := s.pool.Stats()
	fmt.Fprintf(c.App.Writer, "served %d calls (%d sessions answered, %d failed calls, %d script errors) on %d node(s); %d calls still active left to FreeSWITCH\n",
		st.TotalCalls, st.Answered, st.FailedCalls, st.ScriptErrors, len(nodes), st.Calls)
	select {
	case <-allDone:
		if sig.ctx.Err() == nil {
			return fmt.Errorf("serve: every node closed its connection")
		}
	default:
	}
	return nil
}
