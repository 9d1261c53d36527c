package fssim

import (
	"sort"
	"strconv"
	"strings"
	"time"
)

// apiFunc runs one api command and returns its output.
type apiFunc func(s *Sim, arg string) string

var apiTable map[string]apiFunc

func init() {
	apiTable = map[string]apiFunc{
		"uuid_answer":       apiUUIDAnswer,
		"uuid_kill":         apiUUIDKill,
		"uuid_park":         apiUUIDPark,
		"uuid_break":        apiUUIDBreak,
		"uuid_broadcast":    apiUUIDBroadcast,
		"uuid_getvar":       apiUUIDGetvar,
		"uuid_setvar":       apiUUIDSetvar,
		"uuid_setvar_multi": apiUUIDSetvarMulti,
		"uuid_send_dtmf":    apiUUIDSendDTMF,
		"uuid_record":       apiUUIDRecord,
		"uuid_audio":        apiUUIDAudio,
		"uuid_media":        apiUUIDMedia,
		"uuid_bridge":       apiUUIDBridge,
		"uuid_exists":       apiUUIDExists,
		"uuid_transfer":     apiUUIDTransfer,
		"sched_hangup":      apiSchedHangup,
		"sched_api":         apiSchedAPI,
		"sched_del":         apiSchedDel,
		"hupall":            apiHupall,
		"status":            apiStatus,
		"global_getvar":     apiGlobalGetvar,
		"global_setvar":     apiGlobalSetvar,
		"fsctl":             apiFsctl,
		"show":              apiShow,
		"sofia":             apiSofia,
		"version":           apiVersion,
		"uptime":            apiUptime,
		"hostname":          func(s *Sim, arg string) string { return s.cfg.Hostname },
		"echo":              func(s *Sim, arg string) string { return arg },
		"eval":              func(s *Sim, arg string) string { return arg },
		"reloadxml":         func(s *Sim, arg string) string { return "+OK [Success]\n" },
		"module_exists":     apiModuleExists,
	}
}

// runAPI runs api command cmd with arg; done gets the output. It reports
// whether done is called later (an originate waiting for its answer).
func (s *Sim) runAPI(cmd, arg string, c *conn, done func(string)) bool {
	if cmd == "originate" {
		return s.originate(arg, done)
	}
	f := apiTable[cmd]
	if f == nil {
		done("-ERR " + cmd + " Command not found!\n")
		return false
	}
	done(f(s, arg))
	return false
}

// fireBackgroundJob fires the BACKGROUND_JOB of a bgapi job.
func (s *Sim) fireBackgroundJob(job, cmd, arg, reply string) {
	e := ev{typ: evBackgroundJob, site: siteBgJob}
	e.add("Job-UUID", job)
	e.add("Job-Command", cmd)
	e.add("Job-Command-Arg", arg)
	e.body, e.hasBody = reply, true
	s.fire(&e)
}

func (s *Sim) fireHeartbeat() {
	up := time.Since(s.start)
	e := ev{typ: evHeartbeat, site: siteHeartbeat}
	e.add("Event-Info", "System Ready")
	e.add("Up-Time", uptimeText(up))
	e.add("FreeSWITCH-Version", fsVersion)
	e.add("Uptime-msec", strconv.FormatInt(up.Milliseconds(), 10))
	e.add("Session-Count", strconv.Itoa(len(s.legs)))
	e.add("Max-Sessions", strconv.Itoa(s.maxSessions))
	e.add("Session-Per-Sec", strconv.Itoa(max(s.sps, 0)))
	e.add("Session-Per-Sec-Last", strconv.Itoa(s.spsLast))
	e.add("Session-Per-Sec-Max", strconv.Itoa(s.spsPeak))
	e.add("Session-Per-Sec-FiveMin", strconv.Itoa(s.spsPeak5))
	e.add("Session-Since-Startup", strconv.FormatUint(s.sessionsSince, 10))
	e.add("Session-Peak-Max", strconv.Itoa(s.sessPeak))
	e.add("Session-Peak-FiveMin", strconv.Itoa(s.sessPeak5))
	e.add("Idle-CPU", "100.000000")
	s.fire(&e)
}

