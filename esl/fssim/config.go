package fssim

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Config configures a simulator. Every field has a flag-friendly type; the
// zero value of a field means its default (see DefaultConfig), so
// fssim.New(fssim.Config{}) presents itself like the FreeSWITCH of the
// captures in testdata/transcripts: password ClueCon, host name vm, profiles
// internal (127.0.0.1:5060) and external (127.0.0.1:5080, context park),
// sessions-per-second 30, max-sessions 1000.
type Config struct {
	// Listen is the ESL address Run and ListenAndServe listen on
	// (default 127.0.0.1:8021).
	Listen string
	// Password is the ESL password (default ClueCon).
	Password string

	// Hostname, IPv4 and IPv6 fill FreeSWITCH-Hostname/-Switchname/-IPv4/-IPv6
	// (defaults vm, 192.0.2.2, fd00::2 as in the captures).
	Hostname string
	IPv4     string
	IPv6     string
	// CoreUUID is the Core-UUID header (default: a random uuid per simulator).
	CoreUUID string

	// SIPIP is the address of both SIP profiles (default 127.0.0.1). An
	// originate to sofia/<profile>/<user>@<SIPIP>:<InternalPort|ExternalPort>
	// is a self-call: it makes an outbound leg and an inbound leg that parks.
	SIPIP string
	// InternalPort and ExternalPort are the profiles' SIP ports (defaults 5060, 5080).
	InternalPort int
	ExternalPort int
	// InternalContext and ExternalContext are the profiles' dialplan contexts
	// (defaults public and park). Inbound legs park whatever the context.
	InternalContext string
	ExternalContext string

	// MaxSessions is FreeSWITCH's max-sessions (default 1000): a leg that would
	// exceed it is refused, like a new leg over sessions-per-second.
	MaxSessions int
	// SessionsPerSecond is FreeSWITCH's sessions-per-second (default 30): the
	// number of legs that may be created per second (FreeSWITCH admits one
	// fewer). An originate whose outbound leg is refused fails with
	// DESTINATION_OUT_OF_ORDER, one whose inbound leg is refused with
	// NORMAL_TEMPORARY_FAILURE, with no channel events, as load-100calls.raw
	// showed.
	SessionsPerSecond int

	// AnswerDelay is how long the far end takes to see an answer: after the
	// inbound leg of a self-call answers, the outbound leg's CHANNEL_ANSWER and
	// the originate's BACKGROUND_JOB come this much later (default 0).
	AnswerDelay time.Duration
	// AutoAnswer makes inbound self-call legs answer themselves as soon as
	// they park (for load without an answering app); the caller sees the
	// answer AnswerDelay later. Default false.
	AutoAnswer bool
	// FailRate is the share (0..1) of originates that fail with FailCause:
	// BACKGROUND_JOB "-ERR <FailCause>" and no channel events.
	FailRate float64
	// FailCause is the cause of FailRate failures (default
	// NORMAL_TEMPORARY_FAILURE): a hangup cause name of FreeSWITCH's
	// switch_channel.c CAUSE_CHART, in any case, or its number (Validate
	// checks it; New makes it the upper-case name).
	FailCause string

	// FileDuration is the length of a played file that is not a tone_stream
	// or silence_stream (default 1s).
	FileDuration time.Duration
	// DTMFDuration is the time a DTMF digit of FreeSWITCH's default length
	// (2000 samples, 2080 on the wire) takes to reach the peer; digits reach
	// it spaced by twice that (default 260ms, as captured). Digits of other
	// lengths (uuid_send_dtmf <uuid> 123@100) and the w/W pauses take
	// proportionally as long. It only scales time: the DTMF-Duration the
	// peer reports is always FreeSWITCH's.
	DTMFDuration time.Duration
	// HeartbeatInterval is the HEARTBEAT period (default 20s; negative: none).
	HeartbeatInterval time.Duration

	// DropAfterEvents drops (closes without notice) every ESL connection once
	// it has been sent that many events (default 0: never).
	DropAfterEvents int
	// MaxQueuedEvents caps one connection's unsent events (default 100000, as
	// FreeSWITCH). Past it events are lost; after 500 lost the connection is
	// killed with "killed listener because of lost events", as FreeSWITCH does.
	MaxQueuedEvents int

	// Seed seeds the simulator's random numbers (failure draws, uuids, ports);
	// 0 picks a random seed.
	Seed int64

	// Logger receives the simulator's own log lines (default: discard).
	Logger *slog.Logger
}

