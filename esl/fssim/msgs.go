package fssim

import "strings"

// Where FreeSWITCH prepares the events of this file for delivery.
var (
	// switch_ivr_parse_next_event fires every message it ran as PRIVATE_COMMAND
	sitePrivate = site("switch_ivr.c", "switch_ivr_parse_next_event", 804)
	// sendevent (mod_event_socket.c parse_command)
	siteSendevent = site("mod_event_socket.c", "parse_command", 2283)
	// switch_ivr_broadcast's messages (SWITCH_EVENT_COMMAND): to the b-leg,
	// to the a-leg, and the hangup after it
	siteBroadcastB      = site("switch_ivr_async.c", "switch_ivr_broadcast", 5700)
	siteBroadcastA      = site("switch_ivr_async.c", "switch_ivr_broadcast", 5732)
	siteBroadcastHangup = site("switch_ivr_async.c", "switch_ivr_broadcast", 5755)
)

var (
	evCommand        = mustEvType("COMMAND")
	evPrivateCommand = mustEvType("PRIVATE_COMMAND")
)

// commandHeaders returns a command's event as mod_event_socket's read_packet
// builds it: a Command header (the first line; truncated at its end by the
// command's handler when it strips it, else the whole header block), then
// the client's headers in order.
func commandHeaders(cmd *command, stripped bool) []rawHdr {
	out := make([]rawHdr, 0, len(cmd.hdrs)+3)
	line := cmd.line
	if !stripped {
		var b strings.Builder
		b.WriteString(cmd.line)
		b.WriteByte('\n')
		for _, h := range cmd.hdrs {
			b.WriteString(h.name + ": " + h.value + "\n")
		}
		b.WriteByte('\n')
		line = b.String()
	}
	out = append(out, rawHdr{name: "Command", value: line})
	for _, h := range cmd.hdrs {
		out = append(out, rawHdr{name: h.name, value: h.value})
	}
	return out
}

// cmdSendmsg is `sendmsg <uuid>` (mod_event_socket.c parse_command): the
// message is queued to the channel (switch_core_session_queue_private_event)
// whatever its call-command, and the reply is +OK. The channel runs it when
// it parses events (see pump), then fires it as PRIVATE_COMMAND.
func (s *Sim) cmdSendmsg(c *conn, cmd *command, rest string) string {
	uuid := strings.TrimLeft(rest, " ")
	stripped := uuid != ""
	if uuid == "" {
		uuid = cmd.get("session-id")
	}
	l := s.leg(uuid)
	if l == nil {
		return "-ERR invalid session id [" + uuid + "]"
	}
	m := &appCall{msg: true, uuid: cmd.get("Event-UUID"), eventLock: isTrue(cmd.get("event-lock")), body: cmd.body}
	m.priv = append(commandHeaders(cmd, stripped), rawHdr{prep: sitePrivate, typ: evPrivateCommand})
	switch strings.ToLower(cmd.get("call-command")) {
	case "execute":
		m.name = cmd.get("execute-app-name")
		m.arg = cmd.get("execute-app-arg")
		if m.arg == "" && strings.EqualFold(cmd.get("content-type"), "text/plain") {
			m.arg = cmd.body
		}
		m.loops = 1
		if v := cmd.get("loops"); v != "" {
			m.loops = cAtoi(v)
		}
	case "hangup":
		m.hangupMsg = true
		m.arg = causeName(cmd.get("hangup-cause"))
		if st := l.runState; st != csExecute && st != csConsumeMedia && st != csExchangeMedia {
			// nothing parses the messages of a leg in another state
			l.afterHangup = func() { l.firePrivate(m) }
			l.hangupLocal(m.arg)
			return "+OK"
		}
	}
	l.queue = append(l.queue, m)
	l.pump()
	return "+OK"
}

// cAtoi is C's atoi: leading spaces, a sign, digits; anything else ends it.
func cAtoi(s string) int {
	s = strings.TrimLeft(s, " \t")
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	n := 0
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		n = n*10 + int(s[i]-'0')
		if n > 1<<31 {
			break
		}
	}
	if neg {
		return -n
	}
	return n
}

