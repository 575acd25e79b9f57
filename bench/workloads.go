package main

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// SteadyConfig is the steady workload: a retailer's realistic stream
// (ledger/gen) over many SKUs, Zipf-skewed, pre-filled and folded from
// the start, then offered at fixed rates for latency.
type SteadyConfig struct {
	Stream StreamConfig `json:"stream"`
	// Events pre-fill the topic (the throughput figure).
	Events int `json:"events"`
	// Loads are the fixed offered loads (events/s) measured for latency,
	// each for LoadSeconds, followed by one at PeakFraction of the measured
	// throughput (0 leaves it out).
	Loads        []int   `json:"loads"`
	LoadSeconds  float64 `json:"load_seconds"`
	PeakFraction float64 `json:"peak_fraction"`
	// WarmupSeconds: each load is offered this long, unmeasured, before
	// it is measured, so a phase measures the processor at that rate and
	// not its passage from the previous one.
	WarmupSeconds float64 `json:"warmup_seconds"`
}

func (c SteadyConfig) validate(name string) []error {
	errs := c.Stream.validate(name)
	if c.Events < 1 {
		errs = append(errs, fmt.Errorf("%s: events %d must be at least 1", name, c.Events))
	}
	for _, l := range c.Loads {
		if l < 1 {
			errs = append(errs, fmt.Errorf("%s: load %d must be at least 1 event/s", name, l))
		}
	}
	if c.LoadSeconds <= 0 && (len(c.Loads) > 0 || c.PeakFraction > 0) {
		errs = append(errs, fmt.Errorf("%s: load seconds must be positive", name))
	}
	if c.WarmupSeconds < 0 {
		errs = append(errs, fmt.Errorf("%s: warm-up seconds %g must not be negative", name, c.WarmupSeconds))
	}
	if c.PeakFraction < 0 || c.PeakFraction > 2 {
		errs = append(errs, fmt.Errorf("%s: peak fraction %g not in 0..2", name, c.PeakFraction))
	}
	return errs
}

func (c SteadyConfig) phases() []phaseSpec {
	var out []phaseSpec
	for _, l := range c.Loads {
		out = append(out, phaseSpec{name: loadName(l), rate: float64(l), seconds: c.LoadSeconds, warmup: c.WarmupSeconds})
	}
	if c.PeakFraction > 0 {
		out = append(out, phaseSpec{name: fmt.Sprintf("peak x%.2g", c.PeakFraction), seconds: c.LoadSeconds, peak: c.PeakFraction,
			warmup: c.WarmupSeconds})
	}
	return out
}

func loadName(l int) string {
	if l%1000 == 0 {
		return fmt.Sprintf("%dk/s", l/1000)
	}
	return fmt.Sprintf("%d/s", l)
}

// Run runs the steady workload once.
func (c SteadyConfig) Run(ctx context.Context, env *Env, run int) (*Result, error) {
	return runFold(ctx, env, foldSpec{workload: "steady", run: run, config: c, src: newSteadySource(c.Stream),
		backlog: c.Events, raw: true, ceiling: true, phases: c.phases()})
}

// FlashConfig is the flash-sale workload: most events are orders on a
// handful of SKUs (with their shipments and restocking), pre-filled and
// folded from the start, then offered at fixed rates (Steady.Loads) and
// near peak rate for latency.
type FlashConfig struct {
	Steady SteadyConfig `json:"steady"` // the background stream, sizes and loads
	Hot    HotSpot      `json:"hot"`
}

func (c FlashConfig) validate() []error {
	errs := c.Steady.validate("flash")
	if c.Hot.HotSKUs < 1 || c.Hot.HotPct < 1 || c.Hot.HotPct > 100 {
		errs = append(errs, fmt.Errorf("flash: hot SKUs must be at least 1 and hot percent in 1..100"))
	}
	return errs
}

// Run runs the flash workload once.
func (c FlashConfig) Run(ctx context.Context, env *Env, run int) (*Result, error) {
	return runFold(ctx, env, foldSpec{workload: "flash", run: run, config: c, src: newFlashSource(c.Steady.Stream, c.Hot),
		backlog: c.Steady.Events, raw: true, ceiling: true, phases: c.Steady.phases()})
}

// ReplayConfig is the replay workload: a large pre-filled topic folded
// from the start by a new processor (a rebuild from the book of record).
type ReplayConfig struct {
	Stream StreamConfig `json:"stream"`
	Events int          `json:"events"`
}

// Run runs the replay workload once.
func (c ReplayConfig) Run(ctx context.Context, env *Env, run int) (*Result, error) {
	return runFold(ctx, env, foldSpec{workload: "replay", run: run, config: c, src: newSteadySource(c.Stream),
		backlog: c.Events, raw: true})
}

// workloadNames lists every workload, in the order they run.
var workloadNames = []string{"steady", "flash", "replay", "holds", "restart", "scale"}

// Config is one invocation of the harness.
type Config struct {
	Workloads  []string        `json:"workloads"`
	Runs       int             `json:"runs"`
	Brokers    []string        `json:"brokers,omitempty"`
	Partitions int32           `json:"partitions"`
	Processor  ProcessorConfig `json:"processor"`
	Steady     SteadyConfig    `json:"steady"`
	Flash      FlashConfig     `json:"flash"`
	Replay     ReplayConfig    `json:"replay"`
	Holds      HoldsConfig     `json:"holds"`
	Restart    RestartConfig   `json:"restart"`
	Scale      ScaleConfig     `json:"scale"`
	Preset     string          `json:"preset"`
}

