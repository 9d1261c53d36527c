package fssim

import "strconv"

// Channel states (switch_channel_state_t) and call states
// (switch_channel_callstate_t), in FreeSWITCH's order.
const (
	csNew = iota
	csInit
	csRouting
	csSoftExecute
	csExecute
	csExchangeMedia
	csPark
	csConsumeMedia
	csHibernate
	csReset
	csHangup
	csReporting
	csDestroy
)

var stateNames = [...]string{"CS_NEW", "CS_INIT", "CS_ROUTING", "CS_SOFT_EXECUTE", "CS_EXECUTE",
	"CS_EXCHANGE_MEDIA", "CS_PARK", "CS_CONSUME_MEDIA", "CS_HIBERNATE", "CS_RESET", "CS_HANGUP",
	"CS_REPORTING", "CS_DESTROY"}

const (
	ccsDown = iota
	ccsDialing
	ccsRinging
	ccsEarly
	ccsActive
	ccsHeld
	ccsRingWait
	ccsHangup
	ccsUnheld
)

var callStateNames = [...]string{"DOWN", "DIALING", "RINGING", "EARLY", "ACTIVE", "HELD", "RING_WAIT",
	"HANGUP", "UNHELD"}

// profile is a channel's caller profile (the Caller-* headers).
type profile struct {
	dir, uid                              string // "inbound"/"outbound", the channel uuid
	username, dialplan                    string
	cidName, cidNum, origCidName, origNum string
	calleeName, calleeNum                 string
	networkAddr, ani, dest, source        string
	context, chanName                     string
	// times in microseconds since the epoch (0: not yet)
	created, answered, progress, progressMedia, hungup, transferred, bridged int64
}

// leg is one channel. Every field is guarded by Sim.mu.
type leg struct {
	s    *Sim
	uuid string
	out  bool // Call-Direction outbound
	name string
	call *call  // the self-call (originate) this leg belongs to, if any
	peer *leg   // the other SIP end of a self-call, or the loopback twin
	sid  uint64 // session_id

	runState, stateNum, callState int
	hitDialplan                   bool
	answered, early, media        bool
	down                          bool // hung up
	cause                         string
	callUUID                      string // variable call_uuid (Channel-Call-UUID)
	presenceID                    string
	codec                         string // the codec header block, if not PCMU

	prof profile
	vars varList
	// idBlock is "Channel-Name: ..\nUnique-ID: ..\nCall-Direction: ..\nPresence-Call-Direction: ..\n".
	idBlock string

	// execution
	ext       []appCall  // the caller extension's remaining applications
	stack     []*appRun  // running applications, innermost last
	queue     []*appCall // sendmsg executes not yet started
	lastApp   string     // app_log tail for last_app/last_arg
	lastArg   string     // ...
	dtmfLog   []byte     // digits received, for digits_dialed
	bridged   *leg
	bridgeRun *appRun // the bridge app waiting on this leg's bridge
	bridgeA   bool    // the originating side of the bridge
	pumping   bool    // pump is running (it is not re-entered)
	// FreeSWITCH's CF_BROADCAST, CF_STOP_BROADCAST and CF_BREAK flags (see
	// runMsg and breakApps)
	broadcast, stopBroadcast, cfBreak bool
	// afterHangup, if set, runs right after CHANNEL_HANGUP (the
	// PRIVATE_COMMAND of a sendmsg hangup comes there)
	afterHangup func()
	// sessEvents are sendevent events addressed to this channel
	// (Unique-ID), waiting for park to fire them
	sessEvents []*ev
	rejectCode int // the SIP status of a respond that rejected the call
	records    map[string]*recording
}

// appendData serializes the channel data of an event (switch_channel_event_set_data):
// basic data, the caller profile and, if withVars, the variables.
func (l *leg) appendData(b []byte, withVars bool) []byte {
	b = append(b, "Channel-State: "...)
	b = append(b, stateNames[l.runState]...)
	b = append(b, "\nChannel-Call-State: "...)
	b = append(b, callStateNames[l.callState]...)
	b = append(b, "\nChannel-State-Number: "...)
	b = strconv.AppendInt(b, int64(l.stateNum), 10)
	b = append(b, '\n')
	b = append(b, l.idBlock...)
	if l.hitDialplan || !l.out {
		b = append(b, "Channel-HIT-Dialplan: true\n"...)
	} else {
		b = append(b, "Channel-HIT-Dialplan: false\n"...)
	}
	b = appendHeader(b, "Channel-Presence-ID", l.presenceID)
	b = append(b, "Channel-Call-UUID: "...)
	if l.callUUID != "" {
		b = appendURLEncoded(b, l.callUUID)
	} else {
		b = append(b, l.uuid...)
	}
	switch {
	case l.down:
		b = append(b, "\nAnswer-State: hangup\n"...)
	case l.answered:
		b = append(b, "\nAnswer-State: answered\n"...)
	case l.early:
		b = append(b, "\nAnswer-State: early\n"...)
	default:
		b = append(b, "\nAnswer-State: ringing\n"...)
	}
	b = appendHeader(b, "Hangup-Cause", l.cause)
	if l.media {
		if l.codec != "" {
			b = append(b, l.codec...)
		} else {
			b = append(b, codecBlock...)
		}
	}
	b = l.prof.appendTo(b, "Caller-")
	if withVars {
		for _, line := range l.vars.lines {
			b = append(b, line...)
		}
	}
	return b
}

