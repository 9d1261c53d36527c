package esl

import (
	"strings"
	"sync"
	"testing"
)

// jobFS answers like FreeSWITCH does for job results: BACKGROUND_JOB goes
// only to a connection subscribed to it (or to ALL), and, when the
// connection has filters, only if one lets it through. It records the
// commands of every connection.
type jobFS struct {
	*fakeFS
	mu   sync.Mutex
	cmds [][]string // per connection
}

func newJobFS(t *testing.T) *jobFS {
	j := &jobFS{}
	j.fakeFS = newFakeFS(t, func(fc *fakeConn) {
		j.mu.Lock()
		j.cmds = append(j.cmds, nil)
		n := len(j.cmds) - 1
		j.mu.Unlock()
		subs := map[string]bool{}
		var filters [][2]string
		for {
			cmd, _, err := fc.read()
			if err != nil {
				return
			}
			j.mu.Lock()
			j.cmds[n] = append(j.cmds[n], cmd)
			j.mu.Unlock()
			f := strings.Fields(cmd)
			switch {
			case len(f) > 2 && f[0] == "event":
				for _, e := range f[2:] {
					subs[e] = true
				}
				fc.reply("+OK event listener enabled plain")
			case len(f) > 1 && f[0] == "noevents":
				subs = map[string]bool{}
				fc.reply("+OK no longer listening for events")
			case len(f) > 2 && f[0] == "filter" && f[1] == "delete":
				var kept [][2]string
				for _, x := range filters {
					if f[2] == "all" || strings.EqualFold(x[0], f[2]) && (len(f) < 4 || x[1] == f[3]) {
						continue
					}
					kept = append(kept, x)
				}
				filters = kept
				fc.reply("+OK filter deleted.")
			case len(f) > 2 && f[0] == "filter":
				filters = append(filters, [2]string{f[1], f[2]})
				fc.reply("+OK filter added.")
			case f[0] == "bgapi":
				id := header(cmd, "Job-UUID")
				fc.send("Content-Type: command/reply\nReply-Text: +OK Job-UUID: " + id + "\nJob-UUID: " + id + "\n\n")
				pass := len(filters) == 0
				for _, x := range filters {
					if strings.EqualFold(x[0], "Event-Name") && x[1] == "BACKGROUND_JOB" {
						pass = true
					}
				}
				if (subs["BACKGROUND_JOB"] || subs["ALL"]) && pass {
					fc.event("+OK\n", "Event-Name", "BACKGROUND_JOB", "Job-UUID", id)
				}
			default:
				if !fc.answer(cmd, "") {
					return
				}
			}
		}
	})
	return j
}

func (j *jobFS) commands(conn int) []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.cmds[conn]...)
}

// A bgapi on a connection that never subscribed still completes: the first
// one subscribes to BACKGROUND_JOB, once, and a reconnect keeps it.
func TestBgAPISubscribesJobResults(t *testing.T) {
	j := newJobFS(t)
	c := dial(t, j.fakeFS, Options{Reconnect: true, ReconnectMin: 10e6})
	for i := 0; i < 2; i++ {
		job, err := c.BgAPI(ctx5(t), "status")
		if err != nil {
			t.Fatal(err)
		}
		if ev, err := job.Wait(ctx5(t)); err != nil || ev.Body() != "+OK\n" {
			t.Fatalf("job %d: %v %v", i, ev, err)
		}
	}
	got := j.commands(0)
	if len(got) != 3 || got[0] != "event plain BACKGROUND_JOB" || !strings.HasPrefix(got[1], "bgapi status") || !strings.HasPrefix(got[2], "bgapi status") {
		t.Fatalf("commands %q", got)
	}
	// The server drops us; the reconnect re-subscribes.
	j.fakeFS.mu.Lock()
	j.conns[0].nc.Close()
	j.fakeFS.mu.Unlock()
	waitFor(t, "the reconnect", func() bool { j.mu.Lock(); defer j.mu.Unlock(); return len(j.cmds) == 2 && len(j.cmds[1]) >= 1 })
	waitFor(t, "connected", c.Connected)
	job, err := c.BgAPI(ctx5(t), "status")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := job.Wait(ctx5(t)); err != nil {
		t.Fatal(err)
	}
	if got := j.commands(1); len(got) != 2 || got[0] != "event plain BACKGROUND_JOB" || !strings.HasPrefix(got[1], "bgapi") {
		t.Fatalf("after reconnect: %q", got)
	}
}

// A connection subscribed to ALL needs nothing more.
func TestBgAPIWithAllEvents(t *testing.T) {
	j := newJobFS(t)
	c := dial(t, j.fakeFS, Options{Handler: func(*Event) {}})
	if err := c.Subscribe(ctx5(t), "ALL"); err != nil {
		t.Fatal(err)
	}
	job, err := c.BgAPI(ctx5(t), "status")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := job.Wait(ctx5(t)); err != nil {
		t.Fatal(err)
	}
	if got := j.commands(0); len(got) != 2 || got[0] != "event plain ALL" {
		t.Fatalf("commands %q", got)
	}
}

// With filters, a filter lets BACKGROUND_JOB through while the caller has
// filters, and goes with the last of them.
func TestBgAPIWithFilters(t *testing.T) {
	j := newJobFS(t)
	c := dial(t, j.fakeFS, Options{Handler: func(*Event) {}})
	if err := c.Subscribe(ctx5(t), "CHANNEL_ANSWER"); err != nil {
		t.Fatal(err)
	}
	if err := c.Filter(ctx5(t), "Unique-ID", "u1"); err != nil {
		t.Fatal(err)
	}
	job, err := c.BgAPI(ctx5(t), "status")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := job.Wait(ctx5(t)); err != nil {
		t.Fatal(err)
	}
	if err := c.FilterDelete(ctx5(t), "Unique-ID", "u1"); err != nil {
		t.Fatal(err)
	}
	// A later first filter brings it back.
	if err := c.Filter(ctx5(t), "Unique-ID", "u2"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.API(ctx5(t), "status"); err != nil { // flushes what was queued
		t.Fatal(err)
	}
	want := []string{
		"event plain CHANNEL_ANSWER",
		"filter Unique-ID u1",
		"event plain BACKGROUND_JOB",
		"filter Event-Name BACKGROUND_JOB",
		"bgapi status",
		"filter delete Unique-ID u1",
		"filter delete Event-Name BACKGROUND_JOB",
		"filter Unique-ID u2",
		"filter Event-Name BACKGROUND_JOB",
		"api status",
	}
	got := j.commands(0)
	if len(got) != len(want) {
		t.Fatalf("commands %q", got)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Fatalf("command %d = %q, want %q (all: %q)", i, got[i], want[i], got)
		}
	}
}
