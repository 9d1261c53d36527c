package host

import (
	"context"

	"github.com/switchlua/switchlua/models"
)

// waiter is a Go caller blocked in WaitFor.
type waiter struct {
	e    *entry
	s    *models.Session
	pred func(*models.Session) bool
	ctx  context.Context
	ch   chan error // capacity 1
}

func (w *waiter) finish(err error) {
	select {
	case w.ch <- err:
	default:
	}
}

// WaitFor waits until pred(s) holds, for Go callers (switchy's waitfor).
// pred runs on the Listener goroutine: at once, after each event of s, and
// after each batch of replies and posted functions (so state an app sets in
// a reply callback is seen too). If s is destroyed first WaitFor returns
// ErrSessionGone (unless pred holds for the destroyed session, e.g.
// "s.Hungup"). pred must not block.
//
//	err := l.WaitFor(ctx, sess, func(s *models.Session) bool { return s.Answered })
func (l *Listener) WaitFor(ctx context.Context, s *models.Session, pred func(*models.Session) bool) error {
	w := &waiter{s: s, pred: pred, ctx: ctx, ch: make(chan error, 1)}
	ok := l.in.push(item{kind: kindFunc, fn: func() {
		if pred(s) {
			w.finish(nil)
			return
		}
		e := l.sessions[s.UUID]
		if e == nil || e.s != s {
			w.finish(ErrSessionGone)
			return
		}
		w.e = e
		l.waiters = append(l.waiters, w)
	}})
	if !ok {
		return ErrClosed
	}
	select {
	case err := <-w.ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-l.loopDone:
		select {
		case err := <-w.ch:
			return err
		default:
			return ErrClosed
		}
	}
}

// WaitEvent waits until an event named name (e.g. "PLAYBACK_START") reaches
// s, and returns it. See WaitFor.
func (l *Listener) WaitEvent(ctx context.Context, s *models.Session, name string) (models.Event, error) {
	var got models.Event
	err := l.WaitFor(ctx, s, func(s *models.Session) bool {
		if ev := s.Latest(); ev != nil && ev.Name() == name {
			got = ev
			return true
		}
		return false
	})
	return got, err
}

// checkWaiters re-evaluates every waiter (after a batch).
func (l *Listener) checkWaiters() {
	keep := l.waiters[:0]
	for _, w := range l.waiters {
		if !l.checkWaiter(w) {
			keep = append(keep, w)
		}
	}
	clear(l.waiters[len(keep):])
	l.waiters = keep
}

// checkWaitersOf re-evaluates the waiters of e (after an event of e).
func (l *Listener) checkWaitersOf(e *entry) {
	keep := l.waiters[:0]
	for _, w := range l.waiters {
		if w.e != e || !l.checkWaiter(w) {
			keep = append(keep, w)
		}
	}
	clear(l.waiters[len(keep):])
	l.waiters = keep
}

// checkWaiter reports whether w is finished (and finishes it).
func (l *Listener) checkWaiter(w *waiter) bool {
	switch {
	case w.ctx.Err() != nil:
		return true
	case w.pred(w.s):
		w.finish(nil)
		return true
	case w.e.gone:
		w.finish(ErrSessionGone)
		return true
	}
	return false
}

// Session returns the tracked session with uuid, nil if none. Call it only on
// the Listener goroutine (in Do, a hook or a WaitFor predicate).
func (l *Listener) Session(uuid string) *models.Session {
	if e := l.sessions[uuid]; e != nil {
		return e.s
	}
	return nil
}

// Call returns the tracked call with tracking key key, nil if none. Call it
// only on the Listener goroutine.
func (l *Listener) Call(key string) *models.Call {
	if ce := l.calls[key]; ce != nil {
		return ce.c
	}
	return nil
}
