// Package apps turns `--script` arguments into Lua apps loaded on every
// FreeSWITCH node, and keeps them live: a saved script becomes a new
// generation of its app on every node, without a restart and without
// breaking a call.
//
// # Script specs
//
// ParseSpecs reads the arguments as the CLI receives them (see Spec): a path
// to a .lua file or a built-in app name ("toneplay", case-insensitive),
// followed by `:key=value` options. `weight=N` sets the app's share of
// originated calls, `app=ID` names the app (scripts with the same ID compose
// in the order given), any other pair reaches setup(ctx) as ctx.args (a key
// is a name, or a Lua pattern starting with ^ as the Router's routes:
// `router:^1(%d%d%d)$=sofia/internal/%1@pbx`). The app
// id defaults to the file's base name without .lua, or the built-in's name.
// A path whose folders hold `=` or `:key=` (/tmp/x=1/a.lua) works: the whole
// argument, then the longest part before an option, is tried as an existing
// file first.
//
// # The Manager
//
// New compiles every script (a syntax error is one `file:line: message`
// error) and, unless Options.NoReload, watches the scripts' folders with a
// hotreload.Watcher. Configure puts Manager.Module into a host.Config, so
// `require("lib.util")` in a script loads lib/util.lua from the scripts' own
// folders, through the watcher. Only the scripts given and the modules they
// require count in those folders: other *.lua files beside them (in a home
// directory, say) are neither compiled nor reported. Load puts every app on every Listener of a
// host.Pool, Attach on a Listener dialled later; Apps lists the app ids with
// their weights for the Originator, DefaultApp names the app of inbound calls
// without an app header (serve mode: the first script's app).
//
// # Live reload
//
// Each watcher update newer than what an app runs rebuilds that app's
// bindings.AppSpec from its scripts' newest versions and loads it on every
// node with Listener.Load, which swaps between two events, never inside one.
// Saving a module that an app requires reloads that app. Outcomes:
//
//   - A good save: one Info line per reload with the app, the generation and
//     the time from the file event to live ("event_to_live"); Stats.Reloads
//     counts it and Options.OnReload gets a Reload with OK set.
//   - A save with a syntax error: the running version stays. The watcher has
//     logged `file:line: message` once; the Manager counts it
//     (Stats.Failed, OnReload with OK false) without logging it again.
//     Fixing the file applies it.
//   - A save whose top level raises at load (e.g. `error()` or a nil call
//     outside any function): the running generation stays on every node; one
//     Error line with `script:line: message`; counted as a failed reload.
//   - A deleted script: its app keeps running the last version (one Warn
//     line); a file saved again under that name is applied.
//   - A node that runs the new generation but could not update its event
//     subscription (host.ErrSubscribe, e.g. its connection is down): that is
//     a reload like any other (counted, OnReload with OK), plus one Warn
//     line; the host retries the subscription by itself, so the events only
//     the new generation uses arrive once it succeeds. The same holds for
//     Load and Attach: the app is loaded, with a warning.
//
// Built-in apps are compiled into the binary and never watched.
//
// # How app state survives a reload
//
// A reload runs the new version's scripts in fresh environments: globals,
// locals, upvalues and required modules all start anew. If the new top level
// raises, nothing changes. Otherwise teardown(ctx) of the old generation runs,
// then setup(ctx) of the new one. The one thing carried over is the global
// table `state`: every generation of an app starts with the table the previous
// one left, so keep what must survive in it and initialise fields with
// `state.calls = state.calls or 0`. (A script that assigns a new table to
// `state` hands that one on.) switchlua.shared, which all nodes see, is
// untouched by reloads too. Callbacks already running or waiting (in
// sess:wait, sleep or a command) when the switch happens finish on the code
// they started with; every event after the switch runs the new code. The
// on_* callbacks of each event run in exactly one generation: the one loaded
// when the event is dispatched.
package apps
