package models

import (
	"errors"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultCause is the hangup cause when none is given.
const DefaultCause = "NORMAL_CLEARING"

// MaxHeaderArg is the longest execute-app-arg sent as a header; a longer
// argument goes in the sendmsg body with Content-Length.
const MaxHeaderArg = 2048

// ErrNoSender is passed to done when a session has no Sender.
var ErrNoSender = errors.New("models: session has no sender")

// ErrNoSession is passed to done by Call.Hangup on an empty call.
var ErrNoSession = errors.New("models: call has no session")

// ErrNewline is passed to done, and nothing is sent, when an argument that
// must stay on one line (any api argument, a sendmsg app name or
// Event-UUID) contains a CR or LF: it would end the ESL command early and
// smuggle another one in. A sendmsg execute-app-arg with a newline is sent
// in the body instead.
var ErrNewline = errors.New("models: newline in a command argument")

// Undef is FreeSWITCH's uuid_getvar reply for an unset variable.
const Undef = "_undef_"

// ---- wire builders (pure) ----

// APICmd returns the ESL command "api <cmd>".
func APICmd(cmd string) string { return "api " + cmd }

// ExecuteCmd returns the sendmsg that runs dialplan app with arg on uuid:
//
//	sendmsg <uuid>
//	call-command: execute
//	execute-app-name: <app>
//	execute-app-arg: <arg>
//	loops: <loops>
//	[Event-UUID: <o.AppUUID>]
//	[event-lock: true]
//
// as switchio writes it. An empty arg omits the execute-app-arg line; loops
// 0 is 1 (-1 loops forever). An arg longer than MaxHeaderArg, or with a
// newline, goes in the body instead (content-type: text/plain,
// Content-Length, a blank line, the arg). uuid, app and o.AppUUID must not
// contain newlines (Session methods check).
func ExecuteCmd(uuid, app, arg string, o ExecuteOptions) string {
	loops := o.Loops
	if loops == 0 {
		loops = 1
	}
	var b strings.Builder
	b.Grow(80 + len(uuid) + len(app) + len(arg) + len(o.AppUUID))
	b.WriteString("sendmsg ")
	b.WriteString(uuid)
	b.WriteString("\ncall-command: execute\nexecute-app-name: ")
	b.WriteString(app)
	body := len(arg) > MaxHeaderArg || strings.ContainsAny(arg, "\r\n")
	if arg != "" && !body {
		b.WriteString("\nexecute-app-arg: ")
		b.WriteString(arg)
	}
	b.WriteString("\nloops: ")
	b.WriteString(strconv.Itoa(loops))
	if o.AppUUID != "" {
		b.WriteString("\nEvent-UUID: ")
		b.WriteString(o.AppUUID)
	}
	if o.Lock {
		b.WriteString("\nevent-lock: true")
	}
	if body {
		b.WriteString("\ncontent-type: text/plain\nContent-Length: ")
		b.WriteString(strconv.Itoa(len(arg)))
		b.WriteString("\n\n")
		b.WriteString(arg)
	}
	return b.String()
}

// VarSet formats channel variables as FreeSWITCH's "{k=v,k2=v2}" prefix, keys
// sorted; "" for none.
func VarSet(params map[string]string) string {
	if len(params) == 0 {
		return ""
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(params[k])
	}
	b.WriteByte('}')
	return b.String()
}

// BridgeArg is the bridge app's argument for o:
// "{k=v,...}sofia/<profile>/<dest>[;fs_path=sip:<proxy>]", with the profile
// defaulting to ${sofia_profile_name}, the destination to ${sip_req_uri}
// (FreeSWITCH expands both on the channel), and "gateway/<gw>" replacing the
// profile when a gateway is given. Without params there is no "{}" prefix.
func BridgeArg(o BridgeOptions) string {
	profile := o.Profile
	if profile == "" {
		profile = "${sofia_profile_name}"
	}
	if o.Gateway != "" {
		profile = "gateway/" + o.Gateway
	}
	dest := o.DestURL
	if dest == "" {
		dest = "${sip_req_uri}"
	}
	s := VarSet(o.Params) + "sofia/" + profile + "/" + dest
	if o.Proxy != "" {
		s += ";fs_path=sip:" + o.Proxy
	}
	return s
}

// PlaybackDelimiter joins several files into one playback argument; the
// session sets the playback_delimiter channel variable to it first.
const PlaybackDelimiter = ";"

// PlaybackArg is the playback app's argument: "{k=v}f1;f2[@@start]".
func PlaybackArg(paths []string, o PlaybackOptions) string {
	s := VarSet(o.Params) + strings.Join(paths, PlaybackDelimiter)
	if o.StartSample > 0 {
		s += "@@" + strconv.Itoa(o.StartSample)
	}
	return s
}

// Secs formats a delay as FreeSWITCH's whole seconds: "+N", rounded up, so a
// positive sub-second delay becomes "+1"; zero or negative is "+0".
func Secs(d time.Duration) string {
	if d <= 0 {
		return "+0"
	}
	return "+" + strconv.FormatInt(int64(math.Ceil(d.Seconds())), 10)
}

// SetVarsArg formats variables as uuid_setvar_multi wants them: "k=v;k2=v2",
// keys sorted.
func SetVarsArg(vars map[string]string) string {
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(vars[k])
	}
	return b.String()
}

