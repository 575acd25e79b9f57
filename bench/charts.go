package main

import (
	"cmp"
	"fmt"
	"image/color"
	"math"
	"os"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Charts are drawn from the results alone (the JSON holds everything they
// need), for the median run of each workload by processor throughput.

// writeCharts writes base-throughput.png and base-latency.png, and
// base-recovery.png when a restart was measured.
func writeCharts(base string, rep *Report) error {
	var tp, lat, rec []*plot.Plot
	for _, w := range workloadNames {
		r := medianRun(rep.Results, w)
		if r == nil {
			continue
		}
		if r.Processor != nil {
			p, err := throughputPlot(r)
			if err != nil {
				return err
			}
			tp = append(tp, p)
		}
		if len(r.Latency) > 0 {
			p, err := latencyPlot(r)
			if err != nil {
				return err
			}
			lat = append(lat, p)
		}
		// The holds chart shows the run of the median p99 at the first rate.
		if r := medianBy(rep.Results, w, holdsP99); r != nil && len(r.Holds) > 0 {
			p, err := holdsPlot(r)
			if err != nil {
				return err
			}
			lat = append(lat, p)
		}
		// The recovery chart shows the run of the median recovery.
		if r := medianBy(rep.Results, w, recoverySeconds); r != nil && r.Recovery != nil {
			p, err := recoveryPlot(r)
			if err != nil {
				return err
			}
			rec = append(rec, p)
		}
	}
	if err := savePanels(base+"-throughput.png", tp, 3.4*vg.Inch); err != nil {
		return err
	}
	if err := savePanels(base+"-recovery.png", rec, 2.4*vg.Inch); err != nil {
		return err
	}
	return savePanels(base+"-latency.png", lat, 4*vg.Inch)
}

// medianRun is workload w's run with the median processor throughput.
func medianRun(rs []*Result, w string) *Result {
	return medianBy(rs, w, func(r *Result) float64 {
		if r.Processor == nil {
			return 0
		}
		return r.Processor.PerSec
	})
}

// medianBy is workload w's run with the median of key.
func medianBy(rs []*Result, w string, key func(*Result) float64) *Result {
	var runs []*Result
	for _, r := range rs {
		if r.Workload == w {
			runs = append(runs, r)
		}
	}
	if len(runs) == 0 {
		return nil
	}
	slices.SortStableFunc(runs, func(a, b *Result) int { return cmp.Compare(key(a), key(b)) })
	return runs[(len(runs)-1)/2]
}

// rateFloor is the bottom of the throughput axis, events/s.
const rateFloor = 1000

// rates turns a timeline into events/s over a sliding window, with time
// counted from the first record. Records count once their batch commits,
// so the window spans about three batches (at least 250ms; 1s for a
// child, whose batches are not counted).
func rates(th *Throughput) plotter.XYs {
	s := th.Timeline
	window := 1.0
	if th.Batches > 0 {
		window = max(0.25, 3*th.Seconds/float64(th.Batches))
	}
	var xy plotter.XYs
	j := 0
	for i := 1; i < len(s); i++ {
		for j < i-1 && s[i].T-s[j+1].T >= window {
			j++
		}
		dt := s[i].T - s[j].T
		if dt <= 0 || s[i].T < th.StartupSeconds {
			continue
		}
		// A log axis cannot show 0: idle moments sit on the floor.
		xy = append(xy, plotter.XY{X: s[i].T - th.StartupSeconds, Y: max(rateFloor, float64(s[i].Records-s[j].Records)/dt)})
	}
	return xy
}

func throughputPlot(r *Result) (*plot.Plot, error) {
	p := plot.New()
	who := "processor (in-process)"
	if r.Child != nil {
		who = "stockledger run (child process)"
	}
	p.Title.Text = fmt.Sprintf("%s: %s events/s folding %s records (run %d)", r.Workload, fmtNum(r.Processor.PerSec), fmtNum(float64(r.Records)), r.Run)
	p.X.Label.Text = "seconds since the first record (rates over windows of about three batches, log scale)"
	p.Y.Label.Text = "events/s"
	p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, rateTicks{}
	p.Add(plotter.NewGrid())
	xy := rates(r.Processor)
	if len(xy) == 0 {
		return p, nil
	}
	top := 0.0
	for _, v := range xy {
		top = max(top, v.Y)
	}
	l, err := plotter.NewLine(xy)
	if err != nil {
		return nil, err
	}
	l.Color, l.Width = plotutil.Color(0), vg.Points(1.5)
	p.Add(l)
	p.Legend.Add(fmt.Sprintf("%s: %s ev/s", who, fmtNum(r.Processor.PerSec)), l)
	// The raw consumer and the I/O ceiling read the topic in a blink:
	// their average rates are drawn across the chart.
	last := xy[len(xy)-1].X
	dashed := []vg.Length{vg.Points(6), vg.Points(3)}
	if r.Raw != nil && r.Raw.PerSec > 0 {
		label := fmt.Sprintf("raw consume of the same topic: %s ev/s, %.0f× the processor", fmtNum(r.Raw.PerSec), r.Raw.PerSec/r.Processor.PerSec)
		if err := hline(p, r.Raw.PerSec, last, plotutil.Color(1), dashed, label); err != nil {
			return nil, err
		}
		top = max(top, r.Raw.PerSec)
	}
	if r.Ceiling != nil && r.Ceiling.PerSec > 0 {
		label := fmt.Sprintf("I/O ceiling (consume, produce the same outputs, no fold): %s ev/s; processor / ceiling %.2f",
			fmtNum(r.Ceiling.PerSec), r.RatioToCeiling)
		if err := hline(p, r.Ceiling.PerSec, last, plotutil.Color(2), dashed, label); err != nil {
			return nil, err
		}
		top = max(top, r.Ceiling.PerSec)
	}
	for i, t := range throughputTargets(r) {
		if err := hline(p, t.value, last, targetColor(i), targetDashes, t.label); err != nil {
			return nil, err
		}
		top = max(top, t.value)
	}
	p.Legend.Top, p.Legend.Left = false, false
	p.Legend.YOffs = vg.Millimeter * 2
	p.Y.Min, p.Y.Max = rateFloor, top*2
	return p, nil
}

// targetDashes is the dash pattern of every target line: dotted.
var targetDashes = []vg.Length{vg.Points(1.5), vg.Points(2.5)}

// targetColor is the color of a chart's i-th target line: darker than
// the data's, so a target does not pass for a measurement.
func targetColor(i int) color.Color {
	return plotutil.DarkColors[(i+5)%len(plotutil.DarkColors)]
}

// hline adds a horizontal line at y from x = 0 to x1, with its legend.
func hline(p *plot.Plot, y, x1 float64, c color.Color, dashes []vg.Length, label string) error {
	l, err := plotter.NewLine(plotter.XYs{{X: 0, Y: y}, {X: x1, Y: y}})
	if err != nil {
		return err
	}
	l.Color, l.Width, l.Dashes = c, vg.Points(1.5), dashes
	p.Add(l)
	p.Legend.Add(label, l)
	return nil
}

func recoverySeconds(r *Result) float64 {
	if r.Recovery == nil {
		return 0
	}
	return r.Recovery.ProcessingSeconds
}

// recoveryPlot shows a restart's milestones, in seconds from the start
// of the restarted process, against the target for folding again.
func recoveryPlot(r *Result) (*plot.Plot, error) {
	rc := r.Recovery
	p := plot.New()
	p.Title.Text = fmt.Sprintf("restart after a SIGKILL (run %d, --session-timeout %s; %.2f s from the kill to the restart)",
		r.Run, rc.SessionTimeout, rc.DownSeconds)
	p.X.Label.Text = "seconds since the restarted process started"
	// Bottom to top, so the chart reads in order from the top.
	steps := []struct {
		name string
		v    float64
	}{
		{"downtime's backlog folded", rc.CaughtUpSeconds}, {"all partitions owned", rc.AssignedSeconds},
		{"folding again", rc.ProcessingSeconds}, {"HTTP up (store open)", rc.HTTPSeconds},
	}
	vals := make(plotter.Values, len(steps))
	names := make([]string, len(steps))
	top := targetRecoverySeconds
	for i, st := range steps {
		vals[i], names[i] = st.v, fmt.Sprintf("%s: %.2f s", st.name, st.v)
		top = max(top, st.v)
	}
	bars, err := plotter.NewBarChart(vals, vg.Points(14))
	if err != nil {
		return nil, err
	}
	bars.Horizontal, bars.Color, bars.LineStyle.Width = true, plotutil.Color(0), 0
	p.Add(plotter.NewGrid(), bars)
	p.NominalY(names...)
	l, err := plotter.NewLine(plotter.XYs{{X: targetRecoverySeconds, Y: -0.5}, {X: targetRecoverySeconds, Y: float64(len(steps)) - 0.5}})
	if err != nil {
		return nil, err
	}
	l.Color, l.Width, l.Dashes = targetColor(0), vg.Points(1.5), targetDashes
	p.Add(l)
	p.Legend.Add(fmt.Sprintf("target: folding again ≤ %g s", targetRecoverySeconds), l)
	p.Legend.Top = true
	p.X.Min, p.X.Max = 0, top*1.1
	return p, nil
}

// nines spaces percentiles by their nines: 90, 99, 99.9 and 99.99 are
// equally far apart, as latency percentiles are read.
type nines struct{}

func ninesOf(p float64) float64 { return -math.Log10(1 - math.Min(p, 99.999)/100) }

func (nines) Normalize(min, max, x float64) float64 {
	a, b := ninesOf(min), ninesOf(max)
	return (ninesOf(x) - a) / (b - a)
}

type ninesTicks struct{}

func (ninesTicks) Ticks(min, max float64) []plot.Tick {
	var t []plot.Tick
	for _, v := range []float64{0, 50, 90, 99, 99.9, 99.99} {
		if v >= min && v <= max {
			t = append(t, plot.Tick{Value: v, Label: fmt.Sprint(v)})
		}
	}
	return t
}

// rateTicks labels a log axis of events/s at 1-2-5 steps (1k, 2k, 5k...).
type rateTicks struct{}

func (rateTicks) Ticks(min, max float64) []plot.Tick {
	var t []plot.Tick
	for dec := 1.0; dec <= 1e9; dec *= 10 {
		for _, m := range []float64{1, 2, 5} {
			v := dec * m
			if v < min || v > max {
				continue
			}
			label := fmt.Sprintf("%gk", v/1e3)
			if v >= 1e6 {
				label = fmt.Sprintf("%gM", v/1e6)
			}
			t = append(t, plot.Tick{Value: v, Label: label})
		}
	}
	return t
}

// msTicks labels a log axis of milliseconds at 1-2-5 steps.
type msTicks struct{}

func (msTicks) Ticks(min, max float64) []plot.Tick {
	var t []plot.Tick
	for dec := 0.01; dec <= 1e6; dec *= 10 {
		for _, m := range []float64{1, 2, 5} {
			if v := dec * m; v >= min && v <= max {
				t = append(t, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64)})
			}
		}
	}
	return t
}

