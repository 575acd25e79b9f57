package publish_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/processors/publish"
	"github.com/stockledger/stockledger/processors/publish/standin"
	"github.com/stockledger/stockledger/schemas"
)

const topic = "t.updates"

// updateStream writes channel stock updates as the processor would: per
// SKU, versions grow; a key is written when its value changes; some
// records repeat (a refold after a crash), some are another channel's.
type updateStream struct {
	rng     *rand.Rand
	version map[string]uint64
	last    map[string]ledger.Update // the channel's last value per target
}

func (s *updateStream) next(channel string) ledger.Update {
	sku := fmt.Sprintf("SKU-%03d", s.rng.IntN(150))
	s.version[sku]++
	u := ledger.Update{Channel: channel, SKU: sku, Available: ledger.Qty(s.rng.IntN(4) * s.rng.IntN(6)),
		Version: s.version[sku], CauseEventID: fmt.Sprintf("e%d", s.rng.Uint64()), OccurredAt: time.Now().UnixMicro()}
	if s.rng.IntN(5) == 0 {
		u.ListingSKU = sku + "-PACK"
	}
	return u
}

func keyOf(u ledger.Update) string {
	k := u.Channel + "/" + u.SKU
	if u.ListingSKU != "" {
		k += "/" + u.ListingSKU
	}
	return k
}

func target(u ledger.Update) string {
	if u.ListingSKU != "" {
		return u.SKU + "\x00" + u.ListingSKU
	}
	return u.SKU
}

