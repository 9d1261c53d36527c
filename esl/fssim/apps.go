package fssim

import (
	"strconv"
	"strings"
	"time"
)

// appCall is one application to run: from the extension (originate's &app,
// the inbound leg's park) or from sendmsg/uuid_broadcast.
type appCall struct {
	name, arg string
	uuid      string // Event-UUID of sendmsg: the Application-UUID
	loops     int
	msg       bool // a private event (sendmsg, uuid_broadcast): switch_ivr_parse_event runs it
	hangupMsg bool // a queued sendmsg call-command: hangup
	// eventLock: the message's event-lock header; while it runs no other
	// message is taken from the queue (switch_core_session.c
	// switch_core_session_dequeue_private_event checks CF_EVENT_LOCK)
	eventLock bool
	// priv is the message's PRIVATE_COMMAND event, fired once it has run
	// (switch_ivr.c switch_ivr_parse_next_event); nil for none
	priv []rawHdr
	body string // the message's body (for PRIVATE_COMMAND)
}

// appRun is a running application on a leg's stack.
type appRun struct {
	l    *leg
	a    appCall
	uuid string
	next func()
	done bool
	// parses: the application calls switch_ivr_parse_all_events in its loop
	// (park, echo, sleep, playback, gentones, record, bridge), so queued
	// messages run nested inside it, and it goes on when they are done.
	parses bool
	// breakable apps end on uuid_break (they test CF_BREAK in their loop)
	breakable bool
	// eventLock: started by a message with event-lock (see appCall)
	eventLock bool
	// the application's own timer (see arm)
	timer    *time.Timer
	gen      int // counts arm and pause: a timer of an older one does nothing
	onTimer  func()
	pausable bool          // the timer counts media time, which stops while nested
	due      time.Time     // when the timer expires
	left     time.Duration // a paused timer's time left
	paused   bool
	fired    bool          // a wall-clock timer expired while an app ran nested
	ran      time.Duration // time on top of the stack before since
	since    time.Time     // when it last got back on top (zero while nested)
	// stop, if set, is called before EXECUTE_COMPLETE when the app is cut
	// short: by uuid_break (hangup false) or by the hangup (true).
	stop func(r *appRun, hangup bool)
	// onBreak, if set, is what CF_BREAK does to a breakable app (default:
	// it ends, cut)
	onBreak func()
}

// brk is a breakable app seeing CF_BREAK.
func (r *appRun) brk() {
	if r.onBreak != nil {
		r.onBreak()
		return
	}
	r.cut(false)
}

type appFunc func(l *leg, r *appRun)

var appTable map[string]appFunc

// noopApps are FreeSWITCH applications the simulator accepts and completes at once.
var noopApps = []string{"log", "info", "event", "ring_ready", "send_display", "limit", "db", "hash",
	"verbose_events", "presence", "set_profile_var", "set_zombie_exec", "enable_heartbeat",
	"displace_session", "stop_displace_session", "start_dtmf", "stop_dtmf", "spandsp_start_dtmf",
	"spandsp_stop_dtmf", "avmd", "avmd_start", "avmd_stop", "flush_dtmf", "sched_cancel",
	"bind_meta_app", "unbind_meta_app", "jitterbuffer", "media_reset", "privacy", "redirect",
	"remove_bugs", "strftime", "hold", "unhold", "deflect", "wait_for_answer", "speak", "say",
	"phrase", "set_audio_level", "soft_hold", "bert", "system", "bgsystem", "mkdir", "socket",
	"lua", "javascript", "python", "detect_speech", "play_fsv", "record_fsv", "cng_plc",
	"native_eavesdrop", "eavesdrop", "three_way", "intercept", "capture", "clear_digit_action",
	"bind_digit_action", "digit_action_set_realm", "att_xfer", "early_hangup", "unset_export",
	"fax_detect", "tone_detect", "stop_tone_detect", "push", "unshift", "chat", "send_info",
	"set_name", "set_user", "rename", "stop_video_write_overlay", "video_write_overlay"}

