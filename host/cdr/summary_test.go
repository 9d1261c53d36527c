package cdr

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// answeredRow is a call answered setupMS after creation, created at create.
func answeredRow(create, setupMS float64, erlangs int64) Row {
	return Row{HangupCause: NormalClearing, CallerCreate: create,
		CallerAnswer: create + setupMS/1e3, Erlangs: erlangs}
}

func TestSummaryReport(t *testing.T) {
	start := time.Unix(1763800000, 0)
	s := NewSummaryAt(start)
	// 10 offers over 4.5 s: 2 cps
	for i := 0; i < 10; i++ {
		s.Offered(start.Add(time.Duration(i) * 500 * time.Millisecond))
	}
	for i := 1; i <= 7; i++ { // setup latencies 1..7 ms
		s.CallEnded(answeredRow(1763800000+float64(i), float64(i), int64(i)))
	}
	s.CallEnded(Row{HangupCause: "USER_BUSY", JobLaunch: 1763800001})
	s.CallEnded(Row{HangupCause: "USER_BUSY", CallerCreate: 1763800002})
	s.CallEnded(Row{}) // no cause at all
	answeredBadly := answeredRow(1763800003, 9, 2)
	answeredBadly.HangupCause = "MEDIA_TIMEOUT"
	s.CallEnded(answeredBadly)
	s.Concurrent(12)
	s.ScriptError()
	s.ScriptError()
	s.Reloaded()
	s.Stop(start.Add(12 * time.Second))

	r := s.Report()
	want := Report{
		Offered: 10, Answered: 8, Failed: 4,
		FailedByCause:  map[string]int64{"USER_BUSY": 2, "UNKNOWN": 1, "MEDIA_TIMEOUT": 1},
		AchievedCPS:    2,
		PeakConcurrent: 12,
		// 1,2,3,4,5,6,7,9 ms: numpy.percentile(..., [50,95,99]) = 4.5, 8.3, 8.86
		SetupLatencyMS:      Latency{P50: 4.5, P95: 8.3, P99: 8.86},
		SetupLatencySamples: 8,
		CDRRows:             11,
		ScriptErrors:        2,
		Reloads:             1,
		DurationS:           12,
	}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("report\n got %+v\nwant %+v", r, want)
	}
	s.SetCDRRows(10)
	if got := s.Report().CDRRows; got != 10 {
		t.Errorf("CDRRows after SetCDRRows = %d", got)
	}
	p := s.Progress()
	if p.Offered != 10 || p.Ended != 11 || p.Answered != 8 || p.Failed != 4 || p.CPS != 2 {
		t.Errorf("progress %+v", p)
	}
}