// produce writes n updates (a tenth of them another channel's, a tenth
// repeated) and remembers the channel's last value per target.
func (s *updateStream) produce(ctx context.Context, t *testing.T, cl *kgo.Client, n int) {
	t.Helper()
	var recs []*kgo.Record
	for range n {
		ch := "web"
		if s.rng.IntN(10) == 0 {
			ch = "pos"
		}
		u := s.next(ch)
		r := &kgo.Record{Topic: topic, Key: []byte(keyOf(u)), Value: schemas.AppendUpdate(nil, &u)}
		recs = append(recs, r)
		if s.rng.IntN(10) == 0 {
			recs = append(recs, &kgo.Record{Topic: topic, Key: r.Key, Value: r.Value})
		}
		if ch == "web" {
			s.last[target(u)] = u
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// newRig starts an embedded broker with the updates topic, a client of
// it, and a stand-in channel that misbehaves at random measuring rate and
// burst; cfg is a publisher of the web channel to it.
func newRig(ctx context.Context, t *testing.T, seed uint64, rate float64, burst int) (*kgo.Client, *standin.Channel, publish.Config) {
	t.Helper()
	emb, err := processors.StartEmbedded("127.0.0.1:0", "", 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(emb.Addr()), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 4, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	secret := []byte("s3cret")
	ch, err := standin.Start(secret, rate, burst, standin.Faults{Seed: seed, Throttle: 0.05, Fail: 0.08,
		ApplyThenFail: 0.05, Late: 0.03, LateBy: 600 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ch.Close)
	cfg := publish.DefaultConfig()
	cfg.Brokers, cfg.Topic, cfg.Group, cfg.Channel = []string{emb.Addr()}, topic, "pub-web", "web"
	cfg.Webhook, cfg.Secret, cfg.Rate, cfg.Burst, cfg.Batch = ch.URL(), secret, rate, burst, 25
	cfg.Timeout, cfg.CommitInterval = 300*time.Millisecond, 100*time.Millisecond
	cfg.Backoff.Min, cfg.Backoff.Max = 10*time.Millisecond, 200*time.Millisecond
	cfg.Schemas, cfg.Log = schemas.NewRegistry(), slog.New(slog.NewTextHandler(testLog(), nil))
	return cl, ch, cfg
}

func TestPublisherReachesTheLastValuesUnderFaults(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if v, err := strconv.ParseUint(os.Getenv("STOCKLEDGER_TEST_SEED"), 10, 64); err == nil {
		seed = v
	}
	t.Logf("seed %d (again with STOCKLEDGER_TEST_SEED=%d)", seed, seed)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const rate, burst = 10, 4
	cl, ch, cfg := newRig(ctx, t, seed, rate, burst)

	s := &updateStream{rng: rand.New(rand.NewPCG(seed, 1)), version: map[string]uint64{}, last: map[string]ledger.Update{}}
	// Five lives of the publisher, each stopped while updates flow.
	var last *publish.Publisher
	var reg *prometheus.Registry
	var before standin.Report // what the stand-in saw before the last life
	for life := range 5 {
		before = ch.Report()
		ch.NewClient()
		reg = prometheus.NewRegistry()
		cfg.Metrics = publish.NewMetrics(reg, "web")
		p, err := publish.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		lctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- p.Run(lctx) }()
		for range 4 {
			s.produce(ctx, t, cl, 300)
			time.Sleep(time.Duration(50+s.rng.IntN(200)) * time.Millisecond)
		}
		if life < 4 {
			stop()
			if err := <-done; err != nil {
				t.Fatalf("life %d: %v", life, err)
			}
			continue
		}
		last = p
		defer func() { stop(); <-done }()
	}
	waitEqual(ctx, t, ch, s.last, last)
	checkReport(t, ch.Report())
	checkMetrics(t, reg, before, ch.Report())
}

// checkMetrics checks the last life's metrics against what the stand-in
// saw during it: nothing pending, lag samples of plausible size, and the
// 2xx answers it counted between those the stand-in gave in time and all
// it gave (a late one counts as an error at the publisher).
func checkMetrics(t *testing.T, reg *prometheus.Registry, before, after standin.Report) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			for _, l := range m.GetLabel() {
				if l.GetName() != "channel" {
					name += "/" + l.GetValue()
				}
			}
			switch {
			case m.Gauge != nil:
				got[name] = m.GetGauge().GetValue()
			case m.Counter != nil:
				got[name] = m.GetCounter().GetValue()
			case m.Histogram != nil:
				got[name] = float64(m.GetHistogram().GetSampleCount())
				got[name+"/sum"] = m.GetHistogram().GetSampleSum()
			}
		}
	}
	t.Logf("last life's metrics: %v", got)
	if got["stockledger_publish_keys_pending"] != 0 {
		t.Errorf("keys pending %v at the end, want 0", got["stockledger_publish_keys_pending"])
	}
	if n, sum := got["stockledger_publish_lag_seconds"], got["stockledger_publish_lag_seconds/sum"]; n == 0 || sum <= 0 || sum/n > 60 {
		t.Errorf("%v lag samples of %vs in all: want some, each from an append seconds before", n, sum)
	}
	gave := float64(after.ByStatus[200] - before.ByStatus[200])
	if ok, lost := got["stockledger_publish_requests_total/200"], got["stockledger_publish_requests_total/error"]; ok == 0 || ok > gave || ok+lost < gave {
		t.Errorf("requests answered 200: the publisher counted %v (and %v without an answer), the stand-in answered %v in its life", ok, lost, gave)
	}
}

// waitEqual waits until the channel holds the last value of every target.
func waitEqual(ctx context.Context, t *testing.T, ch *standin.Channel, want map[string]ledger.Update, p *publish.Publisher) {
	t.Helper()
	for {
		got := ch.State()
		diff := []string{}
		for tg, u := range want {
			// A value equal to the one the channel holds is not sent again,
			// so the channel's version may be older than the last one.
			if v := got[tg]; v.Available != int64(u.Available) || v.Version > u.Version {
				diff = append(diff, fmt.Sprintf("%q: channel has %d at version %d, last published %d at %d", tg, v.Available, v.Version, u.Available, u.Version))
			}
		}
		if len(got) != len(want) {
			diff = append(diff, fmt.Sprintf("channel holds %d targets, %d were published", len(got), len(want)))
		}
		if len(diff) == 0 && p.Status().KeysPending == 0 {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("channel never reached the last values (status %+v):\n%s", p.Status(), strings.Join(diff[:min(len(diff), 10)], "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func checkReport(t *testing.T, r standin.Report) {
	t.Helper()
	t.Logf("stand-in: %d requests, by status %v, %d late items dropped", r.Requests, r.ByStatus, r.LateDropped)
	for _, list := range [][]string{r.Breaches, r.Regressions, r.Invalid, r.Impatient} {
		for _, s := range list[:min(len(list), 10)] {
			t.Error(s)
		}
	}
	if r.ByStatus[200] == 0 || r.ByStatus[500] == 0 {
		t.Errorf("the stand-in should have both applied and failed requests: %v", r.ByStatus)
	}
}

// TestPublishersHandOver runs two publishers of the channel in one group
// for a while (each gets some partitions: revoked from the first, caught
// up by the second), then stops the first: the second ends with every
// key. (Two publishers of a channel double its rate, so the rate is high.)
func TestPublishersHandOver(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, ch, cfg := newRig(ctx, t, seed, 1000, 100)
	s := &updateStream{rng: rand.New(rand.NewPCG(seed, 1)), version: map[string]uint64{}, last: map[string]ledger.Update{}}
	run := func() (*publish.Publisher, func()) {
		cfg.Metrics = publish.NewMetrics(prometheus.NewRegistry(), "web")
		p, err := publish.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		pctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- p.Run(pctx) }()
		return p, func() {
			stop()
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}
	_, stopA := run()
	s.produce(ctx, t, cl, 500)
	b, stopB := run()
	defer stopB()
	for range 4 {
		s.produce(ctx, t, cl, 300)
		time.Sleep(200 * time.Millisecond)
	}
	stopA()
	s.produce(ctx, t, cl, 300)
	waitEqual(ctx, t, ch, s.last, b)
	r := ch.Report()
	for _, list := range [][]string{r.Regressions, r.Invalid} {
		for _, e := range list[:min(len(list), 10)] {
			t.Error(e)
		}
	}
}

func testLog() io.Writer {
	if os.Getenv("STOCKLEDGER_TEST_LOG") != "" {
		return os.Stderr
	}
	return io.Discard
}