func init() {
	appTable = map[string]appFunc{
		"park":                appPark,
		"answer":              func(l *leg, r *appRun) { l.answer(); r.complete() },
		"pre_answer":          func(l *leg, r *appRun) { l.preAnswer(); r.complete() },
		"hangup":              appHangup,
		"playback":            appPlayback,
		"endless_playback":    appPlayback,
		"gentones":            appPlayback,
		"echo":                appEcho,
		"delay_echo":          appEcho,
		"sleep":               appSleep,
		"set":                 appSet,
		"unset":               appUnset,
		"export":              appExport,
		"multiset":            appMultiset,
		"set_global":          appSetGlobal,
		"respond":             appRespond,
		"bridge":              appBridge,
		"record_session":      appRecordSession,
		"stop_record_session": appStopRecordSession,
		"record":              appRecord,
		"sched_hangup":        appSchedHangup,
		"send_dtmf":           appSendDTMF,
		"transfer":            appTransfer,
		"sched_api":           appSchedAPI,
	}
	for _, n := range noopApps {
		appTable[n] = func(l *leg, r *appRun) { r.complete() }
	}
}

func (l *leg) top() *appRun {
	if len(l.stack) == 0 {
		return nil
	}
	return l.stack[len(l.stack)-1]
}

// eventLocked reports whether a message with event-lock is running.
func (l *leg) eventLocked() bool {
	for _, r := range l.stack {
		if r.eventLock {
			return true
		}
	}
	return false
}

// pump runs what the leg has to run, as FreeSWITCH's session thread does:
// queued messages (sendmsg, uuid_broadcast) when nothing runs or when the
// running application parses events (they run nested inside it, one after
// the other, unless one has event-lock), then, in CS_EXECUTE, the
// extension's next application; an exhausted extension hangs the leg up.
// An application that gets back on top after nested ones sees a pending
// uuid_break (CF_BREAK) or its expired timer first. A leg ringing
// (CS_CONSUME_MEDIA: the state machine parses events while it idles,
// switch_core_state_machine.c, and so does the originate loop) or bridged
// by uuid_bridge (CS_EXCHANGE_MEDIA: the bridge loop parses them) runs its
// messages too.
func (l *leg) pump() {
	if l.pumping {
		return
	}
	l.pumping = true
	defer func() { l.pumping = false }()
	for !l.down {
		execute := l.runState == csExecute
		if !execute && l.runState != csConsumeMedia && l.runState != csExchangeMedia {
			return
		}
		top := l.top()
		if top != nil {
			if !top.parses {
				return
			}
			if l.cfBreak && top.breakable {
				// its loop tests CF_BREAK before parsing events
				l.cfBreak = false
				top.brk()
				continue
			}
		}
		if len(l.queue) > 0 && !l.eventLocked() {
			m := l.queue[0]
			l.queue[0] = nil
			l.queue = l.queue[1:]
			switch {
			case m.hangupMsg:
				if m.priv != nil {
					l.afterHangup = func() { l.firePrivate(m) }
				}
				l.hangupLocal(m.arg)
				return
			case m.msg:
				l.runMsg(m)
			default:
				l.exec(*m, l.pumpNext)
			}
			continue
		}
		if top != nil {
			if top.resume() {
				continue
			}
			l.sessionEvents()
			return
		}
		if !execute {
			return
		}
		if len(l.ext) > 0 {
			a := l.ext[0]
			l.ext = l.ext[1:]
			l.exec(a, l.pumpNext)
			continue
		}
		l.hangupLocal("NORMAL_CLEARING")
		return
	}
}

func (l *leg) pumpNext() { l.pump() }

// runMsg runs a message's application as switch_ivr_parse_event
// (switch_ivr.c) does: CF_STOP_BROADCAST cleared, CF_BROADCAST set (a
// message nested in another one is "inner" and leaves it to the outer one),
// the loops (repeated while each run lasted at least half a second and no
// uuid_break stopped the broadcast), then, if the broadcast was stopped,
// CF_BREAK for the application the message ran in, and the PRIVATE_COMMAND
// event.
func (l *leg) runMsg(m *appCall) {
	if m.name == "" {
		// no execute-app-name, or a call-command the simulator does not
		// act on (nomedia, unicast, xferext): only the PRIVATE_COMMAND
		l.firePrivate(m)
		return
	}
	l.stopBroadcast = false
	inner := 0
	if l.bridged == nil {
		inner++
	}
	if !l.broadcast {
		l.broadcast = true
		if inner > 0 {
			inner--
		}
	}
	l.runMsgLoop(m, 0, inner)
}