func plural(n int64, unit string) string {
	s := strconv.FormatInt(n, 10) + " " + unit
	if n != 1 {
		s += "s"
	}
	return s
}

// uptimeText is switch_core_measure_time as status and HEARTBEAT print it.
func uptimeText(d time.Duration) string {
	us := d.Microseconds()
	mms := us % 1000
	ms := us / 1000 % 1000
	sec := us / 1e6 % 60
	min := us / 60e6 % 60
	hr := us / 3600e6 % 24
	day := us / 86400e6 % 365
	yr := us / (86400e6 * 365)
	return plural(yr, "year") + ", " + plural(day, "day") + ", " + plural(hr, "hour") + ", " +
		plural(min, "minute") + ", " + plural(sec, "second") + ", " + plural(ms, "millisecond") + ", " +
		plural(mms, "microsecond")
}

func apiStatus(s *Sim, arg string) string {
	var b strings.Builder
	b.WriteString("UP " + uptimeText(time.Since(s.start)) + "\n")
	b.WriteString("FreeSWITCH (Version " + fsVersionHR + ") is ready\n")
	b.WriteString(strconv.FormatUint(s.sessionsSince, 10) + " session(s) since startup\n")
	b.WriteString(strconv.Itoa(len(s.legs)) + " session(s) - peak " + strconv.Itoa(s.sessPeak) +
		", last 5min " + strconv.Itoa(s.sessPeak5) + " \n")
	b.WriteString(strconv.Itoa(s.spsLast) + " session(s) per Sec out of max " + strconv.Itoa(s.spsTotal) +
		", peak " + strconv.Itoa(s.spsPeak) + ", last 5min " + strconv.Itoa(s.spsPeak5) + " \n")
	b.WriteString(strconv.Itoa(s.maxSessions) + " session(s) max\n")
	b.WriteString("min idle cpu 0.00/100.00\n")
	b.WriteString("Current Stack Size/Max 240K/8192K\n")
	return b.String()
}

func apiVersion(s *Sim, arg string) string {
	if strings.Contains(strings.ToLower(arg), "short") {
		return "1.11.3\n"
	}
	return "FreeSWITCH Version " + fsVersion + " (" + fsRevisionHR + ")\n"
}

func apiUptime(s *Sim, arg string) string {
	scale := map[string]int64{"": 1e6, "us": 1, "microseconds": 1, "ms": 1e3, "milliseconds": 1e3,
		"s": 1e6, "seconds": 1e6, "m": 60e6, "minutes": 60e6, "h": 3600e6, "hours": 3600e6,
		"d": 86400e6, "days": 86400e6}[strings.ToLower(strings.TrimSpace(arg))]
	if scale == 0 {
		return "-USAGE: [us|ms|s|m|h|d|microseconds|milliseconds|seconds|minutes|hours|days]\n"
	}
	return strconv.FormatInt(time.Since(s.start).Microseconds()/scale, 10) + "\n"
}

func apiModuleExists(s *Sim, arg string) string {
	switch strings.TrimSpace(arg) {
	case "mod_sofia", "mod_event_socket", "mod_commands", "mod_dptools", "mod_loopback", "mod_tone_stream":
		return "true"
	}
	return "false"
}

// leg returns the live leg uuid, if any.
func (s *Sim) leg(uuid string) *leg {
	l := s.legs[strings.TrimSpace(uuid)]
	if l == nil || l.down {
		return nil
	}
	return l
}

func apiUUIDAnswer(s *Sim, arg string) string {
	l := s.leg(arg)
	if l == nil || !l.answer() {
		return "-ERROR\n"
	}
	return "+OK\n"
}

func apiUUIDKill(s *Sim, arg string) string {
	if strings.TrimSpace(arg) == "" {
		return "-USAGE: <uuid> [cause]\n"
	}
	uuid, cause, _ := strings.Cut(arg, " ")
	l := s.leg(uuid)
	if l == nil {
		return "-ERR No such channel!\n"
	}
	l.hangupLocal(causeName(cause))
	return "+OK\n"
}

