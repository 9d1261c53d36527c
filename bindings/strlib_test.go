package bindings

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"
)

// serializer renders a call's results (or its error) as text, trailing nils
// dropped: gopher-lua's string.match returns nothing on no match, ours nil.
const serializer = `
function ser(ok, ...)
  if not ok then return "error: " .. tostring((...)) end
  local n, out = select("#", ...), {}
  local t = {...}
  while n > 0 and t[n] == nil do n = n - 1 end
  for i = 1, n do out[i] = type(t[i]) .. ":" .. tostring(t[i]) end
  return table.concat(out, " ")
end
function gm(s, p)
  local out = {}
  for a, b in s:gmatch(p) do out[#out+1] = tostring(a) .. "," .. tostring(b) end
  return table.concat(out, ";")
end`

// evalIn runs `return ser(pcall(function() return EXPR end))` in L.
func evalIn(t *testing.T, L *lua.LState, expr string) string {
	t.Helper()
	if err := L.DoString("return ser(pcall(function() return " + expr + " end))"); err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	v := L.Get(-1)
	L.Pop(1)
	return v.String()
}

// TestStringFunctionsUnchanged: the budgeted string functions give what
// gopher-lua's own give, compared in the same run.
func TestStringFunctionsUnchanged(t *testing.T) {
	orig := lua.NewState()
	defer orig.Close()
	e := newEnv(t, Options{})
	ours := e.rt.L
	for _, L := range []*lua.LState{orig, ours} {
		if err := L.DoString(serializer); err != nil {
			t.Fatal(err)
		}
	}
	cases := map[string][]string{
		"find": {
			`("hello world"):find("o w")`, `("hello world"):find("l+")`, `("hello world"):find("(l)(l)")`,
			`("hello world"):find("o", 6)`, `("hello world"):find("o", -3)`, `("hello"):find("^h")`,
			`("hello"):find("^e")`, `("hello"):find("o$")`, `("hello"):find("x")`, `("a.b"):find(".", 1, true)`,
			`("a.b"):find("%.")`, `(""):find("")`, `("abc"):find("b", 10)`,
			`("abc"):find("()b()")`, `("a+b"):find("+", 1, true)`, `("x"):find("[")`,
			`string.find("sip:1000@pbx", "^sip:(%d+)@(.+)$")`, `("aaa"):find("a-", 2)`, `("abc"):find("c", -1)`,
		},
		"match": {
			`("key=value"):match("^(%w+)=(%w*)$")`, `("v1.25x"):match("%d+")`, `("  trim  "):match("^%s*(.-)%s*$")`,
			`("hello"):match("()ll()")`, `("hello"):match("x")`, `("abc"):match("b", -2)`, `("abc"):match(".", 10)`,
			`("abc"):match("^(a)(b)(c)$")`, `("[x]"):match("%[(.)%]")`, `("f(a(b)c)"):match("%b()")`, `("abab"):match("(ab)%1")`,
		},
		"gmatch": {
			`gm("a=1, b=2", "(%w+)=(%w+)")`, `gm("one two  three", "%a+")`, `gm("abc", "")`, `gm("xyx", "()x")`,
			`gm("a,b,,c", "([^,]*)")`, `gm("1 22 333", "%d%d")`,
		},
		"gsub": {
			`("hello world"):gsub("o", "0")`, `("hello world"):gsub("(%w+)", "<%1>")`, `("hello world"):gsub("%w+", "%0 %0", 1)`,
			`("hello"):gsub("l", {l = "L"})`, `("hello"):gsub("(h)(e)", function(a, b) return b .. a end)`,
			`("hello"):gsub("x", "y")`, `("abc"):gsub("", "-")`, `("abc"):gsub("%w", "%%")`, `("abc"):gsub("b", "%2")`,
			`("$1.50"):gsub("%$", "USD")`, `("abc"):gsub("%w", function() return false end)`,
			`("a b"):gsub("()", "%1")`, `("x=1 y=2"):gsub("(%w)=(%w)", "%2=%1")`,
			`("abc"):gsub("%w", {a = 1, b = true})`, `("hello"):gsub("l+", string.upper)`, `("abc"):gsub("(", "")`,
		},
		"rep and concat": {
			`("ab"):rep(3)`, `("ab"):rep(0)`, `("ab"):rep(-1)`, `(""):rep(5)`, `table.concat({1, 2, "x"}, ",")`,
			`string.format("%5.2f|%-4s|%q|%d%%", 3.14159, "ab", "x\ny", 7)`, `string.format("%s", 1)`,
			`table.concat({}, ",")`, `table.concat({1, 2, 3}, "-", 2, 3)`, `table.concat({1, {}}, ",")`,
		},
	}
	for fn, exprs := range cases {
		t.Run(fn, func(t *testing.T) {
			for _, x := range exprs {
				want, got := evalIn(t, orig, x), evalIn(t, ours, x)
				if got != want {
					t.Errorf("%s:\n got %s\nwant %s", x, got, want)
				}
				// again, with the pattern from the cache
				if again := evalIn(t, ours, x); again != want {
					t.Errorf("%s again:\n got %s\nwant %s", x, again, want)
				}
			}
		})
	}
}

