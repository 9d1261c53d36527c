package originator

import (
	"time"

	"github.com/switchlua/switchlua/host"
	"github.com/switchlua/switchlua/host/cdr"
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
		SwitchluaApp:       e.App,
		HangupCause:        e.Cause,
		CallerCreate:       secs(e.Caller.Create),
		CallerAnswer:       secs(e.Caller.Answer),
		CallerReqOriginate: secs(e.Caller.ReqOriginate),
		CallerOriginate:    secs(e.Caller.Originate),
		CallerHangup:       secs(e.Caller.Hangup),
		JobLaunch:          secs(e.JobLaunch),
		FailedCalls:        int64(e.FailedCalls),
		ActiveSessions:     int64(e.ActiveSessions),
		Erlangs:            int64(e.ActiveCalls),
		Node:               e.Node,
		CallUUID:           e.Key,
	}
	if e.Legs > 1 && e.CalleeUUID != e.CallerUUID {
		r.CalleeCreate = secs(e.Callee.Create)
		r.CalleeAnswer = secs(e.Callee.Answer)
		r.CalleeHangup = secs(e.Callee.Hangup)
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
		JobLaunch:    secs(launch),
		Node:         node,
		CallUUID:     uuid,
	}
}

func secs(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return cdr.Seconds(t)
}
