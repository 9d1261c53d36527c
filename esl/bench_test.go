package esl_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/percipia/eslgo"
	"github.com/percipia/eslgo/command"

	"github.com/switchlua/switchlua/esl"
	"github.com/switchlua/switchlua/esl/esltest"
)

const loadCapture = "../testdata/transcripts/load-100calls.raw.gz"

// ingestFrames returns the CHANNEL_* sized event frames of the load capture
// (3-7 KB, 100+ headers) and the name of a header late in the first one.
func ingestFrames(tb testing.TB) ([][]byte, string) {
	all, err := esltest.LoadFrames(loadCapture)
	if err != nil {
		tb.Fatal(err)
	}
	var frames [][]byte
	late := ""
	for _, f := range all {
		if len(f) < 3000 || len(f) > 7500 {
			continue
		}
		frames = append(frames, f)
		if late == "" {
			rd := esl.NewReader(bytes.NewReader(f))
			fr, _ := rd.ReadFrame()
			ev, err := fr.Event()
			if err == nil && ev.Len() >= 100 {
				late, _ = ev.Header(ev.Len() - 3)
			}
		}
	}
	if len(frames) < 1000 || late == "" {
		tb.Fatalf("only %d frames of 3-7 KB in the capture", len(frames))
	}
	return frames, late
}

var printOnce sync.Once

// BenchmarkIngest measures events/s from a loopback server replaying the real
// capture's 3-7 KB events, in one run: (a) esl.Conn with a consumer that reads
// Name, UUID and a late header of every event; (b) eslgo v1.4.1's connection
// with an all-events listener; (c) a bare loop reading and discarding the same
// bytes (the loopback ceiling). It prints `bench:` lines once.
func BenchmarkIngest(b *testing.B) {
	frames, late := ingestFrames(b)
	var size int
	for _, f := range frames {
		size += len(f)
	}
	const (
		nOurs  = 300_000
		nEslgo = 40_000
	)
	var res ingestResult
	for i := 0; i < b.N; i++ {
		res = runIngest(b, frames, late, nOurs, nEslgo)
	}
	printOnce.Do(func() {
		fmt.Printf("bench: esl_ingest_event_bytes %d B\n", size/len(frames))
		fmt.Printf("bench: esl_ingest_events_per_s %.0f ev/s\n", res.ours)
		fmt.Printf("bench: eslgo_ingest_events_per_s %.0f ev/s\n", res.eslgo)
		fmt.Printf("bench: loopback_read_events_per_s %.0f ev/s\n", res.ceiling)
		fmt.Printf("bench: esl_ingest_vs_eslgo %.1f x\n", res.ours/res.eslgo)
		fmt.Printf("bench: esl_ingest_vs_loopback %.2f x\n", res.ours/res.ceiling)
		fmt.Printf("bench: esl_allocs_per_event %.2f allocs\n", res.allocs)
		fmt.Printf("bench: esl_bytes_per_event %.0f B\n", res.bytes)
		fmt.Printf("bench: esl_ingest_cpu_us_per_event %.2f us\n", res.oursCPU)
		fmt.Printf("bench: eslgo_ingest_cpu_us_per_event %.2f us\n", res.eslgoCPU)
		fmt.Printf("bench: loopback_read_cpu_us_per_event %.2f us\n", res.ceilingCPU)
		fmt.Printf("bench: esl_ingest_cpu_vs_eslgo %.1f x\n", res.eslgoCPU/res.oursCPU)
	})
	b.ReportMetric(res.ours, "ev/s")
}

