// Package modelstest has test doubles for models: a Sender that records
// commands and answers scripted replies, a compact Event, and a reader for
// the FreeSWITCH captures in testdata/transcripts. Other packages' tests may
// use it while (or instead of) talking to a real connection.
package modelstest

import (
	"errors"
	"strings"
	"sync"
)

// Sender is a fake models.Sender. It records every command and answers each
// with the first rule whose prefix matches, else "+OK". A reply starting with
// "-ERR" or "-USAGE" is delivered as an error with that text (as esl does).
// With Hold set, replies wait until Flush. Safe for concurrent use.
type Sender struct {
	// Hold keeps done callbacks pending until Flush.
	Hold bool

	mu      sync.Mutex
	sent    []string
	rules   []rule
	pending []pending
}

type rule struct {
	prefix, reply string
	err           error
}

type pending struct {
	reply string
	err   error
	done  func(string, error)
}

// On scripts the reply for commands that start with prefix (e.g.
// "api uuid_getvar "). A reply starting with "-ERR" becomes an error. Rules
// are tried in the order they were added.
func (f *Sender) On(prefix, reply string) *Sender {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = append(f.rules, rule{prefix: prefix, reply: reply})
	return f
}

// OnErr scripts an error (not a FreeSWITCH reply, e.g. a lost connection)
// for commands that start with prefix.
func (f *Sender) OnErr(prefix string, err error) *Sender {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = append(f.rules, rule{prefix: prefix, err: err})
	return f
}

// SendAsync records cmd and answers it (now, or at Flush when Hold is set).
func (f *Sender) SendAsync(cmd string, done func(reply string, err error)) {
	f.mu.Lock()
	f.sent = append(f.sent, cmd)
	reply, err := "+OK", error(nil)
	for _, r := range f.rules {
		if strings.HasPrefix(cmd, r.prefix) {
			reply, err = r.reply, r.err
			break
		}
	}
	if err == nil && (strings.HasPrefix(reply, "-ERR") || strings.HasPrefix(reply, "-USAGE")) {
		reply, err = "", errors.New(reply)
	}
	if f.Hold {
		f.pending = append(f.pending, pending{reply, err, done})
		f.mu.Unlock()
		return
	}
	f.mu.Unlock()
	done(reply, err)
}

// Flush answers the held commands in the order they were sent and returns
// how many it answered.
func (f *Sender) Flush() int {
	f.mu.Lock()
	p := f.pending
	f.pending = nil
	f.mu.Unlock()
	for _, x := range p {
		x.done(x.reply, x.err)
	}
	return len(p)
}

// Sent returns a copy of the commands sent so far.
func (f *Sender) Sent() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.sent...)
}

// Last returns the last command sent, "" if none.
func (f *Sender) Last() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.sent) == 0 {
		return ""
	}
	return f.sent[len(f.sent)-1]
}

// Reset forgets the commands sent (rules and held replies stay).
func (f *Sender) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = nil
}
