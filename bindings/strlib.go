package bindings

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	lua "github.com/yuin/gopher-lua"

	"github.com/switchlua/switchlua/bindings/internal/luapm"
)

// maxBuiltString caps the strings that string.rep, string.gsub,
// string.format and table.concat build (64 MiB): one call cannot exhaust the node's memory.
// Larger results raise an error naming the function and the limit.
const maxBuiltString = 64 << 20

// luaSpecials are the characters that make a pattern more than plain text:
// Lua 5.1's lstrlib SPECIALS. string.find with none of them is a plain
// search, so ("a)b"):find(")") is 2 2 though the pattern ")" is malformed.
const luaSpecials = "^$*+?.([%-"

// installStringLimits replaces the library functions that can run for a
// long time or build huge strings inside Go, where the CPU budget's
// per-instruction check cannot see them: string.find, match, gmatch (gfind)
// and gsub run on luapm, which stops when the callback's budget context is
// cancelled; string.rep, string.gsub, string.format and table.concat refuse
// results over maxBuiltString. Method calls (s:find(...)) use the same string table. It is
// installed in the sandbox and with Options.Unsafe alike: it protects the
// node, not the host.
func installStringLimits(L *lua.LState) error {
	st, ok := L.GetGlobal("string").(*lua.LTable)
	if !ok {
		return fmt.Errorf("bindings: no string library")
	}
	pc := &patternCache{m: make(map[string]*luapm.Pattern), u: make(map[string]*luapm.Pattern)}
	st.RawSetString("find", L.NewFunction(pc.strFind))
	st.RawSetString("match", L.NewFunction(pc.strMatch))
	gmatch := L.NewFunction(pc.strGmatch)
	st.RawSetString("gmatch", gmatch)
	st.RawSetString("gfind", gmatch)
	st.RawSetString("gsub", L.NewFunction(pc.strGsub))
	st.RawSetString("rep", L.NewFunction(strRep))
	if f, ok := st.RawGetString("format").(*lua.LFunction); ok && f.GFunction != nil {
		st.RawSetString("format", L.NewFunction(strFormat(f.GFunction)))
	}
	tt, ok := L.GetGlobal("table").(*lua.LTable)
	if !ok {
		return fmt.Errorf("bindings: no table library")
	}
	orig, ok := tt.RawGetString("concat").(*lua.LFunction)
	if !ok || orig.GFunction == nil {
		return fmt.Errorf("bindings: no table.concat")
	}
	tt.RawSetString("concat", L.NewFunction(tableConcat(orig.GFunction)))
	return nil
}

// Pattern cache bounds: compiled patterns up to maxCachedPattern bytes are
// kept, at most patternCacheSize of them (the cache is emptied when full).
const (
	patternCacheSize = 64
	maxCachedPattern = 256
)

// patternCache keeps compiled patterns: a script matching the same few
// patterns on every event parses each once. A compiled pattern is read-only;
// the cache is used by one Lua state, on its Listener goroutine.
//
// m holds the patterns as find, match and gsub read them, u gmatch's
// patterns that begin with '^' (read unanchored).
type patternCache struct {
	m, u map[string]*luapm.Pattern
}

// compile returns pattern compiled, raising a malformed pattern's error for
// fn. For gmatch a leading '^' is a literal '^', as in Lua 5.1.
func (c *patternCache) compile(L *lua.LState, fn, pattern string) *luapm.Pattern {
	m, compile := c.m, luapm.Compile
	if fn == "gmatch" && strings.HasPrefix(pattern, "^") {
		m, compile = c.u, luapm.CompileUnanchored
	}
	if p, ok := m[pattern]; ok {
		return p
	}
	p, err := compile(pattern)
	if err != nil {
		raiseMatchError(L, fn, err)
	}
	if len(pattern) <= maxCachedPattern {
		if len(m) >= patternCacheSize {
			clear(m)
		}
		m[pattern] = p
	}
	return p
}

// doneOf is the done channel of the thread's CPU-budget context (nil
// without a budget).
func doneOf(L *lua.LState) <-chan struct{} {
	if ctx := L.Context(); ctx != nil {
		return ctx.Done()
	}
	return nil
}

