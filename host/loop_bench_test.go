package host

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/switchlua/switchlua/bindings"
	"github.com/switchlua/switchlua/esl"
	"github.com/switchlua/switchlua/models"
)

// instantConn answers every command "+OK" at once, through the inbox, as the
// esl reader would.
type instantConn struct{ l *Listener }

func (c instantConn) SendAsync(cmd string, done func(string, error)) { done("+OK", nil) }
func (instantConn) Subscribe(_ context.Context, _ ...string) error   { return nil }
func (instantConn) Unsubscribe(_ context.Context, _ ...string) error { return nil }
func (instantConn) Connected() bool                                  { return true }
func (instantConn) Close() error                                     { return nil }

// nopRuntime is a runtime with no app.
type nopRuntime struct{}

func (nopRuntime) Load(bindings.AppSpec) error                        { return nil }
func (nopRuntime) Unload(string)                                      {}
func (nopRuntime) HasApp(string) bool                                 { return false }
func (nopRuntime) Handles(string, string) bool                        { return false }
func (nopRuntime) Apps() []string                                     { return nil }
func (nopRuntime) Events() []string                                   { return nil }
func (nopRuntime) Dispatch(*models.Session, models.Event)             {}
func (nopRuntime) DispatchJob(*models.Session, *models.Job)           {}
func (nopRuntime) DispatchJobTo(string, *models.Session, *models.Job) {}
func (nopRuntime) SessionGone(*models.Session)                        {}
func (nopRuntime) Stats() bindings.Stats                              { return bindings.Stats{} }
func (nopRuntime) Close()                                             {}

// pump handles what the inbox holds, on the calling goroutine (the loop is
// not running).
func (l *Listener) pump() {
	for {
		batch := l.in.take(nil)
		if len(batch) == 0 {
			return
		}
		for i := range batch {
			it := &batch[i]
			switch it.kind {
			case kindEvent:
				l.onEvent(it.ev)
			case kindReply:
				it.done(it.reply, it.err)
			case kindFunc:
				it.fn()
			}
		}
	}
}

// parsedCapture parses the load capture's events once.
func parsedCapture(tb testing.TB) []*esl.Event {
	frames := loadCaptureFrames(tb, loadCapture)
	evs := make([]*esl.Event, 0, len(frames))
	for _, f := range frames {
		body := f[bytes.Index(f, []byte("\n\n"))+2:]
		ev, err := esl.ParseEvent(body)
		if err != nil {
			tb.Fatal(err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// loopNsPerEvent runs the capture's events reps times through a Listener
// loop driven inline and returns ns per event.
func loopNsPerEvent(tb testing.TB, evs []*esl.Event, reps int, withApp bool) float64 {
	l := newListener(Config{ParkTimeout: -1}, "bench")
	var rt appRuntime = nopRuntime{}
	if withApp {
		r, err := bindings.New(l, bindings.Options{})
		if err != nil {
			tb.Fatal(err)
		}
		if err := r.Load(toneplayApp(tb)); err != nil {
			tb.Fatal(err)
		}
		rt = r
	}
	l.conn, l.rt = instantConn{l}, rt
	defer rt.Close()
	start := time.Now()
	for range reps {
		for _, ev := range evs {
			l.onEvent(ev)
			l.pump()
		}
	}
	el := time.Since(start)
	if len(l.sessions) != 0 {
		tb.Fatalf("%d sessions left", len(l.sessions))
	}
	return float64(el.Nanoseconds()) / float64(reps*len(evs))
}

// parseNsPerEvent is the cost of parsing the capture's events (the esl
// reader's main work), for scale.
func parseNsPerEvent(tb testing.TB, reps int) float64 {
	frames := loadCaptureFrames(tb, loadCapture)
	start := time.Now()
	for range reps {
		for _, f := range frames {
			if _, err := esl.ParseEvent(f[bytes.Index(f, []byte("\n\n"))+2:]); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return float64(time.Since(start).Nanoseconds()) / float64(reps*len(frames))
}

// BenchmarkLoopPerEvent: CPU per event on the Listener goroutine alone (no
// network), tracking only and with TonePlay, against parsing the same event.
func BenchmarkLoopPerEvent(b *testing.B) {
	evs := parsedCapture(b)
	once("LoopPerEvent", func() {
		parse := min(parseNsPerEvent(b, 10), parseNsPerEvent(b, 10))
		track := min(loopNsPerEvent(b, evs, 10, false), loopNsPerEvent(b, evs, 10, false))
		full := min(loopNsPerEvent(b, evs, 10, true), loopNsPerEvent(b, evs, 10, true))
		fmt.Printf("bench: esl_parse_ns_per_event %.0f ns\n", parse)
		fmt.Printf("bench: loop_tracking_ns_per_event %.0f ns\n", track)
		fmt.Printf("bench: loop_toneplay_ns_per_event %.0f ns\n", full)
		fmt.Printf("bench: loop_vs_parse %.2f x\n", parse/full)
	})
}
