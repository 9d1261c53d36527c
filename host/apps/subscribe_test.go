package apps

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/switchlua/switchlua/esl"
	"github.com/switchlua/switchlua/esl/fssim/fstest"
	"github.com/switchlua/switchlua/host"
	"github.com/switchlua/switchlua/hotreload/hrtest"
)

// A load or reload whose node runs the new generation but could not update
// its event subscription (host.ErrSubscribe: the connection was down) is a
// load: counted as a reload, one warning, never "reload failed". Once the
// node is back, the host's retry subscribes and the new version runs.
func TestE2ESubscribeLagIsLoaded(t *testing.T) {
	fast := host.Config{ESL: esl.Options{ReconnectMin: 50 * time.Millisecond, ReconnectMax: 100 * time.Millisecond}}
	r := newRig(t, rigConfig{files: map[string]string{"app.lua": simpleApp(1)}, scripts: []string{"app.lua"}, cfg: fast})
	sim := r.tg.RequireSim(t)
	l := r.pool.Listeners()[0]
	sim.SetPassword("not-" + r.tg.Password) // redials fail until it is put back
	sim.DropConnections()
	eventually(t, 5*time.Second, "the listener to notice the drop", func() bool { return !l.Connected() })

	// Version 2 needs DTMF, which the node is not subscribed to.
	v2 := simpleApp(2) + "function on_dtmf(sess, digit) end\n"
	if err := hrtest.WriteAtomic(r.path("app.lua"), []byte(v2)); err != nil {
		t.Fatal(err)
	}
	rl := r.reload(5 * time.Second)
	if !rl.OK || rl.Err != nil || rl.Nodes != 1 || rl.Generation < 2 {
		t.Fatalf("reload while the subscription lags: %+v; want OK on 1 node", rl)
	}
	if st := r.m.Stats(); st.Reloads != 1 || st.Failed != 0 {
		t.Fatalf("stats %+v: want 1 reload, 0 failed", st)
	}
	if lines := r.logs.matching(slog.LevelWarn, "subscription lags"); len(lines) != 1 || lines[0].Level != slog.LevelWarn {
		t.Fatalf("lag logged as %v; want one warning", lines)
	}
	if lines := r.logs.matching(slog.LevelError, "reload failed"); len(lines) != 0 {
		t.Fatalf("logged as failed: %v", lines)
	}
	if specs := r.m.Specs(); specs[0].Generation != rl.Generation {
		t.Fatalf("live generation %d, want %d", specs[0].Generation, rl.Generation)
	}

	// A node attached while its connection is down gets the apps too.
	if !r.tg.Real() {
		tg2 := fstest.Start(t)
		p2 := r.dialTo(tg2, fast)
		l2 := p2.Listeners()[0]
		tg2.Sim.SetPassword("not-" + tg2.Password)
		tg2.Sim.DropConnections()
		eventually(t, 5*time.Second, "the second listener to notice the drop", func() bool { return !l2.Connected() })
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := r.m.Attach(ctx, l2); err != nil {
			t.Fatalf("attach while the subscription lags: %v", err)
		}
		if lines := r.logs.matching(slog.LevelWarn, "app loaded; the event subscription lags"); len(lines) != 1 {
			t.Fatalf("attach lag logged as %v; want one warning", lines)
		}
		if apps, err := l2.Apps(ctx); err != nil || len(apps) != 1 || apps[0] != "app" {
			t.Fatalf("apps on the attached node: %q %v", apps, err)
		}
		r.m.Detach(l2)
	}

	sim.SetPassword(r.tg.Password)
	eventually(t, 10*time.Second, "reconnect and DTMF subscribed", func() bool {
		return l.Connected() && slices.Contains(l.Subscribed(), "DTMF")
	})
	r.oneCall("app")
	if n := r.num("answered:2"); n != 2 {
		t.Fatalf("version 2 answered %d legs, want 2", n)
	}
}
