package cdr

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// MaxLatencySamples is how many setup latencies a Summary keeps. Up to this
// many answered calls the percentiles are exact; past it the Summary keeps a
// uniform random sample of this size (reservoir sampling), about 4 MB.
const MaxLatencySamples = 1 << 20

// Summary accumulates the end-of-run figures of a run. Feed it as things
// happen: [Summary.Offered] for each originate sent, [Summary.CallEnded] with
// each CDR row, [Summary.ScriptError] and [Summary.Reloaded] from the host;
// then take a [Report]. Every method is safe for concurrent use and costs a
// mutex and a few additions.
type Summary struct {
	mu sync.Mutex

	start, end       time.Time
	offered          int64
	firstOffer       time.Time
	lastOffer        time.Time
	ended            int64
	answered         int64
	failed           int64
	cancelled        int64
	failedByCause    map[string]int64
	peak             int64
	minCreate        float64
	maxCreate        float64
	created          int64
	scriptErrors     int64
	reloads          int64
	latencies        []float32 // setup latency in ms, exact or a reservoir
	latencySeen      int64
	rng              *rand.Rand
	maxSamples       int
	cdrRows          int64
	cdrRowsOverride  bool
	durationOverride bool
	leftUp           int64
	leftUpAnswered   int64
}

// NewSummary returns a Summary whose run starts now.
func NewSummary() *Summary { return NewSummaryAt(time.Now()) }

// NewSummaryAt returns a Summary whose run started at start.
func NewSummaryAt(start time.Time) *Summary {
	return &Summary{
		start:         start,
		failedByCause: make(map[string]int64),
		rng:           rand.New(rand.NewPCG(uint64(start.UnixNano()), 0x5eed)),
		maxSamples:    MaxLatencySamples,
	}
}

// Offered counts one call offered (an originate sent) at time t.
func (s *Summary) Offered(t time.Time) {
	s.mu.Lock()
	s.offered++
	if s.firstOffer.IsZero() || t.Before(s.firstOffer) {
		s.firstOffer = t
	}
	if t.After(s.lastOffer) {
		s.lastOffer = t
	}
	s.mu.Unlock()
}

// CallEnded accounts for one finished call, given its CDR row: answered,
// failed (by cause, see [Row.Failed]) or cancelled ([Row.Cancelled]), its
// setup latency, the call count at
// its creation (for the peak) and one CDR row. A call that failed without
// any answer and without a cause counts under "UNKNOWN".
func (s *Summary) CallEnded(r Row) {
	lat, hasLat := r.SetupLatency()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ended++
	s.cdrRows++
	if r.Answered() {
		s.answered++
	}
	if r.Cancelled {
		s.cancelled++
	}
	if r.Failed() {
		s.failed++
		cause := r.HangupCause
		if cause == "" {
			cause = "UNKNOWN"
		}
		if _, ok := s.failedByCause[cause]; !ok {
			cause = strings.Clone(cause)
		}
		s.failedByCause[cause]++
	}
	if r.Erlangs > s.peak {
		s.peak = r.Erlangs
	}
	if c := r.CallerCreate; c > 0 {
		if s.created == 0 || c < s.minCreate {
			s.minCreate = c
		}
		if c > s.maxCreate {
			s.maxCreate = c
		}
		s.created++
	}
	if hasLat {
		s.addLatencyLocked(lat)
	}
}

// Concurrent reports the number of calls in progress now; the Summary keeps
// the peak. (CallEnded already takes each row's Erlangs into account.)
func (s *Summary) Concurrent(n int64) {
	s.mu.Lock()
	if n > s.peak {
		s.peak = n
	}
	s.mu.Unlock()
}

// LeftUp accounts for the calls still in progress when the run ends (after
// a Ctrl-C whose hangups did not complete in time, or calls the app keeps up
// with noautohangup): n calls, of which answered were answered. They have no
// CDR row; they count in Report.Answered and Report.CallsLeftUp. Calling it
// again replaces the previous figures.
func (s *Summary) LeftUp(n, answered int64) {
	s.mu.Lock()
	s.leftUp, s.leftUpAnswered = max(n, 0), max(answered, 0)
	s.mu.Unlock()
}

// InProgress accounts for a call still in progress at the end of the run,
// given the partial row of what is known of it (see the Originator's
// InProgress): an answered one adds its setup latency, so a run whose calls
// were all left up still reports one. Count the calls with LeftUp.
func (s *Summary) InProgress(r Row) {
	lat, ok := r.SetupLatency()
	if !ok {
		return
	}
	s.mu.Lock()
	s.addLatencyLocked(lat)
	s.mu.Unlock()
}

// addLatencyLocked keeps one setup latency sample (exact up to maxSamples,
// then a reservoir).
func (s *Summary) addLatencyLocked(lat time.Duration) {
	ms := float32(lat.Seconds() * 1e3)
	s.latencySeen++
	if len(s.latencies) < s.maxSamples {
		s.latencies = append(s.latencies, ms)
	} else if j := s.rng.Int64N(s.latencySeen); j < int64(s.maxSamples) {
		s.latencies[j] = ms
	}
}

