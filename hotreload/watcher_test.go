package hotreload_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/switchlua/switchlua/hotreload"
	"github.com/switchlua/switchlua/hotreload/hrtest"
)

// wait bounds every wait for an update: generous for a loaded 2-core
// machine; a passing test never waits that long.
const wait = 5 * time.Second

// quiet is how long a test listens for updates that should not come.
const quiet = 400 * time.Millisecond

func script(version string) []byte {
	return fmt.Appendf(nil, "version = %q\nfunction on_park(sess)\n  sess:answer()\nend\n", version)
}

// version runs proto in a fresh Lua state and returns its global `version`
// ("" if unset).
func version(t *testing.T, proto *lua.FunctionProto) string {
	t.Helper()
	if proto == nil {
		t.Fatal("nil proto")
	}
	L := lua.NewState()
	defer L.Close()
	L.Push(L.NewFunctionFromProto(proto))
	if err := L.PCall(0, 0, nil); err != nil {
		t.Fatalf("running chunk: %v", err)
	}
	if v, ok := L.GetGlobal("version").(lua.LString); ok {
		return string(v)
	}
	return ""
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a log sink safe for the watcher goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start makes a Watcher on dirs and consumes the initial scan, which must
// publish exactly initial updates.
func start(t *testing.T, dirs []string, opts hotreload.Options, initial int) *hotreload.Watcher {
	t.Helper()
	w, err := hotreload.New(dirs, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	for i := 0; i < initial; i++ {
		u, ok := hrtest.Next(w.Updates(), wait)
		if !ok {
			t.Fatalf("initial scan: got %d updates, want %d", i, initial)
		}
		if u.Generation != uint64(i+1) {
			t.Fatalf("initial update %d has generation %d", i, u.Generation)
		}
	}
	return w
}

// next waits for the next update and fails the test on timeout.
func next(t *testing.T, w *hotreload.Watcher) hotreload.Update {
	t.Helper()
	u, ok := hrtest.Next(w.Updates(), wait)
	if !ok {
		t.Fatalf("no update within %v", wait)
	}
	return u
}

// none fails the test if an update arrives within the quiet period.
func none(t *testing.T, w *hotreload.Watcher) {
	t.Helper()
	if got := hrtest.Quiet(w.Updates(), quiet); len(got) > 0 {
		t.Fatalf("unexpected updates: %+v", got)
	}
}

func TestInitialScan(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "b.lua"), script("b"))
	write(t, filepath.Join(dir, "a.lua"), []byte(`local u = require("lib.util")`+"\nversion = 'a'\n"))
	write(t, filepath.Join(dir, "lib", "util.lua"), script("util"))
	write(t, filepath.Join(dir, "bad.lua"), []byte("function x(\n"))
	for _, ignored := range []string{".hidden.lua", "a.lua~", ".a.lua.swp", "4913", "notes.txt", ".git/x.lua", "a.lua.tmp"} {
		write(t, filepath.Join(dir, ignored), script("ignored"))
	}
	w, err := hotreload.New([]string{dir}, hotreload.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	var got []hotreload.Update
	for i := 0; i < 4; i++ {
		got = append(got, next(t, w))
	}
	none(t, w)
	wantPaths := []string{"a.lua", "b.lua", "bad.lua", "lib/util.lua"}
	gen := uint64(0)
	for i, u := range got {
		if u.Path != filepath.Join(dir, wantPaths[i]) {
			t.Errorf("update %d path %s; want %s", i, u.Path, wantPaths[i])
		}
		if u.Err == nil {
			gen++
			if u.Generation != gen {
				t.Errorf("%s: generation %d; want %d", u.Path, u.Generation, gen)
			}
		}
	}
	if got[0].Name != "a" || got[3].Name != "lib.util" {
		t.Errorf("names %q %q", got[0].Name, got[3].Name)
	}
	if len(got[0].Requires) != 1 || got[0].Requires[0] != "lib.util" {
		t.Errorf("a.lua requires %q", got[0].Requires)
	}
	if got[2].Err == nil || got[2].Proto != nil || !strings.Contains(got[2].Err.Error(), "bad.lua:1: syntax error near <eof>") {
		t.Errorf("bad.lua: %+v", got[2])
	}
	m, err := w.Module("lib.util")
	if err != nil || version(t, m.Proto) != "util" {
		t.Errorf("Module(lib.util) = %+v, %v", m, err)
	}
	if _, err := w.Module("bad"); err == nil || !strings.Contains(err.Error(), "bad.lua:1:") {
		t.Errorf("Module(bad) error %v; want the compile error", err)
	}
	if _, err := w.Module("nope"); err == nil || !strings.Contains(err.Error(), "module 'nope' not found") {
		t.Errorf("Module(nope) error %v", err)
	}
	if s, ok := w.Script(filepath.Join(dir, "b.lua")); !ok || version(t, s.Proto) != "b" {
		t.Errorf("Script(b.lua) = %+v, %v", s, ok)
	}
	if _, ok := w.Script(filepath.Join(dir, ".hidden.lua")); ok {
		t.Error("a dotfile was loaded")
	}
	if n := len(w.Files()); n != 4 {
		t.Errorf("Files() has %d entries; want 4", n)
	}
	st := w.Stats()
	if st.Generation != 3 || st.Files != 3 || st.Failed != 1 || st.Reloads != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f.lua")
	write(t, file, script("x"))
	for _, dirs := range [][]string{nil, {filepath.Join(dir, "missing")}, {file}} {
		if w, err := hotreload.New(dirs, hotreload.Options{}); err == nil {
			w.Close()
			t.Errorf("New(%q) succeeded", dirs)
		}
	}
}

// TestSaveStyles saves an app in each style of issue 4 and expects exactly
// one new version, never a removal.
func TestSaveStyles(t *testing.T) {
	for _, style := range hrtest.Styles {
		t.Run(style.String(), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "app.lua")
			write(t, path, script("v1"))
			w := start(t, []string{dir}, hotreload.Options{}, 1)

			for i, v := range []string{"v2", "v3"} {
				saved := time.Now()
				if err := hrtest.Save(style, path, script(v)); err != nil {
					t.Fatal(err)
				}
				u := next(t, w)
				if u.Removed || u.Err != nil || u.Path != path {
					t.Fatalf("save %s: update %+v", v, u)
				}
				if got := version(t, u.Proto); got != v {
					t.Fatalf("save %s: running %q", v, got)
				}
				if u.Generation != uint64(2+i) {
					t.Errorf("save %s: generation %d; want %d", v, u.Generation, 2+i)
				}
				if u.Event.Before(saved) {
					t.Errorf("event time %v before the save %v", u.Event, saved)
				}
				none(t, w)
			}
			if st := w.Stats(); st.Reloads != 2 || st.Failed != 0 || st.Removed != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// TestInPlaceHalfWritten covers the moments an in-place save is empty or
// half written.
func TestInPlaceHalfWritten(t *testing.T) {
	full := script("v2")
	half := full[:len(full)/2+5] // inside on_park: a syntax error at EOF

	t.Run("rest-within-debounce", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		path := filepath.Join(dir, "app.lua")
		write(t, path, script("v1"))
		w := start(t, []string{dir}, hotreload.Options{}, 1)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(half)
		time.Sleep(20 * time.Millisecond)
		f.Write(full[len(half):])
		f.Close()
		u := next(t, w)
		if u.Err != nil || version(t, u.Proto) != "v2" {
			t.Fatalf("update %+v", u)
		}
		none(t, w)
	})

	t.Run("syntax-error-fixed-a-moment-later", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		path := filepath.Join(dir, "app.lua")
		write(t, path, script("v1"))
		// A long Settle, so the writer's pause (longer than the debounce)
		// never outlasts it, even on a loaded machine.
		w := start(t, []string{dir}, hotreload.Options{Settle: 3 * time.Second}, 1)
		if err := hrtest.WriteInPlace(path, half); err != nil {
			t.Fatal(err)
		}
		time.Sleep(250 * time.Millisecond) // the debounce has ended: half is looked at
		if err := hrtest.WriteInPlace(path, full); err != nil {
			t.Fatal(err)
		}
		u := next(t, w)
		if u.Err != nil || version(t, u.Proto) != "v2" {
			t.Fatalf("update %+v", u)
		}
		if st := w.Stats(); st.Failed != 0 {
			t.Errorf("a half write counted as a failed reload: %+v", st)
		}
	})

	t.Run("empty-then-written", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		path := filepath.Join(dir, "app.lua")
		write(t, path, script("v1"))
		w := start(t, []string{dir}, hotreload.Options{Settle: 3 * time.Second}, 1)
		if err := hrtest.WriteInPlace(path, nil); err != nil {
			t.Fatal(err)
		}
		time.Sleep(250 * time.Millisecond)
		if err := hrtest.WriteInPlace(path, full); err != nil {
			t.Fatal(err)
		}
		u := next(t, w)
		if u.Err != nil || version(t, u.Proto) != "v2" {
			t.Fatalf("the empty file was published: %+v", u)
		}
	})

	t.Run("emptied-for-good", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		path := filepath.Join(dir, "app.lua")
		write(t, path, script("v1"))
		w := start(t, []string{dir}, hotreload.Options{Settle: 200 * time.Millisecond}, 1)
		if err := hrtest.WriteInPlace(path, nil); err != nil {
			t.Fatal(err)
		}
		u := next(t, w)
		if u.Err != nil || u.Removed || u.Proto == nil || version(t, u.Proto) != "" || u.Generation != 2 {
			t.Fatalf("update %+v; want the empty chunk as generation 2", u)
		}
	})

	t.Run("cut-short-for-good", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		path := filepath.Join(dir, "app.lua")
		write(t, path, script("v1"))
		w := start(t, []string{dir}, hotreload.Options{Settle: 200 * time.Millisecond}, 1)
		if err := hrtest.WriteInPlace(path, half); err != nil {
			t.Fatal(err)
		}
		u := next(t, w)
		var se *hotreload.SyntaxError
		if !errors.As(u.Err, &se) || !se.AtEOF || u.Generation != 1 || version(t, u.Proto) != "v1" {
			t.Fatalf("update %+v; want an EOF syntax error keeping generation 1", u)
		}
		if st := w.Stats(); st.Failed != 1 {
			t.Errorf("stats %+v", st)
		}
	})
}

