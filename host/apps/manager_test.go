package apps

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchlua/switchlua/hotreload"
)

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	writeFile(t, "good.lua", "function on_park(sess) end\n")
	writeFile(t, "bad.lua", "-- a comment\nfunction on_park(sess) if then end end\n")
	writeFile(t, "gone.lua", "")
	for _, noReload := range []bool{false, true} {
		specs, err := ParseSpecs([]string{"good.lua", "bad.lua"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = New(specs, Options{NoReload: noReload})
		var se *hotreload.SyntaxError
		if !errors.As(err, &se) || err.Error() != "bad.lua:2: syntax error near 'then'" {
			t.Fatalf("noReload=%v: err = %v, want bad.lua:2: syntax error", noReload, err)
		}
	}
	specs, err := ParseSpecs([]string{"good.lua", "gone.lua"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove("gone.lua"); err != nil {
		t.Fatal(err)
	}
	if _, err := New(specs, Options{}); err == nil || !strings.Contains(err.Error(), "gone.lua") {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := New(nil, Options{}); err == nil {
		t.Fatal("no scripts: want an error")
	}
}

func TestModuleResolution(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "app.lua"), "local u = require('lib.util')\n")
	writeFile(t, filepath.Join(dir, "lib/util.lua"), "return {}\n")
	writeFile(t, filepath.Join(dir, "lib/broken.lua"), "return {\n = }\n")
	for _, noReload := range []bool{false, true} {
		specs, err := ParseSpecs([]string{filepath.Join(dir, "app.lua")})
		if err != nil {
			t.Fatal(err)
		}
		m, err := New(specs, Options{NoReload: noReload})
		if err != nil {
			t.Fatal(err)
		}
		s, err := m.Module("lib.util")
		if err != nil || s.Proto == nil || s.Path != filepath.Join(dir, "lib/util.lua") {
			t.Errorf("noReload=%v: lib.util: %+v %v", noReload, s, err)
		}
		if _, err := m.Module("nope"); err == nil || !strings.Contains(err.Error(), "nope.lua") {
			t.Errorf("noReload=%v: missing module: %v", noReload, err)
		}
		if _, err := m.Module("lib.broken"); err == nil || !strings.Contains(err.Error(), "broken.lua:2:") {
			t.Errorf("noReload=%v: broken module: %v", noReload, err)
		}
		for _, bad := range []string{"../etc/passwd", "a/b", ".x", "x.", "a..b", ""} {
			if _, err := m.Module(bad); err == nil {
				t.Errorf("noReload=%v: module %q resolved", noReload, bad)
			}
		}
		if m.Watching() == noReload {
			t.Errorf("noReload=%v: watching %v", noReload, m.Watching())
		}
		m.Close()
		m.Close() // idempotent
	}
}
