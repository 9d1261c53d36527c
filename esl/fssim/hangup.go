package fssim

import (
	"strconv"
	"strings"
	"time"
)

// causeCodes is FreeSWITCH's cause table (switch_channel.c CAUSE_CHART).
var causeCodes = map[string]int{
	"NONE": 0, "UNALLOCATED_NUMBER": 1, "NO_ROUTE_TRANSIT_NET": 2, "NO_ROUTE_DESTINATION": 3,
	"CHANNEL_UNACCEPTABLE": 6, "CALL_AWARDED_DELIVERED": 7, "NORMAL_CLEARING": 16, "USER_BUSY": 17,
	"NO_USER_RESPONSE": 18, "NO_ANSWER": 19, "SUBSCRIBER_ABSENT": 20, "CALL_REJECTED": 21,
	"NUMBER_CHANGED": 22, "REDIRECTION_TO_NEW_DESTINATION": 23, "EXCHANGE_ROUTING_ERROR": 25,
	"DESTINATION_OUT_OF_ORDER": 27, "INVALID_NUMBER_FORMAT": 28, "FACILITY_REJECTED": 29,
	"RESPONSE_TO_STATUS_ENQUIRY": 30, "NORMAL_UNSPECIFIED": 31, "NORMAL_CIRCUIT_CONGESTION": 34,
	"NETWORK_OUT_OF_ORDER": 38, "NORMAL_TEMPORARY_FAILURE": 41, "SWITCH_CONGESTION": 42,
	"ACCESS_INFO_DISCARDED": 43, "REQUESTED_CHAN_UNAVAIL": 44, "PRE_EMPTED": 45,
	"FACILITY_NOT_SUBSCRIBED": 50, "OUTGOING_CALL_BARRED": 52, "INCOMING_CALL_BARRED": 54,
	"BEARERCAPABILITY_NOTAUTH": 57, "BEARERCAPABILITY_NOTAVAIL": 58, "SERVICE_UNAVAILABLE": 63,
	"BEARERCAPABILITY_NOTIMPL": 65, "CHAN_NOT_IMPLEMENTED": 66, "FACILITY_NOT_IMPLEMENTED": 69,
	"SERVICE_NOT_IMPLEMENTED": 79, "INVALID_CALL_REFERENCE": 81, "INCOMPATIBLE_DESTINATION": 88,
	"INVALID_MSG_UNSPECIFIED": 95, "MANDATORY_IE_MISSING": 96, "MESSAGE_TYPE_NONEXIST": 97,
	"WRONG_MESSAGE": 98, "IE_NONEXIST": 99, "INVALID_IE_CONTENTS": 100, "WRONG_CALL_STATE": 101,
	"RECOVERY_ON_TIMER_EXPIRE": 102, "MANDATORY_IE_LENGTH_ERROR": 103, "PROTOCOL_ERROR": 111,
	"INTERWORKING": 127, "SUCCESS": 142, "ORIGINATOR_CANCEL": 487, "CRASH": 700, "SYSTEM_SHUTDOWN": 701,
	"LOSE_RACE": 702, "MANAGER_REQUEST": 703, "BLIND_TRANSFER": 800, "ATTENDED_TRANSFER": 801,
	"ALLOTTED_TIMEOUT": 802, "USER_CHALLENGE": 803, "MEDIA_TIMEOUT": 804, "PICKED_OFF": 805,
	"USER_NOT_REGISTERED": 806, "PROGRESS_TIMEOUT": 807, "INVALID_GATEWAY": 808, "GATEWAY_DOWN": 809,
	"INVALID_URL": 810, "INVALID_PROFILE": 811, "NO_PICKUP": 812, "SRTP_READ_ERROR": 813, "BOWOUT": 814,
	"BUSY_EVERYWHERE": 815, "DECLINE": 816, "DOES_NOT_EXIST_ANYWHERE": 817, "NOT_ACCEPTABLE": 818,
	"UNWANTED": 819, "NO_IDENTITY": 820, "BAD_IDENTITY_INFO": 821, "UNSUPPORTED_CERTIFICATE": 822,
	"INVALID_IDENTITY": 823, "STALE_DATE": 824, "REJECT_ALL": 825,
}