// stringBytes views s as bytes without copying; luapm only reads them.
func stringBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// raiseMatchError raises err from a pattern function fn as a Lua error at
// the caller's script:line. A stop by the CPU budget ends with
// context.Canceled's text, which the Runtime turns into its budget error
// (errors.Is ErrCPUBudget), as it does for a stop between instructions.
func raiseMatchError(L *lua.LState, fn string, err error) {
	var stop *luapm.StopError
	switch {
	case errors.As(err, &stop):
		L.RaiseError("string.%s: pattern too complex, stopped after %v: %s", fn,
			stop.Elapsed.Round(time.Millisecond), context.Canceled.Error())
	case errors.Is(err, luapm.ErrTooComplex):
		L.RaiseError("string.%s: pattern too complex (nested deeper than %d)", fn, luapm.MaxDepth)
	default:
		L.RaiseError("%s", err.Error())
	}
}

// checkBudget raises the CPU-budget error at the caller if the budget ran
// out while fn was working in Go.
func checkBudget(L *lua.LState, fn string, start time.Time) {
	select {
	case <-doneOf(L):
		L.RaiseError("%s: stopped after %v: %s", fn, time.Since(start).Round(time.Millisecond), context.Canceled.Error())
	default:
	}
}

// luaStartIndex is gopher-lua's luaIndex2StringIndex for a start position:
// 1-based (negative from the end) to a 0-based offset, at least 0.
func luaStartIndex(str string, i int) int {
	if i != 0 {
		i--
	}
	if i < 0 {
		i = len(str) + i + 1
	}
	return max(i, 0)
}

// pushCaptures pushes the captures of md (the whole match if it has none
// and whole is set) and returns how many.
func pushCaptures(L *lua.LState, str string, md *luapm.MatchData, whole bool) int {
	if md.CaptureLength() == 2 {
		if !whole {
			return 0
		}
		L.Push(lua.LString(str[md.Capture(0):md.Capture(1)]))
		return 1
	}
	for i := 2; i < md.CaptureLength(); i += 2 {
		if md.IsPosCapture(i) {
			L.Push(lua.LNumber(md.Capture(i)))
		} else {
			L.Push(lua.LString(str[md.Capture(i):md.Capture(i+1)]))
		}
	}
	return md.CaptureLength()/2 - 1
}

// firstMatch is the first match of pattern in str from init, or nil.
func (c *patternCache) firstMatch(L *lua.LState, fn, str, pattern string, init int) *luapm.MatchData {
	pat := c.compile(L, fn, pattern)
	md, err := luapm.NewMatcher(pat, stringBytes(str), init, doneOf(L)).Next()
	if err != nil {
		raiseMatchError(L, fn, err)
	}
	return md
}

// strFind is string.find (gopher-lua's, on luapm). A pattern without
// special characters is searched as plain text, as Lua does.
func (c *patternCache) strFind(L *lua.LState) int {
	str := L.CheckString(1)
	pattern := L.CheckString(2)
	// Lua 5.1 clamps the start to the string's end: an empty pattern
	// (plain) is found there.
	init := min(luaStartIndex(str, L.OptInt(3, 1)), len(str))
	plain := L.GetTop() == 4 && lua.LVAsBool(L.Get(4))
	if plain || !strings.ContainsAny(pattern, luaSpecials) {
		pos := strings.Index(str[init:], pattern)
		if pos < 0 {
			L.Push(lua.LNil)
			return 1
		}
		L.Push(lua.LNumber(init + pos + 1))
		L.Push(lua.LNumber(init + pos + len(pattern)))
		return 2
	}
	md := c.firstMatch(L, "find", str, pattern, init)
	if md == nil {
		L.Push(lua.LNil)
		return 1
	}
	L.Push(lua.LNumber(md.Capture(0) + 1))
	L.Push(lua.LNumber(md.Capture(1)))
	return 2 + pushCaptures(L, str, md, false)
}

// strMatch is string.match (gopher-lua's, on luapm).
func (c *patternCache) strMatch(L *lua.LState) int {
	str := L.CheckString(1)
	pattern := L.CheckString(2)
	offset := min(luaStartIndex(str, L.OptInt(3, 1)), len(str))
	md := c.firstMatch(L, "match", str, pattern, offset)
	if md == nil {
		L.Push(lua.LNil)
		return 1
	}
	return pushCaptures(L, str, md, true)
}

