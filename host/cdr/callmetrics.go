package cdr

import (
	"math"
	"sort"
)

// CallMetric is one call's derived measurements, as switchio's call_metrics
// computes them from its CDR table. Durations are in seconds; a value whose
// inputs are unknown (0 in the Row) is NaN, as pandas gives for missing data.
type CallMetric struct {
	// App and HangupCause are copied from the row.
	App, HangupCause string
	// HangupIndex is the row's position in the file (the order calls ended).
	HangupIndex int
	// InviteLatency is callee_create - caller_create: the INVITE's trip.
	InviteLatency float64
	// AnswerLatency is caller_answer - callee_answer: how long the callee's
	// answer took to reach the caller leg.
	AnswerLatency float64
	// CallSetupLatency is caller_answer - caller_create.
	CallSetupLatency float64
	// OriginateLatency is caller_req_originate - job_launch (local clock).
	OriginateLatency float64
	// CallDuration is caller_hangup - caller_create.
	CallDuration float64
	// FailedCalls, ActiveSessions and Erlangs are copied from the row.
	FailedCalls, ActiveSessions, Erlangs int64
	// CallRate is 1 / (this caller_create - the previous one), in calls/s,
	// clipped at MaxCallRate; NaN for the first call and for a row without
	// caller_create.
	CallRate float64
	// AvgCallRate is the mean of the last AvgCallRateWindow call rates.
	AvgCallRate float64
	// SeizureFailRate is failed_calls / number of rows.
	SeizureFailRate float64
	// AnswerSeizureRatio is 1 - SeizureFailRate.
	AnswerSeizureRatio float64
}

// MaxCallRate clips CallRate: two calls created in the same microsecond
// would give an infinite rate and a useless plot scale (switchio: 1000).
const MaxCallRate = 1000

// AvgCallRateWindow is the number of calls AvgCallRate averages (switchio's
// rolling window of 100).
const AvgCallRateWindow = 100

// CallMetrics computes switchio's call_metrics from rows: the rows are sorted
// by caller_create and one CallMetric is returned per row in that order. A
// row without caller_create (an originate that failed before any channel
// existed: only its job is known) takes its place by job_launch instead, so
// such failures sit among the calls offered at the same time rather than
// all at the end; rows with neither go last, as pandas sorts NaN.
//
// Where this differs from switchio (switchio/apps/measure/cdr.py):
//   - SeizureFailRate divides by the number of rows; switchio divides by
//     df.index.max(), which is rows-1 (an off-by-one that divides by zero for
//     a single row).
//   - AvgCallRate is the mean of the valid rates among the last
//     AvgCallRateWindow calls, so it exists from the second call on;
//     pandas' rolling(100).mean() is NaN for the first 100 calls (switchio's
//     own "why so many NaN?" comment).
//   - The job-only rows above: switchio has no rows for them. Their CallRate
//     is NaN, and the next call's rate is measured from the last call that
//     has a caller_create (a rate between two creation times, never a
//     huge bogus value from a missing one).
//   - job_launch is switchlua's clock and caller_create FreeSWITCH's; on a
//     remote node with a skewed clock the job-only rows are placed by the
//     skewed time.
//
// The sign conventions are switchio's and are right for our legs: the caller
// is the outbound leg switchlua originates and the callee the inbound leg at
// the far end, so the callee answers first and AnswerLatency is positive.
func CallMetrics(rows []Row) []CallMetric {
	idx := make([]int, len(rows))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		ta, tb := sortTime(&rows[idx[a]]), sortTime(&rows[idx[b]])
		if ta <= 0 || tb <= 0 {
			return ta > 0 && tb <= 0 // known before unknown
		}
		return ta < tb
	})
	out := make([]CallMetric, len(rows))
	nan := math.NaN()
	n := float64(len(rows))
	// ring of the last AvgCallRateWindow rates for the rolling mean
	var ring [AvgCallRateWindow]float64
	var sum float64
	var valid int
	var prevCreate float64 // the last caller_create seen, 0: none yet
	for k, i := range idx {
		r := &rows[i]
		m := &out[k]
		m.App, m.HangupCause, m.HangupIndex = r.SwitchluaApp, r.HangupCause, i
		m.InviteLatency = diff(r.CalleeCreate, r.CallerCreate)
		m.AnswerLatency = diff(r.CallerAnswer, r.CalleeAnswer)
		m.CallSetupLatency = diff(r.CallerAnswer, r.CallerCreate)
		m.OriginateLatency = diff(r.CallerReqOriginate, r.JobLaunch)
		m.CallDuration = diff(r.CallerHangup, r.CallerCreate)
		m.FailedCalls, m.ActiveSessions, m.Erlangs = r.FailedCalls, r.ActiveSessions, r.Erlangs

		m.CallRate = nan
		if r.CallerCreate > 0 {
			if d := diff(r.CallerCreate, prevCreate); d == d {
				m.CallRate = MaxCallRate
				if d > 0 {
					m.CallRate = math.Min(1/d, MaxCallRate)
				}
			}
			prevCreate = r.CallerCreate
		}
		// rolling mean over the window, skipping NaNs
		slot := k % AvgCallRateWindow
		if k >= AvgCallRateWindow {
			if old := ring[slot]; old == old {
				sum -= old
				valid--
			}
		}
		ring[slot] = m.CallRate
		if m.CallRate == m.CallRate {
			sum += m.CallRate
			valid++
		}
		m.AvgCallRate = nan
		if valid > 0 {
			m.AvgCallRate = sum / float64(valid)
		}

		m.SeizureFailRate = float64(r.FailedCalls) / n
		m.AnswerSeizureRatio = 1 - m.SeizureFailRate
	}
	return out
}

// sortTime is when a row's call was offered, for ordering: caller_create,
// else job_launch, else 0 (unknown).
func sortTime(r *Row) float64 {
	if r.CallerCreate > 0 {
		return r.CallerCreate
	}
	if r.JobLaunch > 0 {
		return r.JobLaunch
	}
	return 0
}

// diff is a - b, or NaN when either is unknown (0).
func diff(a, b float64) float64 {
	if a <= 0 || b <= 0 || a != a || b != b {
		return math.NaN()
	}
	return a - b
}
