package cdr

import (
	"fmt"
	"math"
	"sort"
	"testing"
)

func TestCallMetricsPerCall(t *testing.T) {
	r := Row{
		SwitchluaApp: "toneplay", HangupCause: NormalClearing,
		JobLaunch:          100.000,
		CallerReqOriginate: 100.004,
		CallerCreate:       100.010,
		CalleeCreate:       100.030,
		CalleeAnswer:       100.050,
		CallerAnswer:       100.070,
		CallerHangup:       120.010,
		FailedCalls:        1, ActiveSessions: 8, Erlangs: 4,
	}
	m := CallMetrics([]Row{r, {CallerCreate: 100.5}})
	got := m[0]
	tests := []struct {
		name      string
		got, want float64
	}{
		{"invite_latency = callee_create - caller_create", got.InviteLatency, 0.020},
		{"answer_latency = caller_answer - callee_answer", got.AnswerLatency, 0.020},
		{"call_setup_latency = caller_answer - caller_create", got.CallSetupLatency, 0.060},
		{"originate_latency = caller_req_originate - job_launch", got.OriginateLatency, 0.004},
		{"call_duration = caller_hangup - caller_create", got.CallDuration, 20.0},
		{"seizure_fail_rate = failed / rows", got.SeizureFailRate, 0.5},
		{"answer_seizure_ratio = 1 - seizure_fail_rate", got.AnswerSeizureRatio, 0.5},
	}
	for _, tt := range tests {
		if math.Abs(tt.got-tt.want) > 1e-9 {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	if !math.IsNaN(got.CallRate) {
		t.Errorf("first call_rate = %v, want NaN", got.CallRate)
	}
	if got.App != "toneplay" || got.Erlangs != 4 || got.ActiveSessions != 8 || got.FailedCalls != 1 {
		t.Errorf("copied fields wrong: %+v", got)
	}
	// the second row knows only caller_create: its latencies are NaN
	second := m[1]
	for name, v := range map[string]float64{"invite": second.InviteLatency, "answer": second.AnswerLatency,
		"setup": second.CallSetupLatency, "originate": second.OriginateLatency, "duration": second.CallDuration} {
		if !math.IsNaN(v) {
			t.Errorf("unknown %s latency = %v, want NaN", name, v)
		}
	}
	if math.Abs(second.CallRate-1/0.49) > 1e-6 { // caller_create 100.01 -> 100.5
		t.Errorf("call_rate = %v, want %v", second.CallRate, 1/0.49)
	}
}

func TestCallMetricsOrderAndRates(t *testing.T) {
	// rows in hangup order; creation order differs
	rows := []Row{
		{CallerCreate: 10.2, CallUUID: "c"},
		{CallerCreate: 10.0, CallUUID: "a"},
		{CallerCreate: 0, CallUUID: "unknown"},      // sorts last
		{CallerCreate: 10.1, CallUUID: "b"},         // 10 cps after a
		{CallerCreate: 10.2, CallUUID: "c-same-us"}, // same time as c: clipped
	}
	m := CallMetrics(rows)
	wantIndex := []int{1, 3, 0, 4, 2} // a b c c-same-us unknown
	wantRate := []float64{math.NaN(), 10, 10, MaxCallRate, math.NaN()}
	for k := range m {
		if m[k].HangupIndex != wantIndex[k] {
			t.Errorf("position %d: hangup index %d, want %d", k, m[k].HangupIndex, wantIndex[k])
		}
		if w := wantRate[k]; !(math.IsNaN(w) && math.IsNaN(m[k].CallRate)) && math.Abs(m[k].CallRate-w) > 1e-6 {
			t.Errorf("position %d: call_rate %v, want %v", k, m[k].CallRate, w)
		}
	}
	// the rolling mean skips NaNs: after a,b,c it is mean(10,10)
	if math.Abs(m[2].AvgCallRate-10) > 1e-6 {
		t.Errorf("avg_call_rate at c = %v, want 10", m[2].AvgCallRate)
	}
	if !math.IsNaN(m[0].AvgCallRate) {
		t.Errorf("avg_call_rate of the first call = %v, want NaN", m[0].AvgCallRate)
	}
}

func TestCallMetricsRollingWindow(t *testing.T) {
	// 150 calls at 10 cps then 150 at 20 cps: after 100 of the fast ones the
	// rolling mean is exactly 20
	var rows []Row
	ts := 1000.0
	for i := 0; i < 300; i++ {
		rows = append(rows, Row{CallerCreate: ts})
		if i < 150 {
			ts += 0.1
		} else {
			ts += 0.05
		}
	}
	m := CallMetrics(rows)
	if got := m[99].AvgCallRate; math.Abs(got-10) > 1e-6 {
		t.Errorf("avg at 99 = %v, want 10", got)
	}
	if got := m[251].AvgCallRate; math.Abs(got-20) > 1e-6 {
		t.Errorf("avg at 251 = %v, want 20", got)
	}
	if got := m[299].AvgCallRate; math.Abs(got-20) > 1e-6 {
		t.Errorf("avg at 299 = %v, want 20", got)
	}
}

func TestCallMetricsEmpty(t *testing.T) {
	if m := CallMetrics(nil); len(m) != 0 {
		t.Fatalf("got %d metrics for no rows", len(m))
	}
}

// TestCallMetricsJobOnlyRows: originates that failed before any channel
// existed have only job_launch. As a run writes them (at once, while the
// answered calls' rows come a call duration later), sorting them last made
// the plot's failed_calls line drop at the end and ramp up again; by
// job_launch they sit among the calls offered at the same time, and the
// call rate stays that of the created calls.
func TestCallMetricsJobOnlyRows(t *testing.T) {
	// 100 offers at 10 cps; every 10th fails at once with no channel, the
	// others are created 5 ms after their launch and end 1 s later.
	type ended struct {
		at float64
		r  Row
	}
	var evs []ended
	t0 := 1763800000.0
	for i := range 100 {
		launch := t0 + float64(i)/10
		if i%10 == 3 {
			evs = append(evs, ended{launch + 0.001, Row{HangupCause: "USER_BUSY", JobLaunch: launch, CallUUID: fmt.Sprint(i)}})
			continue
		}
		c := launch + 0.005
		evs = append(evs, ended{c + 1, Row{HangupCause: NormalClearing, JobLaunch: launch, CallerCreate: c,
			CallerAnswer: c + 0.02, CallerHangup: c + 1, CallUUID: fmt.Sprint(i)}})
	}
	sort.Slice(evs, func(a, b int) bool { return evs[a].at < evs[b].at })
	rows := make([]Row, len(evs))
	failed := int64(0)
	for k, e := range evs { // file order: the order calls ended
		if e.r.HangupCause != NormalClearing {
			failed++
		}
		e.r.FailedCalls = failed
		rows[k] = e.r
	}
	m := CallMetrics(rows)
	prev := 0.0
	for k := range m {
		r := rows[m[k].HangupIndex]
		if want := fmt.Sprint(k); r.CallUUID != want {
			t.Fatalf("position %d holds call %s, want %s (offer order)", k, r.CallUUID, want)
		}
		if st := sortTime(&r); st < prev {
			t.Fatalf("position %d: time %v before %v", k, st, prev)
		}
		prev = sortTime(&r)
		if r.CallerCreate == 0 {
			if !math.IsNaN(m[k].CallRate) {
				t.Errorf("position %d (job only): call_rate %v, want NaN", k, m[k].CallRate)
			}
			continue
		}
		// created calls: 10 cps, or 5 cps across a job-only failure
		if k > 0 && !(math.Abs(m[k].CallRate-10) < 1e-3 || math.Abs(m[k].CallRate-5) < 1e-3) {
			t.Errorf("position %d: call_rate %v, want 10 (or 5 after a failed offer)", k, m[k].CallRate)
		}
	}
	// failed_calls never falls by more than the few failures of one call
	// duration (10 offers) from one position to the next, and the last
	// ten positions are not all failures.
	for k := 1; k < len(m); k++ {
		if m[k].FailedCalls < m[k-1].FailedCalls-2 {
			t.Errorf("failed_calls drops from %d to %d at position %d", m[k-1].FailedCalls, m[k].FailedCalls, k)
		}
	}
	if m[len(m)-1].HangupCause != NormalClearing {
		t.Errorf("the last position is a job-only failure: %+v", m[len(m)-1])
	}
}
