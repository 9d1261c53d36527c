package hotreload_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/switchlua/switchlua/hotreload"
	"github.com/switchlua/switchlua/hotreload/hrtest"
)

// What is watched by default: the directories themselves and the
// subdirectories of required modules, nothing else.

// paths returns the Path of each update, relative to dir.
func paths(t *testing.T, dir string, us []hotreload.Update) []string {
	t.Helper()
	var out []string
	for _, u := range us {
		rel, err := filepath.Rel(dir, u.Path)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, filepath.ToSlash(rel))
	}
	return out
}

// An unrelated subdirectory with a broken .lua (think of --script ./app.lua
// run from $HOME) is neither watched nor reported; the subdirectory of a
// required module is.
func TestUnrelatedSubdirectoryIgnored(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	app := filepath.Join(dir, "app.lua")
	write(t, app, []byte(`local u = require("lib.util")`+"\nversion = 'a1'\n"))
	write(t, filepath.Join(dir, "lib", "util.lua"), script("u1"))
	write(t, filepath.Join(dir, "lib", "unused.lua"), []byte("function broken(\n"))
	broken := filepath.Join(dir, "projects", "other", "broken.lua")
	write(t, broken, []byte("function broken(\n"))
	write(t, filepath.Join(dir, "projects", "ok.lua"), script("x"))
	var logs syncBuffer
	w := start(t, []string{dir}, hotreload.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, 2)
	if got := paths(t, dir, w.Files()); !slices.Equal(got, []string{"app.lua", "lib/util.lua"}) {
		t.Fatalf("files %q", got)
	}
	if st := w.Stats(); st.Dirs != 2 || st.Failed != 0 {
		t.Fatalf("stats %+v; want 2 directories watched (the folder and lib), no failure", st)
	}
	if strings.Contains(logs.String(), "broken") {
		t.Fatalf("an unrelated file was reported:\n%s", logs.String())
	}
	// Saves there, and a new unrelated subdirectory, publish nothing.
	for _, style := range hrtest.Styles {
		if err := hrtest.Save(style, broken, script("still unrelated")); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(dir, "later", "new.lua"), script("n"))
	write(t, filepath.Join(dir, "lib", "unused.lua"), []byte("function still_broken(\n"))
	none(t, w)
	if st := w.Stats(); st.Dirs != 2 || st.Failed != 0 {
		t.Fatalf("stats %+v", st)
	}
	// The required module is watched: saving it reloads its user.
	if err := hrtest.WriteAtomic(filepath.Join(dir, "lib", "util.lua"), script("u2")); err != nil {
		t.Fatal(err)
	}
	if got := paths(t, dir, []hotreload.Update{next(t, w), next(t, w)}); !slices.Equal(got, []string{"lib/util.lua", "app.lua"}) {
		t.Fatalf("updates %q", got)
	}
	none(t, w)
	if strings.Contains(logs.String(), "broken") {
		t.Fatalf("an unrelated file was reported:\n%s", logs.String())
	}
}

// A module no script names literally (a computed require) is tracked from
// the first Module call: its directory is watched from then on.
func TestModuleOnDemand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "app.lua"), script("a"))
	dyn := filepath.Join(dir, "plugins", "dyn.lua")
	write(t, dyn, script("d1"))
	w := start(t, []string{dir}, hotreload.Options{}, 1)
	if st := w.Stats(); st.Dirs != 1 {
		t.Fatalf("stats %+v", st)
	}
	m, err := w.Module("plugins.dyn")
	if err != nil || version(t, m.Proto) != "d1" {
		t.Fatalf("Module(plugins.dyn) = %+v, %v", m, err)
	}
	if u := next(t, w); u.Path != dyn || u.Generation != 2 {
		t.Fatalf("update %+v; want the module as generation 2", u)
	}
	if st := w.Stats(); st.Dirs != 2 || st.Reloads != 0 {
		t.Fatalf("stats %+v", st)
	}
	if err := hrtest.WriteVim(dyn, script("d2")); err != nil {
		t.Fatal(err)
	}
	if u := next(t, w); u.Path != dyn || version(t, u.Proto) != "d2" {
		t.Fatalf("update %+v; want d2", u)
	}
	// A module that does not exist yet is found when it is created, with
	// its directory.
	if _, err := w.Module("later.mod"); err == nil || !strings.Contains(err.Error(), "module 'later.mod' not found") {
		t.Fatalf("Module(later.mod) error %v", err)
	}
	mod := filepath.Join(dir, "later", "mod.lua")
	write(t, mod, script("m1"))
	if u := next(t, w); u.Path != mod || version(t, u.Proto) != "m1" {
		t.Fatalf("update %+v; want later/mod.lua", u)
	}
	if m, err := w.Module("later.mod"); err != nil || version(t, m.Proto) != "m1" {
		t.Fatalf("Module(later.mod) = %+v, %v", m, err)
	}
}

