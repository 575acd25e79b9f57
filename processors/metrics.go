package processors

import (
	"strconv"

	"github.com/cockroachdb/pebble/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stockledger/stockledger/ledger"
)

// metrics are the processor's Prometheus metrics. Labels are low
// cardinality: type, reason, kind, partition; never SKU or channel.
type metrics struct {
	applied     *prometheus.CounterVec
	appliedBy   [ledger.NumEventTypes]prometheus.Counter
	duplicates  prometheus.Counter
	deadLetters *prometheus.CounterVec
	deadBy      [ledger.NumReasons]prometheus.Counter
	alerts      *prometheus.CounterVec
	alertsBy    [ledger.NumAlertKinds]prometheus.Counter
	updates     prometheus.Counter
	// channelUpdates and channelZero: updates by channel, and those that
	// say a channel has none of a SKU left (a listing's by its channel).
	channelUpdates, channelZero *prometheus.CounterVec
	latency                     prometheus.Histogram
	lag                         *prometheus.GaugeVec
	groupLag                    prometheus.Gauge
	batches                     prometheus.Counter
	batchRecords                prometheus.Histogram
	owned                       prometheus.Gauge
	storeErrors                 prometheus.Counter
	stalled                     prometheus.Gauge

	changelogErrors prometheus.Counter
	restoreSeconds  prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stockledger_ledger_events_applied_total", Help: "Events applied to the ledger, by type.",
		}, []string{"type"}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stockledger_ledger_events_duplicate_total", Help: "Events skipped because their event_id was already applied.",
		}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stockledger_ledger_dead_letters_total", Help: "Events sent to the dead-letter topic, by reason.",
		}, []string{"reason"}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stockledger_ledger_alerts_total", Help: "Alerts published, by kind.",
		}, []string{"kind"}),
		updates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stockledger_output_updates_published_total", Help: "Channel stock updates published.",
		}),
		channelUpdates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stockledger_output_channel_updates_total", Help: "Channel stock updates published, by channel (listing updates under their channel).",
		}, []string{"channel"}),
		channelZero: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stockledger_output_channel_sold_out_total", Help: "Channel stock updates published with available 0 (a SKU or listing the channel can no longer sell), by channel.",
		}, []string{"channel"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "stockledger_output_event_to_update_seconds",
			Help:    "From an event's timestamp in Kafka to its channel update being acknowledged by Kafka.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "stockledger_consumer_partition_lag_records", Help: "Events in the partition not yet folded.",
		}, []string{"partition"}),
		groupLag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "stockledger_consumer_group_lag_records",
			Help: "Events of the whole topic no instance has folded yet (partitions owned elsewhere from the group's committed offsets).",
		}),
		batches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stockledger_processor_batches_total", Help: "Processing batches committed.",
		}),
		batchRecords: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "stockledger_processor_batch_records", Help: "Events per processing batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}),
		owned: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "stockledger_consumer_partitions_owned", Help: "Partitions of the events topic this instance owns.",
		}),
		storeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stockledger_store_errors_total", Help: "Pebble reads or commits that failed.",
		}),
		changelogErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stockledger_changelog_errors_total", Help: "Changelog writes that failed.",
		}),
		restoreSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "stockledger_changelog_restore_seconds", Help: "Time to restore a newly assigned partition from the changelog.",
			Buckets: prometheus.ExponentialBuckets(0.01, 3, 10),
		}),
		stalled: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "stockledger_store_stalled", Help: "1 while consumption is paused because the store cannot write.",
		}),
	}
	reg.MustRegister(m.applied, m.duplicates, m.deadLetters, m.alerts, m.updates, m.channelUpdates, m.channelZero, m.latency,
		m.lag, m.groupLag, m.batches, m.batchRecords, m.owned, m.storeErrors, m.stalled, m.changelogErrors, m.restoreSeconds)
	m.bindLabels()
	return m
}

// bindLabels makes the series of every event type, dead-letter reason and
// alert kind up front: each exists (at 0) from the start, and a batch adds
// to them without looking labels up.
func (m *metrics) bindLabels() {
	for _, t := range ledger.EventTypes() {
		m.appliedBy[t] = m.applied.WithLabelValues(t.String())
	}
	for _, r := range ledger.Reasons() {
		m.deadBy[r] = m.deadLetters.WithLabelValues(r.String())
	}
	for _, k := range ledger.AlertKinds() {
		m.alertsBy[k] = m.alerts.WithLabelValues(k.String())
	}
}

func (m *metrics) setLag(p int32, lag int64) {
	m.lag.WithLabelValues(strconv.Itoa(int(p))).Set(float64(lag))
}

// pebbleCollector exports a few Pebble health figures.
type pebbleCollector struct {
	db        func() *pebble.DB // nil while the store is broken
	allocated func() (int64, error)
	descs     map[string]*prometheus.Desc
}

func newPebbleCollector(db func() *pebble.DB, allocated func() (int64, error)) *pebbleCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("stockledger_pebble_"+name, help, nil, nil)
	}
	return &pebbleCollector{db: db, allocated: allocated, descs: map[string]*prometheus.Desc{
		"allocated": prometheus.NewDesc("stockledger_store_disk_allocated_bytes",
			"Bytes the store's directory takes on disk, as du counts them (Pebble's preallocated and recycled logs included).", nil, nil),
		"disk":        d("disk_space_usage_bytes", "Bytes of Pebble's files by their size (without what it preallocates for logs: see stockledger_store_disk_allocated_bytes)."),
		"memtable":    d("memtable_size_bytes", "Bytes in memtables."),
		"readamp":     d("read_amplification", "Pebble read amplification."),
		"compactions": d("compactions_total", "Compactions run."),
		"flushes":     d("flushes_total", "Memtable flushes."),
		"walbytes":    d("wal_bytes_written_total", "Bytes written to the WAL."),
		"cachehits":   d("block_cache_hits_total", "Block cache hits."),
		"cachemisses": d("block_cache_misses_total", "Block cache misses."),
		"l0files":     d("l0_files", "Files in L0 (write stalls above a threshold)."),
	}}
}

func (c *pebbleCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *pebbleCollector) Collect(ch chan<- prometheus.Metric) {
	db := c.db()
	if db == nil {
		return
	}
	m := db.Metrics()
	g := func(k string, v float64) { ch <- prometheus.MustNewConstMetric(c.descs[k], prometheus.GaugeValue, v) }
	ct := func(k string, v float64) { ch <- prometheus.MustNewConstMetric(c.descs[k], prometheus.CounterValue, v) }
	g("disk", float64(m.DiskSpaceUsage()))
	if n, err := c.allocated(); err == nil {
		g("allocated", float64(n))
	}
	g("memtable", float64(m.MemTable.Size))
	g("readamp", float64(m.ReadAmp()))
	ct("compactions", float64(m.Compact.Count))
	ct("flushes", float64(m.Flush.Count))
	ct("walbytes", float64(m.WAL.BytesWritten))
	ct("cachehits", float64(m.BlockCache.Hits))
	ct("cachemisses", float64(m.BlockCache.Misses))
	g("l0files", float64(m.Levels[0].TablesCount))
}
