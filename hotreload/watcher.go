package hotreload

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	lua "github.com/yuin/gopher-lua"
)

// Default timings of Options.
const (
	DefaultDebounce = 100 * time.Millisecond
	DefaultSettle   = 500 * time.Millisecond
	DefaultPoll     = 250 * time.Millisecond
)

// Options configure a Watcher. The zero value is ready to use.
type Options struct {
	// Debounce is how long a path must stay quiet (no filesystem event)
	// before its content is read and compiled. Default DefaultDebounce.
	Debounce time.Duration
	// Settle is the further quiet time given to a file that looks half
	// written after a change: empty (or only blanks), or failing to parse
	// only because it ends too early. Default DefaultSettle.
	Settle time.Duration
	// Poll is how often a watched directory that has disappeared is looked
	// for again, and how often a watched directory that is empty or just
	// had an entry removed is checked for having been removed or replaced
	// (its own watch does not report that while a process has it as its
	// working directory). Default DefaultPoll.
	Poll time.Duration
	// Logger receives one Warn line per failed compile (the `file:line:
	// message` text and the generation kept) and Debug lines per published
	// update. nil: no logging.
	Logger *slog.Logger

	// Recursive watches every subdirectory of the directories too (except
	// dot-directories), and compiles and publishes every script in them.
	// By default (false) only the directories themselves are watched, and
	// only their own scripts count, plus the modules those scripts require:
	// a subdirectory is watched only once a required module lives in it
	// (see "What is watched" in the package doc).
	Recursive bool
	// Files, when not empty, are the only scripts of the directories that
	// count (paths, absolute or relative to the working directory; each
	// must be inside one of the directories), plus the modules they
	// require. Other *.lua files beside them are neither compiled nor
	// reported. Empty: every script of the directories counts.
	Files []string
}

// Update is one published state of one script file. The same type describes
// the current state returned by Script, Module and Files. Its fields must be
// treated as read-only (Requires is shared).
type Update struct {
	// Path is the file: the watched directory as given to New joined with the
	// file's path inside it (e.g. "scripts/lib/util.lua"). It is also the
	// chunk name compiled into Proto, so Lua errors read `Path:line: ...`.
	Path string
	// Name is the file's module name inside its watched directory, the
	// app name for a script at the top: "toneplay" for toneplay.lua,
	// "lib.util" for lib/util.lua.
	Name string
	// Proto is the compiled chunk of this version, nil for a removal. On an
	// update with Err set, it is the version still running (nil if the file
	// never compiled).
	Proto *lua.FunctionProto
	// Generation orders versions: one counter per Watcher, incremented for
	// each new version and each removal. On an update with Err set, it is
	// the generation of the version still running (0 if none).
	Generation uint64
	// Requires lists the module names the file requires with string
	// literals, sorted.
	Requires []string
	// Event is when the Watcher received the filesystem event that caused
	// this update (the last of a debounced burst): the start of "time from
	// file event to live". For the initial scan, the time of the scan.
	Event time.Time
	// Removed reports that the file is gone (still absent once the debounce
	// ended): unload it.
	Removed bool
	// Err, when set, is the compile error of the newest save (a
	// *SyntaxError: `file:line: message`); keep running the old version.
	Err error
	// Cause is the Path of the module whose new version caused this file to
	// be published again (Proto unchanged); empty when the file itself
	// changed.
	Cause string
}

// Stats are a Watcher's counters, for the metrics endpoint.
type Stats struct {
	// Reloads counts new versions published after the initial scan: saved
	// files and the scripts republished because a module they require
	// changed.
	Reloads uint64
	// Failed counts compiles that failed (the running version was kept),
	// the initial scan included.
	Failed uint64
	// Removed counts files published as removed.
	Removed uint64
	// Rescans counts full rescans (event-queue overflow, a watched directory
	// that came back).
	Rescans uint64
	// Generation is the newest generation published.
	Generation uint64
	// Files is the number of files with a running version.
	Files int
	// Dirs is the number of directories watched now.
	Dirs int
}

