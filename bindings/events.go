package bindings

import (
	"fmt"
	"sort"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// Event names given to on(name, fn) and sess:wait(name) are checked against
// FreeSWITCH's event types (eslEvents): a misspelled name would otherwise be
// sent to FreeSWITCH in the subscription, which refuses the whole `event`
// command with a "-ERR no keywords supplied" that names nothing.

// validEventKey reports whether key (a dispatch key, see eventName) names
// something FreeSWITCH can send: one of its event types, CUSTOM (every
// custom event), or a CUSTOM subclass "module::name" (free-form, but one
// word: the subscription is a space-separated list).
func validEventKey(key string) bool {
	if eslEvents[key] {
		return true
	}
	return strings.Contains(key, "::") && !strings.ContainsAny(key, " \t\r\n")
}

// unknownEventError describes an event name FreeSWITCH does not have.
type unknownEventError struct {
	name    string // as normalised by eventName
	suggest string // nearest known name, "" if none is close
}

func (e *unknownEventError) Error() string {
	switch {
	case e.name == "":
		return "empty event name"
	case e.name == "ALL":
		return "unknown event ALL (a subscription keyword, not an event: name the events you handle)"
	case e.suggest != "":
		return fmt.Sprintf("unknown event %s (did you mean %s?)", e.name, e.suggest)
	}
	return "unknown event " + e.name + " (not a FreeSWITCH event type; CUSTOM events are named \"module::name\")"
}

// checkEventKey returns nil for a valid key, else an *unknownEventError.
func checkEventKey(key string) error {
	if validEventKey(key) {
		return nil
	}
	return &unknownEventError{name: key, suggest: nearestEvent(key)}
}

// sortedEvents is eslEvents, sorted, for deterministic suggestions.
var sortedEvents = func() []string {
	out := make([]string, 0, len(eslEvents))
	for n := range eslEvents {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}()

// nearestEvent returns the FreeSWITCH event name closest to name, or "" if
// none is close enough to be a likely typo.
func nearestEvent(name string) string {
	if name == "" || strings.Contains(name, "::") {
		return ""
	}
	best, bestD := "", 1<<30
	for _, n := range sortedEvents {
		d := editDistance(name, n)
		if short, ok := strings.CutPrefix(n, "CHANNEL_"); ok {
			// "HANGUP" for CHANNEL_HANGUP: the prefix is easily forgotten
			d = min(d, editDistance(name, short)+1)
		}
		if d < bestD {
			best, bestD = n, d
		}
	}
	if bestD > max(2, len(name)/3) {
		return ""
	}
	return best
}

// eventLiteral is a constant event name a script gives to on() or to a
// :wait() method call.
type eventLiteral struct {
	call string // "on" or "wait"
	name string // the constant as written
	line int
}

// eventLiterals finds, in p and its nested functions, the string constants
// passed as the first argument of a call to the global `on` or of a method
// call named `wait` (sess:wait("DTMF"), sess:wait({"DTMF", "CHANNEL_HANGUP"})).
// It follows the registers of straight-line code only: a name built at run
// time ("CHANNEL_" .. x) is not a literal and is checked when it is used.
func eventLiterals(p *lua.FunctionProto) []eventLiteral {
	var out []eventLiteral
	var walk func(p *lua.FunctionProto)
	walk = func(p *lua.FunctionProto) {
		out = append(out, protoLiterals(p)...)
		for _, sub := range p.FunctionPrototypes {
			walk(sub)
		}
	}
	if p != nil {
		walk(p)
	}
	return out
}

// regVal is what the literal scan knows a register holds.
type regVal struct {
	kind int8 // regUnknown, regOn, regWait, regStr, regTable
	str  string
	line int
	strs []eventLiteral // regTable: constant strings stored by SETLIST
}

const (
	regUnknown int8 = iota
	regOn           // the global `on`
	regWait         // a method named wait (SELF)
	regStr          // a string constant
	regTable        // a table built from constants
)

// rkBit marks a constant operand (RK) in gopher-lua's ABC instructions.
const rkBit = 1 << 8

func protoLiterals(p *lua.FunctionProto) []eventLiteral {
	var out []eventLiteral
	regs := make(map[int]regVal)
	line := func(pc int) int {
		if pc < len(p.DbgSourcePositions) {
			return p.DbgSourcePositions[pc]
		}
		return 0
	}
	kstr := func(i int) (string, bool) {
		if i < 0 || i >= len(p.Constants) {
			return "", false
		}
		s, ok := p.Constants[i].(lua.LString)
		return string(s), ok
	}
	clearFrom := func(a int) {
		for r := range regs {
			if r >= a {
				delete(regs, r)
			}
		}
	}
	for pc, inst := range p.Code {
		op := int(inst >> 26)
		a := int(inst>>18) & 0xff
		b := int(inst & 0x1ff)
		c := int(inst>>9) & 0x1ff
		bx := int(inst & 0x3ffff)
		switch op {
		case lua.OP_GETGLOBAL:
			if s, ok := kstr(bx); ok && s == "on" {
				regs[a] = regVal{kind: regOn}
			} else {
				delete(regs, a)
			}
		case lua.OP_SELF:
			delete(regs, a+1)
			if s, ok := kstr(c &^ rkBit); ok && c&rkBit != 0 && s == "wait" {
				regs[a] = regVal{kind: regWait}
			} else {
				delete(regs, a)
			}
		case lua.OP_LOADK:
			if s, ok := kstr(bx); ok {
				regs[a] = regVal{kind: regStr, str: s, line: line(pc)}
			} else {
				delete(regs, a)
			}
		case lua.OP_MOVE:
			if v, ok := regs[b]; ok {
				regs[a] = v
			} else {
				delete(regs, a)
			}
		case lua.OP_NEWTABLE:
			regs[a] = regVal{kind: regTable, line: line(pc)}
		case lua.OP_SETLIST:
			t, ok := regs[a]
			if ok && t.kind == regTable {
				for i := 1; i <= b; i++ {
					if v, ok := regs[a+i]; ok && v.kind == regStr {
						t.strs = append(t.strs, eventLiteral{name: v.str, line: v.line})
					}
				}
				regs[a] = t
			}
		case lua.OP_CALL, lua.OP_TAILCALL:
			arg := -1
			call := ""
			switch regs[a].kind {
			case regOn:
				arg, call = a+1, "on"
			case regWait:
				arg, call = a+2, "wait"
			}
			if arg >= 0 && (b == 0 || arg < a+b) {
				switch v := regs[arg]; v.kind {
				case regStr:
					out = append(out, eventLiteral{call: call, name: v.str, line: v.line})
				case regTable:
					for _, x := range v.strs {
						x.call = call
						out = append(out, x)
					}
				}
			}
			clearFrom(a)
		case lua.OP_VARARG, lua.OP_LOADNIL, lua.OP_TFORLOOP:
			clearFrom(a)
		case lua.OP_SETGLOBAL, lua.OP_SETUPVAL, lua.OP_SETTABLE, lua.OP_SETTABLEKS,
			lua.OP_JMP, lua.OP_EQ, lua.OP_LT, lua.OP_LE, lua.OP_RETURN, lua.OP_CLOSE, lua.OP_NOP:
			// no register written
		default:
			delete(regs, a)
		}
	}
	return out
}

// badEventLiterals returns the literals of s that name no FreeSWITCH event,
// as Lint findings. strict is the load-time rule: every on() name, but a
// :wait() name only when written in capitals as event names are (a method
// called wait of some other object, q:wait("ready"), is not flagged; its
// name is checked at run time if it is a session's).
func badEventLiterals(s Script, strict bool) []Lint {
	var out []Lint
	for _, x := range eventLiterals(s.Proto) {
		key := eventName(x.name)
		if validEventKey(key) {
			continue
		}
		if strict && x.call == "wait" && !looksLikeEventName(x.name) {
			continue
		}
		out = append(out, Lint{Path: s.Path, Line: x.line, Name: x.name, Suggest: nearestEvent(key), Call: x.call})
	}
	return out
}

// looksLikeEventName reports whether s is written like a FreeSWITCH event
// name: capitals, digits and underscores, starting with a capital.
func looksLikeEventName(s string) bool {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !(ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '_') {
			return false
		}
	}
	return true
}

// warnUnknownEvent logs, once per name and Runtime, that a sess:wait was
// given a name FreeSWITCH does not have.
func (r *Runtime) warnUnknownEvent(L *lua.LState, name string, err error) {
	if r.badNames == nil {
		r.badNames = make(map[string]bool)
	}
	if r.badNames[name] || len(r.badNames) >= 256 {
		return
	}
	r.badNames[name] = true
	appID, uuid := r.context()
	r.log.Warn("sess:wait: "+err.Error()+"; the wait returns nil, \"unknown event ...\"",
		"event", name, "app", appID, "uuid", uuid, "src", strings.TrimSuffix(L.Where(1), ":"))
}
