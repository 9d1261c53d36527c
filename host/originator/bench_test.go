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
	"runtime/debug"
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
// process.
const (
	targetCPS  = 1000
	benchLimit = 20000
)

// benchSpec is one run of BenchmarkOriginate: a fresh simulator process,
// offers calls offered at rate, each lasting dur.
type benchSpec struct {
	prefix string  // of the bench: lines
	rate   float64 // calls/s asked
	offers int64
	dur    time.Duration // 0: automatic (Limit/Rate + AutoDurationOffset)
	// toLimit: the calls outlive the ramp, so the run climbs to benchLimit
	// calls up, then stays in the limit region (an offer only when a call
	// ends). cps is then the ramp's rate and atEnd the limit region's.
	toLimit bool
}

// benchSpecs are the runs. The first is the issue's: 1000 calls/s with
// automatic call durations (21 s), 26000 calls: the 20 s ramp to 20000
// calls up, then ~6 s in the limit region, where the calls offered 21 s
// earlier end at the rate they were offered and each end lets one offer
// through. Asking for exactly the target cannot show it is met with room
// to spare (a run paced at 1000/s achieves a hair under 1000), so the
// second asks for 1500 calls/s for 8 s, with calls of 3 s so its last 5 s
// are steady state (offers, hangups and call ends at once, ~4500 calls
// up) and the whole benchmark stays around 45 s.
var benchSpecs = []benchSpec{
	{prefix: "originate_", rate: targetCPS, offers: 26 * targetCPS, toLimit: true},
	{prefix: "originate_1500_", rate: 1.5 * targetCPS, offers: 8 * 1500, dur: 3 * time.Second},
}

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

// resetPeakRSS resets this process's peak RSS (Linux: clear_refs 5), so
// peakRSS gives each run's own.
func resetPeakRSS() {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// peakRSS is this process's peak RSS in MB since the last resetPeakRSS
// (VmHWM), else ru's (since the process started).
func peakRSS(ru *syscall.Rusage) float64 {
	if st, err := os.ReadFile("/proc/self/status"); err == nil {
		for line := range strings.Lines(string(st)) {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				var kb float64
				if _, err := fmt.Sscanf(strings.TrimSpace(v), "%f kB", &kb); err == nil {
					return kb / 1024
				}
			}
		}
	}
	return float64(ru.Maxrss) / 1024
}

func selfRusage() *syscall.Rusage {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return &ru
}