func (l *leg) runMsgLoop(m *appCall, x, inner int) {
	if x >= m.loops && m.loops >= 0 {
		// loops: 0 runs nothing
		l.endMsg(m, inner)
		return
	}
	l.vars.setLine(vnCurrentLoop.name, vnCurrentLoop.bit, l.s.line(vnCurrentLoop, strconv.Itoa(x+1)))
	l.vars.setLine(vnTotalLoops.name, vnTotalLoops.bit, l.s.line(vnTotalLoops, strconv.Itoa(m.loops)))
	start := time.Now()
	l.exec(*m, func() {
		if !l.down && !l.stopBroadcast && (m.loops < 0 || x+1 < m.loops) && time.Since(start) >= 500*time.Millisecond {
			l.runMsgLoop(m, x+1, inner)
			return
		}
		l.endMsg(m, inner)
	})
}

// endMsg is the end of switch_ivr_parse_event and parse_next_event.
func (l *leg) endMsg(m *appCall, inner int) {
	l.vars.setLine(vnCurrentLoop.name, vnCurrentLoop.bit, "")
	l.vars.setLine(vnTotalLoops.name, vnTotalLoops.bit, "")
	if inner == 0 {
		l.broadcast = false
	}
	if l.stopBroadcast {
		l.broadcast = false
		l.cfBreak = true
	}
	l.firePrivate(m)
	l.pump()
}

// exec is switch_core_session_exec: the current_application variables,
// CHANNEL_EXECUTE, the application, and CHANNEL_EXECUTE_COMPLETE when it
// completes (then next runs). An application running when another starts
// (nested) waits for it.
func (l *leg) exec(a appCall, next func()) {
	s := l.s
	impl := appTable[a.name]
	if impl == nil {
		// switch_core_session_execute_application_get_flags hangs up, then
		// returns to its caller (a message's PRIVATE_COMMAND comes next)
		s.log.Debug("fssim: invalid application", "app", a.name, "uuid", l.uuid)
		if l.down {
			next()
			return
		}
		l.afterHangup = next
		l.hangupLocal("DESTINATION_OUT_OF_ORDER")
		return
	}
	a.arg = l.expand(a.arg)
	uuid := a.uuid
	if uuid == "" {
		uuid = s.newUUID()
	}
	l.vars.setLine(vnCurrentApp.name, vnCurrentApp.bit, s.line(vnCurrentApp, a.name))
	l.vars.setLine(vnCurrentAppData.name, vnCurrentAppData.bit, s.line(vnCurrentAppData, a.arg))
	l.vars.setLine(vnCurrentAppResponse.name, vnCurrentAppResponse.bit, "")
	l.lastApp, l.lastArg = a.name, a.arg
	e := ev{typ: evChannelExecute, site: siteExecute, leg: l}
	e.add("Application", a.name)
	e.add("Application-Data", a.arg)
	e.add("Application-UUID", uuid)
	s.fire(&e)
	l.vars.touch(vnCurrentApp.name, vnCurrentApp.bit)
	// switch_core_session_exec clears CF_BREAK after CHANNEL_EXECUTE
	l.cfBreak = false
	if prev := l.top(); prev != nil {
		prev.pause()
	}
	now := time.Now()
	r := &appRun{l: l, a: a, uuid: uuid, since: now, next: next, eventLock: a.eventLock}
	l.stack = append(l.stack, r)
	impl(l, r)
}

// complete ends r: CHANNEL_EXECUTE_COMPLETE with the application's response,
// then r.next.
func (r *appRun) complete() {
	if r.done {
		return
	}
	r.done = true
	l := r.l
	if r.timer != nil {
		r.timer.Stop()
	}
	for i := len(l.stack) - 1; i >= 0; i-- {
		if l.stack[i] == r {
			copy(l.stack[i:], l.stack[i+1:])
			l.stack[len(l.stack)-1] = nil
			l.stack = l.stack[:len(l.stack)-1]
			break
		}
	}
	resp, ok := l.vars.get(vnCurrentAppResponse.name)
	if !ok {
		resp = "_none_"
	}
	e := ev{typ: evChannelExecuteComplete, site: siteExecComplete, leg: l}
	e.add("Application", r.a.name)
	e.add("Application-Data", r.a.arg)
	e.add("Application-Response", resp)
	e.add("Application-UUID", r.uuid)
	l.s.fire(&e)
	r.next()
}

// cut ends r early (uuid_break or hangup).
func (r *appRun) cut(hangup bool) {
	if r.done {
		return
	}
	if r.timer != nil {
		r.timer.Stop()
	}
	if r.stop != nil {
		r.stop(r, hangup)
	}
	r.complete()
}

