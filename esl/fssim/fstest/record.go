package fstest

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchlua/switchlua/esl"
)

// Recorder keeps every event of one esl connection (read from its Events
// channel) so a test can wait for them in order without losing any.
type Recorder struct {
	mu     sync.Mutex
	cond   *sync.Cond
	events []*esl.Event
	cursor int  // Next's position
	closed bool // the channel closed
}

// Record starts recording c's events (c must not use Options.Handler).
func Record(c *esl.Conn) *Recorder {
	r := &Recorder{}
	r.cond = sync.NewCond(&r.mu)
	ch := c.Events()
	go func() {
		for ev := range ch {
			r.mu.Lock()
			r.events = append(r.events, ev)
			r.cond.Broadcast()
			r.mu.Unlock()
		}
		r.mu.Lock()
		r.closed = true
		r.cond.Broadcast()
		r.mu.Unlock()
	}()
	return r
}

// wait calls match (with r.mu held) until it reports true or timeout passes.
func (r *Recorder) wait(timeout time.Duration, match func() bool) bool {
	deadline := time.Now().Add(timeout)
	t := time.AfterFunc(timeout, func() {
		r.mu.Lock()
		r.cond.Broadcast()
		r.mu.Unlock()
	})
	defer t.Stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		if match() {
			return true
		}
		if r.closed || !time.Now().Before(deadline) {
			return false
		}
		r.cond.Wait()
	}
}

// Next waits for the next event (after the last one Next returned) that
// satisfies pred and returns it; events skipped on the way stay recorded.
// It fails the test after timeout.
func (r *Recorder) Next(t testing.TB, timeout time.Duration, what string, pred func(*esl.Event) bool) *esl.Event {
	t.Helper()
	var got *esl.Event
	ok := r.wait(timeout, func() bool {
		for i := r.cursor; i < len(r.events); i++ {
			if pred(r.events[i]) {
				got = r.events[i]
				r.cursor = i + 1
				return true
			}
		}
		return false
	})
	if !ok {
		t.Fatalf("fstest: no %s within %v; events seen:\n%s", what, timeout, Summary(r.Events()))
	}
	return got
}

// Find waits for any recorded event that satisfies pred (cursor unchanged).
func (r *Recorder) Find(t testing.TB, timeout time.Duration, what string, pred func(*esl.Event) bool) *esl.Event {
	t.Helper()
	var got *esl.Event
	ok := r.wait(timeout, func() bool {
		for _, ev := range r.events {
			if pred(ev) {
				got = ev
				return true
			}
		}
		return false
	})
	if !ok {
		t.Fatalf("fstest: no %s within %v; events seen:\n%s", what, timeout, Summary(r.Events()))
	}
	return got
}

// Count waits until n recorded events satisfy pred.
func (r *Recorder) Count(t testing.TB, timeout time.Duration, what string, n int, pred func(*esl.Event) bool) []*esl.Event {
	t.Helper()
	var got []*esl.Event
	ok := r.wait(timeout, func() bool {
		got = got[:0]
		for _, ev := range r.events {
			if pred(ev) {
				got = append(got, ev)
			}
		}
		return len(got) >= n
	})
	if !ok {
		t.Fatalf("fstest: %d of %d %s within %v", len(got), n, what, timeout)
	}
	return got
}

// Events returns the events recorded so far.
func (r *Recorder) Events() []*esl.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*esl.Event(nil), r.events...)
}

// Is matches an event by name and, if uuid is not empty, channel uuid.
func Is(name, uuid string) func(*esl.Event) bool {
	return func(ev *esl.Event) bool { return ev.Name() == name && (uuid == "" || ev.UUID() == uuid) }
}

// InboundTo matches an event of an inbound leg whose destination is user.
func InboundTo(name, user string) func(*esl.Event) bool {
	return func(ev *esl.Event) bool {
		return ev.Name() == name && ev.Get("Call-Direction") == "inbound" &&
			ev.Get("Caller-Destination-Number") == user
	}
}

// Names returns the names of the events of channel uuid, in order.
func Names(evs []*esl.Event, uuid string) []string {
	var out []string
	for _, ev := range evs {
		if ev.UUID() == uuid {
			out = append(out, ev.Name())
		}
	}
	return out
}

// IsSubsequence reports whether want appears in have in order (other
// entries may come between).
func IsSubsequence(have, want []string) bool {
	i := 0
	for _, h := range have {
		if i < len(want) && h == want[i] {
			i++
		}
	}
	return i == len(want)
}

// Summary formats events one per line (name, uuid, application) for failure messages.
func Summary(evs []*esl.Event) string {
	var b strings.Builder
	for _, ev := range evs {
		b.WriteString(ev.Name())
		if u := ev.UUID(); u != "" {
			b.WriteString(" " + u)
		}
		if a := ev.Get("Application"); a != "" {
			b.WriteString(" " + a)
		}
		b.WriteString("\n")
	}
	return b.String()
}
