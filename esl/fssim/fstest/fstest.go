// Package fstest is the one harness of switchlua's end-to-end tests: every
// test that needs a FreeSWITCH asks it for a Target.
//
// By default Start runs an in-process simulator (esl/fssim) on 127.0.0.1:0,
// stopped when the test ends. With SWITCHLUA_TEST_FS=host:port (and
// SWITCHLUA_TEST_FS_PASSWORD, default ClueCon) in the environment it returns
// that real FreeSWITCH instead, so the same tests run against it
// (`make integration`). The real one needs the simulator's set-up: an
// external sofia profile whose context parks calls, so an originate to its
// own SIP address (Target.Dest) is a self-call whose inbound leg parks.
//
// Tests written for both must not assume what a real FreeSWITCH would break:
// wait for events instead of sleeping, tolerate events they did not expect
// (other calls, CHANNEL_STATE, HEARTBEAT), and pick their calls out by uuid or
// by a destination user of their own (NewUser). Tests that need the
// simulator's fault knobs call RequireSim, which skips them on a real one.
package fstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchlua/switchlua/esl"
	"github.com/switchlua/switchlua/esl/fssim"
)

// Environment variables that select a real FreeSWITCH.
const (
	EnvAddr     = "SWITCHLUA_TEST_FS"
	EnvPassword = "SWITCHLUA_TEST_FS_PASSWORD"
)

// TagVar is the channel variable Target.Dest's users can put in their
// originate ({sip_h_X-fstest=<Tag>}) so Cleanup can hang up what a test left
// behind on a real FreeSWITCH.
const TagVar = "sip_h_X-fstest"

// Target is the FreeSWITCH a test runs against.
type Target struct {
	// Addr is the ESL address (host:port).
	Addr string
	// Password is the ESL password.
	Password string
	// Sim is the in-process simulator, nil on a real FreeSWITCH.
	Sim *fssim.Sim
	// SIPAddr is the host:port of the external profile: an originate to
	// sofia/external/<user>@<SIPAddr> is a self-call.
	SIPAddr string
	// Tag is unique to this test; see TagVar.
	Tag string
}

// Real reports whether the target is a real FreeSWITCH.
func (tg *Target) Real() bool { return tg.Sim == nil }

// Start returns the target of the test: a fresh simulator with the default
// configuration, or the real FreeSWITCH named by SWITCHLUA_TEST_FS.
func Start(t testing.TB) *Target { return StartConfig(t, fssim.Config{}) }

// StartConfig is Start with a simulator configuration (ignored on a real
// FreeSWITCH; tests that depend on it should call RequireSim).
func StartConfig(t testing.TB, cfg fssim.Config) *Target {
	t.Helper()
	tag := randomHex(8)
	if addr := os.Getenv(EnvAddr); addr != "" {
		pw := os.Getenv(EnvPassword)
		if pw == "" {
			pw = "ClueCon"
		}
		tg := &Target{Addr: addr, Password: pw, Tag: tag}
		sip, err := externalSIPAddr(addr, pw)
		if err != nil {
			t.Fatalf("fstest: %s=%s: %v", EnvAddr, addr, err)
		}
		tg.SIPAddr = sip
		t.Cleanup(func() { tg.hangupTagged() })
		return tg
	}
	s := fssim.New(cfg)
	addr, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("fstest: starting the simulator: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	c := s.Config()
	return &Target{Addr: addr, Password: c.Password, Sim: s,
		SIPAddr: net.JoinHostPort(c.SIPIP, strconv.Itoa(c.ExternalPort)), Tag: tag}
}

// RequireSim skips the test on a real FreeSWITCH and returns the simulator.
func (tg *Target) RequireSim(t testing.TB) *fssim.Sim {
	t.Helper()
	if tg.Sim == nil {
		t.Skip("fstest: needs the simulator (fault knobs); running against a real FreeSWITCH")
	}
	return tg.Sim
}

// Dest returns the self-call destination for user:
// sofia/external/<user>@<SIPAddr>.
func (tg *Target) Dest(user string) string { return "sofia/external/" + user + "@" + tg.SIPAddr }

// TaggedDest is Dest with {sip_h_X-fstest=<Tag>} in front, so the calls are
// hung up at cleanup on a real FreeSWITCH.
func (tg *Target) TaggedDest(user string) string {
	return "{" + TagVar + "=" + tg.Tag + "}" + tg.Dest(user)
}

// NewUser returns a destination user unique to this run, to tell this
// test's inbound legs (Caller-Destination-Number) from anything else.
func NewUser(prefix string) string { return prefix + randomHex(6) }

// Dial connects to the target with esl (password filled in) and closes the
// connection when the test ends.
func (tg *Target) Dial(t testing.TB, opts esl.Options) *esl.Conn {
	t.Helper()
	if opts.Password == "" {
		opts.Password = tg.Password
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := esl.Dial(ctx, tg.Addr, opts)
	if err != nil {
		t.Fatalf("fstest: dial %s: %v", tg.Addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// hangupTagged hangs up the calls a test tagged, on a real FreeSWITCH.
func (tg *Target) hangupTagged() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := esl.Dial(ctx, tg.Addr, esl.Options{Password: tg.Password})
	if err != nil {
		return
	}
	defer c.Close()
	_, _ = c.API(ctx, "hupall NORMAL_CLEARING "+TagVar+" "+tg.Tag)
}

var (
	sipMu    sync.Mutex
	sipAddrs = map[string]string{}
)

// externalSIPAddr reads the external profile's SIP address from
// `sofia status profile external` (its URL, sip:mod_sofia@ip:port), once per
// FreeSWITCH.
func externalSIPAddr(addr, pw string) (string, error) {
	sipMu.Lock()
	defer sipMu.Unlock()
	if a, ok := sipAddrs[addr]; ok {
		return a, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := esl.Dial(ctx, addr, esl.Options{Password: pw})
	if err != nil {
		return "", err
	}
	defer c.Close()
	out, err := c.API(ctx, "sofia status profile external")
	if err != nil {
		return "", err
	}
	a := ParseProfileURL(out)
	if a == "" {
		return "", &profileError{out}
	}
	sipAddrs[addr] = a
	return a, nil
}

type profileError struct{ out string }

func (e *profileError) Error() string {
	return "no URL in `sofia status profile external`: " + strings.TrimSpace(e.out)
}

// ParseProfileURL returns host:port from the URL (or BIND-URL) line of
// `sofia status profile <name>` output, or "".
func ParseProfileURL(out string) string {
	for _, key := range []string{"URL", "BIND-URL"} {
		for _, line := range strings.Split(out, "\n") {
			k, v, ok := strings.Cut(line, "\t")
			if !ok || strings.TrimSpace(k) != key {
				continue
			}
			v = strings.TrimSpace(v)
			v = strings.TrimPrefix(v, "sip:")
			if i := strings.IndexByte(v, '@'); i >= 0 {
				v = v[i+1:]
			}
			if i := strings.IndexByte(v, ';'); i >= 0 {
				v = v[:i]
			}
			if v != "" {
				return v
			}
		}
	}
	return ""
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Eventually polls cond every 5 ms until it holds, and fails t (saying it
// waited for what) if it does not within d.
func Eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