// arm runs fn (with s.mu held) after d unless r ends first. While another
// application runs nested in r, r's own loop does not run: a pausable timer
// (the position in a played file) stops and goes on when r is back on top;
// any other (wall clock: sleep, record's limit) that expires meanwhile fires
// when r is back on top, as their loops only look at the clock between two
// switch_ivr_parse_all_events.
func (r *appRun) arm(d time.Duration, pausable bool, fn func()) {
	r.onTimer, r.pausable = fn, pausable
	r.due = time.Now().Add(d)
	r.gen++
	gen := r.gen
	r.timer = r.l.s.after(d, func() {
		if r.done || r.gen != gen {
			// ended, or stopped (paused) after it fired
			return
		}
		r.timer = nil
		if r.since.IsZero() {
			r.fired = true
			return
		}
		r.onTimer()
	})
}

// played is how long r has been on top of its leg's stack.
func (r *appRun) played() time.Duration {
	d := r.ran
	if !r.since.IsZero() {
		d += time.Since(r.since)
	}
	return d
}

// pause: an application starts nested in r.
func (r *appRun) pause() {
	if r.since.IsZero() {
		return
	}
	r.ran += time.Since(r.since)
	r.since = time.Time{}
	if r.timer != nil && r.pausable {
		r.timer.Stop()
		r.timer = nil
		r.gen++
		r.left = time.Until(r.due)
		r.paused = true
	}
}

// resume: r is back on top with nothing more to run nested. It reports
// whether an expired timer ran (the leg's stack may have changed).
func (r *appRun) resume() bool {
	if !r.since.IsZero() {
		return false
	}
	r.since = time.Now()
	if r.paused {
		r.paused = false
		r.arm(max(r.left, 0), true, r.onTimer)
	}
	if r.fired {
		r.fired = false
		r.onTimer()
		return true
	}
	return false
}

// setResponse sets current_application_response.
func (l *leg) setResponse(v string) {
	l.vars.setLine(vnCurrentAppResponse.name, vnCurrentAppResponse.bit, l.s.line(vnCurrentAppResponse, v))
}

// setVar sets a channel variable, keeping the fields that mirror variables.
func (l *leg) setVar(name, value string) {
	l.vars.set(name, value)
	l.syncVar(name)
}

// syncVar refreshes the fields that mirror variables after name changed.
func (l *leg) syncVar(name string) {
	switch name {
	case "call_uuid":
		l.callUUID, _ = l.vars.get(name)
	case "presence_id":
		l.presenceID, _ = l.vars.get(name)
	}
}

// getVar is switch_channel_get_variable: the channel's variables, then a few
// caller profile fields, then the global variables.
func (l *leg) getVar(name string) (string, bool) {
	if v, ok := l.vars.get(name); ok {
		return v, true
	}
	switch name {
	case "uuid", "unique_id":
		return l.uuid, true
	case "caller_id_name":
		return l.prof.cidName, l.prof.cidName != ""
	case "caller_id_number":
		return l.prof.cidNum, l.prof.cidNum != ""
	case "destination_number":
		return l.prof.dest, l.prof.dest != ""
	case "context":
		return l.prof.context, l.prof.context != ""
	case "channel_name":
		return l.name, true
	}
	v, ok := l.s.globals[name]
	return v, ok
}

// expand substitutes ${var} (channel, then global) and $${var} (global).
func (l *leg) expand(s string) string {
	if !strings.Contains(s, "${") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		global := i > 0 && s[i-1] == '$'
		if global {
			b.WriteString(s[:i-1])
		} else {
			b.WriteString(s[:i])
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			b.WriteString(s[i:])
			return b.String()
		}
		name := s[i+2 : i+j]
		var v string
		if global {
			v = l.s.globals[name]
		} else {
			v, _ = l.getVar(name)
		}
		b.WriteString(v)
		s = s[i+j+1:]
	}
}

// appPark parks: CHANNEL_PARK, then nothing until the park ends (hangup,
// uuid_bridge, transfer), which fires CHANNEL_UNPARK.
func appPark(l *leg, r *appRun) {
	r.parses = true
	r.stop = func(r *appRun, hangup bool) { l.s.fireLeg(evChannelUnpark, siteUnpark, l) }
	l.s.fireLeg(evChannelPark, sitePark, l)
}

