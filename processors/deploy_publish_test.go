package processors_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/processors/publish"
	"github.com/stockledger/stockledger/processors/publish/standin"
	"github.com/stockledger/stockledger/schemas"
)

// publisherMetrics runs a publisher of the web channel over the updates
// topic on brokers, against a stand-in that fails and throttles, until it
// has nothing pending, and gathers its metrics: the dashboard's publisher
// panels and rules are checked against them.
func publisherMetrics(ctx context.Context, t *testing.T, brokers []string, topics processors.Topics) []*dto.MetricFamily {
	t.Helper()
	secret := []byte("deploy-test")
	ch, err := standin.Start(secret, 1000, 100, standin.Faults{Seed: 6, Throttle: 0.2, Fail: 0.2})
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	reg := prometheus.NewRegistry()
	cfg := publish.DefaultConfig()
	cfg.Brokers, cfg.Topic, cfg.Group, cfg.Channel = brokers, topics.Updates, "deploy-test-publish", "web"
	cfg.Webhook, cfg.Secret, cfg.Rate, cfg.Burst, cfg.Batch = ch.URL(), secret, 1000, 100, 1
	cfg.Backoff.Min, cfg.Backoff.Max = time.Millisecond, 10*time.Millisecond
	cfg.Schemas, cfg.Log = schemas.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Metrics = publish.NewMetrics(reg, "web")
	p, err := publish.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(pctx) }()
	defer func() { stop(); <-done }()
	for {
		r := ch.Report()
		if st := p.Status(); st.CaughtUp && st.Keys > 0 && st.KeysPending == 0 && r.ByStatus[429] > 0 && r.ByStatus[500] > 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the publisher never published every key and met both a 429 and a 500: %+v, stand-in %v", p.Status(), r.ByStatus)
		case <-time.After(20 * time.Millisecond):
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}
