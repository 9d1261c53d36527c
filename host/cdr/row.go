// Package cdr records one call detail record (CDR) per call, as switchio's CDR
// app does, and computes the measurements of a load test from them.
//
// The pieces, in the order a run uses them:
//
//   - [Row] is one call: switchio's CDR fields plus the node and the call uuid.
//   - [Open] returns a [Writer] for a file: SQLite when the path ends in ".db",
//     CSV otherwise. Rows are buffered and reach the file at least once a
//     second, so a run that is killed loses at most the last second.
//   - [Summary] accumulates the end-of-run figures (offered, answered, failed
//     by cause, achieved cps, setup latency percentiles, ...) and renders them
//     as JSON ([Report]) or an aligned table ([Report.WriteTable]).
//   - [Read] loads a CDR file back and [CallMetrics] derives switchio's per
//     call metrics from it (latencies, call rate, seizure ratios); the plot
//     subpackage draws them.
//
// The package is a leaf: it imports only the standard library and
// modernc.org/sqlite, so the Originator, the CLI and tests can use it freely.
package cdr

import (
	"strconv"
	"time"
)

// Row is one call detail record: switchio's CDR fields in switchio's order
// (switchio_app renamed switchlua_app), then Node and CallUUID.
//
// Times are seconds since the Unix epoch as float64 (microsecond resolution,
// as FreeSWITCH's Event-Date-Timestamp), 0 when unknown: for a call whose
// second leg never appeared the callee times are 0, for a job that failed
// before any channel existed only JobLaunch is set. "Caller" is the first leg
// of the call (the outbound leg switchlua originates), "callee" the last one
// (the inbound leg at the far end). Use [Seconds] to convert a time.Time.
type Row struct {
	// SwitchluaApp is the app id of the call (the X-switchlua_app header).
	SwitchluaApp string
	// HangupCause is the caller leg's Hangup-Cause, or the cause of a
	// failed originate job (e.g. USER_BUSY) when no leg was created.
	HangupCause string
	// CallerCreate is the caller leg's CHANNEL_CREATE time (the "invite" time).
	CallerCreate float64
	// CallerAnswer is the caller leg's CHANNEL_ANSWER time.
	CallerAnswer float64
	// CallerReqOriginate is the local clock when the host handled the caller
	// leg's CHANNEL_ORIGINATE (switchio's req_originate; compare it with
	// JobLaunch, also a local-clock time).
	CallerReqOriginate float64
	// CallerOriginate is the caller leg's CHANNEL_ORIGINATE event time.
	CallerOriginate float64
	// CallerHangup is the caller leg's hangup time.
	CallerHangup float64
	// JobLaunch is the local clock when the bgapi originate was sent.
	JobLaunch float64
	// CalleeCreate is the callee leg's CHANNEL_CREATE time.
	CalleeCreate float64
	// CalleeAnswer is the callee leg's CHANNEL_ANSWER time.
	CalleeAnswer float64
	// CalleeHangup is the callee leg's hangup time.
	CalleeHangup float64
	// FailedCalls is the total number of failed calls (all nodes) when the
	// row was written: a running count, as switchio's count_failed().
	FailedCalls int64
	// ActiveSessions is the number of sessions (all nodes) when the caller
	// leg was created.
	ActiveSessions int64
	// Erlangs is the number of active calls (all nodes) when the caller leg
	// was created.
	Erlangs int64
	// Node is the FreeSWITCH node (host:port) the call ran on.
	Node string
	// CallUUID is the call's tracking id (the originating session's uuid).
	CallUUID string

	// Cancelled marks a call that switchlua hung up itself before it was
	// answered because the run was stopping (Ctrl-C, SIGTERM): it is not
	// a failure of the node, so it does not count as failed (see
	// [Row.Failed]) but as cancelled. It is not a column: the file keeps
	// the row with its cause.
	Cancelled bool
}

// Columns are the CDR column names, in file order. They are the CSV header
// and the SQLite column names.
var Columns = []string{
	"switchlua_app",
	"hangup_cause",
	"caller_create",
	"caller_answer",
	"caller_req_originate",
	"caller_originate",
	"caller_hangup",
	"job_launch",
	"callee_create",
	"callee_answer",
	"callee_hangup",
	"failed_calls",
	"active_sessions",
	"erlangs",
	"node",
	"call_uuid",
}

// NormalClearing is the hangup cause of a call that ended well.
const NormalClearing = "NORMAL_CLEARING"

// Seconds converts t to the CDR time format: seconds since the Unix epoch
// with microsecond resolution, 0 for the zero time.
func Seconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixMicro()) / 1e6
}

// Time converts a CDR time back to a time.Time; 0 gives the zero time.
func Time(s float64) time.Time {
	if s == 0 || s != s {
		return time.Time{}
	}
	us := int64(s*1e6 + 0.5)
	if s < 0 {
		us = int64(s*1e6 - 0.5)
	}
	return time.UnixMicro(us)
}

// Answered reports whether the caller leg was answered.
func (r *Row) Answered() bool { return r.CallerAnswer > 0 }

// Failed reports whether the call failed, as switchio counts it: it was not
// answered, or it ended with a cause other than NORMAL_CLEARING; a
// Cancelled call did not fail.
func (r *Row) Failed() bool {
	return !r.Cancelled && (!r.Answered() || r.HangupCause != NormalClearing)
}

// SetupLatency is CallerAnswer - CallerCreate, or 0 and false when either is
// unknown.
func (r *Row) SetupLatency() (time.Duration, bool) {
	if r.CallerAnswer <= 0 || r.CallerCreate <= 0 {
		return 0, false
	}
	return time.Duration((r.CallerAnswer - r.CallerCreate) * 1e9), true
}

// appendCSV appends r as one CSV record (with the trailing newline) to b.
func (r *Row) appendCSV(b []byte) []byte {
	b = appendCSVString(b, r.SwitchluaApp)
	b = append(b, ',')
	b = appendCSVString(b, r.HangupCause)
	for _, f := range [...]float64{r.CallerCreate, r.CallerAnswer, r.CallerReqOriginate,
		r.CallerOriginate, r.CallerHangup, r.JobLaunch, r.CalleeCreate, r.CalleeAnswer,
		r.CalleeHangup} {
		b = append(b, ',')
		b = appendTime(b, f)
	}
	for _, n := range [...]int64{r.FailedCalls, r.ActiveSessions, r.Erlangs} {
		b = append(b, ',')
		b = strconv.AppendInt(b, n, 10)
	}
	b = append(b, ',')
	b = appendCSVString(b, r.Node)
	b = append(b, ',')
	b = appendCSVString(b, r.CallUUID)
	return append(b, '\n')
}

// appendTime writes a CDR time: the shortest text that reads back exactly.
func appendTime(b []byte, f float64) []byte {
	if f != f { // NaN: unknown
		return append(b, '0')
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64)
}

// appendCSVString quotes s as RFC 4180 (and encoding/csv) expect when needed.
func appendCSVString(b []byte, s string) []byte {
	quote := s != "" && (s[0] == ' ' || s[0] == '\t')
	if !quote {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c == ',' || c == '"' || c == '\n' || c == '\r' {
				quote = true
				break
			}
		}
	}
	if !quote {
		return append(b, s...)
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}
