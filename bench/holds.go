package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"time"

	"github.com/stockledger/stockledger/processors"
)

// HoldsConfig is the holds workload: the checkout API's round trip. A
// catalog is stocked (the channel policies, then one receipt per SKU) and
// folded by an in-process processor that serves its HTTP API on
// 127.0.0.1, as `stockledger run` does; then POST /v1/holds is offered
// open-loop at fixed rates (holdload.go), each request timed from its
// scheduled send to its answer.
type HoldsConfig struct {
	// Stream names the SKUs (S-00000000...), locations and channels, and
	// seeds the SKUs held; its Zipf is not used (HoldZipf is).
	Stream StreamConfig `json:"stream"`
	// Stock is each SKU's receipt: enough that uniform holds of one unit
	// are granted, so the figures are of the common case.
	Stock int `json:"stock"`
	// Rates are the offered holds/s, each offered WarmupSeconds unmeasured,
	// then Seconds measured.
	Rates         []int   `json:"rates"`
	Seconds       float64 `json:"seconds"`
	WarmupSeconds float64 `json:"warmup_seconds"`
	// HoldZipf skews the SKUs held (s > 1; 0 is uniform). A hot SKU keeps
	// every hold it granted in its state until the hold closes, and the
	// processor clock is off (ClockInterval 0), so skew measures the
	// growth of a few states more than the round trip.
	HoldZipf float64 `json:"hold_zipf"`
	// Channel is the channel every hold names (web sells from every
	// location, with no buffer).
	Channel string `json:"channel"`
	// TTL of every hold: longer than the run, so none expires in it.
	TTL time.Duration `json:"ttl"`
	// Clients are the concurrent requests the load generator can have in
	// flight (one keep-alive connection each); the server's
	// HTTP.MaxConcurrent is set to match, so it refuses none.
	Clients int `json:"clients"`
}

func (c HoldsConfig) validate() []error {
	errs := c.Stream.validate("holds")
	if c.Stock < 1 {
		errs = append(errs, fmt.Errorf("holds: stock %d must be at least 1", c.Stock))
	}
	if len(c.Rates) == 0 || c.Seconds <= 0 || c.WarmupSeconds < 0 {
		errs = append(errs, fmt.Errorf("holds: want at least one rate, positive seconds and non-negative warm-up"))
	}
	for _, r := range c.Rates {
		if r < 1 {
			errs = append(errs, fmt.Errorf("holds: rate %d must be at least 1 hold/s", r))
		}
	}
	if c.HoldZipf != 0 && c.HoldZipf <= 1 {
		errs = append(errs, fmt.Errorf("holds: hold zipf %g must be 0 or above 1", c.HoldZipf))
	}
	if c.TTL < time.Second || c.TTL > 7*24*time.Hour {
		errs = append(errs, fmt.Errorf("holds: ttl %v not in 1s..7 days", c.TTL))
	}
	if c.Clients < 1 {
		errs = append(errs, fmt.Errorf("holds: clients %d must be at least 1", c.Clients))
	}
	return errs
}

// holdsCatalog is the holds workload's backlog: the channel policies,
// then one receipt of Stock units per SKU, the SKUs round the locations.
type holdsCatalog struct {
	cat   *catalogSource
	stock int
}

func newHoldsCatalog(c HoldsConfig) *holdsCatalog {
	return &holdsCatalog{cat: newCatalogSource(c.Stream), stock: c.Stock}
}

func (s *holdsCatalog) next() []byte {
	c := s.cat
	if c.sent < len(c.channels) {
		c.sent++
		return c.policies.Next()
	}
	i := c.sent - len(c.channels)
	c.sent++
	at := c.start.Add(time.Duration(i) * time.Millisecond).Format(time.RFC3339Nano)
	return fmt.Appendf(nil, `{"event_id":"stock-%d","type":"receipt","sku":"%s","occurred_at":%q,"location":%q,"qty":%d}`,
		i, holdSKU(i), at, c.locations[i%len(c.locations)], s.stock)
}

