package originator

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/switchlua/switchlua/host"
)

// wantLimitsLocked returns the `fsctl sps` and `fsctl max_sessions` the
// current rate and limit need: two legs per call (a self-call, or a call
// through a device that comes back), with headroom for the pacer's
// catch-up after a stall and for legs still tearing down.
func (o *Originator) wantLimitsLocked() (sps, maxSessions int) {
	sps = max(MinSPS, int(math.Ceil(o.rate*2*1.5)))
	maxSessions = max(MinMaxSessions, 2*o.limit+o.limit/4+100)
	return sps, maxSessions
}

// raiseLimitsLocked raises the nodes' sps and max_sessions in the
// background when a new rate or limit needs more than the set-up applied.
func (o *Originator) raiseLimitsLocked() {
	if !o.attached || o.cfg.NoSetup {
		return
	}
	sps, maxS := o.wantLimitsLocked()
	if sps <= o.spsSet && maxS <= o.maxSet {
		return
	}
	sps, maxS = max(sps, o.spsSet), max(maxS, o.maxSet)
	o.spsSet, o.maxSet = sps, maxS
	o.raiseInBackground(o.nodes, sps, maxS)
}

// raiseInBackground raises nodes' sps and max_sessions to sps and maxS on a
// goroutine of its own, within joinTimeout; a failure is logged.
func (o *Originator) raiseInBackground(nodes []*node, sps, maxS int) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), joinTimeout)
		defer cancel()
		for _, nd := range nodes {
			if _, err := o.applyLimits(ctx, nd, sps, maxS); err != nil {
				o.log.Warn("raising the node's limits failed", "node", nd.name, "err", err)
			}
		}
	}()
}

// spsSettled waits for FreeSWITCH's next refill of its sessions-per-second
// budget after the sps was raised (the old budget holds until then).
func spsSettled(ctx context.Context) error {
	t := time.NewTimer(spsSettle)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// setupNode finds the node's destination and applies the set-up.
func (o *Originator) setupNode(ctx context.Context, nd *node, sps, maxS int) (spsRaised bool, err error) {
	c := &o.cfg
	switch {
	case c.Dest != "":
		nd.dest = c.Dest
	case c.Gateway != "":
		nd.dest = c.User
	default:
		addr, err := nd.l.ProfileAddr(ctx, c.Profile)
		if err != nil {
			if errors.Is(err, host.ErrNoProfile) {
				return false, &noProfileError{node: nd.name, profile: c.Profile}
			}
			return false, fmt.Errorf("the self-call address of profile %s: %w", c.Profile, err)
		}
		nd.dest = c.User + "@" + addr
	}
	if c.NoSetup {
		// Only learn the node's capacity.
		out, err := nd.l.Command(ctx, "fsctl max_sessions")
		if n, ok := fsctlNumber(out); err == nil && ok {
			o.setCapacity(nd, n)
		} else {
			o.setCapacity(nd, 0)
		}
		return false, nil
	}
	spsRaised, err = o.applyLimits(ctx, nd, sps, maxS)
	if err != nil {
		return false, err
	}
	if c.VerboseEvents || needsVerbose(nd.l.Subscribed()) {
		if _, err := nd.l.Command(ctx, "fsctl verbose_events true"); err != nil {
			return false, fmt.Errorf("fsctl verbose_events: %w", err)
		}
	}
	return spsRaised, nil
}

// noProfileError is a self-call through a sofia profile the node does not
// have.
type noProfileError struct{ node, profile string }

func (e *noProfileError) Error() string {
	return fmt.Sprintf("node %s has no sofia profile named %q (`sofia status` lists its profiles)", e.node, e.profile)
}

// applyLimits raises (never lowers) the node's sps and max_sessions, then
// sets its capacity from the max_sessions it has. It reports whether the
// sps was raised: FreeSWITCH refills its sessions-per-second budget once a
// second, so the new value holds from the next second on.
func (o *Originator) applyLimits(ctx context.Context, nd *node, sps, maxS int) (spsRaised bool, err error) {
	_, spsRaised, err = raise(ctx, nd.l, "sps", sps)
	if err != nil {
		return false, err
	}
	have, _, err := raise(ctx, nd.l, "max_sessions", maxS)
	if err != nil {
		return false, err
	}
	o.setCapacity(nd, have)
	o.log.Debug("node set up", "node", nd.name, "sps", sps, "max_sessions", have, "dest", nd.dest)
	return spsRaised, nil
}

// raise reads `fsctl <what>` and sets it to want if it is lower; it
// returns the value the node has afterwards and whether it changed it.
func raise(ctx context.Context, l *host.Listener, what string, want int) (int, bool, error) {
	out, err := l.Command(ctx, "fsctl "+what)
	if err != nil {
		return 0, false, fmt.Errorf("fsctl %s: %w", what, err)
	}
	if cur, ok := fsctlNumber(out); ok && cur >= want {
		return cur, false, nil
	}
	out, err = l.Command(ctx, "fsctl "+what+" "+strconv.Itoa(want))
	if err != nil {
		return 0, false, fmt.Errorf("fsctl %s %d: %w", what, want, err)
	}
	if cur, ok := fsctlNumber(out); ok {
		return cur, true, nil
	}
	return want, true, nil
}

// setCapacity sets a node's capacity from its max_sessions (two legs a
// call; 0: unknown) and Config.NodeLimits.
func (o *Originator) setCapacity(nd *node, maxSessions int) {
	c := int64(maxSessions / 2)
	if n, ok := o.cfg.NodeLimits[nd.name]; ok && n > 0 && (c == 0 || int64(n) < c) {
		c = int64(n)
	}
	nd.capacity.Store(c)
}

// fsctlNumber reads the number of an fsctl reply such as
// "+OK max sessions: 1000".
func fsctlNumber(out string) (int, bool) {
	out = strings.TrimSpace(out)
	if !strings.HasPrefix(out, "+OK") {
		return 0, false
	}
	i := strings.LastIndexByte(out, ':')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(out[i+1:]))
	return n, err == nil
}

