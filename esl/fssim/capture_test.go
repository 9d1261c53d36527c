package fssim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

const transcripts = "../../testdata/transcripts"

// capItem is one element of a capture: a command we sent (">>> " lines of
// selfcall-media.raw) or a frame the server sent.
type capItem struct {
	cmd   string
	frame *rawFrame
}

func loadCapture(t *testing.T, name string) []capItem {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(transcripts, name))
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(bytes.NewReader(data))
	var out []capItem
	for {
		if b, err := br.Peek(4); err == nil && string(b) == ">>> " {
			line, _ := br.ReadString('\n')
			cmd := strings.ReplaceAll(strings.TrimSuffix(line[4:], "\n"), `\n`, "\n")
			out = append(out, capItem{cmd: cmd})
			continue
		}
		f, err := readFrame(br)
		if err != nil {
			break
		}
		out = append(out, capItem{frame: f})
	}
	return out
}

// capEvents returns the events of a capture.
func capEvents(items []capItem) []*rawFrame {
	var out []*rawFrame
	for _, it := range items {
		if it.frame != nil && it.frame.ctype == "text/event-plain" {
			out = append(out, it.frame)
		}
	}
	return out
}

func headerNames(f *rawFrame) []string {
	var out []string
	for _, h := range f.evHdrs {
		out = append(out, h.name)
	}
	if f.evBody != "" {
		// the inner Content-Length of a body
		out = append(out, "Content-Length")
	}
	return out
}

