package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchlua/switchlua/esl/fssim/fstest"
	"github.com/switchlua/switchlua/host/cdr"
)

// runOut is what a run left behind.
type runOut struct {
	result
	report cdr.Report
	rows   []cdr.Row
}

// runCalls runs `switchlua run` with args plus --metrics-file and
// --summary-json in a temporary directory, and reads both back.
func runCalls(t *testing.T, timeout time.Duration, env []string, args ...string) runOut {
	t.Helper()
	p, files := startRun(t, env, args...)
	r := p.wait(t, timeout)
	return files.read(t, r)
}

type runFiles struct{ cdr, summary string }

func startRun(t *testing.T, env []string, args ...string) (*proc, runFiles) {
	t.Helper()
	dir := t.TempDir()
	f := runFiles{cdr: filepath.Join(dir, "cdr.csv"), summary: filepath.Join(dir, "summary.json")}
	args = append([]string{"run", "--metrics-file", f.cdr, "--summary-json", f.summary}, args...)
	return startBin(t, env, args...), f
}

func (f runFiles) read(t *testing.T, r result) runOut {
	t.Helper()
	out := runOut{result: r}
	if r.code != 0 {
		t.Fatalf("run failed\n%s", r)
	}
	b, err := os.ReadFile(f.summary)
	if err != nil {
		t.Fatalf("summary JSON: %v\n%s", err, r)
	}
	if err := json.Unmarshal(b, &out.report); err != nil {
		t.Fatalf("summary JSON: %v\n%s", err, b)
	}
	var keys map[string]any
	_ = json.Unmarshal(b, &keys)
	for _, k := range []string{"offered", "answered", "failed", "failed_by_cause", "achieved_cps", "peak_concurrent", "setup_latency_ms", "cdr_rows", "script_errors", "reloads", "duration_s", "cancelled"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("summary JSON lacks %q: %s", k, b)
		}
	}
	out.rows, err = cdr.Read(f.cdr)
	if err != nil {
		t.Fatalf("CDR file: %v", err)
	}
	return out
}

// targetArgs are the --host/--password flags of a fstest target.
func targetArgs(tg *fstest.Target) ([]string, []string) {
	return []string{"--host", tg.Addr}, []string{"SWITCHLUA_PASSWORD=" + tg.Password}
}

// checkAllAnswered checks a run where every offered call should succeed.
func checkAllAnswered(t *testing.T, o runOut, n int64) {
	t.Helper()
	rep := o.report
	if rep.Offered != n || rep.Answered != n || rep.Failed != 0 || rep.CDRRows != n {
		t.Errorf("summary: offered %d answered %d failed %d (%v) cdr_rows %d; want %d, %d, 0, %d\n%s",
			rep.Offered, rep.Answered, rep.Failed, rep.FailedByCause, rep.CDRRows, n, n, n, o.result)
	}
	if int64(len(o.rows)) != n {
		t.Errorf("CDR file has %d rows, want %d", len(o.rows), n)
	}
	seen := map[string]bool{}
	for _, r := range o.rows {
		if seen[r.CallUUID] {
			t.Errorf("call %s has two CDR rows", r.CallUUID)
		}
		seen[r.CallUUID] = true
		if !r.Answered() || r.HangupCause != cdr.NormalClearing {
			t.Errorf("row %+v: not answered / not NORMAL_CLEARING", r)
			break
		}
	}
	if rep.SetupLatencyMS.P50 <= 0 || rep.SetupLatencyMS.P99 < rep.SetupLatencyMS.P50 {
		t.Errorf("setup latency %+v", rep.SetupLatencyMS)
	}
	if rep.PeakConcurrent <= 0 || rep.AchievedCPS <= 0 {
		t.Errorf("peak_concurrent %d, achieved_cps %v", rep.PeakConcurrent, rep.AchievedCPS)
	}
	if !strings.Contains(o.stdout, "offered") {
		t.Errorf("no summary table on stdout\n%s", o.result)
	}
}

// TestRunBuiltinSim is issue 5's first test: no --host, the built-in
// simulator, 300 calls.
func TestRunBuiltinSim(t *testing.T) {
	o := runCalls(t, 40*time.Second, nil, "--script", "toneplay", "--rate", "50", "--limit", "100", "--max-offered", "300")
	if !regexp.MustCompile(`no --host: started the built-in FreeSWITCH simulator on 127\.0\.0\.1:\d+`).MatchString(o.stderr) {
		t.Errorf("no line saying the simulator was started\n%s", o.result)
	}
	checkAllAnswered(t, o, 300)
	for _, r := range o.rows {
		if r.SwitchluaApp != "toneplay" {
			t.Fatalf("row app %q, want toneplay", r.SwitchluaApp)
		}
	}
}

