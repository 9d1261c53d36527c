package fssim

import (
	"net"
	"strconv"
	"strings"
	"time"
)

// sipProfile is one of the simulator's two sofia profiles.
type sipProfile struct {
	name    string
	ip      string
	port    int
	context string
	hp      string // ip:port
}

func (p *sipProfile) hostport() string { return p.hp }
func (p *sipProfile) url() string      { return "sip:mod_sofia@" + p.hp }

func newProfiles(cfg Config) [2]sipProfile {
	ps := [2]sipProfile{
		{name: "internal", ip: cfg.SIPIP, port: cfg.InternalPort, context: cfg.InternalContext},
		{name: "external", ip: cfg.SIPIP, port: cfg.ExternalPort, context: cfg.ExternalContext},
	}
	for i := range ps {
		ps[i].hp = net.JoinHostPort(ps[i].ip, strconv.Itoa(ps[i].port))
	}
	return ps
}

func (s *Sim) profiles() [2]sipProfile { return s.profs }

func (s *Sim) profileByName(name string) *sipProfile {
	for i := range s.profs {
		if s.profs[i].name == name {
			return &s.profs[i]
		}
	}
	return nil
}

// profileAt returns the profile listening on host:port, if it is ours.
func (s *Sim) profileAt(host string, port int) *sipProfile {
	if host != s.cfg.SIPIP && !(s.cfg.SIPIP == "127.0.0.1" && host == "localhost") {
		return nil
	}
	for i := range s.profs {
		if s.profs[i].port == port {
			return &s.profs[i]
		}
	}
	return nil
}

// call is one originate: its outbound leg and, for a self-call, the inbound
// leg that receives it. Guarded by Sim.mu.
type call struct {
	s            *Sim
	done         func(reply string) // the originate's result; nil once reported
	out, in      *leg
	user, host   string // destination user and host:port as dialed
	oprof, iprof *sipProfile
	vars         []hdr // the originate's {vars}
	app          appCall
	cidName      string
	cidNum       string
	callID       string
	fromTag      string
	toTag        string
	branch       string
	branch2      string
	cseq         int
	osess, isess int64
	oport, iport int
	ossrc, issrc uint32
	answered     bool
	timeout      *time.Timer
	bridgeFrom   *leg // the a-leg of a bridge app that made this call
	loopback     bool
}

// finish reports the originate's result once.
func (c *call) finish(reply string) {
	if c.done == nil {
		return
	}
	done := c.done
	c.done = nil
	if c.timeout != nil {
		c.timeout.Stop()
	}
	if strings.HasPrefix(reply, "-ERR") {
		c.s.stats.originateFailures++
	}
	done(reply)
}

// dialTarget is one parsed originate destination.
type dialTarget struct {
	vars     []hdr
	endpoint string // sofia, loopback, error, user, ...
	rest     string // what follows "endpoint/"
}

// parseVarBlock parses "k=v,k2='a,b'" as FreeSWITCH's {}/[] blocks.
func parseVarBlock(s string) []hdr {
	var out []hdr
	var cur strings.Builder
	var parts []string
	quote := byte(0)
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case quote != 0:
			if ch == quote {
				quote = 0
				continue
			}
			cur.WriteByte(ch)
		case ch == '\'' || ch == '"':
			quote = ch
		case ch == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case ch == ',':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(ch)
		}
	}
	parts = append(parts, cur.String())
	for _, p := range parts {
		k, v, ok := strings.Cut(p, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			continue
		}
		out = append(out, hdr{k, v})
	}
	return out
}