// holdSKU names SKU i of the catalog.
func holdSKU(i int) string { return fmt.Sprintf("S-%08d", i) }

// Run runs the holds workload once.
func (c HoldsConfig) Run(ctx context.Context, env *Env, run int) (*Result, error) {
	spec := foldSpec{workload: "holds", run: run, config: c, src: newHoldsCatalog(c),
		backlog: c.Stream.Channels + c.Stream.SKUs}
	res := &Result{Workload: spec.workload, Run: run, Broker: env.BrokerKind(), Config: c, LoadAvgStart: loadAvg()}
	prefix := env.prefix(spec.workload, run)
	topics := processors.TopicsWithPrefix(prefix)
	defer env.deleteTopics(context.WithoutCancel(ctx), topics)
	prod, err := prefill(ctx, env, spec, topics, res)
	if err != nil {
		return nil, err
	}
	prod.close() // the holds are written by the API
	ip, err := foldBacklog(ctx, env, spec, topics, prefix, "", res)
	if err != nil {
		return nil, err
	}
	stopped := false
	defer func() {
		if !stopped {
			ip.stop()
		}
	}()
	res.SettleSeconds = ip.settle(ctx, time.Minute).Seconds()
	env.Log.Info("store settled", "workload", spec.workload, "seconds", round(res.SettleSeconds, 1))
	if err := c.offerRates(ctx, env, ip, topics, res); err != nil {
		return nil, err
	}
	peak, _, _ := memOf("self")
	res.HarnessPeakRSSBytes = peak
	stopped = true
	sf, err := ip.stop()
	if err != nil {
		return nil, err
	}
	res.SKUs, res.SKULocations, res.PebbleBytes, res.LargestSKUStateBytes = sf.skus, sf.skuLocs, sf.bytes, sf.largest
	if res.SKULocations > 0 {
		res.PebbleBytesPerSKULocation = float64(res.PebbleBytes) / float64(res.SKULocations)
	}
	res.LoadAvgEnd = loadAvg()
	return res, nil
}

// offerRates serves the processor's HTTP API on 127.0.0.1 and offers each
// rate, warm-up first.
func (c HoldsConfig) offerRates(ctx context.Context, env *Env, ip *inproc, top processors.Topics, res *Result) error {
	url, closeServer, err := serveAPI(ip, c.Clients)
	if err != nil {
		return err
	}
	defer closeServer()
	cl := holdClient(c.Clients)
	defer cl.CloseIdleConnections()
	// The first request starts the API's hold watch (its Kafka client and
	// the topics' offsets): a one-off, kept out of every phase.
	prime := holdBody(0, c.Channel, c.TTL, "prime")
	if code, body, err := postHold(ctx, cl, url, prime); err != nil || code != http.StatusCreated {
		return fmt.Errorf("first hold: %d %s %v", code, body, err)
	}
	pick := c.skuPicker()
	prof := env.holdsProfile
	env.holdsProfile = "" // the first run's only
	stopProfile, err := startProfile(prof)
	if err != nil {
		return err
	}
	defer stopProfile()
	for i, rate := range c.Rates {
		name := loadName(rate)
		warm := c.bodies(pick, int(float64(rate)*c.WarmupSeconds), fmt.Sprintf("w%d", i))
		measured := c.bodies(pick, max(1, int(float64(rate)*c.Seconds)), fmt.Sprintf("m%d", i))
		if len(warm) > 0 {
			if _, err := offerHolds(ctx, cl, url, warm, float64(rate), c.Clients); err != nil {
				return fmt.Errorf("holds %s warm-up: %w", name, err)
			}
		}
		hp, err := c.measure(ctx, env, ip, top, cl, url, measured, rate, fmt.Sprintf("m%d", i))
		if err != nil {
			return fmt.Errorf("holds %s: %w", name, err)
		}
		res.Holds = append(res.Holds, hp)
		env.Log.Info("holds", "rate", name, "processed", int(hp.ProcessedPerSec), "p50_ms", hp.Latency.P50,
			"p99_ms", hp.Latency.P99, "p999_ms", hp.Latency.P999, "granted", hp.Granted, "refused", hp.Refused,
			"errors", hp.Errors, "send_lag_p99_ms", hp.SendLag.P99, "tail_ms_to_event_fold_to_answer", hp.Stages.TailMeans,
			"others_cores", round(hp.OthersCores, 2))
	}
	return nil
}

