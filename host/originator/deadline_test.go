package originator

import (
	"testing"
	"time"

	"github.com/switchlua/switchlua/esl/fssim/fstest"
	"github.com/switchlua/switchlua/host"
)

// TestDurationUnanswered: --duration applies to calls that are never
// answered. The app takes the inbound legs and never answers them, so
// without the deadline the calls would ring until the park timeout (30 s)
// or originate_timeout (60 s); every call we offered is gone by its offer
// time plus the duration, killed with ALLOTTED_TIMEOUT.
func TestDurationUnanswered(t *testing.T) {
	tg := fstest.Start(t)
	const d = 400 * time.Millisecond
	r := newRig(t, Config{Rate: 50, Limit: 20, Duration: d, MaxOffered: 10,
		Apps: []App{{ID: "silent", Weight: 1}}}, []*fstest.Target{tg}, app(t, "silent", "testdata/silent.lua"))
	c := r.run(15 * time.Second)
	if c.Offered != 10 || c.Ended != 10 || c.Answered != 0 || c.Failed != 10 || c.FailedByCause[causeDeadline] != 10 {
		t.Fatalf("counts %v by cause %v: want 10 offered, none answered, 10 failed with %s", c, c.FailedByCause, causeDeadline)
	}
	offers, rows, ended := r.snapshot()
	for _, of := range offers {
		e, ok := ended[of.UUID]
		if !ok {
			t.Fatalf("call %s has no row", of.UUID)
		}
		// By the deadline, give or take the kill's round trip (a loaded
		// machine gets a generous margin; the old behaviour took 30 s).
		if got := e.Sub(of.Time); got < d || got > d+3*time.Second {
			t.Errorf("an unanswered call lasted %v, want about %v", got, d)
		}
	}
	for _, row := range rows {
		if row.Answered() || row.HangupCause != causeDeadline || row.CallerCreate == 0 {
			t.Errorf("row %+v: want an unanswered call with channels, ended with %s", row, causeDeadline)
		}
	}
	r.idle()
}

// TestLostNode: a node whose connection stays down past LostAfter is lost:
// its calls end at once as failed with host.CauseLostConnection (the
// answered ones with their create and answer times), it shows as Lost, and
// the Originator, stopped, reaches STOPPED instead of waiting for ever.
func TestLostNode(t *testing.T) {
	tg := fstest.Start(t)
	sim := tg.RequireSim(t)
	r := newRig(t, Config{Rate: 100, Limit: 20, Duration: time.Minute, LostAfter: 500 * time.Millisecond,
		Apps: []App{{ID: "answer", Weight: 1}}}, []*fstest.Target{tg}, app(t, "answer", "testdata/answer.lua"))
	if err := r.o.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "20 answered calls", func() bool {
		c := r.o.Counts()
		return c.Answered == 20 && c.Active == 20 && c.ActiveAnswered == 20
	})
	_ = sim.Close() // FreeSWITCH is gone: the connection drops, redials fail
	lostAt := time.Now()
	eventually(t, 10*time.Second, "the node lost", func() bool {
		c := r.o.Counts()
		return len(c.Nodes) == 1 && c.Nodes[0].Lost && c.Active == 0
	})
	if since := time.Since(lostAt); since < 500*time.Millisecond {
		t.Errorf("node lost %v after it went away, before LostAfter", since)
	}
	r.o.Stop(true)
	c := r.wait(5 * time.Second)
	if c.Offered != 20 || c.Ended != 20 || c.Answered != 20 || c.ActiveAnswered != 0 ||
		c.FailedByCause[host.CauseLostConnection] != 20 || c.Nodes[0].LostCalls != 20 {
		t.Fatalf("counts %v by cause %v nodes %+v: want 20 answered calls lost", c, c.FailedByCause, c.Nodes)
	}
	_, rows, _ := r.snapshot()
	if len(rows) != 20 {
		t.Fatalf("%d rows, want 20", len(rows))
	}
	for _, row := range rows {
		if row.HangupCause != host.CauseLostConnection || !row.Answered() || row.CallerCreate == 0 || row.JobLaunch == 0 || row.Erlangs == 0 {
			t.Errorf("row %+v: want an answered call lost with the connection", row)
		}
		if _, ok := row.SetupLatency(); !ok {
			t.Errorf("row %+v: no setup latency", row)
		}
	}
}

func TestLostAfterDefault(t *testing.T) {
	for _, tt := range []struct {
		cfg  Config
		want time.Duration
	}{
		{Config{Duration: 2 * time.Second}, DefaultLostAfter},
		{Config{Duration: time.Minute}, time.Minute},
		{Config{Duration: -1}, DefaultLostAfter},
		{Config{Rate: 1, Limit: 30}, 31 * time.Second}, // automatic duration 30/1 + 1 s
		{Config{Duration: time.Minute, LostAfter: time.Second}, time.Second},
		{Config{LostAfter: -1}, -1},
	} {
		o, err := New(tt.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := o.LostAfter(); got != tt.want {
			t.Errorf("%+v: lostAfter %v, want %v", tt.cfg, got, tt.want)
		}
	}
}
