package bindings

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

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
			`("a.b"):find("%.")`, `(""):find("")`, `("abc"):find("", 10)`, `("abc"):find("b", 10)`,
			`("abc"):find("()b()")`, `("a)b"):find(")")`, `("a+b"):find("+", 1, true)`, `("x"):find("[")`,
			`string.find("sip:1000@pbx", "^sip:(%d+)@(.+)$")`, `("aaa"):find("a-", 2)`, `("abc"):find("c", -1)`,
		},
		"match": {
			`("key=value"):match("^(%w+)=(%w*)$")`, `("v1.25x"):match("%d+")`, `("  trim  "):match("^%s*(.-)%s*$")`,
			`("hello"):match("()ll()")`, `("hello"):match("x")`, `("abc"):match("b", -2)`, `("abc"):match(".", 10)`,
			`("abc"):match("^(a)(b)(c)$")`, `("[x]"):match("%[(.)%]")`, `("f(a(b)c)"):match("%b()")`, `("abab"):match("(ab)%1")`,
		},
		"gmatch": {
			`gm("a=1, b=2", "(%w+)=(%w+)")`, `gm("one two  three", "%a+")`, `gm("abc", "")`, `gm("xyx", "()x")`,
			`gm("a,b,,c", "([^,]*)")`, `gm("abc", "^a")`, `gm("1 22 333", "%d%d")`,
		},
		"gsub": {
			`("hello world"):gsub("o", "0")`, `("hello world"):gsub("(%w+)", "<%1>")`, `("hello world"):gsub("%w+", "%0 %0", 1)`,
			`("hello"):gsub("l", {l = "L"})`, `("hello"):gsub("(h)(e)", function(a, b) return b .. a end)`,
			`("hello"):gsub("x", "y")`, `("abc"):gsub("", "-")`, `("abc"):gsub("%w", "%%")`, `("abc"):gsub("b", "%2")`,
			`("$1.50"):gsub("%$", "USD")`, `("abc"):gsub("%w", function() return false end)`, `("aXa"):gsub("a", "b", 0)`,
			`("abc"):gsub("b", "%a%")`, `("a b"):gsub("()", "%1")`, `("x=1 y=2"):gsub("(%w)=(%w)", "%2=%1")`,
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
		{"concat", `local s = string.rep("a", 33 * 1024 * 1024) table.concat({s, s})`, "table.concat: result would be over the 64 MiB limit"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := e.load("default", "big.lua", "local x = 1\n"+c.call)
			if err == nil || !strings.Contains(err.Error(), "big.lua:2: "+c.want) {
				t.Fatalf("err %v", err)
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