// ScriptError counts one Lua callback error.
func (s *Summary) ScriptError() {
	s.mu.Lock()
	s.scriptErrors++
	s.mu.Unlock()
}

// Reloaded counts one applied script reload.
func (s *Summary) Reloaded() {
	s.mu.Lock()
	s.reloads++
	s.mu.Unlock()
}

// SetCDRRows replaces the CDR row count (by default the number of
// CallEnded calls) with the number of rows a Writer actually stored, e.g.
// [Writer.Rows] after Close.
func (s *Summary) SetCDRRows(n int64) {
	s.mu.Lock()
	s.cdrRows, s.cdrRowsOverride = n, true
	s.mu.Unlock()
}

// Stop fixes the end of the run (for duration_s) at t. Without it a Report
// measures up to the time it is taken.
func (s *Summary) Stop(t time.Time) {
	s.mu.Lock()
	s.end, s.durationOverride = t, true
	s.mu.Unlock()
}

// Progress is the cheap live view of a run, for a status line.
type Progress struct {
	// Offered, Ended, Answered and Failed count calls as in Report
	// (Ended is the number of CallEnded calls).
	Offered, Ended, Answered, Failed int64
	// CPS is the offered calls per second so far (see Report.AchievedCPS).
	CPS float64
}

// Progress returns the live counts without computing percentiles.
func (s *Summary) Progress() Progress {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Progress{Offered: s.offered, Ended: s.ended, Answered: s.answered,
		Failed: s.failed, CPS: s.cpsLocked()}
}

// cpsLocked is the achieved call rate: offers over the span between the
// first and the last offer; with no offers (serve mode), calls over the span
// of their caller_create times.
func (s *Summary) cpsLocked() float64 {
	if s.offered >= 2 {
		if span := s.lastOffer.Sub(s.firstOffer).Seconds(); span > 0 {
			return float64(s.offered-1) / span
		}
	}
	if s.offered == 0 && s.created >= 2 {
		if span := s.maxCreate - s.minCreate; span > 0 {
			return float64(s.created-1) / span
		}
	}
	return 0
}

// Latency holds setup latency percentiles in milliseconds.
type Latency struct {
	// P50 is the median.
	P50 float64 `json:"p50"`
	// P95 is the 95th percentile.
	P95 float64 `json:"p95"`
	// P99 is the 99th percentile.
	P99 float64 `json:"p99"`
}

// Report is the end-of-run summary. Its JSON form has exactly these keys.
type Report struct {
	// Offered is the number of originates sent.
	Offered int64 `json:"offered"`
	// Answered is the number of calls whose caller leg was answered: those
	// with a CDR row, plus the answered calls left up (see CallsLeftUp).
	Answered int64 `json:"answered"`
	// Failed is the number of calls not answered or not ended with
	// NORMAL_CLEARING (switchio's rule).
	Failed int64 `json:"failed"`
	// FailedByCause splits Failed by hangup (or job failure) cause.
	FailedByCause map[string]int64 `json:"failed_by_cause"`
	// Cancelled is the number of calls switchlua hung up itself before
	// they were answered because the run was stopping (Ctrl-C, SIGTERM):
	// not failed (see Row.Cancelled). They have CDR rows.
	Cancelled int64 `json:"cancelled"`
	// AchievedCPS is the offered calls per second, measured between the
	// first and the last offer (N offers over T seconds give (N-1)/T).
	AchievedCPS float64 `json:"achieved_cps"`
	// PeakConcurrent is the most calls in progress at once: the largest of
	// the rows' erlangs and the counts given to Summary.Concurrent (the
	// Originator's peak, which also covers calls that never got a row).
	PeakConcurrent int64 `json:"peak_concurrent"`
	// SetupLatencyMS are percentiles of caller_answer - caller_create over
	// the answered calls with a CDR row and those still in progress at the
	// end (Summary.InProgress), in ms (linear interpolation between
	// samples, as numpy and pandas do); all 0 when there is none.
	SetupLatencyMS Latency `json:"setup_latency_ms"`
	// SetupLatencySamples is the number of calls SetupLatencyMS is over
	// (not in the JSON form); the table says n/a when it is 0.
	SetupLatencySamples int64 `json:"-"`
	// CDRRows is the number of CDR rows recorded.
	CDRRows int64 `json:"cdr_rows"`
	// ScriptErrors is the number of Lua callback errors.
	ScriptErrors int64 `json:"script_errors"`
	// Reloads is the number of script reloads applied.
	Reloads int64 `json:"reloads"`
	// DurationS is the run's length in seconds.
	DurationS float64 `json:"duration_s"`
	// CallsLeftUp is the number of calls still in progress when the run
	// ended (Summary.LeftUp): they have no CDR row; the answered ones count
	// in Answered, none counts in Failed.
	CallsLeftUp int64 `json:"calls_left_up"`
}