// Watcher watches directories of Lua scripts and publishes compiled
// versions of them. Its methods are safe for concurrent use.
type Watcher struct {
	opts  Options
	log   *slog.Logger
	roots []string // absolute, cleaned
	shown []string // as given to New, cleaned: the prefix of Update.Path
	fsw   *fsnotify.Watcher

	updates   chan Update
	done      chan struct{}
	exited    chan struct{}
	closeOnce sync.Once
	closeErr  error

	mu    sync.RWMutex
	files map[string]*entry // by absolute path; written by the loop under mu
	gen   uint64            // under mu

	reloads, failed, removed, rescans atomic.Uint64

	names map[string]bool // module names asked for (requires, Module); under mu
	ndirs atomic.Int64    // len(dirs), for Stats

	reqs chan moduleReq // Module asking the loop to track a module

	// Owned by the loop goroutine (and New before it starts).
	only     map[string]bool // Options.Files (absolute); nil: every script
	pending  map[string]*pending
	dirs     map[string]bool      // watched directories (absolute)
	missing  map[int]bool         // roots that have disappeared
	rootIDs  []os.FileInfo        // each root's directory when last watched (os.SameFile)
	suspect  map[int]bool         // roots that may vanish silently: empty, or an entry just removed
	wanted   map[string]bool      // module files required: root/a/b.lua of "a.b", in every root
	needDirs map[string]bool      // subdirectories on the way to a wanted file
	pre      map[string]*compiled // New's scan, compiled ahead of publishing
	outbox   []Update
	timer    *time.Timer
	poll     *time.Ticker
}

// moduleReq is a module name Module wants tracked; done is closed once the
// loop has done it.
type moduleReq struct {
	name string
	done chan struct{}
}

// compiled is one compile of a file's content.
type compiled struct {
	sum   [32]byte
	proto *lua.FunctionProto
	reqs  []string
	err   error
}

// entry is what the Watcher knows of one file.
type entry struct {
	cur    Update   // running version (Err always nil; Proto nil if it never compiled)
	err    error    // compile error of the newest content, if it failed
	hash   [32]byte // of the content last compiled, good or bad
	hashed bool
}

// pending is a path waiting for its debounce to end.
type pending struct {
	due      time.Time
	event    time.Time
	settling bool // already granted the Settle extension
	// When settling a file that ended too early: its content hash and the
	// compile error, so an unchanged file is not compiled twice.
	sum      [32]byte
	cutShort error
}

// New watches dirs, scans and compiles every script in them (only
// opts.Files if given) and the modules they require, and publishes the
// results as generations 1..n, in path order, as the first values of
// Updates. Subdirectories are watched only where required modules live,
// or all of them (except dot-directories) with opts.Recursive. When New
// returns, Script, Module and Files already answer from the scan. Every dir
// must exist and be a directory. Close the Watcher when done.
func New(dirs []string, opts Options) (*Watcher, error) {
	if len(dirs) == 0 {
		return nil, errors.New("hotreload: no directory to watch")
	}
	if opts.Debounce <= 0 {
		opts.Debounce = DefaultDebounce
	}
	if opts.Settle <= 0 {
		opts.Settle = DefaultSettle
	}
	if opts.Poll <= 0 {
		opts.Poll = DefaultPoll
	}
	w := &Watcher{
		opts:     opts,
		log:      opts.Logger,
		updates:  make(chan Update),
		done:     make(chan struct{}),
		exited:   make(chan struct{}),
		files:    map[string]*entry{},
		pending:  map[string]*pending{},
		dirs:     map[string]bool{},
		missing:  map[int]bool{},
		suspect:  map[int]bool{},
		names:    map[string]bool{},
		wanted:   map[string]bool{},
		needDirs: map[string]bool{},
		reqs:     make(chan moduleReq),
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	seen := map[string]bool{}
	for _, d := range dirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, fmt.Errorf("hotreload: %w", err)
		}
		fi, err := os.Stat(abs)
		if err != nil {
			return nil, fmt.Errorf("hotreload: %w", err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("hotreload: %s is not a directory", d)
		}
		if seen[abs] {
			continue
		}
		seen[abs] = true
		w.roots = append(w.roots, abs)
		w.shown = append(w.shown, filepath.Clean(d))
	}
	if len(opts.Files) > 0 {
		w.only = map[string]bool{}
		for _, f := range opts.Files {
			abs, err := filepath.Abs(f)
			if err != nil {
				return nil, fmt.Errorf("hotreload: %w", err)
			}
			if _, _, ok := w.locate(abs); !ok {
				return nil, fmt.Errorf("hotreload: %s is not inside a watched directory", f)
			}
			w.only[abs] = true
		}
	}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("hotreload: %w", err)
	}
	w.fsw = fsw
	w.rootIDs = make([]os.FileInfo, len(w.roots))
	w.timer = time.NewTimer(time.Hour)
	w.timer.Stop()

	// Watch first, then list: a file written during the scan is either
	// listed or seen as an event (then re-read, and skipped if unchanged).
	now := time.Now()
	var work []string
	for _, r := range w.roots {
		files, err := w.addTree(r)
		if err != nil {
			fsw.Close()
			return nil, fmt.Errorf("hotreload: %w", err)
		}
		work = append(work, files...)
	}
	// Compile the scripts and, transitively, the modules they require (a
	// required module's directory is watched as it is found), then publish
	// them all in path order.
	w.pre = map[string]*compiled{}
	for len(work) > 0 {
		p := work[len(work)-1]
		work = work[:len(work)-1]
		if w.pre[p] != nil {
			continue
		}
		c := w.compileFile(p)
		if c == nil {
			continue
		}
		w.pre[p] = c
		for _, name := range c.reqs {
			work = append(work, w.want(name)...)
		}
	}
	found := make([]string, 0, len(w.pre))
	for p := range w.pre {
		found = append(found, p)
	}
	sort.Strings(found)
	for _, p := range found {
		w.apply(p, &pending{event: now}, true)
	}
	w.pre = nil
	go w.loop()
	return w, nil
}

