package main

import (
	"testing"
	"time"
)

// TestTimeBudgets checks the time limits that make setup errors and Ctrl-C
// end within 5 s: the binary-level tests can only check them loosely on a
// shared machine.
func TestTimeBudgets(t *testing.T) {
	const five = 5 * time.Second
	if d := dialTimeout + 500*time.Millisecond; d >= five-time.Second {
		t.Errorf("connecting may take %v: leaves less than 1 s of the 5 s for the rest", d)
	}
	if hangupWait >= shutdownLimit || shutdownLimit >= five {
		t.Errorf("hangup wait %v, shutdown limit %v: want wait < limit < 5 s", hangupWait, shutdownLimit)
	}
}
