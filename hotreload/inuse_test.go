package hotreload_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/switchlua/switchlua/hotreload"
	"github.com/switchlua/switchlua/hotreload/hrtest"
)

// eventually bounds the waits of the in-use tests, which go through the
// debounce and the directory polling: generous for a loaded 2-core machine.
const eventually = 15 * time.Second

// holdDir starts a process whose working directory is dir, as a shell that
// did `cd dir` or `cd dir && switchlua run` would, and kills it when the
// test ends. While it runs, Linux reports no IN_DELETE_SELF for dir when it
// is removed.
func holdDir(t *testing.T, dir string) *exec.Cmd {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("a directory in use cannot be removed on Windows")
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep command")
	}
	cmd := exec.Command(sleep, "120")
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd
}

// await waits for the update publishing version v of path; only removals of
// path may come before it.
func await(t *testing.T, w *hotreload.Watcher, path, v string) {
	t.Helper()
	u, before, ok := hrtest.Until(w.Updates(), eventually, func(u hotreload.Update) bool {
		return u.Path == path && !u.Removed
	})
	for _, b := range before {
		if b.Path != path || !b.Removed {
			t.Errorf("unexpected update %+v before %s %s", b, path, v)
		}
	}
	if !ok {
		t.Fatalf("%s %s not published within %v (before: %+v)", path, v, eventually, before)
	}
	if u.Err != nil || version(t, u.Proto) != v {
		t.Fatalf("update %+v; want %s %s", u, path, v)
	}
}

// TestDirectoryInUseRemovedAndRecreated removes and recreates the watched
// directory while another process has it as its working directory, so the
// directory's own watch never reports the removal: the Watcher must still
// notice, watch the new directory and apply the new script and later saves.
func TestDirectoryInUseRemovedAndRecreated(t *testing.T) {
	cases := []struct {
		name  string
		empty bool // the directory starts empty
		// remove removes dir (holding app.lua unless empty), waiting for
		// updates as it goes if it likes.
		remove func(t *testing.T, w *hotreload.Watcher, dir, app string)
	}{
		{"replaced-at-once", false, func(t *testing.T, w *hotreload.Watcher, dir, app string) {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
		}},
		{"removed-then-recreated", false, func(t *testing.T, w *hotreload.Watcher, dir, app string) {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
			if u, ok := hrtest.Next(w.Updates(), eventually); !ok || u.Path != app || !u.Removed {
				t.Fatalf("update %+v, %v; want app removed", u, ok)
			}
		}},
		{"emptied-then-removed", false, func(t *testing.T, w *hotreload.Watcher, dir, app string) {
			if err := os.Remove(app); err != nil {
				t.Fatal(err)
			}
			// Published once the debounce ended: the folder was still there
			// then, and is removed only now.
			if u, ok := hrtest.Next(w.Updates(), eventually); !ok || u.Path != app || !u.Removed {
				t.Fatalf("update %+v, %v; want app removed", u, ok)
			}
			if err := os.Remove(dir); err != nil {
				t.Fatal(err)
			}
		}},
		{"empty-from-the-start", true, func(t *testing.T, w *hotreload.Watcher, dir, app string) {
			if err := os.Remove(dir); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "scripts")
			app := filepath.Join(dir, "app.lua")
			initial := 0
			if c.empty {
				if err := os.Mkdir(dir, 0o755); err != nil {
					t.Fatal(err)
				}
			} else {
				write(t, app, script("v1"))
				initial = 1
			}
			holder := holdDir(t, dir)
			w := start(t, []string{dir}, hotreload.Options{}, initial)

			c.remove(t, w, dir, app)
			if runtime.GOOS == "linux" {
				// The premise: the process is still in the removed folder.
				cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", holder.Process.Pid))
				if err != nil || !strings.HasSuffix(cwd, " (deleted)") {
					t.Fatalf("holder's cwd %q, %v; want the removed folder", cwd, err)
				}
			}
			write(t, app, script("v2")) // creates the new folder too
			await(t, w, app, "v2")
			// The new folder is watched: later saves are applied too.
			if err := hrtest.WriteAtomic(app, script("v3")); err != nil {
				t.Fatal(err)
			}
			await(t, w, app, "v3")
			if err := hrtest.WriteInPlace(app, script("v4")); err != nil {
				t.Fatal(err)
			}
			await(t, w, app, "v4")
			if st := w.Stats(); st.Failed != 0 || st.Rescans < 1 || st.Dirs != 1 {
				t.Errorf("stats %+v; want no failure, a rescan, one directory", st)
			}
		})
	}
}
