package esl

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

const transcripts = "../testdata/transcripts"

var (
	transcriptMu    sync.Mutex
	transcriptCache = map[string][]byte{}
)

// transcript returns the server bytes of a capture: gunzipped, and without
// the `>>> command` lines selfcall-media.raw interleaves.
func transcript(t testing.TB, name string) []byte {
	t.Helper()
	transcriptMu.Lock()
	defer transcriptMu.Unlock()
	if b, ok := transcriptCache[name]; ok {
		return b
	}
	b, err := os.ReadFile(filepath.Join(transcripts, name))
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(name, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if b, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	if bytes.Contains(b, []byte("\n>>> ")) || bytes.HasPrefix(b, []byte(">>> ")) {
		var out []byte
		for _, line := range bytes.SplitAfter(b, []byte("\n")) {
			if !bytes.HasPrefix(line, []byte(">>> ")) {
				out = append(out, line...)
			}
		}
		b = out
	}
	transcriptCache[name] = b
	return b
}

// frameRec is a frame and its parsed event, copied out of the reader.
type frameRec struct {
	ct, header, body string
	event            string // the event re-serialized, for comparison
}

func readAllFrames(t testing.TB, src io.Reader) []frameRec {
	t.Helper()
	return readAllFramesFrom(t, NewReader(src))
}

func readAllFramesFrom(t testing.TB, rd *Reader) []frameRec {
	t.Helper()
	var out []frameRec
	for {
		f, err := rd.ReadFrame()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("frame %d: %v", len(out), err)
		}
		rec := frameRec{ct: f.ContentType, header: string(f.Header), body: string(f.Body)}
		if f.ContentType == TypeEventPlain {
			ev, err := f.Event()
			if err != nil {
				t.Fatalf("frame %d: event: %v", len(out), err)
			}
			rec.event = ev.String()
		}
		out = append(out, rec)
	}
}

// chunkReader returns its data a few bytes at a time.
type chunkReader struct {
	data []byte
	next func() int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := c.next()
	n = min(n, len(p), len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

func TestReaderTranscripts(t *testing.T) {
	cases := []struct {
		name              string
		events, replies   int
		auth, disconnects int
	}{
		{"session.raw", -1, -1, 1, 1},
		{"errors.raw", 1, 6, 1, 1},
		{"badauth.raw", 0, 1, 1, 1},
		{"selfcall-media.raw", -1, -1, 1, -1},
		{"load-100calls.raw.gz", 3800, 302, 1, -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := transcript(t, tc.name)
			frames := readAllFrames(t, bytes.NewReader(data))
			count := map[string]int{}
			for _, f := range frames {
				count[f.ct]++
			}
			// Every Content-Type line at the start of a frame is a frame: no
			// event body holds one, so counting lines checks the framing.
			if want := bytes.Count(data, []byte("\nContent-Type: ")) + boolInt(bytes.HasPrefix(data, []byte("Content-Type: "))); len(frames) != want {
				t.Errorf("%d frames, want %d (%v)", len(frames), want, count)
			}
			check := func(what string, got, want int) {
				if want >= 0 && got != want {
					t.Errorf("%s: %d, want %d", what, got, want)
				}
			}
			check("events", count[TypeEventPlain], tc.events)
			check("replies", count[TypeCommandReply]+count[TypeAPIResponse], tc.replies)
			check("auth", count[TypeAuthRequest], tc.auth)
			check("disconnects", count[TypeDisconnect], tc.disconnects)
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Frames split at every byte boundary (1-byte reads) and at random sizes
// parse exactly as whole reads do.
func TestReaderSplitReads(t *testing.T) {
	names := []string{"session.raw", "errors.raw", "badauth.raw", "selfcall-media.raw"}
	if !testing.Short() {
		names = append(names, "load-100calls.raw.gz")
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			data := transcript(t, name)
			if name == "load-100calls.raw.gz" {
				data = data[:2<<20] // enough for the buffer to wrap many times
				data = data[:bytes.LastIndex(data, []byte("Content-Length: "))]
			}
			want := readAllFrames(t, bytes.NewReader(data))
			rng := rand.New(rand.NewPCG(1, uint64(len(data))))
			sizes := map[string]func() int{
				"1":        func() int { return 1 },
				"2":        func() int { return 2 },
				"3":        func() int { return 3 },
				"7":        func() int { return 7 },
				"1000":     func() int { return 1000 },
				"rand1-64": func() int { return 1 + rng.IntN(64) },
				"rand1-9k": func() int { return 1 + rng.IntN(9000) },
			}
			for sname, next := range sizes {
				if sname == "1" && len(data) > 200<<10 {
					continue
				}
				got := readAllFrames(t, &chunkReader{data: data, next: next})
				if len(got) != len(want) {
					t.Fatalf("reads of %s: %d frames, want %d", sname, len(got), len(want))
				}
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("reads of %s: frame %d differs:\n%+v\nwant\n%+v", sname, i, got[i], want[i])
					}
				}
			}
		})
	}
}

// Every split point of a small transcript into two reads.
func TestReaderEverySplitPoint(t *testing.T) {
	for _, name := range []string{"errors.raw", "badauth.raw"} {
		data := transcript(t, name)
		want := readAllFrames(t, bytes.NewReader(data))
		for k := 0; k <= len(data); k++ {
			got := readAllFrames(t, io.MultiReader(bytes.NewReader(data[:k]), bytes.NewReader(data[k:])))
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%s split at %d differs", name, k)
			}
		}
	}
}

