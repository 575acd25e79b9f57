package processors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/schemas"
)

// The checkout API may run on any instance, and the SKU's partition may be
// folded by another one, so it never asks the fold: it writes the event and
// waits for what the fold publishes about it. A holdWatch follows the
// hold-results topic (results keyed sku/hold_id) and the dead-letters topic
// (keyed by the SKU, naming the event_id) from where it started, and hands
// each record to the requests waiting for its key. A request registers
// before it writes, so nothing published after its write is missed.
//
// Some events publish nothing: a retried hold (a duplicate event_id, which
// the fold skips) and a hold_released of a closed hold. A request learns
// that its event was folded from the group's committed offsets (the owner
// commits a partition's offset after the outputs of the records below it
// are acknowledged, and mirrors it to the group), waits until the watch
// has read the output partitions up to their last stable offsets, and then
// answers from the results it has seen, or reads the key's partition of
// the hold-results topic back (holdScanWindow).

// holdScanWindow is how far back (record time) a key's hold-results
// partition is read when the watch has not seen the hold: a hold lives at
// most 7 days, and its results come within that time.
const holdScanWindow = 8 * 24 * time.Hour

// holdMaxResultsPerKey bounds the results kept per hold: a decision and
// what closed it, and a few repeats after a crash.
const holdMaxResultsPerKey = 4

// holdNote is what a waiting request is handed: a hold result of its key,
// or the dead letter of its event.
type holdNote struct {
	result *ledger.HoldResult
	dead   *schemas.DeadLetter
}

// holdWaiter is one request waiting for its hold's results.
type holdWaiter struct {
	key      string // sku/hold_id
	eventKey string // sku, NUL, event_id
	sku      string
	ch       chan holdNote
}

// topicPart names a partition of a topic.
type topicPart struct {
	topic string
	part  int32
}

// holdWatch reads the hold-results and dead-letters topics for the
// checkout API and writes its events (holdapi.go).
type holdWatch struct {
	cl     *kgo.Client
	opts   []kgo.Opt // brokers, TLS, SASL: for the clients of scans
	adm    *kadm.Client
	reg    *schemas.Registry
	topics Topics
	group  string
	log    *slog.Logger
	parts  map[string]int32 // partition count of each watched topic
	done   chan struct{}

	mu struct {
		sync.Mutex
		byKey   map[string]map[*holdWaiter]struct{}
		byEvent map[string]map[*holdWaiter]struct{}
		skus    map[string]int // waiters per SKU: dead letters of other SKUs are not decoded
		recent  map[string][]ledger.HoldResult
		order   []string // keys of recent, oldest first (a ring of MaxRecent)
		next    int      // where order's next key goes
		pos     map[topicPart]int64
	}
	committed struct {
		sync.Mutex
		at  time.Time
		off kadm.OffsetResponses
	}
}

// startHoldWatch connects and starts reading: hold results from cfg.Lookback
// ago (so retries of recent holds are answered from memory), dead letters
// from their last stable offsets.
func startHoldWatch(ctx context.Context, p *Processor, cfg HoldAPIConfig) (*holdWatch, error) {
	base := append([]kgo.Opt{kgo.SeedBrokers(p.cfg.Brokers...), kgo.ClientID("stockledger-holds")}, p.cfg.ClientOpts...)
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)), // murmur2, as Kafka's Java client
		kgo.ProducerLinger(0),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Transaction markers take offsets too: kept, the position read
		// reaches the last stable offset even when a partition ends in one.
		kgo.KeepControlRecords(),
	}, base...)...)
	if err != nil {
		return nil, fmt.Errorf("creating the hold API's kafka client: %w", err)
	}
	w := &holdWatch{cl: cl, opts: base, adm: kadm.NewClient(cl), reg: p.reg, topics: p.cfg.Topics, group: p.cfg.Group, log: p.log,
		parts: map[string]int32{}, done: make(chan struct{})}
	w.mu.byKey = map[string]map[*holdWaiter]struct{}{}
	w.mu.byEvent = map[string]map[*holdWaiter]struct{}{}
	w.mu.skus = map[string]int{}
	w.mu.recent = map[string][]ledger.HoldResult{}
	w.mu.order = make([]string, cfg.MaxRecent)
	w.mu.pos = map[topicPart]int64{}
	start, err := w.startOffsets(ctx, cfg.Lookback)
	if err != nil {
		cl.Close()
		return nil, err
	}
	cl.AddConsumePartitions(start)
	go w.run()
	return w, nil
}