func sortedSet(names []string) []string {
	m := map[string]bool{}
	for _, n := range names {
		if n != "" {
			m[n] = true
		}
	}
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// diffNames reports the names only in want and only in got.
func diffNames(want, got []string) (missing, extra []string) {
	w, g := map[string]bool{}, map[string]bool{}
	for _, n := range want {
		w[n] = true
	}
	for _, n := range got {
		g[n] = true
	}
	for _, n := range want {
		if !g[n] {
			missing = append(missing, n)
		}
	}
	for _, n := range got {
		if !w[n] {
			extra = append(extra, n)
		}
	}
	return
}

type selfcallSummary struct {
	Outbound    []string            `json:"outbound_leg_events"`
	Inbound     []string            `json:"inbound_leg_events"`
	HeaderNames map[string][]string `json:"header_names"`
	JobBody     string              `json:"job_body"`
}

// TestSelfcallMediaMatchesCapture replays selfcall-media.raw's commands on
// the simulator: the event sequence of each leg must equal the real
// FreeSWITCH's (selfcall-media-summary.json), the header names of each event
// type too, and every event's header names (in order) the captured event's.
func TestSelfcallMediaMatchesCapture(t *testing.T) {
	items := loadCapture(t, "selfcall-media.raw")
	var sum selfcallSummary
	data, err := os.ReadFile(filepath.Join(transcripts, "selfcall-media-summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &sum); err != nil {
		t.Fatal(err)
	}
	var cmds []string
	for _, it := range items {
		if it.cmd != "" {
			cmds = append(cmds, it.cmd)
		}
	}
	// the captured commands: auth, event, status, unknown api, bgapi
	// originate, uuid_answer, sendmsg playback, uuid_send_dtmf, uuid_kill
	if len(cmds) != 9 {
		t.Fatalf("capture has %d commands", len(cmds))
	}
	const outUUID = "5e1f0000-0000-4000-8000-504411075194"
	capIn := "d3bd5799-2bf5-40fd-bf97-062098f8be9f"

	_, addr := startSim(t, Config{DTMFDuration: 20 * time.Millisecond})
	c := dialRaw(t, addr)
	if f := c.reply(); f.ctype != "auth/request" {
		t.Fatal(f.ctype)
	}
	if r := c.cmd(cmds[0]).get("Reply-Text"); r != "+OK accepted" {
		t.Fatal(r)
	}
	if r := c.cmd(cmds[1]).get("Reply-Text"); r != "+OK event listener enabled plain" {
		t.Fatal(r)
	}
	if f := c.cmd(cmds[2]); f.ctype != "api/response" || !strings.Contains(f.body, "FreeSWITCH (Version 1.11.3-dev") {
		t.Fatalf("status: %q", f.body)
	}
	if f := c.cmd(cmds[3]); f.body != "-ERR no_such_command_xyz Command not found!\n" {
		t.Fatalf("unknown api: %q", f.body)
	}
	if f := c.cmd(cmds[4]); f.get("Reply-Text") != "+OK Job-UUID: 70b00000-0000-4000-8000-504411078950" ||
		f.get("Job-UUID") != "70b00000-0000-4000-8000-504411078950" {
		t.Fatalf("bgapi: %q", f.raw)
	}
	park := c.waitEvent("inbound park", func(f *rawFrame) bool {
		return f.name() == "CHANNEL_PARK" && f.ev("Call-Direction") == "inbound"
	})
	inUUID := park.ev("Unique-ID")
	if f := c.cmd(strings.ReplaceAll(cmds[5], capIn, inUUID)); f.body != "+OK\n" {
		t.Fatalf("uuid_answer: %q", f.body)
	}
	c.waitEvent("outbound park", evIs("CHANNEL_PARK", outUUID))
	if f := c.cmd(cmds[6]); f.get("Reply-Text") != "+OK" {
		t.Fatalf("sendmsg: %q", f.raw)
	}
	c.waitEvent("playback stop", evIs("PLAYBACK_STOP", outUUID))
	if f := c.cmd(cmds[7]); f.body != "+OK "+outUUID+" sent DTMF 123.\n" {
		t.Fatalf("uuid_send_dtmf: %q", f.body)
	}
	c.waitFor("3 DTMF", 5*time.Second, func() bool {
		n := 0
		for _, e := range c.events {
			if e.name() == "DTMF" {
				n++
			}
		}
		return n == 3
	})
	if f := c.cmd(strings.ReplaceAll(cmds[8], capIn, inUUID)); f.body != "+OK\n" {
		t.Fatalf("uuid_kill: %q", f.body)
	}
	c.waitEvent("outbound destroy", evIs("CHANNEL_DESTROY", outUUID))

	c.mu.Lock()
	got := append([]*rawFrame(nil), c.evlog...)
	c.mu.Unlock()
	c.dump(t.Name())
	legEvents := func(evs []*rawFrame, uuid string) []string {
		var out []string
		for _, e := range evs {
			if e.ev("Unique-ID") == uuid {
				out = append(out, e.name())
			}
		}
		return out
	}
	if g := legEvents(got, outUUID); strings.Join(g, " ") != strings.Join(sum.Outbound, " ") {
		t.Errorf("outbound leg events:\n got %v\nwant %v", g, sum.Outbound)
	}
	if g := legEvents(got, inUUID); strings.Join(g, " ") != strings.Join(sum.Inbound, " ") {
		t.Errorf("inbound leg events:\n got %v\nwant %v", g, sum.Inbound)
	}
	var job *rawFrame
	for _, e := range got {
		if e.name() == "BACKGROUND_JOB" {
			job = e
		}
	}
	if job == nil || strings.TrimSpace(job.evBody) != sum.JobBody {
		t.Errorf("job body %q, want %q", job.evBody, sum.JobBody)
	}
	if job.ev("Job-UUID") != "70b00000-0000-4000-8000-504411078950" {
		t.Errorf("Job-UUID %q", job.ev("Job-UUID"))
	}

	// header names of each event type (the first event of each type)
	seen := map[string]bool{}
	for _, e := range got {
		name := e.name()
		if seen[name] {
			continue
		}
		seen[name] = true
		want, ok := sum.HeaderNames[name]
		if !ok {
			continue
		}
		missing, extra := diffNames(want, sortedSet(headerNames(e)))
		if len(missing)+len(extra) > 0 {
			t.Errorf("%s header names: missing %v, extra %v", name, missing, extra)
		}
	}
	for name := range sum.HeaderNames {
		if !seen[name] {
			t.Errorf("no %s event", name)
		}
	}

	// every event, in order per leg, has the captured event's header names in
	// the captured order
	capEv := capEvents(items)
	for _, leg := range [][2]string{{outUUID, outUUID}, {capIn, inUUID}} {
		var want, have []*rawFrame
		for _, e := range capEv {
			if e.ev("Unique-ID") == leg[0] {
				want = append(want, e)
			}
		}
		for _, e := range got {
			if e.ev("Unique-ID") == leg[1] {
				have = append(have, e)
			}
		}
		for i := 0; i < len(want) && i < len(have); i++ {
			w, h := headerNames(want[i]), headerNames(have[i])
			if strings.Join(w, ",") != strings.Join(h, ",") {
				missing, extra := diffNames(w, h)
				t.Errorf("%s #%d %s: header names differ: missing %v, extra %v\n want %v\n  got %v",
					want[i].ev("Call-Direction"), i, want[i].name(), missing, extra, w, h)
			}
		}
	}
}