// compileFile reads and compiles a script for New's scan; nil if it cannot
// be read (it vanished: its events will tell).
func (w *Watcher) compileFile(path string) *compiled {
	root, rel, ok := w.locate(path)
	if !ok {
		return nil
	}
	src, err := readScript(path)
	if err != nil {
		return nil
	}
	c := &compiled{sum: sha256.Sum256(src)}
	c.proto, c.reqs, c.err = compile(filepath.Join(w.shown[root], rel), src)
	return c
}

// Updates returns the channel of published updates, in generation order. It
// is closed by Close. The Watcher queues updates internally, so a slow reader
// delays delivery but never loses or reorders an update, and never stalls
// the watching.
func (w *Watcher) Updates() <-chan Update { return w.updates }

// Script returns the current state of the file at path (relative paths are
// resolved against the working directory): the running version, with Err set
// if the newest save failed to compile. ok is false for a file the Watcher
// does not know (not a script, removed, or outside the watched directories).
// Proto is nil if the file never compiled.
func (w *Watcher) Script(path string) (u Update, ok bool) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return Update{}, false
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	e := w.files[abs]
	if e == nil {
		return Update{}, false
	}
	u = e.cur
	u.Err = e.err
	return u, true
}

// Module resolves a module name as `require` does with package.path set to
// `?.lua` in each watched directory, in the order given to New: "lib.util"
// is lib/util.lua in the first directory that has it. It returns the running
// version of that file, or an error naming the files tried, or the compile
// error of a file that never compiled. This is what the host's `require`
// serves. The first call for a name that no script requires literally makes
// the Watcher track that module from then on (see "What is watched"): it
// waits for the Watcher's goroutine to watch its directory and compile it.
func (w *Watcher) Module(name string) (Update, error) {
	rel, ok := ModuleFile(name)
	if !ok {
		return Update{}, fmt.Errorf("module '%s' not found: invalid module name", name)
	}
	w.mu.RLock()
	known := w.names[name]
	w.mu.RUnlock()
	if !known {
		// First asked for (e.g. a computed require): have the loop watch
		// its directories and compile it, then answer.
		r := moduleReq{name: name, done: make(chan struct{})}
		select {
		case w.reqs <- r:
			select {
			case <-r.done:
			case <-w.exited:
			}
		case <-w.exited:
		}
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	tried := make([]string, 0, len(w.roots))
	for i, r := range w.roots {
		e := w.files[filepath.Join(r, rel)]
		if e == nil {
			tried = append(tried, filepath.Join(w.shown[i], rel))
			continue
		}
		if e.cur.Proto == nil {
			return Update{}, e.err
		}
		return e.cur, nil
	}
	return Update{}, fmt.Errorf("module '%s' not found: no file %s", name, strings.Join(tried, ", no file "))
}

// Files returns the current state of every known file, sorted by Path, as
// Script would return it.
func (w *Watcher) Files() []Update {
	w.mu.RLock()
	out := make([]Update, 0, len(w.files))
	for _, e := range w.files {
		u := e.cur
		u.Err = e.err
		out = append(out, u)
	}
	w.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// Stats returns the counters.
func (w *Watcher) Stats() Stats {
	w.mu.RLock()
	gen := w.gen
	n := 0
	for _, e := range w.files {
		if e.cur.Proto != nil {
			n++
		}
	}
	w.mu.RUnlock()
	return Stats{
		Reloads:    w.reloads.Load(),
		Failed:     w.failed.Load(),
		Removed:    w.removed.Load(),
		Rescans:    w.rescans.Load(),
		Generation: gen,
		Files:      n,
		Dirs:       int(w.ndirs.Load()),
	}
}

// Close stops watching and closes the Updates channel; updates not yet
// received are dropped. Safe to call more than once.
func (w *Watcher) Close() error {
	w.closeOnce.Do(func() {
		close(w.done)
		<-w.exited
		w.closeErr = w.fsw.Close()
		w.timer.Stop()
		if w.poll != nil {
			w.poll.Stop()
		}
		close(w.updates)
	})
	return w.closeErr
}

// loop is the Watcher's one goroutine: filesystem events, debounce timer,
// directory polling and delivery of the outbox.
func (w *Watcher) loop() {
	defer close(w.exited)
	events, errs := w.fsw.Events, w.fsw.Errors
	for {
		var out chan<- Update
		var next Update
		if len(w.outbox) > 0 {
			out, next = w.updates, w.outbox[0]
		}
		w.setPoll()
		var pollC <-chan time.Time
		if w.poll != nil {
			pollC = w.poll.C
		}
		select {
		case <-w.done:
			return
		case out <- next:
			w.outbox[0] = Update{}
			w.outbox = w.outbox[1:]
			if len(w.outbox) == 0 {
				w.outbox = nil
			}
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			w.event(ev, time.Now())
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				w.log.Warn("hotreload: filesystem event queue overflowed, rescanning")
				w.rescan(time.Now())
			} else {
				w.log.Warn("hotreload: watch error", "error", err)
			}
		case <-w.timer.C:
			w.fire(time.Now())
		case <-pollC:
			now := time.Now()
			w.checkRoots(now)
			w.pollRoots(now)
		case r := <-w.reqs:
			w.wantNow(r.name, time.Now())
			close(r.done)
		}
		w.rearm()
	}
}

// event routes one filesystem event.
func (w *Watcher) event(ev fsnotify.Event, now time.Time) {
	if ev.Op&^fsnotify.Chmod == 0 {
		return // CHMOD only: content unchanged
	}
	name := filepath.Clean(ev.Name)
	if ev.Op&(fsnotify.Remove|fsnotify.Rename) != 0 {
		// The root may be empty now, and then removed with no event at all
		// if a process has it as its working directory: check it.
		if i := w.rootIndex(filepath.Dir(name)); i >= 0 && !w.missing[i] {
			w.suspect[i] = true
		}
	}
	if w.dirs[name] && ev.Op&(fsnotify.Remove|fsnotify.Rename) != 0 {
		w.dirGone(name, now)
		return
	}
	if ev.Op&fsnotify.Create != 0 {
		if fi, err := os.Lstat(name); err == nil && fi.IsDir() {
			if _, _, ok := w.locate(name); ok && w.wantDir(name) {
				files, _ := w.addTree(name)
				for _, f := range files {
					w.touch(f, now)
				}
			}
			return
		}
	}
	if !w.tracked(name) {
		return
	}
	w.touch(name, now)
}

// tracked reports whether path is a script the Watcher compiles and
// publishes: a required module, else (with Options.Files) one of the files,
// else a script directly in a watched directory (or anywhere under one,
// with Options.Recursive).
func (w *Watcher) tracked(path string) bool {
	if !isScript(filepath.Base(path)) {
		return false
	}
	root, _, ok := w.locate(path)
	if !ok {
		return false
	}
	switch {
	case w.wanted[path]:
		return true
	case w.only != nil:
		return w.only[path]
	case w.opts.Recursive:
		return true
	}
	return filepath.Dir(path) == w.roots[root]
}

// wantDir reports whether a subdirectory of a watched directory is watched:
// every one but dot-directories with Options.Recursive, else those on the
// way to a required module.
func (w *Watcher) wantDir(dir string) bool {
	if ignoredDir(filepath.Base(dir)) {
		return false
	}
	return w.opts.Recursive || w.needDirs[dir]
}

// want tracks module name from now on: its file in every watched directory
// (`?.lua` with the dots as separators) is a script, and the directories
// on the way to it are watched (those that exist now; the others as they
// appear). It returns the module's files that exist and are not known yet.
// A name already wanted returns nothing.
func (w *Watcher) want(name string) []string {
	rel, ok := ModuleFile(name)
	if !ok {
		return nil
	}
	w.mu.Lock()
	known := w.names[name]
	w.names[name] = true
	w.mu.Unlock()
	if known {
		return nil
	}
	var found []string
	for i, r := range w.roots {
		p := filepath.Join(r, rel)
		w.wanted[p] = true
		var chain []string // from p's directory up to r's child
		for d := filepath.Dir(p); d != r && under(d, r); d = filepath.Dir(d) {
			chain = append(chain, d)
			w.needDirs[d] = true
		}
		if w.missing[i] {
			continue // watched again, with what it needs, when it is back
		}
		reached := true
		for j := len(chain) - 1; j >= 0 && reached; j-- {
			if d := chain[j]; !w.dirs[d] {
				if _, err := w.addTree(d); err != nil {
					reached = false // not there (yet): its parent's CREATE will tell
				}
			}
		}
		if !reached || w.files[p] != nil {
			continue
		}
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			found = append(found, p)
		}
	}
	return found
}

