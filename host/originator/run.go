package originator

import (
	"time"

	"github.com/switchlua/switchlua/esl"
	"github.com/switchlua/switchlua/host"
	"github.com/switchlua/switchlua/host/cdr"
)

const (
	// housekeepEvery is how often the Originator samples its nodes
	// (connected, sessions) and its offered rate.
	housekeepEvery = 100 * time.Millisecond
	// maxCatchUp is the most offers the pacer sends late after a stall of
	// its own (a slow wake-up, a GC pause), in time: at most about 50 ms of
	// offers at once. Offers held back by the limit or by full nodes are
	// not caught up: they restart at the rate when room frees up.
	maxCatchUp = 50 * time.Millisecond
	// killEvery is how often Stop(hangup) kills our calls again while some
	// are left (their channels may not have existed the first time).
	killEvery = time.Second
	// killRetry is when a call still up after its hangup is looked at again.
	killRetry = 2 * time.Second
	// idleWait bounds every sleep of the Originator's goroutine.
	idleWait = 100 * time.Millisecond
)

// run is the Originator's goroutine, from Start to STOPPED: the pacer, the
// hangup deadlines and the housekeeping.
func (o *Originator) run() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var next, lastHK, lastKill time.Time
	for {
		now := time.Now()
		if now.Sub(lastHK) >= housekeepEvery {
			o.housekeep(now)
			lastHK = now
		}
		wait := min(o.sweepDeadlines(now), idleWait)

		o.cfgMu.Lock()
		st, rate, limit, maxOff := o.state, o.rate, o.limit, o.maxOffered
		o.cfgMu.Unlock()
		switch st {
		case Originating:
			if w, stop := o.pace(&next, rate, int64(limit), maxOff); stop {
				o.cfgMu.Lock()
				if o.state == Originating {
					o.setStateLocked(Stopping)
				}
				o.cfgMu.Unlock()
				continue
			} else {
				wait = min(wait, w)
			}
		case Stopping:
			next = time.Time{}
			if o.active.Load() == 0 {
				o.cfgMu.Lock()
				if o.state == Stopping && o.active.Load() == 0 {
					o.setStateLocked(Stopped)
					close(o.stoppedCh)
					o.cfgMu.Unlock()
					return
				}
				o.cfgMu.Unlock()
				continue
			}
			if o.killing.Load() && now.Sub(lastKill) >= killEvery {
				if !lastKill.IsZero() {
					o.killAll()
				}
				lastKill = now
			}
		default: // STOPPED (Close)
			return
		}
		if wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-o.wake:
			case <-o.quit:
				return
			}
		} else {
			select {
			case <-o.quit:
				return
			default:
			}
		}
	}
}

// pace sends the offers that are due: one every 1/rate s from *next, never
// while limit calls are active, on the next node that has room. It returns
// how long to sleep before the next one (longer when the limit or the
// nodes are full: a call end wakes the goroutine), and stop when
// max-offered is reached.
func (o *Originator) pace(next *time.Time, rate float64, limit, maxOff int64) (wait time.Duration, stop bool) {
	if rate <= 0 {
		*next = time.Time{}
		return idleWait, false
	}
	interval := time.Duration(float64(time.Second) / rate)
	now := time.Now()
	if next.IsZero() {
		*next = now
	}
	if lag := now.Sub(*next); lag > maxCatchUp {
		o.missed.Add(int64((lag - maxCatchUp) / interval))
		*next = now.Add(-maxCatchUp)
	} else if lag > interval && interval >= maxCatchUp {
		*next = now // slow rates: one late offer, not two
	}
	for !next.After(now) {
		if maxOff > 0 && o.offered.Load() >= maxOff {
			return 0, true
		}
		if o.active.Load() >= limit {
			*next = time.Time{}
			return idleWait, false
		}
		nd := o.pick()
		if nd == nil {
			*next = time.Time{}
			return idleWait, false
		}
		o.offer(nd)
		*next = next.Add(interval)
		now = time.Now()
	}
	if maxOff > 0 && o.offered.Load() >= maxOff {
		return 0, true
	}
	return next.Sub(now), false
}

// pick returns the next node in turn that is connected and below its
// capacity, nil if none.
func (o *Originator) pick() *node {
	n := len(o.nodes)
	for range n {
		nd := o.nodes[o.rr%n]
		o.rr++
		if nd.dead.Load() || nd.left.Load() || !nd.connected.Load() {
			continue
		}
		if c := nd.capacity.Load(); c > 0 && nd.active.Load() >= c {
			continue
		}
		return nd
	}
	return nil
}

