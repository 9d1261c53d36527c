package models

// NewCall makes an empty call with a tracking key.
func NewCall(key string) *Call {
	return &Call{UUID: key, Vars: make(map[string]any)}
}

// Append adds s to the call (once: appending a member again does nothing),
// makes it the call's Last (and First if the call had none) and sets s.Call.
func (c *Call) Append(s *Session) {
	if s == nil {
		return
	}
	s.Call = c
	for _, x := range c.Sessions {
		if x == s {
			return
		}
	}
	c.Sessions = append(c.Sessions, s)
	if c.first == nil {
		c.first = s
	}
	c.last = s
}

// Remove takes s out of Sessions (e.g. on CHANNEL_DESTROY). First and Last
// keep referring to it, as switchio's call.first/last do, so a CDR can read
// both legs after they are gone; s.Call is left as it is.
func (c *Call) Remove(s *Session) {
	for i, x := range c.Sessions {
		if x == s {
			copy(c.Sessions[i:], c.Sessions[i+1:])
			c.Sessions[len(c.Sessions)-1] = nil
			c.Sessions = c.Sessions[:len(c.Sessions)-1]
			return
		}
	}
}

// Len is the number of sessions still in the call.
func (c *Call) Len() int { return len(c.Sessions) }

// First is the session appended first (the initial leg), nil if none.
func (c *Call) First() *Session { return c.first }

// Last is the session appended last (the final leg); it is First while the
// call has one leg.
func (c *Call) Last() *Session { return c.last }

// Peer returns the other leg of a two-leg call: Last for First and First for
// Last; nil for a one-leg call or a session that is neither.
func (c *Call) Peer(s *Session) *Session {
	if s == nil || c.first == c.last {
		return nil
	}
	switch s {
	case c.first:
		return c.last
	case c.last:
		return c.first
	}
	return nil
}

// Hangup hangs up the call's first leg (as switchio); FreeSWITCH then clears
// the bridged peer. done gets ErrNoSession when the call has no first leg.
func (c *Call) Hangup(cause string, done Done) {
	if c.first == nil {
		if done != nil {
			done("", ErrNoSession)
		}
		return
	}
	c.first.Hangup(cause, done)
}
