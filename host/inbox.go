package host

import (
	"sync"

	"github.com/switchlua/switchlua/models"
)

// itemKind says what an inbox item carries.
type itemKind uint8

const (
	kindEvent itemKind = iota + 1 // an event from the esl reader
	kindReply                     // a command's reply: call done(reply, err)
	kindFunc                      // a posted function (timers, Do, state changes)
)

// item is one unit of work for the Listener goroutine.
type item struct {
	kind  itemKind
	ev    models.Event
	done  func(string, error)
	reply string
	err   error
	fn    func()
}

// inbox is the Listener's single ordered queue. Events, command replies and
// posted functions share one FIFO, so a reply is handled in wire order with
// the events around it. Only events are bounded: pushEvent blocks while max
// events are queued (back-pressure on the esl reader, never drops), while
// replies and posted functions are always accepted at once, so a callback
// that runs on the Listener goroutine itself (or a timer) can never deadlock
// against a full queue. Replies are bounded by the commands in flight and
// posted functions by the timers and callers waiting.
//
// The consumer takes the whole queue at once (take), swapping buffers, so a
// burst costs one lock round per batch on the consumer side.
type inbox struct {
	mu       sync.Mutex
	notFull  sync.Cond
	q        []item
	events   int  // events in q
	max      int  // events allowed in q before pushEvent blocks
	sleeping bool // the consumer found q empty and waits on wake
	blocked  int  // producers waiting in pushEvent
	closed   bool
	wake     chan struct{} // capacity 1: the consumer's doorbell
}

func newInbox(max int) *inbox {
	if max <= 0 {
		max = 4096
	}
	b := &inbox{max: max, q: make([]item, 0, 256), wake: make(chan struct{}, 1)}
	b.notFull.L = &b.mu
	return b
}

// pushEvent queues ev, waiting while the queue holds max events. It reports
// false once the inbox is closed.
func (b *inbox) pushEvent(ev models.Event) bool {
	b.mu.Lock()
	for b.events >= b.max && !b.closed {
		b.blocked++
		b.notFull.Wait()
		b.blocked--
	}
	if b.closed {
		b.mu.Unlock()
		return false
	}
	b.q = append(b.q, item{kind: kindEvent, ev: ev})
	b.events++
	ring := b.sleeping
	b.sleeping = false
	b.mu.Unlock()
	if ring {
		b.ring()
	}
	return true
}

// push queues a reply or a function without ever waiting. It reports false
// once the inbox is closed (the item is dropped).
func (b *inbox) push(it item) bool {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return false
	}
	b.q = append(b.q, it)
	ring := b.sleeping
	b.sleeping = false
	b.mu.Unlock()
	if ring {
		b.ring()
	}
	return true
}

func (b *inbox) ring() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// take returns everything queued, handing spare (emptied, len 0) to the
// inbox as its next buffer. When nothing is queued it returns spare
// unchanged and arms the doorbell: the next push rings wake.
func (b *inbox) take(spare []item) []item {
	b.mu.Lock()
	if len(b.q) == 0 {
		b.sleeping = true
		b.mu.Unlock()
		return spare
	}
	out := b.q
	b.q = spare[:0]
	b.events = 0
	b.sleeping = false
	if b.blocked > 0 {
		b.notFull.Broadcast()
	}
	b.mu.Unlock()
	return out
}

// len is the number of items queued (for stats).
func (b *inbox) len() int {
	b.mu.Lock()
	n := len(b.q)
	b.mu.Unlock()
	return n
}

// close drops what is queued, makes every later push fail and releases
// producers blocked in pushEvent.
func (b *inbox) close() {
	b.mu.Lock()
	b.closed = true
	clear(b.q)
	b.q = b.q[:0]
	b.events = 0
	b.notFull.Broadcast()
	b.mu.Unlock()
	b.ring()
}
