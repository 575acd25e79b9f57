package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/processors/publish"
)

const publishSynopsis = "publish --channel C --webhook URL --secret S [--rate 5/s] [--burst 20] [--batch 100] [--brokers a,b] [--http 127.0.0.1:9465]"

func publishCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("publish", publishSynopsis, stderr)
	cfg := publish.DefaultConfig()
	brokers := fs.String("brokers", envOr("STOCKLEDGER_BROKERS", "127.0.0.1:9092"), "Kafka brokers, comma-separated")
	topicPrefix := fs.String("topic-prefix", envOr("STOCKLEDGER_TOPIC_PREFIX", processors.DefaultTopicPrefix), "the updates topic is PREFIX.updates")
	fs.StringVar(&cfg.Channel, "channel", "", "the channel to publish (one with a policy)")
	group := fs.String("group", "", "consumer group (default stockledger-publish-CHANNEL; one running publisher per channel)")
	fs.StringVar(&cfg.Webhook, "webhook", envOr("STOCKLEDGER_PUBLISH_WEBHOOK", ""), "URL the batches are POSTed to (payload: schemas/webhook/publish-request.schema.json)")
	secret := fs.String("secret", envOr("STOCKLEDGER_PUBLISH_SECRET", ""), "HMAC-SHA256 key each request is signed with (prefer STOCKLEDGER_PUBLISH_SECRET or --secret-file)")
	secretFile := fs.String("secret-file", envOr("STOCKLEDGER_PUBLISH_SECRET_FILE", ""), "file holding the signing key")
	rateFlag := fs.String("rate", "5/s", "requests per second (N/s) or per minute (N/m) the webhook may receive")
	fs.IntVar(&cfg.Burst, "burst", cfg.Burst, "requests that may go at once after a quiet spell")
	fs.IntVar(&cfg.Batch, "batch", cfg.Batch, "keys per request at most")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "time the webhook has to answer a request; after it, the request's keys are sent again")
	fs.DurationVar(&cfg.Backoff.Min, "backoff-min", cfg.Backoff.Min, "first wait after a failed request (it doubles up to --backoff-max)")
	fs.DurationVar(&cfg.Backoff.Max, "backoff-max", cfg.Backoff.Max, "longest wait between failed requests")
	fs.DurationVar(&cfg.CatchUpTimeout, "catch-up-timeout", cfg.CatchUpTimeout, "longest wait, after partitions are assigned, to read them to their end before sending")
	fs.DurationVar(&cfg.SessionTimeout, "session-timeout", cfg.SessionTimeout, "how long the group waits for a publisher that stopped answering (a crash) before its partitions go to the next")
	httpAddr := fs.String("http", envOr("STOCKLEDGER_PUBLISH_HTTP", "127.0.0.1:9465"), "address of /metrics, /healthz and /readyz (\"\": none)")
	logLevel := fs.String("log-level", envOr("STOCKLEDGER_LOG_LEVEL", "info"), "debug, info, warn or error")
	kf := addKafkaFlags(fs)
	var src processors.SchemaRegistryConfig
	addSchemaRegistryFlags(fs, &src)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return exitError{2, fmt.Errorf("publish: unexpected argument %q", pos[0])}
	}
	cfg.Brokers, cfg.Topic = splitList(*brokers), processors.TopicsWithPrefix(*topicPrefix).Updates
	if cfg.Schemas, err = src.Schemas(); err != nil {
		return exitError{2, err}
	}
	if err := publishSettings(&cfg, *rateFlag, *secret, *secretFile, *group); err != nil {
		fs.Usage()
		return exitError{2, err}
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*logLevel)); err != nil {
		return exitError{2, fmt.Errorf("--log-level %q: want debug, info, warn or error", *logLevel)}
	}
	cfg.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lv}))
	if cfg.ClientOpts, err = kf.connect(ctx, cfg.Brokers); err != nil {
		return err
	}
	return runPublisher(ctx, cfg, *httpAddr)
}

// publishSettings reads the settings that need more than a flag: the
// rate's unit, the secret from its file, the default group.
func publishSettings(cfg *publish.Config, rateFlag, secret, secretFile, group string) error {
	r, err := parseRate(rateFlag)
	if err != nil {
		return err
	}
	cfg.Rate = r
	if secretFile != "" {
		b, err := os.ReadFile(secretFile)
		if err != nil {
			return fmt.Errorf("--secret-file: %w", err)
		}
		secret = strings.TrimSpace(string(b))
	}
	cfg.Secret = []byte(secret)
	cfg.Group = group
	if group == "" {
		cfg.Group = publish.DefaultGroup(cfg.Channel)
	}
	return cfg.Validate()
}

// parseRate reads N/s, N/m or N (per second).
func parseRate(s string) (float64, error) {
	num, unit, _ := strings.Cut(s, "/")
	per := 1.0
	switch unit {
	case "", "s":
	case "m":
		per = 60
	default:
		return 0, fmt.Errorf("--rate %q: want N/s or N/m (requests per second or per minute)", s)
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("--rate %q: want a positive number of requests, N/s or N/m", s)
	}
	return n / per, nil
}

// runPublisher runs the publisher and its metrics server until ctx ends.
func runPublisher(ctx context.Context, cfg publish.Config, httpAddr string) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	processors.RegisterBuildInfo(reg)
	cfg.Metrics = publish.NewMetrics(reg, cfg.Channel)
	// Listening first: New starts the Kafka client, which only Run closes.
	var ln net.Listener
	if httpAddr != "" {
		var err error
		if ln, err = net.Listen("tcp", httpAddr); err != nil {
			return fmt.Errorf("--http %s: %w", httpAddr, err)
		}
		defer ln.Close()
	}
	p, err := publish.New(cfg)
	if err != nil {
		return exitError{2, err}
	}
	if ln != nil {
		srv := &http.Server{Handler: publishMux(reg, p), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		cfg.Log.Info("metrics and probes", "addr", ln.Addr().String())
	}
	cfg.Log.Info("publishing", "channel", cfg.Channel, "topic", cfg.Topic, "group", cfg.Group, "webhook", cfg.Webhook,
		"rate_per_s", cfg.Rate, "burst", cfg.Burst, "batch", cfg.Batch)
	return explainKafkaErr(p.Run(ctx))
}

// publishMux serves /metrics, /healthz and /readyz (ready once caught up).
func publishMux(reg *prometheus.Registry, p *publish.Publisher) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeStatus(w, http.StatusOK, p.Status())
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		st := p.Status()
		code := http.StatusOK
		if !st.CaughtUp {
			code = http.StatusServiceUnavailable
		}
		writeStatus(w, code, st)
	})
	return mux
}

func writeStatus(w http.ResponseWriter, code int, st publish.Status) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	fmt.Fprintf(w, "{\"caught_up\":%t,\"keys\":%d,\"keys_pending\":%d}\n", st.CaughtUp, st.Keys, st.KeysPending)
}