// strGmatch is string.gmatch (gopher-lua's, on luapm): the iterator finds
// one match per call, each within the budget of the callback calling it. As
// in Lua 5.1 (and unlike gopher-lua), a leading '^' is not an anchor but a
// literal '^'.
func (c *patternCache) strGmatch(L *lua.LState) int {
	str := L.CheckString(1)
	pat := c.compile(L, "gmatch", L.CheckString(2))
	mt := luapm.NewMatcher(pat, stringBytes(str), 0, nil)
	L.Push(L.NewFunction(func(L *lua.LState) int {
		mt.SetDone(doneOf(L))
		md, err := mt.Next()
		if err != nil {
			raiseMatchError(L, "gmatch", err)
		}
		if md == nil {
			return 0
		}
		return pushCaptures(L, str, md, true)
	}))
	return 1
}

// strGsub is string.gsub (gopher-lua's, on luapm). It builds the result in
// one allocation (gopher-lua copies the whole string once per replacement)
// and refuses a result over maxBuiltString before building it. As in Lua
// 5.1, a limit (the 4th argument) of 0 or less replaces nothing.
func (c *patternCache) strGsub(L *lua.LState) int {
	str := L.CheckString(1)
	pattern := L.CheckString(2)
	L.CheckTypes(3, lua.LTString, lua.LTNumber, lua.LTTable, lua.LTFunction)
	repl := L.CheckAny(3)
	if n, ok := repl.(lua.LNumber); ok { // Lua 5.1: a number is its string
		repl = lua.LString(n.String())
	}
	limit := -1
	if L.Get(4) != lua.LNil {
		if limit = L.CheckInt(4); limit <= 0 {
			L.SetTop(1)
			L.Push(lua.LNumber(0))
			return 2
		}
	}
	mds, err := luapm.NewMatcher(c.compile(L, "gsub", pattern), stringBytes(str), 0, doneOf(L)).All(limit)
	if err != nil {
		raiseMatchError(L, "gsub", err)
	}
	if len(mds) == 0 {
		L.SetTop(1)
		L.Push(lua.LNumber(0))
		return 2
	}
	// The replacements first, then the result's length is known: refuse it
	// before building anything, or build it in one allocation.
	type piece struct {
		start, end int
		rep        string
	}
	pieces := make([]piece, 0, len(mds))
	size := len(str)
	for _, md := range mds {
		var rep string
		switch lv := repl.(type) {
		case lua.LString:
			rep = gsubString(L, str, string(lv), md)
		case *lua.LTable:
			idx := 0
			if md.CaptureLength() > 2 {
				idx = 2
			}
			var v lua.LValue
			if md.IsPosCapture(idx) {
				v = L.GetTable(lv, lua.LNumber(md.Capture(idx)))
			} else {
				v = L.GetField(lv, str[md.Capture(idx):md.Capture(idx+1)])
			}
			if lua.LVIsFalse(v) {
				continue
			}
			rep = lua.LVAsString(v)
		case *lua.LFunction:
			L.Push(lv)
			n := pushCaptures(L, str, md, true)
			L.Call(n, 1)
			v := L.Get(-1)
			L.Pop(1)
			if lua.LVIsFalse(v) {
				continue
			}
			rep = lua.LVAsString(v)
		}
		start, end := md.Capture(0), md.Capture(1)
		size += len(rep) - (end - start)
		if size > max(maxBuiltString, len(str)) { // a longer subject (made with ..) may shrink
			L.RaiseError("string.gsub: result would be over the %d MiB limit", maxBuiltString>>20)
		}
		pieces = append(pieces, piece{start, end, rep})
	}
	var b strings.Builder
	b.Grow(size)
	last := 0
	for _, p := range pieces {
		b.WriteString(str[last:p.start])
		b.WriteString(p.rep)
		last = p.end
	}
	b.WriteString(str[last:])
	L.Push(lua.LString(b.String()))
	L.Push(lua.LNumber(len(mds)))
	return 2
}