// Validate reports every problem at once.
func (c *Config) Validate() error {
	var errs []error
	if c.Runs < 1 {
		errs = append(errs, fmt.Errorf("runs %d must be at least 1", c.Runs))
	}
	if c.Partitions < 1 || c.Partitions > 1000 {
		errs = append(errs, fmt.Errorf("partitions %d not in 1..1000", c.Partitions))
	}
	if len(c.Workloads) == 0 {
		errs = append(errs, errors.New("no workload selected"))
	}
	for _, w := range c.Workloads {
		switch w {
		case "steady":
			errs = append(errs, c.Steady.validate("steady")...)
		case "flash":
			errs = append(errs, c.Flash.validate()...)
		case "replay":
			errs = append(errs, c.Replay.Stream.validate("replay")...)
			if c.Replay.Events < 1 {
				errs = append(errs, fmt.Errorf("replay: events %d must be at least 1", c.Replay.Events))
			}
		case "holds":
			errs = append(errs, c.Holds.validate()...)
		case "restart":
			errs = append(errs, c.Restart.validate()...)
		case "scale":
			errs = append(errs, c.Scale.validate()...)
		default:
			errs = append(errs, fmt.Errorf("unknown workload %q (want %v)", w, workloadNames))
		}
	}
	return errors.Join(errs...)
}

// run runs workload w once.
func (c *Config) run(ctx context.Context, env *Env, w string, run int) (*Result, error) {
	switch w {
	case "steady":
		return c.Steady.Run(ctx, env, run)
	case "flash":
		return c.Flash.Run(ctx, env, run)
	case "replay":
		return c.Replay.Run(ctx, env, run)
	case "holds":
		return c.Holds.Run(ctx, env, run)
	case "restart":
		return c.Restart.Run(ctx, env, run)
	case "scale":
		return c.Scale.Run(ctx, env, run)
	}
	return nil, fmt.Errorf("unknown workload %q", w)
}

// retail is the stream shape every workload shares unless told otherwise:
// 4 locations, 4 channels, Zipf 1.1 over the SKUs, 2% retries, 1% refused
// and 1% malformed events.
func retail(seed uint64, skus int) StreamConfig {
	return StreamConfig{Seed: seed, SKUs: skus, Locations: 4, Channels: 4, Zipf: 1.1, DupPct: 2, RefusePct: 1, InvalidPct: 1}
}

// QuickConfig is a run of a few minutes: every workload at small sizes.
func QuickConfig() *Config {
	return &Config{
		Preset: "quick", Workloads: workloadNames, Runs: 1, Partitions: 8,
		Processor: ProcessorConfig{Changelog: true, ProducerLinger: -1, CommitInterval: -1},
		Steady: SteadyConfig{Stream: retail(1, 100_000), Events: 300_000, Loads: []int{10_000, 100_000},
			LoadSeconds: 3, PeakFraction: 0.9, WarmupSeconds: 2},
		Flash: FlashConfig{
			Steady: SteadyConfig{Stream: retail(2, 100_000), Events: 300_000, Loads: []int{100_000},
				LoadSeconds: 3, PeakFraction: 0.9, WarmupSeconds: 2},
			Hot: HotSpot{HotSKUs: 5, HotPct: 80},
		},
		Replay: ReplayConfig{Stream: retail(3, 100_000), Events: 500_000},
		// The 1M SKUs even here: the backlog is one receipt per
		// SKU, folded in seconds.
		Holds: HoldsConfig{Stream: retail(6, 1_000_000), Stock: 100, Rates: []int{1000, 10_000}, Seconds: 3,
			WarmupSeconds: 2, Channel: "web", TTL: 10 * time.Minute, Clients: 1024},
		Restart: RestartConfig{Stream: retail(4, 100_000), Events: 200_000, LiveRate: 2000, LiveSeconds: 2, SessionTimeout: 6 * time.Second},
		Scale:   ScaleConfig{Seed: 5, SKULocations: 400_000, Locations: 4, Channels: 4, SessionTimeout: 6 * time.Second},
	}
}

// FullConfig is the sizes: 1M SKUs (2M events pre-filled, then
// 10s per offered load; holds 10s per rate), a 10M-event replay, 10M
// SKU-locations, the default 45s session timeout, three runs each. About
// half an hour on two cores.
func FullConfig() *Config {
	c := QuickConfig()
	c.Preset, c.Runs = "full", 3
	c.Steady.Stream.SKUs, c.Steady.Events, c.Steady.LoadSeconds = 1_000_000, 2_000_000, 10
	c.Flash.Steady.Stream.SKUs, c.Flash.Steady.Events, c.Flash.Steady.LoadSeconds = 1_000_000, 2_000_000, 10
	c.Replay.Stream.SKUs, c.Replay.Events = 1_000_000, 10_000_000
	c.Holds.Seconds = 10
	c.Restart.Stream.SKUs, c.Restart.Events, c.Restart.SessionTimeout = 1_000_000, 1_000_000, 45*time.Second
	c.Scale.SKULocations = 10_000_000
	return c
}
