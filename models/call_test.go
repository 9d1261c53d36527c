package models_test

import (
	"errors"
	"testing"

	"github.com/switchlua/switchlua/models"
	"github.com/switchlua/switchlua/models/modelstest"
)

func TestCall(t *testing.T) {
	f := &modelstest.Sender{}
	a := models.NewSession(modelstest.NewEvent("Event-Name", "CHANNEL_CREATE", "Unique-ID", "a"), "n", f)
	b := models.NewSession(modelstest.NewEvent("Event-Name", "CHANNEL_CREATE", "Unique-ID", "b"), "n", f)
	x := models.NewSession(modelstest.NewEvent("Event-Name", "CHANNEL_CREATE", "Unique-ID", "x"), "n", f)

	c := models.NewCall("key")
	if c.UUID != "key" || c.Vars == nil || c.First() != nil || c.Last() != nil || c.Peer(a) != nil {
		t.Fatal("empty call")
	}
	var err error
	c.Hangup("", func(_ string, e error) { err = e })
	if !errors.Is(err, models.ErrNoSession) {
		t.Errorf("hangup of an empty call: %v", err)
	}

	c.Append(a)
	if c.First() != a || c.Last() != a || c.Peer(a) != nil || a.Call != c {
		t.Error("one leg")
	}
	c.Append(b)
	c.Append(b) // idempotent
	c.Append(nil)
	if c.Len() != 2 || c.First() != a || c.Last() != b {
		t.Fatalf("two legs: %d", c.Len())
	}
	for _, tc := range []struct{ s, want *models.Session }{{a, b}, {b, a}, {x, nil}, {nil, nil}} {
		if got := c.Peer(tc.s); got != tc.want {
			t.Errorf("Peer(%v) = %v", tc.s, got)
		}
	}
	c.Vars["noautohangup"] = true

	c.Hangup("", nil)
	if got := f.Last(); got != "api uuid_kill a NORMAL_CLEARING" {
		t.Errorf("call hangup sent %q", got)
	}

	c.Remove(a)
	c.Remove(x) // not a member
	if c.Len() != 1 || c.Sessions[0] != b || c.First() != a || c.Peer(b) != a {
		t.Error("after Remove(a) first/last stay (switchio)")
	}
	c.Remove(b)
	if c.Len() != 0 {
		t.Error("empty after removing both")
	}
}
