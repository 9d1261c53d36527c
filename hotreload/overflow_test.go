package hotreload

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
)

// TestOverflowRescans loses events on purpose (the directory's watch is
// dropped behind the Watcher's back), then reports an overflow as fsnotify
// would: the rescan finds the changes and watches the directory again.
func TestOverflowRescans(t *testing.T) {
	dir := t.TempDir()
	app := filepath.Join(dir, "app.lua")
	gone := filepath.Join(dir, "gone.lua")
	if err := os.WriteFile(app, []byte("version = 1"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(gone, []byte("version = 1"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := New([]string{dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	recv := func() Update {
		t.Helper()
		select {
		case u := <-w.Updates():
			return u
		case <-time.After(5 * time.Second):
			t.Fatal("no update")
		}
		return Update{}
	}
	recv()
	recv()

	if err := w.fsw.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(app, []byte("version = 2"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(gone); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "new.lua"), []byte("version = 1"), 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case u := <-w.Updates():
		t.Fatalf("update %+v while the watch is gone", u)
	case <-time.After(300 * time.Millisecond):
	}

	w.fsw.Errors <- fsnotify.ErrEventOverflow
	got := map[string]Update{}
	for len(got) < 3 {
		u := recv()
		got[filepath.Base(u.Path)] = u
	}
	if u := got["app.lua"]; u.Err != nil || u.Proto == nil || u.Removed {
		t.Errorf("app.lua: %+v", u)
	}
	if u := got["gone.lua"]; !u.Removed {
		t.Errorf("gone.lua: %+v", u)
	}
	if u := got["new.lua"]; u.Proto == nil {
		t.Errorf("new.lua: %+v", u)
	}
	if st := w.Stats(); st.Rescans != 1 || st.Files != 2 {
		t.Errorf("stats %+v", st)
	}
	// Watched again.
	if err := os.WriteFile(app, []byte("version = 3"), 0o644); err != nil {
		t.Fatal(err)
	}
	if u := recv(); u.Path != app || u.Generation != 6 {
		t.Errorf("update %+v; want app.lua as generation 6", u)
	}
}
