package models_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/switchlua/switchlua/esl"
	"github.com/switchlua/switchlua/models"
	"github.com/switchlua/switchlua/models/modelstest"
)

// Headers only in older events are carried; once an event carries them again
// the copies are dropped.
func TestExtrasCarriedAndDropped(t *testing.T) {
	for _, inline := range []bool{false, true} {
		t.Run(fmt.Sprint("inline=", inline), func(t *testing.T) {
			if inline {
				defer models.LimitNames()()
			}
			p := fmt.Sprint("x", inline, "-")
			full := func(v string) *modelstest.Event {
				return ev("CHANNEL_PARK", p+"a", "A"+v, p+"b", "B"+v, p+"c", "C"+v)
			}
			s := models.NewSession(full("1"), "n", nil)
			s.Update(ev("CHANNEL_CALLSTATE", p+"b", "b2"))
			if n, _, _ := models.ExtrasStats(s); n != 2 {
				t.Fatalf("%d extras, want 2 (a and c)", n)
			}
			if got := models.ExtrasNames(s); !slices.Equal(got, []string{p + "a", p + "c"}) {
				t.Errorf("extras %v", got)
			}
			s.Update(ev("DTMF", p+"c", "c3", "DTMF-Digit", "1"))
			// a carried from before, b from CALLSTATE; c is in the latest.
			if got := models.ExtrasNames(s); !slices.Equal(got, []string{p + "a", p + "b"}) {
				t.Errorf("extras %v", got)
			}
			for h, want := range map[string]string{p + "a": "A1", p + "b": "b2", p + "c": "c3", "DTMF-Digit": "1"} {
				if got := s.Get(h); got != want {
					t.Errorf("Get(%s) = %q, want %q", h, got, want)
				}
			}
			s.Update(full("4"))
			if n, _, _ := models.ExtrasStats(s); n != 1 { // DTMF-Digit
				t.Errorf("extras %v after a full event", models.ExtrasNames(s))
			}
			if s.Get("DTMF-Digit") != "1" || s.Get(p+"a") != "A4" {
				t.Error("values after a full event")
			}
		})
	}
}

// FreeSWITCH's alternation of events with a channel's variables and events
// without them (esl events, with name ids): the last full event is kept
// whole while later ones lack its variables (nothing copied), and goes once
// a full event has them again; a few headers lacking are copied instead.
func TestPrevKeptWhole(t *testing.T) {
	vars := func(v string) []string {
		var kv []string
		for i := range 20 {
			kv = append(kv, fmt.Sprintf("variable_v%d", i), v+fmt.Sprint(i))
		}
		return kv
	}
	mk := func(name string, kv ...string) *esl.Event {
		return esl.NewEvent(append([]string{"Event-Name", name, "Unique-ID", "u1", "Channel-State", name}, kv...)...)
	}
	full1 := mk("CHANNEL_ANSWER", vars("a")...)
	s := models.NewSession(full1, "n", nil)
	s.Update(mk("CHANNEL_CALLSTATE", "Original-Channel-Call-State", "RINGING"))
	if models.Prev(s) != full1 {
		t.Fatal("the full event is not kept whole")
	}
	if n, _, _ := models.ExtrasStats(s); n != 0 {
		t.Errorf("%d extras copied, want none", n)
	}
	// A few headers lacking: copied, prev stays.
	s.Update(mk("CHANNEL_STATE"))
	if got := models.ExtrasNames(s); !slices.Equal(got, []string{"Original-Channel-Call-State"}) || models.Prev(s) != full1 {
		t.Errorf("extras %v, prev kept %v", got, models.Prev(s) == full1)
	}
	for h, want := range map[string]string{"variable_v3": "a3", "Original-Channel-Call-State": "RINGING", "Channel-State": "CHANNEL_STATE"} {
		if got := s.Get(h); got != want {
			t.Errorf("Get(%s) = %q, want %q", h, got, want)
		}
	}
	// A full event again: prev and the copies go.
	full2 := mk("CHANNEL_EXECUTE", append(vars("b"), "Original-Channel-Call-State", "ACTIVE")...)
	s.Update(full2)
	if n, _, _ := models.ExtrasStats(s); n != 0 || models.Prev(s) != nil {
		t.Errorf("after a full event: extras %v, prev %v", models.ExtrasNames(s), models.Prev(s) != nil)
	}
	// A full event followed by one that lacks only some variables: still
	// kept whole, and what it alone has is read from it.
	s.Update(mk("CHANNEL_PARK", vars("c")[:10]...))
	if models.Prev(s) != full2 || s.Get("variable_v15") != "b15" || s.Get("variable_v2") != "c2" {
		t.Errorf("prev %v, v15 %q, v2 %q", models.Prev(s) == full2, s.Get("variable_v15"), s.Get("variable_v2"))
	}
	// Once prev holds fewer than a handful of headers nothing newer has,
	// they are copied and prev goes.
	s.Update(mk("CHANNEL_PARK", vars("d")[:36]...))
	if models.Prev(s) != nil || s.Get("variable_v19") != "b19" || s.Get("variable_v17") != "d17" {
		t.Errorf("prev %v, v19 %q, v17 %q", models.Prev(s) != nil, s.Get("variable_v19"), s.Get("variable_v17"))
	}
}