func latencyPlot(r *Result) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: event-to-update latency by percentile (run %d)", r.Workload, r.Run)
	p.X.Label.Text = "percentile (latency on a log scale)"
	p.Y.Label.Text = "ms"
	p.X.Scale, p.X.Tick.Marker = nines{}, ninesTicks{}
	p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, msTicks{}
	p.Add(plotter.NewGrid())
	for i, ph := range r.Latency {
		for j, d := range []struct {
			what string
			pc   Percentiles
		}{{"seen by a consumer", ph.Seen}, {"record timestamps", ph.Record}} {
			var xy plotter.XYs
			for k, lvl := range cdfLevels {
				if k < len(d.pc.CDF) && lvl < 100 {
					xy = append(xy, plotter.XY{X: lvl, Y: math.Max(d.pc.CDF[k], 0.05)})
				}
			}
			if len(xy) == 0 {
				continue
			}
			l, err := plotter.NewLine(xy)
			if err != nil {
				return nil, err
			}
			l.Color = plotutil.Color(i)
			l.Width = vg.Points(1.5)
			if j == 1 {
				l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			}
			p.Add(l)
			p.Legend.Add(fmt.Sprintf("%s offered (%s processed/s), %s: p99 %s ms", ph.Name, fmtNum(ph.ProcessedPerSec), d.what, fmtNum(d.pc.P99)), l)
		}
		if t, ok := latencyTarget(r, ph.OfferedPerSec); ok {
			if err := p99Target(p, t, plotutil.DarkColors[i%len(plotutil.DarkColors)]); err != nil {
				return nil, err
			}
		}
	}
	p.Legend.Top, p.Legend.Left = false, false
	p.Legend.YOffs = vg.Millimeter * 2
	p.X.Min, p.X.Max = 1, 99.99
	return p, nil
}

