package main

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchlua/switchlua/esl"
	"github.com/switchlua/switchlua/host/cdr"
	"github.com/switchlua/switchlua/scripts/builtin"
)

func TestListApps(t *testing.T) {
	r := runBin(t, 20*time.Second, nil, "list-apps")
	if r.code != 0 {
		t.Fatalf("list-apps failed\n%s", r)
	}
	for _, a := range builtin.List() {
		if !strings.Contains(r.stdout, "\n"+a.Name+"\n") && !strings.HasPrefix(r.stdout, a.Name+"\n") {
			t.Errorf("list-apps lacks %s\n%s", a.Name, r)
		}
		if !strings.Contains(r.stdout, "    "+a.Summary()) {
			t.Errorf("list-apps lacks the doc comment of %s (%q)\n%s", a.Name, a.Summary(), r)
		}
	}
	if !strings.Contains(r.stdout, "toneplay") {
		t.Errorf("no toneplay\n%s", r)
	}

	r = runBin(t, 20*time.Second, nil, "list-apps", "--short")
	if r.code != 0 || strings.Count(r.stdout, "\n") != len(builtin.List()) {
		t.Fatalf("list-apps --short: want one line per app\n%s", r)
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.lua", "function on_park(sess)\n  sess:answer()\nend\n")
	typo := write("typo.lua", "-- a typo\nfunction on_park(sess) end\n\nfunction on_answr(sess)\n  sess:hangup()\nend\n")
	broken := write("broken.lua", "function on_park(sess)\n  if sess then\nend\n")

	tests := []struct {
		name string
		args []string
		code int
		out  []string // lines stdout must contain
		sum  string   // the stderr line's count, if checked
	}{
		{"good", []string{good}, 0, []string{good + ": ok"}, ""},
		{"builtin", []string{"toneplay"}, 0, []string{"builtin/toneplay.lua: ok"}, ""},
		{"typo", []string{good, typo}, 1, []string{typo + ":4: on_answr is not a known callback (did you mean on_answer?)"}, "1 problem(s) in 2 script(s)"},
		{"typo-missing", []string{typo, filepath.Join(dir, "nope.lua")}, 1, []string{typo + ":4:", "nope.lua: no such file"}, "2 problem(s) in 2 script(s)"},
		{"syntax", []string{broken}, 1, []string{broken + ":"}, "1 problem(s) in 1 script(s)"},
		{"missing", []string{filepath.Join(dir, "nope.lua")}, 1, []string{"nope.lua: no such file"}, "1 problem(s) in 1 script(s)"},
		{"dir", []string{dir}, 1, []string{good + ": ok", typo + ":4:", broken + ":"}, "2 problem(s) in 3 script(s)"},
		{"none", nil, 2, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runBin(t, 20*time.Second, nil, append([]string{"check"}, tc.args...)...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\n%s", r.code, tc.code, r)
			}
			for _, w := range tc.out {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("stdout lacks %q\n%s", w, r)
				}
			}
			if tc.code != 0 {
				oneStderrLine(t, r, "switchlua: ", tc.sum)
			}
		})
	}

	// A syntax error names file:line.
	r := runBin(t, 20*time.Second, nil, "check", broken)
	if !strings.HasPrefix(r.stdout, broken+":") || !strings.Contains(r.stdout, ": ") {
		t.Errorf("syntax error not reported as file:line: message\n%s", r)
	}
}