type ingestResult struct {
	ours, eslgo, ceiling float64 // events/s
	allocs, bytes        float64 // per event, ours
	// CPU time of the whole process per event (the in-process server's
	// included, the same for all three), in microseconds: robust when the
	// machine is shared and throughput is noisy.
	oursCPU, eslgoCPU, ceilingCPU float64
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// perEvent runs f (which handles n events and returns how many it did) and
// returns the CPU microseconds per event.
func cpuPerEvent(f func() int) float64 {
	c0 := cpuTime()
	n := f()
	return float64(cpuTime()-c0) / float64(time.Microsecond) / float64(n)
}

// runIngest measures the three in turn, twice, and keeps each one's best
// round: the machine is shared, and the first round also warms up the heap
// (a long-running consumer's is warm).
func runIngest(b *testing.B, frames [][]byte, late string, nOurs, nEslgo int) ingestResult {
	var r ingestResult
	for range 2 {
		var x ingestResult
		x.ceilingCPU = cpuPerEvent(func() int {
			x.ceiling = ingestCeiling(b, frames, nOurs)
			return nOurs
		})
		x.oursCPU = cpuPerEvent(func() int {
			x.ours, x.allocs, x.bytes = ingestOurs(b, frames, late, nOurs)
			return nOurs
		})
		var got int
		x.eslgoCPU = cpuPerEvent(func() int {
			x.eslgo, got = ingestEslgo(b, frames, late, nEslgo)
			return got
		})
		if x.ceiling > r.ceiling {
			r.ceiling, r.ceilingCPU = x.ceiling, x.ceilingCPU
		}
		if x.ours > r.ours {
			r.ours, r.oursCPU, r.allocs, r.bytes = x.ours, x.oursCPU, x.allocs, x.bytes
		}
		if x.eslgo > r.eslgo {
			r.eslgo, r.eslgoCPU = x.eslgo, x.eslgoCPU
		}
	}
	return r
}

func startServer(b *testing.B, frames [][]byte, n int) *esltest.Server {
	srv, err := esltest.Start(esltest.Config{Frames: frames, Count: n})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	return srv
}

// ingestCeiling reads the stream's bytes and throws them away.
func ingestCeiling(b *testing.B, frames [][]byte, n int) float64 {
	srv := startServer(b, frames, n)
	nc, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	buf := make([]byte, 128<<10)
	readUntil := func(s string) {
		var got []byte
		for !containsStr(got, s) {
			k, err := nc.Read(buf)
			if err != nil {
				b.Fatal(err)
			}
			got = append(got, buf[:k]...)
		}
	}
	readUntil("auth/request\n\n")
	nc.Write([]byte("auth ClueCon\n\n"))
	readUntil("+OK accepted\n\n")
	reply := "Content-Type: command/reply\nReply-Text: +OK event listener enabled plain\n\n"
	want := srv.StreamBytes() + int64(len(reply))
	start := time.Now()
	nc.Write([]byte("event plain ALL\n\n"))
	var total int64
	for total < want {
		k, err := nc.Read(buf)
		if err != nil {
			b.Fatal(err)
		}
		total += int64(k)
	}
	return float64(n) / time.Since(start).Seconds()
}

func containsStr(b []byte, s string) bool {
	return len(b) >= len(s) && string(b[len(b)-len(s):]) == s
}

// ingestOurs runs esl.Conn with an Events consumer.
func ingestOurs(b *testing.B, frames [][]byte, late string, n int) (evps, allocs, bytes float64) {
	srv := startServer(b, frames, n)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := esl.Dial(ctx, srv.Addr(), esl.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	start := time.Now()
	if err := c.Subscribe(ctx, "ALL"); err != nil {
		b.Fatal(err)
	}
	var sink int
	for i := 0; i < n; i++ {
		ev, ok := <-c.Events()
		if !ok {
			b.Fatalf("stream ended after %d events: %v", i, c.Err())
		}
		sink += len(ev.Name()) + len(ev.UUID()) + len(ev.Get(late))
	}
	el := time.Since(start)
	runtime.ReadMemStats(&m1)
	if sink == 0 {
		b.Fatal("nothing read")
	}
	return float64(n) / el.Seconds(),
		float64(m1.Mallocs-m0.Mallocs) / float64(n),
		float64(m1.TotalAlloc-m0.TotalAlloc) / float64(n)
}

// ingestEslgo runs eslgo v1.4.1's inbound connection with an all-events
// listener; it stops at n events or 20 s.
func ingestEslgo(b *testing.B, frames [][]byte, late string, n int) (float64, int) {
	srv := startServer(b, frames, n)
	opts := eslgo.DefaultInboundOptions
	opts.Logger = eslgo.NilLogger{}
	c, err := opts.Dial(srv.Addr())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	var count atomic.Int64
	var sink atomic.Int64
	done := make(chan struct{})
	c.RegisterEventListener(eslgo.EventListenAll, func(ev *eslgo.Event) {
		sink.Add(int64(len(ev.GetName()) + len(ev.GetHeader("Unique-ID")) + len(ev.GetHeader(late))))
		if count.Add(1) == int64(n) {
			close(done)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if _, err := c.SendCommand(ctx, command.Event{Format: "plain", Listen: []string{"ALL"}}); err != nil {
		b.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(20 * time.Second):
	}
	el := time.Since(start)
	got := count.Load()
	if got == 0 {
		b.Fatal("eslgo received nothing")
	}
	return float64(got) / el.Seconds(), int(got)
}
