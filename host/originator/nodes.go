package originator

import (
	"context"
	"slices"
	"time"

	"github.com/switchlua/switchlua/host"
)

const (
	// joinTimeout bounds the set-up of a node that joined the pool later.
	joinTimeout = 10 * time.Second
	// joinRetry is when a node whose set-up failed is tried again.
	joinRetry = time.Second
)

// syncNodes follows the pool's membership (Pool.Add, Pool.Remove), on the
// Originator's goroutine at each housekeeping tick:
//   - a Listener that joined is set up in the background (destination,
//     fsctl set-up, capacity, and the sps refill wait, as in Attach) and
//     offered calls once that is done; a set-up that fails is retried;
//   - a node whose Listener left gets no new calls; its calls in progress
//     are followed to their end (and those lost with its connection killed
//     once it is back), then the node is dropped (from Counts too); added
//     back, it gets calls again.
func (o *Originator) syncNodes(now time.Time) {
	if o.pool == nil {
		return
	}
	ls := o.pool.Listeners()
	drop := false
	for _, nd := range o.nodes {
		in := slices.Contains(ls, nd.l)
		if in == nd.left.Load() {
			nd.left.Store(!in)
			if in {
				o.log.Info("node back in the pool", "node", nd.name)
			} else {
				o.log.Info("node left the pool; no more calls to it", "node", nd.name, "active", nd.active.Load())
			}
		}
		if !in && o.idleNode(nd) {
			drop = true
		}
	}

	o.joinMu.Lock()
	ready := o.joined
	o.joined = nil
	for l, retry := range o.joining {
		if !retry.IsZero() && !slices.Contains(ls, l) {
			delete(o.joining, l) // left before its set-up worked
		}
	}
	for _, l := range ls {
		if o.hasNode(l) || closed(l) {
			continue
		}
		if retry, ok := o.joining[l]; ok && (retry.IsZero() || now.Before(retry)) {
			continue // being set up, or failed a moment ago
		}
		if slices.ContainsFunc(ready, func(nd *node) bool { return nd.l == l }) {
			continue
		}
		o.joining[l] = time.Time{}
		o.join(l)
	}
	o.joinMu.Unlock()

	if len(ready) == 0 && !drop {
		return
	}
	o.cfgMu.Lock()
	defer o.cfgMu.Unlock()
	nodes := slices.DeleteFunc(slices.Clone(o.nodes), func(nd *node) bool {
		return nd.left.Load() && o.idleNode(nd)
	})
	for _, nd := range ready {
		if !slices.Contains(ls, nd.l) {
			continue // left again while it was set up
		}
		nodes = append(nodes, nd)
		o.log.Info("node joined; calls go to it too", "node", nd.name, "capacity", nd.capacity.Load())
		if !o.cfg.NoSetup && (o.spsSet > nd.sps || o.maxSet > nd.maxS) {
			// The rate or limit went up while it was set up.
			o.raiseInBackground([]*node{nd}, o.spsSet, o.maxSet)
		}
	}
	o.nodes = nodes
}

// idleNode reports whether nd has no call of ours left to follow: none in
// progress, none whose channels are to be killed once it reconnects.
func (o *Originator) idleNode(nd *node) bool {
	if nd.active.Load() != 0 {
		return false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(nd.orphans) == 0
}

// hasNode reports whether l is one of the Originator's nodes. Called on
// the Originator's goroutine.
func (o *Originator) hasNode(l *host.Listener) bool {
	for _, nd := range o.nodes {
		if nd.l == l {
			return true
		}
	}
	return false
}

// join sets up a node that joined the pool after Attach, in the
// background, and queues it for syncNodes. Called with joinMu held.
func (o *Originator) join(l *host.Listener) {
	nd := &node{name: l.Node(), l: l}
	nd.connected.Store(l.Connected())
	o.cfgMu.Lock()
	sps, maxS := o.spsSet, o.maxSet
	o.cfgMu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), joinTimeout)
		defer cancel()
		go func() {
			select {
			case <-o.quit:
				cancel()
			case <-ctx.Done():
			}
		}()
		raised, err := o.setupNode(ctx, nd, sps, maxS)
		if err == nil && raised {
			err = spsSettled(ctx)
		}
		nd.sps, nd.maxS = sps, maxS
		o.joinMu.Lock()
		if err != nil {
			o.joining[l] = time.Now().Add(joinRetry)
		} else {
			delete(o.joining, l)
			o.joined = append(o.joined, nd)
		}
		o.joinMu.Unlock()
		if err != nil {
			select {
			case <-o.quit:
			default:
				o.log.Warn("setting up a node that joined failed; retrying", "node", nd.name, "err", err)
			}
			return
		}
		o.poke()
	}()
}

// closed reports whether l is closed.
func closed(l *host.Listener) bool {
	select {
	case <-l.Done():
		return true
	default:
		return false
	}
}
