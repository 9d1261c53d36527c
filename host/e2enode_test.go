package host

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/switchlua/switchlua/esl/fssim"
)

// e2eNode is the FreeSWITCH an end-to-end test talks to: the simulator, or
// the real one given by SWITCHLUA_TEST_FS (and SWITCHLUA_TEST_FS_PASSWORD).
type e2eNode struct {
	Addr, Password string
	Sim            *fssim.Sim // nil on a real FreeSWITCH
}

func startNode(t *testing.T) *e2eNode {
	t.Helper()
	if addr := os.Getenv("SWITCHLUA_TEST_FS"); addr != "" {
		pw := os.Getenv("SWITCHLUA_TEST_FS_PASSWORD")
		if pw == "" {
			pw = "ClueCon"
		}
		return &e2eNode{Addr: addr, Password: pw}
	}
	sim := fssim.New(fssim.Config{})
	addr, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	return &e2eNode{Addr: addr, Password: "ClueCon", Sim: sim}
}

// RequireSim skips a test that needs the simulator's knobs.
func (n *e2eNode) RequireSim(t *testing.T) {
	if n.Sim == nil {
		t.Skip("needs the simulator")
	}
}

// testLogger logs warnings and errors to the test's log while it runs.
func testLogger(t *testing.T) *slog.Logger {
	h := &tlogHandler{t: t, mu: new(sync.Mutex), live: new(atomic.Bool)}
	h.live.Store(true)
	t.Cleanup(func() { h.live.Store(false) })
	return slog.New(h)
}

type tlogHandler struct {
	t     *testing.T
	mu    *sync.Mutex
	live  *atomic.Bool
	attrs []slog.Attr
}

func (h *tlogHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (h *tlogHandler) Handle(_ context.Context, r slog.Record) error {
	if !h.live.Load() {
		return nil
	}
	msg := r.Level.String() + " " + r.Message
	for _, a := range h.attrs {
		msg += " " + a.String()
	}
	r.Attrs(func(a slog.Attr) bool { msg += " " + a.String(); return true })
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.live.Load() {
		h.t.Log(msg)
	}
	return nil
}

func (h *tlogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &c
}

func (h *tlogHandler) WithGroup(string) slog.Handler { return h }