// BenchmarkOriginate runs the Originator with a limit of 20000 against the
// simulator in its own process (a fresh one per run of benchSpecs), with a
// Lua app answering every inbound leg; after each run every call is hung
// up and the tracking is checked (every count back to 0 in the
// Originator, the pool and the simulator). It prints each run's figures
// (the 1000 calls/s run to the limit: originate_cps over the ramp,
// originate_cps_at_limit in the limit region, originate_peak_concurrent;
// the 1500 calls/s run: originate_1500_cps, originate_1500_cps_steady),
// the CPU and peak RSS of both processes, and originate_sustained_cps: the
// highest rate kept over a whole run (and no lower once calls ended as
// fast as they were offered) by a run with no failed call. Any tracking
// error fails the benchmark. SWITCHLUA_BENCH_SIM_CPUPROFILE=FILE profiles
// the simulator (of the last run).
func BenchmarkOriginate(b *testing.B) {
	var args []string
	if f := os.Getenv("SWITCHLUA_BENCH_SIM_CPUPROFILE"); f != "" {
		args = append(args, "-cpuprofile", f)
	}
	bin := buildSimProc(b)
	for range b.N {
		best := 0.0
		var errs int64
		for _, s := range benchSpecs {
			r := originateRun(b, bin, args, s)
			r.print(s)
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

// benchRun is one run's figures.
type benchRun struct {
	// cps: offers/s from the first to the last offer, or to the
	// benchLimit-th for a run to the limit (the ramp); atEnd: from the
	// first call end to the last offer (0: none).
	cps, atEnd     float64
	errs           int64 // tracking errors
	failed, missed int64
	offered, peak  int64
	ours, theirs   float64 // CPU seconds
	elapsed        time.Duration
	rss, simRSS    float64 // peak RSS in MB of this run (rss: of the process so far if it cannot be reset)
	counts         Counts
	stats          host.Stats
	simStats       fssim.Stats
}

// sustained is the rate kept over the whole run, including its end (the
// steady state, or the limit region).
func (r benchRun) sustained() float64 {
	if r.atEnd > 0 {
		return min(r.cps, r.atEnd)
	}
	return r.cps
}

func (r benchRun) print(s benchSpec) {
	p := s.prefix
	fmt.Printf("bench: %scps %.0f calls/s\n", p, r.cps)
	if s.toLimit {
		fmt.Printf("bench: %scps_vs_target %.2f x\n", p, r.cps/targetCPS)
		if r.atEnd > 0 {
			fmt.Printf("bench: %scps_at_limit %.0f calls/s\n", p, r.atEnd)
			fmt.Printf("bench: %scps_at_limit_vs_target %.2f x\n", p, r.atEnd/targetCPS)
		}
	} else {
		fmt.Printf("bench: %scps_vs_asked %.3f x\n", p, r.cps/s.rate)
		if r.atEnd > 0 {
			fmt.Printf("bench: %scps_steady %.0f calls/s\n", p, r.atEnd)
		}
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
	if s.toLimit && r.peak < benchLimit {
		fmt.Printf("at %.0f calls/s: the limit was not reached (peak %d of %d; %d offers missed): no limit region\n",
			s.rate, r.peak, benchLimit, r.missed)
	}
	if r.errs != 0 || r.failed != 0 {
		fmt.Printf("at %.0f calls/s: counts %v, failed by cause %v; pool %+v; sim %+v\n",
			s.rate, r.counts, r.counts.FailedByCause, r.stats, r.simStats)
	}
}

// originateRun runs s on a fresh simulator process, then hangs every call
// up and counts the tracking errors.
func originateRun(b *testing.B, bin string, args []string, s benchSpec) benchRun {
	sim := startSimProc(b, bin, args...)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	o, err := New(Config{Rate: s.rate, Limit: benchLimit, MaxOffered: s.offers, Duration: s.dur,
		Apps: []App{{ID: "answer", Weight: 1}}})
	if err != nil {
		b.Fatal(err)
	}
	// The hooks time the offers, the benchLimit-th (the end of the ramp)
	// and the first call end: from then on an offer replaces a call that
	// ended (the limit region) or calls end as fast as they are offered.
	var rows, nOffers, offersAtFirstEnd atomic.Int64
	var tFirst, tRamp, tFirstEnd, tLast atomic.Int64
	o.cfg.OnOffer = func(of Offer) {
		ns := of.Time.UnixNano()
		switch nOffers.Add(1) {
		case 1:
			tFirst.Store(ns)
		case benchLimit:
			tRamp.Store(ns)
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

	debug.FreeOSMemory() // the previous run's memory, so the peak RSS is this run's
	resetPeakRSS()
	ru0 := selfRusage()
	t0 := time.Now()
	if err := o.Start(); err != nil {
		b.Fatal(err)
	}
	window := time.Duration(float64(s.offers) / s.rate * float64(time.Second))
	for o.State() == Originating {
		time.Sleep(50 * time.Millisecond)
		if time.Since(t0) > 2*window+10*time.Second {
			b.Fatalf("still originating at %.0f calls/s: %v", s.rate, o.Counts())
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
	wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
	waitErr := o.Wait(wctx)
	wcancel()
	r.elapsed = time.Since(t0)
	ru1 := selfRusage()
	r.rss = peakRSS(ru1)

	// Tracking errors: calls that never ended, counts that did not return
	// to 0 (the Originator's, each node's, the pool's, the simulator's),
	// sessions left, untracked events, lost events.
	c = o.Counts()
	r.errs = c.Active + (c.Offered - c.Ended)
	for _, nc := range c.Nodes {
		r.errs += abs(nc.Active)
	}
	if waitErr != nil {
		fmt.Printf("at %.0f calls/s: not STOPPED: %v (%v)\n", s.rate, waitErr, c)
		r.errs++
	}
	for range 200 {
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
	r.errs += abs(int64(sim.stats.LegsCreated) - int64(sim.stats.LegsDestroyed))

	r.counts = c
	r.failed, r.missed, r.offered = c.Failed, c.Missed, c.Offered
	r.ours = cpuSeconds(ru1) - cpuSeconds(ru0)
	r.theirs = cpuSeconds(ru)
	r.simRSS = float64(ru.Maxrss) / 1024
	r.cps = c.AvgCPS
	if t := tRamp.Load(); s.toLimit && t > 0 {
		r.cps = float64(benchLimit-1) / time.Duration(t-tFirst.Load()).Seconds()
	}
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
