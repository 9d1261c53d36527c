package fstest_test

import (
	"context"
	"testing"
	"time"

	"github.com/switchlua/switchlua/esl"
	"github.com/switchlua/switchlua/esl/fssim/fstest"
)

func TestParseProfileURL(t *testing.T) {
	tests := []struct{ out, want string }{
		{"Name             \texternal\nURL              \tsip:mod_sofia@10.0.0.5:5080\nBIND-URL         \tsip:mod_sofia@10.0.0.5:5080;transport=udp,tcp\n", "10.0.0.5:5080"},
		{"BIND-URL         \tsip:mod_sofia@192.0.2.7:5090;maddr=192.0.2.7;transport=udp,tcp\n", "192.0.2.7:5090"},
		{"Invalid Profile!\n", ""},
	}
	for _, tt := range tests {
		if got := fstest.ParseProfileURL(tt.out); got != tt.want {
			t.Errorf("ParseProfileURL(%q) = %q, want %q", tt.out, got, tt.want)
		}
	}
}

// TestTargetSelfCallAddress: the target's SIPAddr is what its own
// `sofia status profile external` says.
func TestTargetSelfCallAddress(t *testing.T) {
	tg := fstest.Start(t)
	c := tg.Dial(t, esl.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := c.API(ctx, "sofia status profile external")
	if err != nil {
		t.Fatal(err)
	}
	if got := fstest.ParseProfileURL(out); got != tg.SIPAddr {
		t.Errorf("profile URL %q, target SIPAddr %q", got, tg.SIPAddr)
	}
	if tg.Dest("bob") != "sofia/external/bob@"+tg.SIPAddr {
		t.Errorf("Dest %q", tg.Dest("bob"))
	}
}

func TestRequireSim(t *testing.T) {
	tg := fstest.Start(t)
	s := tg.RequireSim(t) // skips on a real FreeSWITCH
	if s == nil || tg.Real() {
		t.Fatal("no simulator")
	}
}
