package fssim

import (
	"strings"
	"testing"
	"time"
)

const noChannel = "00000000-0000-4000-8000-000000000000"

// TestAPIReplies checks the reply texts of the api commands, as FreeSWITCH's
// mod_commands writes them.
func TestAPIReplies(t *testing.T) {
	_, c := loggedIn(t, Config{})
	tests := []struct{ cmd, want string }{
		{"nosuch", "-ERR nosuch Command not found!\n"},
		{"uuid_answer " + noChannel, "-ERROR\n"},
		{"uuid_kill " + noChannel, "-ERR No such channel!\n"},
		{"uuid_kill", "-USAGE: <uuid> [cause]\n"},
		{"uuid_park " + noChannel, "-ERR No such channel!\n"},
		{"uuid_break " + noChannel, "-ERR No such channel!\n"},
		{"uuid_broadcast " + noChannel + " tone_stream://%(100,0,350)", "-ERR invalid uuid\n"},
		{"uuid_broadcast " + noChannel, "-USAGE: <uuid> <path> [aleg|bleg|holdb|both]\n"},
		{"uuid_getvar " + noChannel + " x", "-ERR No such channel!\n"},
		{"uuid_getvar " + noChannel, "-USAGE: <uuid> <var>\n"},
		{"uuid_setvar " + noChannel + " x 1", "-ERR No such channel!\n"},
		{"uuid_setvar_multi " + noChannel + " a=1;b=2", "-ERR No such channel!\n-USAGE: <uuid> <var>=<value>;<var>=<value>...\n"},
		{"uuid_send_dtmf " + noChannel + " 1", "-ERR Cannot locate session!\n"},
		{"uuid_record " + noChannel + " start /tmp/x.wav", "-ERR Cannot locate session!\n"},
		{"uuid_audio " + noChannel + " start read mute 1", "-ERR No such channel!\n"},
		{"uuid_media " + noChannel, "-ERR Operation failed\n"},
		{"uuid_bridge " + noChannel + " " + noChannel, "-ERR Invalid uuid\n"},
		{"uuid_exists " + noChannel, "false"},
		{"sched_hangup +1 " + noChannel, "-ERR No such channel!\n"},
		{"sched_api +60 none status", "+OK Added: 1\n"},
		{"sched_api +60 grp status", "+OK Added: 2\n"},
		{"sched_api bogus", "-ERR Invalid syntax. USAGE: [+@]<time> <group_name> <command_string>[&]\n"},
		{"sched_del 1", "+OK Deleted: 1\n"},
		{"sched_del grp", "+OK Deleted: 1\n"},
		{"sched_del 99", "+OK Deleted: 0\n"},
		{"hupall", "+OK hangup all channels with cause MANAGER_REQUEST\n"},
		{"hupall NORMAL_CLEARING", "+OK hangup all channels with cause NORMAL_CLEARING\n"},
		{"hupall NORMAL_CLEARING x y", "+OK hangup all channels matching [x]=[y] with cause: NORMAL_CLEARING\n"},
		{"hupall USER_BUSY x y z w", "+OK hangup all channels matching [x]=[y]... with cause: USER_BUSY\n"},
		{"global_getvar hostname", "vm"},
		{"global_getvar nosuchvar", "-ERR no reply\n"},
		{"global_setvar foo=bar", "+OK\n"},
		{"global_getvar foo", "bar"},
		{"fsctl sps 50", "+OK sessions per second: 50\n"},
		{"fsctl sps", "+OK sessions per second: 50\n"},
		{"fsctl max_sessions 2000", "+OK max sessions: 2000\n"},
		{"fsctl verbose_events on", "+OK verbose_events is on \n"},
		{"fsctl verbose_events off", "+OK verbose_events is off \n"},
		{"fsctl loglevel info", "+OK log level: INFO [6]\n"},
		{"fsctl loglevel bogus", "-ERR syntax error, log level not set!\n"},
		{"fsctl hupall", "+OK\n"},
		{"fsctl frob", "-ERR Invalid command\nUSAGE: fsctl " + ctlSyntax + "\n"},
		{"show channels", "\n0 total.\n"},
		{"show channels count", "\n0 total.\n"},
		{"version short", "1.11.3\n"},
		{"version", "FreeSWITCH Version 1.11.3-dev+git~20260821T141014Z~cc93a683ca~64bit (git cc93a68 2026-08-21 14:10:14Z 64bit)\n"},
		{"uptime frob", "-USAGE: [us|ms|s|m|h|d|microseconds|milliseconds|seconds|minutes|hours|days]\n"},
		{"uptime", "0\n"},
		{"hostname", "vm"},
		{"originate", originateUsage},
		{"originate sofia/external/nobody@127.0.0.1:5999 &park()", "-ERR NORMAL_TEMPORARY_FAILURE\n"},
		{"originate sofia/gateway/gw/x &park()", "-ERR INVALID_GATEWAY\n"},
		{"originate sofia/nosuchprofile/x@127.0.0.1 &park()", "-ERR INVALID_PROFILE\n"},
		{"originate error/user_busy &park()", "-ERR USER_BUSY\n"},
		{"originate foo/bar &park()", "-ERR CHAN_NOT_IMPLEMENTED\n"},
		{"sofia status profile nosuch", "Invalid Profile!\n"},
	}
	for _, tt := range tests {
		if got := c.api(tt.cmd); got != tt.want {
			t.Errorf("api %s:\n got %q\nwant %q", tt.cmd, got, tt.want)
		}
	}
}

