package cdr

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Writer stores CDR rows as calls end. All methods are safe for concurrent
// use by several goroutines (one Listener per node may write at once).
//
// Write only appends the row to an in-memory batch and never touches the
// disk, so it is cheap on a Listener's goroutine. A background goroutine
// writes the batch at least every [Options.FlushInterval] (1 s by default)
// and as soon as [Options.BatchRows] rows are waiting. Close writes what is
// left. If the disk stalls, the batch grows in memory until it does not.
//
// Errors are never dropped silently: the first write error is passed to
// [Options.OnError] when it happens, every later Write, Flush and Close
// returns it, and rows given to Write after it are not stored (the error
// Write returns says so).
type Writer interface {
	// Write queues one row. It returns an error if the writer is closed or
	// an earlier write to the file failed; the row is then not stored.
	Write(r Row) error
	// Flush writes the queued rows to the file now.
	Flush() error
	// Close flushes and closes the file. It returns the first error the
	// writer met, if any. Calling Close again returns the same result.
	Close() error
	// Rows is the number of rows written to the file so far.
	Rows() int64
	// Path is the file the writer writes.
	Path() string
}

// Options tune a Writer. The zero value is ready to use.
type Options struct {
	// FlushInterval is the longest a row waits in memory (default 1 s).
	FlushInterval time.Duration
	// BatchRows wakes the flusher early when this many rows are waiting
	// (default 1024); rows wait in chunks of this size.
	BatchRows int
	// Append keeps what the file already holds: CSV rows are appended after
	// the existing ones (the header is written only to an empty file) and
	// SQLite rows are added to the existing cdr table. Without it, a CSV
	// file is truncated and the SQLite cdr table is dropped and recreated
	// (other tables in the database are left alone).
	Append bool
	// OnError, if set, is called once, from the flushing goroutine, with the
	// first write error, so the caller can log it as it happens.
	OnError func(error)
}

// ErrClosed is returned by Write and Flush after Close.
var ErrClosed = errors.New("cdr: writer is closed")

// IsSQLitePath reports whether Open would use SQLite for path: it ends in
// ".db" (any case).
func IsSQLitePath(path string) bool {
	return strings.HasSuffix(strings.ToLower(path), ".db")
}

// Open creates a Writer for path with default options: SQLite (one table,
// "cdr") when the path ends in ".db", CSV with a header row otherwise.
func Open(path string) (Writer, error) { return OpenWith(path, Options{}) }

// OpenWith is Open with options.
func OpenWith(path string, opt Options) (Writer, error) {
	var (
		s   sink
		err error
	)
	if IsSQLitePath(path) {
		s, err = openSQLiteSink(path, opt.Append)
	} else {
		s, err = openCSVSink(path, opt.Append)
	}
	if err != nil {
		return nil, err
	}
	return newWriter(path, s, opt), nil
}

// sink is a storage format. writeBatch and close are called by one goroutine
// at a time; writeBatch stores the rows of all chunks, in order.
type sink interface {
	writeBatch(chunks [][]Row) error
	close() error
}