// wantNow tracks module name for Module, publishing its files at once.
func (w *Watcher) wantNow(name string, now time.Time) {
	for _, f := range w.want(name) {
		w.apply(f, &pending{event: now}, true)
	}
}

// touch (re)starts the debounce of path.
func (w *Watcher) touch(path string, now time.Time) {
	p := w.pending[path]
	if p == nil {
		p = &pending{}
		w.pending[path] = p
	}
	p.due = now.Add(w.opts.Debounce)
	p.event = now
	p.settling, p.cutShort = false, nil
}

// rearm points the timer at the earliest pending deadline.
func (w *Watcher) rearm() {
	var first time.Time
	for _, p := range w.pending {
		if first.IsZero() || p.due.Before(first) {
			first = p.due
		}
	}
	if first.IsZero() {
		w.timer.Stop()
		return
	}
	w.timer.Reset(max(time.Until(first), 0))
}

// fire applies every path whose debounce has ended, in path order.
func (w *Watcher) fire(now time.Time) {
	// A file removed with its root: know that the root is gone (or
	// replaced) before reading the file.
	if w.checkRoots(now) {
		w.pollRoots(now)
	}
	var due []string
	for path, p := range w.pending {
		if !p.due.After(now) {
			due = append(due, path)
		}
	}
	sort.Strings(due)
	for _, path := range due {
		p := w.pending[path]
		delete(w.pending, path)
		w.apply(path, p, false)
	}
}

