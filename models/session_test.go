package models_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/switchlua/switchlua/models"
	"github.com/switchlua/switchlua/models/modelstest"
)

const transcript = "../testdata/transcripts/selfcall-media.raw"

// legs parses the capture's events and groups the channel events by Unique-ID,
// in wire order. Each call returns fresh event copies.
func legs(t testing.TB) (order []string, byUUID map[string][]*modelstest.Event) {
	t.Helper()
	raws, err := modelstest.TranscriptEvents(transcript)
	if err != nil {
		t.Fatal(err)
	}
	byUUID = map[string][]*modelstest.Event{}
	for _, raw := range raws {
		ev, err := modelstest.ParseEvent(raw)
		if err != nil {
			t.Fatal(err)
		}
		u := ev.UUID()
		if u == "" {
			continue
		}
		if _, ok := byUUID[u]; !ok {
			order = append(order, u)
		}
		byUUID[u] = append(byUUID[u], ev)
	}
	return order, byUUID
}

func TestSessionFromCapture(t *testing.T) {
	order, by := legs(t)
	if len(order) != 2 {
		t.Fatalf("%d legs in the capture, want 2", len(order))
	}
	out := models.NewSession(by[order[0]][0], "node1", nil)
	for _, ev := range by[order[0]][1:] {
		out.Update(ev)
	}
	in := models.NewSession(by[order[1]][0], "node1", nil)
	for _, ev := range by[order[1]][1:] {
		in.Update(ev)
	}

	if !out.IsOutbound() || out.IsInbound() || !in.IsInbound() || in.IsOutbound() {
		t.Errorf("directions: out %v/%v in %v/%v", out.IsOutbound(), out.IsInbound(), in.IsInbound(), in.IsOutbound())
	}
	if out.AppID != "probe" || in.AppID != "probe" {
		t.Errorf("AppID out %q in %q, want probe (from %s)", out.AppID, in.AppID, models.AppHeader)
	}
	for _, s := range []*models.Session{out, in} {
		if !s.Answered || !s.Hungup || s.Cause != "NORMAL_CLEARING" {
			t.Errorf("%s: answered %v hungup %v cause %q", s.UUID, s.Answered, s.Hungup, s.Cause)
		}
		tm := s.Times
		if tm.Create.IsZero() || tm.Answer.IsZero() || tm.Hangup.IsZero() ||
			!tm.Create.Before(tm.Answer) || !tm.Answer.Before(tm.Hangup) {
			t.Errorf("%s: times %+v", s.UUID, tm)
		}
		if got := s.Latest().Name(); got != "CHANNEL_DESTROY" {
			t.Errorf("latest %s", got)
		}
	}
	if out.Times.Originate.IsZero() || out.Times.ReqOriginate.IsZero() {
		t.Errorf("outbound leg: originate times not set: %+v", out.Times)
	}
	if !in.Times.Originate.IsZero() {
		t.Errorf("inbound leg has no CHANNEL_ORIGINATE, got %v", in.Times.Originate)
	}
	// First event's create time, in microseconds.
	if got := out.Times.Create.UnixMicro(); got != 1795374504400996 {
		t.Errorf("create %d", got)
	}
	// A header that only an older event had stays visible: the DTMF digit
	// on the inbound leg, the playback file on the outbound leg.
	if got := in.Get("DTMF-Digit"); got != "3" {
		t.Errorf("inbound DTMF-Digit = %q, want 3 (the last digit)", got)
	}
	if got := out.Get("Playback-File-Path"); got != "tone_stream://%(300,0,1004)" {
		t.Errorf("outbound Playback-File-Path = %q", got)
	}
	if got := in.Get("variable_sip_h_X-switchlua_originating_session"); got != out.UUID {
		t.Errorf("X-header on inbound leg = %q", got)
	}
	if _, ok := in.Lookup("No-Such-Header"); ok {
		t.Error("Lookup of a header never seen")
	}

	var names []string
	for _, h := range out.History() {
		names = append(names, h.Name)
	}
	want := "[CHANNEL_CREATE CHANNEL_ORIGINATE CHANNEL_ANSWER CHANNEL_EXECUTE CHANNEL_PARK CHANNEL_EXECUTE PLAYBACK_START PLAYBACK_STOP CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP_COMPLETE CHANNEL_DESTROY]"
	if fmt.Sprint(names) != want {
		t.Errorf("history\n%v\nwant\n%s", names, want)
	}
	if !out.Time().Equal(out.History()[len(names)-1].Time) {
		t.Errorf("Time() %v", out.Time())
	}
	if up := out.Uptime(out.Times.Hangup); up <= 0 || up > 10*time.Second {
		t.Errorf("uptime %v", up)
	}
}