// TestRunTarget is the same against the test target: the simulator, or a
// real FreeSWITCH with SWITCHLUA_TEST_FS.
func TestRunTarget(t *testing.T) {
	tg := fstest.Start(t)
	args, env := targetArgs(tg)
	o := runCalls(t, 40*time.Second, env, append(args, "--script", "toneplay", "--rate", "50", "--limit", "100", "--max-offered", "150", "--duration", "1s")...)
	checkAllAnswered(t, o, 150)
	for _, r := range o.rows {
		if r.Node != tg.Addr {
			t.Fatalf("row node %q, want %q", r.Node, tg.Addr)
		}
	}
	if strings.Contains(o.stderr, "started the built-in") {
		t.Errorf("started the simulator although --host was given")
	}
}

// TestRunFailures: a simulator (its own process) failing 10% of originates
// with USER_BUSY.
func TestRunFailures(t *testing.T) {
	_, addr := startSim(t, "--fail-rate", "0.1", "--fail-cause", "USER_BUSY", "--seed", "7")
	const n = 400
	o := runCalls(t, 40*time.Second, nil, "--host", addr, "--script", "toneplay", "--rate", "100", "--limit", "200", "--max-offered", fmt.Sprint(n), "--duration", "500ms")
	rep := o.report
	busy := rep.FailedByCause["USER_BUSY"]
	if busy < n*5/100 || busy > n*15/100 {
		t.Errorf("USER_BUSY %d of %d, want about 10%%\n%s", busy, n, o.result)
	}
	if rep.Failed != busy || len(rep.FailedByCause) != 1 {
		t.Errorf("failed %d by cause %v, want only USER_BUSY", rep.Failed, rep.FailedByCause)
	}
	if rep.Offered != n || rep.Answered+rep.Failed != n || rep.CDRRows != n || len(o.rows) != n {
		t.Errorf("offered %d answered %d failed %d cdr_rows %d rows %d, want %d offered and one row per call",
			rep.Offered, rep.Answered, rep.Failed, rep.CDRRows, len(o.rows), n)
	}
	rowsBusy := 0
	for _, r := range o.rows {
		if r.HangupCause == "USER_BUSY" {
			rowsBusy++
		}
	}
	if int64(rowsBusy) != busy {
		t.Errorf("%d CDR rows with USER_BUSY, summary says %d", rowsBusy, busy)
	}
	if !strings.Contains(o.stdout, "USER_BUSY") {
		t.Errorf("the summary table does not show USER_BUSY\n%s", o.result)
	}
}

// TestRunTwoNodes: calls land on both simulators (two nodes of the shared
// harness: it needs the simulator).
func TestRunTwoNodes(t *testing.T) {
	a, b := fstest.Start(t), fstest.Start(t)
	a.RequireSim(t)
	addrs := []string{a.Addr, b.Addr}
	_, env := targetArgs(a)
	o := runCalls(t, 40*time.Second, env, "--host", addrs[0], "--host", addrs[1], "--script", "toneplay", "--rate", "100", "--limit", "100", "--max-offered", "200", "--duration", "500ms")
	checkAllAnswered(t, o, 200)
	per := map[string]int{}
	for _, r := range o.rows {
		per[r.Node]++
	}
	for _, a := range addrs {
		if per[a] < 50 {
			t.Errorf("node %s got %d calls (per node: %v), want both used", a, per[a], per)
		}
	}
	if len(per) != 2 {
		t.Errorf("calls on nodes %v, want exactly the two", per)
	}
}

