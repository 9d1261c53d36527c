package models_test

import (
	"errors"
	"testing"
	"time"

	"github.com/switchlua/switchlua/models"
	"github.com/switchlua/switchlua/models/modelstest"
)

func bgEvent(body string) *modelstest.Event {
	return modelstest.NewEvent("Event-Name", "BACKGROUND_JOB", "Job-UUID", "j1").WithBody(body)
}

func TestJobComplete(t *testing.T) {
	for _, tc := range []struct {
		body                string
		ok                  bool
		result, cause, errs string
	}{
		{"+OK 5e1f0000-0000-4000-8000-504411075194\n", true, "5e1f0000-0000-4000-8000-504411075194", "", ""},
		{"+OK\n", true, "", "", ""},
		{"-ERR NORMAL_TEMPORARY_FAILURE\n", false, "-ERR NORMAL_TEMPORARY_FAILURE", "NORMAL_TEMPORARY_FAILURE", "-ERR NORMAL_TEMPORARY_FAILURE"},
		{"-ERR\n", false, "-ERR", "-ERR", "-ERR"},
		{"-USAGE: originate <url>\n", false, "-USAGE: originate <url>", "-USAGE: originate <url>", "-USAGE: originate <url>"},
		{"", false, "empty BACKGROUND_JOB body", "empty BACKGROUND_JOB body", "empty BACKGROUND_JOB body"},
	} {
		j := models.NewJob("j1", "s1", "originate x", time.Unix(1, 0))
		if j.Ready() || j.Successful() || j.Err() != nil {
			t.Fatal("new job")
		}
		select {
		case <-j.Done():
			t.Fatal("done before completion")
		default:
		}
		j.Complete(bgEvent(tc.body))
		<-j.Done()
		errs := ""
		if j.Err() != nil {
			errs = j.Err().Error()
		}
		if !j.Ready() || j.Successful() != tc.ok || j.Result() != tc.result || j.Cause() != tc.cause || errs != tc.errs {
			t.Errorf("%q: ok %v result %q cause %q err %q", tc.body, j.Successful(), j.Result(), j.Cause(), errs)
		}
		// idempotent: later completions are ignored and Done is not closed twice.
		j.Complete(bgEvent("+OK other\n"))
		j.Fail(errors.New("late"))
		if j.Successful() != tc.ok || j.Result() != tc.result {
			t.Errorf("%q: changed by a later completion", tc.body)
		}
	}
}

func TestJobFail(t *testing.T) {
	lost := errors.New("esl: connection lost")
	j := models.NewJob("j2", "", "status", time.Now())
	done := make(chan struct{})
	go func() { <-j.Done(); close(done) }()
	j.Fail(lost)
	<-done
	if !j.Ready() || j.Successful() || j.Cause() != lost.Error() || !errors.Is(j.Err(), lost) || j.Result() != "" {
		t.Errorf("fail: %v %q %v", j.Successful(), j.Cause(), j.Err())
	}
	j.Complete(bgEvent("+OK x"))
	if j.Successful() {
		t.Error("complete after fail")
	}
	var zero models.Job // without NewJob
	zero.Fail(nil)
	<-zero.Done()
	if zero.Cause() == "" {
		t.Error("zero job fail")
	}
}

func TestJobConcurrent(t *testing.T) {
	j := models.NewJob("j3", "", "", time.Now())
	for i := 0; i < 8; i++ {
		go j.Complete(bgEvent("+OK u"))
		go j.Fail(errors.New("x"))
		go j.Ready()
	}
	<-j.Done()
}