func holdsP99(r *Result) float64 {
	if len(r.Holds) == 0 {
		return 0
	}
	return r.Holds[0].Latency.P99
}

// holdsPlot is the holds workload's round trip by percentile per rate.
func holdsPlot(r *Result) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("holds: POST /v1/holds → answer, from the scheduled send, by percentile (run %d)", r.Run)
	p.X.Label.Text = "percentile (latency on a log scale)"
	p.Y.Label.Text = "ms"
	p.X.Scale, p.X.Tick.Marker = nines{}, ninesTicks{}
	p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, msTicks{}
	p.Add(plotter.NewGrid())
	for i, h := range r.Holds {
		var xy plotter.XYs
		for k, lvl := range cdfLevels {
			if k < len(h.Latency.CDF) && lvl < 100 {
				xy = append(xy, plotter.XY{X: lvl, Y: math.Max(h.Latency.CDF[k], 0.05)})
			}
		}
		if len(xy) == 0 {
			continue
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			return nil, err
		}
		l.Color, l.Width = plotutil.Color(i), vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("%s offered (%s answered/s): p99 %s ms", h.Name, fmtNum(h.ProcessedPerSec), fmtNum(h.Latency.P99)), l)
		if t, ok := holdsTarget(h.OfferedPerSec); ok {
			if err := p99Target(p, t, plotutil.DarkColors[i%len(plotutil.DarkColors)]); err != nil {
				return nil, err
			}
		}
	}
	p.Legend.Top, p.Legend.Left = false, false
	p.Legend.YOffs = vg.Millimeter * 2
	p.X.Min, p.X.Max = 1, 99.99
	return p, nil
}

