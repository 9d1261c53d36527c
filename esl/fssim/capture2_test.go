package fssim

import (
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBadAuthMatchesCapture: a wrong password gets exactly badauth.raw's
// bytes, then the server closes.
func TestBadAuthMatchesCapture(t *testing.T) {
	want, err := os.ReadFile(filepath.Join(transcripts, "badauth.raw"))
	if err != nil {
		t.Fatal(err)
	}
	_, addr := startSim(t, Config{})
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := io.WriteString(nc, "auth wrong\n\n"); err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(nc) // returns at the server's close
	if err != nil {
		t.Fatalf("read: %v (got %q)", err, got)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("bad auth:\n got %q\nwant %q", got, want)
	}
}

// volatile headers differ from run to run.
var volatile = map[string]bool{"Core-UUID": true, "Event-Date-Local": true, "Event-Date-GMT": true,
	"Event-Date-Timestamp": true, "Event-Sequence": true}

// TestErrorsMatchCapture replays errors.raw: the replies are byte-for-byte
// the captured ones, and the BACKGROUND_JOB of an originate to a dead SIP
// port has the captured headers and body.
func TestErrorsMatchCapture(t *testing.T) {
	items := loadCapture(t, "errors.raw")
	_, addr := startSim(t, Config{})
	c := dialRaw(t, addr)
	script := []string{
		"", // auth/request
		"auth ClueCon",
		"api nosuchcommand",
		"api uuid_kill 00000000-0000-4000-8000-000000000000",
		"event plain BACKGROUND_JOB",
		"bgapi originate sofia/external/nobody@127.0.0.1:5999 &park()\nJob-UUID: 721b9068-8971-4537-9282-2b969791222e",
		"", // the BACKGROUND_JOB
		"exit",
		"", // the disconnect notice
	}
	if len(items) != len(script) {
		t.Fatalf("capture has %d frames, script %d", len(items), len(script))
	}
	for i, cmd := range script {
		if cmd != "" {
			c.send(cmd)
		}
		var f *rawFrame
		if items[i].frame.ctype == "text/event-plain" {
			f = c.takeEvent("BACKGROUND_JOB", evIs("BACKGROUND_JOB", ""))
		} else {
			f = c.reply()
		}
		want := items[i].frame
		if want.ctype != "text/event-plain" {
			if !bytes.Equal(f.raw, want.raw) {
				t.Errorf("frame %d (%s):\n got %q\nwant %q", i, cmd, f.raw, want.raw)
			}
			continue
		}
		if len(f.evHdrs) != len(want.evHdrs) {
			t.Errorf("event headers: got %v want %v", headerNames(f), headerNames(want))
			continue
		}
		for j, h := range want.evHdrs {
			g := f.evHdrs[j]
			if g.name != h.name || !volatile[h.name] && g.value != h.value {
				t.Errorf("event header %d: got %s: %q, want %s: %q", j, g.name, g.value, h.name, h.value)
			}
		}
		if f.evBody != want.evBody {
			t.Errorf("event body %q, want %q", f.evBody, want.evBody)
		}
	}
	if !c.closed(5 * time.Second) {
		t.Error("connection not closed after exit")
	}
}

// TestSessionMatchesCapture replays session.raw (session-annotated.txt's
// commands): a self-call answered and killed from the outbound leg, then a
// loopback call. Each leg's events and their header names (in order) must be
// the captured ones.
func TestSessionMatchesCapture(t *testing.T) {
	items := loadCapture(t, "session.raw")
	capEv := capEvents(items)
	_, c := loggedIn(t, Config{})
	if f := c.cmd("api status"); !strings.HasPrefix(f.body, "UP 0 years, 0 days") {
		t.Fatalf("status %q", f.body)
	}
	if r := c.cmd("event plain CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_PARK CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE BACKGROUND_JOB").get("Reply-Text"); r != "+OK event listener enabled plain" {
		t.Fatal(r)
	}
	run := func(dial, out string) string {
		c.cmd("bgapi originate {origination_uuid=" + out + "}" + dial + " &park()")
		park := c.takeEvent("inbound park", func(f *rawFrame) bool {
			return f.name() == "CHANNEL_PARK" && f.ev("Call-Direction") == "inbound"
		})
		in := park.ev("Unique-ID")
		if b := c.api("uuid_answer " + in); b != "+OK\n" {
			t.Fatalf("uuid_answer %q", b)
		}
		c.waitEvent("outbound park", evIs("CHANNEL_PARK", out))
		show := c.api("show channels")
		if !strings.Contains(show, "\n\n2 total.\n") || !strings.HasPrefix(show, showChannelColumns+"\n") {
			t.Errorf("show channels:\n%s", show)
		}
		if b := c.api("uuid_kill " + out); b != "+OK\n" {
			t.Fatalf("uuid_kill %q", b)
		}
		c.waitEvent("inbound hangup complete", evIs("CHANNEL_HANGUP_COMPLETE", in))
		c.waitEvent("outbound hangup complete", evIs("CHANNEL_HANGUP_COMPLETE", out))
		return in
	}
	const sofiaOut, loopOut = "5c6d46e0-4a55-4ef0-8cb8-b054434fcd50", "f845153d-21c6-42a6-adcc-51f3b35b49f1"
	sofiaIn := run("sofia/external/test@127.0.0.1:5080", sofiaOut)
	loopIn := run("loopback/9999/park", loopOut)
	if r := c.cmd("exit").get("Reply-Text"); r != "+OK bye" {
		t.Fatal(r)
	}

	c.mu.Lock()
	got := append([]*rawFrame(nil), c.evlog...)
	c.mu.Unlock()
	c.dump(t.Name())
	pairs := [][2]string{{sofiaOut, sofiaOut}, {"ed6d7e90-c222-412e-9fba-b1382483b5f6", sofiaIn},
		{loopOut, loopOut}, {"da0848a4-065d-41c9-9b1b-e39c8da82f33", loopIn}}
	for _, p := range pairs {
		var want, have []*rawFrame
		for _, e := range capEv {
			if e.ev("Unique-ID") == p[0] {
				want = append(want, e)
			}
		}
		for _, e := range got {
			if e.ev("Unique-ID") == p[1] {
				have = append(have, e)
			}
		}
		var wn, hn []string
		for _, e := range want {
			wn = append(wn, e.name())
		}
		for _, e := range have {
			hn = append(hn, e.name())
		}
		if strings.Join(wn, " ") != strings.Join(hn, " ") {
			t.Errorf("leg %s events:\n got %v\nwant %v", p[1], hn, wn)
			continue
		}
		for i := range want {
			w, h := headerNames(want[i]), headerNames(have[i])
			if strings.Join(w, ",") != strings.Join(h, ",") {
				missing, extra := diffNames(w, h)
				t.Errorf("%s %s #%d %s: header names differ: missing %v, extra %v", want[i].ev("Channel-Name"),
					want[i].ev("Call-Direction"), i, want[i].name(), missing, extra)
			}
		}
	}
}
