package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the harness's own flags, beside the workloads' Config.
type options struct {
	out        string
	label      string
	cpuProfile string
	bin        string
	charts     bool
	chartsFrom string
}

// presetConfig is the preset -full chooses among args (parsed before the
// flags, which override its sizes).
func presetConfig(args []string) *Config {
	for _, a := range args {
		if a == "-full" || a == "--full" || a == "-full=true" || a == "--full=true" {
			return FullConfig()
		}
	}
	return QuickConfig()
}

// parseFlags builds the Config: the -full preset (the sizes) or
// the quick one, then every size flag on top.
func parseFlags(args []string, stderr io.Writer) (*Config, *options, error) {
	cfg := presetConfig(args)
	o := &options{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: go run ./bench [-full] [-workloads %s] [-runs N] [-brokers host:port] [flags]\n\n"+
			"Runs stockledger's benchmark workloads and writes results (JSON, a Markdown table, PNG charts)\n"+
			"under -out. Without -full every size is small (a few minutes); -full is the issue's sizes.\n\n",
			strings.Join(workloadNames, ","))
		fs.PrintDefaults()
	}
	fs.Bool("full", false, "use the full sizes (1M SKUs, 10M-event replay, 10M SKU-locations, 3 runs); size flags still override")
	workloads := fs.String("workloads", strings.Join(cfg.Workloads, ","), "workloads to run, comma-separated")
	fs.IntVar(&cfg.Runs, "runs", cfg.Runs, "runs of each workload (figures are medians)")
	brokers := fs.String("brokers", "", "Kafka brokers (host:port,...); empty starts the embedded broker in this process")
	partitions := fs.Int("partitions", int(cfg.Partitions), "partitions of every topic created")
	seed := fs.Uint64("seed", 0, "added to every workload's seed (the same seed gives the same events)")
	fs.StringVar(&o.out, "out", "bench/results", "directory for results")
	fs.StringVar(&o.label, "label", "", "suffix for the result files' names")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "CPU profiles of the steady workload's first run: its fold to this file, its fixed-load phases to NAME.live.EXT; "+
		"of the holds workload's first run's offered rates to NAME.holds.EXT")
	fs.StringVar(&o.bin, "bin", "", "stockledger binary for the restart and scale children (default: go build)")
	fs.BoolVar(&o.charts, "charts", true, "write PNG charts")
	fs.StringVar(&o.chartsFrom, "charts-from", "", "only draw the charts of an existing results JSON file (next to it), then exit")

	processorFlags(fs, &cfg.Processor)

	skus := fs.Int("skus", 0, "SKUs of the steady, flash, replay, holds and restart streams (0: the preset's)")
	fs.IntVar(&cfg.Steady.Events, "steady-events", cfg.Steady.Events, "steady: events pre-filled")
	loads := fs.String("loads", joinInts(cfg.Steady.Loads), "steady: fixed offered loads for latency, events/s, comma-separated")
	loadSeconds := fs.Float64("load-seconds", cfg.Steady.LoadSeconds, "steady and flash: seconds per offered load")
	warmup := fs.Float64("warmup-seconds", cfg.Steady.WarmupSeconds, "steady, flash and holds: seconds each load is offered, unmeasured, before it is measured")
	peak := fs.Float64("peak-fraction", cfg.Steady.PeakFraction, "steady and flash: the near-peak load, as a fraction of the measured throughput (0: none)")
	zipf := fs.Float64("zipf", cfg.Steady.Stream.Zipf, "SKU skew of every stream (0: uniform)")
	part2 := fs.Bool("part2", false, "every stream mixes in part 2's events (holds, listings, overrides, clocks)")
	flashLoads := fs.String("flash-loads", joinInts(cfg.Flash.Steady.Loads), "flash: fixed offered loads for latency, events/s, comma-separated")
	holdRates := fs.String("hold-rates", joinInts(cfg.Holds.Rates), "holds: offered POST /v1/holds per second, comma-separated")
	workloadFlags(fs, cfg)
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	if fs.NArg() > 0 {
		return nil, nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	cfg.Workloads = splitList(*workloads)
	if *brokers != "" {
		cfg.Brokers = splitList(*brokers)
	}
	cfg.Partitions = int32(*partitions)
	ls, err := parseInts(*loads)
	if err != nil {
		return nil, nil, fmt.Errorf("-loads: %w", err)
	}
	cfg.Steady.Loads, cfg.Steady.LoadSeconds, cfg.Steady.PeakFraction = ls, *loadSeconds, *peak
	if cfg.Flash.Steady.Loads, err = parseInts(*flashLoads); err != nil {
		return nil, nil, fmt.Errorf("-flash-loads: %w", err)
	}
	cfg.Flash.Steady.LoadSeconds, cfg.Flash.Steady.PeakFraction = *loadSeconds, *peak
	cfg.Steady.WarmupSeconds, cfg.Flash.Steady.WarmupSeconds, cfg.Holds.WarmupSeconds = *warmup, *warmup, *warmup
	if cfg.Holds.Rates, err = parseInts(*holdRates); err != nil {
		return nil, nil, fmt.Errorf("-hold-rates: %w", err)
	}
	cfg.setStreams(*seed, *zipf, *skus, *part2)
	return cfg, o, cfg.Validate()
}

