package fssim

import (
	"strconv"
	"strings"
)

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// logLevels are switch_log_level_t names, by level.
var logLevels = [...]string{"CONSOLE", "ALERT", "CRIT", "ERR", "WARNING", "NOTICE", "INFO", "DEBUG"}

func parseLogLevel(s string) (int, bool) {
	if s == "" {
		return 7, true
	}
	if s[0] >= '0' && s[0] <= '9' {
		n, err := strconv.Atoi(s)
		if err != nil || n > 7 {
			return 0, false
		}
		return n, true
	}
	if strings.EqualFold(s, "error") {
		return 3, true
	}
	for i, n := range logLevels {
		if strings.EqualFold(s, n) {
			return i, true
		}
	}
	return 0, false
}

// handle runs one command as mod_event_socket's parse_command does and
// reports whether the connection goes on. The reply is queued before any
// event the command caused.
func (s *Sim) handle(c *conn, cmd *command) bool {
	s.mu.Lock()
	s.stats.commands++
	if s.closed {
		s.mu.Unlock()
		return false
	}
	s.deferring = true
	goOn, wait := s.parseCommand(c, cmd)
	s.flushDeferred()
	s.mu.Unlock()
	if wait != nil {
		// a blocking api (originate) answers later; the connection reads
		// nothing more until then, as FreeSWITCH's listener thread
		select {
		case <-wait:
		case <-c.done:
		}
	}
	return goOn
}

// parseCommand is handle's body, with s.mu held. wait, if not nil, is closed
// when the api response has been queued.
func (s *Sim) parseCommand(c *conn, cmd *command) (goOn bool, wait chan struct{}) {
	line := cmd.line
	if hasPrefixFold(line, "exit") || strings.HasPrefix(line, "...") {
		c.reply("+OK bye")
		c.finish(goodbye)
		return false, nil
	}
	if !c.authed {
		switch {
		case hasPrefixFold(line, "auth "):
			if line[5:] == s.password {
				c.authed = true
				c.reply("+OK accepted")
				return true, nil
			}
			c.reply("-ERR invalid")
			c.finish(goodbye)
			return false, nil
		case hasPrefixFold(line, "userauth "):
			// user@domain:pass; the simulator has no directory, so the
			// password alone decides.
			arg := line[9:]
			user, rest, _ := strings.Cut(arg, "@")
			domain, pass, _ := strings.Cut(rest, ":")
			if u, p, ok := strings.Cut(user, ":"); ok {
				user, pass = u, p
			}
			if user == "" || domain == "" || pass != s.password {
				c.reply("-ERR invalid")
				c.finish(goodbye)
				return false, nil
			}
			c.authed = true
			c.queue([]byte("Content-Type: command/reply\nReply-Text: +OK accepted\nAllowed-Events: all\nAllowed-API: all\nAllowed-LOG: true\n\n"))
			return true, nil
		}
		c.reply("-ERR command not found")
		return true, nil
	}

	switch {
	case hasPrefixFold(line, "filter "):
		c.reply(s.cmdFilter(c, line[7:]))
	case hasPrefixFold(line, "myevents"):
		c.reply(s.cmdMyEvents(c, line))
	case hasPrefixFold(line, "sendmsg"):
		c.reply(s.cmdSendmsg(c, cmd, line[7:]))
	case hasPrefixFold(line, "sendevent"):
		c.reply(s.cmdSendevent(c, cmd, line[9:]))
	case hasPrefixFold(line, "api "):
		// api_exec runs in the connection's own thread (mod_event_socket.c
		// parse_command) and events are written only between two commands
		// (read_packet): the connection gets no event until the api has
		// answered. A blocking api (originate) holds them until then.
		api, arg, _ := strings.Cut(line[4:], " ")
		var done chan struct{}
		if s.runAPI(api, arg, c, func(reply string) {
			c.apiResponse(reply)
			if done != nil {
				c.holdEvents(false)
				close(done)
			}
		}) {
			done = make(chan struct{})
			c.holdEvents(true)
			return true, done
		}
	case hasPrefixFold(line, "bgapi "):
		api, arg, _ := strings.Cut(line[6:], " ")
		job := cmd.get("Job-UUID")
		if job == "" {
			job = s.newUUID()
		}
		c.queue([]byte("Content-Type: command/reply\nReply-Text: +OK Job-UUID: " + job + "\nJob-UUID: " + job + "\n\n"))
		s.runAPI(api, arg, nil, func(reply string) { s.fireBackgroundJob(job, api, arg, reply) })
	case hasPrefixFold(line, "log"):
		level := strings.TrimLeft(line[3:], " ")
		if i := strings.IndexByte(level, ' '); i >= 0 {
			level = level[:i]
		}
		if n, ok := parseLogLevel(level); ok {
			c.logOn = true
			c.reply("+OK log level " + level + " [" + strconv.Itoa(n) + "]")
		} else {
			c.reply("-ERR invalid log level")
		}
	case hasPrefixFold(line, "linger"), hasPrefixFold(line, "nolinger"):
		c.reply("-ERR not controlling a session")
	case hasPrefixFold(line, "nolog"):
		if c.logOn {
			c.logOn = false
			c.reply("+OK no longer logging")
		} else {
			c.reply("-ERR not loging")
		}
	case hasPrefixFold(line, "nixevent"):
		c.reply(s.cmdNixevent(c, line[8:]))
	case hasPrefixFold(line, "noevents"):
		if c.eventsOn {
			c.mask = [numEvTypes]bool{}
			c.custom = nil
			s.setListening(c, false)
			c.reply("+OK no longer listening for events")
		} else {
			c.reply("-ERR not listening for events")
		}
	case hasPrefixFold(line, "event"):
		c.reply(s.cmdEvent(c, line[5:]))
	case hasPrefixFold(line, "divert_events"):
		c.reply("-ERR not controlling a session.")
	default:
		c.reply("-ERR command not found")
	}
	return true, nil
}

