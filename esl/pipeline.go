package esl

import (
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
)

// The read side of a connection is a small pipeline, so that parsing events
// (the bulk of the work: copying, url-decoding and indexing ~5 KB per event)
// does not serialise behind the socket:
//
//	socket goroutine: read into large chunks, split frames; one batch per
//	                  read (no copying: frames point into the chunk)
//	parse workers:    copy each event out of the chunk into a buffer the
//	                  event will own and parse it there (in parallel)
//	reader goroutine: take batches in order, wait until parsed, then pair
//	                  replies, complete jobs and deliver events in wire order
//
// Batches are bounded (back-pressure reaches the socket), and delivery order
// is the wire order whatever the number of workers.

const (
	batchQueue    = 4   // batches in flight per connection
	maxBatchItems = 256 // a batch is sent at the latest after this many frames
	maxWorkers    = 4
)

// item is one frame, reduced to what the reader goroutine needs.
type item struct {
	ct   string
	raw  []byte // event body, in the chunk
	text string // reply text, api body, notice body
	job  string // Job-UUID of a bgapi reply
	disp string // Content-Disposition of a disconnect notice
	ev   *Event
	err  error // why the event could not be parsed
}

type batch struct {
	items []item
	err   error         // the socket's error, after the items
	ready chan struct{} // closed when the events are parsed (nil: nothing to parse)
	chunk *chunk        // the read buffer the events point into, released once parsed
}

// chunk is a read buffer shared by the socket goroutine (which reads into
// its free tail) and the parse workers (which read the frames before it).
// It goes back to the pool when neither needs it.
type chunk struct {
	buf  []byte
	refs atomic.Int32
}

var chunkPool sync.Pool

func getChunk(size int) *chunk {
	var c *chunk
	if size <= defaultReadBuffer {
		c, _ = chunkPool.Get().(*chunk)
		size = defaultReadBuffer
	}
	if c == nil {
		c = &chunk{buf: make([]byte, size)}
	}
	c.refs.Store(1)
	return c
}

func (c *chunk) release() {
	if c.refs.Add(-1) == 0 && len(c.buf) == defaultReadBuffer {
		chunkPool.Put(c)
	}
}

// startReading starts the socket goroutine and the parse workers of s.
func (c *Conn) startReading(s *session) {
	s.batches = make(chan *batch, batchQueue)
	work := make(chan *batch, batchQueue)
	n := min(runtime.GOMAXPROCS(0), maxWorkers)
	for i := 0; i < n; i++ {
		go parseWorker(work)
	}
	go c.socketLoop(s, work)
}

func parseWorker(work <-chan *batch) {
	eb := new(eventBuilder).predicting()
	for b := range work {
		for i := range b.items {
			it := &b.items[i]
			switch it.ct {
			case TypeEventPlain:
				it.ev, it.err = eb.parsePlain(it.raw)
			case TypeEventJSON:
				it.ev, it.err = eb.parseJSON(it.raw)
			}
			it.raw = nil
		}
		if b.chunk != nil {
			b.chunk.release()
			b.chunk = nil
		}
		close(b.ready)
	}
}

// socketLoop reads s until it fails, sending a batch after every read that
// completed frames. It closes work when done.
func (c *Conn) socketLoop(s *session, work chan<- *batch) {
	defer close(work)
	rd := s.rd
	var cur *chunk
	rd.rotate = func(_ []byte, size int) []byte {
		old := cur
		cur = getChunk(size)
		if old != nil {
			old.release()
		}
		return cur.buf
	}
	defer func() {
		if cur != nil {
			cur.release()
		}
	}()
	b := &batch{}
	events := 0
	send := func() bool {
		if events > 0 {
			b.ready = make(chan struct{})
			if cur != nil {
				cur.refs.Add(1)
				b.chunk = cur
			}
			select {
			case work <- b:
			case <-s.dead:
				return false
			}
		}
		select {
		case s.batches <- b:
		case <-s.dead:
			return false
		}
		b = &batch{items: make([]item, 0, len(b.items))}
		events = 0
		return true
	}
	for {
		f, need, err := rd.buffered()
		if err == nil && f == nil {
			if len(b.items) > 0 && !send() {
				return
			}
			err = rd.more(need)
			if err == nil {
				continue
			}
		}
		if err != nil {
			b.err = err
			send()
			return
		}
		it := item{ct: f.ContentType}
		switch f.ContentType {
		case TypeEventPlain, TypeEventJSON:
			it.raw = f.Body
			events++
		case TypeCommandReply:
			it.text = trimReply(string(f.lookup("Reply-Text")))
			if j := f.lookup("Job-UUID"); len(j) > 0 {
				it.job = string(j)
			}
		case TypeAPIResponse:
			it.text = trimReply(string(f.Body))
		case TypeDisconnect:
			it.disp = string(f.lookup("Content-Disposition"))
			it.text = strings.TrimSpace(string(f.Body))
		case TypeRudeRejection:
			it.text = strings.TrimSpace(string(f.Body))
		default:
			// log/data (we never ask for logs), a late auth/request, unknown
			// types: skipped, never fatal.
			c.log.Debug("esl: skipping frame", "addr", c.addr, "content_type", f.ContentType)
			continue
		}
		b.items = append(b.items, it)
		if len(b.items) >= maxBatchItems && !send() {
			return
		}
	}
}