func apiUUIDPark(s *Sim, arg string) string {
	l := s.leg(arg)
	if l == nil {
		return "-ERR No such channel!\n"
	}
	l.park()
	return "+OK\n"
}

// park is switch_ivr_park_session: the leg stops what it runs and parks
// (nothing happens to a leg that is parked and idle).
func (l *leg) park() {
	if top := l.top(); top != nil && top.a.name == "park" {
		return
	}
	l.pumping = true
	running := append([]*appRun(nil), l.stack...)
	for i := len(running) - 1; i >= 0; i-- {
		running[i].cut(false)
	}
	l.pumping = false
	l.ext = append([]appCall{{name: "park"}}, l.ext...)
	if l.runState == csExecute {
		l.pump()
	}
}

func apiUUIDBreak(s *Sim, arg string) string {
	if strings.TrimSpace(arg) == "" {
		return "-USAGE: <uuid> [all]\n"
	}
	uuid, flag, _ := strings.Cut(arg, " ")
	l := s.leg(uuid)
	if l == nil {
		return "-ERR No such channel!\n"
	}
	legs := []*leg{l}
	if strings.Contains(flag, "both") && l.bridged != nil {
		legs = append(legs, l.bridged)
	}
	for _, x := range legs {
		if strings.Contains(flag, "all") {
			x.flushMessages()
		}
		x.breakApps()
	}
	return "+OK\n"
}

// flushMessages drops the queued messages (switch_core_session_flush_private_events).
func (l *leg) flushMessages() {
	out := l.queue[:0]
	for _, m := range l.queue {
		if !m.msg && !m.hangupMsg {
			out = append(out, m)
		}
	}
	clear(l.queue[len(out):])
	l.queue = out
}

// breakApps is uuid_break (mod_commands.c break_function): with a message
// running (CF_BROADCAST) it stops the broadcast, so the message's loops end
// and, once its application has stopped, the application it ran in sees
// CF_BREAK too; otherwise it sets CF_BREAK. The running application stops if
// it tests CF_BREAK (playback, sleep, record); park, echo and bridge do not.
func (l *leg) breakApps() {
	if l.broadcast {
		l.stopBroadcast = true
	}
	l.cfBreak = true
	if r := l.top(); r != nil && r.breakable {
		l.cfBreak = false
		r.brk()
	}
}

// apiUUIDBroadcast is uuid_broadcast (mod_commands.c, switch_ivr_broadcast
// in switch_ivr_async.c): "[app[!cause]::]path" is queued as a message with
// event-lock to the leg (aleg, the default), to its bridge partner (bleg,
// both), then a hangup message if a cause was given.
func apiUUIDBroadcast(s *Sim, arg string) string {
	f := strings.Fields(arg)
	if len(f) < 2 {
		return "-USAGE: <uuid> <path> [aleg|bleg|holdb|both]\n"
	}
	l := s.leg(f[0])
	if l == nil {
		return "-ERR invalid uuid\n"
	}
	var aleg, bleg, holdb bool
	if len(f) > 2 {
		fl := strings.ToLower(f[2])
		if strings.Contains(fl, "both") {
			aleg, bleg = true, true
		}
		if strings.Contains(fl, "aleg") {
			aleg = true
		}
		if strings.Contains(fl, "bleg") {
			holdb, bleg = false, true
		}
		if strings.Contains(fl, "holdb") {
			bleg, holdb = false, true
		}
	} else {
		aleg, holdb = true, true
	}
	app, path := "playback", f[1]
	if i := strings.IndexByte(path, ':'); i >= 0 && i+1 < len(path) && path[i+1] == ':' {
		app, path = path[:i], path[i+2:]
	}
	cause := ""
	if i := strings.IndexByte(app, '!'); i >= 0 {
		app, cause = app[:i], app[i+1:]
		if cause == "" {
			cause = "normal_clearing"
		}
	}
	if b := l.bridged; bleg && b != nil {
		b.queue = append(b.queue, broadcastMsg(siteBroadcastB, app, path, true, holdb))
		b.pump()
	}
	if aleg {
		l.queue = append(l.queue, broadcastMsg(siteBroadcastA, app, path, true, holdb))
	}
	if cause != "" {
		l.queue = append(l.queue, broadcastMsg(siteBroadcastHangup, "hangup", cause, false, false))
	}
	l.pump()
	return "+OK Message sent\n"
}