// ---- sending ----

func (s *Session) send(cmd string, done Done) {
	if done == nil {
		done = func(string, error) {}
	}
	if bad(cmd) {
		done("", ErrNewline)
		return
	}
	if s.snd == nil {
		done("", ErrNoSender)
		return
	}
	s.snd.SendAsync(cmd, done)
}

func (s *Session) apiCmd(name string, done Done, args ...string) {
	cmd := name + " " + s.UUID
	if len(args) > 0 {
		cmd += " " + strings.Join(args, " ")
	}
	s.send(APICmd(cmd), done)
}

// bad reports a command that would not stay one ESL command: an api command
// with a newline. (sendmsg commands are checked piece by piece in exec.)
func bad(cmd string) bool {
	return strings.HasPrefix(cmd, "api ") && strings.ContainsAny(cmd, "\r\n")
}

// exec sends a sendmsg execute, refusing an app name or Event-UUID with a
// newline.
func (s *Session) exec(app, arg string, o ExecuteOptions, done Done) {
	if strings.ContainsAny(app, "\r\n") || strings.ContainsAny(o.AppUUID, "\r\n") {
		if done != nil {
			done("", ErrNewline)
		}
		return
	}
	s.send(ExecuteCmd(s.UUID, app, arg, o), done)
}

// sendAll sends cmds in order (they are pipelined) and calls done once, after
// the last reply, with that reply or the first error.
func (s *Session) sendAll(cmds []string, done Done) {
	if len(cmds) == 1 {
		s.send(cmds[0], done)
		return
	}
	if done == nil {
		done = func(string, error) {}
	}
	var (
		mu       sync.Mutex
		left     = len(cmds)
		firstErr error
		last     string
	)
	for i, c := range cmds {
		s.send(c, func(reply string, err error) {
			mu.Lock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			if i == len(cmds)-1 {
				last = reply
			}
			left--
			fin := left == 0
			mu.Unlock()
			if fin {
				if firstErr != nil {
					done("", firstErr)
				} else {
					done(last, nil)
				}
			}
		})
	}
}

// ---- Session commands ----

// Answer answers the channel: api uuid_answer <uuid>.
func (s *Session) Answer(done Done) { s.apiCmd("uuid_answer", done) }

// Hangup hangs up the channel: api uuid_kill <uuid> <cause>
// (cause defaults to NORMAL_CLEARING).
func (s *Session) Hangup(cause string, done Done) {
	if cause == "" {
		cause = DefaultCause
	}
	s.apiCmd("uuid_kill", done, cause)
}

// Park parks the channel: api uuid_park <uuid>.
func (s *Session) Park(done Done) { s.apiCmd("uuid_park", done) }

// Bridge bridges the channel with sendmsg execute bridge BridgeArg(o).
func (s *Session) Bridge(o BridgeOptions, done Done) {
	s.Execute("bridge", BridgeArg(o), done)
}

// Playback plays one file (or tone_stream, silence_stream...) with sendmsg
// execute playback, or endless_playback when o.Endless.
func (s *Session) Playback(path string, o PlaybackOptions, done Done) {
	s.PlaybackFiles([]string{path}, o, done)
}

