package hotreload_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/switchlua/switchlua/hotreload"
	"github.com/switchlua/switchlua/hotreload/hrtest"
)

// A host watches its scripts folder, loads the initial scan, then applies
// each update between two events.
func ExampleWatcher() {
	dir, _ := os.MkdirTemp("", "scripts")
	defer os.RemoveAll(dir)
	app := filepath.Join(dir, "toneplay.lua")
	os.WriteFile(app, []byte(`function on_park(sess) sess:answer() end`), 0o644)

	w, err := hotreload.New([]string{dir}, hotreload.Options{})
	if err != nil {
		panic(err)
	}
	defer w.Close()
	show := func(u hotreload.Update) {
		switch {
		case u.Err != nil:
			fmt.Printf("%s: keep generation %d: %v\n", u.Name, u.Generation, filepath.Base(u.Err.Error()))
		case u.Removed:
			fmt.Printf("%s: removed (generation %d)\n", u.Name, u.Generation)
		default:
			fmt.Printf("%s: load generation %d\n", u.Name, u.Generation)
		}
	}
	next := func() { show(<-w.Updates()) }

	next() // the initial scan
	hrtest.WriteAtomic(app, []byte("function on_park(sess)\n  sess:answer(\nend\n"))
	next()
	hrtest.WriteAtomic(app, []byte(`function on_park(sess) sess:hangup() end`))
	next()
	os.Remove(app)
	next()
	// Output:
	// toneplay: load generation 1
	// toneplay: keep generation 1: toneplay.lua:3: syntax error near 'end'
	// toneplay: load generation 2
	// toneplay: removed (generation 3)
}
