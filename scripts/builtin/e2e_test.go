package builtin_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchlua/switchlua/bindings"
	"github.com/switchlua/switchlua/esl/fssim/fstest"
	"github.com/switchlua/switchlua/host"
	"github.com/switchlua/switchlua/host/originator"
	"github.com/switchlua/switchlua/scripts/builtin"
)

// End-to-end runs of the built-in apps under the Originator, as
// `switchlua run --script NAME` runs them, on the shared harness's node (the
// simulator, or the real FreeSWITCH of SWITCHLUA_TEST_FS).

// syncBuf is a log sink the tests read.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runApp originates calls calls of the built-in app name (with args) under
// an Originator whose calls last d, waits until they are over and returns
// the Originator's counts, the shared store and the log.
func runApp(t *testing.T, name string, args map[string]string, calls int64, d time.Duration) (originator.Counts, *bindings.Shared, string) {
	t.Helper()
	a, ok := builtin.Lookup(name)
	if !ok {
		t.Fatalf("no built-in %s", name)
	}
	sc, err := bindings.CompileScript(a.Path(), []byte(a.Source))
	if err != nil {
		t.Fatal(err)
	}
	tg := fstest.Start(t)
	logs := &syncBuf{}
	lg := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	o, err := originator.New(originator.Config{
		Rate: 10, Limit: int(calls), Duration: d, MaxOffered: calls,
		Apps:   []originator.App{{ID: name, Weight: 1}},
		User:   fstest.NewUser(name),
		Vars:   map[string]string{fstest.TagVar: tg.Tag},
		Logger: lg,
	})
	if err != nil {
		t.Fatal(err)
	}
	shared := bindings.NewShared()
	hc := host.Config{Password: tg.Password, Logger: lg}
	hc.Runtime.Shared = shared
	o.Hook(&hc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := host.DialPool(ctx, []string{tg.Addr}, hc)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	defer o.Close()
	if err := pool.Load(ctx, bindings.AppSpec{ID: name, Scripts: []bindings.Script{sc}, Args: args}); err != nil {
		t.Fatal(err)
	}
	if err := o.Attach(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if err := o.Start(); err != nil {
		t.Fatal(err)
	}
	if err := o.Wait(ctx); err != nil {
		o.Stop(true)
		t.Fatalf("calls not over: %v; %+v\n%s", err, o.Counts(), logs)
	}
	return o.Counts(), shared, logs.String()
}

// DtmfChecker passes with a call duration shorter than its digits take:
// 9 digits at FreeSWITCH's ~520 ms spacing need ~4.7 s, the Originator
// would hang up at 3 s, so the app turns the auto-hangup off and ends the
// call itself once it has checked.
func TestE2EDtmfChecker(t *testing.T) {
	if testing.Short() {
		t.Skip("short: a 5 s call")
	}
	const calls = 2
	c, shared, logs := runApp(t, "dtmfchecker", nil, calls, 3*time.Second)
	okN, _ := shared.Get("dtmfchecker.ok")
	failedN, _ := shared.Get("dtmfchecker.failed")
	if okN != float64(calls) || failedN != nil || c.Answered != calls || c.Failed != 0 {
		t.Fatalf("ok %v failed %v; counts %+v\n%s", okN, failedN, c, logs)
	}
}

// PlayRec logs each recording as FreeSWITCH reports it, variables expanded.
func TestE2EPlayRec(t *testing.T) {
	c, _, logs := runApp(t, "playrec", map[string]string{"tail": "0.2", "recdir": "${base_dir}/recordings"}, 1, 2*time.Second)
	if c.Answered != 1 || c.Failed != 0 {
		t.Fatalf("counts %+v\n%s", c, logs)
	}
	var rec string
	for _, ln := range strings.Split(logs, "\n") {
		if strings.Contains(ln, "msg=\"recorded ") {
			rec = ln
		}
	}
	if rec == "" || strings.Contains(rec, "${") || !strings.Contains(rec, "/recordings/callee_") {
		t.Fatalf("recording log line %q\n%s", rec, logs)
	}
}
