package esl

import (
	"bytes"
	"io"
	"testing"
)

// FuzzReader feeds arbitrary bytes to the frame reader and the event parser:
// no panic, no hang, no allocation beyond what the input can justify; chunked
// reads agree with whole reads; a parsed event survives a round trip through
// AppendPlain.
func FuzzReader(f *testing.F) {
	// Small seeds keep the fuzzer fast (and its minimisation short): the
	// small captures whole, pieces of the large ones.
	for _, name := range []string{"errors.raw", "badauth.raw"} {
		f.Add(transcript(f, name))
	}
	for _, name := range []string{"session.raw", "selfcall-media.raw", "load-100calls.raw.gz"} {
		data := transcript(f, name)
		for _, off := range []int{0, len(data) / 3, len(data) / 2} {
			end := min(off+4000, len(data))
			f.Add(data[off:end])
		}
	}
	f.Add([]byte("Content-Type: api/response\nContent-Length: 10000000000\n\n+OK"))
	f.Add([]byte("Content-Length: 5\nContent-Type: text/event-plain\n\nA: b\n"))
	f.Add([]byte("Content-Length: 60\nContent-Type: text/event-json\n\n{\"Event-Name\":\"X\",\"_body\":\"y\",\"a\":[1,2]}"))
	f.Add([]byte("Event-Name: BACKGROUND_JOB\nJob-UUID: x%20y%\nContent-Length: 4\n\n+OK\n"))
	f.Add([]byte("\r\n\r\ncontent-length: 3\r\n\r\nabc"))

	f.Fuzz(func(t *testing.T, data []byte) {
		whole := fuzzFrames(t, bytes.NewReader(data))
		// 1-byte reads only on small inputs: they make minimisation slow.
		small := 1
		if len(data) > 2048 {
			small = 17
		}
		for _, n := range []int{small, 251} {
			got := fuzzFrames(t, &chunkReader{data: data, next: func() int { return n }})
			if len(got) != len(whole) {
				t.Fatalf("%d-byte reads: %d frames, whole reads %d", n, len(got), len(whole))
			}
			for i := range got {
				if got[i] != whole[i] {
					t.Fatalf("%d-byte reads: frame %d differs", n, i)
				}
			}
		}
		ev, err := ParseEvent(data)
		if err != nil {
			return
		}
		checkSearchMatchesIndex(t, data, ev)
		exerciseEvent(ev)
		roundTrip := true
		ev.Range(func(name, value string) bool {
			if value == "" || name == "Content-Length" {
				roundTrip = false // written as _undef_ / read as the body marker
			}
			return roundTrip
		})
		if !roundTrip {
			return
		}
		ev2, err := ParseEvent(ev.AppendPlain(nil))
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if ev2.Len() != ev.Len() || ev2.Body() != ev.Body() {
			t.Fatalf("round trip: %d/%d headers, body %q/%q", ev2.Len(), ev.Len(), ev2.Body(), ev.Body())
		}
		for i := 0; i < ev.Len(); i++ {
			n1, v1 := ev.Header(i)
			n2, v2 := ev2.Header(i)
			if n1 != n2 || v1 != v2 {
				t.Fatalf("round trip header %d: %q=%q vs %q=%q", i, n1, v1, n2, v2)
			}
		}
	})
}

func fuzzFrames(t *testing.T, src io.Reader) []frameRec {
	rd := NewReaderSize(src, 4096) // small: fuzzing allocates one per run
	rd.MaxFrame = 1 << 20
	var out []frameRec
	for {
		f, err := rd.ReadFrame()
		if err != nil {
			if len(rd.buf) > 2*(rd.MaxFrame+maxHeaderBlock) {
				t.Fatalf("buffer grew to %d", len(rd.buf))
			}
			return out
		}
		if len(out) > 1<<20 {
			t.Fatal("endless frames")
		}
		rec := frameRec{ct: f.ContentType, header: string(f.Header), body: string(f.Body)}
		_ = f.Get("Content-Length")
		if ev, err := f.Event(); err == nil {
			exerciseEvent(ev)
			rec.event = ev.String()
		}
		out = append(out, rec)
	}
}

func exerciseEvent(ev *Event) {
	_, _, _, _ = ev.Name(), ev.UUID(), ev.Subclass(), ev.Body()
	_ = ev.Get("Event-Name")
	_, _ = ev.Lookup("nope")
	for i := 0; i < ev.Len(); i++ {
		ev.Header(i)
	}
	ev.Range(func(string, string) bool { return true })
	_ = ev.String()
}

// checkSearchMatchesIndex checks that an event answers the same before it is
// indexed (searching its wire text) and after (indexed is another event of
// the same body, indexed here; lazy ones are made for each question, so
// none is indexed by asking too many).
func checkSearchMatchesIndex(t *testing.T, data []byte, indexed *Event) {
	t.Helper()
	lazy := func() *Event {
		e, err := ParseEvent(data)
		if err != nil {
			t.Fatalf("second parse: %v", err)
		}
		return e
	}
	for _, c := range []struct {
		what string
		get  func(*Event) string
	}{
		{"Name", (*Event).Name}, {"UUID", (*Event).UUID}, {"Subclass", (*Event).Subclass}, {"Body", (*Event).Body},
	} {
		l := lazy()
		if got, want := c.get(l), c.get(indexed); got != want || l.done.Load() {
			t.Fatalf("%s: %q before indexing, %q after", c.what, got, want)
		}
	}
	seen := map[string]bool{}
	names := []string{"nope", "Content-Length", "Event-Name:", "a\nb"}
	indexed.Range(func(name, _ string) bool {
		names = append(names, name)
		if len(name) > 1 {
			names = append(names, name[1:], name[:len(name)-1])
		}
		return true
	})
	for _, name := range names {
		if seen[name] {
			continue
		}
		seen[name] = true
		want, wok := indexed.Lookup(name)
		l := lazy()
		got, ok := l.Lookup(name)
		if got != want || ok != wok || (name != "" && l.done.Load()) {
			t.Fatalf("Lookup(%q): %q,%v before indexing, %q,%v after", name, got, ok, want, wok)
		}
	}
}