// parseDial parses an originate dial string: {global vars}[leg vars]endpoint/...
// Only the first of several destinations (',' or '|') is dialed.
func parseDial(s string) dialTarget {
	var t dialTarget
	for len(s) > 0 && (s[0] == '{' || s[0] == '[' || s[0] == '<') {
		closer := byte('}')
		switch s[0] {
		case '[':
			closer = ']'
		case '<':
			closer = '>'
		}
		j := strings.IndexByte(s, closer)
		if j < 0 {
			break
		}
		t.vars = append(t.vars, parseVarBlock(s[1:j])...)
		s = s[j+1:]
	}
	if j := strings.IndexAny(s, ",|"); j >= 0 {
		s = s[:j]
	}
	t.endpoint, t.rest, _ = strings.Cut(s, "/")
	return t
}

// splitArgs splits on spaces as switch_separate_string does, keeping quoted
// and {}-bracketed text together.
func splitArgs(s string) []string {
	var out []string
	var cur strings.Builder
	depth := 0
	quote := byte(0)
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case quote != 0:
			if ch == quote {
				quote = 0
			}
			cur.WriteByte(ch)
		case ch == '\'' || ch == '"':
			quote = ch
			cur.WriteByte(ch)
		case ch == '{' || ch == '[':
			depth++
			cur.WriteByte(ch)
		case ch == '}' || ch == ']':
			if depth > 0 {
				depth--
			}
			cur.WriteByte(ch)
		case ch == ' ' && depth == 0:
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteByte(ch)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

// parseApp parses "&name(args)" or "name args"/"name::args".
func parseApp(s string) appCall {
	s = strings.TrimPrefix(s, "&")
	if i := strings.IndexByte(s, '('); i >= 0 {
		arg := s[i+1:]
		if j := strings.LastIndexByte(arg, ')'); j >= 0 {
			arg = arg[:j]
		}
		return appCall{name: s[:i], arg: arg}
	}
	return appCall{name: s}
}

const originateUsage = "-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]\n"

// originate runs the originate api. done gets "+OK <uuid>\n" when the
// outbound leg answers or "-ERR <CAUSE>\n". It reports whether done is
// called later (not before originate returns).
func (s *Sim) originate(arg string, done func(string)) bool {
	s.stats.originates++
	args := splitArgs(arg)
	if len(args) < 2 || len(args) > 7 {
		done(originateUsage)
		return false
	}
	for i, a := range args {
		if strings.EqualFold(a, "undef") {
			args[i] = ""
		}
	}
	c := &call{s: s, done: done}
	exten := args[1]
	if strings.HasPrefix(exten, "&") && len(exten) > 1 {
		c.app = parseApp(exten)
	} else {
		// a dialplan extension: the simulator has no dialplan, the leg parks
		c.app = appCall{name: "park"}
	}
	if len(args) > 4 {
		c.cidName = args[4]
	}
	if len(args) > 5 {
		c.cidNum = args[5]
	}
	timeout := 60 * time.Second
	if len(args) > 6 {
		if n, err := strconv.Atoi(args[6]); err == nil && n > 0 {
			timeout = time.Duration(n) * time.Second
		}
	}
	t := parseDial(args[0])
	c.vars = t.vars
	for _, v := range c.vars {
		switch v.name {
		case "originate_timeout":
			if n, err := strconv.Atoi(v.value); err == nil && n > 0 {
				timeout = time.Duration(n) * time.Second
			}
		case "origination_caller_id_name":
			c.cidName = v.value
		case "origination_caller_id_number":
			c.cidNum = v.value
		}
	}
	return s.dial(c, t, timeout)
}

// dial places the call c towards t.
func (s *Sim) dial(c *call, t dialTarget, timeout time.Duration) bool {
	fail := func(cause string) bool {
		c.finish("-ERR " + cause + "\n")
		return false
	}
	switch strings.ToLower(t.endpoint) {
	case "sofia":
	case "loopback":
		return s.dialLoopback(c, t, timeout)
	case "error":
		cause := strings.ToUpper(t.rest)
		if _, ok := causeCodes[cause]; !ok {
			cause = "NORMAL_CLEARING"
		}
		return fail(cause)
	case "user":
		return fail("SUBSCRIBER_ABSENT")
	default:
		return fail("CHAN_NOT_IMPLEMENTED")
	}
	profName, dest, _ := strings.Cut(t.rest, "/")
	if profName == "gateway" {
		return fail("INVALID_GATEWAY")
	}
	c.oprof = s.profileByName(profName)
	if c.oprof == nil {
		return fail("INVALID_PROFILE")
	}
	if i := strings.IndexByte(dest, ';'); i >= 0 {
		dest = dest[:i]
	}
	dest = strings.TrimPrefix(dest, "sip:")
	user, host, ok := strings.Cut(dest, "@")
	if !ok {
		host, user = user, ""
	}
	h, p, err := net.SplitHostPort(host)
	port := 5060
	if err != nil {
		h = host
	} else if n, err := strconv.Atoi(p); err == nil {
		port = n
	}
	c.user, c.host = user, host
	if err != nil {
		c.host = net.JoinHostPort(h, "5060")
	}
	if s.failRate > 0 && s.rng.Float64() < s.failRate {
		return fail(s.failCause)
	}
	c.iprof = s.profileAt(h, port)
	if c.iprof == nil {
		// nobody answers there: like an originate to a dead SIP port
		return fail("NORMAL_TEMPORARY_FAILURE")
	}
	if !s.sessionRequest(0) {
		return fail("DESTINATION_OUT_OF_ORDER")
	}
	if !s.sessionRequest(1) {
		return fail("NORMAL_TEMPORARY_FAILURE")
	}
	if c.cidNum == "" {
		c.cidNum = "0000000000"
	}
	s.startSelfCall(c)
	if c.done == nil {
		return false
	}
	c.timeout = s.after(timeout, func() {
		if !c.answered && c.out != nil && !c.out.down {
			c.out.hangupLocal("NO_ANSWER")
		}
	})
	return true
}

// sessionRequest is switch_core_session_request's admission: one token of
// sessions-per-second (FreeSWITCH refuses when the count reaches 0, so it
// admits sps-1 per second) and room under max-sessions for one more leg
// besides pending legs not created yet.
func (s *Sim) sessionRequest(pending int) bool {
	sec := int64(s.now().Sub(s.start) / time.Second)
	if sec != s.spsSecond {
		s.spsLast = s.spsTotal - s.sps
		if sec != s.spsSecond+1 {
			s.spsLast = 0
		}
		if s.spsLast > s.spsPeak {
			s.spsPeak = s.spsLast
		}
		if s.spsLast > s.spsPeak5 {
			s.spsPeak5 = s.spsLast
		}
		s.sps = s.spsTotal
		s.spsSecond = sec
	}
	s.sps--
	if s.sps <= 0 {
		return false
	}
	return len(s.legs)+pending+1 <= s.maxSessions
}

func (s *Sim) randTag(n int) string {
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alnum[s.rng.IntN(len(alnum))]
	}
	return string(b)
}

