package models

import (
	"errors"
	"strings"
	"time"
)

type jobState int8

const (
	jobPending jobState = iota
	jobOK
	jobFailed
)

// NewJob records a launched job.
func NewJob(uuid, sessUUID, command string, launch time.Time) *Job {
	return &Job{UUID: uuid, SessUUID: sessUUID, Command: command, Launch: launch, done: make(chan struct{})}
}

// Complete applies the BACKGROUND_JOB event: body "+OK <uuid>" makes the job
// successful with Result "<uuid>"; "-ERR <CAUSE>" fails it with Cause CAUSE;
// any other body fails it with the body as Cause. Only the first Complete or
// Fail counts. The job keeps copies, never the event.
func (j *Job) Complete(ev Event) {
	body := strings.TrimSpace(ev.Body())
	switch {
	case strings.HasPrefix(body, "+OK"):
		j.finish(jobOK, strings.Clone(strings.TrimSpace(body[3:])), "", nil)
	case strings.HasPrefix(body, "-ERR"):
		text := strings.Clone(body)
		cause := strings.TrimSpace(text[4:])
		if cause == "" {
			cause = text
		}
		j.finish(jobFailed, text, cause, errors.New(text))
	default:
		text := strings.Clone(body)
		if text == "" {
			text = "empty BACKGROUND_JOB body"
		}
		j.finish(jobFailed, text, text, errors.New(text))
	}
}

// Fail completes the job with an error (e.g. the connection was lost); Cause
// is err's text. Only the first Complete or Fail counts.
func (j *Job) Fail(err error) {
	if err == nil {
		err = errors.New("job failed")
	}
	j.finish(jobFailed, "", err.Error(), err)
}

func (j *Job) finish(st jobState, result, cause string, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.state != jobPending {
		return
	}
	j.state, j.result, j.cause, j.err = st, result, cause, err
	if j.done == nil { // a Job made without NewJob
		j.done = make(chan struct{})
	}
	close(j.done)
}

// Ready reports whether the job has completed or failed.
func (j *Job) Ready() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.state != jobPending
}

// Successful reports whether the job completed with "+OK".
func (j *Job) Successful() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.state == jobOK
}

// Result is what followed "+OK " (an originate's session uuid) for a
// successful job, the trimmed body for a failed one, "" before completion or
// after Fail.
func (j *Job) Result() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.result
}

// Cause is the CAUSE of a "-ERR CAUSE" body, the body of another failure, or
// the error text of Fail; "" unless failed.
func (j *Job) Cause() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.cause
}

// Err is the job's error (its text is the "-ERR ..." body or Fail's error);
// nil while pending or when successful.
func (j *Job) Err() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.err
}

// Done is closed once the job has completed or failed.
func (j *Job) Done() <-chan struct{} {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.done == nil {
		j.done = make(chan struct{})
	}
	return j.done
}
