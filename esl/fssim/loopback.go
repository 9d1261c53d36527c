package fssim

import (
	"strings"
	"time"
)

const codecBlockL16 = "Channel-Read-Codec-Name: L16\nChannel-Read-Codec-Rate: 8000\nChannel-Read-Codec-Bit-Rate: 128000\n" +
	"Channel-Write-Codec-Name: L16\nChannel-Write-Codec-Rate: 8000\nChannel-Write-Codec-Bit-Rate: 128000\n"

var loopbackCodecVars = []vop{
	vS("read_codec", "L16"), vS("read_rate", "8000"), vS("write_codec", "L16"), vS("write_rate", "8000"),
}

// dialLoopback places a loopback/<exten>[/<context>[/<dialplan>]] call: leg
// A (outbound, the originate's) and leg B (inbound) that runs the dialplan,
// which in the simulator parks it (session.raw's second call).
func (s *Sim) dialLoopback(c *call, t dialTarget, timeout time.Duration) bool {
	parts := strings.Split(t.rest, "/")
	exten := parts[0]
	context := "default"
	if len(parts) > 1 && parts[1] != "" {
		context = parts[1]
	}
	if exten == "" {
		c.finish("-ERR NO_ROUTE_DESTINATION\n")
		return false
	}
	if s.failRate > 0 && s.rng.Float64() < s.failRate {
		c.finish("-ERR " + s.failCause + "\n")
		return false
	}
	if !s.sessionRequest(0) || !s.sessionRequest(1) {
		c.finish("-ERR DESTINATION_OUT_OF_ORDER\n")
		return false
	}
	c.loopback = true
	if c.cidNum == "" {
		c.cidNum = "0000000000"
	}
	var ouuid string
	for _, v := range c.vars {
		if v.name == "origination_uuid" {
			ouuid = v.value
		}
	}
	if _, dup := s.legs[ouuid]; ouuid != "" && dup {
		c.finish("-ERR DESTINATION_OUT_OF_ORDER\n")
		return false
	}
	calleeNum := c.app.name
	a := s.newLeg(ouuid, true, "loopback/"+exten+"-a")
	b := s.newLeg("", false, "loopback/"+exten+"-b")
	c.out, c.in, a.call, b.call = a, b, c, c
	a.peer, b.peer = b, a
	for _, l := range []*leg{a, b} {
		l.codec = codecBlockL16
		l.media = true
		p := &l.prof
		p.dialplan, p.cidName, p.cidNum, p.origCidName, p.origNum = "xml", c.cidName, c.cidNum, c.cidName, c.cidNum
		p.calleeName, p.calleeNum, p.ani, p.dest = "Outbound Call", calleeNum, c.cidNum, exten
		p.source, p.context = "mod_loopback", context
		l.callUUID = l.uuid
	}
	a.setVar("direction", "outbound")
	a.setVar("is_outbound", "true")
	a.setVar("session_id", uintStr(a.sid))
	a.apply(c, loopbackCodecVars)
	a.setVar("channel_name", a.name)
	a.setVar("uuid", a.uuid)
	a.setVar("call_uuid", a.uuid)
	a.apply(c, []vop{{splice: opOriginateVars}})
	a.setVar("originate_early_media", "true")
	a.setVar("originate_endpoint", "loopback")
	a.setVar("other_loopback_leg_uuid", b.uuid)
	a.setVar("loopback_leg", "A")
	a.ext = []appCall{c.app}

	b.setVar("direction", "inbound")
	b.setVar("uuid", b.uuid)
	b.setVar("call_uuid", b.uuid)
	b.setVar("session_id", uintStr(b.sid))
	b.setVar("channel_name", b.name)
	b.apply(c, loopbackCodecVars)
	b.setVar("origination_uuid", a.uuid)
	b.setVar("other_loopback_leg_uuid", a.uuid)
	b.setVar("loopback_leg", "B")
	b.ext = []appCall{{name: "park"}}

	a.setRunning(csInit)
	a.stateNum = csRouting
	s.fireLeg(evChannelCreate, siteCreate, a)
	s.fireLeg(evChannelOriginate, siteOriginate, a)
	a.setRunning(csRouting)
	a.setRunning(csConsumeMedia)
	b.setRunning(csInit)
	b.stateNum = csRouting
	s.fireLeg(evChannelCreate, siteCreate, b)
	b.runState = csRouting
	b.setCallState(ccsRinging)
	b.setRunning(csRouting)
	b.enterExecute()
	if c.done == nil {
		return false
	}
	c.timeout = s.after(timeout, func() {
		if !c.answered && !a.down {
			a.hangupLocal("NO_ANSWER")
		}
	})
	if s.autoAnswer {
		s.after(0, func() { b.answer() })
	}
	return true
}

// answerLoopback answers B of a loopback call: A answers first, then B, then
// the originate reports +OK and A runs its application.
func (c *call) answerLoopback(b *leg) {
	a := c.out
	s := c.s
	now := time.Now().UnixMicro()
	c.answered = true
	if !a.down && !a.answered {
		a.prof.answered, a.answered = now, true
		s.fireLeg(evChannelAnswer, siteAnswer, a)
		a.setCallState(ccsActive)
	}
	b.prof.answered, b.answered = now, true
	s.fireLeg(evChannelAnswer, siteAnswer, b)
	b.setCallState(ccsActive)
	b.setVar("endpoint_disposition", "ANSWER")
	s.stats.callsAnswered++
	if a.down {
		return
	}
	c.finish("+OK " + a.uuid + "\n")
	a.startApplication()
}

func uintStr(n uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}