// apply reads path once its debounce has ended and publishes what changed.
func (w *Watcher) apply(path string, p *pending, initial bool) {
	root, rel, ok := w.locate(path)
	if !ok {
		return
	}
	e := w.files[path]
	src, err := readScript(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if e != nil {
				w.publishRemoved(path, e, p.event)
			}
			return
		}
		w.log.Warn("hotreload: cannot read script", "path", filepath.Join(w.shown[root], rel), "error", err)
		return
	}
	sum := sha256.Sum256(src)
	if e != nil && e.hashed && e.hash == sum {
		return // same bytes as last compiled
	}
	if !initial && !p.settling && len(bytes.TrimSpace(src)) == 0 {
		w.settle(path, p) // empty right after a change: probably being written
		return
	}
	display := filepath.Join(w.shown[root], rel)
	var proto *lua.FunctionProto
	var reqs []string
	var cerr error
	if c := w.pre[path]; c != nil && c.sum == sum {
		proto, reqs, cerr = c.proto, c.reqs, c.err // New's scan compiled it
	} else if p.settling && p.cutShort != nil && p.sum == sum {
		cerr = p.cutShort // unchanged since: compiled already
	} else {
		proto, reqs, cerr = compile(display, src)
	}
	var se *SyntaxError
	if cerr != nil && !initial && !p.settling && errors.As(cerr, &se) && se.AtEOF {
		p.sum, p.cutShort = sum, cerr
		w.settle(path, p) // cut short: probably still being written
		return
	}

	w.mu.Lock()
	if e == nil {
		e = &entry{cur: Update{Path: display, Name: moduleName(rel)}}
		w.files[path] = e
	}
	e.hash, e.hashed = sum, true
	if cerr != nil {
		e.err = cerr
		u := e.cur
		u.Err, u.Event, u.Cause = cerr, p.event, ""
		w.mu.Unlock()
		w.failed.Add(1)
		w.log.Warn("hotreload: compile failed, keeping the running version",
			"error", cerr.Error(), "generation", u.Generation)
		w.emit(u)
		return
	}
	w.mu.Unlock()
	// Modules it requires for the first time are tracked from now on, and
	// published before it (so they have the smaller generations).
	for _, name := range reqs {
		for _, f := range w.want(name) {
			w.apply(f, &pending{event: p.event}, true)
		}
	}
	w.mu.Lock()
	w.gen++
	e.err = nil
	e.cur = Update{Path: display, Name: moduleName(rel), Proto: proto, Generation: w.gen, Requires: reqs, Event: p.event}
	u := e.cur
	w.mu.Unlock()
	if !initial {
		w.reloads.Add(1)
	}
	w.emit(u)
	if !initial {
		w.republishDependents(path, u)
	}
}