type writer struct {
	path    string
	sink    sink
	chunk   int
	onError func(error)

	mu     sync.Mutex
	chunks [][]Row // queued rows; every chunk but the last is full
	free   [][]Row // empty chunks to reuse
	err    error   // first write error, sticky
	closed bool

	ioMu     sync.Mutex // serialises flushes so rows keep their order
	rows     atomic.Int64
	kick     chan struct{}
	stop     chan struct{}
	loopDone chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// maxFreeChunks bounds the memory kept for reuse after a burst.
const maxFreeChunks = 8

func newWriter(path string, s sink, opt Options) *writer {
	if opt.FlushInterval <= 0 {
		opt.FlushInterval = time.Second
	}
	if opt.BatchRows <= 0 {
		opt.BatchRows = 1024
	}
	w := &writer{
		path:     path,
		sink:     s,
		chunk:    opt.BatchRows,
		onError:  opt.OnError,
		kick:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		loopDone: make(chan struct{}),
	}
	go w.loop(opt.FlushInterval)
	return w
}

func (w *writer) Path() string { return w.path }
func (w *writer) Rows() int64  { return w.rows.Load() }

// Write appends to the last chunk, or starts a new one: rows are never
// copied again, however many are waiting.
func (w *writer) Write(r Row) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	if w.err != nil {
		err := w.err
		w.mu.Unlock()
		return fmt.Errorf("row not stored after an earlier error: %w", err)
	}
	n := len(w.chunks)
	if n == 0 || len(w.chunks[n-1]) == cap(w.chunks[n-1]) {
		var c []Row
		if f := len(w.free); f > 0 {
			c, w.free = w.free[f-1], w.free[:f-1]
		} else {
			c = make([]Row, 0, w.chunk)
		}
		w.chunks = append(w.chunks, c)
		n++
	}
	last := &w.chunks[n-1]
	*last = append(*last, r)
	full := len(*last) == cap(*last)
	w.mu.Unlock()
	if full {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
	return nil
}

func (w *writer) Flush() error {
	w.mu.Lock()
	closed := w.closed
	w.mu.Unlock()
	if closed {
		return ErrClosed
	}
	return w.flush()
}

func (w *writer) loop(every time.Duration) {
	defer close(w.loopDone)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
		case <-w.kick:
		}
		_ = w.flush() // the error is sticky and reported through OnError
	}
}

// flush writes the queued chunks. Flushes are serialised by ioMu so rows
// reach the file in Write order.
func (w *writer) flush() error {
	w.ioMu.Lock()
	defer w.ioMu.Unlock()
	w.mu.Lock()
	if w.err != nil {
		err := w.err
		w.mu.Unlock()
		return err
	}
	chunks := w.chunks
	w.chunks = nil
	w.mu.Unlock()
	if len(chunks) == 0 {
		return nil
	}

	err := w.sink.writeBatch(chunks)
	n := 0
	for _, c := range chunks {
		n += len(c)
	}
	if err == nil {
		w.rows.Add(int64(n))
	} else {
		err = fmt.Errorf("cdr: writing %d rows to %s: %w", n, w.path, err)
	}
	w.mu.Lock()
	for _, c := range chunks {
		if len(w.free) < maxFreeChunks && cap(c) == w.chunk {
			clear(c) // drop string references
			w.free = append(w.free, c[:0])
		}
	}
	first := err != nil && w.err == nil
	if first {
		w.err = err
	}
	w.mu.Unlock()
	if first && w.onError != nil {
		w.onError(err)
	}
	return err
}

func (w *writer) Close() error {
	w.closeOnce.Do(func() {
		close(w.stop)
		<-w.loopDone
		w.mu.Lock()
		w.closed = true // no Write can slip in after the last flush
		w.mu.Unlock()
		ferr := w.flush()
		cerr := w.sink.close()
		if cerr != nil {
			cerr = fmt.Errorf("cdr: closing %s: %w", w.path, cerr)
		}
		w.closeErr = errors.Join(ferr, cerr)
	})
	return w.closeErr
}

// csvSink writes RFC 4180 CSV with a header row.
type csvSink struct {
	f   *os.File
	buf []byte
}

func openCSVSink(path string, appendTo bool) (*csvSink, error) {
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if appendTo {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cdr: %w", err)
	}
	st, err := f.Stat()
	if err == nil && st.Size() == 0 {
		_, err = f.WriteString(strings.Join(Columns, ",") + "\n")
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("cdr: writing header to %s: %w", path, err)
	}
	return &csvSink{f: f}, nil
}

func (s *csvSink) writeBatch(chunks [][]Row) error {
	for _, rows := range chunks {
		b := s.buf[:0]
		for i := range rows {
			b = rows[i].appendCSV(b)
		}
		if _, err := s.f.Write(b); err != nil {
			return err
		}
		s.buf = b
	}
	return nil
}

func (s *csvSink) close() error { return s.f.Close() }