// gsubString expands a string replacement as Lua 5.1's add_s does: %0 is
// the whole match, %1-%9 the captures (%1 the whole match if there are
// none), and % before any other character is that character (%% is %). A
// '%' ending the replacement is a NUL byte, the C string's terminator
// add_s reads.
func gsubString(L *lua.LState, str, repl string, md *luapm.MatchData) string {
	if strings.IndexByte(repl, '%') < 0 {
		return repl
	}
	var b strings.Builder
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		i++
		if i == len(repl) {
			b.WriteByte(0)
			break
		}
		d := repl[i]
		switch {
		case d >= '0' && d <= '9':
			idx := 2 * int(d-'0')
			if idx > 2 && idx >= md.CaptureLength() {
				L.RaiseError("invalid capture index")
			}
			if idx == 2 && md.CaptureLength() == 2 {
				idx = 0
			}
			if md.IsPosCapture(idx) {
				fmt.Fprint(&b, md.Capture(idx))
			} else {
				b.WriteString(str[md.Capture(idx):md.Capture(idx+1)])
			}
		default:
			b.WriteByte(d)
		}
	}
	return b.String()
}

// strRep is string.rep, refusing a result over maxBuiltString; the time it
// takes counts against the CPU budget, checked when it returns.
func strRep(L *lua.LState) int {
	str := L.CheckString(1)
	n := L.CheckInt(2)
	if n <= 0 || len(str) == 0 {
		L.Push(lua.LString(""))
		return 1
	}
	if n > maxBuiltString/len(str) {
		L.RaiseError("string.rep: result would be over the %d MiB limit (%d copies of %d bytes)",
			maxBuiltString>>20, n, len(str))
	}
	start := time.Now()
	s := strings.Repeat(str, n)
	checkBudget(L, "string.rep", start)
	L.Push(lua.LString(s))
	return 1
}

// tableConcat wraps gopher-lua's table.concat: it first adds up the result's
// length (numbers counted at their longest) and refuses one over
// maxBuiltString.
func tableConcat(orig lua.LGFunction) lua.LGFunction {
	return func(L *lua.LState) int {
		t := L.CheckTable(1)
		sep := L.OptString(2, "")
		n := t.Len()
		i := max(min(L.OptInt(3, 1), n), 1)
		j := min(L.OptInt(4, n), n)
		total := 0
		for k := i; k <= j; k++ {
			switch v := t.RawGetInt(k).(type) {
			case lua.LString:
				total += len(v)
			case lua.LNumber:
				total += 24
			}
			total += len(sep)
			if total > maxBuiltString {
				L.RaiseError("table.concat: result would be over the %d MiB limit", maxBuiltString>>20)
			}
		}
		start := time.Now()
		ret := orig(L)
		checkBudget(L, "table.concat", start)
		return ret
	}
}

// strFormat wraps gopher-lua's string.format (Go's fmt.Sprintf on the
// arguments as Lua values): it first bounds the result's length (see
// formatBound) and refuses one over maxBuiltString.
func strFormat(orig lua.LGFunction) lua.LGFunction {
	return func(L *lua.LState) int {
		f := L.CheckString(1)
		if formatBound(L, f) > maxBuiltString {
			L.RaiseError("string.format: result could be over the %d MiB limit", maxBuiltString>>20)
		}
		return orig(L)
	}
}

// formatSpecBound covers what a verb writes besides its argument: the
// error marks of fmt (%!d(MISSING), %!(BADWIDTH), %!c(string=...), ...).
const formatSpecBound = 64