// processorFlags are the knobs of the in-process processor.
func processorFlags(fs *flag.FlagSet, pc *ProcessorConfig) {
	fs.IntVar(&pc.MaxBatchRecords, "max-batch-records", pc.MaxBatchRecords, "processor batch cap (0: the processor's default)")
	fs.BoolVar(&pc.Changelog, "changelog", pc.Changelog, "processor publishes its changelog (the processor's default)")
	fs.DurationVar(&pc.ProducerLinger, "producer-linger", pc.ProducerLinger, "override the processor's Kafka producer linger (negative: keep the processor's own)")
	fs.DurationVar(&pc.CommitInterval, "commit-interval", pc.CommitInterval, "override the processor's --commit-interval (negative: keep the processor's own)")
}

// workloadFlags are the sizes of the flash, replay, restart and scale
// workloads that need no parsing.
func workloadFlags(fs *flag.FlagSet, cfg *Config) {
	fs.IntVar(&cfg.Flash.Steady.Events, "flash-events", cfg.Flash.Steady.Events, "flash: events pre-filled")
	fs.IntVar(&cfg.Flash.Hot.HotSKUs, "hot-skus", cfg.Flash.Hot.HotSKUs, "flash: SKUs on sale")
	fs.IntVar(&cfg.Flash.Hot.HotPct, "hot-pct", cfg.Flash.Hot.HotPct, "flash: percent of events on them")
	fs.IntVar(&cfg.Replay.Events, "replay-events", cfg.Replay.Events, "replay: events in the topic")
	fs.IntVar(&cfg.Restart.Events, "restart-events", cfg.Restart.Events, "restart: events folded before the kill")
	fs.IntVar(&cfg.Restart.LiveRate, "live-rate", cfg.Restart.LiveRate, "restart: live events/s around the kill")
	fs.DurationVar(&cfg.Restart.SessionTimeout, "session-timeout", cfg.Restart.SessionTimeout, "restart: the child's --session-timeout (stockledger run's default is 45s)")
	fs.IntVar(&cfg.Scale.SKULocations, "sku-locations", cfg.Scale.SKULocations, "scale: SKU-locations stocked")
	fs.Float64Var(&cfg.Holds.Seconds, "hold-seconds", cfg.Holds.Seconds, "holds: seconds each rate is measured")
	fs.IntVar(&cfg.Holds.Clients, "hold-clients", cfg.Holds.Clients, "holds: concurrent requests the generator may have in flight (the server admits as many)")
	fs.Float64Var(&cfg.Holds.HoldZipf, "hold-zipf", cfg.Holds.HoldZipf, "holds: SKU skew of the holds (0: uniform)")
	fs.IntVar(&cfg.Holds.Stock, "hold-stock", cfg.Holds.Stock, "holds: units received per SKU before the holds")
}

