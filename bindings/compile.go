package bindings

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strings"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// Compile parses and compiles Lua source; name is the chunk name errors
// carry (a path, or "@name"). Prototypes are immutable and may be shared by
// any number of Runtimes. (hotreload.Compile does the same with friendlier
// syntax errors; this one serves embedded scripts and tests.)
func Compile(name string, src []byte) (proto *lua.FunctionProto, err error) {
	defer func() {
		if p := recover(); p != nil {
			proto, err = nil, fmt.Errorf("%s: internal compiler error: %v", name, p)
		}
	}()
	chunk, err := parse.Parse(bytes.NewReader(src), name)
	if err != nil {
		return nil, err
	}
	return lua.Compile(chunk, name)
}

// CompileScript compiles src as the script at path.
func CompileScript(path string, src []byte) (Script, error) {
	p, err := Compile(path, src)
	if err != nil {
		return Script{}, err
	}
	return Script{Path: path, Proto: p}, nil
}

// CompileFile reads and compiles the script at path.
func CompileFile(path string) (Script, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return Script{}, err
	}
	return CompileScript(path, src)
}

// Lint is one finding of LintCallbacks: a global named like a callback that
// no event calls (Call == ""), or an event name given to on() or to a
// :wait() call that FreeSWITCH does not have (Call == "on" or "wait").
type Lint struct {
	Path    string
	Line    int
	Name    string // the global that was set, e.g. "on_answered", or the event name as written, e.g. "CHANNEL_ANSWR"
	Suggest string // the nearest known callback (e.g. "on_answer") or event (e.g. "CHANNEL_ANSWER"); "" if none is close
	Call    string // "" for a callback global; "on" or "wait" for an event name given to that call
}

// String formats the finding as "path:line: message".
func (l Lint) String() string {
	if l.Call != "" {
		msg := (&unknownEventError{name: eventName(l.Name), suggest: l.Suggest}).Error()
		if l.Name != eventName(l.Name) {
			msg = fmt.Sprintf("%s (written %q)", msg, l.Name)
		}
		what := "on()"
		if l.Call == "wait" {
			what = ":wait()"
		}
		return fmt.Sprintf("%s:%d: %s: %s", l.Path, l.Line, what, msg)
	}
	return fmt.Sprintf("%s:%d: %s is not a known callback (did you mean %s?)", l.Path, l.Line, l.Name, l.Suggest)
}

// LintCallbacks finds likely typos, reading the compiled code (it needs no
// Lua state and runs nothing):
//   - globals named on_* that no event calls (see KnownCallbacks), with the
//     nearest known callback;
//   - event names written as string constants in on("NAME", fn) or
//     x:wait("NAME" | {"NAME", ...}) that are not FreeSWITCH event types
//     (CUSTOM subclasses "module::name" are free-form), with the nearest
//     known event. Load refuses the same names (see Runtime.Load); names
//     built at run time are checked when used.
//
// The `check` command prints these.
func LintCallbacks(s Script) []Lint {
	var out []Lint
	var walk func(p *lua.FunctionProto)
	walk = func(p *lua.FunctionProto) {
		for pc, inst := range p.Code {
			if int(inst>>26) != lua.OP_SETGLOBAL {
				continue
			}
			bx := int(inst & 0x3ffff)
			if bx >= len(p.Constants) {
				continue
			}
			name, ok := p.Constants[bx].(lua.LString)
			if !ok || !strings.HasPrefix(string(name), "on_") {
				continue
			}
			if _, known := callbackEvents[string(name)]; known {
				continue
			}
			line := 0
			if pc < len(p.DbgSourcePositions) {
				line = p.DbgSourcePositions[pc]
			}
			out = append(out, Lint{Path: s.Path, Line: line, Name: string(name), Suggest: nearest(string(name))})
		}
		for _, sub := range p.FunctionPrototypes {
			walk(sub)
		}
	}
	if s.Proto != nil {
		walk(s.Proto)
		out = append(out, badEventLiterals(s, false)...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return out
}

// nearest returns the known callback closest to name (edit distance).
func nearest(name string) string {
	best, bestD := "", 1<<30
	for _, cb := range KnownCallbacks() {
		if d := editDistance(name, cb); d < bestD {
			best, bestD = cb, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// protoEvents collects the string constants of p (and nested functions)
// that name ESL events or CUSTOM subclasses: sess:wait("DTMF") or
// on("mod_bert::lost_sync", fn) literals.
func protoEvents(p *lua.FunctionProto, into map[string]bool) {
	if p == nil {
		return
	}
	for _, k := range p.Constants {
		s, ok := k.(lua.LString)
		if !ok {
			continue
		}
		str := string(s)
		switch {
		case eslEvents[str] && str != "CUSTOM":
			into[str] = true
		case strings.HasPrefix(str, "CUSTOM ") && strings.Contains(str, "::"):
			into[str] = true
		case isSubclass(str):
			into["CUSTOM "+str] = true
		}
	}
	for _, sub := range p.FunctionPrototypes {
		protoEvents(sub, into)
	}
}

// isSubclass reports whether s looks like a CUSTOM event subclass
// (module::name, no spaces).
func isSubclass(s string) bool {
	i := strings.Index(s, "::")
	if i <= 0 || i+2 >= len(s) {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r == ':' || r == '-' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
