package metrics

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// eventMix is what a node sends during a two-leg call, roughly.
var eventMix = []string{
	"CHANNEL_CREATE", "CHANNEL_ORIGINATE", "CHANNEL_OUTGOING", "CHANNEL_STATE", "CHANNEL_CALLSTATE",
	"CHANNEL_PROGRESS", "CHANNEL_ANSWER", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_PARK",
	"CHANNEL_UNPARK", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY", "BACKGROUND_JOB",
	"CALL_UPDATE", "PLAYBACK_START", "PLAYBACK_STOP", "DTMF", "HEARTBEAT",
}

// BenchmarkMetricsEvent measures the hot-path cost of counting an event by
// name (Node.Event: cached child, atomic add) against client_golang's own
// CounterVec.WithLabelValues(name).Inc() in the same run, and the cost of
// ObserveCallback.
func BenchmarkMetricsEvent(b *testing.B) {
	const events = 2_000_000
	m := New()
	node := m.Node("127.0.0.1:8021")
	base := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "baseline_events_total", Help: "x"}, []string{"event"})

	measure := func(f func(string)) float64 {
		for _, n := range eventMix { // warm: create the children
			f(n)
		}
		start := time.Now()
		for i := 0; i < events; i++ {
			f(eventMix[i%len(eventMix)])
		}
		return float64(time.Since(start).Nanoseconds()) / events
	}
	var ours, theirs, observe float64
	for b.Loop() {
		theirs = measure(func(n string) { base.WithLabelValues(n).Inc() })
		ours = measure(node.Event)
		observe = measure(func(string) { m.ObserveCallback("toneplay", 250*time.Microsecond) })
	}
	allocs := testing.AllocsPerRun(1000, func() { node.Event("CHANNEL_ANSWER") })
	fmt.Printf("bench: metrics_event_ns %.1f ns\n", ours)
	fmt.Printf("bench: metrics_event_withlabelvalues_ns %.1f ns\n", theirs)
	fmt.Printf("bench: metrics_event_vs_withlabelvalues %.1f x\n", theirs/ours)
	fmt.Printf("bench: metrics_event_allocs %.0f allocs/event\n", allocs)
	fmt.Printf("bench: metrics_callback_observe_ns %.1f ns\n", observe)
}