var causeByCode = func() map[int]string {
	m := make(map[int]string, len(causeCodes))
	for n, c := range causeCodes {
		m[c] = n
	}
	return m
}()

// causeName is switch_channel_str2cause then cause2str: a name (any case) or
// a number; anything else is NORMAL_CLEARING.
func causeName(s string) string {
	if name, ok := CanonicalCause(strings.TrimSpace(s)); ok {
		return name
	}
	return "NORMAL_CLEARING"
}

// q850 is switch_channel_cause_q850: causes past INTERWORKING are NORMAL_CLEARING.
func q850(cause string) int {
	c := causeCodes[cause]
	if c <= 127 {
		return c
	}
	return 16
}

// causeToSIP is mod_sofia's hangup_cause_to_sip.
func causeToSIP(cause string) int {
	switch cause {
	case "UNALLOCATED_NUMBER", "NO_ROUTE_TRANSIT_NET", "NO_ROUTE_DESTINATION":
		return 404
	case "USER_BUSY":
		return 486
	case "NO_USER_RESPONSE":
		return 408
	case "NO_ANSWER", "SUBSCRIBER_ABSENT", "NORMAL_UNSPECIFIED":
		return 480
	case "CALL_REJECTED", "DECLINE", "REJECT_ALL":
		return 603
	case "NUMBER_CHANGED", "REDIRECTION_TO_NEW_DESTINATION":
		return 410
	case "DESTINATION_OUT_OF_ORDER", "INVALID_PROFILE":
		return 502
	case "INVALID_NUMBER_FORMAT", "INVALID_URL", "INVALID_GATEWAY":
		return 484
	case "FACILITY_REJECTED", "FACILITY_NOT_IMPLEMENTED", "SERVICE_NOT_IMPLEMENTED":
		return 501
	case "REQUESTED_CHAN_UNAVAIL", "NORMAL_CIRCUIT_CONGESTION", "NETWORK_OUT_OF_ORDER",
		"NORMAL_TEMPORARY_FAILURE", "SWITCH_CONGESTION", "GATEWAY_DOWN", "BEARERCAPABILITY_NOTAVAIL":
		return 503
	case "OUTGOING_CALL_BARRED", "INCOMING_CALL_BARRED", "BEARERCAPABILITY_NOTAUTH", "STALE_DATE":
		return 403
	case "BEARERCAPABILITY_NOTIMPL", "INCOMPATIBLE_DESTINATION":
		return 488
	case "RECOVERY_ON_TIMER_EXPIRE":
		return 504
	case "ORIGINATOR_CANCEL":
		return 487
	case "EXCHANGE_ROUTING_ERROR":
		return 483
	case "BUSY_EVERYWHERE":
		return 600
	case "DOES_NOT_EXIST_ANYWHERE":
		return 604
	case "NOT_ACCEPTABLE":
		return 606
	case "UNWANTED":
		return 607
	}
	return 480
}

// sipToCause is sofia_glue_sip_cause_to_freeswitch.
func sipToCause(code int) string {
	switch code {
	case 200:
		return "NORMAL_CLEARING"
	case 401, 402, 403, 407, 603, 608:
		return "CALL_REJECTED"
	case 607:
		return "UNWANTED"
	case 404:
		return "UNALLOCATED_NUMBER"
	case 485, 604:
		return "NO_ROUTE_DESTINATION"
	case 408, 504:
		return "RECOVERY_ON_TIMER_EXPIRE"
	case 410:
		return "NUMBER_CHANGED"
	case 413, 414, 416, 420, 421, 423, 505, 513:
		return "INTERWORKING"
	case 480:
		return "NO_USER_RESPONSE"
	case 400, 481, 500, 503:
		return "NORMAL_TEMPORARY_FAILURE"
	case 486, 600:
		return "USER_BUSY"
	case 484:
		return "INVALID_NUMBER_FORMAT"
	case 488, 606:
		return "INCOMPATIBLE_DESTINATION"
	case 502:
		return "NETWORK_OUT_OF_ORDER"
	case 405:
		return "SERVICE_UNAVAILABLE"
	case 406, 415, 501:
		return "SERVICE_NOT_IMPLEMENTED"
	case 482, 483:
		return "EXCHANGE_ROUTING_ERROR"
	case 487:
		return "ORIGINATOR_CANCEL"
	}
	return "NORMAL_UNSPECIFIED"
}