// firePrivate fires a message that has run as PRIVATE_COMMAND: its headers,
// FreeSWITCH's prep block(s), the channel's data, its body.
func (l *leg) firePrivate(m *appCall) {
	if m.priv == nil {
		return
	}
	e := ev{typ: evPrivateCommand, leg: l, raw: m.priv}
	if m.body != "" {
		e.body, e.hasBody = m.body, true
	}
	l.s.fire(&e)
}

// broadcastMsg is one message of switch_ivr_broadcast: an execute with
// event-lock (and, to a leg's own application, lead-frames), in a
// SWITCH_EVENT_COMMAND event prepared at st.
func broadcastMsg(st *callSite, app, arg string, lead, holdB bool) *appCall {
	m := &appCall{name: app, arg: arg, loops: 1, msg: true, eventLock: true}
	m.priv = []rawHdr{{prep: st, typ: evCommand}, {name: "call-command", value: "execute"},
		{name: "execute-app-name", value: app}, {name: "execute-app-arg", value: arg},
		{name: "event-lock", value: "true"}}
	if lead {
		m.priv = append(m.priv, rawHdr{name: "lead-frames", value: "5"})
	}
	if holdB {
		m.priv = append(m.priv, rawHdr{name: "hold-bleg", value: "true"})
	}
	m.priv = append(m.priv, rawHdr{prep: sitePrivate, typ: evPrivateCommand})
	return m
}

// cmdSendevent is `sendevent [NAME]` (mod_event_socket.c parse_command):
// the client's headers and body become an event of type NAME (CLONE if
// NAME is not an event name) with an Event-UUID; a CUSTOM event takes its
// subclass from Event-Subclass (moved after Event-UUID). An event whose
// Unique-ID names a channel goes to that channel (see sessionEvents);
// any other is prepared and fired to the listeners that want it.
func (s *Sim) cmdSendevent(c *conn, cmd *command, rest string) string {
	uuid := s.newUUID()
	e := &ev{typ: evClone}
	e.raw = append(commandHeaders(cmd, true), rawHdr{name: "Event-UUID", value: uuid})
	if name := strings.TrimLeft(rest, " \t"); name != "" {
		if t, ok := lookupEvType(name); ok {
			e.typ = t
		}
	}
	if sub := cmd.get("Event-Subclass"); e.typ == evCustom && sub != "" {
		e.subclass = sub
		out := e.raw[:0]
		for _, h := range e.raw {
			if !strings.EqualFold(h.name, "Event-Subclass") {
				out = append(out, h)
			}
		}
		e.raw = append(out, rawHdr{name: "Event-Subclass", value: sub})
	}
	if cmd.body != "" {
		e.body, e.hasBody = cmd.body, true
	}
	if l := s.leg(cmd.get("unique-id")); l != nil {
		// switch_core_session_queue_event: not prepared, not fired here
		e.leg = l
		l.sessEvents = append(l.sessEvents, e)
		l.sessionEvents()
		return "+OK " + uuid
	}
	e.raw = append(e.raw, rawHdr{prep: siteSendevent, typ: e.typ})
	s.fire(e)
	return "+OK " + uuid
}

// sessionEvents handles the events sendevent gave the channel, as its
// running application does: park (switch_ivr_park) fires them with the
// channel's data added (and no Event-Name: nobody prepares them); playback,
// whose input callback takes them, drops them; other applications leave
// them queued. The hangup drops them.
func (l *leg) sessionEvents() {
	if len(l.sessEvents) == 0 || l.down {
		return
	}
	top := l.top()
	if top == nil {
		return
	}
	switch top.a.name {
	case "park":
		evs := l.sessEvents
		l.sessEvents = nil
		for _, e := range evs {
			l.s.fire(e)
		}
	case "playback":
		clear(l.sessEvents)
		l.sessEvents = l.sessEvents[:0]
	}
}
