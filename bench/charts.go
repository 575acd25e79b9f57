package main

import (
	"fmt"
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

// writeCharts writes base-throughput.png and base-latency.png.
func writeCharts(base string, rep *Report) error {
	var tp, lat []*plot.Plot
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
	}
	if err := savePanels(base+"-throughput.png", tp, 3.2*vg.Inch); err != nil {
		return err
	}
	return savePanels(base+"-latency.png", lat, 4*vg.Inch)
}

// medianRun is workload w's run with the median processor throughput.
func medianRun(rs []*Result, w string) *Result {
	var runs []*Result
	for _, r := range rs {
		if r.Workload == w {
			runs = append(runs, r)
		}
	}
	if len(runs) == 0 {
		return nil
	}
	slices.SortFunc(runs, func(a, b *Result) int {
		pa, pb := 0.0, 0.0
		if a.Processor != nil {
			pa = a.Processor.PerSec
		}
		if b.Processor != nil {
			pb = b.Processor.PerSec
		}
		switch {
		case pa < pb:
			return -1
		case pa > pb:
			return 1
		}
		return 0
	})
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
	if r.Raw != nil && r.Raw.PerSec > 0 {
		// The raw consumer reads the topic in a blink: its average rate is
		// drawn across the chart as the ceiling.
		last := xy[len(xy)-1].X
		ceil, err := plotter.NewLine(plotter.XYs{{X: 0, Y: r.Raw.PerSec}, {X: last, Y: r.Raw.PerSec}})
		if err != nil {
			return nil, err
		}
		ceil.Color, ceil.Width = plotutil.Color(1), vg.Points(1.5)
		ceil.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
		p.Add(ceil)
		p.Legend.Add(fmt.Sprintf("raw consume of the same topic (ceiling): %s ev/s, %.0f× the processor", fmtNum(r.Raw.PerSec), r.Raw.PerSec/r.Processor.PerSec), ceil)
		top = max(top, r.Raw.PerSec)
	}
	p.Legend.Top, p.Legend.Left = false, false
	p.Legend.YOffs = vg.Millimeter * 2
	p.Y.Min, p.Y.Max = rateFloor, top*2
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
	}
	p.Legend.Top, p.Legend.Left = false, false
	p.Legend.YOffs = vg.Millimeter * 2
	p.X.Min, p.X.Max = 1, 99.99
	return p, nil
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
