package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// Median is one figure over a workload's runs.
type Median struct {
	Workload string  `json:"workload"`
	Metric   string  `json:"metric"`
	Unit     string  `json:"unit"`
	Median   float64 `json:"median"`
	Min      float64 `json:"min"`
	Max      float64 `json:"max"`
	Runs     int     `json:"runs"`
}

type figure struct {
	metric, unit string
	v            float64
}

// figures lists the headline figures of one result, in table order.
func figures(r *Result) []figure {
	var f []figure
	add := func(metric, unit string, v float64) { f = append(f, figure{metric, unit, v}) }
	const mb = 1 << 20
	if p := r.Processor; p != nil {
		who := "processor"
		if r.Child != nil {
			who = "child process"
		}
		add(who+": events/s (first to last record)", "ev/s", p.PerSec)
		add(who+": events/s sustained (10%-90%)", "ev/s", p.SustainedPerSec)
		add(who+": CPU per event (whole process)", "µs", p.CPUMicrosPerRecord)
		add(who+": start-up before the first commit", "s", p.StartupSeconds)
		if p.Batches > 0 {
			add(who+": records per batch", "", float64(p.Records)/float64(p.Batches))
			add(who+": time per batch", "ms", p.Seconds*1000/float64(p.Batches))
		}
	}
	if r.Raw != nil {
		add("raw consume: events/s", "ev/s", r.Raw.PerSec)
		add("raw consume: CPU per event", "µs", r.Raw.CPUMicrosPerRecord)
		add("processor / raw", "ratio", r.RatioToRaw)
	}
	if r.Ceiling != nil {
		add("I/O ceiling (consume, produce the outputs, no fold): events/s", "ev/s", r.Ceiling.PerSec)
		add("I/O ceiling: CPU per event", "µs", r.Ceiling.CPUMicrosPerRecord)
		add("processor / I/O ceiling", "ratio", r.RatioToCeiling)
	}
	if o := r.Outputs; o != nil {
		add("output records per event (updates, alerts, dead letters, changelog)", "", o.RecordsPerEvent)
		add("output bytes per event (keys and values)", "B", o.BytesPerEvent)
	}
	for _, l := range r.Latency {
		add("latency @ "+l.Name+": processed", "ev/s", l.ProcessedPerSec)
		add("latency @ "+l.Name+": p50", "ms", l.Record.P50)
		add("latency @ "+l.Name+": p99", "ms", l.Record.P99)
		add("latency @ "+l.Name+": p999", "ms", l.Record.P999)
		add("latency @ "+l.Name+": p99 seen by a consumer", "ms", l.Seen.P99)
		add("latency @ "+l.Name+": time per batch", "ms", l.BatchMillis)
	}
	f = append(f, holdFigures(r.Holds)...)
	if r.HarnessPeakRSSBytes > 0 {
		add("harness peak RSS (processor + broker + generator)", "MiB", float64(r.HarnessPeakRSSBytes)/mb)
	}
	if r.SKULocations > 0 {
		add("SKU-locations in the store", "", float64(r.SKULocations))
	}
	if r.PebbleBytes > 0 {
		add("Pebble bytes on disk", "MiB", float64(r.PebbleBytes)/mb)
	}
	if r.PebbleBytesPerSKULocation > 0 {
		add("Pebble bytes per SKU-location", "B", r.PebbleBytesPerSKULocation)
	}
	if r.LargestSKUStateBytes > 0 {
		add("largest SKU state (encoded)", "KiB", float64(r.LargestSKUStateBytes)/1024)
	}
	f = append(f, childFigures(r.Child)...)
	if rc := r.Recovery; rc != nil {
		add("recovery: restart to folding again", "s", rc.ProcessingSeconds)
		add("recovery: restart to all partitions owned", "s", rc.AssignedSeconds)
		add("recovery: restart to downtime backlog folded", "s", rc.CaughtUpSeconds)
		add("recovery: restart to HTTP up", "s", rc.HTTPSeconds)
		add("recovery: SIGKILL to restart", "s", rc.DownSeconds)
	}
	return f
}

// childFigures lists the memory figures of a child process (nil: none).
func childFigures(c *ChildFigures) []figure {
	var f []figure
	add := func(metric, unit string, v float64) { f = append(f, figure{metric, unit, v}) }
	const mb = 1 << 20
	if c != nil {
		add("child peak RSS", "MiB", float64(c.PeakRSSBytes)/mb)
		if c.RSSPerSKULoc > 0 {
			add("child RSS per SKU-location", "B", c.RSSPerSKULoc)
			add("child peak RSS per SKU-location", "B", c.PeakPerSKULoc)
			add("child RSS above idle per SKU-location", "B", c.MarginalPerSKULoc)
		}
		if c.GoHeapInuse > 0 {
			add("child Go heap in use", "MiB", float64(c.GoHeapInuse)/mb)
		}
	}
	return f
}

