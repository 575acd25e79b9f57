package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/schemas"
)

// Event-to-update latency: a reader consumes the updates topic while a
// phase's events are produced, and matches each update to the event named
// by its cause_event_id. Two figures per update:
//
//   - record: the update record's Kafka timestamp minus the event record's
//     (both CreateTime, set when the producer is handed the record:
//     millisecond resolution, as Kafka keeps timestamps);
//   - seen: when the reader received the update minus when the event was
//     handed to the producer (nanosecond clocks): what a channel publisher
//     consuming the updates topic experiences.
//
// An update coalesces a batch's changes of one channel/sku and names the
// last cause, so the figures are per update, as published.

// updateFingerprint is the header of the current channel_stock_update
// schema; causeEventID reads records written with it directly and leaves
// the others to the registry (schema evolution).
var updateHeader = func() [10]byte {
	var h [10]byte
	copy(h[:], schemas.AppendUpdate(nil, &ledger.Update{}))
	return h
}()

// causeEventID returns the cause_event_id of a channel_stock_update
// written with the current schema, without allocating.
func causeEventID(b []byte) ([]byte, bool) {
	if len(b) < len(updateHeader) || [10]byte(b[:10]) != updateHeader {
		return nil, false
	}
	d := b[10:]
	skipLong := func() bool {
		_, n := binary.Varint(d)
		if n <= 0 {
			return false
		}
		d = d[n:]
		return true
	}
	str := func() ([]byte, bool) {
		l, n := binary.Varint(d)
		if n <= 0 || l < 0 || int64(len(d)-n) < l {
			return nil, false
		}
		s := d[n : n+int(l)]
		d = d[n+int(l):]
		return s, true
	}
	if _, ok := str(); !ok { // channel
		return nil, false
	}
	if _, ok := str(); !ok { // sku
		return nil, false
	}
	if idx, n := binary.Varint(d); n <= 0 || idx < 0 || idx > 1 { // listing_sku: union index, then the string
		return nil, false
	} else if d = d[n:]; idx == 1 {
		if _, ok := str(); !ok {
			return nil, false
		}
	}
	if !skipLong() { // available
		return nil, false
	}
	idx, n := binary.Varint(d) // previous: union index, then the long
	if n <= 0 || idx < 0 || idx > 1 {
		return nil, false
	}
	d = d[n:]
	if idx == 1 && !skipLong() {
		return nil, false
	}
	if !skipLong() { // version
		return nil, false
	}
	return str()
}

// latencyReader collects the latencies of one phase.
type latencyReader struct {
	cl   *kgo.Client
	reg  *schemas.Registry
	ids  map[uint64]int32 // event_id hash -> index of the phase's event
	sent []int64          // per event: Unix nanoseconds it was handed to the producer

	mu      sync.Mutex
	pos     map[int32]int64 // next offset read, per partition
	record  []int64         // microseconds
	seen    []int64         // microseconds
	updates int
	bad     int
}

// newLatencyReader starts reading topic from its current end.
func newLatencyReader(ctx context.Context, env *Env, topic string, e *events, sent []int64) (*latencyReader, error) {
	adm, acl, err := env.admin()
	if err != nil {
		return nil, err
	}
	ends, _, err := endOffsets(ctx, adm, topic)
	acl.Close()
	if err != nil {
		return nil, err
	}
	offs := map[int32]kgo.Offset{}
	pos := map[int32]int64{}
	for p, o := range ends {
		offs[p] = kgo.NewOffset().At(o)
		pos[p] = o
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(env.Brokers...), kgo.ClientID("stockledger-bench-latency"),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offs}), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		return nil, err
	}
	r := &latencyReader{cl: cl, reg: schemas.NewRegistry(), ids: make(map[uint64]int32, e.len()), sent: sent, pos: pos}
	for i, h := range e.ids {
		if _, dup := r.ids[h]; h != 0 && !dup { // a retry reuses its original's id
			r.ids[h] = int32(i)
		}
	}
	return r, nil
}

// run reads until ctx is done.
func (r *latencyReader) run(ctx context.Context) {
	var u ledger.Update
	for {
		fs := r.cl.PollFetches(ctx)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return
		}
		now := time.Now().UnixNano()
		r.mu.Lock()
		fs.EachRecord(func(rec *kgo.Record) {
			r.pos[rec.Partition] = rec.Offset + 1
			r.updates++
			cause, ok := causeEventID(rec.Value)
			if !ok {
				if err := r.reg.DecodeUpdate(rec.Value, &u); err != nil {
					r.bad++
					return
				}
				cause = []byte(u.CauseEventID)
			}
			i, ok := r.ids[idHashBytes(cause)]
			if !ok {
				return
			}
			sent := r.sent[i]
			if sent == 0 {
				return
			}
			// The event's record timestamp is its send time in whole milliseconds.
			evMS := time.Unix(0, sent).UnixMilli()
			r.record = append(r.record, (rec.Timestamp.UnixMilli()-evMS)*1000)
			r.seen = append(r.seen, (now-sent)/1000)
		})
		r.mu.Unlock()
	}
}

// caughtUp reports whether the reader has read up to ends.
func (r *latencyReader) caughtUp(ends map[int32]int64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for p, end := range ends {
		if r.pos[p] < end {
			return false
		}
	}
	return true
}

// waitFor waits until the reader has read up to topic's current end.
func (r *latencyReader) waitFor(ctx context.Context, env *Env, topic string, timeout time.Duration) error {
	adm, acl, err := env.admin()
	if err != nil {
		return err
	}
	ends, _, err := endOffsets(ctx, adm, topic)
	acl.Close()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	for !r.caughtUp(ends) {
		if time.Now().After(deadline) {
			return fmt.Errorf("latency reader: updates topic not read to its end within %v", timeout)
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// Percentiles summarises a latency distribution, in milliseconds.
type Percentiles struct {
	Samples int     `json:"samples"`
	P50     float64 `json:"p50_ms"`
	P90     float64 `json:"p90_ms"`
	P99     float64 `json:"p99_ms"`
	P999    float64 `json:"p999_ms"`
	Max     float64 `json:"max_ms"`
	// CDF is the latency at each of cdfLevels (percent), for charts.
	CDF []float64 `json:"cdf_ms,omitempty"`
}

// cdfLevels are the percentiles Percentiles.CDF holds.
var cdfLevels = func() []float64 {
	var l []float64
	for p := 1.0; p < 90; p += 1 {
		l = append(l, p)
	}
	for p := 90.0; p < 99; p += 0.5 {
		l = append(l, p)
	}
	for p := 99.0; p < 99.9; p += 0.1 {
		l = append(l, p)
	}
	return append(l, 99.9, 99.95, 99.99, 100)
}()

// percentile is the nearest-rank p-th percentile of sorted.
func percentile(sorted []int64, p float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func summarize(us []int64) Percentiles {
	s := slices.Clone(us)
	slices.Sort(s)
	ms := func(v int64) float64 { return float64(v) / 1000 }
	out := Percentiles{Samples: len(s)}
	if len(s) == 0 {
		return out
	}
	out.P50, out.P90, out.P99, out.P999 = ms(percentile(s, 50)), ms(percentile(s, 90)), ms(percentile(s, 99)), ms(percentile(s, 99.9))
	out.Max = ms(s[len(s)-1])
	for _, l := range cdfLevels {
		out.CDF = append(out.CDF, ms(percentile(s, l)))
	}
	return out
}
