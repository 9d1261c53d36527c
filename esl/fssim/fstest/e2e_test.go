package fstest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/switchlua/switchlua/esl"
	"github.com/switchlua/switchlua/esl/fssim/fstest"
)

const wait = 10 * time.Second

// TestSelfCallEndToEnd is issue 2's end-to-end test, over TCP with esl: a
// bgapi self-call, the inbound leg answered on its CHANNEL_PARK, both legs'
// events in order, a tone played, DTMF sent (and seen on the peer), a hangup,
// the job result and both legs destroyed with NORMAL_CLEARING. It runs on the
// simulator, or on a real FreeSWITCH with SWITCHLUA_TEST_FS set.
func TestSelfCallEndToEnd(t *testing.T) {
	tg := fstest.Start(t)
	c := tg.Dial(t, esl.Options{})
	rec := fstest.Record(c)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Subscribe(ctx, "CHANNEL_CREATE", "CHANNEL_ORIGINATE", "CHANNEL_ANSWER", "CHANNEL_PARK",
		"CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE",
		"CHANNEL_DESTROY", "BACKGROUND_JOB", "PLAYBACK_START", "PLAYBACK_STOP", "DTMF"); err != nil {
		t.Fatalf("subscribe: %v", err)
	}

	user := fstest.NewUser("e2e")
	out := esl.NewUUID()
	job, err := c.BgAPI(ctx, "originate {origination_uuid="+out+","+fstest.TagVar+"="+tg.Tag+
		",sip_h_X-switchlua_app=e2e}"+tg.Dest(user)+" &park()")
	if err != nil {
		t.Fatalf("bgapi originate: %v", err)
	}

	park := rec.Next(t, wait, "inbound CHANNEL_PARK", fstest.InboundTo("CHANNEL_PARK", user))
	in := park.UUID()
	if got := park.Get("variable_sip_h_X-switchlua_app"); got != "e2e" {
		t.Errorf("inbound leg variable_sip_h_X-switchlua_app = %q, want e2e", got)
	}
	if got := park.Get("Channel-Call-State"); got != "RINGING" {
		t.Errorf("parked inbound leg in %q, want RINGING", got)
	}
	if r, err := c.API(ctx, "uuid_answer "+in); err != nil || r != "+OK" {
		t.Fatalf("uuid_answer: %q %v", r, err)
	}
	jobEv, err := job.Wait(ctx)
	if err != nil {
		t.Fatalf("job: %v", err)
	}
	if body := strings.TrimSpace(jobEv.Body()); body != "+OK "+out {
		t.Fatalf("job result %q, want +OK %s", body, out)
	}
	rec.Find(t, wait, "outbound CHANNEL_PARK", fstest.Is("CHANNEL_PARK", out))

	// a tone on the outbound leg
	const tone = "tone_stream://%(300,0,1004)"
	evUUID := esl.NewUUID()
	if r, err := c.Send(ctx, "sendmsg "+out+"\ncall-command: execute\nexecute-app-name: playback\nexecute-app-arg: "+
		tone+"\nEvent-UUID: "+evUUID); err != nil {
		t.Fatalf("sendmsg playback: %v %v", r, err)
	}
	done := rec.Find(t, wait, "playback EXECUTE_COMPLETE", func(ev *esl.Event) bool {
		return ev.Name() == "CHANNEL_EXECUTE_COMPLETE" && ev.UUID() == out && ev.Get("Application") == "playback"
	})
	if got := done.Get("Application-UUID"); got != evUUID {
		t.Errorf("Application-UUID %q, want the sendmsg's Event-UUID %q", got, evUUID)
	}
	if got := done.Get("Application-Response"); got != "FILE PLAYED" {
		t.Errorf("Application-Response %q", got)
	}
	stop := rec.Find(t, wait, "PLAYBACK_STOP", fstest.Is("PLAYBACK_STOP", out))
	if got := stop.Get("Playback-File-Path"); got != tone {
		t.Errorf("Playback-File-Path %q", got)
	}

	// DTMF from the outbound leg arrives on the inbound leg, one event a digit
	if r, err := c.API(ctx, "uuid_send_dtmf "+out+" 123"); err != nil || !strings.HasPrefix(r, "+OK") {
		t.Fatalf("uuid_send_dtmf: %q %v", r, err)
	}
	digits := rec.Count(t, wait, "DTMF on the inbound leg", 3, fstest.Is("DTMF", in))
	var got string
	for _, d := range digits {
		got += d.Get("DTMF-Digit")
	}
	if got != "123" {
		t.Errorf("DTMF digits %q, want 123", got)
	}

	// hang up the inbound leg: both legs end with NORMAL_CLEARING
	if r, err := c.API(ctx, "uuid_kill "+in); err != nil || r != "+OK" {
		t.Fatalf("uuid_kill: %q %v", r, err)
	}
	for _, u := range []string{in, out} {
		d := rec.Find(t, wait, "CHANNEL_DESTROY", fstest.Is("CHANNEL_DESTROY", u))
		if cause := d.Get("Hangup-Cause"); cause != "NORMAL_CLEARING" {
			t.Errorf("%s destroyed with %q, want NORMAL_CLEARING", u, cause)
		}
	}

	evs := rec.Events()
	wantOut := []string{"CHANNEL_CREATE", "CHANNEL_ORIGINATE", "CHANNEL_ANSWER", "CHANNEL_EXECUTE", "CHANNEL_PARK",
		"CHANNEL_EXECUTE", "PLAYBACK_START", "PLAYBACK_STOP", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP",
		"CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY"}
	wantIn := []string{"CHANNEL_CREATE", "CHANNEL_EXECUTE", "CHANNEL_PARK", "CHANNEL_ANSWER", "DTMF", "DTMF", "DTMF",
		"CHANNEL_HANGUP", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY"}
	if have := fstest.Names(evs, out); !fstest.IsSubsequence(have, wantOut) {
		t.Errorf("outbound leg events out of order:\n got %v\nwant %v", have, wantOut)
	}
	if have := fstest.Names(evs, in); !fstest.IsSubsequence(have, wantIn) {
		t.Errorf("inbound leg events out of order:\n got %v\nwant %v", have, wantIn)
	}
	// the job result comes after both legs answered
	idx := func(pred func(*esl.Event) bool) int {
		for i, ev := range evs {
			if pred(ev) {
				return i
			}
		}
		return -1
	}
	jobAt := idx(func(ev *esl.Event) bool {
		return ev.Name() == "BACKGROUND_JOB" && ev.Get("Job-UUID") == job.UUID
	})
	if jobAt < idx(fstest.Is("CHANNEL_ANSWER", in)) || jobAt < idx(fstest.Is("CHANNEL_ANSWER", out)) {
		t.Errorf("BACKGROUND_JOB before the CHANNEL_ANSWERs:\n%s", fstest.Summary(evs))
	}
}
