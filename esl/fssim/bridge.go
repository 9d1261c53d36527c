package fssim

import (
	"strconv"
	"strings"
	"time"
)

// appBridge is the bridge application: it dials its argument (a self-call
// to the simulator makes an outbound leg B and a parked inbound leg), and
// when B answers it answers this leg if needed and bridges the two
// (CHANNEL_BRIDGE). It completes when the bridge ends or the dial fails.
func appBridge(l *leg, r *appRun) {
	s := l.s
	t := parseDial(r.a.arg)
	c := &call{s: s, bridgeFrom: l, app: appCall{name: "park"}}
	c.vars = t.vars
	c.cidName, c.cidNum = l.prof.cidName, l.prof.cidNum
	if v, ok := l.getVar("effective_caller_id_name"); ok {
		c.cidName = v
	}
	if v, ok := l.getVar("effective_caller_id_number"); ok {
		c.cidNum = v
	}
	timeout := 60 * time.Second
	for _, name := range []string{"call_timeout", "originate_timeout"} {
		if v, ok := l.getVar(name); ok {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				timeout = time.Duration(n) * time.Second
			}
		}
	}
	for _, v := range c.vars {
		switch v.name {
		case "originate_timeout", "call_timeout":
			if n, err := strconv.Atoi(v.value); err == nil && n > 0 {
				timeout = time.Duration(n) * time.Second
			}
		case "origination_caller_id_name":
			c.cidName = v.value
		case "origination_caller_id_number":
			c.cidNum = v.value
		}
	}
	// switch_ivr_originate parses the caller's events while the b-leg rings,
	// and the bridge loop while bridged (switch_ivr_bridge.c)
	r.parses = true
	l.bridgeRun = r
	r.stop = func(r *appRun, hangup bool) {
		if l.bridgeRun == r {
			l.bridgeRun = nil
		}
		if c.out != nil && !c.out.down && !c.answered {
			c.out.hangupLocal("ORIGINATOR_CANCEL")
		}
	}
	c.done = func(reply string) {
		if !strings.HasPrefix(reply, "-ERR") || r.done {
			return
		}
		cause := strings.TrimSpace(strings.TrimPrefix(reply, "-ERR"))
		l.bridgeRun = nil
		l.setVar("originate_disposition", cause)
		l.setVar("DIALSTATUS", dialStatus(cause))
		l.setVar("originate_failed_cause", cause)
		r.complete()
	}
	s.dial(c, t, timeout)
}

// dialStatus is the DIALSTATUS FreeSWITCH sets for a failed bridge.
func dialStatus(cause string) string {
	switch cause {
	case "USER_BUSY":
		return "BUSY"
	case "NO_ANSWER", "NO_USER_RESPONSE":
		return "NOANSWER"
	case "ORIGINATOR_CANCEL":
		return "CANCEL"
	}
	return "CHANUNAVAIL"
}

// bridgeAnswered joins a (running the bridge app) with its answered b-leg.
func (a *leg) bridgeAnswered(b *leg) {
	r := a.bridgeRun
	if a.down || r == nil || r.done {
		b.hangupLocal("NORMAL_CLEARING")
		return
	}
	if !a.answered {
		a.answer()
	}
	a.s.joinBridge(a, b)
	b.runState, b.stateNum = csExchangeMedia, csExchangeMedia
	b.fireState()
}

// joinBridge links a and b and fires CHANNEL_BRIDGE on a.
func (s *Sim) joinBridge(a, b *leg) {
	now := time.Now().UnixMicro()
	a.bridged, b.bridged = b, a
	a.bridgeA, b.bridgeA = true, false
	a.prof.bridged, b.prof.bridged = now, now
	for _, x := range [][2]*leg{{a, b}, {b, a}} {
		x[0].setVar("signal_bond", x[1].uuid)
		x[0].setVar("last_bridge_to", x[1].uuid)
		x[0].setVar("bridge_channel", x[1].name)
		x[0].setVar("bridge_uuid", x[1].uuid)
	}
	e := ev{typ: evChannelBridge, site: siteBridge, leg: a}
	e.addPre("Bridge-A-Unique-ID", a.uuid)
	e.addPre("Bridge-B-Unique-ID", b.uuid)
	s.fire(&e)
}

// unbridged ends the bridge of x whose partner gone hung up: CHANNEL_UNBRIDGE,
// then the bridge app of x completes (x goes on, or hangs up with
// hangup_after_bridge), or x, bridged by uuid_bridge or as a b-leg, hangs up.
func (s *Sim) unbridged(x, gone *leg) {
	if x.down {
		return
	}
	a, b := x, gone
	if gone.bridgeA {
		a, b = gone, x
	}
	e := ev{typ: evChannelUnbridge, site: siteUnbridge, leg: x}
	e.addPre("Bridge-A-Unique-ID", a.uuid)
	e.addPre("Bridge-B-Unique-ID", b.uuid)
	s.fire(&e)
	x.setVar("last_bridge_hangup_cause", gone.cause)
	if r := x.bridgeRun; r != nil && !r.done {
		x.bridgeRun = nil
		r.complete()
		if v, _ := x.getVar("hangup_after_bridge"); isTrue(v) {
			x.hangupLocal("NORMAL_CLEARING")
		}
		return
	}
	x.hangupLocal("NORMAL_CLEARING")
}

// uuidBridge is uuid_bridge: both legs leave what they run and are bridged.
func (s *Sim) uuidBridge(a, b *leg) {
	for _, x := range []*leg{a, b} {
		x.pumping = true
		for len(x.stack) > 0 {
			x.top().cut(false)
		}
		x.pumping = false
		x.runState, x.stateNum = csExchangeMedia, csExchangeMedia
		x.fireState()
	}
	s.joinBridge(a, b)
	a.pump()
	b.pump()
}

// isTrue is switch_true.
func isTrue(v string) bool {
	switch strings.ToLower(v) {
	case "yes", "on", "true", "t", "enabled", "active", "allow":
		return true
	}
	n, err := strconv.Atoi(v)
	return err == nil && n != 0
}
