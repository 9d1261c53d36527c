package originator

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/switchlua/switchlua/esl/fssim/fstest"
	"github.com/switchlua/switchlua/host"
)

// A node added to the pool while originating (Pool.Add after its apps are
// loaded) is set up and gets calls; a node removed (Pool.Remove) gets no
// new calls, its calls in progress end normally, and it leaves Counts once
// they have.
func TestNodesJoinAndLeave(t *testing.T) {
	a, b := fstest.Start(t), fstest.Start(t)
	a.RequireSim(t)
	spec := app(t, "answer", "testdata/answer.lua")
	r := newRig(t, Config{Rate: 100, Limit: 20, Duration: 200 * time.Millisecond, Apps: []App{{ID: "answer", Weight: 1}}},
		[]*fstest.Target{a}, spec)
	la := r.pool.Listeners()[0]
	stopCheck := checkCounts(t, r.o)
	if err := r.o.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "calls on node a", func() bool { return r.o.Counts().Offered >= 20 })

	// Node b joins: dialled with the hooked Config, its apps loaded, added.
	hc := host.Config{Password: b.Password, Logger: testLogger(t)}
	r.o.Hook(&hc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lb, err := host.Dial(ctx, b.Addr, hc)
	if err != nil {
		t.Fatal(err)
	}
	if err := lb.Load(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := r.pool.Add(lb); err != nil {
		t.Fatal(err)
	}
	byNode := func() map[string]NodeCounts {
		out := map[string]NodeCounts{}
		for _, n := range r.o.Counts().Nodes {
			out[n.Node] = n
		}
		return out
	}
	eventually(t, 10*time.Second, "calls on node b", func() bool { return byNode()[b.Addr].Offered >= 20 })
	if n := byNode()[b.Addr]; n.Capacity == 0 || !n.Connected {
		t.Errorf("node b not set up: %+v", n)
	}

	// Node a leaves: no new calls; its calls end; it leaves Counts.
	if !r.pool.Remove(la) {
		t.Fatal("node a not in the pool")
	}
	t.Cleanup(func() { la.Close() })
	eventually(t, 5*time.Second, "node a to leave Counts", func() bool {
		_, ok := byNode()[a.Addr]
		return !ok
	})
	before := r.o.Counts().Offered
	eventually(t, 10*time.Second, "more calls on node b alone", func() bool { return r.o.Counts().Offered >= before+20 })
	r.o.Stop(true)
	c := r.wait(10 * time.Second)
	stopCheck()
	if c.Failed != 0 || c.Active != 0 || c.Ended != c.Offered {
		t.Fatalf("counts %v, by cause %v", c, c.FailedByCause)
	}
	offers, rows, _ := r.snapshot()
	var onA, rowsA int
	for _, of := range offers {
		if of.Node == a.Addr {
			onA++
		}
	}
	for _, row := range rows {
		if row.Node == a.Addr {
			rowsA++
		}
	}
	if onA == 0 || onA != rowsA {
		t.Errorf("node a: %d offers, %d rows: its calls did not all end", onA, rowsA)
	}
	if st := la.Stats(); st.Sessions != 0 || st.Calls != 0 {
		t.Errorf("node a still tracks %d sessions, %d calls", st.Sessions, st.Calls)
	}
	r.idle()
}

// checkCounts polls Counts while the test runs and fails if a snapshot
// ever shows more calls active, or a higher peak, than offered (overall or
// on a node). The returned func stops it.
func checkCounts(t *testing.T, o *Originator) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			c := o.Counts()
			if c.Active > c.Offered || c.Peak > c.Offered || c.Active < 0 {
				t.Errorf("counts: active %d, peak %d, offered %d", c.Active, c.Peak, c.Offered)
				return
			}
			for _, n := range c.Nodes {
				if n.Active > n.Offered || n.Peak > n.Offered || n.Active < 0 {
					t.Errorf("node %s: active %d, peak %d, offered %d", n.Node, n.Active, n.Peak, n.Offered)
					return
				}
			}
			time.Sleep(100 * time.Microsecond)
		}
	})
	return func() { close(done); wg.Wait() }
}

// A call counts as active from just before its originate is sent, as
// offered once it was sent: Counts leaves the one in flight out of Active.
func TestCountsOfferInFlight(t *testing.T) {
	o, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	nd := &node{name: "n"}
	o.nodes = []*node{nd}
	o.active.Add(1) // offer(): active first ...
	nd.active.Add(1)
	if c := o.Counts(); c.Active != 0 || c.Offered != 0 || c.Nodes[0].Active != 0 {
		t.Fatalf("in flight: %v, node %+v", c, c.Nodes[0])
	}
	o.offered.Add(1) // ... then offered once sent
	nd.offered.Add(1)
	if c := o.Counts(); c.Active != 1 || c.Offered != 1 || c.Nodes[0].Active != 1 {
		t.Fatalf("sent: %v, node %+v", c, c.Nodes[0])
	}
}