// appEcho echoes until hung up (switch_ivr_session_echo parses events but
// does not test CF_BREAK: uuid_break does not end it).
func appEcho(l *leg, r *appRun) {
	l.preAnswer()
	r.parses = true
}

func appHangup(l *leg, r *appRun) {
	cause := causeName(r.a.arg)
	l.hangupLocal(cause)
	r.complete()
}

func appSleep(l *leg, r *appRun) {
	ms, _ := strconv.Atoi(strings.TrimSpace(r.a.arg))
	r.parses, r.breakable = true, true
	if ms <= 0 {
		r.complete()
		return
	}
	// switch_ivr_sleep counts wall-clock time, nested applications included
	r.arm(time.Duration(ms)*time.Millisecond, false, r.complete)
}

func appSet(l *leg, r *appRun) {
	k, v, _ := strings.Cut(r.a.arg, "=")
	if k != "" {
		l.setVar(k, v)
	}
	r.complete()
}

func appUnset(l *leg, r *appRun) {
	if k := strings.TrimSpace(r.a.arg); k != "" {
		l.setVar(k, "")
	}
	r.complete()
}

func appExport(l *leg, r *appRun) {
	k, v, _ := strings.Cut(r.a.arg, "=")
	k = strings.TrimPrefix(k, "nolocal:")
	if k != "" {
		l.setVar(k, v)
		ex, _ := l.vars.get("export_vars")
		if ex != "" {
			ex += ","
		}
		l.setVar("export_vars", ex+k)
	}
	r.complete()
}

func appMultiset(l *leg, r *appRun) {
	arg := r.a.arg
	sep := " "
	if strings.HasPrefix(arg, "^^") && len(arg) > 2 {
		sep, arg = arg[2:3], arg[3:]
	}
	for _, kv := range strings.Split(arg, sep) {
		if k, v, _ := strings.Cut(kv, "="); k != "" {
			l.setVar(k, v)
		}
	}
	r.complete()
}

func appSetGlobal(l *leg, r *appRun) {
	if k, v, _ := strings.Cut(r.a.arg, "="); k != "" {
		l.s.globals[k] = v
	}
	r.complete()
}

// appRespond sends a SIP response on an inbound leg: 18x gives early media,
// 200 answers, an error response rejects the call with that status.
func appRespond(l *leg, r *appRun) {
	code, _ := strconv.Atoi(strings.Fields(r.a.arg + " 0")[0])
	switch {
	case code >= 300:
		if !l.answered {
			l.rejectCode = code
			l.hangupLocal(sipToCause(code))
		}
	case code == 200:
		l.answer()
	case code == 183:
		l.preAnswer()
	}
	r.complete()
}

func appSchedHangup(l *leg, r *appRun) {
	f := strings.Fields(r.a.arg)
	if len(f) > 0 {
		cause := "ALLOTTED_TIMEOUT"
		if len(f) > 1 {
			cause = causeName(f[1])
		}
		l.s.schedHangup(f[0], l, cause)
	}
	r.complete()
}

func appSchedAPI(l *leg, r *appRun) {
	l.s.schedAPI(r.a.arg)
	r.complete()
}

func appSendDTMF(l *leg, r *appRun) {
	l.sendDTMF(r.a.arg)
	r.complete()
}

// appTransfer: the simulator has no dialplan; a transferred leg parks.
func appTransfer(l *leg, r *appRun) {
	l.prof.transferred = time.Now().UnixMicro()
	l.ext = []appCall{{name: "park"}}
	l.pumping = true
	r.complete()
	running := append([]*appRun(nil), l.stack...)
	for i := len(running) - 1; i >= 0; i-- {
		running[i].cut(false)
	}
	l.pumping = false
	l.pump()
}

// playFile is a parsed playback argument.
type playFile struct {
	path   string
	ftype  string // Playback-File-Type (tone_stream, local_stream) or ""
	params []hdr
	dur    time.Duration // 0: until broken
}

