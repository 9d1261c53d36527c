package fssim

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// benchClient drives self-calls as a host would: bgapi originate, uuid_answer
// of each inbound leg on its CHANNEL_PARK, uuid_kill of each outbound leg on
// its CHANNEL_PARK, counting events and destroyed legs. It parses only what
// it needs.
type benchClient struct {
	nc        net.Conn
	w         *bufio.Writer
	wmu       sync.Mutex
	events    int
	bytes     int64
	destroyed int
	jobsOK    int
	jobsErr   int
	done      chan struct{}
	want      int // destroyed legs to wait for
	hangup    bool
}

func (b *benchClient) send(cmd string) {
	b.wmu.Lock()
	b.w.WriteString(cmd)
	b.w.WriteString("\n\n")
	b.wmu.Unlock()
}

func (b *benchClient) flush() {
	b.wmu.Lock()
	b.w.Flush()
	b.wmu.Unlock()
}

// header finds "name: value" in an event body.
func header(body []byte, name string) []byte {
	i := bytes.Index(body, []byte("\n"+name+": "))
	if i < 0 {
		return nil
	}
	v := body[i+len(name)+3:]
	if j := bytes.IndexByte(v, '\n'); j >= 0 {
		v = v[:j]
	}
	return v
}

func (b *benchClient) readLoop() {
	br := bufio.NewReaderSize(b.nc, 256<<10)
	var body []byte
	for {
		cl := -1
		ctype := ""
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(line) == 1 {
				break
			}
			if bytes.HasPrefix(line, []byte("Content-Length: ")) {
				cl, _ = strconv.Atoi(string(line[16 : len(line)-1]))
			} else if bytes.HasPrefix(line, []byte("Content-Type: ")) {
				ctype = string(line[14 : len(line)-1])
			}
		}
		if cl < 0 {
			continue
		}
		if cap(body) < cl {
			body = make([]byte, cl)
		}
		body = body[:cl]
		if _, err := io.ReadFull(br, body); err != nil {
			return
		}
		if ctype != "text/event-plain" {
			continue
		}
		b.events++
		b.bytes += int64(cl)
		name := header(body, "Event-Name")
		if name == nil {
			name = body[len("Event-Name: "):bytes.IndexByte(body, '\n')]
		}
		switch string(name) {
		case "CHANNEL_PARK":
			uuid := string(header(body, "Unique-ID"))
			if string(header(body, "Call-Direction")) == "inbound" {
				b.send("api uuid_answer " + uuid)
			} else if b.hangup {
				b.send("api uuid_kill " + uuid)
			}
			if br.Buffered() == 0 {
				b.flush()
			}
		case "BACKGROUND_JOB":
			if bytes.Contains(body, []byte("\n\n+OK")) {
				b.jobsOK++
			} else {
				b.jobsErr++
			}
		case "CHANNEL_DESTROY":
			b.destroyed++
			if b.destroyed == b.want {
				close(b.done)
			}
		}
		if br.Buffered() == 0 {
			b.flush()
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runSelfCalls originates calls self-calls at most inflight at a time and
// waits until every leg is destroyed (hangup: kill each call when its
// outbound leg parks). It returns the elapsed time and the client.
func runSelfCalls(tb testing.TB, s *Sim, addr string, calls, inflight int, hangup bool) (time.Duration, *benchClient) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	defer nc.Close()
	bc := &benchClient{nc: nc, w: bufio.NewWriterSize(nc, 64<<10), done: make(chan struct{}), want: 2 * calls, hangup: hangup}
	bc.send("auth ClueCon")
	bc.send("event plain CHANNEL_CREATE CHANNEL_ORIGINATE CHANNEL_ANSWER CHANNEL_PARK CHANNEL_HANGUP " +
		"CHANNEL_HANGUP_COMPLETE CHANNEL_DESTROY CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE BACKGROUND_JOB")
	bc.flush()
	go bc.readLoop()
	start := time.Now()
	for i := 0; i < calls; i++ {
		for {
			st := s.Stats()
			if int(st.LegsCreated-st.LegsDestroyed)/2 < inflight || !hangup {
				break
			}
			time.Sleep(200 * time.Microsecond)
		}
		bc.send("bgapi originate {origination_caller_id_number=1112223333,sip_h_X-switchlua_app=bench}" +
			"sofia/external/bench@127.0.0.1:5080 &park()")
		if i%16 == 15 {
			bc.flush()
		}
	}
	bc.flush()
	if !hangup {
		deadline := time.Now().Add(120 * time.Second)
		for s.Stats().CallsAnswered < uint64(calls) && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		return time.Since(start), bc
	}
	select {
	case <-bc.done:
	case <-time.After(120 * time.Second):
		tb.Fatalf("timeout: %+v", s.Stats())
	}
	return time.Since(start), bc
}

// BenchmarkSelfCalls measures the simulator's own throughput: self-calls
// originated, answered and hung up by one ESL client as fast as it can,
// with the load capture's subscriptions. The baseline, in the same run, is
// copying the same number of event bytes over loopback TCP.
func BenchmarkSelfCalls(b *testing.B) {
	const calls, inflight = 5000, 1000
	for i := 0; i < b.N; i++ {
		s := New(Config{SessionsPerSecond: 1 << 30, MaxSessions: 1 << 30, HeartbeatInterval: -1})
		addr, err := s.Start("127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		cpu0 := cpuTime()
		elapsed, bc := runSelfCalls(b, s, addr, calls, inflight, true)
		cpu := cpuTime() - cpu0
		s.Close()
		if bc.jobsOK != calls {
			b.Fatalf("%d of %d originates succeeded", bc.jobsOK, calls)
		}
		base := tcpCopyRate(b, bc.events, int(bc.bytes/int64(bc.events)))
		evPerCPU := float64(bc.events) / cpu.Seconds()
		if i == 0 {
			fmt.Printf("bench: fssim_selfcalls_per_s %.0f calls/s\n", float64(calls)/elapsed.Seconds())
			fmt.Printf("bench: fssim_events_per_s %.0f events/s\n", float64(bc.events)/elapsed.Seconds())
			fmt.Printf("bench: fssim_cpu_per_call %.0f us\n", float64(cpu.Microseconds())/calls)
			fmt.Printf("bench: fssim_events_per_cpu_s %.0f events/s\n", evPerCPU)
			fmt.Printf("bench: fssim_events_vs_tcp_copy %.3f x\n", evPerCPU/base)
		}
	}
}

// tcpCopyRate is the baseline: frames per CPU-second (of this process, both
// ends) of writing n frames of size bytes over loopback TCP and reading them
// back framed the same way. CPU time, not wall time, so that other load on
// the machine matters less.
func tcpCopyRate(tb testing.TB, n, size int) float64 {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	frame := []byte("Content-Length: " + strconv.Itoa(size) + "\nContent-Type: text/event-plain\n\n")
	frame = append(frame, bytes.Repeat([]byte("x"), size)...)
	cpu0 := cpuTime()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		w := bufio.NewWriterSize(c, 64<<10)
		for i := 0; i < n; i++ {
			w.Write(frame)
		}
		w.Flush()
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReaderSize(c, 256<<10)
	buf := make([]byte, size)
	for i := 0; i < n; i++ {
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				tb.Fatal(err)
			}
			if len(line) == 1 {
				break
			}
		}
		io.ReadFull(br, buf)
	}
	return float64(n) / (cpuTime() - cpu0).Seconds()
}

// BenchmarkConcurrentCalls holds 20000 answered self-calls (issue 5's
// limit): originates/s to get there and the heap per call.
func BenchmarkConcurrentCalls(b *testing.B) {
	const calls = 20000
	for i := 0; i < b.N; i++ {
		s := New(Config{SessionsPerSecond: 1 << 30, MaxSessions: 1 << 30, HeartbeatInterval: -1})
		addr, err := s.Start("127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		elapsed, _ := runSelfCalls(b, s, addr, calls, calls, false)
		runtime.GC()
		runtime.ReadMemStats(&m1)
		if f := os.Getenv("FSSIM_HEAPPROF"); f != "" {
			if fh, err := os.Create(f); err == nil {
				pprof.WriteHeapProfile(fh)
				fh.Close()
			}
		}
		active := s.ActiveChannels()
		s.Close()
		if active != 2*calls {
			b.Fatalf("%d channels up, want %d", active, 2*calls)
		}
		if i == 0 {
			fmt.Printf("bench: fssim_20k_calls_setup_per_s %.0f calls/s\n", calls/elapsed.Seconds())
			fmt.Printf("bench: fssim_heap_per_call %.0f bytes\n", float64(m1.HeapInuse-m0.HeapInuse)/calls)
		}
	}
}
