package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"
)

// logFlags are the logging flags every long-running command has.
func logFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "log-level", Value: "info", Usage: "log level: debug, info, warn or error", EnvVars: []string{"SWITCHLUA_LOG_LEVEL"}},
		&cli.StringFlag{Name: "log-format", Value: "text", Usage: "log format: text or json", EnvVars: []string{"SWITCHLUA_LOG_FORMAT"}},
	}
}

// newLogger builds the slog logger of --log-level and --log-format, writing
// to w.
func newLogger(c *cli.Context, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	switch strings.ToLower(c.String("log-level")) {
	case "debug":
		level = slog.LevelDebug
	case "info", "":
		level = slog.LevelInfo
	case "warn", "warning":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		return nil, usageErr("--log-level %q: want debug, info, warn or error", c.String("log-level"))
	}
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: durationsAsStrings}
	switch strings.ToLower(c.String("log-format")) {
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, usageErr("--log-format %q: want text or json", c.String("log-format"))
	}
}

// durationsAsStrings logs every time.Duration as a Go duration string
// ("1.5s", "250ms"), in JSON as in text: slog's JSON handler would write
// nanoseconds, a number nobody reads as a duration.
func durationsAsStrings(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}

// isTerminal reports whether f is a terminal (a character device) and TERM
// does not say it cannot redraw a line.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	if t := os.Getenv("TERM"); t == "dumb" {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// console serializes everything written to stderr and keeps a status line
// redrawn in place at the bottom: a log line written while a status line is
// shown clears it first and redraws it after, so logs and the status line
// never tear each other.
type console struct {
	mu     sync.Mutex
	w      io.Writer
	status string // the status line shown, "" if none
}

func newConsole(w io.Writer) *console { return &console{w: w} }

const clearLine = "\r\033[K"

// Write writes log output above the status line.
func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.status == "" {
		return c.w.Write(p)
	}
	var b bytes.Buffer
	b.WriteString(clearLine)
	b.Write(p)
	if len(p) > 0 && p[len(p)-1] != '\n' {
		b.WriteByte('\n')
	}
	b.WriteString(c.status)
	if _, err := c.w.Write(b.Bytes()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// SetStatus redraws the status line; "" removes it.
func (c *console) SetStatus(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s == c.status {
		return
	}
	if s == "" {
		fmt.Fprint(c.w, clearLine)
	} else {
		fmt.Fprint(c.w, clearLine+s)
	}
	c.status = s
}

// Println writes one line above the status line.
func (c *console) Println(a ...any) {
	_, _ = c.Write([]byte(fmt.Sprintln(a...)))
}

// seconds is a duration flag value that takes a Go duration ("1.5s",
// "250ms") or a plain number of seconds ("10", as switchio's --duration).
type seconds struct{ d time.Duration }

func (s *seconds) Set(v string) error {
	v = strings.TrimSpace(v)
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e9 {
			return fmt.Errorf("out of range")
		}
		s.d = time.Duration(f * float64(time.Second))
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("want seconds or a duration such as 500ms, 10s, 2m")
	}
	s.d = d
	return nil
}

func (s *seconds) String() string {
	if s == nil {
		return "0s"
	}
	return s.d.String()
}

// durationFlag is a flag holding a seconds value.
func durationFlag(name string, def time.Duration, usage string) *cli.GenericFlag {
	f := &cli.GenericFlag{Name: name, Value: &seconds{d: def}, Usage: usage}
	if def != 0 {
		f.DefaultText = def.String()
	}
	return f
}

// durationOf reads a durationFlag.
func durationOf(c *cli.Context, name string) time.Duration {
	if s, ok := c.Generic(name).(*seconds); ok && s != nil {
		return s.d
	}
	return 0
}

// withDefaultText sets the default shown in --help.
func withDefaultText(f *cli.GenericFlag, text string) *cli.GenericFlag {
	f.DefaultText = text
	return f
}

// heldLog holds the records of a logger until release, then passes them
// on, and later ones at once. The apps' start-up warnings go through it: a
// lint warning (say an unknown event name) that is also why loading the
// apps on the nodes failed is then said once, in the error line, instead
// of twice.
type heldLog struct {
	mu      sync.Mutex
	holding bool
	recs    []heldRecord
}

type heldRecord struct {
	h slog.Handler
	r slog.Record
}

// newHeldLog wraps base; records are held until release.
func newHeldLog(base *slog.Logger) (*heldLog, *slog.Logger) {
	hl := &heldLog{holding: true}
	return hl, slog.New(&heldHandler{base: base.Handler(), hl: hl})
}

// release passes the held records on, but those whose message (less an
// "apps: " prefix) err already says; later records pass at once.
// Idempotent.
func (hl *heldLog) release(err error) {
	hl.mu.Lock()
	recs := hl.recs
	hl.recs, hl.holding = nil, false
	hl.mu.Unlock()
	for _, x := range recs {
		if err != nil && strings.Contains(err.Error(), strings.TrimPrefix(x.r.Message, "apps: ")) {
			continue
		}
		_ = x.h.Handle(context.Background(), x.r)
	}
}

// heldHandler is the slog.Handler of a heldLog.
type heldHandler struct {
	base slog.Handler
	hl   *heldLog
}

func (h *heldHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.base.Enabled(ctx, l)
}

func (h *heldHandler) Handle(ctx context.Context, r slog.Record) error {
	h.hl.mu.Lock()
	if h.hl.holding {
		h.hl.recs = append(h.hl.recs, heldRecord{h.base, r.Clone()})
		h.hl.mu.Unlock()
		return nil
	}
	h.hl.mu.Unlock()
	return h.base.Handle(ctx, r)
}

func (h *heldHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &heldHandler{base: h.base.WithAttrs(as), hl: h.hl}
}

func (h *heldHandler) WithGroup(name string) slog.Handler {
	return &heldHandler{base: h.base.WithGroup(name), hl: h.hl}
}