// hangupLocal hangs l up from this side (uuid_kill, the hangup app, ...).
func (l *leg) hangupLocal(cause string) { l.s.hangup(l, cause, true) }

// hangup runs a leg's hangup as FreeSWITCH reports it: CHANNEL_HANGUP, the
// running applications' CHANNEL_EXECUTE_COMPLETE, CS_HANGUP, the HANGUP call
// state, CS_REPORTING, the CDR variables, CHANNEL_HANGUP_COMPLETE,
// CHANNEL_DESTROY and CS_DESTROY. Then the other end of the SIP dialog (or
// of a bridge) hangs up: NORMAL_CLEARING (the q850 cause of the BYE) once
// answered, the mapped SIP failure before.
func (s *Sim) hangup(l *leg, cause string, local bool) {
	if l.down {
		return
	}
	c := l.call
	established := c != nil && c.answered
	l.down = true
	l.cause = cause
	l.stateNum = csHangup
	l.prof.hungup = time.Now().UnixMicro()
	for i := range l.queue {
		l.queue[i] = nil
	}
	l.queue = nil
	if !local && c != nil && !c.loopback {
		if established {
			n := strconv.Itoa(q850(cause))
			l.setVar("sip_reason", "Q.850;cause="+n+";text=\""+cause+"\"")
			l.setVar("sip_term_status", "200")
			l.setVar("proto_specific_hangup_cause", "sip:200")
			l.setVar("sip_term_cause", n)
		} else if l.out {
			code := strconv.Itoa(causeToSIP(cause))
			if c.in != nil && c.in.rejectCode != 0 {
				code = strconv.Itoa(c.in.rejectCode)
			}
			l.setVar("sip_term_status", code)
			l.setVar("proto_specific_hangup_cause", "sip:"+code)
		}
	}
	s.fireLeg(evChannelHangup, siteHangup, l)
	l.sessEvents = nil
	if f := l.afterHangup; f != nil {
		l.afterHangup = nil
		f()
	}
	if !local && c != nil && !c.loopback {
		if established {
			l.vars.touch(vnSipUserAgent.name, vnSipUserAgent.bit)
			l.setVar("sip_hangup_disposition", "recv_bye")
		} else if l.out {
			l.setVar("sip_hangup_disposition", "recv_refuse")
		} else {
			l.setVar("sip_hangup_disposition", "recv_cancel")
		}
	}
	for len(l.stack) > 0 {
		l.top().cut(true)
	}
	if len(l.records) > 0 {
		l.stopRecording("all")
	}
	l.runState = csHangup
	l.fireState()
	l.setCallState(ccsHangup)
	l.runState, l.stateNum = csReporting, csReporting
	l.fireState()
	l.cdrVars(local, established)
	e := ev{typ: evChannelHangupComplete, site: siteHangupDone, leg: l}
	e.addPre("Hangup-Cause", cause)
	s.fire(&e)
	l.stateNum = csDestroy
	s.fireLeg(evChannelDestroy, siteDestroy, l)
	l.runState = csDestroy
	l.fireState()
	delete(s.legs, l.uuid)
	s.stats.legsDestroyed++

	// the bridge partner
	if b := l.bridged; b != nil {
		l.bridged, b.bridged = nil, nil
		s.unbridged(b, l)
	}
	// the other end of the SIP dialog
	if c == nil {
		return
	}
	if l == c.out {
		c.finish("-ERR " + cause + "\n")
	}
	p := l.peer
	if p == nil || p.down {
		return
	}
	switch {
	case c.loopback:
		s.hangup(p, cause, false)
	case established:
		s.hangup(p, causeByCode[q850(cause)], false)
	case l == c.in:
		code := causeToSIP(cause)
		if l.rejectCode != 0 {
			code = l.rejectCode
		}
		s.hangup(p, sipToCause(code), false)
	default:
		s.hangup(p, "ORIGINATOR_CANCEL", false)
	}
}

func (l *leg) fireState() { l.s.fireLeg(evChannelState, siteState, l) }