// startOffsets is where the watch starts in each partition: the last
// stable offset, or for hold results the first record of the lookback
// when that is earlier.
func (w *holdWatch) startOffsets(ctx context.Context, lookback time.Duration) (map[string]map[int32]kgo.Offset, error) {
	lso, err := w.adm.ListCommittedOffsets(ctx, w.topics.HoldResults, w.topics.DeadLetters)
	if err == nil {
		err = lso.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("listing the offsets of %s and %s: %w", w.topics.HoldResults, w.topics.DeadLetters, err)
	}
	back, err := w.adm.ListOffsetsAfterMilli(ctx, time.Now().Add(-lookback).UnixMilli(), w.topics.HoldResults)
	if err == nil {
		err = back.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("listing the offsets of %s: %w", w.topics.HoldResults, err)
	}
	out := map[string]map[int32]kgo.Offset{}
	lso.Each(func(o kadm.ListedOffset) {
		at := o.Offset
		if b, ok := back.Lookup(o.Topic, o.Partition); ok && o.Topic == w.topics.HoldResults && b.Offset >= 0 {
			at = min(at, b.Offset)
		}
		if out[o.Topic] == nil {
			out[o.Topic] = map[int32]kgo.Offset{}
		}
		out[o.Topic][o.Partition] = kgo.NewOffset().At(at)
		w.parts[o.Topic]++
		w.mu.pos[topicPart{o.Topic, o.Partition}] = at
	})
	if w.parts[w.topics.HoldResults] == 0 || w.parts[w.topics.DeadLetters] == 0 {
		return nil, fmt.Errorf("topics %s and %s have no partitions", w.topics.HoldResults, w.topics.DeadLetters)
	}
	return out, nil
}

// close stops the watch and waits for its reader.
func (w *holdWatch) close() {
	w.cl.Close()
	<-w.done
}

// run reads until the client is closed.
func (w *holdWatch) run() {
	defer close(w.done)
	for {
		fetches := w.cl.PollFetches(context.Background())
		if fetches.IsClientClosed() {
			return
		}
		fetches.EachError(func(t string, part int32, err error) {
			if !errors.Is(err, context.Canceled) {
				w.log.Warn("reading for the hold API", "topic", t, "partition", part, "err", err)
			}
		})
		fetches.EachRecord(w.handle)
	}
}

// handle takes one record: its position, and a result or a dead letter
// for those waiting for it.
func (w *holdWatch) handle(r *kgo.Record) {
	var note holdNote
	if !r.Attrs.IsControl() {
		note = w.decode(r)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.mu.pos[topicPart{r.Topic, r.Partition}] = r.Offset + 1
	switch {
	case note.result != nil:
		key := string(r.Key)
		w.rememberLocked(key, *note.result)
		for wt := range w.mu.byKey[key] {
			w.notify(wt, note)
		}
	case note.dead != nil:
		for wt := range w.mu.byEvent[note.dead.SKU+"\x00"+note.dead.EventID] {
			w.notify(wt, note)
		}
	}
}

// decode decodes a hold result, or a dead letter of a SKU someone waits
// for. A record that does not decode is not the API's concern: its
// readers (tail, the consumers) report it.
func (w *holdWatch) decode(r *kgo.Record) holdNote {
	switch r.Topic {
	case w.topics.HoldResults:
		var h ledger.HoldResult
		if err := w.reg.DecodeHoldResult(r.Value, &h); err == nil {
			return holdNote{result: &h}
		}
	case w.topics.DeadLetters:
		w.mu.Lock()
		waited := w.mu.skus[string(r.Key)] > 0
		w.mu.Unlock()
		var d schemas.DeadLetter
		if waited && w.reg.DecodeDeadLetter(r.Value, &d) == nil {
			return holdNote{dead: &d}
		}
	}
	return holdNote{}
}

// notify hands note to wt without blocking the reader: a waiter that has
// not taken its earlier notes is answered by then.
func (w *holdWatch) notify(wt *holdWaiter, note holdNote) {
	select {
	case wt.ch <- note:
	default:
	}
}

// rememberLocked keeps h among key's recent results, forgetting the
// oldest key once MaxRecent keys are kept.
func (w *holdWatch) rememberLocked(key string, h ledger.HoldResult) {
	rs, ok := w.mu.recent[key]
	if !ok {
		if old := w.mu.order[w.mu.next]; old != "" {
			delete(w.mu.recent, old)
		}
		w.mu.order[w.mu.next] = key
		w.mu.next = (w.mu.next + 1) % len(w.mu.order)
	}
	if len(rs) == holdMaxResultsPerKey {
		rs = rs[1:]
	}
	w.mu.recent[key] = append(rs, h)
}

// register adds a waiter for sku's hold holdID and its event eventID, and
// returns it with the hold's results seen so far (taken under the same
// lock, so a result is either among them or handed to the waiter).
func (w *holdWatch) register(sku, holdID, eventID string) (*holdWaiter, []ledger.HoldResult) {
	wt := &holdWaiter{key: sku + "/" + holdID, eventKey: sku + "\x00" + eventID, sku: sku, ch: make(chan holdNote, 16)}
	w.mu.Lock()
	defer w.mu.Unlock()
	add := func(m map[string]map[*holdWaiter]struct{}, k string) {
		if m[k] == nil {
			m[k] = map[*holdWaiter]struct{}{}
		}
		m[k][wt] = struct{}{}
	}
	add(w.mu.byKey, wt.key)
	add(w.mu.byEvent, wt.eventKey)
	w.mu.skus[sku]++
	return wt, append([]ledger.HoldResult(nil), w.mu.recent[wt.key]...)
}

// unregister removes wt.
func (w *holdWatch) unregister(wt *holdWaiter) {
	w.mu.Lock()
	defer w.mu.Unlock()
	drop := func(m map[string]map[*holdWaiter]struct{}, k string) {
		delete(m[k], wt)
		if len(m[k]) == 0 {
			delete(m, k)
		}
	}
	drop(w.mu.byKey, wt.key)
	drop(w.mu.byEvent, wt.eventKey)
	if w.mu.skus[wt.sku]--; w.mu.skus[wt.sku] <= 0 {
		delete(w.mu.skus, wt.sku)
	}
}

// recent returns the results of key seen so far.
func (w *holdWatch) recent(key string) []ledger.HoldResult {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]ledger.HoldResult(nil), w.mu.recent[key]...)
}