// PlaybackFiles plays several files in one playback: with more than one it
// first sets playback_delimiter=; (sendmsg execute set), then runs playback
// "{k=v}f1;f2[@@start]", as switchio does. done gets the last reply or the
// first error.
func (s *Session) PlaybackFiles(paths []string, o PlaybackOptions, done Done) {
	app := "playback"
	if o.Endless {
		app = "endless_playback"
	}
	eo := ExecuteOptions{Loops: o.Loops, AppUUID: o.AppUUID}
	if len(paths) > 1 {
		if strings.ContainsAny(o.AppUUID, "\r\n") {
			if done != nil {
				done("", ErrNewline)
			}
			return
		}
		s.sendAll([]string{s.setCmd("playback_delimiter", PlaybackDelimiter), ExecuteCmd(s.UUID, app, PlaybackArg(paths, o), eo)}, done)
		return
	}
	s.exec(app, PlaybackArg(paths, o), eo, done)
}

// Broadcast runs api uuid_broadcast <uuid> <path> [<leg>] (leg aleg, bleg or
// both; empty leaves FreeSWITCH's default, aleg). Prefer Execute: broadcast is
// unreliable on parked channels (switchio issue #52).
func (s *Session) Broadcast(path, leg string, done Done) {
	if leg == "" {
		s.apiCmd("uuid_broadcast", done, path)
		return
	}
	s.apiCmd("uuid_broadcast", done, path, leg)
}

// Execute runs dialplan app with arg on the channel (sendmsg execute, one loop).
func (s *Session) Execute(app, arg string, done Done) {
	s.exec(app, arg, ExecuteOptions{}, done)
}

// ExecuteWith is Execute with loops, Event-UUID and event-lock.
func (s *Session) ExecuteWith(app, arg string, o ExecuteOptions, done Done) {
	s.exec(app, arg, o, done)
}

func (s *Session) setCmd(name, value string) string {
	return ExecuteCmd(s.UUID, "set", name+"="+value, ExecuteOptions{})
}

// StartRecord records the channel to path with record_session, after setting
// RECORD_READ_ONLY=true (o.RxOnly) or else RECORD_STEREO=true (o.Stereo), and
// record_sample_rate (default 16000), each with sendmsg execute set, as
// switchio does. done gets the last reply or the first error.
func (s *Session) StartRecord(path string, o RecordOptions, done Done) {
	rate := o.SampleRate
	if rate <= 0 {
		rate = 16000
	}
	cmds := make([]string, 0, 3)
	if o.RxOnly {
		cmds = append(cmds, s.setCmd("RECORD_READ_ONLY", "true"))
	} else if o.Stereo {
		cmds = append(cmds, s.setCmd("RECORD_STEREO", "true"))
	}
	cmds = append(cmds,
		s.setCmd("record_sample_rate", strconv.Itoa(rate)),
		ExecuteCmd(s.UUID, "record_session", path, ExecuteOptions{}))
	s.sendAll(cmds, done)
}

// StopRecord stops recording path ("" means all) with sendmsg execute
// stop_record_session. With a delay it schedules
// api sched_api +<secs> none uuid_record <uuid> stop <path> instead
// (switchio executes a "sched_api" dialplan app, which FreeSWITCH does not
// have, with an app as its command; uuid_record stop stops a record_session
// recording the same way). The delay is whole seconds, rounded up (see Secs).
func (s *Session) StopRecord(path string, delay time.Duration, done Done) {
	if path == "" {
		path = "all"
	}
	if delay > 0 {
		s.send(APICmd("sched_api "+Secs(delay)+" none uuid_record "+s.UUID+" stop "+path), done)
		return
	}
	s.Execute("stop_record_session", path, done)
}

// Record runs api uuid_record <uuid> <action> <path> (action start, stop,
// mask or unmask).
func (s *Session) Record(action, path string, done Done) {
	s.apiCmd("uuid_record", done, action, path)
}

// Echo echoes the caller's audio back (sendmsg execute echo).
func (s *Session) Echo(done Done) { s.Execute("echo", "", done) }

// Mute mutes the channel: api uuid_audio <uuid> start <direction> mute <level>.
// direction defaults to write; a level below 1 is 1.
func (s *Session) Mute(direction string, level int, done Done) {
	if level < 1 {
		level = 1
	}
	s.audio(direction, level, done)
}

