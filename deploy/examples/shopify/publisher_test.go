package main

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/processors/publish"
	"github.com/stockledger/stockledger/schemas"
)

// TestBehindThePublisher puts the adapter behind the real publisher: the
// updates topic (on an embedded broker) through `publish` to the adapter,
// to the stand-in Shopify that throttles, fails and loses replies. Shopify
// must end holding every key's last value on the topic.
func TestBehindThePublisher(t *testing.T) {
	seed := testSeed(t)
	t.Logf("seed %d (replay with STOCKLEDGER_TEST_SEED=%d)", seed, seed)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	faults := faultRates{throttle429: 0.03, throttled: 0.03, failBefore: 0.05, lostReply: 0.06}
	keys := testKeys(60, 20)
	r := newRig(t, seed, faults, keys)
	emb, err := processors.StartEmbedded("127.0.0.1:0", "", 2)
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Close()
	const topic = "shop.updates"
	cl, err := kgo.NewClient(kgo.SeedBrokers(emb.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 2, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	cfg := publish.DefaultConfig()
	cfg.Brokers, cfg.Topic, cfg.Group, cfg.Channel = []string{emb.Addr()}, topic, "shop-web", "web"
	cfg.Webhook, cfg.Secret, cfg.Rate, cfg.Burst, cfg.Batch = r.url, testSecret, 100, 10, 10
	cfg.Timeout, cfg.CommitInterval = 2*time.Second, 100*time.Millisecond
	cfg.Backoff.Min, cfg.Backoff.Max = 5*time.Millisecond, 100*time.Millisecond
	cfg.Schemas, cfg.Log = schemas.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Metrics = publish.NewMetrics(prometheus.NewRegistry(), "web")
	p, err := publish.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(pctx) }()
	defer func() { stop(); <-done }()
	last := produceUpdates(ctx, t, cl, topic, keys, rand.New(rand.NewPCG(seed, 2)))

	for {
		diff := 0
		for i, k := range keys {
			if r.standin.quantity(k.itemID) != last[i] {
				diff++
			}
		}
		if diff == 0 && p.Status().KeysPending == 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("%d of %d keys never reached their last value on Shopify (publisher %+v)", diff, len(keys), p.Status())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, v := range r.standin.violations() {
		t.Error(v)
	}
	t.Logf("stand-in %+v", r.standin.stats())
}

// produceUpdates writes 20 rounds of values of a random half of the keys
// (the web channel's, versions growing per SKU as the processor's do), a
// round every 50ms, and returns each key's last.
func produceUpdates(ctx context.Context, t *testing.T, cl *kgo.Client, topic string, keys []testKey, rng *rand.Rand) []int64 {
	t.Helper()
	last := make([]int64, len(keys))
	version := map[string]uint64{}
	for range 20 {
		var recs []*kgo.Record
		for i, k := range keys {
			if rng.IntN(2) == 0 && version[k.sku] > 0 {
				continue
			}
			version[k.sku]++
			u := ledger.Update{Channel: "web", SKU: k.sku, Available: ledger.Qty(rng.IntN(50)), Version: version[k.sku],
				CauseEventID: "e", OccurredAt: time.Now().UnixMicro()}
			key := "web/" + k.sku
			if k.listing != nil {
				u.ListingSKU, key = *k.listing, key+"/"+*k.listing
			}
			recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(key), Value: schemas.AppendUpdate(nil, &u)})
			last[i] = int64(u.Available)
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return last
}
