package host

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchlua/switchlua/bindings"
	"github.com/switchlua/switchlua/esl"
	"github.com/switchlua/switchlua/esl/fssim/fstest"
	"github.com/switchlua/switchlua/models"
)

var _ bindings.Host = (*Listener)(nil)

func TestBuildOriginate(t *testing.T) {
	const u = "5e1f0000-0000-4000-8000-504411075194"
	base := "originate {originate_timeout=60,origination_caller_id_name=switchlua,origination_caller_id_number=1112223333,origination_uuid=" + u +
		",ignore_display_updates=true,ignore_early_media=true,sip_h_X-switchlua_originating_session=" + u
	cases := []struct {
		name string
		dest string
		o    OriginateOptions
		want string
	}{
		{"self-call", "doggy@127.0.0.1:5080", OriginateOptions{App: "toneplay"},
			base + ",sip_h_X-switchlua_app=toneplay}sofia/external/doggy@127.0.0.1:5080 &park()"},
		{"no app", "doggy@127.0.0.1:5080", OriginateOptions{},
			base + "}sofia/external/doggy@127.0.0.1:5080 &park()"},
		{"profile and proxy", "1000@dut", OriginateOptions{Profile: "internal", Proxy: "10.0.0.5:5060"},
			base + "}sofia/internal/1000@dut;fs_path=sip:10.0.0.5:5060 &park()"},
		{"gateway", "1000", OriginateOptions{Gateway: "carrier"},
			base + "}sofia/gateway/carrier/1000 &park()"},
		{"dial string", "loopback/9999/park", OriginateOptions{Exten: "&echo()"},
			base + "}loopback/9999/park &echo()"},
		{"vars override and escape", "x@h", OriginateOptions{Timeout: 1500 * time.Millisecond,
			Vars: map[string]string{"originate_timeout": "5", "b": "1,2", "a": "z"}},
			strings.Replace(base, "originate_timeout=60", "originate_timeout=5", 1) + `,a=z,b=1\,2}sofia/external/x@h &park()`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.UUID = u
			if got := BuildOriginate(tc.dest, tc.o); got != tc.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func ExampleBuildOriginate() {
	fmt.Println(BuildOriginate("doggy@127.0.0.1:5080", OriginateOptions{
		App:  "toneplay",
		UUID: "5e1f0000-0000-4000-8000-504411075194",
	}))
	// Output:
	// originate {originate_timeout=60,origination_caller_id_name=switchlua,origination_caller_id_number=1112223333,origination_uuid=5e1f0000-0000-4000-8000-504411075194,ignore_display_updates=true,ignore_early_media=true,sip_h_X-switchlua_originating_session=5e1f0000-0000-4000-8000-504411075194,sip_h_X-switchlua_app=toneplay}sofia/external/doggy@127.0.0.1:5080 &park()
}

func TestNewUUID(t *testing.T) {
	a, b := esl.NewUUID(), esl.NewUUID()
	if len(a) != 36 || a == b || a[14] != '4' || strings.Count(a, "-") != 4 {
		t.Fatalf("uuids %q %q", a, b)
	}
}

func TestParseShowChannels(t *testing.T) {
	out := "uuid,direction,created,created_epoch,name,state,cid_name,cid_num,ip_addr,dest,application,application_data\n" +
		"a1,inbound,2026-11-22 19:14:12,1795,sofia/external/x@127.0.0.1,CS_EXECUTE,,,127.0.0.1,x,park,\n" +
		"b2,outbound,2026-11-22 19:14:12,1795,sofia/external/y,CS_EXCHANGE_MEDIA,a,b,,y,playback,{loops=-1}tone_stream://%(251,0,1004)\n" +
		"\n2 total.\n"
	got := parseShowChannels(out)
	if len(got) != 2 || !got["a1"] || !got["b2"] {
		t.Fatalf("got %v", got)
	}
	if n := len(parseShowChannels("\n0 total.\n")); n != 0 {
		t.Fatalf("%d channels in an empty list", n)
	}
}

func TestParseProfileURL(t *testing.T) {
	out := "=================\nName             \texternal\nURL              \tsip:mod_sofia@127.0.0.1:5080\nBIND-URL         \tsip:mod_sofia@127.0.0.1:5080;maddr=127.0.0.1;transport=udp,tcp\n"
	if got, err := parseProfileURL(out); err != nil || got != "127.0.0.1:5080" {
		t.Fatalf("got %q %v", got, err)
	}
	if _, err := parseProfileURL("Invalid Profile!\n"); !errors.Is(err, ErrNoProfile) {
		t.Fatalf("a missing profile: %v", err)
	}
}

// A Pool over two nodes: apps on both, calls on each, totals summed.
func TestPoolTwoNodes(t *testing.T) {
	a, b := fstest.Start(t), fstest.Start(t)
	if a.Addr == b.Addr {
		t.Skip("needs two FreeSWITCH nodes (the simulator)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	p, err := DialPool(ctx, []string{a.Addr, b.Addr}, Config{Password: a.Password, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Load(ctx, compileApp(t, "toneplay", toneplayLua)); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*fstest.Target{a, b} {
		l := p.Listener(n.Addr)
		if l == nil {
			t.Fatalf("no listener for %s", n.Addr)
		}
		if apps, _ := l.Apps(ctx); len(apps) != 1 || apps[0] != "toneplay" {
			t.Fatalf("%s apps %v", n.Addr, apps)
		}
		j, err := p.Originate(n.Addr, n.Dest(fstest.NewUser("pool")), tagged(n, OriginateOptions{App: "toneplay"}))
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-j.Done():
		case <-ctx.Done():
			t.Fatal("originate not done")
		}
		if !j.Successful() {
			t.Fatalf("originate on %s: %s", n.Addr, j.Cause())
		}
	}
	eventually(t, 5*time.Second, "2 calls, 4 sessions in all", func() bool {
		st := p.Stats()
		return st.Calls == 2 && st.Sessions == 4 && st.Answered == 4
	})
	if st := p.Stats(); !st.Connected || st.SessionsPerApp["toneplay"] != 4 {
		t.Fatalf("totals %+v", st)
	}
	for _, l := range p.Listeners() {
		if st := l.Stats(); st.Calls != 1 {
			t.Fatalf("%s: %d calls", l.Node(), st.Calls)
		}
		if _, err := p.Command(ctx, l.Node(), "hupall NORMAL_CLEARING"); err != nil {
			t.Fatal(err)
		}
		idle(t, l)
	}
	if _, err := p.Originate("nowhere:8021", "x", OriginateOptions{}); err == nil {
		t.Fatal("originate on an unknown node")
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Listeners()[0].Originate("x", OriginateOptions{}); err != ErrClosed {
		t.Fatalf("originate after close: %v", err)
	}
}

// switchy's sync_caller: a caller that dials, loads its apps, and returns the
// answered session of each call.
func TestSyncCaller(t *testing.T) {
	n := fstest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := NewSyncCaller(ctx, n.Addr, Config{Password: n.Password, Logger: testLogger(t)}, compileApp(t, "toneplay", toneplayLua))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sess, err := c.Call(ctx, n.Dest(fstest.NewUser("sync")), tagged(n, OriginateOptions{App: "toneplay"}))
	if err != nil {
		t.Fatal(err)
	}
	var answered, outbound bool
	c.L.Do(ctx, func() { answered, outbound = sess.Answered, sess.IsOutbound() })
	if !answered || !outbound {
		t.Fatalf("answered %v outbound %v", answered, outbound)
	}
	c.L.Do(ctx, func() { sess.Call.Hangup("NORMAL_CLEARING", nil) })
	if err := c.WaitFor(ctx, sess, func(s *models.Session) bool { return s.Hungup }); err != nil {
		t.Fatal(err)
	}
	idle(t, c.L)
	// A failed originate is an error with FreeSWITCH's cause.
	if _, err := c.Call(ctx, "sofia/external/x@127.0.0.1:9", tagged(n, OriginateOptions{Timeout: 5 * time.Second})); err == nil {
		t.Fatal("no error for an originate to a dead port")
	} else {
		t.Log(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestAPICommand(t *testing.T) {
	for in, want := range map[string]string{
		"status":                     "api status",
		"api status":                 "api status",
		"bgapi originate x":          "bgapi originate x",
		"sendmsg u\ncall-command: x": "sendmsg u\ncall-command: x",
		"noevents":                   "api noevents",
		"exit":                       "api exit",
		"event plain ALL":            "api event plain ALL",
		"log INFO hello":             "api log INFO hello",
	} {
		if got := apiCommand(in); got != want {
			t.Errorf("apiCommand(%q) = %q, want %q", in, got, want)
		}
	}
}

// A node dialled after DialPool joins the pool with Add (and calls reach it
// through the pool); Remove hands it back. Active counts its call.
func TestPoolAddRemove(t *testing.T) {
	a, b := fstest.Start(t), fstest.Start(t)
	if a.Addr == b.Addr {
		t.Skip("needs two FreeSWITCH nodes (the simulator)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cfg := Config{Password: a.Password, Logger: testLogger(t)}
	p, err := DialPool(ctx, []string{a.Addr}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	app := compileApp(t, "toneplay", toneplayLua)
	if err := p.Load(ctx, app); err != nil {
		t.Fatal(err)
	}
	lb, err := Dial(ctx, b.Addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := lb.Load(ctx, app); err != nil {
		t.Fatal(err)
	}
	if err := p.Add(lb); err != nil {
		t.Fatal(err)
	}
	if ls := p.Listeners(); len(ls) != 2 || ls[1] != lb || p.Listener(b.Addr) != lb {
		t.Fatalf("listeners %v", ls)
	}
	dup, err := Dial(ctx, b.Addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Add(dup); !errors.Is(err, ErrDuplicateNode) {
		t.Fatalf("second listener for %s: %v", b.Addr, err)
	}
	dup.Close()

	j, err := p.Originate(b.Addr, b.Dest(fstest.NewUser("added")), tagged(b, OriginateOptions{App: "toneplay"}))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-j.Done():
	case <-ctx.Done():
		t.Fatal("originate not done")
	}
	if !j.Successful() {
		t.Fatalf("originate on the added node: %s", j.Cause())
	}
	eventually(t, 5*time.Second, "2 legs of 1 call on the added node", func() bool {
		s, c := lb.Active()
		return s == 2 && c == 1
	})
	if s, c := p.Listeners()[0].Active(); s != 0 || c != 0 {
		t.Fatalf("first node active %d/%d", s, c)
	}
	if _, err := lb.Command(ctx, "uuid_kill "+j.SessUUID); err != nil {
		t.Fatal(err)
	}
	idle(t, lb)
	if s, c := lb.Active(); s != 0 || c != 0 || !lb.Connected() {
		t.Fatalf("active %d/%d connected %v after the call", s, c, lb.Connected())
	}

	if !p.Remove(lb) || p.Remove(lb) {
		t.Fatal("Remove of the added node")
	}
	if ls := p.Listeners(); len(ls) != 1 || p.Listener(b.Addr) != nil {
		t.Fatalf("listeners after Remove %v", ls)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := lb.Command(ctx, "status"); err != nil {
		t.Fatalf("a removed node was closed with the pool: %v", err)
	}
	if err := p.Add(lb); !errors.Is(err, ErrClosed) {
		t.Fatalf("Add after Close: %v", err)
	}
	lb.Close()
}