const codecBlock = "Channel-Read-Codec-Name: PCMU\nChannel-Read-Codec-Rate: 8000\nChannel-Read-Codec-Bit-Rate: 64000\n" +
	"Channel-Write-Codec-Name: PCMU\nChannel-Write-Codec-Rate: 8000\nChannel-Write-Codec-Bit-Rate: 64000\n"

func appendPrefixed(b []byte, prefix, name, value string) []byte {
	if value == "" {
		return b
	}
	b = append(b, prefix...)
	return appendHeader(b, name, value)
}

func appendPrefixedInt(b []byte, prefix, name string, v int64) []byte {
	b = append(b, prefix...)
	return appendHeaderInt(b, name, v)
}

// appendTo serializes the profile as switch_caller_profile_event_set_data does.
func (p *profile) appendTo(b []byte, prefix string) []byte {
	b = appendPrefixed(b, prefix, "Direction", p.dir)
	b = appendPrefixed(b, prefix, "Logical-Direction", p.dir)
	b = appendPrefixed(b, prefix, "Username", p.username)
	b = appendPrefixed(b, prefix, "Dialplan", p.dialplan)
	b = appendPrefixed(b, prefix, "Caller-ID-Name", p.cidName)
	b = appendPrefixed(b, prefix, "Caller-ID-Number", p.cidNum)
	if p.cidName != "" {
		b = appendPrefixed(b, prefix, "Orig-Caller-ID-Name", p.origCidName)
	}
	if p.cidNum != "" {
		b = appendPrefixed(b, prefix, "Orig-Caller-ID-Number", p.origNum)
	}
	b = appendPrefixed(b, prefix, "Callee-ID-Name", p.calleeName)
	b = appendPrefixed(b, prefix, "Callee-ID-Number", p.calleeNum)
	b = appendPrefixed(b, prefix, "Network-Addr", p.networkAddr)
	b = appendPrefixed(b, prefix, "ANI", p.ani)
	b = appendPrefixed(b, prefix, "Destination-Number", p.dest)
	b = appendPrefixed(b, prefix, "Unique-ID", p.uid)
	b = appendPrefixed(b, prefix, "Source", p.source)
	b = appendPrefixed(b, prefix, "Context", p.context)
	b = appendPrefixed(b, prefix, "Channel-Name", p.chanName)
	b = appendPrefixed(b, prefix, "Profile-Index", "1")
	b = appendPrefixedInt(b, prefix, "Profile-Created-Time", p.created)
	b = appendPrefixedInt(b, prefix, "Channel-Created-Time", p.created)
	b = appendPrefixedInt(b, prefix, "Channel-Answered-Time", p.answered)
	b = appendPrefixedInt(b, prefix, "Channel-Progress-Time", p.progress)
	b = appendPrefixedInt(b, prefix, "Channel-Progress-Media-Time", p.progressMedia)
	b = appendPrefixedInt(b, prefix, "Channel-Hangup-Time", p.hungup)
	b = appendPrefixedInt(b, prefix, "Channel-Transfer-Time", p.transferred)
	b = appendPrefixedInt(b, prefix, "Channel-Resurrect-Time", 0)
	b = appendPrefixedInt(b, prefix, "Channel-Bridged-Time", p.bridged)
	b = appendPrefixedInt(b, prefix, "Channel-Last-Hold", 0)
	b = appendPrefixedInt(b, prefix, "Channel-Hold-Accum", 0)
	b = append(b, prefix...)
	b = append(b, "Screen-Bit: true\n"...)
	b = append(b, prefix...)
	b = append(b, "Privacy-Hide-Name: false\n"...)
	b = append(b, prefix...)
	return append(b, "Privacy-Hide-Number: false\n"...)
}
