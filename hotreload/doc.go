// Package hotreload watches directories of Lua scripts and publishes a new,
// compiled version of a script each time it is saved, so a running switchlua
// host can swap apps without a restart.
//
// # What is watched
//
// The Watcher watches DIRECTORIES, never the files: an editor that saves by
// writing a new file and renaming it over the old one replaces the inode, and
// a watch on the file would die with it.
//
// It watches only what matters, so that `--script ./app.lua` run from a
// home directory watches that directory, not the whole tree under it, and
// an unrelated broken script somewhere below is never compiled or reported:
//
//   - The directories given to New, themselves: not their subdirectories.
//     Their own scripts count (or only Options.Files among them).
//   - The modules those scripts require: `require("lib.util")` (a literal
//     name, read from the syntax tree when the script compiles) or a first
//     Watcher.Module("lib.util") (a computed name, asked for by the host's
//     require) makes lib/util.lua a script in every watched directory, and
//     watches the subdirectories on the way to it (lib/), now if they exist
//     or as soon as they are created. A module asked for once stays watched
//     for the Watcher's life. Other files in those subdirectories do not
//     count.
//   - With Options.Recursive, every subdirectory too (except
//     dot-directories), and every script in them: the behaviour before
//     this option existed.
//
// Only files named `*.lua` count. Dotfiles and dot-directories, backup
// names ending in `~`, swap files (`.swp`, `.swx`) and vim's `4913` probe file
// are ignored. CREATE, WRITE, RENAME and REMOVE of a script mark it "changed";
// CHMOD is ignored. Each changed path is debounced (Options.Debounce, 100 ms
// by default): it is read and compiled once, after the path has been quiet
// for the debounce time, and always from what is on disk at that moment. So
// the outcome depends on the final state, not on the exact events, and every
// save style ends the same way:
//
//   - In-place write (truncate, then write): the WRITE events restart the
//     debounce; the content is read once writing has stopped. A file that is
//     empty after a write, or whose only fault is a syntax error at the end of
//     the file (an unfinished function, string or comment), looks half
//     written: it gets a further quiet period (Options.Settle, 500 ms by
//     default) before it is taken as final. A file still empty then is
//     published as what it is, a valid empty chunk; a file still cut short is
//     reported as a syntax error. Any new event on the path in between
//     restarts the wait.
//   - Write to a temporary file and rename it over the script (most editors):
//     the temporary name is ignored (dotfile, `~`, or not `*.lua`), the rename
//     is a CREATE of the script's name.
//   - Vim with `backupcopy=no` (probe `4913`, rename the script to `script~`,
//     write a new script, delete `script~`): RENAME then CREATE of the name,
//     with the file present at the end of the debounce: a change, not a
//     removal.
//   - Delete and recreate: a REMOVE is published (Update.Removed) only if the
//     file is still gone when the debounce ends; recreated in time, it is an
//     ordinary change.
//   - The watched directory removed and recreated: the Watcher polls
//     (Options.Poll) for a vanished watched directory, watches it again when
//     it reappears and rescans it. Files that did not come back are
//     published as removed. A subdirectory that holds a required module (any
//     subdirectory, with Options.Recursive) is watched and scanned as it
//     appears.
//     A watched directory that a process has as its working directory (the
//     shell that ran `cd scripts && switchlua run`) reports no removal of
//     its own: once it is empty (its last entry removed, or empty from the
//     start) the Watcher checks at every poll and debounce whether it is
//     still the same directory (os.SameFile), and handles it as removed if
//     not.
//   - A burst of saves: the debounce restarts on every event, so only the
//     last content is compiled and published.
//   - An event-queue overflow (fsnotify.ErrEventOverflow): every directory is
//     rescanned and every file re-checked.
//
// A save whose content is byte-for-byte what was last compiled for that path
// publishes nothing.
//
// # Generations
//
// Every published update carries a Generation: one counter per Watcher,
// incremented for each new version and each removal, so a larger number is
// always a later state. The initial scan in New publishes every script found,
// with the modules they require, in path order, as generations 1..n. A
// module first required later (by a save, or through Module) is published
// when that happens, before the script that requires it. A consumer applies an update to a path
// only if its Generation is larger than the one it runs for that path;
// updates arrive in generation order.
//
// A save that does not compile is published with Err set (a *SyntaxError whose
// text is the one line `file:line: message`), counted in Stats.Failed and
// logged; it carries the Generation and Proto of the version still running,
// which the consumer keeps. Fixing the file later publishes a new generation.
//
// # Modules
//
// A script's `require("name")` calls with literal names are read from its
// syntax tree (Update.Requires). Module names resolve like Lua's
// package.path `?.lua` over the watched directories in order: "lib.util" is
// `lib/util.lua` in the first watched directory that has it (Watcher.Module).
// When a module gets a new version, every script that requires it, directly
// or through other modules, is published again with a new Generation, its
// unchanged Proto and Update.Cause naming the module, so the apps using it
// reload and pick the new module up through Module. Compiling happens once
// per change; dependents are not recompiled. A module that is removed, or
// saved with a syntax error, republishes nobody: its users keep running the
// copy they loaded.
//
// # Use
//
//	w, err := hotreload.New([]string{"scripts"}, hotreload.Options{Logger: log})
//	...
//	for u := range w.Updates() {
//		switch {
//		case u.Err != nil: // keep the running version; already logged
//		case u.Removed:    // unload the app of u.Path
//		default:           // load u.Proto for u.Path as generation u.Generation
//		}
//	}
package hotreload
