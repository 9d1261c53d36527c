package main

// The tests of this package run the BUILT binary: TestMain builds it once
// into a temporary directory with `go build` and every test runs it as a
// subprocess, bounded in time.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// bin is the path of the built switchlua binary.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "switchlua-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "switchlua")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, ".")...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building switchlua:", err)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// result is what one run of the binary gave.
type result struct {
	stdout, stderr string
	code           int
	elapsed        time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("exit %d after %v\n--- stdout:\n%s\n--- stderr:\n%s", r.code, r.elapsed.Round(time.Millisecond), r.stdout, r.stderr)
}

// runBin runs the binary with args until it exits or timeout passes (then
// it is killed and the test fails).
func runBin(t *testing.T, timeout time.Duration, env []string, args ...string) result {
	t.Helper()
	p := startBin(t, env, args...)
	return p.wait(t, timeout)
}

// proc is the binary running in the background.
type proc struct {
	cmd     *exec.Cmd
	stdout  *lockedBuffer
	stderr  *lockedBuffer
	lines   chan string // stdout, line by line
	started time.Time
	done    chan struct{}
	waitErr error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startBin starts the binary in the background; it is killed when the test
// ends if still running.
func startBin(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(testEnv(), env...)
	p := &proc{cmd: cmd, stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, lines: make(chan string, 1024), done: make(chan struct{})}
	pr, pw := io.Pipe()
	cmd.Stdout = io.MultiWriter(p.stdout, pw)
	cmd.Stderr = p.stderr
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	go func() {
		p.waitErr = cmd.Wait()
		_ = pw.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// testEnv is the environment of the binary: ours without the variables
// that would change its flags.
func testEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "SWITCHLUA_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// signal sends sig to the process.
func (p *proc) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// wait waits for the process to exit, at most timeout.
func (p *proc) wait(t *testing.T, timeout time.Duration) result {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		_ = p.cmd.Process.Signal(syscall.SIGQUIT) // a goroutine dump on stderr
		select {
		case <-p.done:
		case <-time.After(2 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		t.Fatalf("switchlua %s did not exit within %v\n%s", strings.Join(p.cmd.Args[1:], " "), timeout, p.result())
	}
	return p.result()
}

func (p *proc) result() result {
	r := result{stdout: p.stdout.String(), stderr: p.stderr.String(), elapsed: time.Since(p.started)}
	select {
	case <-p.done:
	default:
		r.code = -1 // still running
		return r
	}
	var ee *exec.ExitError
	switch {
	case p.waitErr == nil:
	case errors.As(p.waitErr, &ee):
		r.code = ee.ExitCode()
		if st, ok := ee.Sys().(syscall.WaitStatus); ok && st.Signaled() {
			r.code = 128 + int(st.Signal())
		}
	default:
		r.code = -1
	}
	return r
}

// waitLine waits for a stdout line matching re and returns its submatches.
func (p *proc) waitLine(t *testing.T, timeout time.Duration, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ln, ok := <-p.lines:
			if !ok {
				t.Fatalf("no line matching %v\n%s", re, p.result())
			}
			if m := re.FindStringSubmatch(ln); m != nil {
				return m
			}
		case <-p.done:
			// drain what is left
			for {
				select {
				case ln := <-p.lines:
					if m := re.FindStringSubmatch(ln); m != nil {
						return m
					}
				default:
					t.Fatalf("exited before a line matching %v\n%s", re, p.result())
				}
			}
		case <-deadline:
			t.Fatalf("no line matching %v within %v\n%s", re, timeout, p.result())
		}
	}
}

// simListening matches the line `switchlua sim` prints when ready.
var simListening = regexp.MustCompile(`listening on (\S+)`)

// startSim runs `switchlua sim` on a free loopback port with extra flags and
// returns its ESL address.
func startSim(t *testing.T, args ...string) (*proc, string) {
	t.Helper()
	p := startBin(t, nil, append([]string{"sim", "--listen", "127.0.0.1:0", "--log-level", "warn"}, args...)...)
	m := p.waitLine(t, 10*time.Second, simListening)
	return p, m[1]
}

// ctxT is a context bounded by timeout and the test.
func ctxT(t *testing.T, timeout time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return ctx
}

// oneStderrLine checks that stderr is one line that contains every want.
func oneStderrLine(t *testing.T, r result, want ...string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	if len(lines) != 1 {
		t.Errorf("stderr has %d lines, want 1\n%s", len(lines), r)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q\n%s", w, r)
		}
	}
}

// waitStderr waits until stderr contains s; it fails the test if the
// process exits first or timeout passes.
func (p *proc) waitStderr(t *testing.T, timeout time.Duration, s string) {
	t.Helper()
	deadline := time.After(timeout)
	for !strings.Contains(p.stderr.String(), s) {
		select {
		case <-p.done:
			if strings.Contains(p.stderr.String(), s) {
				return
			}
			t.Fatalf("exited before logging %q\n%s", s, p.result())
		case <-deadline:
			t.Fatalf("%q not logged within %v\n%s", s, timeout, p.result())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