// TestLua51Semantics: where gopher-lua departs from Lua 5.1's lstrlib.c,
// the budgeted functions give Lua 5.1's answer (results serialized as in
// TestStringFunctionsUnchanged, trailing nils dropped).
func TestLua51Semantics(t *testing.T) {
	e := newEnv(t, Options{})
	if err := e.rt.L.DoString(serializer); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ expr, want string }{
		// ')' is not in SPECIALS: a plain search
		{`("a)b"):find(")")`, "number:2 number:2"},
		{`("a)b)"):find("b)", 1)`, "number:3 number:4"},
		{`("a)b"):find(")", 3)`, ""},
		{`("a)b"):find("%)")`, "number:2 number:2"},
		{`("a)b"):find("b)$")`, "error: invalid ')'"},
		{`("a)b"):match(")")`, "error: invalid ')'"},
		// find and match clamp the start to the string's end; an empty
		// pattern is found at the start
		{`("abc"):find("", 2)`, "number:2 number:1"},
		{`("abc"):find("", 10)`, "number:4 number:3"},
		{`("abc"):find("", -1)`, "number:3 number:2"},
		{`("abc"):find("x*", 10)`, "number:4 number:3"},
		{`("abc"):match("()", 10)`, "number:4"},
		{`("abc"):find("c", 10)`, ""},
		// gsub takes a number as its replacement (its string)
		{`("a1a"):gsub("a", 7)`, "string:717 number:2"},
		{`("ab"):gsub("b", 2.5)`, "string:a2.5 number:1"},
		// gsub with a limit of 0 or less replaces nothing
		{`("aXa"):gsub("a", "b", 0)`, "string:aXa number:0"},
		{`("aXa"):gsub("a", "b", -1)`, "string:aXa number:0"},
		{`("aXa"):gsub("a", "b", 1)`, "string:bXa number:1"},
		{`("aXa"):gsub("a", "b", 2)`, "string:bXb number:2"},
		{`("aXa"):gsub("a", "b", 3)`, "string:bXb number:2"},
		{`("aXa"):gsub("a", "b", nil)`, "string:bXb number:2"},
		{`("abc"):gsub("", "-", 0)`, "string:abc number:0"},
		{`("abc"):gsub("", "-", 2)`, "string:-a-bc number:2"},
		{`("abc"):gsub("(", "x", 0)`, "string:abc number:0"},
		// gmatch: '^' is a literal, not an anchor
		{`gm("abc", "^a")`, "string:"},
		{`gm("a^ab^a", "^a")`, "string:^a,nil;^a,nil"},
		{`gm("^x^y", "^(.)")`, "string:x,nil;y,nil"},
		{`gm("ab", "^")`, "string:"},
		{`gm("abc", "a")`, "string:a,nil"},
		{`("abc"):match("^a")`, "string:a"},
		{`("xabc"):find("^a")`, ""},
		// gsub replacement: % before a non-digit is that character
		{`("abc"):gsub("%w", "%x")`, "string:xxx number:3"},
		{`("abc"):gsub("b", "%a%%")`, "string:aa%c number:1"},
		{`("abc"):gsub("%w", "%%")`, "string:%%% number:3"},
		{`("abc"):gsub("b", "[%0]")`, "string:a[b]c number:1"},
		{`("abc"):gsub("b", "[%1]")`, "string:a[b]c number:1"},
		{`("abc"):gsub("(b)", "[%1%0]")`, "string:a[bb]c number:1"},
		{`("abc"):gsub("b", "%2")`, "error: invalid capture index"},
		{`("abc"):gsub("b", "x%")`, "string:ax\000c number:1"},
		{`("a b"):gsub("()", "%1")`, "string:1a2 3b4 number:4"},
	} {
		expr := c.expr
		if strings.Contains(c.want, "\\000") { // the NUL shown as \000
			expr = "(function() local s, n = " + expr + " return (s:gsub('%z', '\\\\000')), n end)()"
		}
		got := evalIn(t, e.rt.L, expr)
		if msg, ok := strings.CutPrefix(c.want, "error: "); ok {
			if !strings.HasPrefix(got, "error: ") || !strings.Contains(got, msg) {
				t.Errorf("%s:\n got %s\nwant an error with %q", c.expr, got, msg)
			}
		} else if got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.expr, got, c.want)
		}
	}
}