// Unmute undoes Mute: api uuid_audio <uuid> start <direction> mute 0
// (switchio's form, which keeps the other direction's setting).
func (s *Session) Unmute(direction string, done Done) { s.audio(direction, 0, done) }

func (s *Session) audio(direction string, level int, done Done) {
	if direction == "" {
		direction = "write"
	}
	s.apiCmd("uuid_audio", done, "start", direction, "mute", strconv.Itoa(level))
}

// SendDTMF sends digits: api uuid_send_dtmf <uuid> <digits> [@<duration>]
// (duration in ms, e.g. "200"; empty uses FreeSWITCH's default).
func (s *Session) SendDTMF(digits string, duration string, done Done) {
	s.send(APICmd(dtmfCmd(s.UUID, digits, duration)), done)
}

func dtmfCmd(uuid, digits, duration string) string {
	c := "uuid_send_dtmf " + uuid + " " + digits
	if duration != "" {
		c += " @" + duration
	}
	return c
}

// SchedDTMF schedules SendDTMF after delay:
// api sched_api +<secs> none uuid_send_dtmf <uuid> <digits> [@<duration>].
// The delay is whole seconds, rounded up (see Secs).
func (s *Session) SchedDTMF(delay time.Duration, digits, duration string, done Done) {
	s.send(APICmd("sched_api "+Secs(delay)+" none "+dtmfCmd(s.UUID, digits, duration)), done)
}

// SchedHangup schedules a hangup: api sched_hangup +<secs> <uuid> <cause>
// (cause defaults to NORMAL_CLEARING; the delay is whole seconds, rounded up,
// see Secs).
func (s *Session) SchedHangup(delay time.Duration, cause string, done Done) {
	if cause == "" {
		cause = DefaultCause
	}
	s.send(APICmd("sched_hangup "+Secs(delay)+" "+s.UUID+" "+cause), done)
}

// ClearTasks deletes the session's scheduled tasks: api sched_del <uuid>.
func (s *Session) ClearTasks(done Done) { s.apiCmd("sched_del", done) }

// BreakMedia stops the current media (playback...): api uuid_break <uuid>.
func (s *Session) BreakMedia(done Done) { s.apiCmd("uuid_break", done) }

// BypassMedia takes the media out of FreeSWITCH (on: api uuid_media off
// <uuid>) or back in (api uuid_media <uuid>), as switchio.
func (s *Session) BypassMedia(on bool, done Done) {
	if on {
		s.send(APICmd("uuid_media off "+s.UUID), done)
		return
	}
	s.apiCmd("uuid_media", done)
}

// Respond sends a SIP response, e.g. "180" or "486 Busy" (sendmsg execute respond).
func (s *Session) Respond(code string, done Done) { s.Execute("respond", code, done) }

// Deflect sends a REFER to uri (sendmsg execute deflect).
func (s *Session) Deflect(uri string, done Done) { s.Execute("deflect", uri, done) }

// SetVar sets a channel variable: sendmsg execute set name=value.
func (s *Session) SetVar(name, value string, done Done) { s.send(s.setCmd(name, value), done) }

// SetVars sets several channel variables in one command:
// api uuid_setvar_multi <uuid> k=v;k2=v2 (keys sorted). With no variables it
// sends nothing and calls done("+OK", nil) at once.
func (s *Session) SetVars(vars map[string]string, done Done) {
	if len(vars) == 0 {
		if done != nil {
			done("+OK", nil)
		}
		return
	}
	s.apiCmd("uuid_setvar_multi", done, SetVarsArg(vars))
}

// UnsetVar unsets a channel variable: sendmsg execute unset name.
func (s *Session) UnsetVar(name string, done Done) { s.Execute("unset", name, done) }

// GetVar reads a channel variable with api uuid_getvar <uuid> <name>.
// done gets (value, true, nil), or ("", false, nil) when FreeSWITCH answers
// "_undef_", or ("", false, err).
func (s *Session) GetVar(name string, done func(value string, ok bool, err error)) {
	s.apiCmd("uuid_getvar", func(reply string, err error) {
		if done == nil {
			return
		}
		switch {
		case err != nil:
			done("", false, err)
		default:
			reply = strings.TrimRight(reply, "\r\n")
			if reply == Undef {
				done("", false, nil)
				return
			}
			done(reply, true, nil)
		}
	}, name)
}