// readScript reads a script file; a directory counts as not existing.
func readScript(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fs.ErrNotExist
	}
	return os.ReadFile(path)
}

// settle grants a half-written-looking file one more quiet period.
func (w *Watcher) settle(path string, p *pending) {
	p.settling = true
	p.due = time.Now().Add(w.opts.Settle)
	w.pending[path] = p
}

func (w *Watcher) publishRemoved(path string, e *entry, event time.Time) {
	w.mu.Lock()
	w.gen++
	u := Update{Path: e.cur.Path, Name: e.cur.Name, Generation: w.gen, Event: event, Removed: true}
	delete(w.files, path)
	w.mu.Unlock()
	w.removed.Add(1)
	w.emit(u)
}

// republishDependents publishes again every script that requires the module
// at path, directly or transitively, with a new generation.
func (w *Watcher) republishDependents(path string, mod Update) {
	deps := w.dependents(path)
	for _, d := range deps {
		w.mu.Lock()
		e := w.files[d]
		if e == nil || e.cur.Proto == nil {
			w.mu.Unlock()
			continue
		}
		w.gen++
		e.cur.Generation = w.gen
		e.cur.Event = mod.Event
		e.cur.Cause = mod.Path
		u := e.cur
		w.mu.Unlock()
		w.reloads.Add(1)
		w.emit(u)
	}
}

// dependents lists, sorted, the files other than target whose require graph
// reaches target.
func (w *Watcher) dependents(target string) []string {
	w.mu.RLock()
	defer w.mu.RUnlock()
	var out []string
	for path, e := range w.files {
		if path == target || e.cur.Proto == nil {
			continue
		}
		if w.reaches(path, target, map[string]bool{}) {
			out = append(out, path)
		}
	}
	sort.Strings(out)
	return out
}