// holdFigures lists the holds workload's figures, rate by rate.
func holdFigures(hs []HoldPhase) []figure {
	var f []figure
	add := func(metric, unit string, v float64) { f = append(f, figure{metric, unit, v}) }
	for _, h := range hs {
		add("holds @ "+h.Name+": processed", "holds/s", h.ProcessedPerSec)
		add("holds @ "+h.Name+": p50 POST → answer", "ms", h.Latency.P50)
		add("holds @ "+h.Name+": p99 POST → answer", "ms", h.Latency.P99)
		add("holds @ "+h.Name+": p999 POST → answer", "ms", h.Latency.P999)
		add("holds @ "+h.Name+": granted", "%", pct(h.Granted+h.Partial, h.Answered))
		add("holds @ "+h.Name+": errors (neither 201 nor 409)", "", float64(h.Errors))
		add("holds @ "+h.Name+": p99 send lag of the generator", "ms", h.SendLag.P99)
		add("holds @ "+h.Name+": time per batch", "ms", h.BatchMillis)
		add("holds @ "+h.Name+": CPU of other processes (the machine is shared)", "cores", h.OthersCores)
		if st := h.Stages; st != nil {
			add("holds @ "+h.Name+": p99 due → event record (queue, HTTP, handler)", "ms", st.ToEvent.P99)
			add("holds @ "+h.Name+": p99 event → result record (produce, fetch, fold)", "ms", st.Fold.P99)
			add("holds @ "+h.Name+": p99 result record → answer (watch fetch, HTTP)", "ms", st.ToAnswer.P99)
			add("holds @ "+h.Name+": slowest 1%, mean due → event record", "ms", st.TailMeans[0])
			add("holds @ "+h.Name+": slowest 1%, mean event → result record", "ms", st.TailMeans[1])
			add("holds @ "+h.Name+": slowest 1%, mean result record → answer", "ms", st.TailMeans[2])
		}
	}
	return f
}

// pct is 100 n / of (0 when of is).
func pct(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

// medians computes the median (and range) of each figure per workload.
func medians(results []*Result) []Median {
	type key struct{ w, m string }
	vals := map[key][]float64{}
	var order []key
	units := map[key]string{}
	for _, r := range results {
		for _, f := range figures(r) {
			k := key{r.Workload, f.metric}
			if _, ok := vals[k]; !ok {
				order = append(order, k)
				units[k] = f.unit
			}
			vals[k] = append(vals[k], f.v)
		}
	}
	var out []Median
	for _, k := range order {
		v := slices.Clone(vals[k])
		slices.Sort(v)
		med := v[len(v)/2]
		if len(v)%2 == 0 {
			med = (v[len(v)/2-1] + v[len(v)/2]) / 2
		}
		out = append(out, Median{Workload: k.w, Metric: k.m, Unit: units[k], Median: med, Min: v[0], Max: v[len(v)-1], Runs: len(v)})
	}
	return out
}

// fmtNum prints a figure with sensible precision.
func fmtNum(v float64) string {
	switch a := max(v, -v); {
	case a >= 1000:
		s := fmt.Sprintf("%.0f", v)
		// Thousands separators make event rates readable.
		neg := strings.HasPrefix(s, "-")
		s = strings.TrimPrefix(s, "-")
		var b strings.Builder
		for i, c := range s {
			if i > 0 && (len(s)-i)%3 == 0 {
				b.WriteByte(',')
			}
			b.WriteRune(c)
		}
		if neg {
			return "-" + b.String()
		}
		return b.String()
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// writeTable writes the medians as a Markdown table.
func writeTable(w io.Writer, ms []Median) {
	fmt.Fprintln(w, "| workload | figure | median | unit | runs (min – max) |")
	fmt.Fprintln(w, "| --- | --- | ---: | --- | --- |")
	for _, m := range ms {
		rng := ""
		if m.Runs > 1 {
			rng = fmt.Sprintf(" (%s – %s)", fmtNum(m.Min), fmtNum(m.Max))
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %d%s |\n", m.Workload, m.Metric, fmtNum(m.Median), m.Unit, m.Runs, rng)
	}
}