func apiUUIDGetvar(s *Sim, arg string) string {
	f := strings.Fields(arg)
	if len(f) < 2 {
		return "-USAGE: <uuid> <var>\n"
	}
	l := s.leg(f[0])
	if l == nil {
		return "-ERR No such channel!\n"
	}
	if v, ok := l.getVar(f[1]); ok {
		return v
	}
	return "_undef_"
}

func apiUUIDSetvar(s *Sim, arg string) string {
	f := strings.SplitN(strings.TrimSpace(arg), " ", 3)
	if len(f) < 2 || f[0] == "" {
		return "-USAGE: <uuid> <var> [value]\n"
	}
	l := s.leg(f[0])
	if l == nil {
		return "-ERR No such channel!\n"
	}
	if f[1] == "" {
		return "-ERR No variable specified\n"
	}
	v := ""
	if len(f) == 3 {
		v = f[2]
	}
	l.setVar(f[1], v)
	return "+OK\n"
}

func apiUUIDSetvarMulti(s *Sim, arg string) string {
	const usage = "-USAGE: <uuid> <var>=<value>;<var>=<value>...\n"
	uuid, vars, ok := strings.Cut(arg, " ")
	if !ok {
		return usage
	}
	l := s.leg(uuid)
	if l == nil {
		return "-ERR No such channel!\n" + usage
	}
	var out strings.Builder
	n := 0
	for _, kv := range strings.Split(vars, ";") {
		k, v, _ := strings.Cut(kv, "=")
		if k == "" {
			out.WriteString("-ERR No variable specified\n")
			continue
		}
		l.setVar(k, v)
		n++
	}
	if n > 0 {
		return out.String() + "+OK\n"
	}
	return out.String() + usage
}

// apiUUIDSendDTMF is uuid_send_dtmf <uuid> <dtmf_data> (mod_commands.c):
// dtmf_data is the rest of the line (see dtmfPlan).
func apiUUIDSendDTMF(s *Sim, arg string) string {
	uuid, data, _ := strings.Cut(strings.TrimLeft(arg, " "), " ")
	data = strings.TrimLeft(data, " ")
	if uuid == "" || data == "" {
		return "-USAGE: <uuid> <dtmf_data>\n"
	}
	l := s.leg(uuid)
	if l == nil {
		return "-ERR Cannot locate session!\n"
	}
	if !l.sendDTMF(data) {
		return "-ERR Operation failed\n"
	}
	return "+OK " + uuid + " sent DTMF " + data + ".\n"
}

func apiUUIDRecord(s *Sim, arg string) string {
	const usage = "-USAGE: <uuid> [start|stop|mask|unmask] <path> [<limit>] [<recording_vars>]\n"
	f := strings.Fields(arg)
	if len(f) < 3 {
		return usage
	}
	l := s.leg(f[0])
	if l == nil {
		return "-ERR Cannot locate session!\n"
	}
	switch strings.ToLower(f[1]) {
	case "start":
		limit := 0
		if len(f) > 3 {
			limit, _ = strconv.Atoi(f[3])
		}
		l.startRecording(f[2], limit)
		return "+OK Success\n"
	case "stop":
		if !l.stopRecording(f[2]) {
			return "-ERR Cannot stop record session!\n"
		}
		return "+OK Success\n"
	case "mask", "unmask", "pause", "resume":
		if _, ok := l.records[f[2]]; !ok {
			return "-ERR Cannot " + strings.ToLower(f[1]) + " recording session!\n"
		}
		return "+OK Success\n"
	}
	return usage
}