// Random event sequences (headers appearing, disappearing, reordered,
// changing value, now and then twice in one event) against a reference map
// where every event's headers overwrite the previous values. The events are
// modelstest events, esl events (whose name ids take carryIDs' path: indexed
// ones, and ones parsed from the wire and indexed on demand) or a mix; with
// inline, names do not fit the name tables (models' and, for some, esl's).
func TestExtrasMatchesReference(t *testing.T) {
	for _, kind := range []string{"modelstest", "esl", "mixed"} {
		for _, inline := range []bool{false, true} {
			t.Run(fmt.Sprint(kind, "/inline=", inline), func(t *testing.T) {
				if inline {
					defer models.LimitNames()()
				}
				r := rand.New(rand.NewPCG(1, uint64(len(fmt.Sprint(kind, inline)))))
				vocab := make([]string, 40)
				for i := range vocab {
					vocab[i] = fmt.Sprintf("variable_h%d_%v", i, inline)
					if inline && i%5 == 0 {
						vocab[i] += strings.Repeat("x", 300) // too long for esl's table
					}
				}
				mk := func(kv []string) models.Event {
					k := kind
					if k == "mixed" {
						k = []string{"modelstest", "esl", "raw"}[r.IntN(3)]
					} else if k == "esl" && r.IntN(2) == 0 {
						k = "raw"
					}
					switch k {
					case "esl":
						return esl.NewEvent(kv...)
					case "raw":
						e, err := esl.ParseEvent(esl.NewEvent(kv...).AppendPlain(nil))
						if err != nil {
							t.Fatal(err)
						}
						return e
					}
					return modelstest.NewEvent(kv...)
				}
				for seq := 0; seq < 150; seq++ {
					ref := map[string]string{}
					var s *models.Session
					// Values handed out must never change afterwards (the
					// extras block grows in place).
					var handed [][2]string
					defer func() {
						for _, h := range handed {
							if h[0] != h[1] {
								t.Fatalf("a value handed out changed: %q, was %q", h[0], h[1])
							}
						}
					}()
					for step := 0; step < 30; step++ {
						kv := []string{"Event-Name", "CHANNEL_STATE", "Unique-ID", "u1"}
						perm := r.Perm(len(vocab))
						if r.IntN(4) > 0 { // mostly FreeSWITCH's stable order
							slices.Sort(perm)
						}
						for _, i := range perm[:r.IntN(len(vocab))] {
							// Values are never empty: the plain format writes
							// "" as _undef_.
							kv = append(kv, vocab[i], fmt.Sprint(1+r.IntN(3)))
							if r.IntN(20) == 0 {
								kv = append(kv, vocab[i], "dup")
							}
						}
						e := mk(kv)
						seen := map[string]bool{}
						for i := 0; i < len(kv); i += 2 {
							if !seen[kv[i]] { // the first of a name wins
								seen[kv[i]] = true
								ref[kv[i]] = kv[i+1]
							}
						}
						if s == nil {
							s = models.NewSession(e, "n", nil)
						} else {
							s.Update(e)
						}
						for _, h := range append(vocab, "Event-Name", "Unique-ID") {
							want, wok := ref[h]
							got, ok := s.Lookup(h)
							if ok && r.IntN(8) == 0 {
								handed = append(handed, [2]string{got, strings.Clone(got)})
							}
							if got != want || ok != wok {
								t.Fatalf("seq %d step %d: Lookup(%.40s) = %q,%v want %q,%v", seq, step, h, got, ok, want, wok)
							}
						}
					}
				}
			})
		}
	}
}

// Headers in a different order from one event to the next (the cursor
// misses) are still matched.
func TestExtrasReordered(t *testing.T) {
	s := models.NewSession(ev("CHANNEL_CREATE", "a", "1", "b", "2", "c", "3", "d", "4"), "n", nil)
	s.Update(modelstest.NewEvent("d", "40", "c", "30", "Unique-ID", "u1", "b", "20", "Event-Name", "X"))
	if got := models.ExtrasNames(s); !slices.Equal(got, []string{"a"}) {
		t.Errorf("extras %v", got)
	}
	if s.Get("a") != "1" || s.Get("d") != "40" {
		t.Error("values")
	}
}

// Sessions on different goroutines (one per Listener) share the name table.
func TestConcurrentSessions(t *testing.T) {
	order, by := legs(t)
	done := make(chan error)
	for g := 0; g < 4; g++ {
		go func(g int) {
			var err error
			for round := 0; round < 20 && err == nil; round++ {
				for _, u := range order {
					evs := by[u]
					s := models.NewSession(evs[0], "n", nil)
					for _, e := range evs[1:] {
						s.Update(e)
						s.Update(modelstest.NewEvent("Event-Name", "CUSTOM", "Unique-ID", u,
							fmt.Sprintf("X-g%d-r%d", g, round), "v"))
					}
					if s.Get("Caller-Destination-Number") == "" || s.Get(fmt.Sprintf("X-g%d-r%d", g, round)) != "v" {
						err = fmt.Errorf("goroutine %d: headers lost", g)
					}
				}
			}
			done <- err
		}(g)
	}
	for g := 0; g < 4; g++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