// newLeg creates a channel and registers it.
func (s *Sim) newLeg(uuid string, out bool, name string) *leg {
	if uuid == "" {
		uuid = s.newUUID()
	}
	s.sessionsSince++
	l := &leg{s: s, uuid: uuid, out: out, name: name, sid: s.sessionsSince}
	dir := "inbound"
	if out {
		dir = "outbound"
	}
	l.prof.dir, l.prof.uid, l.prof.chanName = dir, uuid, name
	l.prof.created = time.Now().UnixMicro()
	b := make([]byte, 0, 160)
	b = appendHeader(b, "Channel-Name", name)
	b = appendHeader(b, "Unique-ID", uuid)
	b = appendHeader(b, "Call-Direction", dir)
	b = appendHeader(b, "Presence-Call-Direction", dir)
	l.idBlock = string(b)
	s.legs[uuid] = l
	if n := len(s.legs); n > s.sessPeak {
		s.sessPeak = n
		if n > s.sessPeak5 {
			s.sessPeak5 = n
		}
	}
	s.stats.legsCreated++
	return l
}

func (s *Sim) fireLeg(t evType, st *callSite, l *leg) {
	e := ev{typ: t, site: st, leg: l}
	s.fire(&e)
}

// setRunning is switch_channel_perform_set_running_state: the state and a
// CHANNEL_STATE event.
func (l *leg) setRunning(state int) {
	l.runState, l.stateNum = state, state
	l.s.fireLeg(evChannelState, siteState, l)
}

