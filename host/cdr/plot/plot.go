// Package plot draws a CDR file as switchio's three stacked panels, into one
// PNG, with gonum/plot:
//
//  1. latencies (call setup, answer, invite, originate), in ms;
//  2. active sessions, erlangs and failed calls;
//  3. call rate and its rolling mean, in calls/s.
//
// The x axis is the call index, calls sorted by creation time, as switchio
// plots them; an originate that failed before any channel existed takes its
// place by the time its job was launched (see cdr.CallMetrics). `switchlua plot FILE -o out.png` is [File].
package plot

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/switchlua/switchlua/host/cdr"
)

// ErrNoRows is returned for a CDR without any row: there is nothing to plot.
var ErrNoRows = errors.New("no CDR rows to plot")

// Options tune the image. The zero value gives a 1600x1200 PNG.
type Options struct {
	// Width and Height are the image size in pixels (default 1600x1200).
	Width, Height int
	// Title is drawn above the panels (default: none).
	Title string
	// MaxPoints bounds the points drawn per series (default 4000); longer
	// series are reduced to the minimum and maximum of equal index buckets,
	// so spikes stay visible and a million-call run still draws quickly.
	MaxPoints int
}

// File reads the CDR file in (CSV or SQLite, see cdr.Read) and writes the
// panels to out as PNG. On error nothing is left at out.
func File(in, out string, opt Options) error {
	rows, err := cdr.Read(in)
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		return fmt.Errorf("plot: %s: %w", in, ErrNoRows)
	}
	if opt.Title == "" {
		opt.Title = fmt.Sprintf("%s (%d calls)", in, len(rows))
	}
	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	err = Render(f, rows, opt)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("plot: writing %s: %w", out, cerr)
	}
	if err != nil {
		os.Remove(out)
	}
	return err
}

// series is one named line of a panel.
type series struct {
	name string
	y    func(*cdr.CallMetric) float64
}

// panels are switchio's call_metrics.figspec, top to bottom.
var panels = []struct {
	ylabel string
	series []series
}{
	{"latency (ms)", []series{
		{"call_setup_latency", func(m *cdr.CallMetric) float64 { return m.CallSetupLatency * 1e3 }},
		{"answer_latency", func(m *cdr.CallMetric) float64 { return m.AnswerLatency * 1e3 }},
		{"invite_latency", func(m *cdr.CallMetric) float64 { return m.InviteLatency * 1e3 }},
		{"originate_latency", func(m *cdr.CallMetric) float64 { return m.OriginateLatency * 1e3 }},
	}},
	{"count", []series{
		{"active_sessions", func(m *cdr.CallMetric) float64 { return float64(m.ActiveSessions) }},
		{"erlangs", func(m *cdr.CallMetric) float64 { return float64(m.Erlangs) }},
		{"failed_calls", func(m *cdr.CallMetric) float64 { return float64(m.FailedCalls) }},
	}},
	{"calls/s", []series{
		{"call_rate", func(m *cdr.CallMetric) float64 { return m.CallRate }},
		{"avg_call_rate", func(m *cdr.CallMetric) float64 { return m.AvgCallRate }},
	}},
}

// Render draws rows (in any order) as PNG to w. It returns ErrNoRows for no
// rows; a single row gives points, not lines.
func Render(w io.Writer, rows []cdr.Row, opt Options) error {
	if len(rows) == 0 {
		return fmt.Errorf("plot: %w", ErrNoRows)
	}
	if opt.Width <= 0 {
		opt.Width = 1600
	}
	if opt.Height <= 0 {
		opt.Height = 1200
	}
	if opt.MaxPoints <= 0 {
		opt.MaxPoints = 4000
	}
	metrics := cdr.CallMetrics(rows)

	plots := make([][]*gplot.Plot, len(panels))
	for i, panel := range panels {
		p := gplot.New()
		p.Y.Label.Text = panel.ylabel
		p.X.Min, p.X.Max = 0, math.Max(1, float64(len(metrics)-1)) // shared x range
		p.X.Tick.Marker = indexTicks{}
		p.Legend.Top, p.Legend.Left = true, true
		p.Add(plotter.NewGrid())
		if i == len(panels)-1 {
			p.X.Label.Text = "call index (by caller_create)"
		}
		if i == 0 && opt.Title != "" {
			p.Title.Text = opt.Title
		}
		lo, hi := math.Inf(1), math.Inf(-1)
		for j, s := range panel.series {
			xys := points(metrics, s.y, opt.MaxPoints)
			for _, xy := range xys {
				lo, hi = math.Min(lo, xy.Y), math.Max(hi, xy.Y)
			}
			if err := addSeries(p, s.name, xys, j); err != nil {
				return fmt.Errorf("plot: %s: %w", s.name, err)
			}
		}
		if lo <= hi {
			// from 0 (unless data is negative), with headroom for the legend
			p.Y.Min = math.Min(0, lo)
			span := math.Max(hi-p.Y.Min, 1e-3)
			p.Y.Max = hi + 0.35*span
		}
		plots[i] = []*gplot.Plot{p}
	}

	// 96 dpi: the canvas size in inches times 96 is the pixel size
	const dpi = 96
	c := vgimg.NewWith(
		vgimg.UseWH(vg.Length(opt.Width)*vg.Inch/dpi, vg.Length(opt.Height)*vg.Inch/dpi),
		vgimg.UseDPI(dpi))
	dc := draw.New(c)
	tiles := draw.Tiles{Rows: len(panels), Cols: 1,
		PadX: vg.Millimeter, PadY: 4 * vg.Millimeter,
		PadTop: 2 * vg.Millimeter, PadBottom: 2 * vg.Millimeter,
		PadLeft: 2 * vg.Millimeter, PadRight: 4 * vg.Millimeter}
	canvases := gplot.Align(plots, tiles, dc)
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(w); err != nil {
		return fmt.Errorf("plot: writing PNG: %w", err)
	}
	return nil
}