func TestSummaryJSONKeys(t *testing.T) {
	var m map[string]any
	if err := json.Unmarshal(NewSummary().Report().JSON(), &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	want := []string{"achieved_cps", "answered", "calls_left_up", "cancelled", "cdr_rows", "duration_s", "failed", "failed_by_cause",
		"offered", "peak_concurrent", "reloads", "script_errors", "setup_latency_ms"}
	if !reflect.DeepEqual(keys, want) {
		t.Fatalf("keys %v\nwant %v", keys, want)
	}
	lat, ok := m["setup_latency_ms"].(map[string]any)
	if !ok || len(lat) != 3 || lat["p50"] == nil || lat["p95"] == nil || lat["p99"] == nil {
		t.Fatalf("setup_latency_ms = %v", m["setup_latency_ms"])
	}
	if fbc, ok := m["failed_by_cause"].(map[string]any); !ok || len(fbc) != 0 {
		t.Fatalf("failed_by_cause = %#v, want {}", m["failed_by_cause"])
	}
}

func TestSummaryTable(t *testing.T) {
	r := Report{Offered: 300, Answered: 260, Failed: 40,
		FailedByCause: map[string]int64{"NO_ANSWER": 3, "USER_BUSY": 30, "CALL_REJECTED": 3, "RECOVERY_ON_TIMER_EXPIRE": 4},
		AchievedCPS:   49.97, PeakConcurrent: 100, SetupLatencyMS: Latency{12.25, 30.5, 61},
		SetupLatencySamples: 260, CDRRows: 300, DurationS: 13.2}
	var b bytes.Buffer
	if err := r.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	t.Logf("\n%s", out)
	order := []string{"USER_BUSY", "RECOVERY_ON_TIMER_EXPIRE", "CALL_REJECTED", "NO_ANSWER"}
	last := -1
	for _, c := range order {
		i := strings.Index(out, c)
		if i < last {
			t.Fatalf("cause %s out of order:\n%s", c, out)
		}
		last = i
	}
	for _, want := range []string{"offered", "300", "achieved cps", "50.0", "p99 61.0", "(10.0%)", "cdr rows"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	// aligned: every value column starts at the same offset for top-level lines
	col := -1
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(line, " ") {
			continue
		}
		i := strings.Index(line, "  ")
		j := i + len(line[i:]) - len(strings.TrimLeft(line[i:], " "))
		if col == -1 {
			col = j
		} else if j != col {
			t.Fatalf("line %q: value at %d, want %d:\n%s", line, j, col, out)
		}
	}
}

// TestSummaryLeftUp: a run whose calls never ended (a node that died with
// every call up) still reports what was answered and the peak, from the
// Originator's counts.
func TestSummaryLeftUp(t *testing.T) {
	start := time.Unix(1763800000, 0)
	s := NewSummaryAt(start)
	for i := range 100 {
		s.Offered(start.Add(time.Duration(i) * 10 * time.Millisecond))
	}
	s.CallEnded(answeredRow(1763800000, 5, 3))
	s.Concurrent(97)
	s.LeftUp(99, 93)
	r := s.Report()
	if r.Answered != 94 || r.PeakConcurrent != 97 || r.CallsLeftUp != 99 || r.Failed != 0 || r.CDRRows != 1 {
		t.Errorf("report %+v: want answered 94 (1 row + 93 left up), peak 97, calls_left_up 99, failed 0, 1 row", r)
	}
	var b bytes.Buffer
	_ = r.WriteTable(&b)
	if !strings.Contains(b.String(), "calls left up") || !strings.Contains(b.String(), "99") {
		t.Errorf("the table does not show the calls left up:\n%s", b.String())
	}
	s.LeftUp(0, 0)
	b.Reset()
	_ = s.Report().WriteTable(&b)
	if strings.Contains(b.String(), "calls left up") {
		t.Errorf("no call left up, yet the table says so:\n%s", b.String())
	}
}

func TestSummaryConcurrent(t *testing.T) {
	s := NewSummary()
	const goroutines, each = 8, 500
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				s.Offered(time.Now())
				s.CallEnded(answeredRow(1763800000+float64(i), float64(i%100), int64(i)))
				if i%50 == 0 {
					s.ScriptError()
					s.Reloaded()
					_ = s.Progress()
				}
			}
		}()
	}
	wg.Add(1)
	go func() { defer wg.Done(); _ = s.Report() }()
	wg.Wait()
	r := s.Report()
	if r.Offered != goroutines*each || r.Answered != goroutines*each || r.CDRRows != goroutines*each || r.Failed != 0 {
		t.Fatalf("report %+v", r)
	}
	if r.PeakConcurrent != each-1 {
		t.Errorf("peak %d", r.PeakConcurrent)
	}
}

func TestSummaryReservoir(t *testing.T) {
	s := NewSummary()
	s.maxSamples = 1000
	// 20k calls, latency uniform over 0..99 ms: the sample keeps the shape
	for i := 0; i < 20000; i++ {
		s.CallEnded(answeredRow(1763800000, float64(i%100), 1))
	}
	if len(s.latencies) != 1000 {
		t.Fatalf("kept %d samples, want 1000", len(s.latencies))
	}
	l := s.Report().SetupLatencyMS
	if math.Abs(l.P50-49.5) > 6 || math.Abs(l.P95-94) > 4 || l.P99 > 99.01 {
		t.Fatalf("reservoir percentiles %+v, want about 49.5/94/98", l)
	}
}

