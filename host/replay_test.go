package host

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The callback latency benchmark replays the capture from a server in its own
// process: the Listener's process then holds only what a real deployment
// holds (the esl reader, its writer and the Listener), and neither the
// pacing goroutine nor the server's writes compete with them for the Go
// scheduler's two Ps or add to their garbage. The server is this test binary
// run again with replayEnv set (see TestMain).

// replayEnv, when set in a test binary's environment, makes it the paced
// replay server instead of running tests.
const replayEnv = "SWITCHLUA_HOST_REPLAY_SERVER"

// TestMain runs the tests, or the replay server when started as one.
func TestMain(m *testing.M) {
	if os.Getenv(replayEnv) != "" {
		if err := replayMain(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "replay server:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// replayTick is how long the replay server sleeps between writes at least:
// each write carries the events that fell due meanwhile (a handful at the
// benchmark's rates), as FreeSWITCH's socket carries the events queued for a
// connection since its last write.
const replayTick = 100 * time.Microsecond

// replayMaxWrite bounds the frames of one write (about 256 KB): a server
// that fell behind catches up in writes of this size rather than in one
// huge one.
const replayMaxWrite = 64

// replayMain is the replay server. It loads the capture named by replayEnv,
// listens on a free loopback port and prints "listening ADDR"; it serves one
// ESL client (any password; api gets "+OK", bgapi its Job-UUID, the rest
// "+OK"). Each line "stream RATE N" on in makes it write the capture's event
// frames (cycling) at RATE events/s until N are written, then print one line
// "sent FIRST COUNT UNIXNANO" per write (the frames FIRST..FIRST+COUNT-1 of
// the stream, and the wall clock just before the write), then "done CPU
// WALL" (its CPU time and the wall time of the stream, in ns). It ends when
// in is closed.
func replayMain(in io.Reader, out io.Writer) error {
	frames, err := readCaptureFrames(os.Getenv(replayEnv))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	fmt.Fprintf(out, "listening %s\n", ln.Addr())
	nc, err := ln.Accept()
	if err != nil {
		return err
	}
	defer nc.Close()
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	var wmu sync.Mutex // replies and stream writes go out whole
	write := func(b []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		_, err := nc.Write(b)
		return err
	}
	if err := write([]byte("Content-Type: auth/request\n\n")); err != nil {
		return err
	}
	go serveCommands(nc, write)

	// The frames back to back, so a write is a slice of them (no copy).
	var blob []byte
	ends := make([]int, len(frames))
	for i, f := range frames {
		blob = append(blob, f...)
		ends[i] = len(blob)
	}
	startOf := func(k int) int {
		if k == 0 {
			return 0
		}
		return ends[k-1]
	}
	sc := bufio.NewScanner(in)
	bw := bufio.NewWriter(out)
	next := 0 // index of the next frame of the stream
	for sc.Scan() {
		var rate float64
		var n int
		if _, err := fmt.Sscanf(sc.Text(), "stream %g %d", &rate, &n); err != nil || rate <= 0 {
			return fmt.Errorf("bad command %q", sc.Text())
		}
		var log []replaySent
		var ru0 syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
		start := time.Now()
		for i := 0; i < n; {
			due := min(n, int(time.Since(start).Seconds()*rate)+1)
			if due > i {
				// At most replayMaxWrite frames, and not past the end of
				// the capture: when behind, the next write follows at once.
				k := (next + i) % len(frames)
				cnt := min(due-i, replayMaxWrite, len(frames)-k)
				at := time.Now().UnixNano()
				if err := write(blob[startOf(k):ends[k+cnt-1]]); err != nil {
					return err
				}
				log = append(log, replaySent{next + i, cnt, at})
				if i += cnt; i < due {
					continue
				}
			}
			// A plain nanosleep: the Go scheduler would round a sleep this
			// short up to a millisecond in an otherwise idle process.
			ts := syscall.NsecToTimespec(int64(replayTick))
			_ = syscall.Nanosleep(&ts, nil)
		}
		next += n
		for _, w := range log {
			fmt.Fprintf(bw, "sent %d %d %d\n", w.first, w.count, w.at)
		}
		fmt.Fprintf(bw, "done %d %d\n", cpuSince(&ru0), time.Since(start))
		if err := bw.Flush(); err != nil {
			return err
		}
	}
	return sc.Err()
}

// serveCommands answers the client's commands until the connection ends.
func serveCommands(nc net.Conn, write func([]byte) error) {
	r := bufio.NewReaderSize(nc, 64<<10)
	for {
		lines, err := readCommand(r)
		if err != nil {
			return
		}
		if write([]byte(replyTo(lines, nil))) != nil {
			return
		}
	}
}

// replayServer is the replay server running in a child process.
type replayServer struct {
	cmd   *exec.Cmd
	addr  string
	stdin io.WriteCloser
	out   *bufio.Scanner
}

// replaySent is one write of the replay server: frames first..first+count-1
// of the stream, written at at (wall clock, Unix nanoseconds).
type replaySent struct {
	first, count int
	at           int64
}

// startReplay starts this test binary again as the replay server of the
// capture at path; it is stopped when the test ends.
func startReplay(tb testing.TB, path string) *replayServer {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), replayEnv+"="+path)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	p := &replayServer{cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout)}
	tb.Cleanup(func() {
		_ = stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	if !p.out.Scan() {
		tb.Fatal("replay server printed no address")
	}
	addr, ok := strings.CutPrefix(p.out.Text(), "listening ")
	if !ok {
		tb.Fatalf("replay server: %q", p.out.Text())
	}
	p.addr = addr
	return p
}

// stream makes the server write n frames at rate events/s and returns its
// writes once all are written, and the share of a core the server used
// meanwhile.
func (p *replayServer) stream(tb testing.TB, rate float64, n int) (sent []replaySent, cores float64) {
	tb.Helper()
	if _, err := fmt.Fprintf(p.stdin, "stream %g %d\n", rate, n); err != nil {
		tb.Fatal(err)
	}
	for p.out.Scan() {
		line := p.out.Text()
		var cpu, wall int64
		if _, err := fmt.Sscanf(line, "done %d %d", &cpu, &wall); err == nil {
			return sent, float64(cpu) / float64(max(wall, 1))
		}
		var s replaySent
		if _, err := fmt.Sscanf(line, "sent %d %d %d", &s.first, &s.count, &s.at); err != nil {
			tb.Fatalf("replay server: %q", line)
		}
		sent = append(sent, s)
	}
	tb.Fatalf("replay server ended: %v", p.out.Err())
	return nil, 0
}

// cpuSince is the process's CPU time (user and system) since ru0, in ns.
func cpuSince(ru0 *syscall.Rusage) int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano()
}