// TestRunInterrupt: SIGINT mid-run stops offering, hangs up, writes a CDR
// row for every call and the summary, and exits within 5 s. The metrics
// endpoint is scraped while the calls run.
func TestRunInterrupt(t *testing.T) {
	tg := fstest.Start(t)
	args, env := targetArgs(tg)
	args = append(args, "--script", "toneplay", "--rate", "50", "--limit", "1000", "--duration", "30s", "--metrics-addr", "127.0.0.1:0")
	p, files := startRun(t, env, args...)

	// Scrape /metrics once calls are up.
	urlRe := regexp.MustCompile(`url=(http://\S+/metrics)`)
	var url string
	deadline := time.Now().Add(10 * time.Second)
	for url == "" {
		if m := urlRe.FindStringSubmatch(p.stderr.String()); m != nil {
			url = m[1]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no metrics url logged\n%s", p.result())
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.waitStderr(t, 15*time.Second, "msg=originating")
	time.Sleep(2 * time.Second)
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{"switchlua_originated_total", "switchlua_active_calls", "switchlua_callback_duration_seconds"} {
		if !strings.Contains(string(body), m) {
			t.Errorf("metrics lack %s", m)
		}
	}

	p.signal(t, syscall.SIGINT)
	sent := time.Now()
	r := p.wait(t, 12*time.Second)
	checkWithin(t, "exit after SIGINT", time.Since(sent), 5*time.Second)
	o := files.read(t, r)
	rep := o.report
	if rep.Offered < 20 {
		t.Errorf("only %d calls offered in 2 s at 50 cps", rep.Offered)
	}
	if rep.CDRRows != rep.Offered || int64(len(o.rows)) != rep.Offered {
		t.Errorf("offered %d, cdr_rows %d, CDR file rows %d: want a row for every call", rep.Offered, rep.CDRRows, len(o.rows))
	}
	if tg.Sim != nil {
		// Every call was hung up.
		deadline := time.Now().Add(3 * time.Second)
		for tg.Sim.ActiveChannels() != 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if n := tg.Sim.ActiveChannels(); n != 0 {
			t.Errorf("%d channels left on the simulator", n)
		}
	}
}

// TestRunInterruptRinging: SIGINT while calls still ring (the simulator's
// far end answers after 2 s) on a healthy node: the calls we hang up
// ourselves before their answer are cancelled, not failed, and each keeps
// its CDR row.
func TestRunInterruptRinging(t *testing.T) {
	_, addr := startSim(t, "--answer-delay", "2s")
	p, files := startRun(t, nil, "--host", addr, "--script", "toneplay", "--rate", "50", "--limit", "1000", "--duration", "30s")
	p.waitStderr(t, 15*time.Second, "msg=originating")
	time.Sleep(1500 * time.Millisecond)
	p.signal(t, syscall.SIGINT)
	sent := time.Now()
	r := p.wait(t, 12*time.Second)
	checkWithin(t, "exit after SIGINT", time.Since(sent), 5*time.Second)
	o := files.read(t, r)
	rep := o.report
	if rep.Failed != 0 || len(rep.FailedByCause) != 0 {
		t.Errorf("failed %d by cause %v: calls we cancelled at the stop counted failed\n%s", rep.Failed, rep.FailedByCause, r)
	}
	if rep.Offered < 20 || rep.Cancelled == 0 || rep.Cancelled+rep.Answered != rep.Offered {
		t.Errorf("offered %d answered %d cancelled %d: want every call answered or cancelled, some cancelled\n%s",
			rep.Offered, rep.Answered, rep.Cancelled, r)
	}
	if rep.CDRRows != rep.Offered || int64(len(o.rows)) != rep.Offered {
		t.Errorf("offered %d, cdr_rows %d, file rows %d: want a row for every call", rep.Offered, rep.CDRRows, len(o.rows))
	}
	for _, row := range o.rows {
		if !row.Answered() && row.HangupCause == "" {
			t.Errorf("cancelled call's row lost its cause: %+v", row)
		}
	}
	if !regexp.MustCompile(`(?m)^cancelled\s+\d+`).MatchString(r.stdout) {
		t.Errorf("the summary table does not show the cancelled calls\n%s", r)
	}
}

// TestRunInterruptConnecting: Ctrl-C while the node does not answer the
// connection yet ends the run with one line saying so, and no "stopping"
// line about calls that were never started.
func TestRunInterruptConnecting(t *testing.T) {
	silent := silentListener(t)
	p := startBin(t, nil, "run", "--script", "toneplay", "--host", silent.Addr().String(), "--metrics-addr", "127.0.0.1:0")
	// The signal handler is in place before the metrics endpoint is up; the
	// connection gives up after 3 s.
	p.waitStderr(t, 10*time.Second, "metrics endpoint")
	time.Sleep(200 * time.Millisecond)
	p.signal(t, syscall.SIGINT)
	r := p.wait(t, 10*time.Second)
	if r.code != exitError || !strings.Contains(r.stderr, "switchlua: interrupted while connecting") {
		t.Errorf("want exit 1 and the interrupted line\n%s", r)
	}
	if strings.Contains(r.stderr, "stopping") {
		t.Errorf("a stopping line though no call was started\n%s", r)
	}
}

// TestRunLintWarning: a script that loads but has a typo'd callback gets
// one warning line for it, and the run goes on.
func TestRunLintWarning(t *testing.T) {
	script := filepath.Join(t.TempDir(), "typo.lua")
	src := "function on_park(sess)\n  if sess:is_inbound() then sess:answer() end\nend\nfunction on_answr(sess) end\n"
	if err := os.WriteFile(script, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	o := runCalls(t, 30*time.Second, nil, "--script", script, "--rate", "20", "--limit", "10", "--max-offered", "5", "--duration", "300ms")
	checkAllAnswered(t, o, 5)
	if n := strings.Count(o.stderr, "on_answr is not a known callback"); n != 1 {
		t.Errorf("the typo'd callback is named %d times, want once\n%s", n, o.result)
	}
}

// metricValue is the value of the sample name{labels} (labels as written
// in the exposition, e.g. `cause="USER_BUSY"`; "" for none) in a scrape,
// -1 if it is absent.
func metricValue(body, name, labels string) float64 {
	want := name
	if labels != "" {
		want += "{" + labels + "}"
	}
	for line := range strings.Lines(body) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), " ")
		if ok && k == want {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

// TestRunMetrics scrapes /metrics during a run whose node fails some
// originates with USER_BUSY, whose script errors on every outbound leg's
// answer and is saved once (a reload): the hangup, failed-job,
// script-error and reload counters all move, and agree with the summary.
func TestRunMetrics(t *testing.T) {
	_, addr := startSim(t, "--fail-rate", "0.2", "--fail-cause", "USER_BUSY")
	script := filepath.Join(t.TempDir(), "errs.lua")
	src := func(v int) string {
		return fmt.Sprintf("-- version %d\nfunction on_park(sess)\n  if sess:is_inbound() then sess:answer() end\nend\n"+
			"function on_answer(sess)\n  if not sess:is_inbound() then error(\"boom\") end\nend\n", v)
	}
	if err := os.WriteFile(script, []byte(src(1)), 0o644); err != nil {
		t.Fatal(err)
	}
	p, files := startRun(t, nil, "--host", addr, "--script", script, "--rate", "20", "--limit", "100",
		"--duration", "300ms", "--metrics-addr", "127.0.0.1:0")
	p.waitStderr(t, 15*time.Second, "msg=originating")
	url := regexp.MustCompile(`url=(http://\S+/metrics)`).FindStringSubmatch(p.stderr.String())
	if url == nil {
		t.Fatalf("no metrics url logged\n%s", p.result())
	}
	time.Sleep(500 * time.Millisecond)
	tmp := script + ".tmp"
	if err := os.WriteFile(tmp, []byte(src(2)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, script); err != nil {
		t.Fatal(err)
	}
	p.waitStderr(t, 10*time.Second, "apps: reloaded")
	const app = `app="errs"`
	var body string
	var hangups, busy, errs, reloads, originated float64
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(url[1])
		if err != nil {
			t.Fatalf("scrape: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
		hangups = metricValue(body, "switchlua_hangups_total", `cause="NORMAL_CLEARING"`)
		busy = metricValue(body, "switchlua_failed_jobs_total", `cause="USER_BUSY"`)
		errs = metricValue(body, "switchlua_script_errors_total", app)
		reloads = metricValue(body, "switchlua_reloads_total", "")
		originated = metricValue(body, "switchlua_originated_total", "")
		if hangups >= 10 && busy >= 1 && errs >= 10 && reloads >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hangups %v, failed jobs USER_BUSY %v, script errors %v, reloads %v: want them all counted\n%s\n%s",
				hangups, busy, errs, reloads, body, p.result())
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("scraped: originated %v, NORMAL_CLEARING hangups %v, USER_BUSY failed jobs %v, script errors %v, reloads %v",
		originated, hangups, busy, errs, reloads)
	p.signal(t, syscall.SIGINT)
	o := files.read(t, p.wait(t, 12*time.Second))
	rep := o.report
	// Plausible: no more failures or errors than calls offered; the
	// summary, taken later, has at least what the scrape saw.
	if busy > originated || errs > originated || hangups > 2*originated {
		t.Errorf("originated %v: failed jobs %v, script errors %v, NORMAL_CLEARING hangups %v", originated, busy, errs, hangups)
	}
	if reloads != 1 || rep.Reloads != 1 {
		t.Errorf("reloads: metric %v, summary %d, want 1 and 1", reloads, rep.Reloads)
	}
	if float64(rep.FailedByCause["USER_BUSY"]) < busy || float64(rep.ScriptErrors) < errs || float64(rep.Offered) < originated {
		t.Errorf("summary %+v has less than the scrape: USER_BUSY %v, script errors %v, originated %v", rep, busy, errs, originated)
	}
	if n := rep.FailedByCause["USER_BUSY"]; n < 1 || n > rep.Offered/2 {
		t.Errorf("USER_BUSY %d of %d offered, want about 20%%", n, rep.Offered)
	}
}

// TestRunSetupErrors: a wrong password, an unreachable host, a broken
// script: non-zero exit and one clear line within 5 s.
func TestRunSetupErrors(t *testing.T) {
	tg := fstest.Start(t)
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.lua")
	if err := os.WriteFile(broken, []byte("function on_park(sess)\n  sess:answer(\nend\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	badEvent := filepath.Join(dir, "badevent.lua")
	if err := os.WriteFile(badEvent, []byte("on(\"CHANNEL_NOSUCH\", function(sess) end)\nfunction on_park(sess) sess:answer() end\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	silent := silentListener(t)
	tests := []struct {
		name string
		env  []string
		args []string
		want []string
	}{
		{"silent", nil, []string{"--host", silent.Addr().String()}, []string{silent.Addr().String(), "no answer"}},
		{"password", []string{"SWITCHLUA_PASSWORD=wrong-" + tg.Password}, []string{"--host", tg.Addr}, []string{tg.Addr, "authentication failed"}},
		{"refused", nil, []string{"--host", "127.0.0.1:1"}, []string{"127.0.0.1:1", "connection refused"}},
		{"unreachable", nil, []string{"--host", "192.0.2.1:8021"}, []string{"192.0.2.1:8021"}},
		{"script", nil, []string{"--host", tg.Addr}, []string{broken + ":3:"}},
		{"profile", nil, []string{"--host", tg.Addr, "--profile", "nosuch"}, []string{"node " + tg.Addr + ` has no sofia profile named "nosuch"`}},
		{"event", nil, []string{"--host", tg.Addr}, []string{badEvent + ":1:", "unknown event CHANNEL_NOSUCH"}},
		{"metrics-remote", nil, []string{"--host", tg.Addr, "--metrics-addr", "0.0.0.0:0"}, []string{"--metrics-addr 0.0.0.0:0", "loopback", "--metrics-allow-remote"}},
		{"metrics-addr", nil, []string{"--host", tg.Addr, "--metrics-addr", "metricshost"}, []string{`--metrics-addr "metricshost"`, "HOST:PORT"}},
		{"cdr-file", nil, []string{"--host", tg.Addr, "--metrics-file", filepath.Join(dir, "no", "such", "dir", "cdr.csv")}, []string{"--metrics-file", "cdr.csv"}},
		{"host", nil, []string{"--host", "fs1:notaport"}, []string{`--host "fs1:notaport"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			script := "toneplay"
			switch tc.name {
			case "script":
				script = broken
			case "event":
				script = badEvent
			}
			args := append([]string{"run", "--script", script, "--max-offered", "1"}, tc.args...)
			r := runBin(t, 10*time.Second, tc.env, args...)
			if r.code == 0 {
				t.Fatalf("exit 0\n%s", r)
			}
			checkWithin(t, "the error", r.elapsed, 5*time.Second)
			oneStderrLine(t, r, append([]string{"switchlua: "}, tc.want...)...)
			if strings.HasPrefix(tc.name, "metrics-") {
				// A bad command line: exit 2, and the address said once.
				if r.code != exitUsage {
					t.Errorf("exit %d, want %d", r.code, exitUsage)
				}
				if a := tc.args[len(tc.args)-1]; strings.Count(r.stderr, a) != 1 {
					t.Errorf("the address %s is not said exactly once:\n%s", a, r.stderr)
				}
			}
			if strings.Contains(r.stderr, "wrong-"+tg.Password) {
				t.Errorf("the password was printed")
			}
		})
	}
}

// TestRunReload saves the running script mid-run: the new version takes
// over (the summary counts the reload) and no call fails. With --no-reload
// the same save changes nothing.
func TestRunReload(t *testing.T) {
	for _, noReload := range []bool{false, true} {
		t.Run(fmt.Sprintf("noreload_%v", noReload), func(t *testing.T) {
			dir := t.TempDir()
			script := filepath.Join(dir, "answer.lua")
			src := func(v int) string {
				return fmt.Sprintf("-- version %d\nfunction on_park(sess)\n  if sess:is_inbound() then sess:answer() end\nend\n", v)
			}
			if err := os.WriteFile(script, []byte(src(1)), 0o644); err != nil {
				t.Fatal(err)
			}
			tg := fstest.Start(t)
			args, env := targetArgs(tg)
			args = append(args, "--script", script, "--rate", "20", "--limit", "100", "--max-offered", "70", "--duration", "300ms", "--log-level", "debug")
			if noReload {
				args = append(args, "--no-reload")
			}
			p, files := startRun(t, env, args...)
			p.waitStderr(t, 15*time.Second, "msg=originating")
			time.Sleep(time.Second)
			tmp := script + ".tmp"
			if err := os.WriteFile(tmp, []byte(src(2)), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, script); err != nil {
				t.Fatal(err)
			}
			o := files.read(t, p.wait(t, 30*time.Second))
			want := int64(1)
			if noReload {
				want = 0
			}
			if o.report.Reloads != want {
				t.Errorf("reloads %d, want %d\n%s", o.report.Reloads, want, o.result)
			}
			if o.report.Answered != 70 || o.report.Failed != 0 {
				t.Errorf("answered %d failed %d, want 70 and 0", o.report.Answered, o.report.Failed)
			}
		})
	}
}

// TestRunNoneAnswered: calls offered and none answered exit with status 3
// and one line saying so.
func TestRunNoneAnswered(t *testing.T) {
	_, addr := startSim(t, "--fail-rate", "1", "--fail-cause", "CALL_REJECTED")
	r := runBin(t, 20*time.Second, nil, "run", "--host", addr, "--script", "toneplay", "--rate", "20", "--max-offered", "5")
	if r.code != exitNoAnswer {
		t.Fatalf("exit %d, want %d\n%s", r.code, exitNoAnswer, r)
	}
	if !strings.Contains(r.stdout, "CALL_REJECTED") {
		t.Errorf("summary lacks the cause\n%s", r)
	}
	if !strings.Contains(r.stderr, "switchlua: 5 calls offered, none answered") {
		t.Errorf("no line saying none was answered\n%s", r)
	}
}

// TestRunPasswordNotShown: the password appears nowhere in the output, at
// debug level, in text and JSON logs.
func TestRunPasswordNotShown(t *testing.T) {
	const pw = "Zz9-not-ClueCon"
	_, addr := startSim(t, "--password", pw)
	for _, format := range []string{"text", "json"} {
		r := runBin(t, 20*time.Second, []string{"SWITCHLUA_PASSWORD=" + pw}, "run", "--host", addr, "--script", "toneplay",
			"--rate", "20", "--max-offered", "5", "--duration", "200ms", "--log-level", "debug", "--log-format", format)
		if r.code != 0 {
			t.Fatalf("run failed\n%s", r)
		}
		if strings.Contains(r.stdout+r.stderr, pw) {
			t.Errorf("the password was printed (%s logs)", format)
		}
		if format == "json" && !strings.Contains(r.stderr, `"msg":"originating"`) {
			t.Errorf("no JSON log lines\n%s", r)
		}
		// Durations read as durations, not nanoseconds.
		if want := map[string]string{"text": "duration=200ms", "json": `"duration":"200ms"`}[format]; !strings.Contains(r.stderr, want) {
			t.Errorf("%s logs lack %s\n%s", format, want, r)
		}
		r = runBin(t, 20*time.Second, nil, "run", "--host", addr, "--password", "wrong", "--script", "toneplay", "--max-offered", "1")
		if r.code != 1 || strings.Contains(r.stderr, "wrong\"") {
			t.Errorf("wrong password: exit %d\n%s", r.code, r)
		}
	}
}

// stalledRun starts a run against a `switchlua sim` process and, once calls
// are up, stops the simulator (SIGSTOP): FreeSWITCH no longer answers, so
// our hangups get no reply and the calls never end.
func stalledRun(t *testing.T) (*proc, runFiles) {
	t.Helper()
	sim, addr := startSim(t)
	t.Cleanup(func() { _ = sim.cmd.Process.Signal(syscall.SIGCONT) })
	p, files := startRun(t, nil, "--host", addr, "--script", "toneplay", "--rate", "50", "--limit", "1000", "--duration", "30s")
	p.waitStderr(t, 15*time.Second, "msg=originating")
	time.Sleep(time.Second)
	sim.signal(t, syscall.SIGSTOP)
	time.Sleep(100 * time.Millisecond)
	return p, files
}

// TestRunInterruptStalledNode: Ctrl-C while the node does not answer still
// exits within 5 s, with a CDR row for every call that ended.
func TestRunInterruptStalledNode(t *testing.T) {
	p, files := stalledRun(t)
	p.signal(t, syscall.SIGINT)
	sent := time.Now()
	r := p.wait(t, 12*time.Second)
	checkWithin(t, "exit after SIGINT", time.Since(sent), 5*time.Second)
	if r.code != 0 && r.code != exitError {
		t.Fatalf("exit %d\n%s", r.code, r)
	}
	if r.code != 0 {
		return // the watchdog: no summary to check
	}
	o := files.read(t, r)
	if o.report.CDRRows != int64(len(o.rows)) {
		t.Errorf("cdr_rows %d, file rows %d", o.report.CDRRows, len(o.rows))
	}
	var left struct {
		N *int64 `json:"calls_left_up"`
	}
	b, _ := os.ReadFile(files.summary)
	if err := json.Unmarshal(b, &left); err != nil || left.N == nil || *left.N == 0 {
		t.Errorf("summary JSON: calls_left_up missing or 0: %s", b)
	}
	if !strings.Contains(r.stdout, "calls left up") {
		t.Errorf("the summary does not say calls were left up\n%s", r)
	}
	// The calls answered before the node stalled give a setup latency,
	// though they have no row.
	if o.report.Answered > 0 && (o.report.SetupLatencyMS.P50 <= 0 || strings.Contains(r.stdout, "p50 0.0")) {
		t.Errorf("answered %d, setup latency %+v: want the latency of the answered calls left up\n%s",
			o.report.Answered, o.report.SetupLatencyMS, r)
	}
	// The calls left up have no row, yet the answered ones count as
	// answered, and all of them in the peak.
	if o.report.Answered <= o.report.CDRRows-o.report.Failed || o.report.PeakConcurrent < *left.N {
		t.Errorf("answered %d (rows %d, failed %d), peak_concurrent %d: want the %d calls left up counted",
			o.report.Answered, o.report.CDRRows, o.report.Failed, o.report.PeakConcurrent, *left.N)
	}
	if !strings.Contains(r.stderr, "calls still up") {
		t.Errorf("no warning about the calls left up\n%s", r)
	}
	if !strings.Contains(r.stderr, `clear_with="hupall NORMAL_CLEARING sip_h_X-switchlua_app toneplay"`) {
		t.Errorf("the warning does not give the command that clears the calls left up\n%s", r)
	}
}

// TestRunSecondInterrupt: a second Ctrl-C exits at once (status 130).
func TestRunSecondInterrupt(t *testing.T) {
	p, _ := stalledRun(t)
	p.signal(t, syscall.SIGINT)
	time.Sleep(300 * time.Millisecond)
	p.signal(t, syscall.SIGINT)
	sent := time.Now()
	r := p.wait(t, 5*time.Second)
	checkWithin(t, "exit after the second SIGINT", time.Since(sent), time.Second)
	if r.code != exitInterrupts {
		t.Errorf("exit %d, want %d\n%s", r.code, exitInterrupts, r)
	}
}

// TestRunWeightedApps: two scripts with weights 3 and 1 share the calls in
// that proportion, and :k=v options reach setup(ctx) as ctx.args.
func TestRunWeightedApps(t *testing.T) {
	dir := t.TempDir()
	// Each app answers its inbound legs only if its args say so.
	src := "local answer\n" +
		"function setup(ctx) answer = ctx.args.answer end\n" +
		"function on_park(sess)\n  if sess:is_inbound() and answer == 'yes' then sess:answer() end\nend\n"
	for _, n := range []string{"alpha.lua", "beta.lua"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tg := fstest.Start(t)
	args, env := targetArgs(tg)
	o := runCalls(t, 30*time.Second, env, append(args,
		"--script", filepath.Join(dir, "alpha.lua")+":weight=3:answer=yes",
		"--script", filepath.Join(dir, "beta.lua")+":answer=yes",
		"--rate", "50", "--limit", "100", "--max-offered", "80", "--duration", "300ms")...)
	checkAllAnswered(t, o, 80)
	per := map[string]int{}
	for _, r := range o.rows {
		per[r.SwitchluaApp]++
	}
	if per["alpha"] != 60 || per["beta"] != 20 {
		t.Errorf("calls per app %v, want alpha 60 and beta 20", per)
	}
}

// checkWithin checks a time bound the binary guarantees by construction
// (dial timeout, shutdown watchdog; see TestTimeBudgets). The machine is
// shared and a race-enabled process can be starved for seconds, so only a
// gross overrun (twice the bound plus 2 s: something hung) fails the test;
// a smaller one is logged.
func checkWithin(t *testing.T, what string, d, bound time.Duration) {
	t.Helper()
	switch {
	case d > 2*bound+2*time.Second:
		t.Errorf("%s took %v, want within %v", what, d, bound)
	case d > bound:
		t.Logf("%s took %v (bound %v): a loaded machine?", what, d, bound)
	}
}

// TestRunDurationUnanswered: --duration applies to calls that are never
// answered. The app takes the inbound legs and never answers, and the park
// timeout is off, so only the duration can end the calls (before, they
// rang until originate_timeout, 60 s): every call is gone a second after
// its originate, failed with ALLOTTED_TIMEOUT, and the run ends with status
// 3 (none answered).
func TestRunDurationUnanswered(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "silent.lua")
	src := "-- take the inbound leg and never answer it\nfunction on_park(sess)\n  if sess:is_inbound() then sess.vars.seen = true end\nend\n"
	if err := os.WriteFile(script, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	tg := fstest.Start(t)
	args, env := targetArgs(tg)
	p, files := startRun(t, env, append(args, "--script", script, "--rate", "10", "--limit", "100",
		"--max-offered", "5", "--duration", "1", "--park-timeout", "0")...)
	r := p.wait(t, 20*time.Second)
	if r.code != exitNoAnswer {
		t.Fatalf("exit %d, want %d (none answered)\n%s", r.code, exitNoAnswer, r)
	}
	rows, err := cdr.Read(files.cdr)
	if err != nil || len(rows) != 5 {
		t.Fatalf("CDR: %d rows, %v; want 5\n%s", len(rows), err, r)
	}
	for _, row := range rows {
		if row.Answered() || row.HangupCause != "ALLOTTED_TIMEOUT" {
			t.Errorf("row %+v: want an unanswered call ended with ALLOTTED_TIMEOUT", row)
		}
		if d := row.CallerHangup - row.JobLaunch; d < 0.9 || d > 4 {
			t.Errorf("a call lasted %.3f s from its originate, want about 1 s", d)
		}
	}
	b, _ := os.ReadFile(files.summary)
	var rep cdr.Report
	if err := json.Unmarshal(b, &rep); err != nil || rep.FailedByCause["ALLOTTED_TIMEOUT"] != 5 || rep.CallsLeftUp != 0 {
		t.Errorf("summary %s (%v): want 5 failed with ALLOTTED_TIMEOUT, none left up", b, err)
	}
}

// TestRunNodeLost kills the `switchlua sim` process a run calls, mid-run,
// for good. The run must not wait for ever: once the node has been
// unreachable for max(10 s, --duration) its calls are counted lost
// (SWITCHLUA_CONNECTION_LOST, one CDR row each), the summary still shows
// what was answered, the peak and the setup latency, and the run exits
// with status 1 and a last line saying the node was lost.
func TestRunNodeLost(t *testing.T) {
	sim, addr := startSim(t)
	p, files := startRun(t, nil, "--host", addr, "--script", "toneplay", "--rate", "50", "--limit", "1000", "--duration", "2s")
	p.waitStderr(t, 15*time.Second, "msg=originating")
	time.Sleep(1500 * time.Millisecond)
	if err := sim.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	r := p.wait(t, 30*time.Second)
	// 10 s of grace, then the summary: a generous bound for a loaded
	// machine, far from "never".
	if d := time.Since(killed); d < 10*time.Second || d > 20*time.Second {
		t.Errorf("exited %v after the node died, want just after the 10 s grace", d)
	}
	if r.code != exitError {
		t.Fatalf("exit %d, want %d\n%s", r.code, exitError, r)
	}
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	last := lines[len(lines)-1]
	if !regexp.MustCompile(`^switchlua: node 127\.0\.0\.1:\d+ lost: no connection for 10s; \d+ calls counted lost \(failed, cause SWITCHLUA_CONNECTION_LOST\)$`).MatchString(last) {
		t.Errorf("last line %q: want one saying the node was lost\n%s", last, r)
	}
	b, err := os.ReadFile(files.summary)
	if err != nil {
		t.Fatalf("summary: %v\n%s", err, r)
	}
	var rep cdr.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	rows, err := cdr.Read(files.cdr)
	if err != nil {
		t.Fatal(err)
	}
	lost, answeredRows := int64(0), int64(0)
	for _, row := range rows {
		if row.HangupCause == "SWITCHLUA_CONNECTION_LOST" {
			lost++
		}
		if row.Answered() {
			answeredRows++
		}
	}
	if lost == 0 || rep.FailedByCause["SWITCHLUA_CONNECTION_LOST"] != lost {
		t.Errorf("%d rows lost, summary failed_by_cause %v", lost, rep.FailedByCause)
	}
	if !strings.Contains(last, fmt.Sprintf("; %d calls counted lost", lost)) {
		t.Errorf("last line %q: want the %d lost calls", last, lost)
	}
	if rep.Offered < 50 || rep.CDRRows != rep.Offered || int64(len(rows)) != rep.Offered || rep.CallsLeftUp != 0 {
		t.Errorf("offered %d, cdr_rows %d, file rows %d, calls_left_up %d: want a row for every call, none left up",
			rep.Offered, rep.CDRRows, len(rows), rep.CallsLeftUp)
	}
	// The calls up when the node died were answered (toneplay answers at
	// once): their rows say so, so the summary counts them, their setup
	// latency and the peak.
	if rep.Answered == 0 || rep.Answered != answeredRows || rep.PeakConcurrent == 0 || rep.SetupLatencyMS.P50 <= 0 {
		t.Errorf("answered %d (rows: %d), peak %d, setup latency %+v: want the lost calls' answers, peak and latency (%d lost)",
			rep.Answered, answeredRows, rep.PeakConcurrent, rep.SetupLatencyMS, lost)
	}
}

// silentListener is a loopback port that accepts connections and never says
// a word (a hung FreeSWITCH, or something else listening there); it holds
// them until the test ends.
func silentListener(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				_ = c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	return ln
}