// Without Recursive, the directory of a required module that is created,
// removed and recreated later is watched each time, and the module's users
// are republished.
func TestRequiredSubdirectoryComesAndGoes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	app := filepath.Join(dir, "app.lua")
	write(t, app, []byte(`local u = require "lib.deep.util"`))
	w := start(t, []string{dir}, hotreload.Options{}, 1)
	util := filepath.Join(dir, "lib", "deep", "util.lua")
	expect := func(v string) {
		t.Helper()
		u := next(t, w)
		if u.Path != util || version(t, u.Proto) != v {
			t.Fatalf("update %+v; want util %s", u, v)
		}
		if d := next(t, w); d.Path != app || d.Cause != util {
			t.Fatalf("update %+v; want app republished by util", d)
		}
	}
	write(t, util, script("u1"))
	expect("u1")
	if err := os.RemoveAll(filepath.Join(dir, "lib")); err != nil {
		t.Fatal(err)
	}
	if u := next(t, w); !u.Removed || u.Path != util {
		t.Fatalf("update %+v; want util removed", u)
	}
	write(t, util, script("u2"))
	expect("u2")
	if err := hrtest.WriteAtomic(util, script("u3")); err != nil {
		t.Fatal(err)
	}
	expect("u3")
	if st := w.Stats(); st.Dirs != 3 {
		t.Fatalf("stats %+v; want 3 directories", st)
	}
}

// A save that starts requiring a module publishes the module (first, with
// the smaller generation), then the script; the module is watched after.
func TestNewRequireTracksModule(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	app := filepath.Join(dir, "app.lua")
	write(t, app, script("a1"))
	util := filepath.Join(dir, "lib", "util.lua")
	write(t, util, script("u1"))
	w := start(t, []string{dir}, hotreload.Options{}, 1)
	if err := hrtest.WriteAtomic(app, []byte("local u = require('lib.util')\nversion = 'a2'\n")); err != nil {
		t.Fatal(err)
	}
	m, a := next(t, w), next(t, w)
	if m.Path != util || a.Path != app || m.Generation >= a.Generation || !slices.Equal(a.Requires, []string{"lib.util"}) {
		t.Fatalf("updates %+v, %+v; want util then app", m, a)
	}
	if err := hrtest.WriteInPlace(util, script("u2")); err != nil {
		t.Fatal(err)
	}
	if got := paths(t, dir, []hotreload.Update{next(t, w), next(t, w)}); !slices.Equal(got, []string{"lib/util.lua", "app.lua"}) {
		t.Fatalf("updates %q", got)
	}
}

// Options.Files: only those scripts and their modules count, not the other
// scripts beside them.
func TestFilesOption(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	app := filepath.Join(dir, "app.lua")
	write(t, app, []byte(`local u = require("util")`))
	write(t, filepath.Join(dir, "util.lua"), script("u1"))
	other := filepath.Join(dir, "other.lua")
	write(t, other, []byte("function broken(\n"))
	var logs syncBuffer
	w := start(t, []string{dir}, hotreload.Options{Files: []string{app}, Logger: slog.New(slog.NewTextHandler(&logs, nil))}, 2)
	if got := paths(t, dir, w.Files()); !slices.Equal(got, []string{"app.lua", "util.lua"}) {
		t.Fatalf("files %q", got)
	}
	if err := hrtest.WriteInPlace(other, []byte("function still_broken(\n")); err != nil {
		t.Fatal(err)
	}
	none(t, w)
	if strings.Contains(logs.String(), "other.lua") || w.Stats().Failed != 0 {
		t.Fatalf("another script was reported:\n%s", logs.String())
	}
	if err := hrtest.WriteAtomic(filepath.Join(dir, "util.lua"), script("u2")); err != nil {
		t.Fatal(err)
	}
	if got := paths(t, dir, []hotreload.Update{next(t, w), next(t, w)}); !slices.Equal(got, []string{"util.lua", "app.lua"}) {
		t.Fatalf("updates %q", got)
	}
	if _, err := hotreload.New([]string{dir}, hotreload.Options{Files: []string{filepath.Join(t.TempDir(), "x.lua")}}); err == nil {
		t.Fatal("a file outside the directories was accepted")
	}
}
