package luapm

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/yuin/gopher-lua/pm"
)

// describe renders pm's and luapm's results alike for comparison.
func describe(n int, capture func(i int) (int, bool)) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		c, pos := capture(i)
		fmt.Fprintf(&b, "%d/%v ", c, pos)
	}
	return b.String()
}

func findOld(p string, src string, off, limit int) (out string) {
	defer func() {
		if v := recover(); v != nil {
			out = fmt.Sprint("panic ", v)
		}
	}()
	b := []byte(src)
	mds, err := pm.Find(p, b[:len(b):len(b)], off, limit)
	if err != nil {
		return "err " + err.Error()
	}
	for _, m := range mds {
		out += "[" + describe(m.CaptureLength(), func(i int) (int, bool) { return m.Capture(i), m.IsPosCapture(i) }) + "]"
	}
	return out
}

func findNew(p string, src string, off, limit int) (out string) {
	defer func() {
		if v := recover(); v != nil {
			out = fmt.Sprint("panic ", v)
		}
	}()
	b := []byte(src)
	mds, err := Find(p, b[:len(b):len(b)], off, limit, nil)
	if err != nil {
		return "err " + err.Error()
	}
	for _, m := range mds {
		out += "[" + describe(m.CaptureLength(), func(i int) (int, bool) { return m.Capture(i), m.IsPosCapture(i) }) + "]"
	}
	return out
}

// compiles reports whether p is a well-formed pattern: with a limit of 0 a
// bad back reference is never reached, only a malformed pattern is an error.
func compiles(p string) bool {
	_, err := Compile(p)
	return err == nil
}

// TestSameAsPM compares Find with gopher-lua's pm.Find on fixed and
// generated patterns and subjects; with a limit of 0, Find gives no match
// (Lua 5.1's gsub with 0: no replacement) where pm gives every match.
func TestSameAsPM(t *testing.T) {
	fixed := []struct{ p, s string }{
		{"a*", "aaab"}, {"a+b", "xaaab"}, {"^(%w+)=(%w*)$", "key=value"}, {"(.-)b", "aaab"},
		{"()a()", "bab"}, {"%b()", "x(a(b)c)d"}, {"(a)%1", "baab"}, {"[%a_][%w_]*", "  foo_1 bar"},
		{"^$", ""}, {"$", "abc"}, {"x*$", "axx"}, {"[^%s]+", "a bc  d"}, {"%d+%.?%d*", "v1.25x"},
		{"(h)(e)(l)(l)(o)", "hello"}, {"a?b", "ab b"}, {"[a-c]+", "xabcabd"}, {"%", "a"}, {"(", "a"},
		{"(()", "a"}, {"%1", "a"}, {"[a", "a"}, {"(.*)x(.*)", "axbxc"}, {".-$", "abc"},
	}
	for _, c := range fixed {
		for _, lim := range []int{-1, 0, 1, 2} {
			for _, off := range []int{0, 1, len(c.s), len(c.s) + 1} {
				o, n := findOld(c.p, c.s, off, lim), findNew(c.p, c.s, off, lim)
				if lim == 0 && compiles(c.p) {
					o = ""
				}
				if o != n {
					t.Errorf("Find(%q, %q, %d, %d): pm %s, luapm %s", c.p, c.s, off, lim, o, n)
				}
			}
		}
	}
	rng := rand.New(rand.NewSource(1))
	atoms := []string{"a", "b", ".", "%a", "%d", "[ab]", "[^a]", "(", ")", "()", "*", "+", "-", "?", "%1", "^", "$", "%b()", "1"}
	letters := "aab1()"
	for i := 0; i < 20000; i++ {
		var p strings.Builder
		for k := rng.Intn(6); k >= 0; k-- {
			p.WriteString(atoms[rng.Intn(len(atoms))])
		}
		src := make([]byte, rng.Intn(10))
		for k := range src {
			src[k] = letters[rng.Intn(len(letters))]
		}
		lim := rng.Intn(3) - 1
		o, n := findOld(p.String(), string(src), 0, lim), findNew(p.String(), string(src), 0, lim)
		if lim == 0 && compiles(p.String()) {
			o = ""
		}
		if strings.HasPrefix(o, "panic runtime error: slice bounds out of range") && n == "err invalid capture index" {
			continue // pm's crash on a back reference to a position capture at the end
		}
		if o != n {
			t.Fatalf("Find(%q, %q, 0, %d): pm %s, luapm %s", p.String(), src, lim, o, n)
		}
	}
}

