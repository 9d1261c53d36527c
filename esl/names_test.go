package esl

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestNameTableFull(t *testing.T) {
	tab := new(nameTable)
	for i := 0; i < maxNames; i++ {
		if id := tab.intern([]byte(fmt.Sprintf("variable_n%d", i))); id != uint16(i) {
			t.Fatalf("name %d got id %d", i, id)
		}
	}
	if id := tab.intern([]byte("one-too-many")); id != inlineID {
		t.Fatalf("full table gave id %d", id)
	}
	for i := 0; i < maxNames; i += 97 {
		name := fmt.Sprintf("variable_n%d", i)
		if id, ok := find(tab, name); !ok || id != uint16(i) || tab.names[id] != name {
			t.Fatalf("find(%s) = %d %v", name, id, ok)
		}
	}
	if _, ok := find(tab, "variable_nope"); ok {
		t.Fatal("found a name never added")
	}
}

// Names too long for the table are kept in the event itself.
func TestInlineNames(t *testing.T) {
	long := "X-" + strings.Repeat("n", 300)
	plain := "Event-Name: CUSTOM\n" + long + ": a%20b\nUnique-ID: u\n" + long + "2: c\n\n"
	ev, err := ParseEvent([]byte(plain))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Len() != 4 || !ev.hasInline || ev.Name() != "CUSTOM" || ev.UUID() != "u" {
		t.Fatalf("inline event: %v", ev)
	}
	if ev.Get(long) != "a b" || ev.Get(long+"2") != "c" || ev.Get(long+"3") != "" {
		t.Fatalf("Get of inline names")
	}
	if n, v := ev.Header(1); n != long || v != "a b" {
		t.Fatalf("Header(1) = %q %q", n, v)
	}
	ev2, err := ParseEvent(ev.AppendPlain(nil))
	if err != nil || ev2.String() != ev.String() {
		t.Fatal("inline round trip")
	}
	if NewEvent(long, "x").Get(long) != "x" {
		t.Fatal("NewEvent with an inline name")
	}
}

// Workers of many connections intern new names at once.
func TestInternConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				name := fmt.Sprintf("variable_concurrent_%d", i)
				ev, err := ParseEvent([]byte("Event-Name: X\n" + name + ": " + fmt.Sprint(i) + "\n\n"))
				if err != nil || ev.Get(name) != fmt.Sprint(i) {
					t.Errorf("%s: %v", name, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