// formatBound is an upper bound of the length of string.format(f, ...). It
// walks f as fmt.Sprintf does (flags, [n] indexes, '*', width, precision,
// verb), with the arguments gopher-lua passes (as many as f has '%' not in
// "%%"), and adds up per verb: its width and precision in full, and the
// longest text the verb makes of the argument it consumes (a string's
// length times the verb's multiplier, a number's longest form). Arguments
// no verb consumes count only if fmt prints them as %!(EXTRA ...). A
// table, function, userdata or thread under a verb fmt would dump as a Go
// structure (all but s, q, x, X and v) raises Lua 5.1's error for it.
func formatBound(L *lua.LState, f string) int {
	nargs := min(L.GetTop()-1, strings.Count(f, "%")-strings.Count(f, "%%"))
	arg := func(i int) lua.LValue { return L.Get(i + 2) }
	// number is fmt's parsenum: the digits at f[i:], or none and the
	// end of f for a number over 10^6 (the rest of f is not read).
	number := func(i int) (n int, present bool, next int) {
		for ; i < len(f) && '0' <= f[i] && f[i] <= '9'; i++ {
			if n > 1e6 {
				return 0, false, len(f)
			}
			n = n*10 + int(f[i]-'0')
			present = true
		}
		return n, present, i
	}
	// index is fmt's argNumber: a [n] at f[i:] sets argNum if n is in
	// range, else marks the verb as a bad index (good = false).
	reordered, good := false, true
	index := func(argNum, i int) (int, int, bool) {
		if i >= len(f) || f[i] != '[' {
			return argNum, i, false
		}
		reordered = true
		if len(f)-i < 3 {
			good = false
			return argNum, i + 1, false
		}
		for j := i + 1; j < len(f); j++ {
			if f[j] == ']' {
				n, ok, k := number(i + 1)
				if !ok || k != j {
					good = false
					return argNum, j + 1, false
				}
				if n >= 1 && n <= nargs {
					return n - 1, j + 1, true
				}
				good = false
				return argNum, j + 1, true
			}
		}
		good = false
		return argNum, i + 1, false
	}
	total := len(f)
	argNum := 0
	for i := 0; i < len(f); {
		if f[i] != '%' {
			i++
			continue
		}
		i++
		total += formatSpecBound
		sharp := false
	flags:
		for ; i < len(f); i++ {
			switch f[i] {
			case '#':
				sharp = true
			case '0', '+', '-', ' ':
			default:
				break flags
			}
		}
		good = true
		var after bool
		argNum, i, after = index(argNum, i)
		if i < len(f) && f[i] == '*' {
			i++
			if argNum < nargs {
				argNum++ // a Lua number is a float64: fmt's BADWIDTH
			}
			after = false
		} else {
			w, ok, next := number(i)
			if after && ok {
				good = false
			}
			total += w
			i = next
		}
		if i+1 < len(f) && f[i] == '.' {
			if after {
				good = false
			}
			argNum, i, after = index(argNum, i+1)
			if i < len(f) && f[i] == '*' {
				i++
				if argNum < nargs {
					argNum++
				}
				after = false
			} else {
				var p int
				p, _, i = number(i)
				total += p
			}
		}
		if !after {
			argNum, i, _ = index(argNum, i)
		}
		if i >= len(f) {
			break
		}
		verb, size := utf8.DecodeRuneInString(f[i:])
		i += size
		if verb == '%' || !good || argNum >= nargs {
			continue
		}
		total += formatArgBound(L, argNum+2, arg(argNum), verb, sharp)
		argNum++
	}
	if !reordered {
		for ; argNum < nargs; argNum++ {
			total += formatSpecBound + formatArgBound(L, argNum+2, arg(argNum), 'v', false)
		}
	}
	return total
}

// formatArgBound bounds what fmt writes for argument v (at stack index n)
// under verb, besides the width and precision.
func formatArgBound(L *lua.LState, n int, v lua.LValue, verb rune, sharp bool) int {
	switch v := v.(type) {
	case lua.LString:
		switch verb {
		case 'q':
			return 4*len(v) + 2 // a byte is at most \xXX in Go's %q and %+q
		case 'v':
			if sharp { // %#v is %q
				return 4*len(v) + 2
			}
		case 'x', 'X':
			return 5*len(v) + 2 // "% #x": 0xXX and a space per byte
		}
		return len(v)
	case lua.LNumber:
		// %f of 1e308 is 316 bytes; %b of an int64 65; %q of its text
		// (at most 24 bytes) 98.
		return 400
	case lua.LBool, *lua.LNilType:
		return 32
	}
	switch verb {
	case 's', 'q', 'x', 'X': // the value's String(): "table: 0x..."
		return 5 * len(v.String())
	case 'v':
		if !sharp {
			return len(v.String())
		}
	}
	L.ArgError(n, fmt.Sprintf("number expected, got %s", v.Type()))
	return 0
}