func TestStatusAndSofia(t *testing.T) {
	_, c := loggedIn(t, Config{})
	st := c.api("status")
	lines := strings.Split(st, "\n")
	if len(lines) != 9 || !strings.HasPrefix(lines[0], "UP 0 years, 0 days, 0 hours, 0 minutes, ") ||
		lines[1] != "FreeSWITCH (Version 1.11.3-dev git cc93a68 2026-08-21 14:10:14Z 64bit) is ready" ||
		lines[2] != "0 session(s) since startup" || lines[3] != "0 session(s) - peak 0, last 5min 0 " ||
		lines[4] != "0 session(s) per Sec out of max 30, peak 0, last 5min 0 " || lines[5] != "1000 session(s) max" ||
		lines[7] != "Current Stack Size/Max 240K/8192K" {
		t.Errorf("status:\n%s", st)
	}
	ext := c.api("sofia status profile external")
	for _, want := range []string{"Name             \texternal", "Context          \tpark",
		"URL              \tsip:mod_sofia@127.0.0.1:5080", "BIND-URL         \tsip:mod_sofia@127.0.0.1:5080;transport=udp,tcp"} {
		if !hasLine(ext, want) {
			t.Errorf("sofia status profile external lacks %q:\n%s", want, ext)
		}
	}
	in := c.api("sofia status profile internal")
	if !hasLine(in, "URL              \tsip:mod_sofia@127.0.0.1:5060") {
		t.Errorf("internal URL:\n%s", in)
	}
	if !hasLine(in, "Context          \tpublic") {
		t.Errorf("internal context:\n%s", in)
	}
	all := c.api("sofia status")
	if !strings.Contains(all, "                 external\tprofile\t              sip:mod_sofia@127.0.0.1:5080\tRUNNING (0)") {
		t.Errorf("sofia status:\n%s", all)
	}
}

