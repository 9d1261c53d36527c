package fssim

import (
	"strconv"
	"strings"
	"time"
)

// FreeSWITCH's DTMF durations in samples at 8 kHz (switch_types.h
// SWITCH_DEFAULT/MIN/MAX_DTMF_DURATION), changed with fsctl
// default_dtmf_duration, min_dtmf_duration and max_dtmf_duration.
const (
	dtmfDefault = 2000
	dtmfMin     = 400
	dtmfMax     = 192000
	// dtmfPacket is the samples of one RFC 2833 packet (20 ms ptime)
	dtmfPacket = 160
	// dtmfWireDefault is how long a default digit is on the wire: the
	// 2080-sample DTMF-Duration and 260 ms of the capture.
	dtmfWireDefault = (dtmfDefault + dtmfPacket - 1) / dtmfPacket * dtmfPacket
)

// dtmfDigit is one digit (or a w/W pause) of a DTMF string, planned.
type dtmfDigit struct {
	digit   byte
	samples int           // DTMF-Duration the peer reports (0 for a pause)
	at      time.Duration // when the peer gets it (unscaled: real FreeSWITCH time)
}

// dtmfPlan parses a DTMF string as switch_core_session_send_dtmf_string
// (switch_core_io.c) does and plans what the peer receives. The string is
// groups separated by '+', each "digits[@ms]": ms above min/8 sets the
// length of the group's digits to ms*8 samples (else the default), clamped
// to [min, max]; a leading '~' is ignored here; more than 99 characters or
// no digit at all send nothing (ok false). Each digit or w/W adds its
// length plus 250 ms to last_dtmf_duration (in ms), as FreeSWITCH counts.
//
// On the wire (switch_rtp.c do_2833) a digit goes as 20 ms packets until
// their count reaches its length, so the peer reports the length rounded up
// to 160 samples (2000 -> 2080). The capture shows a default digit arriving
// 260 ms after it starts and the next one 520 ms later: a digit takes twice
// its wire length. 'w' and 'W' pause 500 ms and 1 s (set_dtmf_delay).
func (s *Sim) dtmfPlan(spec string) (plan []dtmfDigit, lastMs int, ok bool) {
	spec = strings.TrimPrefix(spec, "~")
	if spec == "" || len(spec) > 99 {
		return nil, 0, false
	}
	total := 0
	var cursor time.Duration
	for _, group := range strings.Split(spec, "+") {
		dur := s.dtmfDef
		if i := strings.IndexByte(group, '@'); i >= 0 {
			if ms := cAtoi(group[i+1:]); ms > s.dtmfMin/8 {
				dur = ms * 8
			}
			group = group[:i]
		}
		for i := 0; i < len(group); i++ {
			ch := group[i]
			if !isDTMF(ch) {
				continue
			}
			if ch != 'w' && ch != 'W' {
				dur = min(max(dur, s.dtmfMin), s.dtmfMax)
			}
			total += dur + 250*8
			switch ch {
			case 'w':
				cursor += 500 * time.Millisecond
				plan = append(plan, dtmfDigit{digit: ch, at: cursor})
				continue
			case 'W':
				cursor += time.Second
				plan = append(plan, dtmfDigit{digit: ch, at: cursor})
				continue
			}
			// switch_rtp_queue_rfc2833 raises a digit to the minimum too
			wire := (max(dur, s.dtmfMin) + dtmfPacket - 1) / dtmfPacket * dtmfPacket
			d := time.Duration(wire) * time.Second / 8000
			plan = append(plan, dtmfDigit{digit: ch, samples: wire, at: cursor + d})
			cursor += 2 * d
		}
		if total > 0 {
			lastMs = total / 8
		}
	}
	return plan, lastMs, len(plan) > 0
}

// isDTMF is switch_utils.h is_dtmf: digits, A-D, '#', '*', w/W pauses and
// F (flash).
func isDTMF(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'D' || c >= 'a' && c <= 'd' || c == '#' || c == '*' ||
		c == 'w' || c == 'W' || c == 'F' || c == 'f'
}

// sendDTMF sends a DTMF string out of l (uuid_send_dtmf, the send_dtmf
// application): it pre-answers l, sets last_dtmf_duration, and l's peer
// receives one DTMF event per digit as dtmfPlan says, its times scaled by
// Config.DTMFDuration. It reports false if nothing was sent.
func (l *leg) sendDTMF(spec string) bool {
	s := l.s
	if l.down {
		return false
	}
	plan, lastMs, ok := s.dtmfPlan(spec)
	if !ok {
		return false
	}
	l.preAnswer()
	l.setVar("last_dtmf_duration", strconv.Itoa(lastMs))
	to := l.peer
	if to == nil {
		return true
	}
	for _, d := range plan {
		if d.samples == 0 {
			continue
		}
		digit, samples := string(d.digit), d.samples
		s.after(s.dtmfWall(d.at), func() { to.receiveDTMF(digit, samples) })
	}
	return true
}

// dtmfWall scales a FreeSWITCH DTMF time by Config.DTMFDuration (the wall
// time of a default digit, 260 ms in FreeSWITCH).
func (s *Sim) dtmfWall(d time.Duration) time.Duration {
	return time.Duration(float64(d) * float64(s.cfg.DTMFDuration) / float64(dtmfWireDefault*time.Second/8000))
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
	l.playbackTerminator(digit[0])
	// a bridged leg passes the digit on to its partner's far end
	if b := l.bridged; b != nil && b.peer != nil && !b.peer.down {
		b.peer.receiveDTMF(digit, samples)
	}
}

// setDTMFDuration is switch_core_min/max/default_dtmf_duration (switch_core.c):
// n > 0 sets the value, clamped to FreeSWITCH's limits, moving the others
// so that min <= default <= max; it returns the value.
func (s *Sim) setDTMFDuration(which string, n int) int {
	clamp := func(n int) int { return min(max(n, dtmfMin), dtmfMax) }
	switch which {
	case "min_dtmf_duration":
		if n > 0 {
			s.dtmfMin = clamp(n)
			s.dtmfMax = max(s.dtmfMax, s.dtmfMin)
		}
		return s.dtmfMin
	case "max_dtmf_duration":
		if n > 0 {
			s.dtmfMax = clamp(n)
			s.dtmfMin = min(s.dtmfMin, s.dtmfMax)
		}
		return s.dtmfMax
	}
	if n > 0 {
		s.dtmfDef = clamp(n)
		s.dtmfMin = min(s.dtmfMin, s.dtmfDef)
		s.dtmfMax = max(s.dtmfMax, s.dtmfDef)
	}
	return s.dtmfDef
}

// playbackTerminator: the playback application's input callback
// (mod_dptools.c on_dtmf) ends the playback on a digit of
// playback_terminators (default "*"; "any": 0-9, * and #; "none") and sets
// playback_terminator_used.
func (l *leg) playbackTerminator(digit byte) {
	r := l.top()
	if r == nil || r.a.name != "playback" || r.done {
		return
	}
	terms, ok := l.getVar("playback_terminators")
	switch {
	case !ok:
		terms = "*"
	case strings.EqualFold(terms, "any"):
		terms = "1234567890*#"
	case strings.EqualFold(terms, "none"):
		terms = ""
	}
	if strings.IndexByte(terms, digit) < 0 {
		return
	}
	l.setVar("playback_terminator_used", string(digit))
	r.cut(false)
}
