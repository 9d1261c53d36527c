package bindings

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unsafe"

	lua "github.com/yuin/gopher-lua"

	"github.com/switchlua/switchlua/bindings/internal/luapm"
)

// maxBuiltString caps the strings that string.rep, string.gsub,
// string.format and table.concat build (64 MiB): one call cannot exhaust the node's memory.
// Larger results raise an error naming the function and the limit.
const maxBuiltString = 64 << 20

// luaSpecials are the characters that make a pattern more than plain text:
// Lua's lstrlib SPECIALS, and ')', which luapm (like pm) rejects outside a
// capture.
const luaSpecials = "^$*+?.([%-)"

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
	pc := &patternCache{m: make(map[string]*luapm.Pattern)}
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
type patternCache struct {
	m map[string]*luapm.Pattern
}

// compile returns pattern compiled, raising a malformed pattern's error for
// fn.
func (c *patternCache) compile(L *lua.LState, fn, pattern string) *luapm.Pattern {
	if p, ok := c.m[pattern]; ok {
		return p
	}
	p, err := luapm.Compile(pattern)
	if err != nil {
		raiseMatchError(L, fn, err)
	}
	if len(pattern) <= maxCachedPattern {
		if len(c.m) >= patternCacheSize {
			clear(c.m)
		}
		c.m[pattern] = p
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
	if len(pattern) == 0 {
		L.Push(lua.LNumber(1))
		L.Push(lua.LNumber(0))
		return 2
	}
	init := luaStartIndex(str, L.OptInt(3, 1))
	plain := L.GetTop() == 4 && lua.LVAsBool(L.Get(4))
	if plain || !strings.ContainsAny(pattern, luaSpecials) {
		if init > len(str) {
			L.Push(lua.LNil)
			return 1
		}
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
	offset := L.OptInt(3, 1)
	if offset < 0 {
		offset = len(str) + offset + 1
	}
	offset = max(offset-1, 0)
	md := c.firstMatch(L, "match", str, pattern, offset)
	if md == nil {
		L.Push(lua.LNil)
		return 1
	}
	return pushCaptures(L, str, md, true)
}

// strGmatch is string.gmatch (gopher-lua's, on luapm): the iterator finds
// one match per call, each within the budget of the callback calling it.
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
// and refuses a result over maxBuiltString before building it.
func (c *patternCache) strGsub(L *lua.LState) int {
	str := L.CheckString(1)
	pattern := L.CheckString(2)
	L.CheckTypes(3, lua.LTString, lua.LTTable, lua.LTFunction)
	repl := L.CheckAny(3)
	limit := L.OptInt(4, -1)
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

// gsubString expands a string replacement as gopher-lua does: %0-%9 are
// captures (%0 and, without captures, %1 the whole match), %% is %, and %
// before any other character is kept with it.
func gsubString(L *lua.LState, str, repl string, md *luapm.MatchData) string {
	if strings.IndexByte(repl, '%') < 0 {
		return repl
	}
	var b strings.Builder
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		if c != '%' || i == len(repl)-1 {
			b.WriteByte(c)
			continue
		}
		i++
		d := repl[i]
		switch {
		case d == '%':
			b.WriteByte('%')
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
			b.WriteByte('%')
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

// strFormat wraps gopher-lua's string.format (Go's fmt.Sprintf): it first
// bounds the result's length (widths and precisions, up to 10^6 each in Go,
// plus the arguments' lengths, each argument counted once per use with
// explicit indexes like %[1]s) and refuses one over maxBuiltString.
func strFormat(orig lua.LGFunction) lua.LGFunction {
	return func(L *lua.LState) int {
		f := L.CheckString(1)
		if formatBound(L, f) > maxBuiltString {
			L.RaiseError("string.format: result could be over the %d MiB limit", maxBuiltString>>20)
		}
		return orig(L)
	}
}

// formatBound is an upper bound of the length of string.format(f, ...).
func formatBound(L *lua.LState, f string) int {
	specs, fixed, quoted := 0, len(f), false
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		i++
		if i < len(f) && f[i] == '%' {
			continue
		}
		specs++
		for i < len(f) && !('a' <= f[i] && f[i] <= 'z' || 'A' <= f[i] && f[i] <= 'Z') {
			// flags, width, precision and [n]: count every number in full
			if '1' <= f[i] && f[i] <= '9' {
				n := 0
				for i < len(f) && '0' <= f[i] && f[i] <= '9' {
					n = min(n*10+int(f[i]-'0'), maxBuiltString)
					i++
				}
				fixed += n
				continue
			}
			i++
		}
		if i < len(f) && f[i] == 'q' {
			quoted = true
		}
		fixed += 32
	}
	total, longest := 0, 0
	for i := 2; i <= L.GetTop(); i++ {
		n := 32
		if s, ok := L.Get(i).(lua.LString); ok {
			n = len(s)
		}
		total += n
		longest = max(longest, n)
	}
	if strings.Contains(f, "[") {
		total = max(total, specs*longest)
	}
	if quoted {
		total *= 6 // %q writes a byte as at most \u00XX
	}
	return fixed + total
}