func ev(name string, kv ...string) *modelstest.Event {
	return modelstest.NewEvent(append([]string{"Event-Name", name, "Unique-ID", "u1"}, kv...)...)
}

func TestSessionUpdate(t *testing.T) {
	// ORIGINATE before CREATE: both set create once; originate from ORIGINATE.
	s := models.NewSession(ev("CHANNEL_ORIGINATE", "Event-Date-Timestamp", "2000000", "Call-Direction", "outbound", "A", "1", "B", "old"), "n", nil)
	s.Update(ev("CHANNEL_CREATE", "Event-Date-Timestamp", "1000000", "B", "new", "C", ""))
	if s.AppID != models.DefaultApp {
		t.Errorf("AppID %q", s.AppID)
	}
	if got := s.Times.Create.UnixMicro(); got != 2000000 {
		t.Errorf("create %d, want the first event's time", got)
	}
	if got := s.Times.Originate.UnixMicro(); got != 2000000 {
		t.Errorf("originate %d", got)
	}
	for _, tc := range []struct {
		h, want string
		ok      bool
	}{{"A", "1", true}, {"B", "new", true}, {"C", "", true}, {"D", "", false}} {
		v, ok := s.Lookup(tc.h)
		if v != tc.want || ok != tc.ok {
			t.Errorf("Lookup(%s) = %q,%v want %q,%v", tc.h, v, ok, tc.want, tc.ok)
		}
	}
	// A is carried across further events; direction survives events without it.
	s.Update(ev("CHANNEL_ANSWER", "Event-Date-Timestamp", "3000000", "A", "2"))
	s.Update(ev("CHANNEL_PARK"))
	s.Update(ev("DTMF", "DTMF-Digit", "5"))
	if s.Get("A") != "2" || s.Get("B") != "new" || !s.IsOutbound() || !s.Answered || s.Hungup {
		t.Errorf("A=%q B=%q out=%v answered=%v hungup=%v", s.Get("A"), s.Get("B"), s.IsOutbound(), s.Answered, s.Hungup)
	}
	s.Update(ev("CHANNEL_HANGUP", "Hangup-Cause", "USER_BUSY", "Event-Date-Timestamp", "4000000"))
	s.Update(ev("CHANNEL_DESTROY", "Hangup-Cause", "USER_BUSY", "Event-Date-Timestamp", "5000000"))
	if !s.Hungup || s.Cause != "USER_BUSY" || s.Times.Hangup.UnixMicro() != 4000000 || s.Times.Answer.UnixMicro() != 3000000 {
		t.Errorf("hungup %v cause %q times %+v", s.Hungup, s.Cause, s.Times)
	}
	if s.Get("DTMF-Digit") != "5" {
		t.Error("DTMF-Digit lost")
	}
	// Applying the same event again changes nothing but the history.
	last := s.Latest()
	s.Update(last)
	if s.Latest() != last || s.Get("A") != "2" {
		t.Error("re-applying the latest event")
	}
	s.Update(nil)
}

func TestHangupCauseFromDestroyAlone(t *testing.T) {
	s := models.NewSession(ev("CHANNEL_CREATE"), "n", nil)
	s.Update(ev("CHANNEL_DESTROY", "Hangup-Cause", "ORIGINATOR_CANCEL", "Event-Date-Timestamp", "7"))
	if !s.Hungup || s.Cause != "ORIGINATOR_CANCEL" || s.Times.Hangup.UnixMicro() != 7 {
		t.Errorf("%v %q %v", s.Hungup, s.Cause, s.Times.Hangup)
	}
	if s.IsInbound() || s.IsOutbound() {
		t.Error("no Call-Direction seen")
	}
	if s.Uptime(time.Now()) != 0 {
		t.Error("uptime without a create time")
	}
}

func TestHistoryBounded(t *testing.T) {
	s := models.NewSession(ev("CHANNEL_CREATE", "Event-Date-Timestamp", "0"), "n", nil)
	for i := 1; i <= 100; i++ {
		s.Update(ev(fmt.Sprintf("E%d", i), "Event-Date-Timestamp", fmt.Sprint(i)))
	}
	h := s.History()
	if len(h) != models.HistoryLimit {
		t.Fatalf("history len %d", len(h))
	}
	for i, e := range h {
		n := 100 - models.HistoryLimit + 1 + i
		if e.Name != fmt.Sprintf("E%d", n) || e.Time.UnixMicro() != int64(n) {
			t.Fatalf("history[%d] = %+v", i, e)
		}
	}
	if s.Time().UnixMicro() != 100 {
		t.Errorf("Time %v", s.Time())
	}
}