// cmdEvent is `event [plain|json|xml] NAME...`.
func (s *Sim) cmdEvent(c *conn, rest string) string {
	words := strings.Fields(rest)
	keys := 0
	custom := false
	for i, w := range words {
		if i == 0 && (strings.EqualFold(w, "plain") || strings.EqualFold(w, "json") || strings.EqualFold(w, "xml")) {
			continue
		}
		if custom {
			if c.custom == nil {
				c.custom = make(map[string]bool)
			}
			c.custom[w] = true
			continue
		}
		t, ok := lookupEvType(w)
		if !ok {
			continue
		}
		keys++
		if t == evAll {
			for x := range c.mask {
				c.mask[x] = true
			}
		}
		c.mask[t] = true
		if t == evCustom {
			custom = true
		}
	}
	if keys == 0 {
		return "-ERR no keywords supplied"
	}
	s.setListening(c, true)
	return "+OK event listener enabled plain"
}

// cmdNixevent is `nixevent NAME...`.
func (s *Sim) cmdNixevent(c *conn, rest string) string {
	keys := 0
	custom := false
	for _, w := range strings.Fields(rest) {
		if custom {
			delete(c.custom, w)
			continue
		}
		t, ok := lookupEvType(w)
		if !ok {
			continue
		}
		keys++
		switch {
		case t == evCustom:
			custom = true
		case t == evAll:
			c.mask = [numEvTypes]bool{}
		default:
			if c.mask[evAll] {
				c.mask[evAll] = false
				for x := 0; x < int(evAll); x++ {
					c.mask[x] = true
				}
			}
			c.mask[t] = false
		}
	}
	if keys == 0 {
		return "-ERR no keywords supplied"
	}
	s.setListening(c, true)
	return "+OK events nixed"
}

// cmdFilter is `filter <header> <value>`, `filter delete <header> [<value>]`
// and `filter delete all`.
func (s *Sim) cmdFilter(c *conn, rest string) string {
	rest = strings.TrimLeft(rest, " ")
	name, val, hasVal := strings.Cut(rest, " ")
	if strings.EqualFold(name, "delete") && hasVal {
		name, val, hasVal = strings.Cut(val, " ")
		if strings.EqualFold(name, "all") {
			c.filters = nil
		} else {
			out := c.filters[:0]
			for _, f := range c.filters {
				if strings.EqualFold(f.header, name) && (!hasVal || f.value == val) {
					continue
				}
				out = append(out, f)
			}
			c.filters = out
		}
		return "+OK filter deleted. [" + name + "][" + val + "]"
	}
	if !hasVal {
		return "-ERR invalid syntax"
	}
	if strings.EqualFold(name, "add") {
		name, val, _ = strings.Cut(val, " ")
	}
	f := filter{header: name, value: val}
	if strings.HasPrefix(val, "/") {
		f.re = compileFilterRegex(val)
	}
	c.filters = append(c.filters, f)
	return "+OK filter added. [" + name + "]=[" + val + "]"
}

// cmdMyEvents is `myevents <uuid>`: the channel events of one uuid.
func (s *Sim) cmdMyEvents(c *conn, line string) string {
	if c.myUUID != "" {
		return "-ERR aready enabled."
	}
	uuid := strings.TrimSpace(strings.TrimPrefix(line[8:], " "))
	uuid, format, hasFmt := strings.Cut(uuid, " ")
	if _, ok := s.legs[uuid]; !ok && hasFmt && format != "" {
		return "-ERR invalid uuid"
	}
	c.myUUID = uuid
	for _, t := range []evType{evChannelAnswer, evChannelApplication, evChannelBridge, evChannelCreate,
		mustEvType("CHANNEL_DATA"), evChannelDestroy, evChannelExecute, evChannelExecuteComplete,
		evChannelHangup, evChannelHangupComplete, evChannelOriginate, evChannelUUID, evChannelOutgoing,
		evChannelPark, evChannelProgress, evChannelProgressMedia, evChannelState, evChannelUnbridge,
		evChannelUnpark, mustEvType("DETECTED_SPEECH"), evDTMF, mustEvType("NOTALK"), mustEvType("TALK")} {
		c.mask[t] = true
	}
	s.setListening(c, true)
	return "+OK Events Enabled"
}
