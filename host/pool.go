package host

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/switchlua/switchlua/bindings"
	"github.com/switchlua/switchlua/models"
)

// Pool is a set of Listeners, one per FreeSWITCH node, with the same Config
// and the same apps (switchio's SlavePool / Service). Each node keeps its own
// Lua state, so app globals are per node. Nodes can join (Add) and leave
// (Remove) at any time; whoever iterates Listeners (an Originator, a metrics
// poller) sees the change at its next call. Safe for concurrent use.
type Pool struct {
	mu     sync.RWMutex
	ls     []*Listener
	byNode map[string]*Listener
	closed bool
}

// ErrDuplicateNode is returned by Pool.Add for a node the pool has already.
var ErrDuplicateNode = errors.New("host: node already in the pool")

// DialPool dials every node (host:port) concurrently with cfg. If any fails,
// the others are closed and the errors are returned.
func DialPool(ctx context.Context, nodes []string, cfg Config) (*Pool, error) {
	ls := make([]*Listener, len(nodes))
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() { ls[i], errs[i] = Dial(ctx, n, cfg) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, l := range ls {
			if l != nil {
				l.Close()
			}
		}
		return nil, err
	}
	p := &Pool{byNode: make(map[string]*Listener)}
	for _, l := range ls {
		p.add(l)
	}
	return p, nil
}

// NewPool makes a Pool of Listeners dialled already (it takes them over:
// Pool.Close closes them).
func NewPool(ls ...*Listener) *Pool {
	p := &Pool{byNode: make(map[string]*Listener)}
	for _, l := range ls {
		p.add(l)
	}
	return p
}

func (p *Pool) add(l *Listener) {
	p.ls = append(p.ls, l)
	p.byNode[l.Node()] = l
}

// Add makes l, a Listener dialled later (with Dial), a node of the pool,
// after the others in Listeners' order; the pool takes it over (Close
// closes it). Add does not load apps: load the pool's apps on l first (e.g.
// apps.Manager.Attach, or Listener.Load of each spec), so that nothing that
// picks nodes from Listeners sends it a call for an app it lacks.
//
// It fails, leaving l to the caller, with ErrDuplicateNode if the pool has
// a Listener for l.Node() already, and with ErrClosed if the pool (or l)
// is closed.
func (p *Pool) Add(l *Listener) error {
	if l == nil {
		return errors.New("host: Pool.Add of a nil Listener")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closed || l.closed.Load():
		return ErrClosed
	case p.byNode[l.Node()] != nil:
		return fmt.Errorf("%w: %s", ErrDuplicateNode, l.Node())
	}
	p.add(l)
	return nil
}

// Remove takes l out of the pool and hands it back to the caller, who closes
// it (its calls are not touched: hang them up first if they must end).
// It reports whether l was in the pool.
func (p *Pool) Remove(l *Listener) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := slices.Index(p.ls, l)
	if i < 0 {
		return false
	}
	p.ls = slices.Delete(p.ls, i, i+1)
	delete(p.byNode, l.Node())
	return true
}

// Listeners returns the Listeners in the order the nodes were given (to
// DialPool or NewPool, then to Add).
func (p *Pool) Listeners() []*Listener {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return append([]*Listener(nil), p.ls...)
}

// Listener returns the Listener of node (as given to DialPool or Dial), nil
// if none.
func (p *Pool) Listener(node string) *Listener {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.byNode[node]
}

// Load installs or replaces an app on every node (see Listener.Load). The
// compiled scripts are shared; each node runs them in its own Lua state.
// The error joins the nodes' errors, each prefixed with its node; as for
// Listener.Load, a node whose error matches ErrSubscribe runs the new
// generation (its subscription lags), the others listed did not load it.
func (p *Pool) Load(ctx context.Context, spec bindings.AppSpec) error {
	return p.each(func(l *Listener) error { return l.Load(ctx, spec) })
}

// Unload removes an app from every node.
func (p *Pool) Unload(ctx context.Context, id string) error {
	return p.each(func(l *Listener) error { return l.Unload(ctx, id) })
}

func (p *Pool) each(fn func(*Listener) error) error {
	ls := p.Listeners()
	errs := make([]error, len(ls))
	var wg sync.WaitGroup
	for i, l := range ls {
		wg.Go(func() {
			if err := fn(l); err != nil {
				errs[i] = fmt.Errorf("%s: %w", l.Node(), err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Originate originates a call on node (see Listener.Originate).
func (p *Pool) Originate(node, dest string, o OriginateOptions) (*models.Job, error) {
	l := p.Listener(node)
	if l == nil {
		return nil, fmt.Errorf("host: no node %q in the pool", node)
	}
	return l.Originate(dest, o)
}

// Command runs a command on node and waits for its reply (see
// Listener.Command).
func (p *Pool) Command(ctx context.Context, node, cmd string) (string, error) {
	l := p.Listener(node)
	if l == nil {
		return "", fmt.Errorf("host: no node %q in the pool", node)
	}
	return l.Command(ctx, cmd)
}

// Stats returns the sum of every node's counters (Node is empty; Connected
// is true when every node is connected).
func (p *Pool) Stats() Stats {
	total := newStats("")
	total.Connected = true
	for _, l := range p.Listeners() {
		total.add(l.Stats())
	}
	return total
}

// Close closes every Listener. Add fails after it.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	ls := slices.Clone(p.ls)
	p.mu.Unlock()
	var errs []error
	for _, l := range ls {
		errs = append(errs, l.Close())
	}
	return errors.Join(errs...)
}
