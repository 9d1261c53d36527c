package bindings

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchlua/switchlua/models"
	"github.com/switchlua/switchlua/scripts/builtin"
)

// loadApp loads a built-in app (or, with a path, a file) under id.
func (e *env) loadApp(id, name string, args map[string]string) {
	e.t.Helper()
	var s Script
	var err error
	if a, ok := builtin.Lookup(name); ok {
		s, err = CompileScript(a.Path(), []byte(a.Source))
	} else {
		s, err = CompileFile(name)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.rt.Load(AppSpec{ID: id, Scripts: []Script{s}, Args: args}); err != nil {
		e.t.Fatal(err)
	}
}

// sent returns the commands sent since the last call, joined for matching.
func (e *env) sentSince(from *int) string {
	all := e.snd.Sent()
	out := strings.Join(all[*from:], "\n---\n")
	*from = len(all)
	return out
}

func wantSent(t *testing.T, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("sent commands lack %q:\n%s", w, got)
		}
	}
}

func (e *env) noErrors() {
	e.t.Helper()
	if st := e.rt.Stats(); st.Errors != 0 {
		e.t.Fatalf("%d callback errors:\n%s", st.Errors, e.logs)
	}
}

// selfCall makes the two legs of a self-call (outbound a, inbound b) in one call.
func (e *env) selfCall(app string) (a, b *models.Session) {
	a = e.session("a", app, "outbound")
	b = e.session("b", app, "inbound")
	newCall("a", a, b)
	return a, b
}

func TestToneplayApp(t *testing.T) {
	e := newEnv(t, Options{})
	e.loadApp("default", "toneplay", nil)
	a, b := e.selfCall("")
	n := 0
	e.send(a, "CHANNEL_PARK")
	if got := e.sentSince(&n); got != "" {
		t.Fatalf("outbound park sent %q", got)
	}
	e.send(b, "CHANNEL_PARK")
	wantSent(t, e.sentSince(&n), "api uuid_answer b")
	e.send(b, "CHANNEL_ANSWER")
	wantSent(t, e.sentSince(&n), "sendmsg b\ncall-command: execute\nexecute-app-name: echo")
	e.send(a, "CHANNEL_ANSWER")
	wantSent(t, e.sentSince(&n), "sendmsg a\ncall-command: execute\nexecute-app-name: playback\nexecute-app-arg: {loops=-1}tone_stream://%(251,0,1004)")
	e.noErrors()
	if got := e.rt.Events(); !slices.Equal(got, []string{"CHANNEL_ANSWER", "CHANNEL_PARK"}) {
		t.Fatalf("events %q", got)
	}
}

func TestProxierApp(t *testing.T) {
	e := newEnv(t, Options{})
	e.loadApp("default", "proxier", map[string]string{"profile": "external", "proxy": "10.0.0.5:5060"})
	a, b := e.selfCall("")
	n := 0
	e.send(a, "CHANNEL_PARK")
	e.send(b, "CHANNEL_PARK")
	wantSent(t, e.sentSince(&n), "sendmsg b", "execute-app-name: bridge", "execute-app-arg: sofia/external/${sip_req_uri};fs_path=sip:10.0.0.5:5060")
	if strings.Contains(strings.Join(e.snd.Sent(), "\n"), "sendmsg a") {
		t.Fatal("outbound leg bridged")
	}
	e.send(b, "CHANNEL_ANSWER")
	e.noErrors()
	// Proxier sees the bridge through (it waits for its end): the caller
	// hanging up releases it.
	if st := e.rt.Stats(); st.Waiting != 1 {
		t.Fatalf("waiting %d", st.Waiting)
	}
	e.gone(b)
	if st := e.rt.Stats(); st.Waiting != 0 {
		t.Fatalf("waiting %d after hangup", st.Waiting)
	}
}