// setCallState is switch_channel_perform_set_callstate: a CHANNEL_CALLSTATE event.
func (l *leg) setCallState(cs int) {
	orig := l.callState
	l.callState = cs
	e := ev{typ: evChannelCallstate, site: siteCallstate, leg: l}
	e.addPre("Original-Channel-Call-State", callStateNames[orig])
	e.addPre("Channel-Call-State-Number", strconv.Itoa(cs))
	l.s.fire(&e)
}

// startSelfCall creates both legs of a sofia self-call: the outbound leg
// ringing and the inbound leg parked in RINGING, as the captures show.
func (s *Sim) startSelfCall(c *call) {
	var ouuid string
	for _, v := range c.vars {
		if v.name == "origination_uuid" {
			ouuid = v.value
		}
	}
	if ouuid != "" {
		if _, dup := s.legs[ouuid]; dup {
			c.finish("-ERR DESTINATION_OUT_OF_ORDER\n")
			return
		}
	}
	c.callID = s.newUUID()
	c.fromTag, c.toTag = s.randTag(13), s.randTag(13)
	c.branch, c.branch2 = "z9hG4bK"+s.randTag(13), "z9hG4bK"+s.randTag(13)
	c.cseq = 100000000 + s.rng.IntN(900000000)
	now := time.Now().Unix()
	c.osess, c.isess = now-20000-int64(s.rng.IntN(10000)), now-20000-int64(s.rng.IntN(10000))
	c.oport, c.iport = 16384+2*s.rng.IntN(8192), 16384+2*s.rng.IntN(8192)
	c.ossrc, c.issrc = s.rng.Uint32(), s.rng.Uint32()

	// the outbound leg
	o := s.newLeg(ouuid, true, "sofia/"+c.oprof.name+"/"+c.user+"@"+c.host)
	o.vars.lines = make([]string, 0, 160)
	c.out, o.call = o, c
	o.prof.cidName, o.prof.cidNum = c.cidName, c.cidNum
	o.prof.origCidName, o.prof.origNum = c.cidName, c.cidNum
	o.prof.calleeName, o.prof.calleeNum = "Outbound Call", c.user
	o.prof.ani, o.prof.dest = c.cidNum, c.user
	o.prof.source, o.prof.context = "src/switch_ivr_originate.c", "default"
	o.callUUID = o.uuid
	o.apply(c, outCreateVars)
	o.ext = []appCall{c.app}
	o.setRunning(csInit)
	o.stateNum = csRouting
	s.fireLeg(evChannelCreate, siteCreate, o)
	s.fireLeg(evChannelOriginate, siteOriginate, o)
	o.setRunning(csRouting)
	o.setRunning(csConsumeMedia)

	// the inbound leg, parked in the profile's context
	in := s.newLeg("", false, "sofia/"+c.iprof.name+"/"+c.cidNum+"@"+c.ip())
	in.vars.lines = make([]string, 0, 160)
	c.in, in.call = in, c
	o.peer, in.peer = in, o
	name := c.cidName
	if name == "" {
		name = c.cidNum
	}
	in.prof.username, in.prof.dialplan = c.cidNum, "XML"
	in.prof.cidName, in.prof.cidNum = name, c.cidNum
	in.prof.origCidName, in.prof.origNum = name, c.cidNum
	in.prof.networkAddr, in.prof.ani, in.prof.dest = c.ip(), c.cidNum, c.user
	in.prof.source, in.prof.context = "mod_sofia", c.iprof.context
	in.callUUID = in.uuid
	in.apply(c, inCreateVars)
	in.ext = []appCall{{name: "park"}}
	in.setRunning(csNew)
	in.setRunning(csInit)
	in.stateNum = csRouting
	s.fireLeg(evChannelCreate, siteCreate, in)
	in.runState = csRouting
	in.setCallState(ccsRinging)
	in.setRunning(csRouting)
	in.enterExecute()
	if s.autoAnswer {
		s.after(0, func() { in.answer() })
	}
}