// TestPathologicalPatternIsStopped: a backtracking pattern is stopped by
// the CPU budget inside the matcher, with the script's line in the error,
// and the Runtime goes on serving other callbacks.
func TestPathologicalPatternIsStopped(t *testing.T) {
	const subject = `string.rep("a", 60)`
	const pat = `"(.-)(.-)(.-)(.-)(.-)(.-)(.-)(.-)b"`
	for _, c := range []struct {
		name, call string
		unsafe     bool
	}{
		{"find", `string.find(` + subject + `, ` + pat + `)`, false},
		{"find with --unsafe", `string.find(` + subject + `, ` + pat + `)`, true},
		{"match method", `(` + subject + `):match(` + pat + `)`, false},
		{"gmatch", `for x in (` + subject + `):gmatch(` + pat + `) do end`, false},
		{"gsub", `string.gsub(` + subject + `, ` + pat + `, "")`, false},
		{"gsub with pcall", `local ok = pcall(string.gsub, ` + subject + `, ` + pat + `, "") rec("pcall", ok)`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, Options{CPUBudget: 20 * time.Millisecond, Unsafe: c.unsafe})
			e.mustLoad("default", "pat.lua", "function on_park(sess)\n  if sess.uuid == 'bad' then\n    "+c.call+"\n  end\n  rec('ok', sess.uuid)\nend")
			start := time.Now()
			e.send(e.session("bad", "", "inbound"), "CHANNEL_PARK")
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("stopped after %v", d)
			}
			e.send(e.session("good", "", "inbound"), "CHANNEL_PARK")
			if got := e.recorded(); !strings.HasSuffix(got, "ok good") || strings.Contains(got, "ok bad") {
				t.Fatalf("records %q", got)
			}
			var errs []error
			for _, ci := range e.cbs {
				if ci.Err != nil {
					errs = append(errs, ci.Err)
				}
			}
			if len(errs) != 1 {
				t.Fatalf("errors %v", errs)
			}
			err := errs[0]
			if !errors.Is(err, ErrCPUBudget) || !strings.HasPrefix(err.Error(), "pat.lua:3:") {
				t.Fatalf("err %q", err)
			}
			if c.name != "gsub with pcall" && !strings.Contains(err.Error(), "pattern too complex, stopped after") {
				t.Fatalf("err %q", err)
			}
		})
	}
}