// indexTicks labels the call index axis with about ten round integers.
type indexTicks struct{}

// Ticks implements plot.Ticker.
func (indexTicks) Ticks(lo, hi float64) []gplot.Tick {
	span := hi - lo
	if span <= 0 {
		return []gplot.Tick{{Value: lo, Label: strconv.FormatFloat(lo, 'f', 0, 64)}}
	}
	step := math.Pow(10, math.Floor(math.Log10(span/10)))
	for _, m := range []float64{1, 2, 5, 10} {
		if span/(step*m) <= 12 {
			step *= m
			break
		}
	}
	step = math.Max(step, 1)
	var ts []gplot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi; v += step {
		ts = append(ts, gplot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', 0, 64)})
		for k := 1; k < 5 && step >= 5; k++ { // unlabelled minor ticks
			if m := v + float64(k)*step/5; m <= hi {
				ts = append(ts, gplot.Tick{Value: m})
			}
		}
	}
	return ts
}

// segmentPoints is the most points stroked as one path: the rasterizer's
// cost grows faster than linearly with a path's length, so a long series is
// drawn as consecutive pieces that share their end points.
const segmentPoints = 256

// addSeries adds one line (with point marks when short) and its legend entry.
// A series with no known value gets a legend entry that says so.
func addSeries(p *gplot.Plot, name string, xys plotter.XYs, i int) error {
	if len(xys) == 0 {
		p.Legend.Add(name + " (no data)")
		return nil
	}
	var first *plotter.Line
	for start := 0; ; start += segmentPoints - 1 {
		end := min(start+segmentPoints, len(xys))
		l, err := plotter.NewLine(xys[start:end])
		if err != nil {
			return err
		}
		l.Color = plotutil.Color(i)
		l.Width = vg.Points(1)
		p.Add(l)
		if first == nil {
			first = l
		}
		if end == len(xys) {
			break
		}
	}
	if len(xys) > 50 {
		p.Legend.Add(name, first)
		return nil
	}
	sc, err := plotter.NewScatter(xys)
	if err != nil {
		return err
	}
	sc.Color = first.Color
	sc.Shape = draw.CircleGlyph{}
	sc.Radius = vg.Points(2)
	p.Add(sc)
	p.Legend.Add(name, first, sc)
	return nil
}

// points returns the known (non-NaN, finite) values of one series against
// the call index, reduced to at most about maxPts points.
func points(ms []cdr.CallMetric, y func(*cdr.CallMetric) float64, maxPts int) plotter.XYs {
	xys := make(plotter.XYs, 0, min(len(ms), maxPts))
	bucket := 1
	if len(ms) > maxPts {
		bucket = (2*len(ms) + maxPts - 1) / maxPts // two points (min, max) per bucket
	}
	for start := 0; start < len(ms); start += bucket {
		end := min(start+bucket, len(ms))
		lo, hi := -1, -1
		for k := start; k < end; k++ {
			v := y(&ms[k])
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			if lo < 0 || v < y(&ms[lo]) {
				lo = k
			}
			if hi < 0 || v > y(&ms[hi]) {
				hi = k
			}
		}
		if lo < 0 {
			continue
		}
		first, second := min(lo, hi), max(lo, hi)
		xys = append(xys, plotter.XY{X: float64(first), Y: y(&ms[first])})
		if second != first {
			xys = append(xys, plotter.XY{X: float64(second), Y: y(&ms[second])})
		}
	}
	return xys
}
