package apps

import (
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func writeFile(t testing.TB, path, src string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestParseSpec(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	writeFile(t, "calls.lua", "")
	writeFile(t, "sub/ivr.lua", "")
	writeFile(t, "odd:name.lua", "")
	writeFile(t, "my app.lua", "")
	os.Mkdir("adir", 0o755)
	writeFile(t, "x=1/a.lua", "")
	writeFile(t, "k:x=1/b.lua", "")
	writeFile(t, "k:x=1/b.lua:weight=2/c.lua", "")
	abs := filepath.Join(dir, "x=1", "a.lua")

	tests := []struct {
		arg     string
		path    string
		builtin string
		app     string
		weight  int
		wset    bool
		args    map[string]string
		err     string
	}{
		{arg: "calls.lua", path: "calls.lua", app: "calls", weight: 1},
		{arg: "./calls.lua", path: "calls.lua", app: "calls", weight: 1},
		{arg: "sub/ivr.lua:weight=3", path: "sub/ivr.lua", app: "ivr", weight: 3, wset: true},
		{arg: "calls.lua:weight=0", path: "calls.lua", app: "calls", weight: 0, wset: true},
		{arg: "calls.lua:greeting=hi:n=2", path: "calls.lua", app: "calls", weight: 1, args: map[string]string{"greeting": "hi", "n": "2"}},
		{arg: "calls.lua:app=main:k=", path: "calls.lua", app: "main", weight: 1, args: map[string]string{"k": ""}},
		{arg: "calls.lua:url=sip:x@y:5060:n=1", path: "calls.lua", app: "calls", weight: 1, args: map[string]string{"url": "sip:x@y:5060", "n": "1"}},
		{arg: "a=b", err: `"a=b" is not a file or app name`},
		{arg: "odd:name.lua:weight=2", err: "only letters"},
		{arg: "odd:name.lua:app=odd", path: "odd:name.lua", app: "odd", weight: 1},
		{arg: "my app.lua", err: `name the app with my app.lua:app=ID`},
		{arg: "x=1/a.lua", path: "x=1/a.lua", app: "a", weight: 1},
		{arg: abs, path: abs, app: "a", weight: 1},
		{arg: abs + ":weight=2:n=1", path: abs, app: "a", weight: 2, wset: true, args: map[string]string{"n": "1"}},
		{arg: "./x=1/a.lua:app=m", path: "x=1/a.lua", app: "m", weight: 1},
		{arg: "k:x=1/b.lua", path: "k:x=1/b.lua", app: "b", weight: 1},
		{arg: "k:x=1/b.lua:weight=2", path: "k:x=1/b.lua", app: "b", weight: 2, wset: true},
		{arg: "k:x=1/b.lua:weight=2/c.lua", path: "k:x=1/b.lua:weight=2/c.lua", app: "c", weight: 1},
		{arg: "k:x=1/b.lua:weight=2/c.lua:weight=3", path: "k:x=1/b.lua:weight=2/c.lua", app: "c", weight: 3, wset: true},
		{arg: "x=1/missing.lua", err: "script x=1/missing.lua: no such file"},
		{arg: "x=1/missing.lua:weight=2", err: "script x=1/missing.lua: no such file"},
		{arg: "x=1", err: "is a directory"},
		{arg: "toneplay", builtin: "toneplay", app: "toneplay", weight: 1},
		{arg: "TonePlay:weight=2", builtin: "toneplay", app: "toneplay", weight: 2, wset: true},
		{arg: "toneplay.lua", builtin: "toneplay", app: "toneplay", weight: 1},
		{arg: "Proxier:app=px", builtin: "proxier", app: "px", weight: 1},
		{arg: "missing.lua", err: "script missing.lua: no such file"},
		{arg: "sub/missing.lua", err: "script sub/missing.lua: no such file"},
		{arg: "nosuchapp", err: "no such file or built-in app (built-ins: dtmfchecker, playrec, proxier, router, toneplay)"},
		{arg: "adir", err: "is a directory"},
		{arg: "", err: "empty"},
		{arg: ":weight=2", err: "no file or app name"},
		{arg: "calls.lua:weight=x", err: `weight "x" is not a whole number >= 0`},
		{arg: "calls.lua:weight=-1", err: "not a whole number"},
		{arg: "calls.lua:weight=1:weight=2", err: "weight given twice"},
		{arg: "calls.lua:app=a b", err: "only letters"},
		{arg: "calls.lua:app=", err: "empty app id"},
		{arg: "calls.lua: =v", err: "is not a file or app name"},
		// Lua pattern keys (the Router's routes) start with '^'.
		{arg: "router:^1(%d%d%d)$=sofia/internal/%1@pbx", builtin: "router", app: "router", weight: 1,
			args: map[string]string{"^1(%d%d%d)$": "sofia/internal/%1@pbx"}},
		{arg: "Router:^1(%d%d%d)$=sofia/internal/%1@pbx:5060:^(%d+)#$=sip:%1@[::1]:5080;transport=tcp:weight=2", builtin: "router", app: "router", weight: 2, wset: true,
			args: map[string]string{"^1(%d%d%d)$": "sofia/internal/%1@pbx:5060", "^(%d+)#$": "sip:%1@[::1]:5080;transport=tcp"}},
		{arg: "calls.lua:^.*$=x:n=1", path: "calls.lua", app: "calls", weight: 1, args: map[string]string{"^.*$": "x", "n": "1"}},
		// A ':' inside a value stays there unless a name or a '^' key follows.
		{arg: "calls.lua:url=sip:1000@pbx:5060;transport=tcp", path: "calls.lua", app: "calls", weight: 1,
			args: map[string]string{"url": "sip:1000@pbx:5060;transport=tcp"}},
		{arg: "calls.lua:url=a:^x y=1", path: "calls.lua", app: "calls", weight: 1, args: map[string]string{"url": "a:^x y=1"}},
	}
	for _, tt := range tests {
		t.Run(tt.arg, func(t *testing.T) {
			sp, err := ParseSpec(tt.arg)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sp.Path != tt.path || sp.Builtin != tt.builtin || sp.App != tt.app || sp.Weight != tt.weight || sp.WeightSet != tt.wset || !maps.Equal(sp.Args, tt.args) || sp.Arg != tt.arg {
				t.Fatalf("got %+v", sp)
			}
		})
	}
}

func TestParseSpecs(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	writeFile(t, "a.lua", "")
	writeFile(t, "b.lua", "")
	writeFile(t, "x/a.lua", "")

	tests := []struct {
		args []string
		err  string
		apps []string // id:weight:nscripts
	}{
		{args: []string{"a.lua", "b.lua:weight=3", "toneplay"}, apps: []string{"a:1:1", "b:3:1", "toneplay:1:1"}},
		{args: []string{"a.lua:app=a", "x/a.lua"}, err: `both have app id "a"`},
		{args: []string{"a.lua:app=m:weight=2", "b.lua:app=m:k=v"}, apps: []string{"m:2:2"}},
		{args: []string{"a.lua:app=m", "toneplay:app=m"}, apps: []string{"m:1:2"}},
		{args: []string{"a.lua", "x/a.lua"}, err: `both have app id "a": name the app of each with :app=ID`},
		{args: []string{"a.lua", "./a.lua"}, err: "given twice"},
		{args: []string{"toneplay", "TonePlay:weight=2"}, err: "given twice"},
		{args: []string{"a.lua:app=m:weight=2", "b.lua:app=m:weight=3"}, err: "weights 2 and 3"},
		{args: []string{"a.lua:app=m:k=1", "b.lua:app=m:k=2"}, err: `option k="1" and k="2"`},
		{args: []string{"a.lua", "nope.lua", "nothing"}, err: "nope.lua: no such file\nscript nothing: no such file or built-in"},
		{args: nil, err: "no script given"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			specs, err := ParseSpecs(tt.args)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			gs, err := group(specs)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, g := range gs {
				got = append(got, g.id+":"+strconv.Itoa(g.weight)+":"+strconv.Itoa(len(g.specs)))
			}
			if strings.Join(got, " ") != strings.Join(tt.apps, " ") {
				t.Fatalf("apps %v, want %v", got, tt.apps)
			}
		})
	}
}