func TestDeleteThenRecreateLater(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "app.lua")
	write(t, path, script("v1"))
	w := start(t, []string{dir}, hotreload.Options{}, 1)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	u := next(t, w)
	if !u.Removed || u.Path != path || u.Generation != 2 || u.Proto != nil {
		t.Fatalf("update %+v; want a removal as generation 2", u)
	}
	if _, ok := w.Script(path); ok {
		t.Error("Script still knows the removed file")
	}
	write(t, path, script("v2"))
	u = next(t, w)
	if u.Removed || u.Err != nil || version(t, u.Proto) != "v2" || u.Generation != 3 {
		t.Fatalf("update %+v; want v2 as generation 3", u)
	}
	if st := w.Stats(); st.Removed != 1 || st.Reloads != 1 {
		t.Errorf("stats %+v", st)
	}
}

// Recursive: lib/util.lua is watched although no script requires it.
func TestDirectoryRemovedAndRecreated(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	dir := filepath.Join(parent, "scripts")
	app := filepath.Join(dir, "app.lua")
	util := filepath.Join(dir, "lib", "util.lua")
	write(t, app, script("v1"))
	write(t, util, script("u1"))
	w := start(t, []string{dir}, hotreload.Options{Poll: 50 * time.Millisecond, Recursive: true}, 2)

	// Removed: both files are published as removed.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	removed := map[string]bool{}
	for len(removed) < 2 {
		u := next(t, w)
		if !u.Removed {
			t.Fatalf("update %+v; want removals", u)
		}
		removed[u.Path] = true
	}
	if !removed[app] || !removed[util] {
		t.Fatalf("removed %v", removed)
	}

	// Recreated with one file: it is found, and the directory is watched again.
	write(t, app, script("v2"))
	u := next(t, w)
	if u.Path != app || version(t, u.Proto) != "v2" {
		t.Fatalf("update %+v; want app v2", u)
	}
	time.Sleep(150 * time.Millisecond) // let the poll re-add the watch if the content arrived first
	if err := hrtest.WriteAtomic(app, script("v3")); err != nil {
		t.Fatal(err)
	}
	u = next(t, w)
	if u.Path != app || version(t, u.Proto) != "v3" {
		t.Fatalf("update %+v; want app v3 (the directory is watched again)", u)
	}
	// A subdirectory created in the recreated directory is watched too.
	write(t, util, script("u2"))
	u = next(t, w)
	if u.Path != util || version(t, u.Proto) != "u2" {
		t.Fatalf("update %+v; want lib/util.lua u2", u)
	}
	if err := hrtest.WriteAtomic(util, script("u3")); err != nil {
		t.Fatal(err)
	}
	// app.lua has no require, so only util is published.
	u = next(t, w)
	if u.Path != util || version(t, u.Proto) != "u3" {
		t.Fatalf("update %+v; want lib/util.lua u3", u)
	}
	if st := w.Stats(); st.Rescans < 1 {
		t.Errorf("stats %+v; want a rescan", st)
	}
}

