package esl

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestURLDecode(t *testing.T) {
	cases := []struct{ in, want string }{
		{"plain", "plain"},
		{"2026-11-22%2019%3A06%3A21", "2026-11-22 19:06:21"},
		{"a+b", "a+b"}, // '+' is not a space in FreeSWITCH's encoding
		{"%2B%2b", "++"},
		{"100%", "100%"},
		{"%4", "%4"},
		{"%zz%41", "%zzA"},
		{"%%41", "%A"},
		{"sofia/external/nobody%40127.0.0.1%3A5999%20%26park()", "sofia/external/nobody@127.0.0.1:5999 &park()"},
		{"%E2%82%AC", "€"},
		{"%0A%0D", "\n\r"},
	}
	for _, tc := range cases {
		if got := URLDecode(tc.in); got != tc.want {
			t.Errorf("URLDecode(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, s := range []string{"a b:c", "100%", "x+y&z=1", "tone_stream://%(300,0,1004)", "line\nbreak", "é"} {
		if got := URLDecode(URLEncode(s)); got != s {
			t.Errorf("round trip of %q gave %q", s, got)
		}
	}
	if got := URLEncode("a b:c+d"); got != "a%20b%3Ac%2Bd" {
		t.Errorf("URLEncode = %q", got)
	}
}

func TestParseEvent(t *testing.T) {
	plain := "Event-Name: BACKGROUND_JOB\n" +
		"Core-UUID: 0a72e539-6cb3-4d29-8878-25cb09cfbb2c\n" +
		"Event-Date-Local: 2026-11-22%2019%3A06%3A41\n" +
		"Job-UUID: 721b9068-8971-4537-9282-2b969791222e\n" +
		"Job-Command: originate\n" +
		"Job-Command-Arg: sofia/external/nobody%40127.0.0.1%3A5999%20%26park()\n" +
		"Dup: first\n" +
		"Dup: second\n" +
		"Empty:\n" +
		"no colon line\n" +
		"Content-Length: 30\n\n" +
		"-ERR NORMAL_TEMPORARY_FAILURE\n"
	ev, err := ParseEvent([]byte(plain))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ got, want string }{
		{ev.Name(), "BACKGROUND_JOB"},
		{ev.UUID(), ""},
		{ev.Subclass(), ""},
		{ev.Get("Event-Date-Local"), "2026-11-22 19:06:41"},
		{ev.Get("Job-Command-Arg"), "sofia/external/nobody@127.0.0.1:5999 &park()"},
		{ev.Get("Dup"), "first"},
		{ev.Get("job-uuid"), ""}, // exact names
		{ev.Body(), "-ERR NORMAL_TEMPORARY_FAILURE\n"},
	}
	for i, c := range checks {
		if c.got != c.want {
			t.Errorf("check %d: got %q want %q", i, c.got, c.want)
		}
	}
	if v, ok := ev.Lookup("Empty"); !ok || v != "" {
		t.Errorf("Lookup(Empty) = %q %v", v, ok)
	}
	if _, ok := ev.Lookup("Content-Length"); ok {
		t.Error("the inner Content-Length is framing, not a header")
	}
	if ev.Len() != 9 {
		t.Errorf("Len = %d", ev.Len())
	}
	if n, v := ev.Header(7); n != "Dup" || v != "second" {
		t.Errorf("Header(7) = %q %q", n, v)
	}
	var names []string
	ev.Range(func(n, v string) bool { names = append(names, n); return n != "Job-UUID" })
	if strings.Join(names, ",") != "Event-Name,Core-UUID,Event-Date-Local,Job-UUID" {
		t.Errorf("Range stopped wrong: %v", names)
	}
	// A body shorter than announced is clamped; CRLF is tolerated.
	ev, err = ParseEvent([]byte("Event-Name: X\r\nUnique-ID: u\r\nContent-Length: 100\r\n\r\nshort"))
	if err != nil || ev.Body() != "short" || ev.UUID() != "u" || ev.Name() != "X" {
		t.Fatalf("clamped: %v %q", err, ev.Body())
	}
	if _, err := ParseEvent([]byte("\n")); err == nil {
		t.Fatal("empty event parsed")
	}
}

func TestEventRoundTrip(t *testing.T) {
	ev := NewEventWithBody("+OK 5c6d\n", "Event-Name", "CUSTOM", "Event-Subclass", "sofia::register",
		"Unique-ID", "u-1", "variable_x", "a b:c%d+e\nf", "Empty", "")
	if ev.Name() != "CUSTOM" || ev.Subclass() != "sofia::register" || ev.UUID() != "u-1" || ev.Body() != "+OK 5c6d\n" {
		t.Fatalf("NewEvent: %v", ev)
	}
	plain := ev.AppendPlain(nil)
	if !bytes.Contains(plain, []byte("variable_x: a%20b%3Ac%25d%2Be%0Af\n")) || !bytes.Contains(plain, []byte("Empty: _undef_\n")) {
		t.Fatalf("plain:\n%s", plain)
	}
	ev2, err := ParseEvent(plain)
	if err != nil {
		t.Fatal(err)
	}
	if ev2.Get("variable_x") != "a b:c%d+e\nf" || ev2.Body() != ev.Body() || ev2.Len() != ev.Len() {
		t.Fatalf("round trip: %v", ev2)
	}
	// The whole frame goes through a Reader.
	f, err := NewReader(bytes.NewReader(ev.AppendFrame(nil))).ReadFrame()
	if err != nil || f.ContentType != TypeEventPlain {
		t.Fatal(err)
	}
	ev3, err := f.Event()
	if err != nil || ev3.String() != ev2.String() {
		t.Fatalf("frame round trip: %v", err)
	}
	if NewEvent("A").Get("A") != "" || NewEvent().Len() != 0 {
		t.Fatal("odd NewEvent")
	}
}

func TestParseEventJSON(t *testing.T) {
	ev, err := ParseEventJSON([]byte(`{"Event-Name":"CUSTOM","Event-Subclass":"a::b","Unique-ID":"u","n":5,"arr":["x","y"],"_body":"hello"}`))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Name() != "CUSTOM" || ev.Subclass() != "a::b" || ev.UUID() != "u" || ev.Get("n") != "5" ||
		ev.Get("arr") != "ARRAY::x|:y" || ev.Body() != "hello" {
		t.Fatalf("json event: %v", ev)
	}
	for _, bad := range []string{``, `[]`, `{"a":`, `{"a" 1}`} {
		if _, err := ParseEventJSON([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// Every event of the real captures: the compact form holds what a
// straightforward parse finds, and retains about the wire size.
func TestEventsOfCaptures(t *testing.T) {
	data := transcript(t, "load-100calls.raw.gz")
	rd := NewReader(bytes.NewReader(data))
	var wire, kept, n int
	for {
		f, err := rd.ReadFrame()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if f.ContentType != TypeEventPlain {
			continue
		}
		ev, err := f.Event()
		if err != nil {
			t.Fatal(err)
		}
		n++
		wire += len(f.Body)
		// Before indexing, accessors search the wire text.
		raw, _ := ev.raw()
		rawName, rawUUID, rawBody := ev.Name(), ev.UUID(), ev.Body()
		// Reference parse with the standard library.
		headers, body, _ := strings.Cut(string(f.Body), "\n\n")
		i := 0
		for _, line := range strings.Split(headers, "\n") {
			name, val, _ := strings.Cut(line, ": ")
			if name == "Content-Length" && body != "" {
				continue
			}
			gn, gv := ev.Header(i)
			if gn != name || gv != URLDecode(val) {
				t.Fatalf("event %d header %d: %q=%q want %q=%q", n, i, gn, gv, name, URLDecode(val))
			}
			if first, _ := ev.Lookup(name); first == gv {
				if sv, ok := ev.scan(raw, name); !ok || sv != gv {
					t.Fatalf("event %d: search for %q found %q %v, want %q", n, name, sv, ok, gv)
				}
			}
			i++
		}
		if i != ev.Len() {
			t.Fatalf("event %d: %d headers, want %d", n, ev.Len(), i)
		}
		if _, ok := ev.scan(raw, "variable_nope"); ok {
			t.Fatal("search found a missing header")
		}
		kept += ev.Size()
		if ev.Name() != ev.Get("Event-Name") || ev.UUID() != ev.Get("Unique-ID") {
			t.Fatal("fast accessors disagree with Get")
		}
		if rawName != ev.Name() || rawUUID != ev.UUID() || rawBody != ev.Body() {
			t.Fatal("accessors before and after indexing disagree")
		}
	}
	if n != 3800 {
		t.Fatalf("%d events", n)
	}
	ratio := float64(kept) / float64(wire)
	t.Logf("%d events, %.0f B on the wire, %.0f B kept (%.2f)", n, float64(wire)/float64(n), float64(kept)/float64(n), ratio)
	// Names are interned: an event keeps its values and a small index.
	if ratio > 0.7 {
		t.Fatalf("events keep %.2fx their wire size", ratio)
	}
}

func TestEventConcurrentReaders(t *testing.T) {
	ev := NewEvent("Event-Name", "CHANNEL_ANSWER", "Unique-ID", "u", "variable_a", "1")
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				if ev.Name() != "CHANNEL_ANSWER" || ev.Get("variable_a") != "1" || ev.String() == "" {
					panic("bad read")
				}
			}
		}()
	}
	wg.Wait()
}

func ExampleParseEvent() {
	ev, _ := ParseEvent([]byte("Event-Name: CHANNEL_ANSWER\nUnique-ID: 5c6d46e0\nCaller-Callee-ID-Name: Outbound%20Call\n\n"))
	fmt.Println(ev.Name(), ev.UUID(), ev.Get("Caller-Callee-ID-Name"))
	// Output: CHANNEL_ANSWER 5c6d46e0 Outbound Call
}

func TestWideEvent(t *testing.T) {
	big := strings.Repeat("v", 70000)
	ev := NewEventWithBody("body", "Event-Name", "X", "Big", big, "Unique-ID", "u", "Last", "l")
	if !ev.wide || ev.Get("Big") != big || ev.UUID() != "u" || ev.Get("Last") != "l" || ev.Body() != "body" {
		t.Fatal("wide event broken")
	}
	if n, v := ev.Header(3); n != "Last" || v != "l" {
		t.Fatalf("Header(3) = %q %q", n, v)
	}
	ev2, err := ParseEvent(ev.AppendPlain(nil))
	if err != nil || ev2.String() != ev.String() {
		t.Fatal("wide round trip")
	}
	small := NewEvent("Event-Name", "X")
	if small.wide {
		t.Fatal("small event is wide")
	}
}

func TestLookupEdgeCases(t *testing.T) {
	ev, err := ParseEvent([]byte(": empty name\nA: 1\nAB: 2\nBB: 3\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, want string }{{"", "empty name"}, {"A", "1"}, {"AB", "2"}, {"BB", "3"}, {"CB", ""}} {
		if got := ev.Get(c.name); got != c.want {
			t.Errorf("Get(%q) = %q, want %q", c.name, got, c.want)
		}
	}
}

var lookupOnce sync.Once

// BenchmarkLookup is Get of a header late in a real event plus Get of a
// missing one (a full scan), 200000 times per op; it prints ns per pair.
func BenchmarkLookup(b *testing.B) {
	ev, err := ParseEvent(captureBodies(b)[0])
	if err != nil {
		b.Fatal(err)
	}
	late, _ := ev.Header(ev.Len() - 3)
	const n = 200000
	var el time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		for k := 0; k < n; k++ {
			if ev.Get(late) == "" || ev.Get("variable_nope_nope") != "" {
				b.Fatal("lookup")
			}
		}
		el += time.Since(start)
	}
	per := float64(el.Nanoseconds()) / float64(b.N*n)
	b.ReportMetric(per, "ns/pair")
	lookupOnce.Do(func() {
		fmt.Printf("bench: esl_get_late_and_missing_ns %.0f ns (%d headers)\n", per, ev.Len())
	})
}

// An event answers the same whether it searches its wire text (before it is
// indexed) or its index, on the edges of the format.
func TestSearchMatchesIndex(t *testing.T) {
	for _, plain := range []string{
		"Event-Name: X\nA: 1\n\n",
		"Event-Name: X\r\nA: 1\r\nB:\r\nC: \r\n\r\n",
		"A: 1\n\nB: 2\n\n",                            // blank lines are skipped until the body
		"A: 1\nContent-Length: 5\n\nB: 2\nC: 3",       // the body's lines are not headers
		"A: 1\nContent-Length: x\n\nB: 2\n",           // not a length: a header
		"A: 1\nContent-Length: 3\nB: 2\n\n",           // not followed by a blank line: a header
		"Content-Length: 3\n\nabc\n",                  // no header at all (refused)
		"A: %41%4\nA: second\nAA: x\nBA: y\n:empty\n", // escapes, duplicates, suffixes, an empty name
		"X-Content-Length: 1\nContent-Length: 2\r\n\r\nhi",
		"Event-Name: CUSTOM%20X\nEvent-Subclass: a::b\nUnique-ID: u\nno colon\nZ: z",
	} {
		data := []byte(plain)
		ev, err := ParseEvent(data)
		if err != nil {
			if !errors.Is(err, ErrEmptyEvent) {
				t.Errorf("%q: %v", plain, err)
			}
			continue
		}
		ev.Len()
		checkSearchMatchesIndex(t, data, ev)
	}
	ev, _ := ParseEvent([]byte("A: 1\n\nB: 2\n\n"))
	if ev.Get("B") != "2" || ev.Len() != 2 {
		t.Fatal("a blank line before the body ends nothing")
	}
}