// measure offers the holds bodies (hold_ids tag-0...) at rate and
// summarises them, with the stages of their round trips.
func (c HoldsConfig) measure(ctx context.Context, env *Env, ip *inproc, top processors.Topics, cl *http.Client, url string,
	bodies [][]byte, rate int, tag string) (HoldPhase, error) {
	from, err := holdTopicEnds(ctx, env, top)
	if err != nil {
		return HoldPhase{}, err
	}
	batches, cpu0, all0 := ip.batches(), cpuSelf(), cpuMachine()
	t, err := offerHolds(ctx, cl, url, bodies, float64(rate), c.Clients)
	if err != nil {
		return HoldPhase{}, err
	}
	hp := t.phase(loadName(rate), float64(rate))
	hp.CPUSeconds, hp.Batches = (cpuSelf() - cpu0).Seconds(), ip.batches()-batches
	if t.took > 0 {
		hp.OthersCores = max(0, (cpuMachine()-all0).Seconds()-hp.CPUSeconds) / t.took.Seconds()
	}
	if hp.Batches > 0 {
		hp.BatchMillis = t.took.Seconds() * 1000 / float64(hp.Batches)
	}
	to, err := holdTopicEnds(ctx, env, top)
	if err != nil {
		return HoldPhase{}, err
	}
	if hp.Stages, err = holdStages(ctx, env, top, from, to, t, tag); err != nil {
		return HoldPhase{}, err
	}
	return hp, nil
}

// serveAPI serves ip's HTTP API (as `stockledger run` builds it) on a
// free port of 127.0.0.1, admitting maxConcurrent requests at once.
func serveAPI(ip *inproc, maxConcurrent int) (url string, closeFn func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	hc := processors.DefaultHTTPConfig()
	hc.Addr, hc.MaxConcurrent = ln.Addr().String(), maxConcurrent
	srv := processors.NewHTTPServer(ip.p.HTTPHandler(ip.reg, hc), hc)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	return "http://" + hc.Addr + "/v1/holds", func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			srv.Close()
		}
		<-done // a server that failed to serve shows in the phases' answers
	}, nil
}

// skuPicker returns the SKU index of each hold: uniform, or Zipf-skewed
// with HoldZipf; seeded, so runs hold the same SKUs.
func (c HoldsConfig) skuPicker() func() int {
	r := rand.New(rand.NewPCG(c.Stream.Seed, 0x401d5))
	n := c.Stream.SKUs
	if c.HoldZipf == 0 {
		return func() int { return r.IntN(n) }
	}
	z := rand.NewZipf(r, c.HoldZipf, 1, uint64(n-1))
	return func() int { return int(z.Uint64()) }
}

// bodies builds n hold requests, hold_ids tag-0, tag-1...: built before
// they are offered, so building them does not compete with the API.
func (c HoldsConfig) bodies(pick func() int, n int, tag string) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = holdBody(pick(), c.Channel, c.TTL, fmt.Sprintf("%s-%d", tag, i))
	}
	return out
}

// holdBody is the POST /v1/holds body of one unit of SKU sku.
func holdBody(sku int, channel string, ttl time.Duration, holdID string) []byte {
	return fmt.Appendf(nil, `{"sku":"%s","channel":%q,"qty":1,"ttl":%q,"hold_id":%q}`, holdSKU(sku), channel, ttl.String(), holdID)
}
