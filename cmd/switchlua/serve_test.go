package main

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchlua/switchlua/esl"
	"github.com/switchlua/switchlua/esl/fssim/fstest"
)

// TestServe runs `switchlua serve` with an answering script on a node and
// places a call into the node: the script answers the inbound leg (so the
// api originate returns +OK), and SIGINT stops the service cleanly.
func TestServe(t *testing.T) {
	tg := fstest.Start(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "answer.lua")
	src := "-- answer every inbound call and hang it up a moment later\n" +
		"function on_park(sess)\n  if sess:is_inbound() then\n    sess:answer()\n    sess:sched_hangup(1)\n  end\nend\n"
	if err := os.WriteFile(script, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startBin(t, []string{"SWITCHLUA_PASSWORD=" + tg.Password}, "serve", "--script", script, "--host", tg.Addr, "--log-level", "info")
	// Wait until it serves (its log line), then call in.
	p.waitStderr(t, 10*time.Second, "msg=serving")
	ctx := ctxT(t, 15*time.Second)
	c := tg.Dial(t, esl.Options{})
	out, err := c.API(ctx, "originate {originate_timeout=10}"+tg.TaggedDest(fstest.NewUser("serve"))+" &park()")
	if err != nil || !strings.HasPrefix(out, "+OK") {
		t.Fatalf("originate into the served node: %q, %v\n%s", out, err, p.result())
	}
	p.signal(t, syscall.SIGINT)
	r := p.wait(t, 5*time.Second)
	if r.code != 0 {
		t.Fatalf("serve after SIGINT: exit %d\n%s", r.code, r)
	}
	m := regexp.MustCompile(`served (\d+) calls`).FindStringSubmatch(r.stdout)
	if m == nil || m[1] == "0" {
		t.Errorf("no served calls reported\n%s", r)
	}
	if strings.Contains(r.stdout+r.stderr, tg.Password) && tg.Password != "ClueCon" {
		t.Errorf("the password was printed")
	}
}

// TestServeTwoNodes: serve on two simulator nodes handles the inbound calls
// of both: calls placed into each node are answered by the script (the
// simulator does not answer them by itself, so an originate returns +OK
// only once the script did).
func TestServeTwoNodes(t *testing.T) {
	a, b := fstest.Start(t), fstest.Start(t)
	a.RequireSim(t)
	script := filepath.Join(t.TempDir(), "answer.lua")
	src := "function on_park(sess)\n  if sess:is_inbound() then\n    sess:answer()\n    sess:sched_hangup(1)\n  end\nend\n"
	if err := os.WriteFile(script, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startBin(t, []string{"SWITCHLUA_PASSWORD=" + a.Password}, "serve", "--script", script,
		"--host", a.Addr, "--host", b.Addr, "--no-reload")
	p.waitStderr(t, 10*time.Second, "msg=serving")
	ctx := ctxT(t, 20*time.Second)
	const perNode = 3
	for _, tg := range []*fstest.Target{a, b} {
		c := tg.Dial(t, esl.Options{})
		for range perNode {
			out, err := c.API(ctx, "originate {originate_timeout=10}"+tg.TaggedDest(fstest.NewUser("serve2"))+" &park()")
			if err != nil || !strings.HasPrefix(out, "+OK") {
				t.Fatalf("originate into node %s: %q, %v\n%s", tg.Addr, out, err, p.result())
			}
		}
	}
	p.signal(t, syscall.SIGINT)
	r := p.wait(t, 5*time.Second)
	if r.code != 0 {
		t.Fatalf("serve after SIGINT: exit %d\n%s", r.code, r)
	}
	m := regexp.MustCompile(`served (\d+) calls .* on (\d+) node\(s\)`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no served line\n%s", r)
	}
	if n, _ := strconv.Atoi(m[1]); n < 2*perNode || m[2] != "2" {
		t.Errorf("served %s calls on %s nodes, want at least %d on 2\n%s", m[1], m[2], 2*perNode, r)
	}
}

// TestServeRouter configures the built-in Router on the command line as its
// doc comment says (a route whose key is a Lua pattern) and calls 1234: the
// Router bridges it to the route's destination with the capture put in
// (sofia/internal/234@...), where a second route sends the call on to the
// Router's built-in echo, which answers; so the call to 1234 is answered
// and bridged. It needs the simulator: a real FreeSWITCH's internal profile
// would not park the routed leg.
func TestServeRouter(t *testing.T) {
	tg := fstest.Start(t)
	sim := tg.RequireSim(t)
	internal := net.JoinHostPort(sim.Config().SIPIP, strconv.Itoa(sim.Config().InternalPort))
	spec := "router:^1(%d%d%d)$=sofia/internal/%1@" + internal + ":^234$=sofia/internal/echo@" + internal
	p := startBin(t, []string{"SWITCHLUA_PASSWORD=" + tg.Password}, "serve", "--script", spec, "--host", tg.Addr, "--no-reload")
	p.waitStderr(t, 10*time.Second, "msg=serving")

	ctx := ctxT(t, 15*time.Second)
	c := tg.Dial(t, esl.Options{})
	rec := fstest.Record(c)
	if err := c.Subscribe(ctx, "CHANNEL_EXECUTE", "CHANNEL_BRIDGE"); err != nil {
		t.Fatal(err)
	}
	out, err := c.API(ctx, "originate {originate_timeout=10}"+tg.Dest("1234")+" &park()")
	if err != nil || !strings.HasPrefix(out, "+OK") {
		t.Fatalf("originate to 1234: %q, %v\n%s", out, err, p.result())
	}
	bridgeTo := func(dest string) func(*esl.Event) bool {
		return func(ev *esl.Event) bool {
			return ev.Name() == "CHANNEL_EXECUTE" && ev.Get("Application") == "bridge" && ev.Get("Application-Data") == dest
		}
	}
	ev := rec.Find(t, 5*time.Second, "the bridge of the call to 1234", bridgeTo("sofia/internal/234@"+internal))
	if n := ev.Get("Caller-Destination-Number"); n != "1234" {
		t.Errorf("bridge to 234 ran on a leg to %q, want 1234", n)
	}
	rec.Find(t, 5*time.Second, "the bridge of the routed leg to echo", bridgeTo("sofia/internal/echo@"+internal))
	rec.Find(t, 5*time.Second, "the call to 1234 bridged", func(ev *esl.Event) bool {
		return ev.Name() == "CHANNEL_BRIDGE" && ev.Get("Caller-Destination-Number") == "1234"
	})
	_, _ = c.API(ctx, "hupall NORMAL_CLEARING")
	p.signal(t, syscall.SIGINT)
	if r := p.wait(t, 5*time.Second); r.code != 0 {
		t.Fatalf("serve after SIGINT: exit %d\n%s", r.code, r)
	}
}

// TestServeParkTimeout: --park-timeout hangs up a parked inbound call whose
// app took no action on it (cause RECOVERY_ON_TIMER_EXPIRE) after that
// time; --park-timeout 0 leaves it parked.
func TestServeParkTimeout(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "idle.lua")
	src := "-- look at parked calls and do nothing with them\nfunction on_park(sess)\n  sess.vars.seen = true\nend\n"
	if err := os.WriteFile(script, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		timeout string
		hangup  bool
	}{{"500ms", true}, {"0", false}} {
		t.Run(tc.timeout, func(t *testing.T) {
			tg := fstest.Start(t)
			p := startBin(t, []string{"SWITCHLUA_PASSWORD=" + tg.Password}, "serve", "--script", script, "--host", tg.Addr,
				"--no-reload", "--park-timeout", tc.timeout)
			p.waitStderr(t, 10*time.Second, "msg=serving")
			ctx := ctxT(t, 15*time.Second)
			c := tg.Dial(t, esl.Options{})
			rec := fstest.Record(c)
			if err := c.Subscribe(ctx, "CHANNEL_PARK", "CHANNEL_HANGUP"); err != nil {
				t.Fatal(err)
			}
			user := fstest.NewUser("park")
			if _, err := c.BgAPI(ctx, "originate {originate_timeout=10}"+tg.TaggedDest(user)+" &park()"); err != nil {
				t.Fatal(err)
			}
			park := rec.Find(t, 5*time.Second, "the inbound leg parked", fstest.InboundTo("CHANNEL_PARK", user))
			inbound := park.Get("Unique-ID")
			hungUp := func(ev *esl.Event) bool {
				return ev.Name() == "CHANNEL_HANGUP" && ev.Get("Unique-ID") == inbound
			}
			if tc.hangup {
				ev := rec.Find(t, 5*time.Second, "the park timeout's hangup", hungUp)
				if cause := ev.Get("Hangup-Cause"); cause != "RECOVERY_ON_TIMER_EXPIRE" {
					t.Errorf("hangup cause %q, want RECOVERY_ON_TIMER_EXPIRE", cause)
				}
			} else {
				time.Sleep(2 * time.Second) // four times the other case's timeout
				for _, ev := range rec.Events() {
					if hungUp(ev) {
						t.Fatalf("--park-timeout 0 hung up the parked call (%s)", ev.Get("Hangup-Cause"))
					}
				}
				_, _ = c.API(ctx, "uuid_kill "+inbound)
			}
			p.signal(t, syscall.SIGINT)
			if r := p.wait(t, 5*time.Second); r.code != 0 {
				t.Fatalf("serve after SIGINT: exit %d\n%s", r.code, r)
			}
		})
	}
}
