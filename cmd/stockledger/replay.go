package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/stockledger/stockledger/processors/audit"
)

// replaySummary is summary.json, written beside the exported ledger.
type replaySummary struct {
	Topic      string            `json:"topic"`
	Partitions int32             `json:"topic_partitions"`
	Next       map[string]int64  `json:"next_offsets"`
	UntilTime  string            `json:"until_time,omitempty"`
	Records    int64             `json:"records"`
	Applied    int64             `json:"applied"`
	Duplicates int64             `json:"duplicates"`
	Dead       map[string]int64  `json:"dead_letters"`
	Alerts     map[string]int64  `json:"alerts"`
	SKUs       int               `json:"skus"`
	Locations  int               `json:"location_rows"`
	Channels   int               `json:"channel_rows"`
	Checksums  map[string]string `json:"checksums"`
	Seconds    float64           `json:"seconds"`
	EventsPerS float64           `json:"events_per_second"`
}

func replayCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("replay", "replay [--brokers a,b] [--topic-prefix P] [--until-offset P:O,... | --until-time T] [--out DIR]", stderr)
	af := addAuditFlags(fs)
	sf := addStopFlags(fs)
	out := fs.String("out", "replay", "directory for the ledger as of the stop point: locations.jsonl/.csv (one row per SKU-location), channels.jsonl/.csv (one per SKU-channel), summary.json")
	scratch := fs.String("scratch", "", "directory for the rebuilt store (must not exist or be empty; kept). Default: a temporary directory, removed after")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return exitError{2, fmt.Errorf("replay: unexpected argument %q", pos[0])}
	}
	stop, err := sf.stop()
	if err != nil {
		return exitError{2, err}
	}
	cfg, err := af.config(ctx)
	if err != nil {
		return err
	}
	dir, cleanup, err := scratchDir(*scratch)
	if err != nil {
		return err
	}
	defer cleanup()
	var prog audit.Progress
	stopBar := startProgress(stderr, *af.quiet, "replay", &prog)
	res, err := audit.Replay(ctx, cfg, stop, dir, &prog)
	stopBar()
	if err != nil {
		return explainKafkaErr(err)
	}
	defer res.Close()
	parts := res.Parts()
	ec, err := audit.Export(res.Store, parts, *out)
	if err != nil {
		return fmt.Errorf("writing %s: %w", *out, err)
	}
	sum := replaySummary{
		Topic: cfg.Topic, Partitions: res.Partitions, Next: map[string]int64{}, Records: res.Counts.Records,
		Applied: res.Counts.Applied, Duplicates: res.Counts.Duplicates, Dead: res.Counts.Dead, Alerts: res.Counts.Alerts,
		SKUs: ec.SKUs, Locations: ec.Locations, Channels: ec.Channels, Checksums: map[string]string{},
		Seconds: res.Took.Seconds(), EventsPerS: float64(res.Counts.Records) / max(res.Took.Seconds(), 1e-9),
	}
	if !stop.Until.IsZero() {
		sum.UntilTime = stop.Until.UTC().Format("2006-01-02T15:04:05.999Z07:00")
	}
	for _, p := range parts {
		sum.Next[fmt.Sprint(p)] = res.Next[p]
		c, err := audit.Checksum(res.Store, p, cfg.Ledger)
		if err != nil {
			return err
		}
		sum.Checksums[fmt.Sprint(p)] = c.Hex()
	}
	b, _ := json.MarshalIndent(sum, "", "  ")
	if err := os.WriteFile(filepath.Join(*out, "summary.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "replayed %s events of %s in %.2fs (%s events/s)\n", thousands(res.Counts.Records), cfg.Topic,
		res.Took.Seconds(), thousands(int64(sum.EventsPerS)))
	fmt.Fprintf(stdout, "as of offsets %s\n", audit.FormatOffsets(res.Next))
	fmt.Fprintf(stdout, "applied %s, duplicates %s, dead letters %s\n", thousands(res.Counts.Applied), thousands(res.Counts.Duplicates), countsLine(res.Counts.Dead))
	fmt.Fprintf(stdout, "wrote %s SKUs: %s SKU-location rows, %s SKU-channel rows to %s\n", thousands(int64(ec.SKUs)),
		thousands(int64(ec.Locations)), thousands(int64(ec.Channels)), *out)
	return nil
}

// countsLine renders counts by name: "12 (unknown_order 7, invalid_field 5)".
func countsLine(m map[string]int64) string {
	var total int64
	names := make([]string, 0, len(m))
	for k, v := range m {
		total += v
		names = append(names, k)
	}
	slices.Sort(names)
	if total == 0 {
		return "0"
	}
	parts := make([]string, 0, len(names))
	for _, k := range names {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return fmt.Sprintf("%s (%s)", thousands(total), strings.Join(parts, ", "))
}