// setStreams applies -seed, -zipf, -skus and -part2 to every workload's
// stream; the holds workload's catalog takes -seed and -skus only (its
// skew is -hold-zipf, its events receipts).
func (cfg *Config) setStreams(seed uint64, zipf float64, skus int, part2 bool) {
	cfg.Holds.Stream.Seed += seed
	if skus > 0 {
		cfg.Holds.Stream.SKUs = skus
	}
	for _, s := range []*StreamConfig{&cfg.Steady.Stream, &cfg.Flash.Steady.Stream, &cfg.Replay.Stream, &cfg.Restart.Stream} {
		s.Seed += seed
		s.Zipf = zipf
		s.Part2 = part2
		if skus > 0 {
			s.SKUs = skus
		}
	}
	cfg.Scale.Seed += seed
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, p := range splitList(s) {
		v, err := strconv.Atoi(p)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, o, err := parseFlags(args, stderr)
	if err != nil {
		if err != flag.ErrHelp {
			fmt.Fprintln(stderr, "bench:", err)
		}
		return 2
	}
	if o.chartsFrom != "" {
		if err := redraw(o.chartsFrom); err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
		return 0
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	rep, err := Execute(ctx, cfg, o, log)
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	writeTable(stdout, rep.Medians)
	for _, p := range []struct {
		what  string
		lines []string
	}{{"the steady fold", rep.Profile}, {"the steady fixed-load phases", rep.ProfileLive},
		{"the holds workload's offered rates", rep.ProfileHolds}} {
		if len(p.lines) > 0 {
			fmt.Fprintf(stdout, "\nCPU profile of %s, top items:\n%s\n", p.what, strings.Join(p.lines, "\n"))
		}
	}
	if len(rep.Errors) > 0 {
		for _, e := range rep.Errors {
			fmt.Fprintln(stderr, "bench: run failed:", e)
		}
		return 1
	}
	return 0
}

// Execute runs every selected workload cfg.Runs times and writes the
// report (JSON, Markdown table, charts) under o.out.
func Execute(ctx context.Context, cfg *Config, o *options, log *slog.Logger) (*Report, error) {
	started := time.Now()
	rep := &Report{Machine: machine(), Config: cfg}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return nil, err
	}
	profile := ""
	if o.cpuProfile != "" && slices.Contains(cfg.Workloads, "steady") {
		profile = o.cpuProfile
	}
	env, err := NewEnv(cfg.Brokers, cfg.Partitions, cfg.Processor, profile, log)
	if err != nil {
		return nil, err
	}
	defer env.Close()
	env.Bin = o.bin
	foldProf, liveProf := env.profilePaths()
	holdsProf := ""
	if o.cpuProfile != "" && slices.Contains(cfg.Workloads, "holds") {
		holdsProf = withSuffix(o.cpuProfile, ".holds")
		env.holdsProfile = holdsProf
	}
	log.Info("bench starting", "preset", cfg.Preset, "workloads", cfg.Workloads, "runs", cfg.Runs, "broker", env.BrokerKind(),
		"brokers", env.Brokers, "load_avg", rep.Machine.LoadAvg1)
	for _, w := range cfg.Workloads {
		for run := 1; run <= cfg.Runs; run++ {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			log.Info("run", "workload", w, "run", run, "of", cfg.Runs)
			res, err := cfg.run(ctx, env, w, run)
			if err != nil {
				log.Error("run failed", "workload", w, "run", run, "err", err)
				rep.Errors = append(rep.Errors, fmt.Sprintf("%s run %d: %v", w, run, err))
				continue
			}
			rep.Results = append(rep.Results, res)
		}
		env.streams = nil // the next workload generates its own
	}
	rep.Medians = medians(rep.Results)
	if profile != "" {
		rep.Profile, rep.ProfileLive = profileTop(foldProf, 15), profileTop(liveProf, 15)
	}
	rep.ProfileHolds = profileTop(holdsProf, 15)
	rep.Took = time.Since(started)
	rep.ChildBinaryBuilt = env.BinBuilt
	base := filepath.Join(o.out, resultName(rep, cfg, env, o.label))
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(base+".json", append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	if err := writeMarkdown(base+".md", rep, env, profile); err != nil {
		return nil, err
	}
	if o.charts {
		if err := writeCharts(base, rep); err != nil {
			return nil, fmt.Errorf("charts: %w", err)
		}
	}
	log.Info("results written", "file", base+".json", "took", rep.Took.Round(time.Second))
	return rep, nil
}

// writeMarkdown writes the medians as a Markdown table to path, with the
// machine, the command and the top of the CPU profiles taken.
func writeMarkdown(path string, rep *Report, env *Env, profile string) error {
	var md bytes.Buffer
	fmt.Fprintf(&md, "%s, %d× %s, Go %s, %s, commit %s\n\n`%s`\n\n", rep.Machine.Date.Format(time.RFC3339), rep.Machine.NProc,
		rep.Machine.CPUModel, rep.Machine.GoVersion, env.BrokerKind(), short(rep.Machine.Commit), strings.Join(rep.Machine.Command, " "))
	writeTable(&md, rep.Medians)
	if len(rep.Profile) > 0 {
		fmt.Fprintf(&md, "\nCPU profile of the steady fold (%s), top items:\n\n```\n%s\n```\n", filepath.Base(profile), strings.Join(rep.Profile, "\n"))
	}
	for _, p := range []struct {
		what  string
		lines []string
	}{{"the steady fixed-load phases", rep.ProfileLive}, {"the holds workload's offered rates", rep.ProfileHolds}} {
		if len(p.lines) > 0 {
			fmt.Fprintf(&md, "\nCPU profile of %s, top items:\n\n```\n%s\n```\n", p.what, strings.Join(p.lines, "\n"))
		}
	}
	return os.WriteFile(path, md.Bytes(), 0o644)
}

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}

// resultName names a run's files: date, preset, broker, label.
func resultName(rep *Report, cfg *Config, env *Env, label string) string {
	name := rep.Machine.Date.Format("20060102-150405") + "-" + cfg.Preset + "-" + env.BrokerKind()
	if label != "" {
		name += "-" + label
	}
	return name
}

// profileTop returns the top n lines of `go tool pprof -top` for path.
func profileTop(path string, n int) []string {
	if fi, err := os.Stat(path); path == "" || err != nil || fi.Size() == 0 {
		return nil
	}
	out, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount", strconv.Itoa(n), path).Output()
	if err != nil {
		return []string{"go tool pprof: " + err.Error()}
	}
	return strings.Split(strings.TrimRight(string(out), "\n"), "\n")
}

// redraw draws the charts of a results file again, next to it.
func redraw(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return writeCharts(strings.TrimSuffix(path, ".json"), &rep)
}
