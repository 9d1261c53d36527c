package hotreload

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		src   string
		want  string // whole error text, "" for success
		atEOF bool
	}{
		{src: "", want: ""},
		{src: "function on_park(s) s:answer() end", want: ""},
		{src: "x = = 1", want: "app.lua:1: syntax error near '='"},
		{src: "local a = 1\nlocal b = 2\nreturn return\n", want: "app.lua:3: syntax error near 'return'"},
		{src: "function on_park(s)\n  s:answer()\n", want: "app.lua:2: syntax error near <eof>", atEOF: true},
		{src: "function f(\n\n\n", want: "app.lua:1: syntax error near <eof>", atEOF: true},
		{src: "x = [[abc", want: "app.lua:1: unterminated multiline string near <eof>", atEOF: true},
		{src: "--[[ comment\nmore", want: "app.lua:2: invalid multiline comment near <eof>", atEOF: true},
		{src: "x = 1 ~ 2", want: "app.lua:1: Invalid '~' token near '~'"},
		{src: "goto nowhere", want: "app.lua:2: no visible label 'nowhere' for <goto> at line 1"},
		{src: "x = 'abc\ny = 1", want: "app.lua:2: unterminated string near 'abc'"},
	}
	for _, tt := range tests {
		proto, err := Compile("app.lua", []byte(tt.src))
		if tt.want == "" {
			if err != nil || proto == nil {
				t.Errorf("Compile(%q) = %v, %v; want a proto", tt.src, proto, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("Compile(%q) succeeded; want %q", tt.src, tt.want)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("Compile(%q) error %q; want %q", tt.src, err.Error(), tt.want)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("Compile(%q) error has several lines: %q", tt.src, err.Error())
		}
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Compile(%q) error %T is not a *SyntaxError", tt.src, err)
		} else if se.AtEOF != tt.atEOF {
			t.Errorf("Compile(%q) AtEOF = %v; want %v", tt.src, se.AtEOF, tt.atEOF)
		}
	}
}

func TestCompileRunsAndNamesChunk(t *testing.T) {
	proto, err := Compile("scripts/app.lua", []byte("version = 'v1'\n\nerror('boom')\n"))
	if err != nil {
		t.Fatal(err)
	}
	L := lua.NewState()
	defer L.Close()
	L.Push(L.NewFunctionFromProto(proto))
	err = L.PCall(0, 0, nil)
	if err == nil || !strings.Contains(err.Error(), "scripts/app.lua:3: boom") {
		t.Fatalf("runtime error %v; want it to name scripts/app.lua:3", err)
	}
	if v := L.GetGlobal("version").String(); v != "v1" {
		t.Fatalf("version = %q", v)
	}
}

func TestRequires(t *testing.T) {
	tests := []struct {
		src  string
		want []string
	}{
		{"x = 1", nil},
		{`local u = require("lib.util")`, []string{"lib.util"}},
		{`require "a" require 'b' require [[c]]`, []string{"a", "b", "c"}},
		{`local m = require("a") local n = require("a")`, []string{"a"}},
		{`function on_park(s) local j = require("json").encode({}) end`, []string{"json"}},
		{`if x then for i = 1, 2 do t = { k = require("deep") } end end`, []string{"deep"}},
		{`local x = y or require("fallback")`, []string{"fallback"}},
		{`while true do repeat return require("loop") until false end`, []string{"loop"}},
		{`local f = function() return function() return require("nested") end end`, []string{"nested"}},
		{`require(name) require("a" .. "b") obj:require("x") t.require("y")`, nil},
		{`local mods = { require("z"), require("m") }`, []string{"m", "z"}},
	}
	for _, tt := range tests {
		chunk, err := parse.Parse(strings.NewReader(tt.src), "t.lua")
		if err != nil {
			t.Fatalf("parse %q: %v", tt.src, err)
		}
		if got := Requires(chunk); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Requires(%q) = %q; want %q", tt.src, got, tt.want)
		}
	}
}

func TestModuleFile(t *testing.T) {
	tests := []struct {
		name, want string
		ok         bool
	}{
		{"util", "util.lua", true},
		{"lib.util", "lib/util.lua", true},
		{"a.b.c", "a/b/c.lua", true},
		{"", "", false},
		{"a..b", "", false},
		{".a", "", false},
		{"a/b", "", false},
		{"../x", "", false},
	}
	for _, tt := range tests {
		got, ok := ModuleFile(tt.name)
		if ok != tt.ok || got != tt.want {
			t.Errorf("ModuleFile(%q) = %q, %v; want %q, %v", tt.name, got, ok, tt.want, tt.ok)
		}
		if ok && moduleName(got) != tt.name {
			t.Errorf("moduleName(%q) = %q; want %q", got, moduleName(got), tt.name)
		}
	}
}

func TestIsScript(t *testing.T) {
	for name, want := range map[string]bool{
		"app.lua": true, "a.b.lua": true, ".lua": false, ".app.lua": false, "app.lua~": false,
		".app.lua.swp": false, ".app.lua.swx": false, "4913": false, "app.txt": false,
		"app.lua.tmp123": false, "#app.lua#": false, ".#app.lua": false, "app.LUA": false,
	} {
		if got := isScript(name); got != want {
			t.Errorf("isScript(%q) = %v; want %v", name, got, want)
		}
	}
}

// FuzzCompile: any input compiles or fails with one `path:line: message`
// line, and never panics.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{"", "x = 1", "function f(", "x = 'abc", "goto l", "require 'a.b'", "--[[", "a = {1, 2, [3] = 4}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		_, _, err := compile("f.lua", src)
		if err == nil {
			return
		}
		if msg := err.Error(); strings.ContainsAny(msg, "\n\r") || !strings.HasPrefix(msg, "f.lua:") {
			t.Fatalf("error %q is not one `f.lua:line: message` line", msg)
		}
	})
}