// reaches reports whether from's requires lead to target. Called under mu.
func (w *Watcher) reaches(from, target string, seen map[string]bool) bool {
	seen[from] = true
	e := w.files[from]
	if e == nil {
		return false
	}
	for _, name := range e.cur.Requires {
		dep := w.resolve(name)
		if dep == "" {
			continue
		}
		if dep == target {
			return true
		}
		if !seen[dep] && w.reaches(dep, target, seen) {
			return true
		}
	}
	return false
}

// resolve returns the absolute path of the file module name resolves to
// now, or "". Called under mu.
func (w *Watcher) resolve(name string) string {
	rel, ok := ModuleFile(name)
	if !ok {
		return ""
	}
	for _, r := range w.roots {
		p := filepath.Join(r, rel)
		if w.files[p] != nil {
			return p
		}
	}
	return ""
}

func (w *Watcher) emit(u Update) {
	if u.Err == nil {
		w.log.Debug("hotreload: published", "path", u.Path, "generation", u.Generation,
			"removed", u.Removed, "cause", u.Cause)
	}
	w.outbox = append(w.outbox, u)
}

// addTree watches dir and the subdirectories under it that are watched
// (wantDir) and returns the scripts in them (tracked). An error is returned
// only if dir itself cannot be watched or listed.
func (w *Watcher) addTree(dir string) ([]string, error) {
	var files []string
	var roots []int           // roots watched by this walk
	full := map[string]bool{} // directories listed with an entry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir {
				return err
			}
			return nil // vanished while walking: its own events will tell
		}
		if p != dir {
			full[filepath.Dir(p)] = true
		}
		if d.IsDir() {
			if p != dir && !w.wantDir(p) {
				return filepath.SkipDir
			}
			// A root's identity, taken before its watch is added: if it is
			// replaced in between, the next check sees a stranger and
			// watches it again, never the other way round.
			var id os.FileInfo
			root := w.rootIndex(p)
			if root >= 0 {
				if id, err = os.Stat(p); err != nil {
					if p == dir {
						return err
					}
					return filepath.SkipDir
				}
			}
			// Watch before WalkDir lists it: nothing falls in between.
			if err := w.fsw.Add(p); err != nil {
				if p == dir {
					return err
				}
				w.log.Warn("hotreload: cannot watch directory", "dir", p, "error", err)
				return filepath.SkipDir
			}
			if !w.dirs[p] {
				w.dirs[p] = true
				w.ndirs.Add(1)
			}
			if root >= 0 {
				w.rootIDs[root] = id
				roots = append(roots, root)
			}
			return nil
		}
		if w.tracked(p) {
			files = append(files, p)
		}
		return nil
	})
	// An empty root can be removed with no event at all (see checkRoots).
	for _, i := range roots {
		if !full[w.roots[i]] {
			w.suspect[i] = true
		}
	}
	return files, err
}

// dirGone handles a watched directory removed or renamed away: stop watching
// it and everything under it, re-check every file known there (published as
// removed if still gone after the debounce), and poll for a watched root.
func (w *Watcher) dirGone(dir string, now time.Time) {
	for d := range w.dirs {
		if d == dir || under(d, dir) {
			_ = w.fsw.Remove(d) // often already gone with the inode
			delete(w.dirs, d)
			w.ndirs.Add(-1)
		}
	}
	w.mu.RLock()
	for path := range w.files {
		if under(path, dir) {
			w.touch(path, now)
		}
	}
	w.mu.RUnlock()
	for i, r := range w.roots {
		if r == dir || under(r, dir) {
			w.missing[i] = true
			delete(w.suspect, i)
		}
	}
}