func TestReaderErrors(t *testing.T) {
	cases := []struct {
		name, in string
		want     error
	}{
		{"hostile length", "Content-Type: api/response\nContent-Length: 10000000000\n\n+OK", ErrFrameTooLarge},
		{"huge length", "Content-Length: 99999999999999999999999\n\n", ErrProtocol},
		{"bad length", "Content-Type: api/response\nContent-Length: 12abc\n\n", ErrProtocol},
		{"negative length", "Content-Length: -5\n\n", ErrProtocol},
		{"cut body", "Content-Type: api/response\nContent-Length: 10\n\n+OK", io.ErrUnexpectedEOF},
		{"cut header", "Content-Type: api/resp", io.ErrUnexpectedEOF},
		{"endless header", strings.Repeat("X-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", 2000), ErrFrameTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rd := NewReader(strings.NewReader(tc.in))
			_, err := rd.ReadFrame()
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if _, err2 := rd.ReadFrame(); err2 != err {
				t.Fatalf("error not sticky: %v", err2)
			}
		})
	}
}

func TestReaderHostileLengthAllocatesLittle(t *testing.T) {
	in := "Content-Type: api/response\nContent-Length: 60000000\n\n" + strings.Repeat("x", 1000)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	rd := NewReader(strings.NewReader(in))
	_, err := rd.ReadFrame()
	runtime.ReadMemStats(&after)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v", err)
	}
	if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
		t.Fatalf("allocated %d bytes for a 60 MB announcement with 1 KB of data", d)
	}
	rd = NewReader(strings.NewReader(in))
	rd.MaxFrame = 1 << 20
	if _, err := rd.ReadFrame(); !errors.Is(err, ErrFrameTooLarge) || !strings.Contains(err.Error(), "60000000") {
		t.Fatalf("MaxFrame: %v", err)
	}
}

func TestReaderLenientFraming(t *testing.T) {
	// CRLF line ends, blank lines between frames, header case, unknown types.
	in := "\r\n\ncontent-type: api/response\r\ncontent-length: 4\r\n\r\n+OK\n\n\n" +
		"Content-Type: x/unknown\nSome-Header: 1\n\n" +
		"Content-Type: command/reply\nReply-Text: +OK\n\n"
	rd := NewReader(strings.NewReader(in))
	var got []string
	for {
		f, err := rd.ReadFrame()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, f.ContentType+"|"+f.Get("content-LENGTH")+"|"+string(f.Body)+"|"+f.Get("Reply-Text"))
	}
	want := "api/response|4|+OK\n|,x/unknown|||,command/reply|||+OK"
	if strings.Join(got, ",") != want {
		t.Fatalf("got %q\nwant %q", strings.Join(got, ","), want)
	}
}

// Making an event costs two allocations (the Event and its copy of the
// body); indexing it one more (its compact string).
func TestEventAllocs(t *testing.T) {
	data := transcript(t, "session.raw")
	rd := NewReader(bytes.NewReader(data))
	var body []byte
	for body == nil {
		f, err := rd.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if f.ContentType == TypeEventPlain {
			body = append([]byte(nil), f.Body...)
		}
	}
	ParseEvent(body)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := ParseEvent(body); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 2 && !raceOn {
		t.Fatalf("%v allocations to make an event", allocs)
	}
	evs := make([]*Event, 200)
	for i := range evs {
		evs[i], _ = ParseEvent(body)
	}
	i := 0
	allocs = testing.AllocsPerRun(100, func() {
		evs[i].Len()
		i++
	})
	if allocs > 1 && !raceOn {
		t.Fatalf("%v allocations to index an event", allocs)
	}
}

// Small buffers exercise compaction and growth on every capture.
func TestReaderSmallBuffers(t *testing.T) {
	for _, name := range []string{"session.raw", "selfcall-media.raw"} {
		data := transcript(t, name)
		want := readAllFrames(t, bytes.NewReader(data))
		got := readAllFramesFrom(t, NewReaderSize(&chunkReader{data: data, next: func() int { return 1000 }}, 4096))
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: small compacting buffer differs", name)
		}
	}
}