func apiUUIDAudio(s *Sim, arg string) string {
	const usage = "-USAGE: <uuid> [start [read|write] [mute|level <level>]|stop]\n"
	f := strings.Fields(arg)
	if len(f) < 2 {
		return usage
	}
	l := s.leg(f[0])
	if l == nil {
		return "-ERR No such channel!\n"
	}
	if strings.EqualFold(f[1], "stop") {
		return "+OK\n"
	}
	if !strings.EqualFold(f[1], "start") || len(f) < 5 || !strings.EqualFold(f[2], "read") && !strings.EqualFold(f[2], "write") {
		return usage
	}
	if !strings.EqualFold(f[3], "mute") && !strings.EqualFold(f[3], "level") {
		return usage
	}
	return "+OK\n"
}

func apiUUIDMedia(s *Sim, arg string) string {
	f := strings.Fields(arg)
	if len(f) < 1 {
		return "-USAGE: [off] <uuid>\n"
	}
	uuid := f[0]
	if strings.EqualFold(f[0], "off") {
		if len(f) < 2 {
			return "-ERR Operation failed\n"
		}
		uuid = f[1]
	}
	if s.leg(uuid) == nil {
		return "-ERR Operation failed\n"
	}
	return "+OK Success\n"
}

func apiUUIDBridge(s *Sim, arg string) string {
	f := strings.Fields(arg)
	if len(f) < 2 {
		return "-USAGE: <uuid> <other_uuid>\n"
	}
	a := s.leg(f[0])
	for _, other := range f[1:] {
		if b := s.leg(other); a != nil && b != nil && a != b && a.bridged == nil && b.bridged == nil {
			s.uuidBridge(a, b)
			return "+OK " + other + "\n"
		}
	}
	return "-ERR Invalid uuid\n"
}

func apiUUIDExists(s *Sim, arg string) string {
	if s.leg(arg) != nil {
		return "true"
	}
	return "false"
}

func apiUUIDTransfer(s *Sim, arg string) string {
	f := strings.Fields(arg)
	if len(f) < 2 {
		return "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n"
	}
	l := s.leg(f[0])
	if l == nil {
		return "-ERR No such channel!\n"
	}
	l.queue = append(l.queue, &appCall{name: "transfer", arg: strings.Join(f[1:], " ")})
	l.pump()
	return "+OK\n"
}

func apiHupall(s *Sim, arg string) string {
	f := strings.Fields(arg)
	cause := "MANAGER_REQUEST"
	if len(f) > 0 {
		if c := causeName(f[0]); c != "NONE" {
			cause = c
		}
	}
	var match []hdr
	for i := 1; i+1 < len(f); i += 2 {
		match = append(match, hdr{f[i], f[i+1]})
	}
	legs := s.sortedLegs()
	for _, l := range legs {
		ok := true
		for _, m := range match {
			if v, _ := l.vars.get(m.name); v != m.value {
				ok = false
				break
			}
		}
		if ok && !l.down {
			l.hangupLocal(cause)
		}
	}
	switch len(match) {
	case 0:
		return "+OK hangup all channels with cause " + cause + "\n"
	case 1:
		return "+OK hangup all channels matching [" + f[1] + "]=[" + f[2] + "] with cause: " + cause + "\n"
	}
	return "+OK hangup all channels matching [" + f[1] + "]=[" + f[2] + "]... with cause: " + cause + "\n"
}

// sortedLegs returns the live legs in creation order.
func (s *Sim) sortedLegs() []*leg {
	out := make([]*leg, 0, len(s.legs))
	for _, l := range s.legs {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].sid < out[j].sid })
	return out
}

