// Package metrics exposes switchlua's Prometheus metrics on a private
// registry (no global state: two hosts in one process, or two tests, do not
// share counters).
//
// The host calls a handful of cheap methods on its hot path. Label children
// are resolved once and cached in a read-only map swapped atomically, so a
// call is a map lookup and an atomic add, without allocation or lock.
//
//	m := metrics.New()
//	node := m.Node("10.0.0.1:8021")    // once per FreeSWITCH node
//	node.Event("CHANNEL_ANSWER")         // per event
//	node.SetSessions(n); node.SetCalls(c); node.SetQueueDepth(len(inbox))
//	m.ObserveCallback("toneplay", d)     // per Lua callback run
//	srv, err := m.Start("127.0.0.1:9090", false) // GET /metrics
//
// Label values that come from the wire (event names, hangup causes, app ids)
// are bounded: past MaxLabelValues distinct values per label, new values are
// counted under "other", so a misbehaving peer cannot grow the registry.
//
// Metric names (all prefixed switchlua_):
//
//	events_total{event}                  counter   ESL events received
//	active_sessions{node}                gauge     sessions (channels) tracked
//	active_calls{node}                   gauge     calls tracked
//	event_queue_depth{node}              gauge     events waiting in the node's inbox
//	reconnects_total{node}               counter   ESL reconnections
//	originated_total                     counter   originates sent
//	failed_jobs_total{cause}             counter   originate jobs that failed
//	hangups_total{cause}                 counter   sessions ended, by hangup cause
//	script_errors_total{app}             counter   Lua callback errors
//	callback_duration_seconds{app}       histogram Lua callback run time (per resume)
//	reloads_total, reload_failures_total counter   script reloads applied / refused
//
// plus the standard go_* and process_* collectors.
package metrics

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Namespace prefixes every switchlua metric name.
const Namespace = "switchlua"

// MaxLabelValues bounds the distinct values of each wire-derived label
// (event, cause, app). Further values are counted under OtherLabel.
const MaxLabelValues = 128

// OtherLabel is the label value used once MaxLabelValues is reached.
const OtherLabel = "other"

// CallbackBuckets are the callback_duration_seconds buckets: 100 µs to 1 s
// (the default CPU budget of a callback is 100 ms).
var CallbackBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}

// Metrics holds switchlua's collectors and their registry. Its methods are
// safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	events          *children[prometheus.Counter]
	failedJobs      *children[prometheus.Counter]
	hangups         *children[prometheus.Counter]
	scriptErrors    *children[prometheus.Counter]
	callbackSeconds *children[prometheus.Observer]

	sessions   *prometheus.GaugeVec
	calls      *prometheus.GaugeVec
	queueDepth *prometheus.GaugeVec
	reconnects *prometheus.CounterVec

	originated     prometheus.Counter
	reloads        prometheus.Counter
	reloadFailures prometheus.Counter
}

