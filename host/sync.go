package host

import (
	"context"
	"fmt"
	"strings"

	"github.com/switchlua/switchlua/bindings"
	"github.com/switchlua/switchlua/models"
)

// SyncCaller makes calls one at a time and waits for them, for functional
// tests of call apps (switchy's sync_caller):
//
//	c, _ := host.NewSyncCaller(ctx, "127.0.0.1:8021", host.Config{}, toneplay)
//	defer c.Close()
//	sess, _ := c.Call(ctx, "doggy@127.0.0.1:5080", host.OriginateOptions{App: "toneplay"})
//	_ = c.WaitFor(ctx, sess, func(s *models.Session) bool { return s.Hungup })
type SyncCaller struct {
	// L is the Listener the calls are made on.
	L   *Listener
	own bool
}

// NewSyncCaller dials a Listener for addr and loads apps on it.
func NewSyncCaller(ctx context.Context, addr string, cfg Config, apps ...bindings.AppSpec) (*SyncCaller, error) {
	l, err := Dial(ctx, addr, cfg)
	if err != nil {
		return nil, err
	}
	for _, a := range apps {
		if err := l.Load(ctx, a); err != nil {
			l.Close()
			return nil, fmt.Errorf("host: load app %s: %w", a.ID, err)
		}
	}
	return &SyncCaller{L: l, own: true}, nil
}

// Caller makes calls on an existing Listener (Close leaves it open).
func Caller(l *Listener) *SyncCaller { return &SyncCaller{L: l} }

// Call originates a call to dest with o (o.App picks the app) and waits for
// the originate to complete, i.e. for the outbound leg to be answered. It
// returns that leg, the originating session (call.First()). A failed
// originate is an error with FreeSWITCH's cause. Read or command the session
// only on the Listener goroutine (Do, WaitFor).
func (c *SyncCaller) Call(ctx context.Context, dest string, o OriginateOptions) (*models.Session, error) {
	j, err := c.L.Originate(dest, o)
	if err != nil {
		return nil, err
	}
	select {
	case <-j.Done():
	case <-ctx.Done():
		return nil, fmt.Errorf("host: originate %s: %w", dest, ctx.Err())
	}
	if !j.Successful() {
		return nil, fmt.Errorf("host: originate %s failed: %s", dest, j.Cause())
	}
	var s *models.Session
	if err := c.L.Do(ctx, func() {
		if e := c.L.sessions[j.SessUUID]; e != nil {
			s = e.s
			if f := e.s.Call.First(); f != nil {
				s = f
			}
		}
	}); err != nil {
		return nil, err
	}
	if s == nil {
		return nil, fmt.Errorf("host: originate %s succeeded but session %s is not tracked (already gone?)", dest, j.SessUUID)
	}
	return s, nil
}

// WaitFor waits until pred holds for s (see Listener.WaitFor).
func (c *SyncCaller) WaitFor(ctx context.Context, s *models.Session, pred func(*models.Session) bool) error {
	return c.L.WaitFor(ctx, s, pred)
}

// Close closes the Listener if NewSyncCaller made it.
func (c *SyncCaller) Close() error {
	if c.own {
		return c.L.Close()
	}
	return nil
}

// ProfileAddr returns the host:port of a sofia profile's SIP URL on the node
// (from `sofia status profile <profile>`), e.g. "127.0.0.1:5080" for
// "external": "user@"+addr is then a self-call.
func (l *Listener) ProfileAddr(ctx context.Context, profile string) (string, error) {
	out, err := l.Command(ctx, "sofia status profile "+profile)
	if err != nil {
		return "", err
	}
	return parseProfileURL(out)
}

func parseProfileURL(out string) (string, error) {
	if strings.HasPrefix(strings.TrimSpace(out), "Invalid Profile") {
		return "", fmt.Errorf("%w (%s)", ErrNoProfile, firstLine(out))
	}
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) < 2 || (f[0] != "URL" && f[0] != "BIND-URL") {
			continue
		}
		u := f[1]
		u = strings.TrimPrefix(u, "sip:")
		if i := strings.IndexByte(u, '@'); i >= 0 {
			u = u[i+1:]
		}
		if i := strings.IndexByte(u, ';'); i >= 0 {
			u = u[:i]
		}
		if u != "" {
			return u, nil
		}
	}
	return "", fmt.Errorf("host: no URL in sofia status output %q", firstLine(out))
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