// p99Target draws a latency target: a dotted line across the chart at
// the target, ringed where it applies (the 99th percentile).
func p99Target(p *plot.Plot, t target, c color.Color) error {
	l, err := plotter.NewLine(plotter.XYs{{X: 1, Y: t.value}, {X: 99.99, Y: t.value}})
	if err != nil {
		return err
	}
	l.Color, l.Width, l.Dashes = c, vg.Points(1.5), targetDashes
	at, err := plotter.NewScatter(plotter.XYs{{X: 99, Y: t.value}})
	if err != nil {
		return err
	}
	at.GlyphStyle = draw.GlyphStyle{Color: c, Radius: vg.Points(4), Shape: draw.RingGlyph{}}
	p.Add(l, at)
	p.Legend.Add(t.label, l, at)
	return nil
}

// savePanels stacks plots vertically into one PNG.
func savePanels(path string, ps []*plot.Plot, height vg.Length) error {
	if len(ps) == 0 {
		return nil
	}
	const width = 10 * vg.Inch
	img := vgimg.NewWith(vgimg.UseWH(width, height*vg.Length(len(ps))), vgimg.UseDPI(110))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(ps), Cols: 1, PadX: vg.Millimeter * 2, PadY: vg.Millimeter * 4,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4}
	grid := make([][]*plot.Plot, len(ps))
	for i, p := range ps {
		grid[i] = []*plot.Plot{p}
	}
	canvases := plot.Align(grid, tiles, dc)
	for i := range ps {
		ps[i].Draw(canvases[i][0])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