func TestIVRScript(t *testing.T) {
	const ivr = "../scripts/ivr.lua"
	if _, err := os.Stat(ivr); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		input func(e *env, s *models.Session)
		want  []string
		not   string
	}{
		{"digit 1 bridges", func(e *env, s *models.Session) {
			e.send(s, "DTMF", "DTMF-Digit", "1")
		}, []string{"api uuid_break b", "execute-app-name: bridge", "sofia/${sofia_profile_name}/1000@${domain}"}, "uuid_kill"},
		{"digit 2 says goodbye", func(e *env, s *models.Session) {
			e.send(s, "DTMF", "DTMF-Digit", "2")
			e.snd.Flush()
			e.send(s, "PLAYBACK_STOP", "Playback-File-Path", "/sounds/ivr/ivr-welcome_to_freeswitch.wav")
			e.snd.Flush()
			if strings.Contains(strings.Join(e.snd.Sent(), "\n"), "uuid_kill") {
				e.t.Fatal("hung up on the prompt's PLAYBACK_STOP")
			}
			e.send(s, "PLAYBACK_STOP", "Playback-File-Path", "/sounds/voicemail/vm-goodbye.wav")
		}, []string{"vm-goodbye.wav", "api uuid_kill b NORMAL_CLEARING"}, "bridge"},
		{"other digit hangs up", func(e *env, s *models.Session) {
			e.send(s, "DTMF", "DTMF-Digit", "9")
		}, []string{"api uuid_kill b NORMAL_CLEARING"}, "bridge"},
		{"timeout", func(e *env, s *models.Session) {
			e.host.runUntil(e.t, 5*time.Second, func() bool { return strings.Contains(strings.Join(e.snd.Sent(), "\n"), "uuid_kill") })
		}, []string{"api uuid_kill b NO_USER_RESPONSE"}, "bridge"},
		{"caller hangs up while we wait", func(e *env, s *models.Session) {
			e.send(s, "CHANNEL_HANGUP", "Hangup-Cause", "NORMAL_CLEARING")
			e.gone(s)
		}, nil, "uuid_kill"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			e.snd.Hold = true // replies come later, as on a real connection
			e.loadApp("default", ivr, map[string]string{"timeout": "0.05"})
			b := e.session("b", "", "inbound")
			n := 0
			e.send(b, "CHANNEL_PARK")
			e.snd.Flush()
			wantSent(t, e.sentSince(&n), "api uuid_answer b")
			e.send(b, "CHANNEL_ANSWER")
			wantSent(t, e.sentSince(&n), "execute-app-name: playback", "ivr-welcome_to_freeswitch.wav")
			e.snd.Flush()
			c.input(e, b)
			for e.snd.Flush() > 0 {
			}
			got := e.sentSince(&n)
			wantSent(t, got, c.want...)
			if c.not != "" && strings.Contains(got, c.not) {
				t.Errorf("sent %q:\n%s", c.not, got)
			}
			e.noErrors()
			if c.name == "digit 1 bridges" {
				// the IVR sees the bridge through: the caller hanging
				// up releases it
				e.gone(b)
			}
			if st := e.rt.Stats(); st.Waiting != 0 {
				t.Fatalf("waiting %d", st.Waiting)
			}
		})
	}
}

func TestDtmfCheckerApp(t *testing.T) {
	e := newEnv(t, Options{})
	e.loadApp("default", "dtmfchecker", map[string]string{"digits": "123", "duration": "100"})
	a, b := e.selfCall("")
	n := 0
	e.send(b, "CHANNEL_PARK")
	wantSent(t, e.sentSince(&n), "api uuid_answer b")
	e.send(b, "CHANNEL_ANSWER")
	e.send(a, "CHANNEL_ANSWER")
	e.host.runUntil(t, 5*time.Second, func() bool { return len(e.snd.Sent()) > n })
	wantSent(t, e.sentSince(&n), "api uuid_send_dtmf a 123 @100")
	for _, d := range []string{"1", "2", "3"} {
		e.send(b, "DTMF", "DTMF-Digit", d)
	}
	wantSent(t, e.sentSince(&n), "api uuid_kill b NORMAL_CLEARING")
	if v, _ := e.rt.opt.Shared.Get("dtmfchecker.ok"); v != 1.0 {
		t.Fatalf("ok = %v\n%s", v, e.logs)
	}
	e.noErrors()
}

func TestPlayRecApp(t *testing.T) {
	e := newEnv(t, Options{})
	e.loadApp("default", "playrec", map[string]string{"tail": "0.01", "recdir": "/tmp/rec"})
	a, b := e.selfCall("")
	n := 0
	e.send(b, "CHANNEL_PARK")
	e.send(b, "CHANNEL_ANSWER")
	wantSent(t, e.sentSince(&n), "record_sample_rate=16000", "execute-app-name: record_session\nexecute-app-arg: /tmp/rec/callee_b.wav")
	e.send(a, "CHANNEL_ANSWER")
	wantSent(t, e.sentSince(&n), "sendmsg a", "ivr-welcome_to_freeswitch.wav")
	e.send(a, "PLAYBACK_STOP")
	wantSent(t, e.sentSince(&n), "sendmsg b", "stop_record_session")
	e.host.runUntil(t, 5*time.Second, func() bool { return len(e.snd.Sent()) > n })
	wantSent(t, e.sentSince(&n), "api uuid_kill a NORMAL_CLEARING")
	if a.Call.Vars["noautohangup"] != true {
		t.Fatal("noautohangup not set")
	}
	e.noErrors()
}

func TestRouterApp(t *testing.T) {
	e := newEnv(t, Options{})
	e.loadApp("default", "router", map[string]string{"^1(%d%d%d)$": "sofia/internal/%1@pbx"})
	cases := []struct{ dest, want string }{
		{"1234", "execute-app-name: bridge\nexecute-app-arg: sofia/internal/234@pbx"},
		{"echo", "execute-app-name: echo"},
		{"busy", "api uuid_kill u USER_BUSY"},
		{"zzz", "api uuid_kill u NO_ROUTE_DESTINATION"},
	}
	n := 0
	for _, c := range cases {
		s := e.session("u", "", "inbound")
		e.send(s, "CHANNEL_PARK", "Caller-Destination-Number", c.dest)
		wantSent(t, e.sentSince(&n), c.want)
		e.gone(s)
	}
	o := e.session("o", "", "outbound")
	e.send(o, "CHANNEL_PARK", "Caller-Destination-Number", "zzz")
	if got := e.sentSince(&n); got != "" {
		t.Fatalf("outbound leg routed: %q", got)
	}
	e.noErrors()
}
