package builtin_test

import (
	"strings"
	"testing"

	"github.com/switchlua/switchlua/bindings"
	"github.com/switchlua/switchlua/scripts/builtin"
)

func TestAppsCompileAndAreDocumented(t *testing.T) {
	want := []string{"dtmfchecker", "playrec", "proxier", "router", "toneplay"}
	got := builtin.List()
	if len(got) != len(want) {
		t.Fatalf("got %d apps", len(got))
	}
	for i, a := range got {
		if a.Name != want[i] {
			t.Fatalf("app %d = %s, want %s", i, a.Name, want[i])
		}
		if a.Doc == "" || strings.Contains(a.Doc, "--") && strings.HasPrefix(a.Doc, "--") {
			t.Errorf("%s: doc %q", a.Name, a.Doc)
		}
		s, err := bindings.CompileScript(a.Path(), []byte(a.Source))
		if err != nil {
			t.Errorf("%s: %v", a.Name, err)
			continue
		}
		if l := bindings.LintCallbacks(s); len(l) > 0 {
			t.Errorf("%s: %v", a.Name, l)
		}
	}
	a, ok := builtin.Lookup("TonePlay")
	if !ok || a.File != "toneplay.lua" || !strings.HasPrefix(a.Summary(), "TonePlay: play a milliwatt tone") {
		t.Fatalf("lookup: %+v", a)
	}
	if _, ok := builtin.Lookup("nosuch"); ok {
		t.Fatal("lookup nosuch")
	}
}

func TestDocComment(t *testing.T) {
	cases := []struct{ src, want string }{
		{"-- A: one\n--\n--   indented\n\nlocal x", "A: one\n\n  indented"},
		{"local x = 1\n-- late", ""},
		{"-- only\n--\n", "only"},
		{"--[[ block ]]\n", ""},
	}
	for _, c := range cases {
		if got := builtin.DocComment(c.src); got != c.want {
			t.Errorf("DocComment(%q) = %q, want %q", c.src, got, c.want)
		}
	}
}