// CDR variable names, in the order switch_channel_set_timestamps sets them.
var (
	vnHangupCause, vnHangupQ850, vnDigitsDialed = vn("hangup_cause"), vn("hangup_cause_q850"), vn("digits_dialed")
	vnStartStamp, vnProfileStartStamp           = vn("start_stamp"), vn("profile_start_stamp")
	vnAnswerStamp, vnBridgeStamp                = vn("answer_stamp"), vn("bridge_stamp")
	vnProgressStamp, vnProgressMediaStamp       = vn("progress_stamp"), vn("progress_media_stamp")
	vnEndStamp                                  = vn("end_stamp")
	cdrEpochs1                                  = epochNames("start", "profile_start", "answer", "bridge", "last_hold")
	cdrHold                                     = []varName{vn("hold_accum_seconds"), vn("hold_accum_usec"), vn("hold_accum_ms")}
	cdrEpochs2                                  = epochNames("resurrect", "progress", "progress_media", "end")
	vnLastApp, vnLastArg, vnCallerID            = vn("last_app"), vn("last_arg"), vn("caller_id")
	cdrDurations                                = []varName{vn("duration"), vn("billsec"), vn("progresssec"),
		vn("answersec"), vn("waitsec"), vn("progress_mediasec"), vn("flow_billsec"), vn("mduration"), vn("billmsec"),
		vn("progressmsec"), vn("answermsec"), vn("waitmsec"), vn("progress_mediamsec"), vn("flow_billmsec"),
		vn("uduration"), vn("billusec"), vn("progressusec"), vn("answerusec"), vn("waitusec"),
		vn("progress_mediausec"), vn("flow_billusec")}
	vnIsLoopback = vn("is_loopback")
	rtpCounts    = []varName{vn("rtp_audio_in_raw_bytes"), vn("rtp_audio_in_media_bytes"),
		vn("rtp_audio_in_packet_count"), vn("rtp_audio_in_media_packet_count")}
	rtpMiddle = []staticVar{sv("rtp_audio_in_skip_packet_count", "0"), sv("rtp_audio_in_jitter_packet_count", "0"),
		sv("rtp_audio_in_dtmf_packet_count", "0"), sv("rtp_audio_in_cng_packet_count", "0"),
		sv("rtp_audio_in_flush_packet_count", "0"), sv("rtp_audio_in_largest_jb_size", "0"),
		sv("rtp_audio_in_jitter_min_variance", "0.00"), sv("rtp_audio_in_jitter_max_variance", "0.00"),
		sv("rtp_audio_in_jitter_loss_rate", "0.00"), sv("rtp_audio_in_jitter_burst_rate", "0.00"),
		sv("rtp_audio_in_mean_interval", "20.00"), sv("rtp_audio_in_flaw_total", "0"),
		sv("rtp_audio_in_quality_percentage", "100.00"), sv("rtp_audio_in_mos", "4.50")}
	rtpOutCounts = []varName{vn("rtp_audio_out_raw_bytes"), vn("rtp_audio_out_media_bytes"),
		vn("rtp_audio_out_packet_count"), vn("rtp_audio_out_media_packet_count")}
	rtpTail = []staticVar{sv("rtp_audio_out_skip_packet_count", "0"), sv("rtp_audio_out_dtmf_packet_count", "0"),
		sv("rtp_audio_out_cng_packet_count", "0"), sv("rtp_audio_rtcp_packet_count", "0"),
		sv("rtp_audio_rtcp_octet_count", "0")}
	dispositions = map[string]staticVar{}
)

func init() {
	for _, d := range []string{"send_bye", "send_cancel", "send_refuse", "recv_bye", "recv_cancel", "recv_refuse"} {
		dispositions[d] = sv("sip_hangup_disposition", d)
	}
}

func epochNames(prefixes ...string) [][2]varName {
	out := make([][2]varName, len(prefixes))
	for i, p := range prefixes {
		out[i] = [2]varName{vn(p + "_epoch"), vn(p + "_uepoch")}
	}
	return out
}