// write produces ev keyed by its SKU and returns where it landed.
func (w *holdWatch) write(ctx context.Context, framing *schemas.Framing, ev *ledger.Event) (int32, int64, error) {
	v, err := framing.EncodeEvent(nil, ev)
	if err != nil {
		return 0, 0, err
	}
	r := &kgo.Record{Topic: w.topics.Events, Key: []byte(ev.SKU), Value: v}
	if err := w.cl.ProduceSync(ctx, r).FirstErr(); err != nil {
		return 0, 0, fmt.Errorf("writing the %s event: %w", ev.Type, err)
	}
	return r.Partition, r.Offset, nil
}

// folded reports whether the group has committed events partition part
// past offset off: the event there was folded and its outputs are on the
// topics. The group's offsets are fetched at most every 50ms, whatever
// the number of waiters.
func (w *holdWatch) folded(ctx context.Context, part int32, off int64) (bool, error) {
	w.committed.Lock()
	defer w.committed.Unlock()
	if time.Since(w.committed.at) > 50*time.Millisecond {
		offs, err := w.adm.FetchOffsets(ctx, w.group)
		if err != nil {
			return false, fmt.Errorf("fetching the group's offsets: %w", err)
		}
		w.committed.at, w.committed.off = time.Now(), offs
	}
	o, ok := w.committed.off.Lookup(w.topics.Events, part)
	return ok && o.Err == nil && o.At > off, nil
}

// catchUp waits until the watch has read sku's dead-letters partition and
// key's hold-results partition up to their last stable offsets as of now.
func (w *holdWatch) catchUp(ctx context.Context, sku, key string) error {
	want := []topicPart{
		{w.topics.HoldResults, ledger.PartitionFor([]byte(key), w.parts[w.topics.HoldResults])},
		{w.topics.DeadLetters, ledger.PartitionFor([]byte(sku), w.parts[w.topics.DeadLetters])},
	}
	lso, err := w.adm.ListCommittedOffsets(ctx, w.topics.HoldResults, w.topics.DeadLetters)
	if err == nil {
		err = lso.Error()
	}
	if err != nil {
		return fmt.Errorf("listing the offsets of the output topics: %w", err)
	}
	for {
		behind := false
		w.mu.Lock()
		for _, tp := range want {
			if o, ok := lso.Lookup(tp.topic, tp.part); ok && w.mu.pos[tp] < o.Offset {
				behind = true
			}
		}
		w.mu.Unlock()
		if !behind {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// scan reads key's partition of the hold-results topic from
// holdScanWindow ago to its last stable offset and returns key's results,
// oldest first. For holds the watch never saw: it started after them.
func (w *holdWatch) scan(ctx context.Context, key string) ([]ledger.HoldResult, error) {
	topic := w.topics.HoldResults
	part := ledger.PartitionFor([]byte(key), w.parts[topic])
	lso, err := w.adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("listing the offsets of %s: %w", topic, err)
	}
	from, err := w.adm.ListOffsetsAfterMilli(ctx, time.Now().Add(-holdScanWindow).UnixMilli(), topic)
	if err != nil {
		return nil, fmt.Errorf("listing the offsets of %s: %w", topic, err)
	}
	end, _ := lso.Lookup(topic, part)
	start, _ := from.Lookup(topic, part)
	if start.Offset < 0 || start.Offset >= end.Offset {
		return nil, nil
	}
	cl, err := kgo.NewClient(append(w.opts[:len(w.opts):len(w.opts)], kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {part: kgo.NewOffset().At(start.Offset)}}))...)
	if err != nil {
		return nil, fmt.Errorf("creating a kafka client: %w", err)
	}
	defer cl.Close()
	var out []ledger.HoldResult
	for next := start.Offset; next < end.Offset; {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		fetches.EachRecord(func(r *kgo.Record) {
			next = r.Offset + 1
			var h ledger.HoldResult
			if string(r.Key) == key && !r.Attrs.IsControl() && w.reg.DecodeHoldResult(r.Value, &h) == nil {
				out = append(out, h)
			}
		})
	}
	return out, nil
}
