package main

import (
	"time"
)

// Result is one run of one workload. Figures a workload does not measure
// are left out of its JSON.
type Result struct {
	Workload string `json:"workload"`
	Run      int    `json:"run"`
	Broker   string `json:"broker"` // embedded or external
	Config   any    `json:"config"`

	Events          int     `json:"events"`           // events generated for the pre-filled topic
	Records         int64   `json:"records"`          // records in it (a channel_policy is one per partition)
	GenerateSeconds float64 `json:"generate_seconds"` // generating and encoding them (not measured further)
	ProduceSeconds  float64 `json:"produce_seconds"`  // producing them to the broker

	// Processor is the processor folding the pre-filled topic from the start.
	Processor *Throughput `json:"processor,omitempty"`
	// Raw is the ceiling: the same topic consumed with the same client
	// settings, every record polled and nothing else done.
	Raw *Throughput `json:"raw,omitempty"`
	// RatioToRaw is Processor.PerSec / Raw.PerSec.
	RatioToRaw float64 `json:"ratio_to_raw,omitempty"`
	// Ceiling is the I/O ceiling (steady and flash): the same topic
	// consumed with the processor's client settings while the records the
	// processor produced for it (Outputs) are produced again to fresh
	// topics, in proportion to the input consumed, with no fold; from the
	// first records to every input consumed and every output acknowledged.
	Ceiling *Throughput `json:"ceiling,omitempty"`
	// RatioToCeiling is Processor.PerSec / Ceiling.PerSec.
	RatioToCeiling float64 `json:"ratio_to_ceiling,omitempty"`
	// Outputs is what the processor produced for the pre-filled topic.
	Outputs *Outputs `json:"outputs,omitempty"`

	// Latency has one entry per offered load. SettleSeconds is how long
	// the harness waited, before the first, for the store's compactions
	// of the backlog to finish.
	Latency       []LatencyPhase `json:"latency,omitempty"`
	SettleSeconds float64        `json:"settle_seconds,omitempty"`
	// Holds has one entry per offered rate of the holds workload.
	Holds []HoldPhase `json:"holds,omitempty"`

	// HarnessPeakRSSBytes is VmHWM of the harness process from the
	// processor's start to the end of the run: the processor, and also the
	// embedded broker holding the topic and the load generator. The I/O
	// ceiling's copy of the outputs is left out (the peak is reset after
	// it, and the larger of the two peaks kept).
	HarnessPeakRSSBytes int64 `json:"harness_peak_rss_bytes,omitempty"`
	// PebbleBytes is the store's size on disk after the run; SKULocations
	// the (SKU, location) pairs it holds.
	PebbleBytes               int64   `json:"pebble_bytes,omitempty"`
	SKUs                      int64   `json:"skus,omitempty"`
	SKULocations              int64   `json:"sku_locations,omitempty"`
	PebbleBytesPerSKULocation float64 `json:"pebble_bytes_per_sku_location,omitempty"`
	// LargestSKUStateBytes is the largest SKU state in the store, encoded:
	// a hot SKU's state is written whole at every batch that changes it.
	LargestSKUStateBytes int64 `json:"largest_sku_state_bytes,omitempty"`

	// Child is the `stockledger run` process of the restart and scale
	// workloads: its own memory and CPU, broker excluded.
	Child    *ChildFigures `json:"child,omitempty"`
	Recovery *Recovery     `json:"recovery,omitempty"`

	LoadAvgStart float64  `json:"load_avg_1m_start"`
	LoadAvgEnd   float64  `json:"load_avg_1m_end"`
	Notes        []string `json:"notes,omitempty"`
}

// Throughput is a topic read from its start to its end.
type Throughput struct {
	Records int64 `json:"records"`
	// StartupSeconds: from the start to the first records done (joining
	// the group, loading the store); not in the rates.
	StartupSeconds float64 `json:"startup_seconds"`
	// Seconds: from the first records done to the last.
	Seconds float64 `json:"seconds"`
	// PerSec is Records / Seconds.
	PerSec float64 `json:"per_sec"`
	// SustainedPerSec is the rate between 10% and 90% of the records.
	SustainedPerSec float64 `json:"sustained_per_sec"`
	// CPUSeconds is the process's CPU time over Seconds (in-process: the
	// harness, broker included); CPUMicrosPerRecord divides it.
	CPUSeconds         float64 `json:"cpu_seconds"`
	CPUMicrosPerRecord float64 `json:"cpu_us_per_record"`
	// Batches is the processor's processing batches (in-process only).
	Batches int64 `json:"batches,omitempty"`
	// Timeline samples the records done, for the throughput chart.
	Timeline []Sample `json:"timeline,omitempty"`
}

// Outputs counts the records the processor produced for the pre-filled
// topic, per topic, and their keys' and values' bytes. Per event means
// per input record (a channel_policy event is one record per partition).
type Outputs struct {
	Updates         int64   `json:"updates"`
	Alerts          int64   `json:"alerts"`
	DeadLetters     int64   `json:"dead_letters"`
	Changelog       int64   `json:"changelog"`
	Records         int64   `json:"records"`
	Bytes           int64   `json:"bytes"`
	RecordsPerEvent float64 `json:"records_per_event"`
	BytesPerEvent   float64 `json:"bytes_per_event"`
}

// Sample is one point of a Throughput timeline.
type Sample struct {
	T       float64 `json:"t"` // seconds since the start
	Records int64   `json:"records"`
}

