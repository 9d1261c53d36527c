package originator

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/switchlua/switchlua/bindings"
	"github.com/switchlua/switchlua/esl/fssim"
	"github.com/switchlua/switchlua/host"
	"github.com/switchlua/switchlua/host/cdr"
)

// Issue 5's performance target: >= 1000 calls/s sustained with a limit of
// 20000 erlangs and zero tracking errors, against a simulator in its own
// process. The benchmark asks for the target and for a rate above it
// (benchRates): asking for exactly the target cannot show it is met (a run
// paced at 1000/s achieves a hair under 1000).
const (
	targetCPS  = 1000
	benchLimit = 20000
	// benchWindow is how long each rate is offered; benchDuration is each
	// call's length, so the last part of the window has calls ending as
	// fast as they are offered (the steady state: offers, hangups and call
	// ends at once, about rate*benchDuration calls up).
	benchWindow   = 11 * time.Second
	benchDuration = 5 * time.Second
)

// benchRates are the offered rates tried, in calls/s.
var benchRates = []float64{targetCPS, 1.5 * targetCPS}

// simProc is the simulator running as a child process.
type simProc struct {
	cmd   *exec.Cmd
	addr  string
	stdin interface{ Close() error }
	out   *bufio.Scanner
	stats fssim.Stats
}

// buildSimProc builds host/originator/internal/simproc and returns its path.
func buildSimProc(b *testing.B) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "simproc")
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "go"
	}
	build := exec.Command(gobin, "build", "-o", bin, "./internal/simproc")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("building simproc: %v\n%s", err, out)
	}
	return bin
}

// startSimProc starts the simproc binary bin.
func startSimProc(b *testing.B, bin string, args ...string) *simProc {
	b.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	p := &simProc{cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout)}
	b.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	if !p.out.Scan() {
		b.Fatal("simproc printed no address")
	}
	addr, ok := strings.CutPrefix(p.out.Text(), "listening ")
	if !ok {
		b.Fatalf("simproc: %q", p.out.Text())
	}
	p.addr = addr
	return p
}

// stop ends the simulator and returns its rusage.
func (p *simProc) stop(b *testing.B) *syscall.Rusage {
	b.Helper()
	_ = p.stdin.Close()
	for p.out.Scan() {
		if js, ok := strings.CutPrefix(p.out.Text(), "stats "); ok {
			_ = json.Unmarshal([]byte(js), &p.stats)
		}
	}
	if err := p.cmd.Wait(); err != nil {
		b.Fatalf("simproc: %v", err)
	}
	return p.cmd.ProcessState.SysUsage().(*syscall.Rusage)
}