// enterExecute moves a leg to CS_EXECUTE and runs its extension.
func (l *leg) enterExecute() {
	l.setRunning(csExecute)
	l.vars.touch(vnCallUUID.name, vnCallUUID.bit)
	l.pump()
}

// answer answers a leg (uuid_answer, the answer app). It reports false if
// the leg is down.
func (l *leg) answer() bool {
	if l.down {
		return false
	}
	if l.out || l.answered {
		return true
	}
	s := l.s
	c := l.call
	if c != nil && c.loopback && c.in == l {
		c.answerLoopback(l)
		return true
	}
	if !l.early {
		l.early = true
		l.setCallState(ccsEarly)
		if c != nil && !c.loopback {
			l.apply(c, inMediaVars)
		}
	}
	now := time.Now().UnixMicro()
	l.prof.answered = now
	if l.prof.progressMedia == 0 {
		l.prof.progressMedia = now
	}
	l.media, l.answered = true, true
	s.fireLeg(evChannelAnswer, siteAnswer, l)
	l.setCallState(ccsActive)
	if c == nil || c.in != l {
		return true
	}
	if !c.loopback {
		l.apply(c, inAnsweredVars)
	}
	s.stats.callsAnswered++
	if s.ansDelay > 0 {
		s.after(s.ansDelay, func() { c.outboundAnswered() })
	} else {
		c.outboundAnswered()
	}
	return true
}

// preAnswer gives an inbound self-call leg early media (183), as playback on
// an unanswered leg does.
func (l *leg) preAnswer() {
	if l.down || l.out || l.answered || l.early {
		return
	}
	c := l.call
	l.early = true
	l.media = true
	l.prof.progressMedia = time.Now().UnixMicro()
	l.setCallState(ccsEarly)
	if c != nil && !c.loopback {
		l.apply(c, inMediaVars)
	}
	l.s.fireLeg(evChannelProgressMedia, siteProgressM, l)
	if c != nil && c.in == l && c.out != nil && !c.out.down && !c.out.early {
		o := c.out
		o.early, o.media = true, true
		o.prof.progressMedia = l.prof.progressMedia
		o.setCallState(ccsEarly)
		l.s.fireLeg(evChannelProgressMedia, siteProgressM, o)
	}
}

// outboundAnswered is the outbound leg receiving the answer: CHANNEL_ANSWER,
// the originate's +OK, then its application.
func (c *call) outboundAnswered() {
	o := c.out
	if o == nil || o.down || o.answered {
		return
	}
	s := c.s
	c.answered = true
	if !c.loopback {
		o.apply(c, outAnswerVars)
	}
	o.prof.calleeName = c.user
	o.prof.networkAddr = c.ip()
	o.prof.answered = time.Now().UnixMicro()
	o.media, o.answered = true, true
	s.fireLeg(evChannelAnswer, siteAnswer, o)
	o.setCallState(ccsActive)
	c.finish("+OK " + o.uuid + "\n")
	if c.bridgeFrom != nil {
		c.bridgeFrom.bridgeAnswered(o)
		return
	}
	o.startApplication()
}

// startApplication runs the originate's application on the answered
// outbound leg (switch_ivr_originate's caller extension): the caller id is
// flipped and the leg enters CS_EXECUTE.
func (o *leg) startApplication() {
	o.apply(o.call, outExecuteVars)
	p := &o.prof
	p.cidName, p.cidNum, p.calleeName, p.calleeNum = p.calleeName, p.calleeNum, p.cidName, p.cidNum
	o.hitDialplan = true
	o.enterExecute()
}