func TestDirectoryReplacedWithinDebounce(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	dir := filepath.Join(parent, "scripts")
	app := filepath.Join(dir, "app.lua")
	write(t, app, script("v1"))
	w := start(t, []string{dir}, hotreload.Options{Poll: 20 * time.Millisecond, Debounce: 300 * time.Millisecond}, 1)
	// Like `git checkout` of the folder: gone and back at once.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	write(t, app, script("v1"))
	none(t, w) // same content: nothing removed, nothing reloaded
	if err := hrtest.WriteInPlace(app, script("v2")); err != nil {
		t.Fatal(err)
	}
	u := next(t, w)
	if u.Removed || version(t, u.Proto) != "v2" {
		t.Fatalf("update %+v; want v2", u)
	}
}

// Recursive: lib/util.lua is watched although no script requires it.
func TestSubdirectoryRemovedAndRecreated(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	util := filepath.Join(dir, "lib", "util.lua")
	write(t, util, script("u1"))
	w := start(t, []string{dir}, hotreload.Options{Recursive: true}, 1)
	if err := os.RemoveAll(filepath.Join(dir, "lib")); err != nil {
		t.Fatal(err)
	}
	if u := next(t, w); !u.Removed || u.Path != util {
		t.Fatalf("update %+v; want util removed", u)
	}
	write(t, util, script("u2"))
	if u := next(t, w); u.Path != util || version(t, u.Proto) != "u2" {
		t.Fatalf("update %+v; want util u2", u)
	}
	if err := hrtest.WriteVim(util, script("u3")); err != nil {
		t.Fatal(err)
	}
	if u := next(t, w); u.Path != util || version(t, u.Proto) != "u3" {
		t.Fatalf("update %+v; want util u3", u)
	}
}