// cdrVars sets switch_channel_set_timestamps's variables (and the SIP hangup
// disposition and RTP statistics sofia adds) before CHANNEL_HANGUP_COMPLETE.
func (l *leg) cdrVars(local, established bool) {
	p := &l.prof
	b := &l.s.batch
	b.reset()
	b.set(vnHangupCause, l.cause)
	b.setInt(vnHangupQ850, int64(q850(l.cause)))
	if len(l.dtmfLog) > 0 {
		b.set(vnDigitsDialed, string(l.dtmfLog))
	} else {
		b.set(vnDigitsDialed, "none")
	}
	stamp := func(n varName, us int64) {
		if us != 0 {
			b.set(n, time.UnixMicro(us).Format("2006-01-02 15:04:05"))
		}
	}
	stamp(vnStartStamp, p.created)
	stamp(vnProfileStartStamp, p.created)
	stamp(vnAnswerStamp, p.answered)
	stamp(vnBridgeStamp, p.bridged)
	stamp(vnProgressStamp, p.progress)
	stamp(vnProgressMediaStamp, p.progressMedia)
	stamp(vnEndStamp, p.hungup)
	for i, us := range []int64{p.created, p.created, p.answered, p.bridged, 0} {
		b.setInt(cdrEpochs1[i][0], us/1e6)
		b.setInt(cdrEpochs1[i][1], us)
	}
	for _, n := range cdrHold {
		b.setInt(n, 0)
	}
	for i, us := range []int64{0, p.progress, p.progressMedia, p.hungup} {
		b.setInt(cdrEpochs2[i][0], us/1e6)
		b.setInt(cdrEpochs2[i][1], us)
	}
	b.set(vnLastApp, l.lastApp)
	b.set(vnLastArg, l.lastArg)
	if p.cidName != "" {
		b.set(vnCallerID, "\""+p.cidName+"\" <"+p.cidNum+">")
	} else {
		b.set(vnCallerID, p.cidNum)
	}
	since := func(from, to int64) (sec, msec, usec int64) {
		if from == 0 || to == 0 {
			return 0, 0, 0
		}
		return to/1e6 - from/1e6, to/1e3 - from/1e3, to - from
	}
	dur, mdur, udur := since(p.created, p.hungup)
	var bill, mbill, ubill, flow, mflow, uflow, ans, mans, uans int64
	if p.answered != 0 {
		bill, mbill, ubill = since(p.answered, p.hungup)
		flow, mflow, uflow = dur, mdur, udur
		ans, mans, uans = since(p.created, p.answered)
	}
	prog, mprog, uprog := since(p.created, p.progress)
	pm, mpm, upm := since(p.created, p.progressMedia)
	var wait, mwait, uwait int64
	if p.bridged > p.created {
		wait, mwait, uwait = since(p.created, p.bridged)
	}
	for i, v := range [...]int64{dur, bill, prog, ans, wait, pm, flow, mdur, mbill, mprog, mans, mwait, mpm, mflow,
		udur, ubill, uprog, uans, uwait, upm, uflow} {
		b.setInt(cdrDurations[i], v)
	}
	c := l.call
	switch {
	case c != nil && c.loopback:
		b.setInt(vnIsLoopback, 1)
	case c != nil:
		if _, ok := l.vars.get(vnSipHangupDisposition.name); local && !ok {
			d := "send_refuse"
			switch {
			case established:
				d = "send_bye"
			case l.out:
				d = "send_cancel"
			}
			b.setStatic(vnSipHangupDisposition, dispositions[d].line)
		}
		if l.media {
			packets := int64(0)
			if p.answered != 0 {
				packets = (p.hungup - p.answered) / 20000
			}
			counts := [4]int64{packets * 172, packets * 160, packets, packets}
			for i, n := range rtpCounts {
				b.setInt(n, counts[i])
			}
			for _, v := range rtpMiddle {
				b.setStatic(varName{v.name, v.bit}, v.line)
			}
			for i, n := range rtpOutCounts {
				b.setInt(n, counts[i])
			}
			for _, v := range rtpTail {
				b.setStatic(varName{v.name, v.bit}, v.line)
			}
		}
	}
	b.commit(l)
}

// stopTimers stops the timers of the leg's running applications (Close).
func (l *leg) stopTimers() {
	for _, r := range l.stack {
		if r.timer != nil {
			r.timer.Stop()
		}
	}
	for _, rec := range l.records {
		if rec.timer != nil {
			rec.timer.Stop()
		}
	}
}
