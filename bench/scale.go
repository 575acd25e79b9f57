package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/stockledger/stockledger/processors"
)

// ScaleConfig is the scale workload: a catalog of SKULocations
// (SKU, location) pairs is stocked (one receipt each) into `stockledger
// run` (a child process, so its memory is its own), which is then measured:
// resident memory and Pebble bytes per SKU-location.
type ScaleConfig struct {
	Seed         uint64 `json:"seed"`
	SKULocations int    `json:"sku_locations"`
	Locations    int    `json:"locations"`
	Channels     int    `json:"channels"`
	// SessionTimeout is the child's --session-timeout (irrelevant here, but
	// bounded so a leftover member never delays the next run).
	SessionTimeout time.Duration `json:"session_timeout"`
}

func (c ScaleConfig) validate() []error {
	var errs []error
	if c.SKULocations < 1 {
		errs = append(errs, fmt.Errorf("scale: sku-locations %d must be at least 1", c.SKULocations))
	}
	if c.Locations < 1 || c.Channels < 1 {
		errs = append(errs, fmt.Errorf("scale: locations and channels must be at least 1"))
	}
	return errs
}

// Run runs the scale workload once.
func (c ScaleConfig) Run(ctx context.Context, env *Env, run int) (*Result, error) {
	res := &Result{Workload: "scale", Run: run, Broker: env.BrokerKind(), Config: c, LoadAvgStart: loadAvg()}
	prefix := env.prefix("scale", run)
	topics := processors.TopicsWithPrefix(prefix)
	defer env.deleteTopics(context.WithoutCancel(ctx), topics)
	stream := StreamConfig{Seed: c.Seed, SKUs: 1, Locations: c.Locations, Channels: c.Channels}

	t0 := time.Now()
	evs := env.stream(fmt.Sprintf("scale %#v", c), func() *events { return generate(newCatalogSource(stream), c.Channels+c.SKULocations) })
	res.Events, res.GenerateSeconds = evs.len(), time.Since(t0).Seconds()
	prod, err := newProducer(ctx, env, topics) // creates the topics
	if err != nil {
		return nil, err
	}
	defer prod.close()

	dir, err := env.tempDir("scale")
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	ch, err := startChild(ctx, env, childArgs{prefix: prefix, group: prefix, sessionTimeout: c.SessionTimeout}, data, "scale")
	if err != nil {
		return nil, err
	}
	defer ch.kill()
	if err := ch.waitOwned(ctx, env.Partitions, 2*time.Minute); err != nil {
		return nil, err
	}
	fig := &ChildFigures{}
	_, fig.IdleRSSBytes, _ = memOf(fmt.Sprint(ch.pid()))

	// The child folds while the catalog is produced.
	t0 = time.Now()
	records, err := prod.backlog(ctx, evs)
	if err != nil {
		return nil, err
	}
	res.ProduceSeconds = time.Since(t0).Seconds()
	adm, acl, err := env.admin()
	if err != nil {
		return nil, err
	}
	_, total, err := endOffsets(ctx, adm, topics.Events)
	acl.Close()
	if err != nil {
		return nil, err
	}
	res.Records = total
	if res.Processor, err = track(ctx, total, ch.folded(ctx), ch.cpu, ch.stoppedChan(), foldTimeout(total)); err != nil {
		return nil, fmt.Errorf("scale child: %w", err)
	}
	res.Processor.StartupSeconds += res.ProduceSeconds
	res.Notes = append(res.Notes, fmt.Sprintf("the child folded while %d records were produced (%.1fs); its rates count from the end of production", records, res.ProduceSeconds))
	fig.PeakRSSBytes, fig.RSSBytes, _ = memOf(fmt.Sprint(ch.pid()))
	if v, ok := ch.metric(ctx, "go_memstats_heap_inuse_bytes"); ok {
		fig.GoHeapInuse = int64(v)
	}
	cpu, _ := cpuOf(ch.pid())
	fig.CPUSeconds = cpu.Seconds()
	n := float64(c.SKULocations)
	fig.RSSPerSKULoc, fig.PeakPerSKULoc = float64(fig.RSSBytes)/n, float64(fig.PeakRSSBytes)/n
	fig.MarginalPerSKULoc = float64(fig.RSSBytes-fig.IdleRSSBytes) / n
	res.Child = fig
	if err := ch.terminate(); err != nil {
		res.Notes = append(res.Notes, fmt.Sprintf("child on SIGTERM: %v", err))
	}
	res.SKULocations = int64(c.SKULocations)
	res.SKUs = int64((c.SKULocations + c.Locations - 1) / c.Locations)
	res.PebbleBytes = dirSize(filepath.Join(data, "ledger"))
	res.PebbleBytesPerSKULocation = float64(res.PebbleBytes) / n
	res.LoadAvgEnd = loadAvg()
	env.Log.Info("scale", "run", run, "sku_locations", c.SKULocations, "rss_per_sku_loc", int(fig.RSSPerSKULoc),
		"peak_rss_per_sku_loc", int(fig.PeakPerSKULoc), "pebble_per_sku_loc", int(res.PebbleBytesPerSKULocation))
	return res, nil
}