// TestStop: a match that backtracks for ever stops soon after done closes.
func TestStop(t *testing.T) {
	done := make(chan struct{})
	time.AfterFunc(20*time.Millisecond, func() { close(done) })
	start := time.Now()
	_, err := Find("(.-)(.-)(.-)(.-)(.-)(.-)(.-)(.-)b", []byte(strings.Repeat("a", 200)), 0, 1, done)
	if _, ok := err.(*StopError); !ok {
		t.Fatalf("err %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("stopped after %v", d)
	}
}

// TestStopInLongScans: the single-frame scans (a greedy run, %b) look at
// done too.
func TestStopInLongScans(t *testing.T) {
	done := make(chan struct{})
	close(done)
	src := []byte(strings.Repeat("(", 1<<16))
	for _, p := range []string{"^a*$", "^%b()", "^.*x"} {
		s := src
		if p != "^%b()" {
			s = []byte(strings.Repeat("a", 1<<16))
		}
		if _, err := Find(p, s, 0, 1, done); err == nil {
			t.Errorf("%s: not stopped", p)
		}
	}
}

// TestLongSubject: greedy repetitions over a long subject do not recurse
// per character.
func TestLongSubject(t *testing.T) {
	src := []byte(strings.Repeat("a", 4<<20) + "b")
	for _, p := range []string{".*b", "^(a+)b$", "(a*)b$"} {
		mds, err := Find(p, src, 0, 1, nil)
		if err != nil || len(mds) != 1 {
			t.Fatalf("%s: %v %v", p, mds, err)
		}
	}
	if _, err := Find(strings.Repeat("a?", MaxDepth+1), src, 0, 1, nil); err != ErrTooComplex {
		t.Fatalf("deep pattern: %v", err)
	}
}

// TestLimit: All stops at limit matches, checked before each position is
// tried (Lua 5.1's gsub loop), so 0 gives none; a negative limit gives all.
func TestLimit(t *testing.T) {
	for _, c := range []struct {
		p, s  string
		limit int
		want  string
	}{
		{"a", "aXa", 0, ""},
		{"a", "aXa", -1, "[0/false 1/false ][2/false 3/false ]"},
		{"a", "aXa", 1, "[0/false 1/false ]"},
		{"a", "aXa", 2, "[0/false 1/false ][2/false 3/false ]"},
		{"a", "aXa", 5, "[0/false 1/false ][2/false 3/false ]"},
		{"", "ab", 0, ""},
		{"", "ab", 2, "[0/false 0/false ][1/false 1/false ]"},
		{"^a", "aa", -1, "[0/false 1/false ]"},
		{"x", "aXa", 0, ""},
	} {
		if got := findNew(c.p, c.s, 0, c.limit); got != c.want {
			t.Errorf("Find(%q, %q, 0, %d) = %s, want %s", c.p, c.s, c.limit, got, c.want)
		}
	}
}

// TestUnanchored: CompileUnanchored reads a leading '^' as a literal, as
// Lua 5.1's gmatch does; a later '^' and a final '$' are as in Compile.
func TestUnanchored(t *testing.T) {
	for _, c := range []struct{ p, s, want string }{
		{"^a", "abc", ""},
		{"^a", "a^abc^a", "^a;^a"},
		{"^", "a^b^", "^;^"},
		{"^^", "^^^^", "^^;^^"},
		{"^*", "a^^b", ";^^;;"},
		{"^(%w)", "x^y^z", "^y;^z"},
		{"^$", "ab^", "^"},
		{"a^", "a^a", "a^"},
		{"%^a", "^a", "^a"},
	} {
		pat, err := CompileUnanchored(c.p)
		if err != nil {
			t.Fatalf("%q: %v", c.p, err)
		}
		var out []string
		mt := NewMatcher(pat, []byte(c.s), 0, nil)
		for {
			md, err := mt.Next()
			if err != nil {
				t.Fatalf("%q: %v", c.p, err)
			}
			if md == nil {
				break
			}
			out = append(out, c.s[md.Capture(0):md.Capture(1)])
		}
		if got := strings.Join(out, ";"); got != c.want {
			t.Errorf("gmatch(%q, %q) = %q, want %q", c.s, c.p, got, c.want)
		}
	}
	// Compile still anchors.
	if got := findNew("^a", "a^abc^a", 0, -1); got != "[0/false 1/false ]" {
		t.Errorf("Compile(\"^a\"): %s", got)
	}
}

// TestStopElapsed: a stop's Elapsed counts from the start of the call, not
// from the first check of done: here the first 4096 steps are slow (each
// character is tested against a set of 5000 classes) and done is closed
// from the start, so the first check stops the match.
func TestStopElapsed(t *testing.T) {
	done := make(chan struct{})
	close(done)
	pat, err := Compile("[" + strings.Repeat("b", 5000) + "a]*x")
	if err != nil {
		t.Fatal(err)
	}
	mt := NewMatcher(pat, []byte(strings.Repeat("a", 1<<13)), 0, done)
	start := time.Now()
	_, err = mt.All(1)
	took := time.Since(start)
	se, ok := err.(*StopError)
	if !ok {
		t.Fatalf("err %v", err)
	}
	if se.Elapsed < took/2 || se.Elapsed > took {
		t.Fatalf("Elapsed %v, the call took %v", se.Elapsed, took)
	}
}

// FuzzSameAsPM: for any pattern, subject, offset and limit, Find gives
// gopher-lua's pm.Find answer, except where the differences are intended:
// a limit of 0 finds nothing, pm's crash on a back reference to a position
// capture is an "invalid capture index" error, and a match deeper than
// MaxDepth is an error (pm would recurse until the stack overflows). The
// matcher must never panic.
func FuzzSameAsPM(f *testing.F) {
	for _, s := range []struct {
		p, src   string
		off, lim int
	}{
		{"a*", "aaab", 0, -1}, {"(.-)b", "aaab", 1, 1}, {"%b()", "x(a(b)c)d", 0, -1},
		{"(a)%1", "baab", 0, 2}, {"()a()", "bab", 0, -1}, {"^(%w+)=(%w*)$", "key=value", 0, 1},
		{"[^%s]+", "a bc  d", 0, 0}, {"(()", "a", 0, -1}, {"%f[%a]", "a", 0, -1},
	} {
		f.Add(s.p, s.src, s.off, s.lim)
	}
	f.Fuzz(func(t *testing.T, p, src string, off, lim int) {
		if len(p) > 48 || len(src) > 128 {
			return
		}
		off = min(max(off, 0), len(src)+1)
		lim = min(max(lim, -1), 3)
		// A pattern that backtracks exponentially is stopped here, and
		// not given to pm, which cannot be stopped.
		done := make(chan struct{})
		tm := time.AfterFunc(100*time.Millisecond, func() { close(done) })
		_, err := Find(p, []byte(src), off, lim, done)
		tm.Stop()
		if _, ok := err.(*StopError); ok {
			return
		}
		n := findNew(p, src, off, lim)
		if strings.HasPrefix(n, "panic") {
			t.Fatalf("Find(%q, %q, %d, %d): %s", p, src, off, lim, n)
		}
		o := findOld(p, src, off, lim)
		if lim == 0 && compiles(p) {
			o = ""
		}
		if strings.HasPrefix(o, "panic") && n == "err invalid capture index" {
			return
		}
		if n == "err "+ErrTooComplex.Error() {
			return
		}
		if o != n {
			t.Fatalf("Find(%q, %q, %d, %d): pm %s, luapm %s", p, src, off, lim, o, n)
		}
	})
}