// parsePlayFile parses "{k=v}path@@sample" and works out how long it plays:
// a tone_stream from its %(on,off,freq) segments and loops, silence_stream
// from its milliseconds (0: forever), local_stream forever, any other file
// for def.
func parsePlayFile(arg string, def time.Duration) playFile {
	var p playFile
	if strings.HasPrefix(arg, "{") {
		if j := strings.IndexByte(arg, '}'); j > 0 {
			p.params = parseVarBlock(arg[1:j])
			arg = arg[j+1:]
		}
	}
	if i := strings.Index(arg, "@@"); i >= 0 {
		arg = arg[:i]
	}
	p.path = arg
	loops := 1
	for _, h := range p.params {
		if h.name == "loops" {
			if n, err := strconv.Atoi(h.value); err == nil {
				loops = n
			}
		}
	}
	switch {
	case strings.HasPrefix(arg, "tone_stream://"):
		p.ftype = "tone_stream"
		d, l := toneDuration(arg[len("tone_stream://"):])
		if l != 1 {
			loops = l
		}
		p.dur = d
	case strings.HasPrefix(arg, "silence_stream://"):
		ms, _ := strconv.Atoi(strings.SplitN(arg[len("silence_stream://"):], ",", 2)[0])
		if ms > 0 {
			p.dur = time.Duration(ms) * time.Millisecond
		}
	case strings.HasPrefix(arg, "local_stream://"):
		p.ftype = "local_stream"
	default:
		p.dur = def
	}
	if loops < 0 || loops == 0 && p.ftype == "tone_stream" {
		p.dur = 0
	} else if loops > 1 {
		p.dur *= time.Duration(loops)
	}
	return p
}

// toneDuration sums a teletone script's %(on,off,...) segments and reads its
// loops (L=n, or ;loops=n; -1 is forever).
func toneDuration(script string) (time.Duration, int) {
	var ms int
	loops := 1
	segLoops := 1
	for _, seg := range strings.Split(script, ";") {
		seg = strings.TrimSpace(seg)
		switch {
		case strings.HasPrefix(seg, "%(") || strings.HasPrefix(seg, "%%("):
			inner := seg[strings.IndexByte(seg, '(')+1:]
			if j := strings.IndexByte(inner, ')'); j >= 0 {
				inner = inner[:j]
			}
			f := strings.Split(inner, ",")
			if len(f) >= 2 {
				on, _ := strconv.Atoi(strings.TrimSpace(f[0]))
				off, _ := strconv.Atoi(strings.TrimSpace(f[1]))
				ms += (on + off) * segLoops
			}
			segLoops = 1
		case strings.HasPrefix(seg, "L="):
			loops, _ = strconv.Atoi(seg[2:])
		case strings.HasPrefix(seg, "l="):
			segLoops, _ = strconv.Atoi(seg[2:])
		case strings.HasPrefix(seg, "loops="):
			loops, _ = strconv.Atoi(seg[6:])
		}
	}
	return time.Duration(ms) * time.Millisecond, loops
}

// appPlayback plays a file: PLAYBACK_START, PLAYBACK_STOP after the clip's
// length (or on uuid_break, "break", or hangup), FILE PLAYED. gentones
// plays its tones with switch_ivr_gentones, which fires no PLAYBACK event.
// endless_playback (mod_dptools.c) plays the file again and again, after
// its end and after a uuid_break alike: only the hangup (or leaving the
// application: uuid_park, transfer, uuid_bridge) ends it.
func appPlayback(l *leg, r *appRun) {
	s := l.s
	if !l.answered {
		l.preAnswer()
	}
	arg := r.a.arg
	tones, endless := r.a.name == "gentones", r.a.name == "endless_playback"
	if tones {
		arg = "tone_stream://" + arg
	}
	p := parsePlayFile(arg, s.cfg.FileDuration)
	r.parses, r.breakable = true, true
	var from time.Duration // r.played() when the current run of the file began
	var play func()
	// stopped ends a run of the file: PLAYBACK_STOP, then the next run
	// (endless_playback) or the end of the application.
	// (A hangup ends it through r.stop.)
	stopped := func(status string, played time.Duration) {
		if !tones {
			l.playbackStop(&p, status, played)
		}
		if endless {
			play()
			return
		}
		l.setResponse("FILE PLAYED")
		r.complete()
	}
	play = func() {
		from = r.played()
		if !tones {
			e := ev{typ: evPlaybackStart, site: sitePlayStart, leg: l}
			e.add("Playback-File-Type", p.ftype)
			e.add("Playback-File-Path", p.path)
			for _, h := range p.params {
				e.add(h.name, h.value)
			}
			s.fire(&e)
		}
		if p.dur > 0 {
			// the file's position does not move while an application runs
			// nested in the playback (switch_ivr_play_file reads no frame then)
			r.arm(p.dur, true, func() { stopped("done", p.dur) })
		}
	}
	r.onBreak = func() {
		if r.timer != nil {
			r.timer.Stop()
			r.timer = nil
		}
		r.gen++
		stopped("break", r.played()-from)
	}
	r.stop = func(r *appRun, hangup bool) {
		status := "break"
		if hangup {
			status = "done"
		}
		if !tones {
			l.playbackStop(&p, status, r.played()-from)
		}
		if hangup {
			l.setResponse("PLAYBACK ERROR")
		} else {
			l.setResponse("FILE PLAYED")
		}
	}
	play()
}