// TestHugeStringsRefused: string.rep, string.gsub and table.concat refuse
// results over 64 MiB with an error at the script's line.
func TestHugeStringsRefused(t *testing.T) {
	// A generous budget: building 64 MiB takes a while under -race.
	e := newEnv(t, Options{CPUBudget: 10 * time.Second})
	for _, c := range []struct{ name, call, want string }{
		{"rep", `string.rep("x", 1e9)`, "string.rep: result would be over the 64 MiB limit"},
		{"rep method", `("ab"):rep(40 * 1024 * 1024)`, "string.rep: result would be over the 64 MiB limit"},
		{"gsub", `string.rep("a", 1024):gsub("a", string.rep("b", 70000))`, "string.gsub: result would be over the 64 MiB limit"},
		{"format", `local s = string.rep("a", 40 * 1024 * 1024) string.format("%s%s", s, s)`, "string.format: result could be over the 64 MiB limit"},
		{"format width", `string.format(string.rep("%999999d", 100), 1)`, "string.format: result could be over the 64 MiB limit"},
		{"format index", `string.format(string.rep("%[1]s", 20), string.rep("a", 4 * 1024 * 1024))`, "string.format: result could be over the 64 MiB limit"},
		{"format %x", `string.format("%x", string.rep("a", 33 * 1024 * 1024))`, "string.format: result could be over the 64 MiB limit"},
		{"format %# x", `string.format("%# x", string.rep("a", 20 * 1024 * 1024))`, "string.format: result could be over the 64 MiB limit"},
		{"format % X", `string.format("% X", string.rep("a", 22 * 1024 * 1024))`, "string.format: result could be over the 64 MiB limit"},
		{"format %q", `string.format("%q", string.rep("a", 17 * 1024 * 1024))`, "string.format: result could be over the 64 MiB limit"},
		{"format %#v", `string.format("%#v", string.rep("a", 17 * 1024 * 1024))`, "string.format: result could be over the 64 MiB limit"},
		{"format %d table", `string.format("%d", {})`, "bad argument #2 to format (number expected, got table)"},
		{"concat", `local s = string.rep("a", 33 * 1024 * 1024) table.concat({s, s})`, "table.concat: result would be over the 64 MiB limit"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := e.load("default", "big.lua", "local x = 1\n"+c.call)
			if err == nil || !strings.Contains(err.Error(), "big.lua:2: "+c.want) {
				t.Fatalf("err %v", err)
			}
		})
	}
	// within the limit: each verb counts its own argument with its own
	// multiplier, unused arguments do not count
	for _, c := range []struct{ name, call string }{
		{"format %q", `assert(#string.format("%q", string.rep("a", 11 * 1024 * 1024)) == 11 * 1024 * 1024 + 2)`},
		{"format %q and %s", `local s = string.rep("a", 40 * 1024 * 1024) assert(#string.format("%q%s", "x", s) == #s + 3)`},
		{"format %x", `assert(#string.format("%x", string.rep("a", 12 * 1024 * 1024)) == 24 * 1024 * 1024)`},
		{"format unused", `local s = string.rep("a", 40 * 1024 * 1024) assert(string.format("%s", "x", s, s) == "x")`},
		{"format %[2]s", `local s = string.rep("a", 40 * 1024 * 1024) assert(string.format("%[2]s%s", s, "x") == "x%!s(MISSING)")`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := e.load("default", "fine.lua", c.call); err != nil {
				t.Fatal(err)
			}
		})
	}
	e.mustLoad("default", "ok.lua", `assert(#string.rep("ab", 1024) == 2048) function on_park(s) rec("ok") end`)
	e.send(e.session("u1", "", "inbound"), "CHANNEL_PARK")
	if e.recorded() != "ok" {
		t.Fatalf("records %q", e.recorded())
	}
}

// BenchmarkStringLib: string.find (pattern and plain), match, gmatch and
// gsub on a short SIP-like subject, budgeted functions against gopher-lua's
// own in the same run (both states with a cancellable context, as the
// Runtime's callbacks run). match_uncached uses 100 patterns in turn, more
// than the pattern cache keeps.
func BenchmarkStringLib(b *testing.B) {
	states := make([]*lua.LState, 2)
	for i := range states {
		L := lua.NewState()
		ctx, cancel := context.WithCancel(context.Background())
		L.SetContext(ctx)
		b.Cleanup(func() { cancel(); L.Close() })
		if i == 1 {
			if err := installStringLimits(L); err != nil {
				b.Fatal(err)
			}
		}
		states[i] = L
	}
	const subject = `local s = "sip:1000@pbx.example.com;transport=udp;user=phone"`
	for _, w := range []struct{ name, body string }{
		{"find", `s:find("@([%w%.]+);")`},
		{"find_plain", `s:find("transport", 1, true)`},
		{"find_literal", `s:find("transport")`},
		{"match", `s:match("^sip:(%d+)@")`},
		{"match_uncached", `s:match("^sip:(%d+)@" .. i % 100)`},
		{"gmatch", `for k, v in s:gmatch("(%w+)=(%w+)") do end`},
		{"gsub", `s:gsub("%.", "_")`},
	} {
		src := subject + "\nfor i = 1, 2000 do " + w.body + " end"
		fns := make([]func(), 2)
		for i, L := range states {
			fn, err := L.LoadString(src)
			if err != nil {
				b.Fatal(err)
			}
			fns[i] = func() {
				L.Push(fn)
				if err := L.PCall(0, 0, nil); err != nil {
					b.Fatal(err)
				}
			}
		}
		ds := interleaved(2000, fns...)
		report("strlib_"+w.name+"_vs_gopherlua", "%.2f x", float64(ds[1])/float64(ds[0]))
	}
}

