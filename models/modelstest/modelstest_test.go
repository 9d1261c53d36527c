package modelstest

import (
	"errors"
	"testing"
)

func TestParseEvent(t *testing.T) {
	ev, err := ParseEvent([]byte("Event-Name: BACKGROUND_JOB\nJob-Command-Arg: %7Ba%3D1%7Dsofia/x%40y%20%26park()\nContent-Length: 41\n\n+OK 5e1f0000-0000-4000-8000-504411075194\n"))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Name() != "BACKGROUND_JOB" || ev.Get("Job-Command-Arg") != "{a=1}sofia/x@y &park()" || ev.Body() != "+OK 5e1f0000-0000-4000-8000-504411075194\n" {
		t.Errorf("%q %q %q", ev.Name(), ev.Get("Job-Command-Arg"), ev.Body())
	}
	if ev.Len() != 3 {
		t.Errorf("len %d", ev.Len())
	}
	if _, err := ParseEvent([]byte("Content-Length: 99\n\nshort")); err == nil {
		t.Error("short body")
	}
	if _, err := ParseEvent([]byte("no colon here\n")); err == nil {
		t.Error("bad line")
	}
}

func TestTranscriptEvents(t *testing.T) {
	for path, want := range map[string]int{
		"../../testdata/transcripts/selfcall-media.raw":   25,
		"../../testdata/transcripts/load-100calls.raw.gz": 3800,
		"../../testdata/transcripts/session.raw":          -1,
	} {
		raws, err := TranscriptEvents(path)
		if err != nil {
			t.Fatal(err)
		}
		if want >= 0 && len(raws) != want {
			t.Errorf("%s: %d events, want %d", path, len(raws), want)
		}
		for _, raw := range raws {
			ev, err := ParseEvent(raw)
			if err != nil || ev.Name() == "" || ev.Get("Event-Date-Timestamp") == "" {
				t.Fatalf("%s: %v %q", path, err, raw[:40])
			}
		}
	}
}

func TestSender(t *testing.T) {
	lost := errors.New("lost")
	f := (&Sender{Hold: true}).On("api a", "-ERR no").On("api b", "yes").OnErr("api c", lost)
	type res struct {
		r string
		e error
	}
	var got []res
	for _, c := range []string{"api a", "api b", "api c", "api d"} {
		f.SendAsync(c, func(r string, e error) { got = append(got, res{r, e}) })
	}
	if len(got) != 0 || f.Flush() != 4 || len(got) != 4 {
		t.Fatalf("hold/flush: %v", got)
	}
	if got[0].e == nil || got[0].e.Error() != "-ERR no" || got[1].r != "yes" || got[2].e != lost || got[3].r != "+OK" {
		t.Errorf("%v", got)
	}
	if f.Last() != "api d" || len(f.Sent()) != 4 {
		t.Error("Sent")
	}
	f.Reset()
	if f.Last() != "" {
		t.Error("Reset")
	}
}