// playbackStop sets the playback_* variables and fires PLAYBACK_STOP.
func (l *leg) playbackStop(p *playFile, status string, played time.Duration) {
	ms := int(played / time.Millisecond)
	samples := ms * 8
	l.setVar("playback_last_offset_pos", strconv.Itoa(samples))
	l.setVar("playback_seconds", strconv.Itoa(ms/1000))
	l.setVar("playback_ms", strconv.Itoa(ms))
	l.setVar("playback_samples", strconv.Itoa(samples))
	e := ev{typ: evPlaybackStop, site: sitePlayStop, leg: l}
	e.add("Playback-File-Type", p.ftype)
	e.add("Playback-File-Path", p.path)
	e.add("Playback-Status", status)
	for _, h := range p.params {
		e.add(h.name, h.value)
	}
	l.s.fire(&e)
}

// recording is one record_session/uuid_record media bug.
type recording struct {
	path  string
	start time.Time
	timer *time.Timer
}

// startRecording is record_session: RECORD_START, and RECORD_STOP after
// limit seconds if given.
func (l *leg) startRecording(path string, limit int) {
	if l.records == nil {
		l.records = make(map[string]*recording)
	}
	if _, ok := l.records[path]; ok {
		return
	}
	rec := &recording{path: path, start: time.Now()}
	l.records[path] = rec
	e := ev{typ: evRecordStart, site: siteRecordStart, leg: l}
	e.add("Record-File-Path", path)
	l.s.fire(&e)
	if limit > 0 {
		rec.timer = l.s.after(time.Duration(limit)*time.Second, func() {
			if !l.down {
				l.stopRecording(path)
			}
		})
	}
}

// stopRecording stops the recording of path ("all": every one) and reports
// whether there was one.
func (l *leg) stopRecording(path string) bool {
	found := false
	for _, p := range l.recordPaths() {
		if path != "all" && p != path {
			continue
		}
		rec := l.records[p]
		delete(l.records, p)
		found = true
		if rec.timer != nil {
			rec.timer.Stop()
		}
		ms := int(time.Since(rec.start) / time.Millisecond)
		l.setVar("record_samples", strconv.Itoa(ms*8))
		l.setVar("record_seconds", strconv.Itoa(ms/1000))
		l.setVar("record_ms", strconv.Itoa(ms))
		e := ev{typ: evRecordStop, site: siteRecordStop, leg: l}
		e.add("Record-File-Path", p)
		l.s.fire(&e)
	}
	return found
}

func (l *leg) recordPaths() []string {
	out := make([]string, 0, len(l.records))
	for p := range l.records {
		out = append(out, p)
	}
	// deterministic order
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func appRecordSession(l *leg, r *appRun) {
	f := strings.Fields(r.a.arg)
	if len(f) > 0 {
		limit := 0
		if len(f) > 1 {
			limit, _ = strconv.Atoi(f[1])
		}
		l.startRecording(f[0], limit)
	}
	r.complete()
}

func appStopRecordSession(l *leg, r *appRun) {
	path := strings.TrimSpace(r.a.arg)
	if path == "" {
		path = "all"
	}
	l.stopRecording(path)
	r.complete()
}

// appRecord is the blocking record app: it records until its time limit,
// uuid_break or the hangup.
func appRecord(l *leg, r *appRun) {
	f := strings.Fields(r.a.arg)
	if len(f) == 0 {
		r.complete()
		return
	}
	path := f[0]
	limit := 0
	if len(f) > 1 {
		limit, _ = strconv.Atoi(f[1])
	}
	l.preAnswer()
	r.parses, r.breakable = true, true
	l.startRecording(path, 0)
	r.stop = func(r *appRun, hangup bool) { l.stopRecording(path) }
	if limit > 0 {
		// switch_ivr_record_file_event's limit is wall-clock time
		r.arm(time.Duration(limit)*time.Second, false, func() {
			l.stopRecording(path)
			r.complete()
		})
	}
}
