package main

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/switchlua/switchlua/esl/fssim"
	"github.com/switchlua/switchlua/host/originator"
)

func simCommand() *cli.Command {
	d := fssim.DefaultConfig()
	flags := []cli.Flag{
		&cli.StringFlag{Name: "listen", Value: d.Listen, Usage: "ESL address to listen on (port 0 picks a free port)"},
		&cli.StringFlag{Name: "password", Value: d.Password, DefaultText: d.Password, Usage: "ESL password clients must give", EnvVars: []string{"SWITCHLUA_PASSWORD"}},
		&cli.StringFlag{Name: "sip-ip", Value: d.SIPIP, Usage: "address of the simulated SIP profiles (self-calls go to user@SIP-IP:PORT)"},
		&cli.IntFlag{Name: "external-port", Value: d.ExternalPort, Usage: "SIP port of the external profile (context park)"},
		&cli.IntFlag{Name: "internal-port", Value: d.InternalPort, Usage: "SIP port of the internal profile"},
		&cli.StringFlag{Name: "hostname", Value: d.Hostname, Usage: "FreeSWITCH-Hostname of the events"},
		durationFlag("answer-delay", 0, "time from the far end's answer to the caller seeing it (e.g. 50ms)"),
		&cli.BoolFlag{Name: "auto-answer", Usage: "inbound legs answer themselves (after --answer-delay) when they park, for load without an answering app"},
		&cli.Float64Flag{Name: "fail-rate", Usage: "share (0..1) of originates that fail with --fail-cause"},
		&cli.StringFlag{Name: "fail-cause", Value: d.FailCause, Usage: "hangup cause of the --fail-rate failures: a FreeSWITCH cause name (e.g. USER_BUSY, CALL_REJECTED) or number"},
		&cli.IntFlag{Name: "sps", Value: d.SessionsPerSecond, Usage: "sessions per second FreeSWITCH admits (fsctl sps changes it)"},
		&cli.IntFlag{Name: "max-sessions", Value: d.MaxSessions, Usage: "FreeSWITCH's max-sessions (fsctl max_sessions changes it)"},
		durationFlag("file-duration", d.FileDuration, "length of a played file that is not a tone or silence stream"),
		durationFlag("heartbeat", d.HeartbeatInterval, "HEARTBEAT period (negative: none)"),
		&cli.IntFlag{Name: "drop-after-events", Usage: "drop every ESL connection without notice after it was sent this many events (0: never)"},
		&cli.Int64Flag{Name: "seed", Usage: "random seed for failure draws and uuids (0: random)"},
	}
	return &cli.Command{
		Name:  "sim",
		Usage: "run the built-in FreeSWITCH simulator alone, until signalled",
		Description: "The simulator speaks ESL like FreeSWITCH: an originate to its own SIP address\n" +
			"(sofia/external/USER@127.0.0.1:5080) is a self-call whose inbound leg parks.\n" +
			"It prints `listening on ADDR` when ready. Fault knobs: --answer-delay,\n" +
			"--fail-rate/--fail-cause, --sps, --max-sessions, --drop-after-events.",
		Flags:  append(flags, logFlags()...),
		Action: simAction,
	}
}

// simConfig builds the simulator configuration from the sim flags.
func simConfig(c *cli.Context) (fssim.Config, error) {
	cfg := fssim.Config{
		Listen:            c.String("listen"),
		Password:          c.String("password"),
		SIPIP:             c.String("sip-ip"),
		ExternalPort:      c.Int("external-port"),
		InternalPort:      c.Int("internal-port"),
		Hostname:          c.String("hostname"),
		AnswerDelay:       durationOf(c, "answer-delay"),
		AutoAnswer:        c.Bool("auto-answer"),
		FailRate:          c.Float64("fail-rate"),
		FailCause:         c.String("fail-cause"),
		SessionsPerSecond: c.Int("sps"),
		MaxSessions:       c.Int("max-sessions"),
		FileDuration:      durationOf(c, "file-duration"),
		HeartbeatInterval: durationOf(c, "heartbeat"),
		DropAfterEvents:   c.Int("drop-after-events"),
		Seed:              c.Int64("seed"),
	}
	switch {
	case cfg.FailRate < 0 || cfg.FailRate > 1:
		return cfg, usageErr("--fail-rate %v: want a share between 0 and 1 (0.1 is 10%%)", cfg.FailRate)
	case cfg.AnswerDelay < 0:
		return cfg, usageErr("--answer-delay must not be negative")
	case cfg.SessionsPerSecond < 0 || cfg.MaxSessions < 0 || cfg.DropAfterEvents < 0:
		return cfg, usageErr("--sps, --max-sessions and --drop-after-events must not be negative")
	case cfg.Password == "":
		return cfg, usageErr("--password must not be empty")
	}
	if cause, ok := fssim.CanonicalCause(strings.TrimSpace(cfg.FailCause)); ok {
		cfg.FailCause = cause
	} else {
		return cfg, usageErr("--fail-cause %q: not a FreeSWITCH hangup cause (a name of switch_channel.c's CAUSE_CHART or its number, e.g. USER_BUSY, CALL_REJECTED, NO_ANSWER, NORMAL_TEMPORARY_FAILURE)", cfg.FailCause)
	}
	if _, _, err := net.SplitHostPort(cfg.Listen); err != nil {
		return cfg, usageErr("--listen %q: want HOST:PORT", cfg.Listen)
	}
	return cfg, nil
}

func simAction(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageErr("sim takes no arguments (got %q)", c.Args().First())
	}
	cfg, err := simConfig(c)
	if err != nil {
		return err
	}
	log, err := newLogger(c, c.App.ErrWriter)
	if err != nil {
		return err
	}
	cfg.Logger = log
	sim := fssim.New(cfg)
	addr, err := sim.Start(cfg.Listen)
	if err != nil {
		return fmt.Errorf("sim: cannot listen on %s: %v", cfg.Listen, err)
	}
	full := sim.Config()
	fmt.Fprintf(c.App.Writer, "switchlua sim: FreeSWITCH simulator listening on %s (external profile %s, context %s)\n",
		addr, net.JoinHostPort(full.SIPIP, strconv.Itoa(full.ExternalPort)), full.ExternalContext)

	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	stop()
	st := sim.Stats()
	_ = sim.Close()
	log.Info("simulator stopped", "originates", st.Originates, "originate_failures", st.OriginateFailures,
		"answered", st.CallsAnswered, "legs", st.LegsCreated, "events", st.EventsBuilt)
	return nil
}

// startEmbeddedSim starts the simulator on a free loopback port for `run`
// without --host. The caller closes it. Its sessions-per-second and
// max-sessions start where the Originator's node set-up would raise them.
func startEmbeddedSim(password string) (*fssim.Sim, string, error) {
	sim := fssim.New(fssim.Config{Password: password,
		SessionsPerSecond: originator.MinSPS, MaxSessions: originator.MinMaxSessions})
	addr, err := sim.Start("127.0.0.1:0")
	if err != nil {
		return nil, "", fmt.Errorf("starting the built-in FreeSWITCH simulator: %v", err)
	}
	return sim, addr, nil
}