func (s *Sim) initGlobals() {
	g := s.globals
	g["hostname"] = s.cfg.Hostname
	g["local_ip_v4"] = s.cfg.IPv4
	g["local_ip_v6"] = s.cfg.IPv6
	g["domain"] = s.cfg.IPv4
	g["domain_name"] = s.cfg.IPv4
	g["core_uuid"] = s.cfg.CoreUUID
	g["switch_serial"] = s.cfg.CoreUUID
	g["base_dir"] = "/usr/local/freeswitch"
	g["sound_prefix"] = "/usr/local/freeswitch/sounds/en/us/callie"
	g["hold_music"] = "local_stream://moh"
	g["default_password"] = "1234"
	g["internal_sip_port"] = strconv.Itoa(s.cfg.InternalPort)
	g["external_sip_port"] = strconv.Itoa(s.cfg.ExternalPort)
	g["internal_sip_ip"] = s.cfg.SIPIP
	g["external_sip_ip"] = s.cfg.SIPIP
	g["external_rtp_ip"] = s.cfg.SIPIP
	g["outbound_caller_name"] = "FreeSWITCH"
	g["outbound_caller_id"] = "0000000000"
	g["global_codec_prefs"] = "PCMU,PCMA"
	g["outbound_codec_prefs"] = "PCMU,PCMA"
}

func apiGlobalGetvar(s *Sim, arg string) string {
	arg = strings.TrimSpace(arg)
	if arg == "" {
		keys := make([]string, 0, len(s.globals))
		for k := range s.globals {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			b.WriteString(k + "=" + s.globals[k] + "\n")
		}
		return b.String()
	}
	return s.globals[arg]
}

func apiGlobalSetvar(s *Sim, arg string) string {
	k, v, ok := strings.Cut(strings.TrimSpace(arg), "=")
	if !ok || k == "" {
		return "-USAGE: <var>=<value> [=<value2>]\n"
	}
	s.globals[k] = v
	return "+OK\n"
}

const ctlSyntax = "[api_expansion [on|off]|recover|send_sighup|hupall|pause [inbound|outbound]|resume [inbound|outbound]|shutdown [cancel|elegant|asap|now|restart]|uuid_version [4|7]|sps|sps_peak_reset|sync_clock|sync_clock_when_idle|reclaim_mem|max_sessions|min_dtmf_duration [num]|max_dtmf_duration [num]|default_dtmf_duration [num]|min_idle_cpu|loglevel [level]|debug_level [level]|mdns_resolve [enable|disable]]"

func apiFsctl(s *Sim, arg string) string {
	f := strings.Fields(arg)
	if len(f) == 0 {
		return "-USAGE: " + ctlSyntax + "\n"
	}
	num := func() int {
		if len(f) > 1 {
			n, _ := strconv.Atoi(f[1])
			return n
		}
		return 0
	}
	switch strings.ToLower(f[0]) {
	case "sps":
		if n := num(); n > 0 {
			s.spsTotal = n
		}
		return "+OK sessions per second: " + strconv.Itoa(s.spsTotal) + "\n"
	case "max_sessions":
		if n := num(); n > 0 {
			s.maxSessions = n
		}
		return "+OK max sessions: " + strconv.Itoa(s.maxSessions) + "\n"
	case "last_sps":
		return "+OK last sessions per second: " + strconv.Itoa(s.spsLast) + "\n"
	case "sps_peak_reset":
		s.spsPeak = 0
		return "+OK max sessions per second counter reset\n"
	case "verbose_events":
		if len(f) > 1 {
			s.verbose = isTrue(f[1])
		}
		if s.verbose {
			return "+OK verbose_events is on \n"
		}
		return "+OK verbose_events is off \n"
	case "loglevel":
		if len(f) > 1 {
			n, ok := parseLogLevel(f[1])
			if !ok {
				return "-ERR syntax error, log level not set!\n"
			}
			s.logLevel = n
		}
		return "+OK log level: " + logLevels[s.logLevel] + " [" + strconv.Itoa(s.logLevel) + "]\n"
	case "debug_level":
		return "+OK DEBUG level: " + strconv.Itoa(num()) + "\n"
	case "hupall":
		for _, l := range s.sortedLegs() {
			l.hangupLocal("MANAGER_REQUEST")
		}
		return "+OK\n"
	case "min_dtmf_duration", "max_dtmf_duration", "default_dtmf_duration":
		name := strings.ToLower(f[0])
		v := s.setDTMFDuration(name, num())
		return "+OK " + strings.ReplaceAll(name, "_", " ") + ": " + strconv.Itoa(v) + "\n"
	case "recover":
		return "+OK 0 session(s) recovered in total\n"
	case "sync_clock":
		return "+OK clock synchronized\n"
	case "sync_clock_when_idle":
		return "+OK clock will synchronize when there are no more calls\n"
	case "uuid_version":
		return "+OK set uuid version: " + strconv.Itoa(num()) + "\n"
	case "pause", "resume", "send_sighup", "reclaim_mem", "flush_db_handles", "calibrate_clock",
		"save_history", "shutdown":
		return "+OK\n"
	case "api_expansion":
		return "+OK api_expansion is on \n"
	case "ready_check":
		return "true"
	case "pause_check", "shutdown_check":
		return "false"
	case "min_idle_cpu":
		return "+OK min idle cpu: DISABLED\n"
	}
	return "-ERR Invalid command\nUSAGE: fsctl " + ctlSyntax + "\n"
}

