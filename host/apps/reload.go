package apps

import (
	"path/filepath"
	"time"

	"github.com/switchlua/switchlua/bindings"
	"github.com/switchlua/switchlua/hotreload"
)

// loop applies the watcher's updates until it is closed. Updates already
// queued are taken together, so a burst (a module republishing several
// scripts of one app, two scripts saved at once) reloads each app once.
func (m *Manager) loop() {
	defer close(m.done)
	ch := m.w.Updates()
	for u := range ch {
		batch := []hotreload.Update{u}
		open := true
	drain:
		for open {
			select {
			case u, ok := <-ch:
				if !ok {
					open = false
					break drain
				}
				batch = append(batch, u)
			default:
				break drain
			}
		}
		m.apply(batch)
		if !open {
			return
		}
	}
}

// pendingReload is one app to load again after a batch of updates.
type pendingReload struct {
	a     *app
	spec  bindings.AppSpec
	event time.Time // the earliest file event the new generation answers
	path  string
	cause string
}

// apply takes a batch of watcher updates: newer versions of app scripts are
// loaded (one new generation per app), failed compiles are counted (the
// watcher logged them), removals are logged and otherwise ignored.
func (m *Manager) apply(batch []hotreload.Update) {
	var refused []Reload
	var todo []*pendingReload
	m.mu.Lock()
	for _, u := range batch {
		abs, err := filepath.Abs(u.Path)
		if err != nil {
			continue
		}
		sc := m.byAbs[abs]
		if sc == nil {
			// Not an app script: a module (its users are republished by
			// the watcher when it changes) or an unrelated file.
			if !m.used[abs] {
				continue
			}
			switch {
			case u.Err != nil:
				m.stats.Failed++
				refused = append(refused, Reload{Path: u.Path, Generation: u.Generation, Err: u.Err})
			case u.Removed:
				m.log.Warn("apps: module removed; the apps that loaded it keep running their copy", "path", u.Path)
			}
			continue
		}
		switch {
		case u.Err != nil:
			// A save that does not compile: the running version stays.
			// hotreload logged the file:line already.
			m.stats.Failed++
			refused = append(refused, Reload{App: sc.app.id, Path: u.Path, Generation: u.Generation, Err: u.Err})
		case u.Generation <= sc.gen:
			// An older state (the initial scan): already running.
		case u.Removed:
			sc.gen = u.Generation
			m.stats.Removed++
			m.log.Warn("apps: script removed; its app keeps running the last version", "app", sc.app.id, "path", u.Path)
		case u.Proto != nil:
			sc.proto, sc.gen = u.Proto, u.Generation
			var p *pendingReload
			for _, q := range todo {
				if q.a == sc.app {
					p = q
				}
			}
			if p == nil {
				p = &pendingReload{a: sc.app, event: u.Event}
				todo = append(todo, p)
			}
			if !u.Event.IsZero() && u.Event.Before(p.event) {
				p.event = u.Event
			}
			p.path, p.cause = u.Path, u.Cause
			if u.Cause == "" {
				for _, l := range bindings.LintCallbacks(bindings.Script{Path: u.Path, Proto: u.Proto}) {
					m.log.Warn("apps: "+l.String(), "app", sc.app.id)
				}
			}
		}
	}
	for _, p := range todo {
		p.spec = p.a.spec()
	}
	m.mu.Unlock()

	for _, r := range refused {
		m.report(r)
	}
	for _, p := range todo {
		m.reload(p)
	}
}

// reload loads a new generation of one app on every node.
func (m *Manager) reload(p *pendingReload) {
	r := Reload{App: p.a.id, Path: p.path, Cause: p.cause, Generation: p.spec.Generation}
	// loadMu is held until the new generation is recorded as live, so a
	// node attached meanwhile gets either this generation from Attach or
	// the previous one and then this one from here.
	m.loadMu.Lock()
	res := m.loadOn(m.ctx, m.targets(), p.spec)
	n, err := res.n, res.err
	latency := time.Since(p.event)
	if err != nil && m.ctx.Err() != nil {
		m.loadMu.Unlock()
		return // closing: not a failed reload
	}
	m.mu.Lock()
	if err != nil && n == 0 {
		// Raised at the top level on every node: the old generation stays.
		m.stats.Failed++
	} else {
		p.a.live = p.spec
		m.stats.Reloads++
		if err != nil { // live on some nodes only
			m.stats.Failed++
		}
	}
	m.mu.Unlock()
	m.loadMu.Unlock()
	r.Nodes, r.Err = n, err
	if err != nil && n == 0 {
		m.log.Error("apps: reload failed; the running version stays", "app", r.App,
			"generation", r.Generation, "error", err.Error())
		m.report(r)
		return
	}
	r.OK, r.Latency = true, latency
	attrs := []any{"app", r.App, "generation", r.Generation,
		"event_to_live", latency.Round(10 * time.Microsecond), "nodes", n, "path", r.Path}
	if r.Cause != "" {
		attrs = append(attrs, "module", r.Cause)
	}
	m.log.Info("apps: reloaded", attrs...)
	if res.lag != nil {
		// The new generation is live there; the events only it uses
		// arrive once the host's retry of the subscription succeeds.
		m.log.Warn("apps: reloaded, but the event subscription lags (the host retries it)", "app", r.App,
			"generation", r.Generation, "error", res.lag.Error())
	}
	if err != nil {
		m.log.Error("apps: reload failed on some nodes; they keep the previous version", "app", r.App,
			"generation", r.Generation, "error", err.Error())
	}
	m.report(r)
}

func (m *Manager) report(r Reload) {
	if m.o.OnReload != nil {
		m.o.OnReload(r)
	}
}