// DefaultConfig returns the configuration New uses for zero fields.
func DefaultConfig() Config {
	return Config{
		Listen:            "127.0.0.1:8021",
		Password:          "ClueCon",
		Hostname:          "vm",
		IPv4:              "192.0.2.2",
		IPv6:              "fd00::2",
		SIPIP:             "127.0.0.1",
		InternalPort:      5060,
		ExternalPort:      5080,
		InternalContext:   "public",
		ExternalContext:   "park",
		MaxSessions:       1000,
		SessionsPerSecond: 30,
		FailCause:         "NORMAL_TEMPORARY_FAILURE",
		FileDuration:      time.Second,
		DTMFDuration:      260 * time.Millisecond,
		HeartbeatInterval: 20 * time.Second,
		MaxQueuedEvents:   100000,
	}
}

// withDefaults fills the zero fields of c from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	setS := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	setI := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	setD := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	setS(&c.Listen, d.Listen)
	setS(&c.Password, d.Password)
	setS(&c.Hostname, d.Hostname)
	setS(&c.IPv4, d.IPv4)
	setS(&c.IPv6, d.IPv6)
	setS(&c.SIPIP, d.SIPIP)
	setI(&c.InternalPort, d.InternalPort)
	setI(&c.ExternalPort, d.ExternalPort)
	setS(&c.InternalContext, d.InternalContext)
	setS(&c.ExternalContext, d.ExternalContext)
	setI(&c.MaxSessions, d.MaxSessions)
	setI(&c.SessionsPerSecond, d.SessionsPerSecond)
	setS(&c.FailCause, d.FailCause)
	if name, ok := CanonicalCause(c.FailCause); ok {
		c.FailCause = name
	}
	setD(&c.FileDuration, d.FileDuration)
	setD(&c.DTMFDuration, d.DTMFDuration)
	setD(&c.HeartbeatInterval, d.HeartbeatInterval)
	setI(&c.MaxQueuedEvents, d.MaxQueuedEvents)
	return c
}

// Validate reports what is wrong with c, if anything: a FailCause that is not
// a FreeSWITCH hangup cause (a name of switch_channel.c's CAUSE_CHART in any
// case, or its number), a
// FailRate outside 0..1, a negative count or duration (HeartbeatInterval
// may be negative: no heartbeat), a port outside 0..65535. Zero fields are
// valid (they take their default). New does not call it: a program taking
// a configuration from its user should, and report the error.
func (c Config) Validate() error {
	var errs []error
	if _, ok := CanonicalCause(c.FailCause); c.FailCause != "" && !ok {
		errs = append(errs, fmt.Errorf("fssim: FailCause %q is not a FreeSWITCH hangup cause (such as USER_BUSY, CALL_REJECTED, NORMAL_TEMPORARY_FAILURE)", c.FailCause))
	}
	if !(c.FailRate >= 0 && c.FailRate <= 1) {
		errs = append(errs, fmt.Errorf("fssim: FailRate %v is not a share between 0 and 1", c.FailRate))
	}
	for _, f := range []struct {
		name string
		n    int
	}{{"MaxSessions", c.MaxSessions}, {"SessionsPerSecond", c.SessionsPerSecond},
		{"DropAfterEvents", c.DropAfterEvents}, {"MaxQueuedEvents", c.MaxQueuedEvents}} {
		if f.n < 0 {
			errs = append(errs, fmt.Errorf("fssim: %s %d is negative", f.name, f.n))
		}
	}
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"AnswerDelay", c.AnswerDelay}, {"FileDuration", c.FileDuration}, {"DTMFDuration", c.DTMFDuration}} {
		if f.d < 0 {
			errs = append(errs, fmt.Errorf("fssim: %s %v is negative", f.name, f.d))
		}
	}
	for _, f := range []struct {
		name string
		p    int
	}{{"InternalPort", c.InternalPort}, {"ExternalPort", c.ExternalPort}} {
		if f.p < 0 || f.p > 65535 {
			errs = append(errs, fmt.Errorf("fssim: %s %d is not a port", f.name, f.p))
		}
	}
	return errors.Join(errs...)
}

// canonicalCause returns the hangup cause s names: a CAUSE_CHART name in any
// case, or the number of one (switch_channel_str2cause reads both), and
// whether it is one.
func CanonicalCause(s string) (string, bool) {
	if s != "" && s[0] >= '0' && s[0] <= '9' {
		n, err := strconv.Atoi(s)
		name, ok := causeByCode[n]
		return name, err == nil && ok
	}
	u := strings.ToUpper(s)
	_, ok := causeCodes[u]
	return u, ok
}
