package plot

import (
	"bytes"
	"errors"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchlua/switchlua/host/cdr"
)

// run makes n rows of a 50 cps run with a few failures.
func run(n int) []cdr.Row {
	rows := make([]cdr.Row, n)
	t0 := 1763800000.0
	failed := int64(0)
	for i := range rows {
		c := t0 + float64(i)/50
		r := cdr.Row{SwitchluaApp: "toneplay", HangupCause: cdr.NormalClearing,
			JobLaunch: c - 0.003, CallerReqOriginate: c - 0.001, CallerCreate: c,
			CallerOriginate: c, CalleeCreate: c + 0.010, CalleeAnswer: c + 0.030 + float64(i%7)/1e3,
			CallerAnswer: c + 0.060 + float64(i%11)/1e3, CallerHangup: c + 20, CalleeHangup: c + 20.01,
			ActiveSessions: int64(2 * min(i, 100)), Erlangs: int64(min(i, 100)),
			Node: "127.0.0.1:8021", CallUUID: fmt.Sprint(i)}
		if i%13 == 0 {
			failed++
			r = cdr.Row{HangupCause: "USER_BUSY", CallerCreate: c, JobLaunch: c - 0.003}
		}
		r.FailedCalls = failed
		rows[i] = r
	}
	return rows
}

// jobOnly turns every 13th row into an originate that failed before any
// channel existed (only job_launch known), in the order a run writes them:
// at once, ahead of the answered calls that ended later.
func jobOnly(rows []cdr.Row) []cdr.Row {
	var failed, ok []cdr.Row
	for i, r := range rows {
		if i%13 == 0 {
			failed = append(failed, cdr.Row{HangupCause: "USER_BUSY", JobLaunch: r.JobLaunch, FailedCalls: r.FailedCalls})
			continue
		}
		ok = append(ok, r)
	}
	return append(failed, ok...)
}

func TestRenderPNG(t *testing.T) {
	tests := []struct {
		name string
		rows []cdr.Row
		opt  Options
		w, h int
	}{
		{"one row", run(1), Options{}, 1600, 1200},
		{"small run", run(200), Options{Title: "small", Width: 800, Height: 600}, 800, 600},
		{"decimated", run(20000), Options{Width: 800, Height: 600, MaxPoints: 500}, 800, 600},
		{"job-only failures", jobOnly(run(300)), Options{Width: 800, Height: 600}, 800, 600},
		{"only failures", []cdr.Row{{HangupCause: "USER_BUSY", JobLaunch: 1}, {HangupCause: "USER_BUSY"}},
			Options{Width: 640, Height: 480}, 640, 480},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Render(&b, tt.rows, tt.opt); err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(&b)
			if err != nil {
				t.Fatalf("not a PNG: %v", err)
			}
			if got := img.Bounds().Size(); got.X != tt.w || got.Y != tt.h {
				t.Fatalf("size %v, want %dx%d", got, tt.w, tt.h)
			}
			// not blank: some pixels are not white
			dark := 0
			for y := 0; y < tt.h; y += 3 {
				for x := 0; x < tt.w; x += 3 {
					if r, g, b, _ := img.At(x, y).RGBA(); r+g+b < 3*0xc000 {
						dark++
					}
				}
			}
			if dark < 100 {
				t.Fatalf("image is (nearly) blank: %d dark pixels", dark)
			}
		})
	}
}

func TestFile(t *testing.T) {
	dir := t.TempDir()
	for _, ext := range []string{".csv", ".db"} {
		t.Run(ext, func(t *testing.T) {
			in := filepath.Join(dir, "cdr"+ext)
			w, err := cdr.Open(in)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range run(300) {
				if err := w.Write(r); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "out"+ext+".png")
			if err := File(in, out, Options{Width: 640, Height: 480}); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			cfg, err := png.DecodeConfig(f)
			if err != nil || cfg.Width != 640 || cfg.Height != 480 {
				t.Fatalf("PNG config %+v, %v", cfg, err)
			}
		})
	}
}

func TestFileErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.csv")
	w, err := cdr.Open(empty) // header only
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	garbage := filepath.Join(dir, "garbage.csv")
	os.WriteFile(garbage, []byte("hello,world\n1,2\n"), 0o644)

	for _, tt := range []struct {
		name, in, out string
		is            error
	}{
		{"empty CDR", empty, filepath.Join(dir, "e.png"), ErrNoRows},
		{"missing CDR", filepath.Join(dir, "missing.csv"), filepath.Join(dir, "m.png"), os.ErrNotExist},
		{"not a CDR", garbage, filepath.Join(dir, "g.png"), nil},
		{"unwritable output", func() string {
			p := filepath.Join(dir, "ok.csv")
			w, _ := cdr.Open(p)
			w.Write(run(2)[1])
			w.Close()
			return p
		}(), filepath.Join(dir, "no", "such", "dir.png"), os.ErrNotExist},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := File(tt.in, tt.out, Options{})
			if err == nil {
				t.Fatal("no error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("err = %v, want %v", err, tt.is)
			}
			t.Logf("%v", err)
			if _, serr := os.Stat(tt.out); serr == nil {
				t.Errorf("%s left behind", tt.out)
			}
		})
	}
	if err := Render(&bytes.Buffer{}, nil, Options{}); !errors.Is(err, ErrNoRows) {
		t.Fatalf("Render(no rows) = %v", err)
	}
}

// BenchmarkRender draws a 100k-call CDR (the decimation keeps it quick).
func BenchmarkRender(b *testing.B) {
	rows := run(100000)
	start := time.Now()
	n := 0
	for b.Loop() {
		if err := Render(&bytes.Buffer{}, rows, Options{}); err != nil {
			b.Fatal(err)
		}
		n++
	}
	ms := float64(time.Since(start).Microseconds()) / 1e3 / float64(n)
	fmt.Printf("bench: plot_render_100k_calls_ms %.0f ms\n", math.Round(ms))
}
