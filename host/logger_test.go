package host

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
)

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
