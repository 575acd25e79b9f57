package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/processors/audit"
)

// auditFlags are the flags every audit command shares.
type auditFlags struct {
	brokers     *string
	topicPrefix *string
	quiet       *bool
	registry    processors.SchemaRegistryConfig
	kafka       *kafkaFlags
}

func addAuditFlags(fs *flag.FlagSet) *auditFlags {
	a := &auditFlags{
		brokers:     fs.String("brokers", envOr("STOCKLEDGER_BROKERS", "127.0.0.1:9092"), "Kafka brokers, comma-separated"),
		topicPrefix: fs.String("topic-prefix", envOr("STOCKLEDGER_TOPIC_PREFIX", processors.DefaultTopicPrefix), "topics are PREFIX.events, PREFIX.updates, PREFIX.alerts, PREFIX.dead-letters"),
		quiet:       fs.Bool("quiet", false, "no progress line on stderr (it is shown only when stderr is a terminal anyway)"),
		kafka:       addKafkaFlags(fs),
	}
	addSchemaRegistryFlags(fs, &a.registry)
	return a
}

// config returns the audit configuration, or every problem with the Kafka
// security settings (a usage error).
func (a *auditFlags) config(ctx context.Context) (audit.Config, error) {
	cfg := audit.DefaultConfig()
	cfg.Brokers = splitList(*a.brokers)
	cfg.Topic = processors.TopicsWithPrefix(*a.topicPrefix).Events
	cfg.SchemaRegistry = a.registry
	opts, err := a.kafka.connect(ctx, cfg.Brokers)
	cfg.ClientOpts = append(cfg.ClientOpts, opts...)
	return cfg, err
}

// stopFlags are --until-offset and --until-time.
type stopFlags struct {
	offsets *string
	until   *string
}

func addStopFlags(fs *flag.FlagSet) *stopFlags {
	return &stopFlags{
		offsets: fs.String("until-offset", "", "stop each named partition before this offset: P:O,P:O... (the next offset, as /v1/status shows it); only the named partitions are replayed"),
		until:   fs.String("until-time", "", "stop each partition before its first event appended to Kafka after this time (RFC 3339; the record timestamp, not occurred_at)"),
	}
}

func (s *stopFlags) stop() (audit.Stop, error) {
	var st audit.Stop
	if *s.offsets != "" && *s.until != "" {
		return st, fmt.Errorf("give --until-offset or --until-time, not both")
	}
	if *s.offsets != "" {
		o, err := audit.ParseOffsets(*s.offsets)
		if err != nil {
			return st, fmt.Errorf("--until-offset: %w", err)
		}
		st.Offsets = o
	}
	if *s.until != "" {
		t, err := parseTime(*s.until)
		if err != nil {
			return st, fmt.Errorf("--until-time: %w", err)
		}
		st.Until = t
	}
	return st, nil
}

// parseTime parses an RFC 3339 time.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time (like 2026-11-27T10:00:00Z)", s)
	}
	return t, nil
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// startProgress redraws a progress line (events, events/s, ETA) on w,
// when w is a terminal and not quiet, until the returned stop is called.
func startProgress(w io.Writer, quiet bool, label string, prog *audit.Progress) (stop func()) {
	if quiet || !isTerminal(w) {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	start := time.Now()
	go func() {
		defer wg.Done()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				fmt.Fprint(w, "\r\033[K")
				return
			case <-t.C:
				fmt.Fprint(w, "\r\033[K"+progressLine(label, prog.Records.Load(), prog.Total.Load(), time.Since(start)))
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

// progressLine renders one progress line.
func progressLine(label string, n, total int64, took time.Duration) string {
	rate := float64(n) / max(took.Seconds(), 1e-3)
	line := fmt.Sprintf("%s %s events  %s events/s", label, thousands(n), thousands(int64(rate)))
	if total > 0 {
		line = fmt.Sprintf("%s %3d%% %s/%s events  %s events/s", label, min(100, n*100/total), thousands(n), thousands(total), thousands(int64(rate)))
		if rate > 0 && n < total {
			eta := time.Duration(float64(total-n) / rate * float64(time.Second))
			line += "  ETA " + eta.Round(time.Second).String()
		}
	}
	return line
}

// thousands renders n with thousands separators.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
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
}

// scratchDir returns the scratch store directory: dir if given (it must
// not exist or be empty; it is kept), else a new temporary one removed by
// cleanup.
func scratchDir(dir string) (path string, cleanup func(), err error) {
	if dir != "" {
		return dir, func() {}, nil
	}
	tmp, err := os.MkdirTemp("", "stockledger-replay-")
	if err != nil {
		return "", nil, err
	}
	return tmp, func() { os.RemoveAll(tmp) }, nil
}