var showChannelColumns = "uuid,direction,created,created_epoch,name,state,cid_name,cid_num,ip_addr,dest,application,application_data,dialplan,context,read_codec,read_rate,read_bit_rate,write_codec,write_rate,write_bit_rate,secure,hostname,presence_id,presence_data,accountcode,callstate,callee_name,callee_num,callee_direction,call_uuid,sent_callee_name,sent_callee_num,initial_cid_name,initial_cid_num,initial_ip_addr,initial_dest,initial_dialplan,initial_context"

func apiShow(s *Sim, arg string) string {
	f := strings.Fields(arg)
	if len(f) == 0 {
		return "-USAGE: codec|endpoint|application|api|dialplan|file|timer|calls [count]|channels [count|like <match string>]|calls|detailed_calls|bridged_calls|detailed_bridged_calls|aliases|complete|chat|management|modules|nat_map|say|interfaces|interface_types|tasks|limits|status\n"
	}
	switch strings.ToLower(f[0]) {
	case "channels", "calls", "detailed_calls", "bridged_calls", "detailed_bridged_calls":
		legs := s.sortedLegs()
		if len(f) > 1 && strings.EqualFold(f[1], "count") {
			return "\n" + strconv.Itoa(len(legs)) + " total.\n"
		}
		like := ""
		if len(f) > 2 && strings.EqualFold(f[1], "like") {
			like = f[2]
		}
		var b strings.Builder
		n := 0
		for _, l := range legs {
			row := l.showRow(s)
			if like != "" && !strings.Contains(row, like) {
				continue
			}
			if n == 0 {
				b.WriteString(showChannelColumns + "\n")
			}
			b.WriteString(row + "\n")
			n++
		}
		b.WriteString("\n" + strconv.Itoa(n) + " total.\n")
		return b.String()
	case "status":
		return apiStatus(s, "")
	}
	return "\n0 total.\n"
}

// showRow is one `show channels` row, as FreeSWITCH's channels table has it.
func (l *leg) showRow(s *Sim) string {
	p := &l.prof
	created := time.UnixMicro(p.created)
	app, appData := "", ""
	for _, r := range l.stack {
		app, appData = r.a.name, r.a.arg
	}
	dir, ip, initIP := "inbound", p.networkAddr, p.networkAddr
	calleeDir, callUUID := "", ""
	if l.out {
		dir, ip, initIP = "outbound", "", ""
		calleeDir, callUUID = "RECV", l.uuid
	}
	codec := ",,,,,"
	switch {
	case l.media && l.codec != "":
		codec = "L16,8000,128000,L16,8000,128000"
	case l.media:
		codec = "PCMU,8000,64000,PCMU,8000,64000"
	}
	cols := []string{l.uuid, dir, created.Format("2006-01-02 15:04:05"), strconv.FormatInt(created.Unix(), 10),
		l.name, stateNames[l.runState], p.cidName, p.cidNum, ip, p.dest, app, appData, p.dialplan, p.context,
		codec, "", s.cfg.Hostname, l.presenceID, "", "", callStateNames[l.callState], p.calleeName,
		p.calleeNum, calleeDir, callUUID, "", "", p.origCidName, p.origNum, initIP, p.dest, p.dialplan,
		p.context}
	return strings.Join(cols, ",")
}

