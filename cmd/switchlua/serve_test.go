package main

import (
	"os"
	"path/filepath"
	"regexp"
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
