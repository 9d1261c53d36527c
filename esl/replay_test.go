package esl

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// replayFS serves a capture's frames: replies only after reading a command
// (so they pair with what the client sent), everything else at once; it hangs
// up after a disconnect notice.
func replayFS(t *testing.T, name string) (*fakeFS, []frameRec) {
	frames := readAllFrames(t, bytes.NewReader(transcript(t, name)))
	f := newRawFakeFS(t, func(fc *fakeConn) {
		for _, fr := range frames {
			if fr.ct == TypeCommandReply || fr.ct == TypeAPIResponse {
				if _, _, err := fc.read(); err != nil {
					return
				}
			}
			fc.send(fr.header + "\n\n" + fr.body)
			if fr.ct == TypeDisconnect {
				return
			}
		}
		fc.waitClosed()
	})
	return f, frames
}

// Replays of the real captures through a Conn in Handler mode: every event,
// reply and the final disconnect arrive, in wire order.
func TestReplayCaptures(t *testing.T) {
	for _, name := range []string{"session.raw", "errors.raw", "selfcall-media.raw"} {
		t.Run(name, func(t *testing.T) {
			f, frames := replayFS(t, name)
			var want []string
			replies := 0
			for _, fr := range frames[2:] { // after auth/request and its reply
				switch fr.ct {
				case TypeEventPlain:
					ev, _ := ParseEvent([]byte(fr.body))
					want = append(want, "ev "+ev.Name()+" "+ev.Get("Event-Sequence")+" "+ev.Get("Unique-ID"))
				case TypeCommandReply, TypeAPIResponse:
					replies++
					text := strings.TrimRight(fr.body, "\n")
					if fr.ct == TypeCommandReply {
						text = ""
						for _, l := range strings.Split(fr.header, "\n") {
							if v, ok := strings.CutPrefix(l, "Reply-Text: "); ok {
								text = v
							}
						}
					}
					if isErrorReply(text) {
						want = append(want, "err "+text)
					} else {
						want = append(want, "reply "+text)
					}
				}
			}
			hangup := frames[len(frames)-1].ct == TypeDisconnect
			if hangup {
				want = append(want, "closed connection lost")
			}

			var mu sync.Mutex
			var got []string
			rec := func(s string) { mu.Lock(); got = append(got, s); mu.Unlock() }
			c := dial(t, f, Options{
				Handler: func(ev *Event) { rec("ev " + ev.Name() + " " + ev.Get("Event-Sequence") + " " + ev.UUID()) },
				OnState: func(sc StateChange) {
					if sc.State == StateClosed && errors.Is(sc.Err, ErrConnectionLost) && strings.Contains(sc.Err.Error(), "disconnect-notice") {
						rec("closed connection lost")
					} else {
						rec("state " + sc.State.String())
					}
				},
			})
			for i := 0; i < replies; i++ {
				c.SendAsync("api x", func(reply string, err error) {
					if err != nil {
						rec("err " + err.Error())
					} else {
						rec("reply " + reply)
					}
				})
			}
			if !hangup {
				waitFor(t, "all records", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= len(want) })
				c.Close()
				want = append(want, "state closed")
			}
			select {
			case <-c.Done():
			case <-time.After(10 * time.Second):
				t.Fatal("replay did not end")
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("got %d records, want %d\n%s", len(got), len(want), diff(got, want))
			}
		})
	}
}

func diff(got, want []string) string {
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			return fmt.Sprintf("first difference at %d:\n got: %s\nwant: %s", i, g, w)
		}
	}
	return ""
}

func TestReplayBadAuth(t *testing.T) {
	f, _ := replayFS(t, "badauth.raw")
	_, err := Dial(ctx5(t), f.Addr(), Options{Password: "wrong"})
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"authentication failed", "-ERR invalid", f.Addr()} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestReplayCaptureJobs(t *testing.T) {
	// session.raw's bgapi: its Job-UUID reply and BACKGROUND_JOB complete a
	// job registered under the captured uuid.
	f, frames := replayFS(t, "session.raw")
	var jobs []string
	for _, fr := range frames {
		if fr.ct == TypeEventPlain && strings.HasPrefix(fr.body, "Event-Name: BACKGROUND_JOB\n") {
			ev, _ := ParseEvent([]byte(fr.body))
			jobs = append(jobs, ev.Get("Job-UUID"))
		}
	}
	if len(jobs) == 0 {
		t.Fatal("no BACKGROUND_JOB in session.raw")
	}
	c := dial(t, f, Options{Handler: func(*Event) {}})
	done := make(chan string, 10)
	replies := 0
	for _, fr := range frames[2:] {
		if fr.ct == TypeCommandReply || fr.ct == TypeAPIResponse {
			replies++
		}
	}
	// Send the captured commands' count; the bgapi ones carry the captured uuids.
	ji := 0
	for _, fr := range frames[2:] {
		if fr.ct != TypeCommandReply && fr.ct != TypeAPIResponse {
			continue
		}
		if strings.Contains(fr.header, "Job-UUID: ") && ji < len(jobs) {
			id := jobs[ji]
			ji++
			c.BgAPIAsync("originate x", id, func(ev *Event, err error) {
				if err != nil {
					done <- "error " + err.Error()
					return
				}
				done <- ev.Get("Job-UUID") + " " + strings.TrimSpace(ev.Body())
			})
			continue
		}
		c.SendAsync("api x", nil)
	}
	for i := 0; i < ji; i++ {
		select {
		case got := <-done:
			if !strings.HasPrefix(got, jobs[i]+" +OK") {
				t.Fatalf("job %d: %s", i, got)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("job not completed")
		}
	}
}