// checkRoots looks at the suspect roots, and handles those removed or
// replaced by another directory as dirGone does. It reports whether any
// was. A directory's own watch reports its removal (IN_DELETE_SELF) only
// once nothing holds it: not while a process has it as its working
// directory (`cd scripts && switchlua run`, a shell) or open. Then only its
// emptying is seen, as the Remove or Rename of its last entry, so a root
// stays suspect while it is empty (it can be removed any time without an
// event) and is checked at every poll and debounce; one that still has an
// entry cannot go without a further event, and is left alone.
func (w *Watcher) checkRoots(now time.Time) bool {
	if len(w.suspect) == 0 {
		return false
	}
	idx := make([]int, 0, len(w.suspect))
	for i := range w.suspect {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	gone := false
	for _, i := range idx {
		if !w.suspect[i] {
			continue // went with a root checked before it
		}
		r := w.roots[i]
		fi, err := os.Stat(r)
		if err == nil && fi.IsDir() && w.rootIDs[i] != nil && os.SameFile(fi, w.rootIDs[i]) {
			if hasEntries(r) {
				delete(w.suspect, i)
			}
			continue
		}
		delete(w.suspect, i)
		w.log.Info("hotreload: watched directory was removed or replaced", "dir", w.shown[i])
		w.dirGone(r, now)
		gone = true
	}
	return gone
}

// hasEntries reports whether dir can be listed and has an entry.
func hasEntries(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return false
	}
	defer f.Close()
	names, _ := f.Readdirnames(1)
	return len(names) > 0
}

// setPoll runs the poll ticker while a root is missing or suspect.
func (w *Watcher) setPoll() {
	need := len(w.missing) > 0 || len(w.suspect) > 0
	switch {
	case need && w.poll == nil:
		w.poll = time.NewTicker(w.opts.Poll)
	case !need && w.poll != nil:
		w.poll.Stop()
		w.poll = nil
	}
}

// rootIndex returns the index of the root dir is, or -1.
func (w *Watcher) rootIndex(dir string) int {
	for i, r := range w.roots {
		if r == dir {
			return i
		}
	}
	return -1
}

// pollRoots watches again the roots that have come back, and rescans them.
func (w *Watcher) pollRoots(now time.Time) {
	for i := range w.missing {
		r := w.roots[i]
		fi, err := os.Stat(r)
		if err != nil || !fi.IsDir() {
			continue
		}
		files, err := w.addTree(r)
		if err != nil {
			continue
		}
		delete(w.missing, i)
		w.rescans.Add(1)
		w.log.Info("hotreload: watched directory is back, rescanning", "dir", w.shown[i])
		for _, f := range files {
			w.touch(f, now)
		}
		w.touchKnownUnder(r, now)
	}
}

// rescan re-watches every root and re-checks every file (event overflow).
func (w *Watcher) rescan(now time.Time) {
	w.rescans.Add(1)
	for i, r := range w.roots {
		if w.missing[i] {
			continue
		}
		files, err := w.addTree(r)
		if err != nil {
			w.dirGone(r, now)
			continue
		}
		for _, f := range files {
			w.touch(f, now)
		}
	}
	for _, r := range w.roots {
		w.touchKnownUnder(r, now)
	}
}

func (w *Watcher) touchKnownUnder(dir string, now time.Time) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	for path := range w.files {
		if under(path, dir) {
			w.touch(path, now)
		}
	}
}

// locate finds the watched root of path (the innermost, if roots nest) and
// the path relative to it.
func (w *Watcher) locate(path string) (root int, rel string, ok bool) {
	best := -1
	for i, r := range w.roots {
		if (path == r || under(path, r)) && (best < 0 || len(r) > len(w.roots[best])) {
			best = i
		}
	}
	if best < 0 {
		return 0, "", false
	}
	rel, err := filepath.Rel(w.roots[best], path)
	if err != nil {
		return 0, "", false
	}
	return best, rel, true
}

// under reports whether path is strictly inside dir.
func under(path, dir string) bool {
	if !strings.HasSuffix(dir, string(filepath.Separator)) {
		dir += string(filepath.Separator)
	}
	return strings.HasPrefix(path, dir)
}

// isScript reports whether a file name is a script to watch: `*.lua`, not a
// dotfile, not an editor's backup, swap or probe file.
func isScript(base string) bool {
	switch {
	case len(base) <= len(".lua"), !strings.HasSuffix(base, ".lua"):
		return false // also excludes `x.lua~`, `.x.lua.swp`, `4913`
	case strings.HasPrefix(base, "."), strings.HasSuffix(base, "~"),
		strings.HasSuffix(base, ".swp"), strings.HasSuffix(base, ".swx"), base == "4913":
		return false
	}
	return true
}

// ignoredDir reports whether a subdirectory is skipped (dot-directories such
// as .git).
func ignoredDir(base string) bool { return strings.HasPrefix(base, ".") }
