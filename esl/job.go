package esl

import (
	"context"
	"crypto/rand"
	"sync/atomic"
)

// Job is a bgapi job: a future completed by its BACKGROUND_JOB event.
type Job struct {
	UUID string

	done chan struct{}
	ev   *Event
	err  error
}

// Done is closed when the job has its result or failed.
func (j *Job) Done() <-chan struct{} { return j.done }

// Wait waits for the job's BACKGROUND_JOB event. The body ("+OK <uuid>\n" or
// "-ERR <CAUSE>\n") is ev.Body().
func (j *Job) Wait(ctx context.Context) (*Event, error) {
	select {
	case <-j.done:
		return j.ev, j.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// jobEntry is a registered job: a future (BgAPI) or a callback (BgAPIAsync).
type jobEntry struct {
	c        *Conn
	uuid     string
	job      *Job
	done     func(*Event, error)
	finished atomic.Bool
}

// complete finishes the job once; later calls do nothing.
func (j *jobEntry) complete(ev *Event, err error) {
	if j.finished.Swap(true) {
		return
	}
	if j.job != nil {
		j.job.ev, j.job.err = ev, err
		close(j.job.done)
	}
	if j.done != nil {
		j.done(ev, err)
	}
}

// dropJob unregisters j if it is still registered.
func (c *Conn) dropJob(j *jobEntry) {
	c.mu.Lock()
	if c.jobs[j.uuid] == j {
		delete(c.jobs, j.uuid)
	}
	c.mu.Unlock()
}

// NewUUID returns a random (version 4) UUID from crypto/rand, in the
// 8-4-4-4-12 form FreeSWITCH uses for Job-UUID and origination_uuid.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hex = "0123456789abcdef"
	var out [36]byte
	p := 0
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[p] = '-'
			p++
		}
		out[p] = hex[c>>4]
		out[p+1] = hex[c&15]
		p += 2
	}
	return string(out[:])
}