// TestFormatBound: formatBound is at least the length of gopher-lua's
// string.format result, on random formats (flags, widths, precisions, [n],
// '*', every verb) and arguments (strings with control, invalid and
// non-printable UTF-8 bytes, extreme numbers, booleans, nil, a table).
func TestFormatBound(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	orig := L.GetField(L.GetGlobal("string"), "format")
	bound := L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LNumber(formatBound(L, L.CheckString(1))))
		return 1
	})
	atoms := []string{"%", "%", "%", "%", "s", "q", "x", "X", "d", "i", "v", "c", "f", "e", "g", "b", "o", "U", "z", "w",
		"#", " ", "+", "-", "0", "[1]", "[2]", "[3]", "[9]", "[x]", "[", "]", "*", ".", "5", "12", "%%", "a", "\u00e9"}
	strs := []string{"", "a", "\x00\x01\x7f", "\xff\xfe", "\u0085\u00a0", "\ufeff", "\U0001F600", "\"\\", "\u00e9\u00e9",
		strings.Repeat("\x00", 400), strings.Repeat("\u0080", 200), strings.Repeat("\U0001F600", 100), strings.Repeat("a", 300)}
	nums := []float64{0, 7, -1, 0.1, 1e308, -1e308, 9.2e18, -9.3e18, math.Inf(1), math.NaN(), 1e-300}
	check := func(args ...lua.LValue) {
		t.Helper()
		if err := L.CallByParam(lua.P{Fn: bound, NRet: 1, Protect: true}, args...); err != nil {
			if !strings.Contains(err.Error(), "number expected, got") {
				t.Fatalf("%q: %v", args[0], err)
			}
			return
		}
		b := int(L.Get(-1).(lua.LNumber))
		L.Pop(1)
		if err := L.CallByParam(lua.P{Fn: orig, NRet: 1, Protect: true}, args...); err != nil {
			t.Fatalf("%q: %v", args[0], err)
		}
		got := L.Get(-1).String()
		L.Pop(1)
		if len(got) > b {
			t.Fatalf("format(%q, %v): %d bytes %q, bound %d", args[0], args[1:], len(got), got, b)
		}
	}
	// the worst flags of each verb on every argument
	for _, f := range []string{"% #x", "%# X", "%+q", "%#+q", "%#v", "%+#v", "%q", "%.300f", "%b", "%#o", "%#U", "%c", "% d", "%s"} {
		for _, s := range strs {
			check(lua.LString(f), lua.LString(s))
		}
		for _, n := range nums {
			check(lua.LString(f), lua.LNumber(n))
		}
	}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 20000; i++ {
		var f strings.Builder
		for k := rng.Intn(8); k >= 0; k-- {
			f.WriteString(atoms[rng.Intn(len(atoms))])
		}
		args := []lua.LValue{lua.LString(f.String())}
		for k := rng.Intn(4); k > 0; k-- {
			switch rng.Intn(6) {
			case 0, 1, 2:
				args = append(args, lua.LString(strs[rng.Intn(len(strs))]))
			case 3, 4:
				args = append(args, lua.LNumber(nums[rng.Intn(len(nums))]))
			default:
				args = append(args, []lua.LValue{lua.LTrue, lua.LNil, L.NewTable()}[rng.Intn(3)])
			}
		}
		check(args...)
	}
}

// TestFormatQuoteMultiplier: Go's %q, %+q, %#q and %#v (string.format's)
// write at most 4 bytes per byte of any string, plus the quotes; %x with any
// flags at most 5.
func TestFormatQuoteMultiplier(t *testing.T) {
	var subjects []string
	for c := 0; c < 256; c++ {
		subjects = append(subjects, string([]byte{byte(c)}))
	}
	for r := rune(0x80); r <= utf8.MaxRune; r += 7 {
		subjects = append(subjects, string(r))
	}
	for _, s := range subjects {
		for _, v := range []string{"%q", "%+q", "%#q", "%#+q", "%#v", "%+#v"} {
			if n := len(fmt.Sprintf(v, s)); n > 4*len(s)+2 {
				t.Fatalf("%s of %q: %d bytes", v, s, n)
			}
		}
		for _, v := range []string{"%x", "% x", "%#x", "% #x", "%# X"} {
			if n := len(fmt.Sprintf(v, s)); n > 5*len(s)+2 {
				t.Fatalf("%s of %q: %d bytes", v, s, n)
			}
		}
	}
}
