// Command switchlua drives FreeSWITCH over the Event Socket with call flows
// written in Lua.
//
//	switchlua run --script toneplay --rate 20 --limit 100 --max-offered 100
//	switchlua serve --script router.lua --host fs1 --host fs2
//	switchlua sim --listen 127.0.0.1:8021
//	switchlua list-apps
//	switchlua check app.lua
//	switchlua plot cdr.csv -o cdr.png
//
// `run` generates calls (the Originator), runs the scripts on them, shows
// progress, writes one CDR row per call and ends with a summary. With no
// --host it starts the built-in FreeSWITCH simulator on loopback and calls
// that. `serve` runs scripts on the inbound calls of one or more nodes until
// signalled. `sim` runs the simulator alone. `list-apps` prints the built-in
// apps, `check` compiles and lints scripts, `plot` draws a CDR file.
//
// # Exit status
//
//	0    success; for `run`, a run that ended (all calls offered, or stopped
//	     by Ctrl-C/SIGTERM) with at least one call answered. Failed calls do
//	     not change the status: measuring them is what a load test is for;
//	     read failed / failed_by_cause from --summary-json to gate on them.
//	1    an error: a node could not be reached or refused the password, or
//	     (`run`) every node was lost mid-run (its connection down longer
//	     than max(10s, --duration)); a script does not compile or failed to
//	     load; a file could not be written; `check` found problems.
//	2    a bad command line (unknown flag, bad value, missing argument, a
//	     --script spec that cannot be parsed or names no file or built-in,
//	     the same script twice).
//	3    `run` only: calls were offered but none was answered. That is almost
//	     always a set-up problem (no park context on the profile, a wrong
//	     --dest or --proxy), so it is not reported as success.
//	130  a second Ctrl-C: exit at once, without the orderly shutdown.
//
// Errors are printed as one line on stderr, prefixed "switchlua: ".
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/urfave/cli/v2"
)

// version is printed by --version; set it at build time with
// -ldflags "-X main.version=v1.2.3".
var version = "dev"

// Exit statuses (see the package documentation).
const (
	exitOK         = 0
	exitError      = 1
	exitUsage      = 2
	exitNoAnswer   = 3
	exitInterrupts = 130
)

// exitErr is an error with the exit status it should give.
type exitErr struct {
	code int
	err  error
}

func (e *exitErr) Error() string { return e.err.Error() }
func (e *exitErr) Unwrap() error { return e.err }

// usageErr is a command-line error (exit status 2).
func usageErr(format string, a ...any) error {
	return &exitErr{code: exitUsage, err: fmt.Errorf(format, a...)}
}

// withCode wraps err with an exit status.
func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitErr{code: code, err: err}
}

// silentErr is an exit status whose message was already printed.
type silentErr struct{ code int }

func (e silentErr) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func main() {
	os.Exit(Main(os.Args, os.Stdout, os.Stderr))
}

// Main runs the switchlua command line args and returns the exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	err := app.Run(interspersed(app, args))
	return report(stderr, err)
}

// report prints err as one line and returns its exit status.
func report(stderr io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	var s silentErr
	if errors.As(err, &s) {
		return s.code
	}
	code := exitError
	var e *exitErr
	if errors.As(err, &e) {
		code = e.code
	}
	fmt.Fprintln(stderr, "switchlua: "+oneLine(err.Error()))
	return code
}

// oneLine folds a multi-line message into one line.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "\n") {
		return s
	}
	parts := strings.Split(s, "\n")
	out := parts[:0]
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, "; ")
}

func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:  "switchlua",
		Usage: "script, reload and load-test FreeSWITCH call flows in Lua",
		Description: "switchlua drives FreeSWITCH over the Event Socket (ESL, inbound mode). Call flows\n" +
			"are Lua scripts (on_park(sess), on_answer(sess), ...) that reload when saved.\n" +
			"Without --host, `run` calls the built-in FreeSWITCH simulator.",
		Writer:                    stdout,
		ErrWriter:                 stderr,
		Version:                   version,
		DisableSliceFlagSeparator: true,
		Suggest:                   true,
		ExitErrHandler:            func(*cli.Context, error) {},
		OnUsageError:              onUsageError,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErr("no command %q (see switchlua --help)", c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
		Commands: []*cli.Command{
			runCommand(),
			serveCommand(),
			simCommand(),
			listAppsCommand(),
			checkCommand(),
			plotCommand(),
		},
	}
	for _, c := range app.Commands {
		c.OnUsageError = onUsageError
	}
	return app
}

// invalidValue matches the flag package's error for a value it cannot parse.
var invalidValue = regexp.MustCompile(`^invalid value (".*") for flag -+(\S+): ?(.*)$`)

// onUsageError turns urfave/cli's flag errors into one line and exit status 2
// (instead of the whole help text).
func onUsageError(c *cli.Context, err error, _ bool) error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "flag provided but not defined: ")
	if msg != err.Error() {
		if strings.HasPrefix(msg, "-") && !strings.HasPrefix(msg, "--") && len(msg) > 2 {
			msg = "-" + msg
		}
		msg = "unknown flag " + msg
	}
	if m := invalidValue.FindStringSubmatch(msg); m != nil {
		msg = fmt.Sprintf("--%s: invalid value %s", m[2], m[1])
		if m[3] != "" && m[3] != "parse error" {
			msg += " (" + m[3] + ")"
		}
	}
	name := "switchlua"
	if c != nil && c.Command != nil && c.Command.Name != "" && c.Command.Name != c.App.Name {
		name = "switchlua " + c.Command.Name
	}
	return usageErr("%s (see %s --help)", msg, name)
}

// interspersed moves a command's flags in front of its positional arguments,
// so `switchlua plot cdr.csv -o out.png` works: urfave/cli (like Go's flag
// package) stops parsing flags at the first positional argument.
func interspersed(app *cli.App, args []string) []string {
	if len(args) < 3 {
		return args
	}
	var cmd *cli.Command
	for _, c := range app.Commands {
		if c.HasName(args[1]) {
			cmd = c
		}
	}
	if cmd == nil {
		return args
	}
	takesValue := map[string]bool{}
	for _, f := range cmd.Flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			takesValue[n] = !isBool
		}
	}
	var flags, pos []string
	rest := args[2:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if a == "--" {
			pos = append(pos, rest[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if takesValue[name] && i+1 < len(rest) {
			i++
			flags = append(flags, rest[i])
		}
	}
	out := append([]string{args[0], args[1]}, flags...)
	if len(pos) > 0 {
		out = append(out, "--")
		out = append(out, pos...)
	}
	return out
}