func TestQuantile(t *testing.T) {
	var s []float32
	for i := 1; i <= 100; i++ {
		s = append(s, float32(i))
	}
	for _, tt := range []struct {
		samples []float32
		q, want float64
	}{
		{nil, 0.5, 0},
		{[]float32{7}, 0.99, 7},
		{s, 0.5, 50.5},
		{s, 0.95, 95.05},
		{s, 0.99, 99.01},
	} {
		if got := quantile(tt.samples, tt.q); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("quantile(%d samples, %v) = %v, want %v", len(tt.samples), tt.q, got, tt.want)
		}
	}
}

// TestSummaryCancelled: calls hung up by switchlua itself at a stop before
// they were answered count as cancelled, not failed, and keep their row.
func TestSummaryCancelled(t *testing.T) {
	start := time.Unix(1763800000, 0)
	s := NewSummaryAt(start)
	for i := range 4 {
		s.Offered(start.Add(time.Duration(i) * 10 * time.Millisecond))
	}
	s.CallEnded(answeredRow(1763800000, 5, 1))
	s.CallEnded(Row{HangupCause: "USER_BUSY", JobLaunch: 1763800001})
	s.CallEnded(Row{HangupCause: NormalClearing, CallerCreate: 1763800001, Cancelled: true})
	s.CallEnded(Row{HangupCause: "ORIGINATOR_CANCEL", JobLaunch: 1763800001, Cancelled: true})
	r := s.Report()
	if r.Failed != 1 || r.Cancelled != 2 || r.CDRRows != 4 || r.Answered != 1 ||
		len(r.FailedByCause) != 1 || r.FailedByCause["USER_BUSY"] != 1 {
		t.Errorf("report %+v: want 1 failed (USER_BUSY), 2 cancelled, 1 answered, 4 rows", r)
	}
	if !strings.Contains(string(r.JSON()), `"cancelled": 2`) {
		t.Errorf("JSON lacks cancelled: %s", r.JSON())
	}
	var b bytes.Buffer
	_ = r.WriteTable(&b)
	if !strings.Contains(b.String(), "cancelled") {
		t.Errorf("the table does not show the cancelled calls:\n%s", b.String())
	}
	if p := s.Progress(); p.Failed != 1 {
		t.Errorf("progress failed %d, want 1", p.Failed)
	}
}

// TestSummaryLatencyInProgress: with no answered row the table says n/a for
// the setup latency, not 0.0; calls answered and still in progress at the
// end give their setup latency.
func TestSummaryLatencyInProgress(t *testing.T) {
	start := time.Unix(1763800000, 0)
	s := NewSummaryAt(start)
	s.Offered(start)
	s.CallEnded(Row{HangupCause: "USER_BUSY", JobLaunch: 1763800000})
	var b bytes.Buffer
	_ = s.Report().WriteTable(&b)
	if !regexp.MustCompile(`setup latency ms +n/a`).MatchString(b.String()) || strings.Contains(b.String(), "p50 0.0") {
		t.Errorf("no answered call, yet a setup latency:\n%s", b.String())
	}
	s.InProgress(Row{CallerCreate: 1763800001, CallerAnswer: 1763800001.02})
	s.InProgress(Row{CallerCreate: 1763800001}) // not answered: no sample
	s.LeftUp(2, 1)
	r := s.Report()
	if r.SetupLatencySamples != 1 || r.SetupLatencyMS.P50 < 19.9 || r.SetupLatencyMS.P50 > 20.1 || r.CDRRows != 1 {
		t.Errorf("report %+v: want the in-progress call's 20 ms latency, one row", r)
	}
	b.Reset()
	_ = r.WriteTable(&b)
	if !strings.Contains(b.String(), "p50 20.0") {
		t.Errorf("table:\n%s", b.String())
	}
}
