package esl

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"
)

func captureBodies(tb testing.TB) [][]byte {
	rd := NewReader(bytes.NewReader(transcript(tb, "load-100calls.raw.gz")))
	var out [][]byte
	for {
		f, err := rd.ReadFrame()
		if err == io.EOF {
			return out
		}
		if err != nil {
			tb.Fatal(err)
		}
		if f.ContentType == TypeEventPlain && len(f.Body) >= 3000 {
			out = append(out, append([]byte(nil), f.Body...))
		}
	}
}

var parseOnce sync.Once

// BenchmarkParseEvent is the event parser alone on 64 of the capture's 3-7
// KB events, hot in cache as in the reader: making the event (the copy of
// the body the reader does), searching it for a late header and Unique-ID
// without indexing (what a consumer that reads a few headers pays), and
// indexing it (url-decoding and interning every header: what a consumer that
// ranges over the headers pays). Each op handles 20000 events; it prints ns
// per event once.
func BenchmarkParseEvent(b *testing.B) {
	bodies := captureBodies(b)[:64]
	var size int64
	for _, x := range bodies {
		size += int64(len(x))
	}
	first, _ := ParseEvent(bodies[0])
	late, _ := first.Header(first.Len() - 3)
	// In rounds of 32 events (about what one read of the socket holds), so
	// that memory is reused as in a stream.
	const n, round = 20000, 32
	evs := make([]*Event, round)
	var mk, look, index time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k0 := -n / 4; k0 < n; k0 += round { // the first quarter warms the heap up
			if k0 == 0 {
				mk, look, index = 0, 0, 0
			}
			start := time.Now()
			for k := range evs {
				ev, err := ParseEvent(bodies[(k0+n+k)%len(bodies)])
				if err != nil {
					b.Fatal(err)
				}
				evs[k] = ev
			}
			mk += time.Since(start)
			start = time.Now()
			for _, ev := range evs {
				if ev.UUID() == "" || ev.Get(late) == "" {
					b.Fatal("lookup")
				}
			}
			look += time.Since(start)
			start = time.Now()
			for _, ev := range evs {
				ev.Len()
			}
			index += time.Since(start)
		}
	}
	const done = (n + round - 1) / round * round // per op, timed
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N*done) }
	b.ReportMetric(per(index), "ns/index")
	parseOnce.Do(func() {
		fmt.Printf("bench: esl_event_make_ns %.0f ns\n", per(mk))
		fmt.Printf("bench: esl_event_uuid_and_late_get_ns %.0f ns\n", per(look))
		fmt.Printf("bench: esl_event_index_ns %.0f ns\n", per(index))
		fmt.Printf("bench: esl_event_index_mb_per_s %.0f MB/s\n", float64(size)/float64(len(bodies))/per(index)*1e3)
	})
}
