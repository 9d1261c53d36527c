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

// BenchmarkParseEvent is the event parser alone (copy, url-decode, index) on
// 64 of the capture's 3-7 KB events, hot in cache as in the reader. Each op
// parses 20000 events; it prints ns and MB/s per event once.
func BenchmarkParseEvent(b *testing.B) {
	bodies := captureBodies(b)[:64]
	var size int64
	for _, x := range bodies {
		size += int64(len(x))
	}
	const n = 20000
	eb := new(eventBuilder).predicting()
	b.ReportAllocs()
	b.ResetTimer()
	var el time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		for k := 0; k < n; k++ {
			if _, err := eb.parsePlain(bodies[k%len(bodies)]); err != nil {
				b.Fatal(err)
			}
		}
		el += time.Since(start)
	}
	per := float64(el.Nanoseconds()) / float64(b.N*n)
	b.ReportMetric(per, "ns/event")
	parseOnce.Do(func() {
		fmt.Printf("bench: esl_parse_ns_per_event %.0f ns\n", per)
		fmt.Printf("bench: esl_parse_mb_per_s %.0f MB/s\n", float64(size)/float64(len(bodies))/per*1e3)
	})
}
