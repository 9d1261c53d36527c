package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// exercise touches every metric once.
func exercise(m *Metrics) {
	n := m.Node("127.0.0.1:8021")
	n.Event("CHANNEL_CREATE")
	n.Event("CHANNEL_CREATE")
	m.Event("CHANNEL_ANSWER")
	n.SetSessions(4)
	n.SetCalls(2)
	n.SetQueueDepth(7)
	n.Reconnects(1)
	m.Originated()
	m.JobFailed("USER_BUSY")
	m.Hangups("NORMAL_CLEARING", 1)
	m.ScriptError("toneplay")
	m.ObserveCallback("toneplay", 300*time.Microsecond)
	m.Reloaded(true)
	m.Reloaded(false)
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestServeAndScrape(t *testing.T) {
	m := New()
	exercise(m)
	srv, err := m.Start("127.0.0.1:0", false)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	body := scrape(t, srv.URL())
	for _, want := range []string{
		`switchlua_events_total{event="CHANNEL_CREATE"} 2`,
		`switchlua_events_total{event="CHANNEL_ANSWER"} 1`,
		`switchlua_active_sessions{node="127.0.0.1:8021"} 4`,
		`switchlua_active_calls{node="127.0.0.1:8021"} 2`,
		`switchlua_event_queue_depth{node="127.0.0.1:8021"} 7`,
		`switchlua_reconnects_total{node="127.0.0.1:8021"} 1`,
		`switchlua_originated_total 1`,
		`switchlua_failed_jobs_total{cause="USER_BUSY"} 1`,
		`switchlua_hangups_total{cause="NORMAL_CLEARING"} 1`,
		`switchlua_script_errors_total{app="toneplay"} 1`,
		`switchlua_callback_duration_seconds_bucket{app="toneplay",le="0.0005"} 1`,
		`switchlua_callback_duration_seconds_bucket{app="toneplay",le="0.00025"} 0`,
		`switchlua_callback_duration_seconds_count{app="toneplay"} 1`,
		`switchlua_reloads_total 1`,
		`switchlua_reload_failures_total 1`,
		`go_goroutines `,
		`process_resident_memory_bytes `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("scrape:\n%s", body)
	}
	if root := scrape(t, "http://"+srv.Addr()+"/"); !strings.Contains(root, "/metrics") {
		t.Errorf("root page %q", root)
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := (&http.Client{Timeout: time.Second}).Get(srv.URL()); err == nil {
		t.Fatal("still serving after Close")
	}
}

func TestServeRefusesNonLoopback(t *testing.T) {
	m := New()
	for _, tt := range []struct {
		addr    string
		allow   bool
		wantErr error // nil: accepted
		anyErr  bool
	}{
		{addr: "127.0.0.1:0"},
		{addr: "localhost:0"},
		{addr: "[::1]:0", anyErr: true}, // accepted, or no IPv6 on this machine
		{addr: ":0", wantErr: ErrNotLoopback},
		{addr: "0.0.0.0:0", wantErr: ErrNotLoopback},
		{addr: "[::]:0", wantErr: ErrNotLoopback},
		{addr: "192.0.2.1:9090", wantErr: ErrNotLoopback},
		{addr: "0.0.0.0:0", allow: true},
		{addr: "no-port", wantErr: ErrBadAddress},
	} {
		t.Run(fmt.Sprintf("%s allow=%v", tt.addr, tt.allow), func(t *testing.T) {
			srv, err := m.Start(tt.addr, tt.allow)
			if err == nil {
				srv.Close()
			}
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Start(%q) = %v, want %v", tt.addr, err, tt.wantErr)
				}
			case tt.anyErr:
				t.Logf("Start(%q) = %v", tt.addr, err)
			case err != nil:
				t.Fatalf("Start(%q) = %v", tt.addr, err)
			}
		})
	}
}

func TestServeContext(t *testing.T) {
	m := New()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx, "127.0.0.1:0", false) }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if err := m.Serve(context.Background(), ":0", false); !errors.Is(err, ErrNotLoopback) {
		t.Fatalf("Serve(:0) = %v", err)
	}
}

func TestLabelCardinalityBounded(t *testing.T) {
	m := New()
	for i := 0; i < 3*MaxLabelValues; i++ {
		m.Hangups(fmt.Sprintf("CAUSE_%d", i), 1)
	}
	m.Hangups("", 1)             // empty: "unknown"
	m.Hangups("BAD\xffCAUSE", 1) // invalid UTF-8 must not panic
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "switchlua_hangups_total" {
			continue
		}
		series := len(mf.GetMetric())
		if series != MaxLabelValues+1 {
			t.Fatalf("%d series, want %d", series, MaxLabelValues+1)
		}
		var other float64
		for _, s := range mf.GetMetric() {
			if s.GetLabel()[0].GetValue() == OtherLabel {
				other = s.GetCounter().GetValue()
			}
		}
		if other != 2*MaxLabelValues+2 {
			t.Fatalf("other = %v, want %d", other, 2*MaxLabelValues+2)
		}
		return
	}
	t.Fatal("no switchlua_hangups_total")
}

func TestLabelValueSanitised(t *testing.T) {
	m := New()
	m.Hangups("", 1)
	m.ScriptError("bad\xffapp")
	m.Node("")
	if _, err := m.Registry().Gather(); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentUse(t *testing.T) {
	m := New()
	names := []string{"CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_HANGUP", "CHANNEL_DESTROY", "BACKGROUND_JOB"}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := m.Node(fmt.Sprintf("node%d", g))
			for i := 0; i < 2000; i++ {
				n.Event(names[i%len(names)])
				m.Hangups(fmt.Sprint("C", i%200), 1) // misses race with hits
				m.ObserveCallback("app", time.Microsecond)
				n.SetQueueDepth(i)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 20; i++ {
			if _, err := m.Registry().Gather(); err != nil {
				t.Error(err)
			}
		}
	}()
	wg.Wait()
	mfs, _ := m.Registry().Gather()
	for _, mf := range mfs {
		if mf.GetName() == "switchlua_events_total" {
			var total float64
			for _, s := range mf.GetMetric() {
				total += s.GetCounter().GetValue()
			}
			if total != 8000 {
				t.Fatalf("events total %v, want 8000", total)
			}
		}
	}
}
