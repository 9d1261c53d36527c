package esl

import (
	"sync/atomic"
	"unsafe"
)

// Where an event is indexed is decided per connection, from what its
// consumer does with the events:
//
//   - A consumer that reads a few headers of each event (Name, UUID, one or
//     two Gets) is served best by lazy events: the reader goroutine makes one
//     copy of the body and the consumer searches it in place.
//   - A consumer that indexes most events (it ranges over them, compares
//     their name sets, reads many headers: the host's Listener) is served
//     best by indexing on the reader goroutine, straight from the read buffer
//     while its bytes are hot in cache: no copy of the wire text is made, and
//     a consumer behind a queue does not pull 6 KB of cold text per event
//     through the cache to index it there (measured: 2-3x the cost).
//
// A connection starts lazy and watches how many of its lazy events end up
// indexed (by anyone, at any time). When most do, it indexes on the reader
// goroutine, still handing over one event in sampleEvery lazily to keep
// watching; when few do, it goes back to lazy. The decision only moves work
// between goroutines: events behave the same either way.
type adapter struct {
	b       *eventBuilder // indexes eager events (reader goroutine only)
	eager   bool
	n       uint64 // events made
	watched int64  // lazy events handed over since the last decision
	lastIdx int64  // use.indexed at the last decision
	use     usage
}

// usage counts, for one connection, the lazy events that got indexed.
type usage struct{ indexed atomic.Int64 }

const (
	sampleEvery = 64  // eager: one event in 64 is handed over lazily, to watch
	decideEvery = 128 // lazy events watched per decision
	eagerAbove  = 0.5 // share of watched events indexed to go eager
	lazyBelow   = 0.2 // ... and to go back to lazy
)

// event makes the event of a text/event-plain frame on the reader goroutine.
func (a *adapter) event(f *Frame) (*Event, error) {
	a.n++
	if a.eager && a.n%sampleEvery != 0 && len(f.Body) > 0 {
		// The frame's bytes are valid until the next ReadFrame, and are
		// only read.
		if a.b == nil {
			a.b = getBuilder()
		}
		return a.b.indexed(unsafe.String(unsafe.SliceData(f.Body), len(f.Body)))
	}
	ev, err := newRawEvent(string(f.Body))
	if err != nil {
		return nil, err
	}
	ev.use = &a.use
	if a.watched++; a.watched >= decideEvery {
		idx := a.use.indexed.Load()
		share := float64(idx-a.lastIdx) / float64(a.watched)
		switch {
		case !a.eager && share > eagerAbove:
			a.eager = true
		case a.eager && share < lazyBelow:
			a.eager = false
		}
		a.watched, a.lastIdx = 0, idx
	}
	return ev, nil
}