// TestChannelAPIs exercises the uuid_* commands on a live call.
func TestChannelAPIs(t *testing.T) {
	_, c := loggedIn(t, Config{})
	c.subscribeAll()
	out, in := c.answeredCall()

	if b := c.api("uuid_exists " + out); b != "true" {
		t.Errorf("uuid_exists %q", b)
	}
	if b := c.api("uuid_getvar " + out + " nosuch"); b != "_undef_" {
		t.Errorf("getvar missing %q", b)
	}
	if b := c.api("uuid_getvar " + in + " sip_req_user"); !strings.HasPrefix(b, "u") {
		t.Errorf("getvar sip_req_user %q", b)
	}
	if b := c.api("uuid_setvar " + out + " foo bar baz"); b != "+OK\n" {
		t.Errorf("setvar %q", b)
	}
	if b := c.api("uuid_getvar " + out + " foo"); b != "bar baz" {
		t.Errorf("getvar after setvar %q", b)
	}
	if b := c.api("uuid_setvar_multi " + out + " a=1;b=2"); b != "+OK\n" {
		t.Errorf("setvar_multi %q", b)
	}
	if b := c.api("uuid_getvar " + out + " b"); b != "2" {
		t.Errorf("getvar b %q", b)
	}
	if b := c.api("uuid_setvar " + out + " foo"); b != "+OK\n" {
		t.Errorf("unset %q", b)
	}
	if b := c.api("uuid_getvar " + out + " foo"); b != "_undef_" {
		t.Errorf("getvar after unset %q", b)
	}
	if b := c.api("uuid_audio " + out + " start write mute 1"); b != "+OK\n" {
		t.Errorf("uuid_audio %q", b)
	}
	if b := c.api("uuid_audio " + out + " start"); b != "-USAGE: <uuid> [start [read|write] [mute|level <level>]|stop]\n" {
		t.Errorf("uuid_audio usage %q", b)
	}
	if b := c.api("uuid_media " + out); b != "+OK Success\n" {
		t.Errorf("uuid_media %q", b)
	}
	if b := c.api("uuid_media off " + out); b != "+OK Success\n" {
		t.Errorf("uuid_media off %q", b)
	}

	// record: RECORD_START/STOP with the path
	if b := c.api("uuid_record " + out + " start /tmp/rec.wav"); b != "+OK Success\n" {
		t.Errorf("uuid_record start %q", b)
	}
	rs := c.waitEvent("record start", evIs("RECORD_START", out))
	if rs.ev("Record-File-Path") != "/tmp/rec.wav" {
		t.Errorf("Record-File-Path %q", rs.ev("Record-File-Path"))
	}
	if b := c.api("uuid_record " + out + " stop /tmp/other.wav"); b != "-ERR Cannot stop record session!\n" {
		t.Errorf("stop other %q", b)
	}
	if b := c.api("uuid_record " + out + " stop all"); b != "+OK Success\n" {
		t.Errorf("uuid_record stop %q", b)
	}
	c.waitEvent("record stop", evIs("RECORD_STOP", out))

	// broadcast a tone that plays until broken
	if b := c.api("uuid_broadcast " + out + " tone_stream://%(100,100,350);loops=-1 aleg"); b != "+OK Message sent\n" {
		t.Errorf("uuid_broadcast %q", b)
	}
	start := c.waitEvent("playback start", evIs("PLAYBACK_START", out))
	if start.ev("Playback-File-Type") != "tone_stream" {
		t.Errorf("Playback-File-Type %q", start.ev("Playback-File-Type"))
	}
	time.Sleep(50 * time.Millisecond)
	if evs := c.eventsOf(out); evs[len(evs)-1] != "PLAYBACK_START" {
		t.Errorf("loops=-1 tone stopped: %v", evs)
	}
	if b := c.api("uuid_break " + out); b != "+OK\n" {
		t.Errorf("uuid_break %q", b)
	}
	stop := c.waitEvent("playback stop", evIs("PLAYBACK_STOP", out))
	if stop.ev("Playback-Status") != "break" {
		t.Errorf("Playback-Status %q", stop.ev("Playback-Status"))
	}
	done := c.waitEvent("execute complete", func(f *rawFrame) bool {
		return f.name() == "CHANNEL_EXECUTE_COMPLETE" && f.ev("Unique-ID") == out && f.ev("Application") == "playback"
	})
	if done.ev("Application-Response") != "FILE PLAYED" {
		t.Errorf("response %q", done.ev("Application-Response"))
	}

	// uuid_park on a parked leg is a no-op
	if b := c.api("uuid_park " + out); b != "+OK\n" {
		t.Errorf("uuid_park %q", b)
	}
	// show channels lists both legs
	show := c.api("show channels")
	if !strings.Contains(show, "\n"+out+",outbound,") || !strings.Contains(show, "\n"+in+",inbound,") ||
		!strings.HasSuffix(show, "\n\n2 total.\n") {
		t.Errorf("show channels:\n%s", show)
	}
	if b := c.api("show channels count"); b != "\n2 total.\n" {
		t.Errorf("count %q", b)
	}

	// kill with a cause: the peer gets the q850 cause in the BYE
	if b := c.api("uuid_kill " + out + " USER_BUSY"); b != "+OK\n" {
		t.Errorf("uuid_kill %q", b)
	}
	do := c.waitEvent("out destroy", evIs("CHANNEL_DESTROY", out))
	di := c.waitEvent("in destroy", evIs("CHANNEL_DESTROY", in))
	if do.ev("Hangup-Cause") != "USER_BUSY" || di.ev("Hangup-Cause") != "USER_BUSY" {
		t.Errorf("causes %q %q", do.ev("Hangup-Cause"), di.ev("Hangup-Cause"))
	}
	hc := c.waitEvent("hangup complete", evIs("CHANNEL_HANGUP_COMPLETE", in))
	if hc.ev("variable_sip_hangup_disposition") != "recv_bye" || hc.ev("variable_hangup_cause_q850") != "17" {
		t.Errorf("remote hangup vars: %q %q", hc.ev("variable_sip_hangup_disposition"), hc.ev("variable_hangup_cause_q850"))
	}
	if b := c.api("uuid_exists " + out); b != "false" {
		t.Errorf("uuid_exists after hangup %q", b)
	}
}

