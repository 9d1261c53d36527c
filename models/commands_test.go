package models_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/switchlua/switchlua/models"
	"github.com/switchlua/switchlua/models/modelstest"
)

const U = "5e1f0000-0000-4000-8000-504411075194"

func newSess(t testing.TB, snd models.Sender) *models.Session {
	t.Helper()
	ev := modelstest.NewEvent("Event-Name", "CHANNEL_CREATE", "Unique-ID", U,
		"Call-Direction", "outbound", "Event-Date-Timestamp", "1795374504400996")
	return models.NewSession(ev, "127.0.0.1:8021", snd)
}

func exec(app, arg string) string {
	s := "sendmsg " + U + "\ncall-command: execute\nexecute-app-name: " + app
	if arg != "" {
		s += "\nexecute-app-arg: " + arg
	}
	return s + "\nloops: 1"
}

func TestSessionCommands(t *testing.T) {
	nop := models.Done(nil)
	tests := []struct {
		name string
		do   func(s *models.Session)
		want []string
	}{
		{"answer", func(s *models.Session) { s.Answer(nop) }, []string{"api uuid_answer " + U}},
		{"hangup default", func(s *models.Session) { s.Hangup("", nop) }, []string{"api uuid_kill " + U + " NORMAL_CLEARING"}},
		{"hangup cause", func(s *models.Session) { s.Hangup("USER_BUSY", nop) }, []string{"api uuid_kill " + U + " USER_BUSY"}},
		{"park", func(s *models.Session) { s.Park(nop) }, []string{"api uuid_park " + U}},
		{"bridge default", func(s *models.Session) { s.Bridge(models.BridgeOptions{}, nop) },
			[]string{exec("bridge", "sofia/${sofia_profile_name}/${sip_req_uri}")}},
		{"bridge full", func(s *models.Session) {
			s.Bridge(models.BridgeOptions{DestURL: "1000@example.com", Profile: "external", Proxy: "10.0.0.1:5060",
				Params: map[string]string{"b": "2", "a": "1"}}, nop)
		}, []string{exec("bridge", "{a=1,b=2}sofia/external/1000@example.com;fs_path=sip:10.0.0.1:5060")}},
		{"bridge gateway", func(s *models.Session) {
			s.Bridge(models.BridgeOptions{DestURL: "1000", Profile: "ignored", Gateway: "gw1"}, nop)
		}, []string{exec("bridge", "sofia/gateway/gw1/1000")}},
		{"playback", func(s *models.Session) { s.Playback("tone_stream://%(300,0,1004)", models.PlaybackOptions{}, nop) },
			[]string{exec("playback", "tone_stream://%(300,0,1004)")}},
		{"playback endless params start", func(s *models.Session) {
			s.Playback("/tmp/a.wav", models.PlaybackOptions{Endless: true, StartSample: 8000,
				Params: map[string]string{"loops": "-1"}}, nop)
		}, []string{exec("endless_playback", "{loops=-1}/tmp/a.wav@@8000")}},
		{"playback loops appuuid", func(s *models.Session) {
			s.Playback("a.wav", models.PlaybackOptions{Loops: 3, AppUUID: "app-1"}, nop)
		}, []string{"sendmsg " + U + "\ncall-command: execute\nexecute-app-name: playback\nexecute-app-arg: a.wav\nloops: 3\nEvent-UUID: app-1"}},
		{"playback files", func(s *models.Session) { s.PlaybackFiles([]string{"a.wav", "b.wav"}, models.PlaybackOptions{}, nop) },
			[]string{exec("set", "playback_delimiter=;"), exec("playback", "a.wav;b.wav")}},
		{"broadcast", func(s *models.Session) { s.Broadcast("playback::{loops=-1}tone_stream://%(251,0,1004)", "both", nop) },
			[]string{"api uuid_broadcast " + U + " playback::{loops=-1}tone_stream://%(251,0,1004) both"}},
		{"broadcast no leg", func(s *models.Session) { s.Broadcast("echo", "", nop) },
			[]string{"api uuid_broadcast " + U + " echo"}},
		{"execute", func(s *models.Session) { s.Execute("sleep", "1000", nop) }, []string{exec("sleep", "1000")}},
		{"execute with", func(s *models.Session) {
			s.ExecuteWith("playback", "x.wav", models.ExecuteOptions{Loops: 2, AppUUID: "e1", Lock: true}, nop)
		}, []string{"sendmsg " + U + "\ncall-command: execute\nexecute-app-name: playback\nexecute-app-arg: x.wav\nloops: 2\nEvent-UUID: e1\nevent-lock: true"}},
		{"start record", func(s *models.Session) { s.StartRecord("/tmp/r.wav", models.RecordOptions{}, nop) },
			[]string{exec("set", "record_sample_rate=16000"), exec("record_session", "/tmp/r.wav")}},
		{"start record rx stereo", func(s *models.Session) {
			s.StartRecord("/tmp/r.wav", models.RecordOptions{RxOnly: true, Stereo: true, SampleRate: 8000}, nop)
		}, []string{exec("set", "RECORD_READ_ONLY=true"), exec("set", "record_sample_rate=8000"), exec("record_session", "/tmp/r.wav")}},
		{"start record stereo", func(s *models.Session) { s.StartRecord("r.wav", models.RecordOptions{Stereo: true}, nop) },
			[]string{exec("set", "RECORD_STEREO=true"), exec("set", "record_sample_rate=16000"), exec("record_session", "r.wav")}},
		{"stop record", func(s *models.Session) { s.StopRecord("", 0, nop) }, []string{exec("stop_record_session", "all")}},
		{"stop record delay", func(s *models.Session) { s.StopRecord("/tmp/r.wav", 1500*time.Millisecond, nop) },
			[]string{"api sched_api +2 none uuid_record " + U + " stop /tmp/r.wav"}},
		{"record", func(s *models.Session) { s.Record("start", "/tmp/r.wav", nop) }, []string{"api uuid_record " + U + " start /tmp/r.wav"}},
		{"echo", func(s *models.Session) { s.Echo(nop) }, []string{exec("echo", "")}},
		{"mute", func(s *models.Session) { s.Mute("", 0, nop) }, []string{"api uuid_audio " + U + " start write mute 1"}},
		{"mute read 2", func(s *models.Session) { s.Mute("read", 2, nop) }, []string{"api uuid_audio " + U + " start read mute 2"}},
		{"unmute", func(s *models.Session) { s.Unmute("", nop) }, []string{"api uuid_audio " + U + " start write mute 0"}},
		{"send dtmf", func(s *models.Session) { s.SendDTMF("123", "", nop) }, []string{"api uuid_send_dtmf " + U + " 123"}},
		{"send dtmf dur", func(s *models.Session) { s.SendDTMF("1#", "200", nop) }, []string{"api uuid_send_dtmf " + U + " 1# @200"}},
		{"sched dtmf", func(s *models.Session) { s.SchedDTMF(2*time.Second, "9", "100", nop) },
			[]string{"api sched_api +2 none uuid_send_dtmf " + U + " 9 @100"}},
		{"sched dtmf subsecond", func(s *models.Session) { s.SchedDTMF(10*time.Millisecond, "9", "", nop) },
			[]string{"api sched_api +1 none uuid_send_dtmf " + U + " 9"}},
		{"sched hangup", func(s *models.Session) { s.SchedHangup(30*time.Second, "", nop) },
			[]string{"api sched_hangup +30 " + U + " NORMAL_CLEARING"}},
		{"sched hangup rounds up", func(s *models.Session) { s.SchedHangup(2001*time.Millisecond, "USER_BUSY", nop) },
			[]string{"api sched_hangup +3 " + U + " USER_BUSY"}},
		{"sched hangup now", func(s *models.Session) { s.SchedHangup(0, "", nop) },
			[]string{"api sched_hangup +0 " + U + " NORMAL_CLEARING"}},
		{"clear tasks", func(s *models.Session) { s.ClearTasks(nop) }, []string{"api sched_del " + U}},
		{"breakmedia", func(s *models.Session) { s.BreakMedia(nop) }, []string{"api uuid_break " + U}},
		{"bypass on", func(s *models.Session) { s.BypassMedia(true, nop) }, []string{"api uuid_media off " + U}},
		{"bypass off", func(s *models.Session) { s.BypassMedia(false, nop) }, []string{"api uuid_media " + U}},
		{"respond", func(s *models.Session) { s.Respond("486 Busy Here", nop) }, []string{exec("respond", "486 Busy Here")}},
		{"deflect", func(s *models.Session) { s.Deflect("sip:1000@example.com", nop) }, []string{exec("deflect", "sip:1000@example.com")}},
		{"setvar", func(s *models.Session) { s.SetVar("foo", "bar baz", nop) }, []string{exec("set", "foo=bar baz")}},
		{"setvars sorted", func(s *models.Session) {
			s.SetVars(map[string]string{"z": "1", "a": "2", "m": "x=y"}, nop)
		}, []string{"api uuid_setvar_multi " + U + " a=2;m=x=y;z=1"}},
		{"setvars empty", func(s *models.Session) { s.SetVars(nil, nop) }, nil},
		{"unsetvar", func(s *models.Session) { s.UnsetVar("foo", nop) }, []string{exec("unset", "foo")}},
		{"getvar", func(s *models.Session) { s.GetVar("foo", nil) }, []string{"api uuid_getvar " + U + " foo"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &modelstest.Sender{}
			s := newSess(t, f)
			tc.do(s)
			got := f.Sent()
			if strings.Join(got, "\n---\n") != strings.Join(tc.want, "\n---\n") {
				t.Errorf("sent\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestExecuteCmdLongArgUsesBody(t *testing.T) {
	arg := strings.Repeat("x", models.MaxHeaderArg+1)
	got := models.ExecuteCmd("u", "set", arg, models.ExecuteOptions{})
	want := "sendmsg u\ncall-command: execute\nexecute-app-name: set\nloops: 1\ncontent-type: text/plain\nContent-Length: 2049\n\n" + arg
	if got != want {
		t.Errorf("got %q", got[:120])
	}
	if got := models.ExecuteCmd("u", "set", arg[:models.MaxHeaderArg], models.ExecuteOptions{}); strings.Contains(got, "Content-Length") {
		t.Errorf("2048-byte arg should stay a header")
	}
}

func TestSecs(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "+0"}, {0, "+0"}, {time.Nanosecond, "+1"}, {999 * time.Millisecond, "+1"},
		{time.Second, "+1"}, {1001 * time.Millisecond, "+2"}, {90 * time.Second, "+90"},
	} {
		if got := models.Secs(tc.d); got != tc.want {
			t.Errorf("Secs(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestReplies(t *testing.T) {
	f := (&modelstest.Sender{}).
		On("api uuid_getvar "+U+" unset", "_undef_").
		On("api uuid_getvar "+U+" empty", "").
		On("api uuid_getvar ", "PCMU").
		On("api uuid_kill ", "-ERR No such channel!")
	s := newSess(t, f)

	type gv struct {
		v   string
		ok  bool
		err error
	}
	for _, tc := range []struct {
		name string
		want gv
	}{{"codec", gv{"PCMU", true, nil}}, {"unset", gv{"", false, nil}}, {"empty", gv{"", true, nil}}} {
		var got gv
		s.GetVar(tc.name, func(v string, ok bool, err error) { got = gv{v, ok, err} })
		if got != tc.want {
			t.Errorf("GetVar(%s) = %+v, want %+v", tc.name, got, tc.want)
		}
	}

	var gotErr error
	s.Hangup("", func(_ string, err error) { gotErr = err })
	if gotErr == nil || gotErr.Error() != "-ERR No such channel!" {
		t.Errorf("Hangup err = %v, want the whole -ERR reply", gotErr)
	}

	lost := errors.New("esl: connection lost")
	f2 := (&modelstest.Sender{}).OnErr("api uuid_getvar", lost)
	s.SetSender(f2)
	s.GetVar("x", func(v string, ok bool, err error) { gotErr = err })
	if !errors.Is(gotErr, lost) {
		t.Errorf("GetVar err = %v", gotErr)
	}

	var noSnd error
	s.SetSender(nil)
	s.Answer(func(_ string, err error) { noSnd = err })
	if !errors.Is(noSnd, models.ErrNoSender) {
		t.Errorf("no sender: %v", noSnd)
	}
	s.Answer(nil) // a nil done is fine
}

// A multi-command method calls done once, after the last reply, with the
// first error.
func TestMultiCommandDone(t *testing.T) {
	for _, tc := range []struct {
		name    string
		fail    string
		wantErr string
	}{
		{"ok", "", ""},
		{"first fails", "sendmsg " + U + "\ncall-command: execute\nexecute-app-name: set\nexecute-app-arg: RECORD_STEREO", "-ERR bad"},
		{"last fails", "sendmsg " + U + "\ncall-command: execute\nexecute-app-name: record_session", "-ERR bad"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &modelstest.Sender{Hold: true}
			if tc.fail != "" {
				f.On(tc.fail, "-ERR bad")
			}
			s := newSess(t, f)
			calls := 0
			var gotErr error
			var gotReply string
			s.StartRecord("r.wav", models.RecordOptions{Stereo: true}, func(reply string, err error) {
				calls++
				gotReply, gotErr = reply, err
			})
			if calls != 0 {
				t.Fatal("done before the replies")
			}
			if n := f.Flush(); n != 3 {
				t.Fatalf("%d commands held, want 3", n)
			}
			if calls != 1 {
				t.Fatalf("done called %d times", calls)
			}
			if tc.wantErr == "" {
				if gotErr != nil || gotReply != "+OK" {
					t.Errorf("got %q, %v", gotReply, gotErr)
				}
			} else if gotErr == nil || gotErr.Error() != tc.wantErr {
				t.Errorf("err = %v, want %s", gotErr, tc.wantErr)
			}
		})
	}
}

func TestBuilders(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{models.VarSet(nil), ""},
		{models.VarSet(map[string]string{"x": "1"}), "{x=1}"},
		{models.BridgeArg(models.BridgeOptions{Gateway: "g", Params: map[string]string{"k": "v"}}), "{k=v}sofia/gateway/g/${sip_req_uri}"},
		{models.PlaybackArg([]string{"a", "b", "c"}, models.PlaybackOptions{StartSample: 1}), "a;b;c@@1"},
		{models.SetVarsArg(map[string]string{"b": "", "a": "1"}), "a=1;b="},
		{models.APICmd("status"), "api status"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// A newline in an argument must never split one ESL command into two.
func TestNewlinesCannotInjectCommands(t *testing.T) {
	for _, tc := range []struct {
		name    string
		do      func(s *models.Session, done models.Done)
		wantErr bool
		want    string
	}{
		{"api arg", func(s *models.Session, d models.Done) { s.Hangup("NORMAL_CLEARING\n\napi hupall", d) }, true, ""},
		{"api arg CR", func(s *models.Session, d models.Done) { s.SendDTMF("1\r", "", d) }, true, ""},
		{"setvars value", func(s *models.Session, d models.Done) { s.SetVars(map[string]string{"a": "1\n"}, d) }, true, ""},
		{"app name", func(s *models.Session, d models.Done) { s.Execute("playback\nloops: 9", "x", d) }, true, ""},
		{"event uuid", func(s *models.Session, d models.Done) {
			s.ExecuteWith("playback", "x", models.ExecuteOptions{AppUUID: "a\nb: c"}, d)
		}, true, ""},
		{"playback files event uuid", func(s *models.Session, d models.Done) {
			s.PlaybackFiles([]string{"a", "b"}, models.PlaybackOptions{AppUUID: "a\n"}, d)
		}, true, ""},
		{"sendmsg arg goes to the body", func(s *models.Session, d models.Done) { s.SetVar("x", "a\nb", d) }, false,
			"sendmsg " + U + "\ncall-command: execute\nexecute-app-name: set\nloops: 1\ncontent-type: text/plain\nContent-Length: 5\n\nx=a\nb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &modelstest.Sender{}
			s := newSess(t, f)
			var err error
			called := 0
			tc.do(s, func(_ string, e error) { called++; err = e })
			if called != 1 {
				t.Fatalf("done called %d times", called)
			}
			if tc.wantErr {
				if !errors.Is(err, models.ErrNewline) || len(f.Sent()) != 0 {
					t.Errorf("err %v, sent %q", err, f.Sent())
				}
				return
			}
			if err != nil || f.Last() != tc.want {
				t.Errorf("err %v, sent %q", err, f.Last())
			}
		})
	}
}
