package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/schemas"
)

// tinyConfig is every workload at a size that runs in seconds.
func tinyConfig() *Config {
	c := QuickConfig()
	c.Preset, c.Partitions = "smoke", 4
	small := func(s StreamConfig) StreamConfig { s.SKUs = 200; return s }
	c.Steady.Stream, c.Steady.Events = small(c.Steady.Stream), 3000
	c.Steady.Loads, c.Steady.LoadSeconds, c.Steady.PeakFraction = []int{2000}, 0.5, 0.01
	c.Flash.Steady.Stream, c.Flash.Steady.Events = small(c.Flash.Steady.Stream), 3000
	c.Flash.Steady.Loads, c.Flash.Steady.LoadSeconds, c.Flash.Steady.PeakFraction = []int{2000}, 0.5, 0.01
	c.Replay.Stream, c.Replay.Events = small(c.Replay.Stream), 3000
	c.Restart.Stream, c.Restart.Events, c.Restart.LiveRate, c.Restart.LiveSeconds = small(c.Restart.Stream), 2000, 500, 0.5
	c.Scale.SKULocations = 2000
	c.Holds.Stream.SKUs, c.Holds.Rates, c.Holds.Seconds, c.Holds.WarmupSeconds = 200, []int{200}, 0.5, 0.2
	return c
}