func TestPlot(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "cdr.csv")
	w, err := cdr.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := range 200 {
		c := start.Add(time.Duration(i) * 20 * time.Millisecond)
		row := cdr.Row{
			SwitchluaApp: "toneplay", HangupCause: cdr.NormalClearing,
			JobLaunch:    cdr.Seconds(c.Add(-2 * time.Millisecond)),
			CallerCreate: cdr.Seconds(c), CallerReqOriginate: cdr.Seconds(c.Add(time.Millisecond)),
			CallerOriginate: cdr.Seconds(c.Add(time.Millisecond)),
			CalleeCreate:    cdr.Seconds(c.Add(3 * time.Millisecond)),
			CalleeAnswer:    cdr.Seconds(c.Add(10 * time.Millisecond)),
			CallerAnswer:    cdr.Seconds(c.Add(12 * time.Millisecond)),
			CallerHangup:    cdr.Seconds(c.Add(2 * time.Second)),
			CalleeHangup:    cdr.Seconds(c.Add(2 * time.Second)),
			ActiveSessions:  int64(2 * min(i, 100)), Erlangs: int64(min(i, 100)),
			Node: "127.0.0.1:8021", CallUUID: "u" + string(rune('a'+i%26)),
		}
		if err := w.Write(row); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.png")
	r := runBin(t, 30*time.Second, nil, "plot", in, "-o", out)
	if r.code != 0 {
		t.Fatalf("plot failed\n%s", r)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a valid PNG: %v", err)
	}
	if sz := img.Bounds().Size(); sz.X != 1600 || sz.Y != 1200 {
		t.Errorf("PNG is %v, want 1600x1200", sz)
	}

	// Errors: a missing file, an empty CDR.
	r = runBin(t, 20*time.Second, nil, "plot", filepath.Join(dir, "missing.csv"), "-o", out)
	if r.code != 1 {
		t.Errorf("plot of a missing file: exit %d\n%s", r.code, r)
	}
	oneStderrLine(t, r, "missing.csv")
	empty := filepath.Join(dir, "empty.csv")
	if err := os.WriteFile(empty, []byte(strings.Join(cdr.Columns, ",")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = runBin(t, 20*time.Second, nil, "plot", empty)
	if r.code != 1 {
		t.Errorf("plot of an empty CDR: exit %d\n%s", r.code, r)
	}
	oneStderrLine(t, r, "no CDR rows")
}

func TestBadCommandLine(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"run", "--bogus"}, "unknown flag --bogus"},
		{[]string{"run", "--rate", "fast"}, "--rate"},
		{[]string{"nosuchcommand"}, `no command "nosuchcommand"`},
		{[]string{"sim", "--fail-rate", "10"}, "--fail-rate"},
		{[]string{"plot"}, "plot"},
		{[]string{"sim", "--fail-cause", "NOT_A_CAUSE"}, `--fail-cause "NOT_A_CAUSE": not a FreeSWITCH hangup cause`},
		{[]string{"sim", "--fail-cause", "9999"}, "not a FreeSWITCH hangup cause"},
		// A --script spec that cannot be used is a command-line error too.
		{[]string{"run", "--script", "toneplay:weight=x"}, `weight "x" is not a whole number`},
		{[]string{"run", "--script", "toneplay:=v"}, `"toneplay:=v" is not a file or app name`},
		{[]string{"run", "--script", "toneplay:app=a b"}, "only letters"},
		{[]string{"run", "--script", "toneplay", "--script", "TonePlay"}, "given twice"},
		{[]string{"run", "--script", "no/such/app.lua"}, "no such file"},
		{[]string{"run", "--script", "nosuchapp"}, "no such file or built-in app"},
		{[]string{"serve", "--script", "toneplay:weight=-1", "--host", "127.0.0.1:1"}, "not a whole number"},
		{[]string{"serve", "--script", "toneplay", "--default-app", "nope", "--host", "127.0.0.1:1"}, `--default-app "nope" is none of the scripts' apps (toneplay)`},
		{[]string{"run", "--script", "toneplay", "--park-timeout", "-1s"}, "--park-timeout must not be negative"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, "_"), func(t *testing.T) {
			r := runBin(t, 20*time.Second, nil, tc.args...)
			if r.code != exitUsage {
				t.Errorf("exit %d, want %d\n%s", r.code, exitUsage, r)
			}
			oneStderrLine(t, r, "switchlua: ", tc.want)
		})
	}
}

// TestHelpExitStatus: the exit statuses run --help gives are those of the
// package documentation and README: 0, 1, 2 and 3.
func TestHelpExitStatus(t *testing.T) {
	r := runBin(t, 20*time.Second, nil, "run", "--help")
	if r.code != 0 {
		t.Fatalf("run --help: exit %d\n%s", r.code, r)
	}
	help := strings.Join(strings.Fields(r.stdout), " ")
	for _, want := range []string{"Exit status: 0 when", "1 on errors", "2 on a bad command line (a bad flag or --script spec)", "3 when calls were offered and none was answered",
		"--park-timeout", "0 disables it", "0: no limit, offer until Ctrl-C", "answered or not"} {
		if !strings.Contains(help, want) {
			t.Errorf("run --help lacks %q:\n%s", want, r.stdout)
		}
	}
}

// TestSim runs `switchlua sim` as a process, talks ESL to it and stops it
// with SIGTERM.
func TestSim(t *testing.T) {
	p, addr := startSim(t, "--password", "s3cret", "--sps", "500")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := esl.Dial(ctx, addr, esl.Options{Password: "s3cret"})
	if err != nil {
		t.Fatalf("dial the simulator: %v", err)
	}
	out, err := c.API(ctx, "sofia status profile external")
	if err != nil || !strings.Contains(out, "127.0.0.1:5080") {
		t.Errorf("sofia status profile external: %q, %v", out, err)
	}
	out, err = c.API(ctx, "status")
	if err != nil || !strings.Contains(out, "UP") {
		t.Errorf("status: %q, %v", out, err)
	}
	_ = c.Close()
	if strings.Contains(p.stdout.String()+p.stderr.String(), "s3cret") {
		t.Errorf("the password was printed")
	}
	p.signal(t, syscall.SIGTERM)
	r := p.wait(t, 5*time.Second)
	if r.code != 0 {
		t.Errorf("sim after SIGTERM: exit %d\n%s", r.code, r)
	}
}