// varsWithoutVerbose are the events FreeSWITCH fills with channel
// variables whether or not verbose_events is on
// (switch_channel_event_set_extended_data), plus events that are not about
// a channel.
var varsWithoutVerbose = map[string]bool{
	"CHANNEL_CREATE": true, "CHANNEL_ORIGINATE": true, "CHANNEL_UUID": true,
	"CHANNEL_ANSWER": true, "CHANNEL_PARK": true, "CHANNEL_UNPARK": true,
	"CHANNEL_BRIDGE": true, "CHANNEL_UNBRIDGE": true, "CHANNEL_PROGRESS": true,
	"CHANNEL_PROGRESS_MEDIA": true, "CHANNEL_HANGUP": true,
	"CHANNEL_HANGUP_COMPLETE": true, "REQUEST_PARAMS": true, "CHANNEL_DATA": true,
	"CHANNEL_EXECUTE": true, "CHANNEL_EXECUTE_COMPLETE": true,
	"CHANNEL_DESTROY": true, "SESSION_HEARTBEAT": true, "API": true,
	"RECORD_START": true, "RECORD_STOP": true, "PLAYBACK_START": true,
	"PLAYBACK_STOP": true, "CALL_UPDATE": true, "MEDIA_BUG_START": true,
	"MEDIA_BUG_STOP": true, "CHANNEL_HOLD": true, "CHANNEL_UNHOLD": true,
	"TEXT": true,
	// not channel events
	"BACKGROUND_JOB": true, "HEARTBEAT": true, "RE_SCHEDULE": true,
	"SHUTDOWN": true, "MODULE_LOAD": true, "MODULE_UNLOAD": true, "LOG": true,
	"RELOADXML": true, "STARTUP": true,
}

// needsVerbose reports whether a subscription has a channel event that
// FreeSWITCH sends without channel variables unless verbose_events is on
// (e.g. DTMF, CHANNEL_CALLSTATE, CHANNEL_STATE).
func needsVerbose(events []string) bool {
	for _, e := range events {
		if strings.HasPrefix(e, "CUSTOM") { // custom events carry them
			continue
		}
		if !varsWithoutVerbose[e] {
			return true
		}
	}
	return false
}
