// Package hrtest reproduces, on a real filesystem, the ways editors and tools
// save a file, so that tests of hot reload (in hotreload and in the host) can
// run every save style against a live watcher, and helpers to wait for
// hotreload updates with a deadline.
package hrtest

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/switchlua/switchlua/hotreload"
)

// Style is one way of saving a file.
type Style int

// The save styles of issue 4.
const (
	// InPlace truncates the file and writes the new content into the same
	// inode (`cat > f`, editors with backupcopy=yes).
	InPlace Style = iota
	// Atomic writes a temporary file next to it and renames it over the
	// file (most editors, `sed -i`, config management tools).
	Atomic
	// Vim is vim's `backupcopy=no` save: create and delete the `4913`
	// probe, rename the file to `file~`, write a new file, delete `file~`.
	Vim
	// Recreate deletes the file and creates it again.
	Recreate
)

// Styles lists every Style, for table-driven tests.
var Styles = []Style{InPlace, Atomic, Vim, Recreate}

// String names the style.
func (s Style) String() string {
	switch s {
	case InPlace:
		return "in-place"
	case Atomic:
		return "temp-and-rename"
	case Vim:
		return "vim-backup-rename"
	case Recreate:
		return "delete-and-recreate"
	}
	return fmt.Sprintf("Style(%d)", int(s))
}

// Save writes data to path in the given style. The file's directory must
// exist; for InPlace, Vim and Recreate the file should exist already (it is
// created if not).
func Save(style Style, path string, data []byte) error {
	switch style {
	case InPlace:
		return WriteInPlace(path, data)
	case Atomic:
		return WriteAtomic(path, data)
	case Vim:
		return WriteVim(path, data)
	case Recreate:
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			return err
		}
		return writeNew(path, data)
	}
	return fmt.Errorf("hrtest: unknown style %d", int(style))
}

// WriteInPlace truncates path and writes data into the same file.
func WriteInPlace(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// WriteAtomic writes data to a hidden temporary file in path's directory and
// renames it over path.
func WriteAtomic(path string, data []byte) error {
	dir, base := filepath.Split(path)
	tmp, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// WriteVim saves like vim with `:set backupcopy=no`: it creates and deletes
// the `4913` probe file, renames path to `path~`, writes data to a new path
// and deletes the backup.
func WriteVim(path string, data []byte) error {
	dir := filepath.Dir(path)
	probe := filepath.Join(dir, "4913")
	if err := writeNew(probe, nil); err != nil {
		return err
	}
	if err := os.Remove(probe); err != nil {
		return err
	}
	backup := path + "~"
	if err := os.Rename(path, backup); err != nil && !os.IsNotExist(err) {
		return err
	}
	if err := writeNew(path, data); err != nil {
		return err
	}
	if err := os.Remove(backup); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Next waits up to timeout for the next update on ch. ok is false on timeout
// or if ch is closed.
func Next(ch <-chan hotreload.Update, timeout time.Duration) (u hotreload.Update, ok bool) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case u, ok = <-ch:
		return u, ok
	case <-t.C:
		return hotreload.Update{}, false
	}
}

// Until waits up to timeout for an update on ch for which match returns true,
// and returns it with the updates received before it.
func Until(ch <-chan hotreload.Update, timeout time.Duration, match func(hotreload.Update) bool) (u hotreload.Update, before []hotreload.Update, ok bool) {
	deadline := time.Now().Add(timeout)
	for {
		u, ok := Next(ch, time.Until(deadline))
		if !ok {
			return hotreload.Update{}, before, false
		}
		if match(u) {
			return u, before, true
		}
		before = append(before, u)
	}
}

// Quiet collects the updates that arrive on ch until none has arrived for
// the quiet duration.
func Quiet(ch <-chan hotreload.Update, quiet time.Duration) []hotreload.Update {
	var got []hotreload.Update
	for {
		u, ok := Next(ch, quiet)
		if !ok {
			return got
		}
		got = append(got, u)
	}
}
