package esl

import (
	"strings"

	"github.com/percipia/eslgo/command"
)

// A bgapi job completes with its BACKGROUND_JOB event, and FreeSWITCH only
// sends that event to a connection subscribed to it (and, when the
// connection has filters, passing one). So the first bgapi on a connection
// subscribes it to BACKGROUND_JOB if its subscriptions do not cover it yet,
// and, while the caller has filters, keeps a filter Event-Name
// BACKGROUND_JOB that lets them through (it goes right behind the caller's
// first filter, and away with the last). Both are remembered like the caller's own
// subscriptions and filters: re-applied after a reconnect, and re-made by
// the next bgapi after NoEvents or Unsubscribe took them away. At a bgapi
// the commands are queued ahead of it, in the same write, so the job's
// event cannot slip past them.

const jobEventName = "BACKGROUND_JOB"

// ensureJobEventsLocked queues what the connection needs to receive
// BACKGROUND_JOB events, ahead of a bgapi. Called with c.mu held and s up.
func (c *Conn) ensureJobEventsLocked(s *session) {
	c.jobsUsed = true
	if !c.subs.covers(jobEventName) {
		c.subs.add([]string{jobEventName})
		c.queueLocked(s, command.Event{Format: "plain", Listen: []string{jobEventName}}.BuildMessage())
	}
	c.syncJobFilterLocked(s)
}

// syncJobFilterLocked adds the filter that lets BACKGROUND_JOB through when
// jobs were used and the caller has filters, and removes it when the
// caller's filters are gone (alone, it would let nothing else through).
// Called with c.mu held; s nil means down (the handshake applies it).
func (c *Conn) syncJobFilterLocked(s *session) {
	need := c.jobsUsed && len(c.filters) > 0
	if need == c.jobFilter {
		return
	}
	c.jobFilter = need
	if s != nil {
		c.queueLocked(s, command.Filter{Delete: !need, EventHeader: "Event-Name", FilterValue: jobEventName}.BuildMessage())
	}
}

// isJobFilterDelete reports whether `filter delete header value` removes
// the BACKGROUND_JOB filter on the server.
func isJobFilterDelete(header, value string) bool {
	return strings.EqualFold(header, "Event-Name") && (value == "" || strings.EqualFold(strings.TrimSpace(value), jobEventName))
}

// queueLocked queues a command of the connection's own; a refusal is
// logged. Called with c.mu held; the caller signals the writer.
func (c *Conn) queueLocked(s *session, cmd string) {
	c.fifo.push(&pending{done: func(reply string, err error) {
		if err != nil && !c.closing.Load() {
			c.log.Warn("esl: a command for bgapi results failed", "addr", c.addr, "command", cmd, "err", err)
		}
	}})
	s.wbuf = appendCommand(s.wbuf, cmd)
}

// covers reports whether the subscription includes event name (or ALL).
func (s *subscriptions) covers(name string) bool {
	for _, n := range s.names {
		if strings.EqualFold(n, name) || strings.EqualFold(n, "ALL") {
			return true
		}
	}
	return false
}

// syncJobFilter is syncJobFilterLocked for the methods that change filters.
func (c *Conn) syncJobFilter() {
	c.mu.Lock()
	var s *session
	if c.state == stUp && !c.closing.Load() {
		s = c.sess
	}
	c.syncJobFilterLocked(s)
	c.mu.Unlock()
	if s != nil {
		s.signal()
	}
}