func cpuSeconds(ru *syscall.Rusage) float64 {
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func selfRusage() *syscall.Rusage {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return &ru
}

// BenchmarkOriginate runs the Originator with a limit of 20000 against the
// simulator in its own process (a fresh one per rate), with a Lua app
// answering every inbound leg, at each rate of benchRates for benchWindow
// (calls lasting benchDuration); then every call is hung up and the
// tracking is checked. It prints each rate's figures, prefixed
// originate_ for the target rate and originate_RATE_ for the others, and
// originate_sustained_cps: the highest rate achieved (offers/s from the
// first to the last offer, and no lower once calls end as fast as they are
// offered) by a run with no failed call. Any tracking error fails the
// benchmark. SWITCHLUA_BENCH_SECONDS changes the window;
// SWITCHLUA_BENCH_SIM_CPUPROFILE=FILE profiles the simulator (of the last
// rate).
func BenchmarkOriginate(b *testing.B) {
	window := benchWindow
	if v, err := strconv.ParseFloat(os.Getenv("SWITCHLUA_BENCH_SECONDS"), 64); err == nil && v > 0 {
		window = time.Duration(v * float64(time.Second))
	}
	var args []string
	if f := os.Getenv("SWITCHLUA_BENCH_SIM_CPUPROFILE"); f != "" {
		args = append(args, "-cpuprofile", f)
	}
	bin := buildSimProc(b)
	for range b.N {
		best := 0.0
		var errs int64
		for _, rate := range benchRates {
			r := originateAt(b, bin, args, rate, window)
			r.print(rate)
			errs += r.errs
			if r.errs == 0 && r.failed == 0 {
				best = max(best, r.sustained())
			}
		}
		fmt.Printf("bench: originate_sustained_cps %.0f calls/s\n", best)
		fmt.Printf("bench: originate_sustained_cps_vs_target %.2f x\n", best/targetCPS)
		if errs != 0 {
			b.Fatalf("%d tracking errors (see originate_*tracking_errors)", errs)
		}
	}
}

// benchRun is one rate's figures.
type benchRun struct {
	cps, atEnd     float64 // offers/s: first to last offer; from the first call end to the last offer (0: none)
	errs           int64   // tracking errors
	failed, missed int64
	offered, peak  int64
	ours, theirs   float64 // CPU seconds
	elapsed        time.Duration
	rss, simRSS    float64 // MB
	counts         Counts
	stats          host.Stats
	simStats       fssim.Stats
}

// sustained is the rate kept over the whole window, including its
// steady-state end.
func (r benchRun) sustained() float64 {
	if r.atEnd > 0 {
		return min(r.cps, r.atEnd)
	}
	return r.cps
}

func (r benchRun) print(rate float64) {
	p := "originate_"
	if rate != targetCPS {
		p = fmt.Sprintf("originate_%.0f_", rate)
	}
	fmt.Printf("bench: %scps %.0f calls/s\n", p, r.cps)
	fmt.Printf("bench: %scps_vs_asked %.3f x\n", p, r.cps/rate)
	if r.atEnd > 0 {
		fmt.Printf("bench: %scps_steady %.0f calls/s\n", p, r.atEnd)
	}
	fmt.Printf("bench: %stracking_errors %d count\n", p, r.errs)
	fmt.Printf("bench: %sfailed %d calls\n", p, r.failed)
	fmt.Printf("bench: %smissed_offers %d calls\n", p, r.missed)
	fmt.Printf("bench: %speak_concurrent %d calls\n", p, r.peak)
	fmt.Printf("bench: %scpu_per_1000_calls %.3f s\n", p, r.ours/float64(max(r.offered, 1))*1000)
	fmt.Printf("bench: %scpu_core %.0f %%\n", p, 100*r.ours/r.elapsed.Seconds())
	fmt.Printf("bench: %ssim_cpu_per_1000_calls %.3f s\n", p, r.theirs/float64(max(r.offered, 1))*1000)
	fmt.Printf("bench: %ssim_cpu_core %.0f %%\n", p, 100*r.theirs/r.elapsed.Seconds())
	fmt.Printf("bench: %speak_rss %.0f MB\n", p, r.rss)
	fmt.Printf("bench: %ssim_peak_rss %.0f MB\n", p, r.simRSS)
	if r.errs != 0 || r.failed != 0 {
		fmt.Printf("at %.0f calls/s: counts %v, failed by cause %v; pool %+v; sim %+v\n",
			rate, r.counts, r.counts.FailedByCause, r.stats, r.simStats)
	}
}

// originateAt offers rate calls/s for window on a fresh simulator process,
// then hangs every call up and counts the tracking errors.
func originateAt(b *testing.B, bin string, args []string, rate float64, window time.Duration) benchRun {
	sim := startSimProc(b, bin, args...)
	offers := int64(rate * window.Seconds())

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	o, err := New(Config{Rate: rate, Limit: benchLimit, MaxOffered: offers, Duration: benchDuration,
		Apps: []App{{ID: "answer", Weight: 1}}})
	if err != nil {
		b.Fatal(err)
	}
	// The hooks time the offers, and the first call end: from then on
	// calls end as fast as they are offered.
	var rows, nOffers, offersAtFirstEnd atomic.Int64
	var tFirst, tFirstEnd, tLast atomic.Int64
	o.cfg.OnOffer = func(of Offer) {
		ns := of.Time.UnixNano()
		if nOffers.Add(1) == 1 {
			tFirst.Store(ns)
		}
		tLast.Store(ns)
	}
	o.cfg.OnCallEnd = func(cdr.Row) {
		if rows.Add(1) == 1 {
			tFirstEnd.Store(time.Now().UnixNano())
			offersAtFirstEnd.Store(nOffers.Load())
		}
	}
	hc := host.Config{}
	o.Hook(&hc)
	pool, err := host.DialPool(ctx, []string{sim.addr}, hc)
	if err != nil {
		b.Fatal(err)
	}
	sc, err := compileAnswer()
	if err != nil {
		b.Fatal(err)
	}
	if err := pool.Load(ctx, sc); err != nil {
		b.Fatal(err)
	}
	if err := o.Attach(ctx, pool); err != nil {
		b.Fatal(err)
	}

	ru0 := selfRusage()
	t0 := time.Now()
	if err := o.Start(); err != nil {
		b.Fatal(err)
	}
	for o.State() == Originating {
		time.Sleep(50 * time.Millisecond)
		if time.Since(t0) > 2*window+10*time.Second {
			b.Fatalf("still originating at %.0f calls/s: %v", rate, o.Counts())
		}
	}
	// Let the last originates complete, then hang everything up.
	deadline := time.Now().Add(10 * time.Second)
	c := o.Counts()
	for ; c.Answered+c.Failed < c.Offered && time.Now().Before(deadline); c = o.Counts() {
		time.Sleep(20 * time.Millisecond)
	}
	var r benchRun
	r.peak = c.Peak
	o.Stop(true)
	wctx, wcancel := context.WithTimeout(context.Background(), 20*time.Second)
	waitErr := o.Wait(wctx)
	wcancel()
	r.elapsed = time.Since(t0)
	ru1 := selfRusage()

	// Tracking errors: calls that never ended, counts that did not return
	// to 0, sessions left, untracked events.
	c = o.Counts()
	r.errs = c.Active + (c.Offered - c.Ended)
	if waitErr != nil {
		fmt.Printf("at %.0f calls/s: not STOPPED: %v (%v)\n", rate, waitErr, c)
		r.errs++
	}
	for range 100 {
		if r.stats = pool.Stats(); r.stats.Sessions == 0 && r.stats.Calls == 0 && r.stats.Jobs == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	st := r.stats
	r.errs += int64(st.Sessions+st.Calls+st.Jobs) + int64(st.Untracked) + int64(st.ParkTimeouts)
	if n := rows.Load(); n != c.Ended {
		r.errs += abs(n - c.Ended)
	}
	o.Close()
	pool.Close()
	ru := sim.stop(b)
	r.simStats = sim.stats
	r.errs += int64(sim.stats.ActiveChannels) + int64(sim.stats.EventsLost)

	r.counts = c
	r.failed, r.missed, r.offered = c.Failed, c.Missed, c.Offered
	r.ours = cpuSeconds(ru1) - cpuSeconds(ru0)
	r.theirs = cpuSeconds(ru)
	r.rss, r.simRSS = float64(ru1.Maxrss)/1024, float64(ru.Maxrss)/1024
	r.cps = c.AvgCPS
	if e := tFirstEnd.Load(); e > 0 && tLast.Load()-e > int64(time.Second) {
		r.atEnd = float64(nOffers.Load()-offersAtFirstEnd.Load()) / time.Duration(tLast.Load()-e).Seconds()
	}
	return r
}

// compileAnswer is the app that answers every inbound leg.
func compileAnswer() (bindings.AppSpec, error) {
	sc, err := bindings.CompileFile("testdata/answer.lua")
	return bindings.AppSpec{ID: "answer", Scripts: []bindings.Script{sc}}, err
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