func apiSofia(s *Sim, arg string) string {
	f := strings.Fields(arg)
	const line = "================================================================================================="
	if len(f) == 0 || !strings.EqualFold(f[0], "status") {
		return "-ERR Usage: sofia status|xmlstatus|profile|gateway|loglevel|tracelevel|help\n"
	}
	if len(f) == 1 {
		var b strings.Builder
		b.WriteString(pad("Name", 25) + "\t" + "   Type" + "\t  " + pad("Data", 40) + "\t" + "State\n")
		b.WriteString(line + "\n")
		ps := s.profiles()
		for i := len(ps) - 1; i >= 0; i-- {
			p := ps[i]
			b.WriteString(pad(p.name, 25) + "\tprofile\t  " + pad(p.url(), 40) + "\tRUNNING (0)\n")
		}
		b.WriteString(line + "\n")
		b.WriteString("2 profiles 0 aliases\n")
		return b.String()
	}
	if !strings.EqualFold(f[1], "profile") {
		if strings.EqualFold(f[1], "gateway") {
			return "Invalid Gateway!\n"
		}
		return "Invalid Syntax!\n"
	}
	if len(f) < 3 {
		return "Invalid Profile!\n"
	}
	p := s.profileByName(f[2])
	if p == nil {
		return "Invalid Profile!\n"
	}
	calls := 0
	for _, l := range s.legs {
		if l.call != nil && !l.call.loopback && (l.out && l.call.oprof.name == p.name || !l.out && l.call.iprof.name == p.name) {
			calls++
		}
	}
	rows := [][2]string{
		{"Name", p.name}, {"Domain Name", "N/A"}, {"Auto-NAT", "false"}, {"DBName", "sofia_reg_" + p.name},
		{"Pres Hosts", s.cfg.IPv4 + "," + s.cfg.IPv4}, {"Dialplan", "XML"}, {"Context", p.context},
		{"Challenge Realm", "auto_to"}, {"RTP-IP", p.ip}, {"SIP-IP", p.ip}, {"URL", p.url()},
		{"BIND-URL", p.url() + ";transport=udp,tcp"}, {"HOLD-MUSIC", "local_stream://moh"},
		{"OUTBOUND-PROXY", "N/A"}, {"CODECS IN", "PCMU,PCMA"}, {"CODECS OUT", "PCMU,PCMA"},
		{"TEL-EVENT", "101"}, {"DTMF-MODE", "rfc2833"}, {"CNG", "13"}, {"SESSION-TO", "0"},
		{"MAX-DIALOG", "0"}, {"MAX-RECV-RPS", "1000"}, {"NOMEDIA", "false"}, {"LATE-NEG", "true"},
		{"PROXY-MEDIA", "false"}, {"AGGRESSIVENAT", "false"}, {"CALLS-IN", strconv.Itoa(calls)},
		{"FAILED-CALLS-IN", "0"}, {"CALLS-OUT", "0"}, {"FAILED-CALLS-OUT", "0"}, {"REGISTRATIONS", "0"},
	}
	var b strings.Builder
	b.WriteString(line + "\n")
	for _, r := range rows {
		b.WriteString(pad(r[0], 17) + "\t" + r[1] + "\n")
	}
	b.WriteString(line + "\n")
	return b.String()
}

// pad pads s with spaces to width (right-aligned if width > 0 as printf's %25s).
func pad(s string, width int) string {
	if width == 17 {
		for len(s) < width {
			s += " "
		}
		return s
	}
	for len(s) < width {
		s = " " + s
	}
	return s
}
