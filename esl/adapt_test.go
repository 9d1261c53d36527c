package esl

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
)

// A connection whose consumer indexes its events starts indexing them on the
// reader goroutine; one whose consumer reads a header or two keeps handing
// them over lazily. Either way every event answers the same.
func TestAdaptiveIndexing(t *testing.T) {
	const n = 3000
	frames := make([]string, n)
	for i := range frames {
		frames[i] = string(NewEvent("Event-Name", "CHANNEL_STATE", "Unique-ID", fmt.Sprint("u", i),
			"Channel-State", "CS_EXECUTE", "variable_x", "a b%c").AppendFrame(nil))
	}
	for _, tc := range []struct {
		name      string
		indexes   bool
		wantEager bool
	}{
		{"consumer ranges over headers", true, true},
		{"consumer reads a header", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeFS(t, func(fc *fakeConn) {
				for {
					cmd, body, err := fc.read()
					if err != nil || !fc.answer(cmd, body) {
						return
					}
					if strings.HasPrefix(cmd, "event ") {
						fc.send(strings.Join(frames, ""))
					}
				}
			})
			var got, preIndexed, bad atomic.Int64
			done := make(chan struct{})
			c := dial(t, f, Options{Handler: func(ev *Event) {
				if ev.done.Load() {
					preIndexed.Add(1)
				}
				k := got.Add(1) - 1
				if ev.UUID() != fmt.Sprint("u", k) || ev.Get("variable_x") != "a b%c" || ev.Name() != "CHANNEL_STATE" {
					bad.Add(1)
				}
				if tc.indexes {
					ev.Range(func(string, string) bool { return true })
				}
				if k == n-1 {
					close(done)
				}
			}})
			if err := c.Subscribe(ctx5(t), "ALL"); err != nil {
				t.Fatal(err)
			}
			<-done
			if bad.Load() > 0 {
				t.Fatalf("%d events answered wrong", bad.Load())
			}
			share := float64(preIndexed.Load()) / n
			if tc.wantEager && share < 0.8 || !tc.wantEager && share > 0 {
				t.Fatalf("%.2f of the events arrived indexed", share)
			}
		})
	}
}
