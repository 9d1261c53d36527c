package esltest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/switchlua/switchlua/esl"
	"github.com/switchlua/switchlua/esl/esltest"
)

func TestServer(t *testing.T) {
	frames, err := esltest.LoadFrames("../../testdata/transcripts/session.raw")
	if err != nil {
		t.Fatal(err)
	}
	if len(frames) < 10 {
		t.Fatalf("%d event frames", len(frames))
	}
	srv, err := esltest.Start(esltest.Config{Frames: frames, Count: 3*len(frames) + 2, BackgroundJobs: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	if _, err := esl.Dial(ctx, srv.Addr(), esl.Options{Password: "bad"}); !errors.Is(err, esl.ErrAuth) {
		t.Fatalf("wrong password: %v", err)
	}
	c, err := esl.Dial(ctx, srv.Addr(), esl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got, err := c.API(ctx, "status"); err != nil || got != "+OK" {
		t.Fatalf("api: %q %v", got, err)
	}
	if r, err := c.Send(ctx, "linger"); err != nil || r.Text != "+OK" {
		t.Fatalf("linger: %+v %v", r, err)
	}
	job, err := c.BgAPI(ctx, "status")
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := job.Wait(ctx); err != nil || ev.Body() != "+OK\n" {
		t.Fatalf("job: %v %v", ev, err)
	}
	if err := c.Subscribe(ctx, "ALL"); err != nil {
		t.Fatal(err)
	}
	want := 3*len(frames) + 2 + 1 // the stream and the BACKGROUND_JOB
	for i := 0; i < want; i++ {
		select {
		case ev := <-c.Events():
			if ev.Name() == "" {
				t.Fatal("event without a name")
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("got %d of %d events", i, want)
		}
	}
	if srv.StreamBytes() <= 0 || srv.Commands() < 5 {
		t.Fatalf("StreamBytes %d Commands %d", srv.StreamBytes(), srv.Commands())
	}
}