func TestBurstOfSaves(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "app.lua")
	write(t, path, script("v0"))
	// A debounce well above the burst's length, even on a loaded machine.
	w := start(t, []string{dir}, hotreload.Options{Debounce: 400 * time.Millisecond}, 1)
	for i := 1; i <= 20; i++ {
		style := hrtest.Styles[i%len(hrtest.Styles)]
		if err := hrtest.Save(style, path, script(fmt.Sprintf("v%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	u := next(t, w)
	if u.Err != nil || u.Removed || version(t, u.Proto) != "v20" || u.Generation != 2 {
		t.Fatalf("update %+v (version %q); want only v20 as generation 2", u, version(t, u.Proto))
	}
	none(t, w)
	if st := w.Stats(); st.Reloads != 1 {
		t.Errorf("stats %+v; want 1 reload", st)
	}
}

func TestIgnoredNames(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	app := filepath.Join(dir, "app.lua")
	write(t, app, script("v1"))
	w := start(t, []string{dir}, hotreload.Options{}, 1)
	for _, name := range []string{".app.lua", "app.lua~", ".app.lua.swp", ".app.lua.swx", "app.swp", "4913",
		"notes.txt", "app.lua.orig", ".cache/x.lua", "#app.lua#"} {
		write(t, filepath.Join(dir, name), script("ignored"))
	}
	if err := os.Chmod(app, 0o600); err != nil { // CHMOD only
		t.Fatal(err)
	}
	// A sentinel save: the first update must be it.
	sentinel := filepath.Join(dir, "sentinel.lua")
	write(t, sentinel, script("s"))
	u := next(t, w)
	if u.Path != sentinel {
		t.Fatalf("first update is %s; want the sentinel", u.Path)
	}
	none(t, w)
	// And a file in an ignored directory stays ignored after later writes.
	write(t, filepath.Join(dir, ".cache", "x.lua"), script("ignored2"))
	none(t, w)
}

func TestSyntaxErrorKeepsOldVersion(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "app.lua")
	write(t, path, script("v1"))
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	w := start(t, []string{dir}, hotreload.Options{Logger: log}, 1)

	bad := []byte("version = 'v2'\nfunction on_park(sess)\n  sess:answer(\nend\n")
	if err := hrtest.WriteAtomic(path, bad); err != nil {
		t.Fatal(err)
	}
	u := next(t, w)
	want := path + ":4: syntax error near 'end'"
	if u.Err == nil || u.Err.Error() != want {
		t.Fatalf("error %v; want %q", u.Err, want)
	}
	if u.Generation != 1 || version(t, u.Proto) != "v1" {
		t.Errorf("error update %+v; want it to carry the running generation 1", u)
	}
	s, _ := w.Script(path)
	if s.Err == nil || version(t, s.Proto) != "v1" {
		t.Errorf("Script after a bad save: %+v", s)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], want) || !strings.Contains(lines[0], "level=WARN") {
		t.Errorf("log %q; want one WARN line with %q", logs.String(), want)
	}
	// The same bad content saved again is not reported again.
	if err := hrtest.WriteInPlace(path, bad); err != nil {
		t.Fatal(err)
	}
	none(t, w)

	if err := hrtest.WriteAtomic(path, script("v3")); err != nil {
		t.Fatal(err)
	}
	u = next(t, w)
	if u.Err != nil || version(t, u.Proto) != "v3" || u.Generation != 2 {
		t.Fatalf("fixed update %+v; want v3 as generation 2", u)
	}
	if s, _ := w.Script(path); s.Err != nil || s.Generation != 2 {
		t.Errorf("Script after the fix: %+v", s)
	}
	if st := w.Stats(); st.Failed != 1 || st.Reloads != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestModuleChangeReloadsUsers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	lib := t.TempDir() // a second watched directory, searched after dir
	write(t, filepath.Join(dir, "app.lua"), []byte(`local mid = require("mid")`))
	write(t, filepath.Join(dir, "mid.lua"), []byte(`local u = require "lib.util" return {}`))
	write(t, filepath.Join(dir, "other.lua"), script("other"))
	write(t, filepath.Join(dir, "cycle_a.lua"), []byte(`require 'cycle_b'`))
	write(t, filepath.Join(dir, "cycle_b.lua"), []byte(`require 'cycle_a' require 'shared'`))
	util := filepath.Join(lib, "lib", "util.lua")
	write(t, util, script("u1"))
	shared := filepath.Join(lib, "shared.lua")
	write(t, shared, script("s1"))
	w := start(t, []string{dir, lib}, hotreload.Options{}, 7)

	if err := hrtest.WriteAtomic(util, script("u2")); err != nil {
		t.Fatal(err)
	}
	u := next(t, w)
	if u.Path != util || version(t, u.Proto) != "u2" || u.Cause != "" {
		t.Fatalf("first update %+v; want the module itself", u)
	}
	m, err := w.Module("lib.util")
	if err != nil || version(t, m.Proto) != "u2" || m.Generation != u.Generation {
		t.Fatalf("Module(lib.util) = %+v, %v", m, err)
	}
	want := []string{filepath.Join(dir, "app.lua"), filepath.Join(dir, "mid.lua")}
	gen := u.Generation
	for _, p := range want {
		d := next(t, w)
		if d.Path != p || d.Cause != util || d.Proto == nil || d.Generation <= gen {
			t.Fatalf("dependent update %+v; want %s caused by %s", d, p, util)
		}
		gen = d.Generation
	}
	none(t, w)

	// A cycle terminates, and both members are republished.
	if err := hrtest.WriteInPlace(shared, script("s2")); err != nil {
		t.Fatal(err)
	}
	got := []string{next(t, w).Path, next(t, w).Path, next(t, w).Path}
	wantCycle := []string{shared, filepath.Join(dir, "cycle_a.lua"), filepath.Join(dir, "cycle_b.lua")}
	if strings.Join(got, " ") != strings.Join(wantCycle, " ") {
		t.Fatalf("updates %q; want %q", got, wantCycle)
	}
	none(t, w)

	// A broken module republishes nobody.
	if err := hrtest.WriteInPlace(util, []byte("return {")); err != nil {
		t.Fatal(err)
	}
	if u := next(t, w); u.Err == nil || u.Path != util {
		t.Fatalf("update %+v; want util's error", u)
	}
	none(t, w)
	if m, err := w.Module("lib.util"); err != nil || version(t, m.Proto) != "u2" {
		t.Fatalf("Module after a bad save = %+v, %v; want u2 still", m, err)
	}

	// A module created in the first directory shadows the second's and
	// reloads its users.
	write(t, filepath.Join(dir, "shared.lua"), script("s3"))
	got = []string{next(t, w).Path, next(t, w).Path, next(t, w).Path}
	wantCycle[0] = filepath.Join(dir, "shared.lua")
	if strings.Join(got, " ") != strings.Join(wantCycle, " ") {
		t.Fatalf("updates %q; want %q", got, wantCycle)
	}
	if m, _ := w.Module("shared"); version(t, m.Proto) != "s3" {
		t.Errorf("Module(shared) is not the shadowing file")
	}
}

func TestClose(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.lua"), script("a"))
	w, err := hotreload.New([]string{dir}, hotreload.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	for range w.Updates() { // closed: the loop ends
	}
}
