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
	msg       bool // from sendmsg: keeps current_loop/total_loops
	hangupMsg bool // a queued sendmsg call-command: hangup
}

// appRun is a running application on a leg's stack.
type appRun struct {
	l     *leg
	a     appCall
	uuid  string
	start time.Time
	next  func()
	done  bool
	// interruptible apps (park, echo, sleep, record, bridge) let queued
	// sendmsg executes run nested inside them, as FreeSWITCH's parse_all_events.
	interruptible bool
	// breakable apps end on uuid_break (CF_BREAK)
	breakable bool
	broken    bool
	timer     *time.Timer
	// stop, if set, is called before EXECUTE_COMPLETE when the app is cut
	// short: by uuid_break (hangup false) or by the hangup (true).
	stop func(r *appRun, hangup bool)
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

// pump runs what the leg has to run: queued sendmsg executes (when nothing
// or an interruptible app runs), then the extension's next application; an
// exhausted extension hangs the leg up, as FreeSWITCH does.
func (l *leg) pump() {
	if l.pumping {
		return
	}
	l.pumping = true
	defer func() { l.pumping = false }()
	for !l.down && l.runState == csExecute {
		top := l.top()
		if top != nil && !top.interruptible {
			return
		}
		if len(l.queue) > 0 {
			m := l.queue[0]
			l.queue[0] = nil
			l.queue = l.queue[1:]
			if m.hangupMsg {
				l.hangupLocal(m.arg)
				return
			}
			l.runMsg(m, 0)
			continue
		}
		if top != nil {
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

// runMsg runs loop x of a sendmsg execute (switch_ivr_parse_event): loops
// repeat while each run lasted at least half a second.
func (l *leg) runMsg(m *appCall, x int) {
	loops := m.loops
	if loops == 0 {
		loops = 1
	}
	l.vars.setLine(vnCurrentLoop.name, vnCurrentLoop.bit, l.s.line(vnCurrentLoop, strconv.Itoa(x+1)))
	l.vars.setLine(vnTotalLoops.name, vnTotalLoops.bit, l.s.line(vnTotalLoops, strconv.Itoa(loops)))
	start := time.Now()
	l.exec(*m, func() {
		if !l.down && !l.lastBroken && (loops < 0 || x+1 < loops) && time.Since(start) >= 500*time.Millisecond {
			l.runMsg(m, x+1)
			return
		}
		l.vars.setLine(vnCurrentLoop.name, vnCurrentLoop.bit, "")
		l.vars.setLine(vnTotalLoops.name, vnTotalLoops.bit, "")
		l.pump()
	})
}

// exec is switch_core_session_exec: the current_application variables,
// CHANNEL_EXECUTE, the application, and CHANNEL_EXECUTE_COMPLETE when it
// completes (then next runs).
func (l *leg) exec(a appCall, next func()) {
	s := l.s
	impl := appTable[a.name]
	if impl == nil {
		s.log.Debug("fssim: invalid application", "app", a.name, "uuid", l.uuid)
		l.hangupLocal("DESTINATION_OUT_OF_ORDER")
		next()
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
	r := &appRun{l: l, a: a, uuid: uuid, start: time.Now(), next: next}
	l.lastBroken = false
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
	l.lastBroken = r.broken
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
	if !hangup {
		r.broken = true
	}
	if r.stop != nil {
		r.stop(r, hangup)
	}
	r.complete()
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
	r.interruptible = true
	r.stop = func(r *appRun, hangup bool) { l.s.fireLeg(evChannelUnpark, siteUnpark, l) }
	l.s.fireLeg(evChannelPark, sitePark, l)
}

func appEcho(l *leg, r *appRun) {
	l.preAnswer()
	r.interruptible = true
}

func appHangup(l *leg, r *appRun) {
	cause := causeName(r.a.arg)
	l.hangupLocal(cause)
	r.complete()
}

func appSleep(l *leg, r *appRun) {
	ms, _ := strconv.Atoi(strings.TrimSpace(r.a.arg))
	r.interruptible, r.breakable = true, true
	if ms <= 0 {
		r.complete()
		return
	}
	r.timer = l.s.after(time.Duration(ms)*time.Millisecond, r.complete)
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
// length (or on uuid_break, "break", or hangup), FILE PLAYED.
func appPlayback(l *leg, r *appRun) {
	s := l.s
	if !l.answered {
		l.preAnswer()
	}
	arg := r.a.arg
	if r.a.name == "gentones" {
		arg = "tone_stream://" + arg
	}
	p := parsePlayFile(arg, s.cfg.FileDuration)
	if r.a.name == "endless_playback" {
		p.dur = 0
	}
	e := ev{typ: evPlaybackStart, site: sitePlayStart, leg: l}
	e.add("Playback-File-Type", p.ftype)
	e.add("Playback-File-Path", p.path)
	for _, h := range p.params {
		e.add(h.name, h.value)
	}
	s.fire(&e)
	r.breakable = true
	r.stop = func(r *appRun, hangup bool) {
		status := "break"
		if hangup {
			status = "done"
		}
		l.playbackStop(&p, status, time.Since(r.start))
		if hangup {
			l.setResponse("PLAYBACK ERROR")
		} else {
			l.setResponse("FILE PLAYED")
		}
	}
	if p.dur > 0 {
		r.timer = s.after(p.dur, func() {
			if r.done {
				return
			}
			l.playbackStop(&p, "done", p.dur)
			l.setResponse("FILE PLAYED")
			r.complete()
		})
	}
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

// sendDTMF sends digits out of l: its peer receives one DTMF event per
// digit, the first after one digit's length and then every two (as the
// capture shows with the default 2000-sample digits). "w"/"W" pause 0.5/1 s;
// "@ms" sets the digit length.
func (l *leg) sendDTMF(spec string) {
	s := l.s
	digits, durStr, _ := strings.Cut(strings.TrimSpace(spec), "@")
	d := s.cfg.DTMFDuration
	samples := 2080
	if n, err := strconv.Atoi(durStr); err == nil && n > 0 {
		d = time.Duration(n) * time.Millisecond
		samples = n * 8
	}
	l.setVar("last_dtmf_duration", "1500")
	to := l.peer
	at := d
	for i := 0; i < len(digits); i++ {
		ch := digits[i]
		switch {
		case ch == 'w':
			at += 500 * time.Millisecond
			continue
		case ch == 'W':
			at += time.Second
			continue
		case !isDTMF(ch):
			continue
		}
		if to != nil {
			digit := string(ch)
			target := to
			s.after(at, func() { target.receiveDTMF(digit, samples) })
		}
		at += 2 * d
	}
}

func isDTMF(c byte) bool {
	return c >= '0' && c <= '9' || c == '*' || c == '#' || c >= 'A' && c <= 'D' || c >= 'a' && c <= 'd'
}

// receiveDTMF fires DTMF on l.
func (l *leg) receiveDTMF(digit string, samples int) {
	if l.down {
		return
	}
	l.dtmfLog = append(l.dtmfLog, digit[0])
	e := ev{typ: evDTMF, site: siteDTMF, leg: l}
	e.add("DTMF-Digit", strings.ToUpper(digit))
	e.add("DTMF-Duration", strconv.Itoa(samples))
	e.add("DTMF-Source", "RTP")
	l.s.fire(&e)
	// a bridged leg passes the digit on to its partner's far end
	if b := l.bridged; b != nil && b.peer != nil && !b.peer.down {
		b.peer.receiveDTMF(digit, samples)
	}
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
	r.interruptible, r.breakable = true, true
	l.startRecording(path, 0)
	r.stop = func(r *appRun, hangup bool) { l.stopRecording(path) }
	if limit > 0 {
		r.timer = l.s.after(time.Duration(limit)*time.Second, func() {
			if !r.done {
				l.stopRecording(path)
				r.complete()
			}
		})
	}
}
