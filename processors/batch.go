package processors

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/ledger/store"
	"github.com/stockledger/stockledger/schemas"
)

// batch is one poll's records, folded: a value handed from stage to stage.
// The fold stage (the poll loop, one goroutine per partition) fills it and
// encodes its outputs; the publish stage produces them; the commit stage
// (committer) waits for Kafka to acknowledge them, records the published
// marks, commits the states and next offsets to the store in one write and
// produces the changelog. Once handed on, the poll loop reads only what
// the commit stage reports through marked and done.
type batch struct {
	seq   uint64 // numbered from 1 in fold order
	parts []partBatch
	acks  acks
	// changelogDone: the changelog records were written with the outputs
	// (in the transaction, with exactly-once).
	changelogDone bool
	// persists: its partitions carry their states and next offsets to
	// commit (every owned partition that folded records since the last
	// such batch); the other batches only publish and mark.
	persists bool

	// Set by the commit stage before it closes marked: every output was
	// acknowledged; publishing or writing the marks failed.
	acked  bool
	pubErr error
	marked chan struct{}
	// Set before it closes done: the batch's failure (pubErr, the store,
	// or errAfterFailure).
	err  error
	done chan struct{}
}

// partBatch is one partition's share of a batch.
type partBatch struct {
	id      int32
	records int
	next    int64 // the offset after the batch's last record
	// mark: the partition's published mark once the outputs are
	// acknowledged (never below the one it had).
	mark int64
	// held: the outputs wait for a later batch (partition.holding).
	held bool
	// persisted: the batch carries the partition's states and next offset
	// for the store and the changelog (foldBatch).
	persisted bool
	writes    []skuWrite       // the changed states' persisted forms, for the store and the changelog
	holds     []holdIndexWrite // changes of the store's index of open holds
	policy    []byte           // the partition's policies, encoded, when the batch changed them
	out       []*kgo.Record
	outTS     []time.Time // per out: the cause record's timestamp for an update, else zero
	ups       int         // updates among out
	channels  []channelCount
	stats     foldStats
	// clBroken: the partition's changelog writes failed; its changelog
	// gets no more offset markers.
	clBroken *atomic.Bool
}

// channelCount is one channel's share of a batch's updates (listing
// updates included), for the per-channel metrics.
type channelCount struct {
	channel       string
	updates, zero int // zero: those whose available is 0
}

// countChannel counts update u in cs (a channel is found by a walk:
// a retailer has a handful).
func countChannel(cs []channelCount, u *ledger.Update) []channelCount {
	i := 0
	for i < len(cs) && cs[i].channel != u.Channel {
		i++
	}
	if i == len(cs) {
		cs = append(cs, channelCount{channel: u.Channel})
	}
	cs[i].updates++
	if u.Available == 0 {
		cs[i].zero++
	}
	return cs
}

// foldStats counts a partition's outcomes in a batch, for the metrics.
type foldStats struct {
	applied          [ledger.NumEventTypes]int
	duplicates       int
	deads            [ledger.NumReasons]int
	alerts           [ledger.NumAlertKinds]int
	partitionChanged bool
}

// acks counts a batch's outputs Kafka has not acknowledged yet and keeps
// the first failure.
type acks struct {
	wg    sync.WaitGroup
	mu    sync.Mutex
	first error
}

func (a *acks) fail(err error) {
	a.mu.Lock()
	if a.first == nil {
		a.first = err
	}
	a.mu.Unlock()
}

// wait waits for every ack and returns the first failure.
func (a *acks) wait() error {
	a.wg.Wait()
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.first
}

// storeError is a failure to read or write the store: the batch is not
// committed and the processor stalls until the store works again.
type storeError struct{ err error }

func (e *storeError) Error() string { return e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }

// errAfterFailure marks a batch the commit stage did not commit because an
// earlier one failed: the processor folds both again.
var errAfterFailure = errors.New("not committed: an earlier batch failed")

// outputs is how a batch's outputs are encoded.
type outputs struct {
	topics  Topics
	framing *schemas.Framing
}

