package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger/store"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/schemas"
)

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", "run [--brokers a,b] [--embedded-addr 127.0.0.1:9092] [--data ./data] [--http 127.0.0.1:8080]", stderr)
	cfg := processors.DefaultConfig()
	brokers := fs.String("brokers", envOr("STOCKLEDGER_BROKERS", ""), "Kafka brokers, comma-separated; without it an embedded broker is started")
	embedded := fs.String("embedded-addr", envOr("STOCKLEDGER_EMBEDDED_ADDR", "127.0.0.1:9092"), "address of the embedded broker (only without --brokers)")
	data := fs.String("data", envOr("STOCKLEDGER_DATA", "./data"), "directory for the ledger store (and the embedded broker's log)")
	httpAddr := fs.String("http", envOr("STOCKLEDGER_HTTP", "127.0.0.1:8080"), "HTTP listen address (API, /metrics, probes); empty disables")
	partitions := fs.Int("partitions", 8, "partitions of the events topic when creating it")
	fs.StringVar(&cfg.Group, "group", envOr("STOCKLEDGER_GROUP", cfg.Group), "consumer group")
	topicPrefix := fs.String("topic-prefix", envOr("STOCKLEDGER_TOPIC_PREFIX", processors.DefaultTopicPrefix), "topics are PREFIX.events, PREFIX.updates, PREFIX.alerts, PREFIX.dead-letters")
	sessionTimeout := fs.Duration("session-timeout", 45*time.Second, "consumer group session timeout: how long the group waits for a member that stopped heartbeating (one killed without leaving) before giving its partitions to others")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	withDemo := fs.Bool("demo", false, "also feed a live demo retailer's events into the events topic")
	fs.BoolVar(&cfg.ExactlyOnce, "exactly-once", envOr("STOCKLEDGER_EXACTLY_ONCE", "") == "true", "publish each batch in a Kafka transaction: read_committed consumers see every update once")
	fs.StringVar(&cfg.InstanceID, "instance-id", envOr("STOCKLEDGER_INSTANCE_ID", cfg.InstanceID), "this instance's name, unique in the group and stable across restarts (transactional id with --exactly-once)")
	advertise := fs.String("advertise-http", envOr("STOCKLEDGER_ADVERTISE_HTTP", ""), "HTTP address other instances and clients use to reach this one (default: --http)")
	addSchemaRegistryFlags(fs, &cfg.SchemaRegistry)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	log, err := newLogger(stderr, *logFormat, *logLevel)
	if err != nil {
		return exitError{2, err}
	}
	cfg.Partitions = int32(*partitions)
	cfg.Topics = processors.TopicsWithPrefix(*topicPrefix)
	cfg.AdvertiseHTTP = *advertise
	if cfg.AdvertiseHTTP == "" {
		cfg.AdvertiseHTTP = *httpAddr
	}
	if *sessionTimeout <= 0 {
		return exitError{2, fmt.Errorf("--session-timeout %v: must be positive", *sessionTimeout)}
	}
	cfg.ClientOpts = append(cfg.ClientOpts, kgo.SessionTimeout(*sessionTimeout))
	if err := os.MkdirAll(*data, 0o755); err != nil {
		return fmt.Errorf("creating data directory: %w", err)
	}
	if *brokers == "" {
		emb, err := processors.StartEmbedded(*embedded, filepath.Join(*data, "kafka"), cfg.Partitions)
		if err != nil {
			return err
		}
		defer emb.Close()
		cfg.Brokers = []string{emb.Addr()}
		log.Info("embedded kafka broker started", "addr", emb.Addr())
	} else {
		cfg.Brokers = splitList(*brokers)
	}
	st, err := openStore(ctx, filepath.Join(*data, "ledger"), log)
	if err != nil {
		return err
	}
	defer st.Close()
	reg := schemas.NewRegistry()
	promReg := prometheus.NewRegistry()
	promReg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	p, err := processors.New(ctx, cfg, st, reg, promReg, log)
	if err != nil {
		return err
	}
	if *httpAddr != "" {
		ln, err := net.Listen("tcp", *httpAddr)
		if err != nil {
			return fmt.Errorf("listening on %s: %w", *httpAddr, err)
		}
		srv := &http.Server{Handler: p.Handler(promReg), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("http server", "err", err)
			}
		}()
		defer srv.Close()
		log.Info("http listening", "addr", ln.Addr().String())
	}
	log.Info("processor running", "brokers", cfg.Brokers, "topic", cfg.Topics.Events, "partitions", p.NumPartitions(), "data", *data)
	if *withDemo {
		go func() {
			if err := runDemo(ctx, cfg.Brokers, cfg.Topics, cfg.SchemaRegistry, log); err != nil && ctx.Err() == nil {
				log.Error("demo stopped", "err", err)
			}
		}()
	}
	err = p.Run(ctx)
	log.Info("processor stopped")
	return err
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	o := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, o)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, o)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// openStore opens the ledger store, retrying while the disk cannot be
// written (a full or failing disk the operator is fixing).
func openStore(ctx context.Context, dir string, log *slog.Logger) (*store.Store, error) {
	for wait := time.Second; ; wait = min(2*wait, 30*time.Second) {
		st, err := store.Open(dir, store.Options{MinFreeBytes: 64 << 20})
		if err == nil {
			return st, nil
		}
		log.Error("cannot open the ledger store; retrying", "dir", dir, "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(wait):
		}
	}
}