// LatencyPhase is one offered load: events produced at a fixed rate into
// the running processor, each update matched to its cause.
type LatencyPhase struct {
	Name            string  `json:"name"`
	OfferedPerSec   float64 `json:"offered_per_sec"`   // the target rate
	ProducedPerSec  float64 `json:"produced_per_sec"`  // what the generator achieved
	ProcessedPerSec float64 `json:"processed_per_sec"` // records folded / (last folded - phase start)
	KeptUp          bool    `json:"kept_up"`           // processed within 5% of produced
	Events          int     `json:"events"`
	Updates         int     `json:"updates"`     // update records read
	Matched         int     `json:"matched"`     // of them, caused by this phase's events
	CPUSeconds      float64 `json:"cpu_seconds"` // harness process, broker included
	// Batches committed during the phase, their mean size and the mean
	// time per batch (phase time / batches).
	Batches         int64       `json:"batches"`
	RecordsPerBatch float64     `json:"records_per_batch"`
	BatchMillis     float64     `json:"batch_ms"`
	Record          Percentiles `json:"record_ts"` // update record timestamp - event record timestamp
	Seen            Percentiles `json:"seen"`      // update received by a consumer - event sent
}

// HoldPhase is one offered rate of the holds workload: POST /v1/holds
// sent open-loop, each timed from its due time to its answer (holdload.go).
type HoldPhase struct {
	Name          string  `json:"name"`
	OfferedPerSec float64 `json:"offered_per_sec"`
	Requests      int     `json:"requests"`
	// Seconds is from the first request's due time to the last answer;
	// ProcessedPerSec divides the decisions (201 and 409) by it.
	Seconds         float64 `json:"seconds"`
	ProcessedPerSec float64 `json:"processed_per_sec"`
	KeptUp          bool    `json:"kept_up"` // processed within 5% of offered
	// Answered counts the decisions: Granted, Partial, Refused and Expired
	// hold results, and OtherAnswers (a 409 without one).
	Answered     int `json:"answered"`
	Granted      int `json:"granted"`
	Partial      int `json:"partial"`
	Refused      int `json:"refused"`
	Expired      int `json:"expired"`
	OtherAnswers int `json:"other_answers"`
	// Errors are every other answer and every request that failed (status
	// 0), counted by status in ErrorsByStatus.
	Errors         int            `json:"errors"`
	ErrorsByStatus map[string]int `json:"errors_by_status,omitempty"`
	// Latency is due time to answer, over the decisions; SendLag is due
	// time to the request leaving the generator, over every request.
	Latency Percentiles `json:"latency"`
	SendLag Percentiles `json:"send_lag"`
	// Stages split the round trips at their records' timestamps (holdstages.go).
	Stages *HoldStages `json:"stages,omitempty"`
	// CPUSeconds is the harness process's (processor, HTTP server, broker
	// and generator); Batches the processor's batches in the phase, and
	// BatchMillis the phase's time per batch.
	CPUSeconds  float64 `json:"cpu_seconds"`
	Batches     int64   `json:"batches"`
	BatchMillis float64 `json:"batch_ms"`
	// OthersCores is the CPU every other process on the machine used
	// over the phase, in cores: the machine is shared, and a tail taken
	// while others compiled says so.
	OthersCores float64 `json:"others_cores"`
}

// ChildFigures are a child process's own figures.
type ChildFigures struct {
	PeakRSSBytes  int64   `json:"peak_rss_bytes"`           // VmHWM
	RSSBytes      int64   `json:"rss_bytes"`                // VmRSS when measured
	IdleRSSBytes  int64   `json:"idle_rss_bytes,omitempty"` // VmRSS before any event
	GoHeapInuse   int64   `json:"go_heap_inuse_bytes,omitempty"`
	CPUSeconds    float64 `json:"cpu_seconds"`
	RSSPerSKULoc  float64 `json:"rss_bytes_per_sku_location,omitempty"`
	PeakPerSKULoc float64 `json:"peak_rss_bytes_per_sku_location,omitempty"`
	// MarginalPerSKULoc is (RSS - idle RSS) / SKU-locations.
	MarginalPerSKULoc float64 `json:"marginal_rss_bytes_per_sku_location,omitempty"`
}

// Recovery is a SIGKILL and restart: seconds from the new process's
// start (exec) to each milestone.
type Recovery struct {
	SessionTimeout string `json:"session_timeout"` // the child's --session-timeout
	BacklogEvents  int    `json:"backlog_events"`  // produced while it was down
	LiveRate       int    `json:"live_rate"`       // events/s produced around the kill
	// DownSeconds is from the SIGKILL to the restart: the group hands the
	// killed member's partitions on about SessionTimeout after the kill.
	DownSeconds       float64 `json:"down_seconds"`
	HTTPSeconds       float64 `json:"http_seconds"`       // /healthz answers (store open)
	AssignedSeconds   float64 `json:"assigned_seconds"`   // every partition owned
	ProcessingSeconds float64 `json:"processing_seconds"` // a partition folds past its offset at the kill: the recovery figure
	CaughtUpSeconds   float64 `json:"caught_up_seconds"`  // the backlog of the downtime folded
}

// Report is one invocation of the harness: what the JSON file holds.
type Report struct {
	Machine     Machine   `json:"machine"`
	Config      *Config   `json:"config"`
	Results     []*Result `json:"results"`
	Medians     []Median  `json:"medians"`
	Profile     []string  `json:"cpu_profile_top,omitempty"`      // the steady fold
	ProfileLive []string  `json:"cpu_profile_live_top,omitempty"` // the steady fixed-load phases
	// ProfileHolds is the holds workload's offered rates (warm-ups included).
	ProfileHolds []string      `json:"cpu_profile_holds_top,omitempty"`
	Took         time.Duration `json:"took_ns"`
	// ChildBinaryBuilt is when the restart and scale children's binary was
	// built from the working tree (zero: not built, or given with -bin).
	ChildBinaryBuilt time.Time `json:"child_binary_built,omitzero"`
	Errors           []string  `json:"errors,omitempty"`
}