// Report computes the summary now. It sorts a copy of the latency samples,
// so it is meant for the end of a run (use Progress for a status line).
func (s *Summary) Report() Report {
	s.mu.Lock()
	end := s.end
	if !s.durationOverride {
		end = time.Now()
	}
	r := Report{
		Offered:             s.offered,
		Answered:            s.answered + s.leftUpAnswered,
		Failed:              s.failed,
		Cancelled:           s.cancelled,
		FailedByCause:       make(map[string]int64, len(s.failedByCause)),
		AchievedCPS:         s.cpsLocked(),
		PeakConcurrent:      s.peak,
		CDRRows:             s.cdrRows,
		ScriptErrors:        s.scriptErrors,
		Reloads:             s.reloads,
		DurationS:           math.Max(0, end.Sub(s.start).Seconds()),
		CallsLeftUp:         s.leftUp,
		SetupLatencySamples: s.latencySeen,
	}
	for c, n := range s.failedByCause {
		r.FailedByCause[c] = n
	}
	lat := append([]float32(nil), s.latencies...)
	s.mu.Unlock()

	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	r.SetupLatencyMS = Latency{P50: quantile(lat, 0.50), P95: quantile(lat, 0.95), P99: quantile(lat, 0.99)}
	return r
}

// quantile of sorted samples with linear interpolation (numpy's default),
// rounded to the microsecond; 0 for no samples.
func quantile(sorted []float32, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(sorted)-1)
	v := float64(sorted[lo]) + (pos-float64(lo))*(float64(sorted[hi])-float64(sorted[lo]))
	return math.Round(v*1e3) / 1e3
}

// JSON returns the report as an indented JSON object.
func (r Report) JSON() []byte {
	if r.FailedByCause == nil {
		r.FailedByCause = map[string]int64{}
	}
	b, _ := json.MarshalIndent(r, "", "  ") // cannot fail: plain numbers, no NaN
	return append(b, '\n')
}

// Causes returns FailedByCause as (cause, count) pairs, most frequent first
// (ties by name).
func (r Report) Causes() []CauseCount {
	out := make([]CauseCount, 0, len(r.FailedByCause))
	for c, n := range r.FailedByCause {
		out = append(out, CauseCount{c, n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Cause < out[j].Cause
	})
	return out
}

// CauseCount is one line of the failures table.
type CauseCount struct {
	// Cause is a hangup or job failure cause, e.g. USER_BUSY.
	Cause string
	// Count is the number of failed calls with that cause.
	Count int64
}

// WriteTable writes the report as an aligned, human-readable table, with the
// failures by cause sorted by count.
func (r Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	pct := func(n int64) string {
		if r.Offered <= 0 {
			return ""
		}
		return fmt.Sprintf("\t(%.1f%%)", 100*float64(n)/float64(r.Offered))
	}
	fmt.Fprintf(tw, "offered\t%d\n", r.Offered)
	fmt.Fprintf(tw, "answered\t%d%s\n", r.Answered, pct(r.Answered))
	fmt.Fprintf(tw, "failed\t%d%s\n", r.Failed, pct(r.Failed))
	for _, c := range r.Causes() {
		fmt.Fprintf(tw, "  %s\t%d%s\n", c.Cause, c.Count, pct(c.Count))
	}
	if r.Cancelled > 0 {
		fmt.Fprintf(tw, "cancelled\t%d%s\t(not answered yet when the run stopped: hung up by us, not failed)\n", r.Cancelled, pct(r.Cancelled))
	}
	fmt.Fprintf(tw, "achieved cps\t%.1f\n", r.AchievedCPS)
	fmt.Fprintf(tw, "peak concurrent\t%d\n", r.PeakConcurrent)
	if l := r.SetupLatencyMS; r.SetupLatencySamples > 0 {
		fmt.Fprintf(tw, "setup latency ms\tp50 %.1f\tp95 %.1f\tp99 %.1f\n", l.P50, l.P95, l.P99)
	} else {
		fmt.Fprintf(tw, "setup latency ms\tn/a\t(no answered call with its create and answer times)\n")
	}
	fmt.Fprintf(tw, "cdr rows\t%d\n", r.CDRRows)
	fmt.Fprintf(tw, "script errors\t%d\n", r.ScriptErrors)
	fmt.Fprintf(tw, "reloads\t%d\n", r.Reloads)
	fmt.Fprintf(tw, "duration s\t%.1f\n", r.DurationS)
	if r.CallsLeftUp > 0 {
		fmt.Fprintf(tw, "calls left up\t%d\t(still in progress at exit: no CDR row; answered ones count above)\n", r.CallsLeftUp)
	}
	return tw.Flush()
}