// New returns Metrics registered on a new private registry, with the Go
// runtime and process collectors.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	counterVec := func(name, help, label string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, []string{label})
		reg.MustRegister(v)
		return v
	}
	gaugeVec := func(name, help string) *prometheus.GaugeVec {
		v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help}, []string{"node"})
		reg.MustRegister(v)
		return v
	}
	counter := func(name, help string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help})
		reg.MustRegister(c)
		return c
	}
	cb := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "callback_duration_seconds",
		Help:    "Run time of Lua callbacks, per resume of the coroutine, by app.",
		Buckets: CallbackBuckets,
	}, []string{"app"})
	reg.MustRegister(cb)

	m := &Metrics{
		reg: reg,
		events: newChildren(counterVec("events_total", "ESL events received, by event name.", "event").
			WithLabelValues),
		failedJobs: newChildren(counterVec("failed_jobs_total", "Originate jobs that failed, by cause.", "cause").
			WithLabelValues),
		hangups: newChildren(counterVec("hangups_total", "Sessions that ended, by hangup cause.", "cause").
			WithLabelValues),
		scriptErrors: newChildren(counterVec("script_errors_total", "Lua callback errors, by app.", "app").
			WithLabelValues),
		callbackSeconds: newChildren(cb.WithLabelValues),

		sessions:   gaugeVec("active_sessions", "Sessions (channels) tracked, by node."),
		calls:      gaugeVec("active_calls", "Calls tracked, by node."),
		queueDepth: gaugeVec("event_queue_depth", "Events waiting in the node's inbox."),
		reconnects: counterVec("reconnects_total", "ESL reconnections, by node.", "node"),

		originated:     counter("originated_total", "Originate commands sent."),
		reloads:        counter("reloads_total", "Script reloads applied."),
		reloadFailures: counter("reload_failures_total", "Script reloads refused (e.g. a syntax error); the old version kept running."),
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is the private registry, for callers that add their own
// collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Event counts one ESL event by name (e.g. "CHANNEL_ANSWER").
func (m *Metrics) Event(name string) { m.events.get(name).Inc() }

// Originated counts one originate sent.
func (m *Metrics) Originated() { m.originated.Inc() }

// JobFailed counts one failed originate job by cause (e.g. "USER_BUSY").
func (m *Metrics) JobFailed(cause string) { m.failedJobs.get(cause).Inc() }

// Hangups counts n ended sessions by hangup cause.
func (m *Metrics) Hangups(cause string, n uint64) { m.hangups.get(cause).Add(float64(n)) }

// ScriptError counts one Lua callback error of app.
func (m *Metrics) ScriptError(app string) { m.scriptErrors.get(app).Inc() }

// ObserveCallback records the run time of one callback resume of app.
func (m *Metrics) ObserveCallback(app string, d time.Duration) {
	m.callbackSeconds.get(app).Observe(d.Seconds())
}

// Reloaded counts one reload: applied (ok) or refused.
func (m *Metrics) Reloaded(ok bool) {
	if ok {
		m.reloads.Inc()
	} else {
		m.reloadFailures.Inc()
	}
}

// Node is the per-node part of the metrics, with its label children
// resolved once. Get it with Metrics.Node when a node's Listener starts.
type Node struct {
	m          *Metrics
	sessions   prometheus.Gauge
	calls      prometheus.Gauge
	queueDepth prometheus.Gauge
	reconnects prometheus.Counter
}

// Node returns the metrics of the FreeSWITCH node called name (host:port).
// Call it once per node and keep the result; calling it again for the same
// name returns handles on the same series.
func (m *Metrics) Node(name string) *Node {
	name = labelValue(name)
	return &Node{
		m:          m,
		sessions:   m.sessions.WithLabelValues(name),
		calls:      m.calls.WithLabelValues(name),
		queueDepth: m.queueDepth.WithLabelValues(name),
		reconnects: m.reconnects.WithLabelValues(name),
	}
}

// Event counts one ESL event by name; the same as Metrics.Event.
func (n *Node) Event(name string) { n.m.Event(name) }

// SetSessions sets the node's number of tracked sessions.
func (n *Node) SetSessions(v int) { n.sessions.Set(float64(v)) }

// SetCalls sets the node's number of tracked calls.
func (n *Node) SetCalls(v int) { n.calls.Set(float64(v)) }

// SetQueueDepth sets the number of events waiting in the node's inbox.
func (n *Node) SetQueueDepth(v int) { n.queueDepth.Set(float64(v)) }

// Reconnects counts k reconnections of the node's ESL connection.
func (n *Node) Reconnects(k uint64) { n.reconnects.Add(float64(k)) }

// children caches the label children of a one-label vector. Lookups read an
// immutable map through an atomic pointer (no lock, no allocation); a miss
// copies the map under a mutex, which happens at most MaxLabelValues times.
type children[T any] struct {
	m       atomic.Pointer[map[string]T]
	mu      sync.Mutex
	resolve func(...string) T
	other   T
	full    bool
}

func newChildren[T any](resolve func(...string) T) *children[T] {
	c := &children[T]{resolve: resolve}
	empty := map[string]T{}
	c.m.Store(&empty)
	return c
}

func (c *children[T]) get(name string) T {
	if v, ok := (*c.m.Load())[name]; ok {
		return v
	}
	return c.miss(name)
}

func (c *children[T]) miss(name string) T {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := *c.m.Load()
	if v, ok := old[name]; ok {
		return v
	}
	if c.full {
		return c.other
	}
	if len(old) >= MaxLabelValues {
		c.full = true
		c.other = c.resolve(OtherLabel)
		return c.other
	}
	// clone: the name may be a slice of a large event buffer
	key := strings.Clone(name)
	v := c.resolve(labelValue(key))
	next := make(map[string]T, len(old)+1)
	for k, x := range old {
		next[k] = x
	}
	next[key] = v
	c.m.Store(&next)
	return v
}

// labelValue makes s a valid, non-empty label value.
func labelValue(s string) string {
	if s == "" {
		return "unknown"
	}
	if !utf8.ValidString(s) {
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	return s
}