// TestSmoke runs every workload once at a tiny size, so the harness
// cannot rot: each produces its figures and the report files are written.
// It asserts that things were measured, never how fast.
func TestSmoke(t *testing.T) {
	cfg := tinyConfig()
	if testing.Short() {
		cfg.Workloads = []string{"steady", "flash", "replay", "holds"} // no child processes (go build)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	prof := filepath.Join(t.TempDir(), "cpu.prof")
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	rep, err := Execute(ctx, cfg, &options{out: out, cpuProfile: prof, charts: true}, log)
	if err != nil {
		t.Fatalf("%v\n%s", err, logs.String())
	}
	if len(rep.Errors) > 0 {
		t.Fatalf("runs failed: %v\n%s", rep.Errors, logs.String())
	}
	got := map[string]*Result{}
	for _, r := range rep.Results {
		got[r.Workload] = r
	}
	for _, w := range cfg.Workloads {
		r := got[w]
		if r == nil {
			t.Fatalf("no result for %s", w)
		}
		if r.Processor == nil || r.Processor.Records != r.Records || r.Records < int64(r.Events) {
			t.Errorf("%s: processor read %+v of %d records (%d events)", w, r.Processor, r.Records, r.Events)
		}
		switch w {
		case "steady", "flash", "replay":
			if r.Raw == nil || r.Raw.Records != r.Records {
				t.Errorf("%s: raw consume %+v", w, r.Raw)
			}
			if r.SKULocations == 0 || r.PebbleBytes == 0 {
				t.Errorf("%s: store holds %d SKU-locations in %d bytes", w, r.SKULocations, r.PebbleBytes)
			}
			if w != "replay" {
				checkCeiling(t, r)
			}
		case "restart":
			if r.Recovery == nil || r.Recovery.ProcessingSeconds <= 0 || r.Recovery.CaughtUpSeconds < r.Recovery.ProcessingSeconds {
				t.Errorf("restart: recovery %+v", r.Recovery)
			}
		case "holds":
			checkHolds(t, r, cfg.Holds)
		case "scale":
			if r.Child == nil || r.Child.RSSBytes == 0 || r.SKULocations != int64(cfg.Scale.SKULocations) {
				t.Errorf("scale: child %+v, %d SKU-locations", r.Child, r.SKULocations)
			}
		}
	}
	for _, w := range []string{"steady", "flash"} {
		r := got[w]
		if len(r.Latency) != 2 {
			t.Fatalf("%s: %d latency phases, want 2 (a fixed load and near peak)", w, len(r.Latency))
		}
		for _, l := range r.Latency {
			if l.Matched == 0 || l.Record.Samples != l.Matched || l.Seen.Samples != l.Matched || len(l.Seen.CDF) != len(cdfLevels) {
				t.Errorf("%s %s: %d updates matched, %+v", w, l.Name, l.Matched, l)
			}
		}
	}
	if len(rep.Medians) == 0 || len(rep.Profile) == 0 {
		t.Errorf("%d medians, profile %q", len(rep.Medians), rep.Profile)
	}
	files, _ := filepath.Glob(filepath.Join(out, "*"))
	var exts []string
	for _, f := range files {
		exts = append(exts, filepath.Ext(f))
		if strings.HasSuffix(f, ".json") {
			b, _ := os.ReadFile(f)
			var back Report
			if err := json.Unmarshal(b, &back); err != nil || len(back.Results) != len(rep.Results) {
				t.Errorf("%s does not read back: %v", f, err)
			}
		}
	}
	slices.Sort(exts)
	want := ".json .md .png .png"
	if got["restart"] != nil {
		want += " .png" // the recovery chart
	}
	if strings.Join(exts, " ") != want {
		t.Errorf("files written: %v", files)
	}
}

// checkCeiling: the I/O ceiling read the whole topic, produced every
// output the processor produced and reported non-zero figures.
func checkCeiling(t *testing.T, r *Result) {
	t.Helper()
	c, o := r.Ceiling, r.Outputs
	if c == nil || c.Records != r.Records || c.PerSec <= 0 || r.RatioToCeiling <= 0 {
		t.Errorf("%s: I/O ceiling %+v, processor / ceiling %g", r.Workload, c, r.RatioToCeiling)
	}
	if o == nil || o.Updates == 0 || o.Changelog == 0 || o.Records != o.Updates+o.Alerts+o.DeadLetters+o.Changelog ||
		o.RecordsPerEvent <= 0 || o.BytesPerEvent <= 0 {
		t.Errorf("%s: outputs %+v", r.Workload, o)
	}
}

// checkHolds: every rate was offered, every hold answered with a
// decision, and the round trips were timed and split into stages.
func checkHolds(t *testing.T, r *Result, c HoldsConfig) {
	t.Helper()
	if r.SKUs != int64(c.Stream.SKUs) || len(r.Holds) != len(c.Rates) {
		t.Fatalf("holds: %d SKUs in the store, %d phases", r.SKUs, len(r.Holds))
	}
	for _, h := range r.Holds {
		if h.Requests == 0 || h.Answered != h.Requests || h.Errors != 0 || h.Granted == 0 ||
			h.Granted+h.Partial+h.Refused+h.Expired+h.OtherAnswers != h.Answered || h.Latency.Samples != h.Answered {
			t.Errorf("holds %s: %+v", h.Name, h)
		}
		if h.Stages == nil || h.Stages.Matched != h.Answered {
			t.Errorf("holds %s: stages %+v of %d answers", h.Name, h.Stages, h.Answered)
		}
	}
}

// TestCauseEventID holds the harness's direct reading of an update's
// cause_event_id to the registry's decoder.
func TestCauseEventID(t *testing.T) {
	reg := schemas.NewRegistry()
	for _, u := range []ledger.Update{
		{Channel: "web", SKU: "TEE-RED-M", Available: 12, Version: 3, CauseEventID: "e-1", OccurredAt: 1},
		{Channel: "amazon", SKU: "S", Available: -5, Previous: 300, HasPrevious: true, Version: 1 << 40, CauseEventID: strings.Repeat("x", 128)},
	} {
		b := schemas.AppendUpdate(nil, &u)
		got, ok := causeEventID(b)
		var want ledger.Update
		if err := reg.DecodeUpdate(b, &want); err != nil {
			t.Fatal(err)
		}
		if !ok || string(got) != want.CauseEventID {
			t.Errorf("causeEventID = %q, %v; the registry reads %q", got, ok, want.CauseEventID)
		}
		if _, ok := causeEventID(b[:len(b)-3]); ok {
			t.Error("a truncated update was read")
		}
	}
}

// TestStreamsDeterministic: the same config gives the same bytes.
func TestStreamsDeterministic(t *testing.T) {
	c := retail(7, 50)
	for name, mk := range map[string]func() source{
		"steady":  func() source { return newSteadySource(c) },
		"flash":   func() source { return newFlashSource(c, HotSpot{HotSKUs: 2, HotPct: 80}) },
		"catalog": func() source { return newCatalogSource(c) },
		"holds":   func() source { return newHoldsCatalog(HoldsConfig{Stream: c, Stock: 5}) },
	} {
		a, b := generate(mk(), 2000), generate(mk(), 2000)
		if !bytes.Equal(a.data, b.data) || a.len() != 2000 {
			t.Errorf("%s: two generations differ (%d, %d events)", name, a.len(), b.len())
		}
		policies := 0
		for i := range a.len() {
			if _, v, pol := a.at(i); pol {
				policies++
			} else if len(v) == 0 {
				t.Fatalf("%s: event %d is empty", name, i)
			}
		}
		if policies < c.Channels {
			t.Errorf("%s: %d channel policies, want at least %d", name, policies, c.Channels)
		}
	}
}