// encode appends pt's outputs of the batch just folded to pb: alerts, hold
// results, dead letters, the listing bindings (the last per key), and one
// update per channel/sku and per channel/sku/listing_sku (coalesce).
func (o outputs) encode(pt *partition, pb *partBatch) {
	if pb.held {
		return
	}
	ups := pt.coalesce()
	lbs := lastPerKey(pt.listings)
	hrs := pt.fx.HoldResults
	n := len(pt.fx.Alerts) + len(pt.deads) + len(ups) + len(hrs) + len(lbs)
	recs := make([]kgo.Record, n) // one allocation for the batch's records
	pb.out, pb.outTS = make([]*kgo.Record, 0, n), make([]time.Time, 0, n)
	a := &pt.outs
	add := func(topic string, key, value []byte, ts time.Time) {
		r := &recs[len(pb.out)]
		r.Topic, r.Key, r.Value = topic, key, value
		pb.out = append(pb.out, r)
		pb.outTS = append(pb.outTS, ts)
	}
	for i := range pt.fx.Alerts {
		al := &pt.fx.Alerts[i]
		key := a.keep(append(a.free(), al.SKU...))
		add(o.topics.Alerts, key, a.keep(o.framing.AppendAlert(a.free(), al)), time.Time{})
	}
	for i := range hrs {
		h := &hrs[i]
		key := a.keep(append(append(append(a.free(), h.SKU...), '/'), h.HoldID...))
		add(o.topics.HoldResults, key, a.keep(o.framing.AppendHoldResult(a.free(), h)), time.Time{})
	}
	for i := range pt.deads {
		add(o.topics.DeadLetters, pt.deadKeys[i], a.keep(o.framing.AppendDeadLetter(a.free(), &pt.deads[i])), time.Time{})
	}
	for i := range lbs {
		lb := &lbs[i]
		add(o.topics.Listings, a.keep(lb.Key(a.free())), a.keep(o.framing.AppendListingBinding(a.free(), lb)), time.Time{})
	}
	for i := range ups {
		u := &ups[i].u
		key := append(append(append(a.free(), u.Channel...), '/'), u.SKU...)
		if u.ListingSKU != "" {
			key = append(append(key, '/'), u.ListingSKU...)
		}
		key = a.keep(key)
		add(o.topics.Updates, key, a.keep(o.framing.AppendUpdate(a.free(), u)), ups[i].causeTS)
		pb.channels = countChannel(pb.channels, u)
	}
	pb.ups = len(ups)
}

// lastPerKey returns the bindings of lbs that are the last of their key
// (channel/listing_sku/sku), in order: a batch publishes each key once,
// with its last value, as it does updates. A batch folded again after a
// crash then cannot put an earlier binding of a key after a later one.
func lastPerKey(lbs []schemas.ListingBinding) []schemas.ListingBinding {
	if len(lbs) < 2 {
		return lbs
	}
	type key struct{ channel, listing, sku string }
	last := make(map[key]int, len(lbs))
	for i := range lbs {
		last[key{lbs[i].Channel, lbs[i].ListingSKU, lbs[i].SKU}] = i
	}
	if len(last) == len(lbs) {
		return lbs
	}
	out := make([]schemas.ListingBinding, 0, len(last))
	for i := range lbs {
		if last[key{lbs[i].Channel, lbs[i].ListingSKU, lbs[i].SKU}] == i {
			out = append(out, lbs[i])
		}
	}
	return out
}

// arena hands out byte slices one after another in chunks and never
// writes over one it handed out: a batch's keys and values live in a few
// chunks instead of an allocation each. A chunk is freed once nothing
// points into it.
type arena struct {
	// last is the slice handed out last; the free space follows it.
	last []byte
}

// A new chunk once the free space is below arenaRefill: a value that
// outgrows the free space is moved to an allocation of its own.
const (
	arenaChunk  = 256 << 10
	arenaRefill = 8 << 10
)

// free returns the free space, empty, to append a value to.
func (a *arena) free() []byte {
	if cap(a.last)-len(a.last) < arenaRefill {
		a.last = make([]byte, 0, arenaChunk)
	}
	return a.last[len(a.last):]
}

// keep hands out v, appended to free's space.
func (a *arena) keep(v []byte) []byte {
	a.last = v
	return v[:len(v):len(v)]
}

// markPublished records that the batch's outputs are acknowledged: a
// refold after a crash or stall folds these records quietly.
func markPublished(st *store.Store, parts []partBatch) error {
	marks := make(map[int32]int64, len(parts))
	for i := range parts {
		marks[parts[i].id] = parts[i].mark
	}
	return st.SetPublished(marks)
}

// commitState writes the batch's states, policies and next offsets to the
// store in one atomic write; synced: on disk before it returns.
func commitState(st *store.Store, parts []partBatch, synced bool) error {
	b := st.NewBatch()
	defer b.Close()
	for i := range parts {
		if !parts[i].persisted {
			continue
		}
		if err := parts[i].stage(b); err != nil {
			return fmt.Errorf("staging partition %d: %w", parts[i].id, err)
		}
	}
	if synced {
		return b.CommitSynced()
	}
	return b.Commit()
}

// markProduced records that b's outputs may be on the topics from now on
// (store.SetProduced).
func markProduced(st *store.Store, b *batch) error {
	marks := make(map[int32]int64, len(b.parts))
	for i := range b.parts {
		if len(b.parts[i].out) > 0 {
			marks[b.parts[i].id] = b.parts[i].next
		}
	}
	if len(marks) == 0 {
		return nil
	}
	return st.SetProduced(marks)
}

// produce produces b's outputs; their acks arrive in b.acks. observe sees
// each acknowledged update's cause timestamp.
func produce(ctx context.Context, cl *kgo.Client, b *batch, observe func(time.Time)) {
	for i := range b.parts {
		pb := &b.parts[i]
		b.acks.wg.Add(len(pb.out))
		for j, r := range pb.out {
			ts := pb.outTS[j]
			cl.Produce(ctx, r, func(r *kgo.Record, err error) {
				if err != nil {
					b.acks.fail(fmt.Errorf("publishing to %s: %w", r.Topic, err))
				} else if !ts.IsZero() {
					observe(ts)
				}
				b.acks.wg.Done()
			})
		}
	}
}
