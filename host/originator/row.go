package originator

import (
	"time"

	"github.com/switchlua/switchlua/host"
	"github.com/switchlua/switchlua/host/cdr"
	"github.com/switchlua/switchlua/models"
)

// Row converts a call's end, as the host reports it, to a CDR row: caller =
// the first leg (the outbound leg we originated), callee = the last leg
// (the inbound leg at the far end; its times stay 0 for a one-leg call).
// FailedCalls, ActiveSessions and Erlangs are the node's figures once the
// call left; the Originator's own rows (Config.OnCallEnd) replace them with
// pool-wide figures: the failed calls of the run, and the sessions and calls
// in progress when the call was offered.
func Row(e host.CallEnd) cdr.Row {
	r := cdr.Row{
		SwitchluaApp:   e.App,
		HangupCause:    e.Cause,
		CallerHangup:   cdr.Seconds(e.Caller.Hangup),
		JobLaunch:      cdr.Seconds(e.JobLaunch),
		FailedCalls:    int64(e.FailedCalls),
		ActiveSessions: int64(e.ActiveSessions),
		Erlangs:        int64(e.ActiveCalls),
		Node:           e.Node,
		CallUUID:       e.Key,
	}
	setCallerSetup(&r, e.Caller)
	if e.Legs > 1 && e.CalleeUUID != e.CallerUUID {
		r.CalleeCreate = cdr.Seconds(e.Callee.Create)
		r.CalleeAnswer = cdr.Seconds(e.Callee.Answer)
		r.CalleeHangup = cdr.Seconds(e.Callee.Hangup)
	}
	return r
}

// JobRow is the CDR row of an originate that failed before any channel
// existed: only the app, the job's cause, its launch time, the node and the
// call uuid are known. The Originator's own rows (Config.OnCallEnd) add the
// sessions and calls in progress when the call was offered, as for Row.
func JobRow(app, cause string, launch time.Time, node, uuid string) cdr.Row {
	return cdr.Row{
		SwitchluaApp: app,
		HangupCause:  cause,
		JobLaunch:    cdr.Seconds(launch),
		Node:         node,
		CallUUID:     uuid,
	}
}

// setCallerSetup sets r's caller set-up times (create, answer, originate
// request, originate) from t, the outbound leg's.
func setCallerSetup(r *cdr.Row, t models.Times) {
	r.CallerCreate = cdr.Seconds(t.Create)
	r.CallerAnswer = cdr.Seconds(t.Answer)
	r.CallerReqOriginate = cdr.Seconds(t.ReqOriginate)
	r.CallerOriginate = cdr.Seconds(t.Originate)
}