// offer originates one call on nd.
func (o *Originator) offer(nd *node) {
	o.cfgMu.Lock()
	app := o.apps.next()
	o.cfgMu.Unlock()

	var sessions int64
	for _, x := range o.nodes {
		sessions += x.sessions.Load()
	}
	c := &call{key: esl.NewUUID(), node: nd, app: app, sessions: sessions}
	active := o.active.Add(1)
	c.erlangs = active
	na := nd.active.Add(1)
	o.mu.Lock()
	o.calls[c.key] = c
	o.mu.Unlock()
	c.offered = time.Now()
	_, err := nd.l.Originate(nd.dest, host.OriginateOptions{
		App: app, Profile: o.cfg.Profile, Gateway: o.cfg.Gateway, Proxy: o.cfg.Proxy,
		Vars: o.cfg.Vars, Timeout: o.cfg.OriginateTimeout, UUID: c.key,
	})
	if err != nil { // the Listener is closed
		o.mu.Lock()
		delete(o.calls, c.key)
		o.mu.Unlock()
		o.active.Add(-1)
		nd.active.Add(-1)
		nd.dead.Store(true)
		o.log.Warn("node closed; no more calls to it", "node", nd.name, "err", err)
		return
	}
	// Offered first, then the peaks: a snapshot that reads a peak before
	// the offers (Counts) never sees a peak above them.
	n := o.offered.Add(1)
	nd.offered.Add(1)
	if active > o.peak.Load() {
		o.peak.Store(active)
	}
	if na > nd.peak.Load() {
		nd.peak.Store(na)
	}
	ns := c.offered.UnixNano()
	if n == 1 {
		o.firstOffer.Store(ns)
	}
	o.lastOffer.Store(ns)
	if d := o.Duration(); d >= 0 {
		// Every call we offer is gone by its deadline, answered or not.
		o.addDeadline(c, c.offered.Add(d))
	}
	if o.cfg.OnOffer != nil {
		o.cfg.OnOffer(Offer{Node: nd.name, UUID: c.key, App: app, Time: c.offered})
	}
}

// housekeep follows the pool's membership (see syncNodes), samples the
// nodes and the offered rate; it gives up the calls of a node whose
// Listener was closed, or whose connection stayed down longer than
// LostAfter (no event can end them while it is away).
func (o *Originator) housekeep(now time.Time) {
	o.syncNodes(now)
	lostAfter := o.LostAfter()
	for _, nd := range o.nodes {
		if closed(nd.l) && !nd.dead.Swap(true) {
			o.log.Warn("node closed; no more calls to it", "node", nd.name)
		}
		if nd.dead.Load() {
			if nd.active.Load() > 0 {
				o.abandon(nd, false)
			}
			continue
		}
		// Two atomic loads each: Stats would copy four maps per node per
		// tick.
		connected := nd.l.Connected()
		sessions, _ := nd.l.Active()
		nd.connected.Store(connected)
		nd.sessions.Store(int64(sessions))
		if !connected {
			if nd.downSince.IsZero() {
				nd.downSince = now
			}
			if down := now.Sub(nd.downSince); lostAfter >= 0 && down >= lostAfter {
				if !nd.lost.Swap(true) {
					o.log.Warn("node lost: no connection; its calls are counted lost",
						"node", nd.name, "down_for", down.Round(time.Millisecond).String(),
						"calls", nd.active.Load(), "cause", host.CauseLostConnection)
				}
				if nd.active.Load() > 0 {
					o.abandon(nd, true)
				}
			}
			continue
		}
		nd.downSince = time.Time{}
		if nd.lost.Swap(false) {
			o.log.Info("lost node reconnected; calls go to it again", "node", nd.name)
		}
		o.mu.Lock()
		n := len(nd.orphans)
		o.mu.Unlock()
		if n > 0 {
			o.killOrphans(nd)
		}
	}
	o.mu.Lock()
	o.cps.add(now, o.offered.Load())
	o.mu.Unlock()
}

// LostAfter returns how long a node's connection may stay down before the
// node is lost and its calls are given up: Config.LostAfter, or by default
// the longer of DefaultLostAfter and the current call duration; negative:
// never.
func (o *Originator) LostAfter() time.Duration {
	if d := o.cfg.LostAfter; d != 0 {
		return d
	}
	return max(DefaultLostAfter, o.Duration())
}

// abandon ends the calls of a node that is gone (closed, or lost: down
// longer than LostAfter) as failed with host.CauseLostConnection. Each gets
// a row with what the Originator knew: its offer (job_launch), and for an
// answered call the outbound leg's create and answer times, so it counts as
// answered and in the setup latency. A lost node's calls are killed by uuid
// if it comes back.
func (o *Originator) abandon(nd *node, orphan bool) {
	type gone struct {
		c *call
		r cdr.Row
	}
	var gs []gone
	o.mu.Lock()
	for _, c := range o.calls {
		if c.node == nd {
			gs = append(gs, gone{c, o.partialRowLocked(c, host.CauseLostConnection)})
			o.endLocked(c)
			if orphan {
				nd.orphans = append(nd.orphans, c.key)
			}
		}
	}
	o.mu.Unlock()
	for _, g := range gs {
		o.finish(g.c, true, host.CauseLostConnection, g.r)
	}
}
