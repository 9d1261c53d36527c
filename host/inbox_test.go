package host

import (
	"testing"
	"time"

	"github.com/switchlua/switchlua/models/modelstest"
)

func TestInboxOrderAndBackPressure(t *testing.T) {
	b := newInbox(4)
	ev := modelstest.NewEvent("Event-Name", "HEARTBEAT")
	for range 4 {
		if !b.pushEvent(ev) {
			t.Fatal("push failed")
		}
	}
	// The fifth event waits for room...
	pushed := make(chan bool)
	go func() { pushed <- b.pushEvent(ev) }()
	select {
	case <-pushed:
		t.Fatal("pushEvent did not wait on a full inbox")
	case <-time.After(20 * time.Millisecond):
	}
	// ...while replies and functions are always accepted, in order.
	var order []int
	if !b.push(item{kind: kindFunc, fn: func() { order = append(order, 1) }}) {
		t.Fatal("push of a function failed on a full inbox")
	}
	b.push(item{kind: kindReply, done: func(string, error) { order = append(order, 2) }})
	got := b.take(nil)
	if len(got) != 6 {
		t.Fatalf("took %d items, want 6", len(got))
	}
	for i, it := range got {
		want := kindEvent
		if i >= 4 {
			want = []itemKind{kindFunc, kindReply}[i-4]
		}
		if it.kind != want {
			t.Fatalf("item %d kind %d, want %d", i, it.kind, want)
		}
	}
	got[4].fn()
	got[5].done("", nil)
	if len(order) != 2 || order[0] != 1 || order[1] != 2 {
		t.Fatalf("order %v", order)
	}
	// take made room: the waiting producer goes on.
	select {
	case ok := <-pushed:
		if !ok {
			t.Fatal("push failed")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("producer still blocked after take")
	}
	if n := len(b.take(got[:0])); n != 1 {
		t.Fatalf("took %d, want the 1 event pushed after the take", n)
	}
}

func TestInboxCloseReleasesProducer(t *testing.T) {
	b := newInbox(1)
	ev := modelstest.NewEvent("Event-Name", "HEARTBEAT")
	b.pushEvent(ev)
	res := make(chan bool)
	go func() { res <- b.pushEvent(ev) }()
	time.Sleep(10 * time.Millisecond)
	b.close()
	select {
	case ok := <-res:
		if ok {
			t.Fatal("push after close reported success")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("producer still blocked after close")
	}
	if b.push(item{kind: kindFunc, fn: func() {}}) {
		t.Fatal("push after close reported success")
	}
}

func TestInboxWake(t *testing.T) {
	b := newInbox(8)
	if got := b.take(nil); len(got) != 0 {
		t.Fatal("empty inbox returned items")
	}
	go b.push(item{kind: kindFunc, fn: func() {}})
	select {
	case <-b.wake:
	case <-time.After(5 * time.Second):
		t.Fatal("push did not ring a sleeping consumer")
	}
	if got := b.take(nil); len(got) != 1 {
		t.Fatalf("took %d", len(got))
	}
}