func TestSchedHangupAndHupall(t *testing.T) {
	_, c := loggedIn(t, Config{})
	c.subscribeAll()
	out, in := c.answeredCall()
	if b := c.api("sched_hangup +1 " + out); b != "+OK\n" {
		t.Fatalf("sched_hangup %q", b)
	}
	if b := c.api("sched_del " + out); b != "+OK Deleted: 1\n" {
		t.Errorf("sched_del by uuid %q", b)
	}
	c.api("sched_hangup +1 " + out + " USER_BUSY")
	d := c.waitEvent("scheduled hangup", evIs("CHANNEL_HANGUP", out))
	if d.ev("Hangup-Cause") != "USER_BUSY" {
		t.Errorf("cause %q", d.ev("Hangup-Cause"))
	}
	c.waitEvent("in destroy", evIs("CHANNEL_DESTROY", in))

	// sched_hangup +0 hangs up at once, with ALLOTTED_TIMEOUT by default
	o2, _ := c.answeredCall()
	c.api("sched_hangup +0 " + o2)
	if h := c.waitEvent("hangup", evIs("CHANNEL_HANGUP", o2)); h.ev("Hangup-Cause") != "ALLOTTED_TIMEOUT" {
		t.Errorf("cause %q", h.ev("Hangup-Cause"))
	}

	// sched_api runs an api later
	o3, _ := c.answeredCall()
	if b := c.api("sched_api +1 none uuid_kill " + o3); !strings.HasPrefix(b, "+OK Added: ") {
		t.Errorf("sched_api %q", b)
	}
	c.waitEvent("sched_api kill", evIs("CHANNEL_DESTROY", o3))

	// hupall with a variable hangs up only the matching calls
	u1, u2 := newUser(), newUser()
	a, _ := c.originate(u1, "sip_h_X-app=one", "")
	b, _ := c.originate(u2, "sip_h_X-app=two", "")
	c.parkedIn(u1)
	c.parkedIn(u2)
	if r := c.api("hupall NORMAL_CLEARING sip_h_X-app one"); r != "+OK hangup all channels matching [sip_h_X-app]=[one] with cause: NORMAL_CLEARING\n" {
		t.Errorf("hupall %q", r)
	}
	c.waitEvent("a destroyed", evIs("CHANNEL_DESTROY", a))
	if c.api("uuid_exists "+b) != "true" {
		t.Error("hupall hung up the other call")
	}
	c.api("hupall")
	c.waitEvent("b destroyed", evIs("CHANNEL_DESTROY", b))
}
