package processors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/schemas"
)

// ListingResolver is what the tools that write events resolve a channel's
// listing_sku against: the listings topic (Topics.Listings), read from its
// start into memory and followed live. The topic holds the listing events
// the ledger applied, one key per channel/listing_sku/sku, so the
// resolver knows, for each channel's listing_sku, every SKU it is active
// on and with how many units.
//
// A listing_sku belongs to one SKU at a time; two tools racing to bind it
// to two SKUs can both succeed (the spec's caveat: the fold cannot see
// across partitions). The resolver then sees both, and Resolve refuses the
// listing until one of them removes it, rather than pick one.
//
// Records of one key come from one events partition in the SKU's order,
// and the resolver keeps, per key, the record with the highest version, so
// an output published again after a crash (an older version after a newer
// one) changes nothing. Records of one listing on different SKUs may
// interleave in any way: each SKU's binding is its own key.
type ListingResolver struct {
	cl     *kgo.Client
	adm    *kadm.Client
	topic  string
	reg    *schemas.Registry
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}

	mu struct {
		sync.Mutex
		byKey map[listingKey][]listingState // by channel/listing_sku, sorted by SKU
		next  map[int32]int64               // per partition, the offset after the last record read
		// moved is closed (and replaced) whenever next moves, waking Sync.
		moved    chan struct{}
		fetchErr error // the last fetch error, reported by Sync
	}
}

// ActiveListing is one SKU a channel's listing_sku is active on.
type ActiveListing struct {
	SKU   string
	Units int64 // units of the SKU per listing (pack size)
}

type listingKey struct{ channel, listingSKU string }

// listingState is one SKU's last binding of a listing, active or removed:
// a removal is kept, with its version, so an earlier binding read later
// cannot bring the listing back.
type listingState struct {
	sku     string
	units   int64
	active  bool
	version uint64
}

// ListingResolverConfig configures a ListingResolver.
type ListingResolverConfig struct {
	Brokers []string
	// Topic is the listings topic (Topics.Listings).
	Topic string
	// Registry decodes the records (single-object or Confluent framed);
	// nil: schemas.NewRegistry().
	Registry *schemas.Registry
	// Logger reports records that do not decode (skipped); nil: none.
	Logger *slog.Logger
	// ClientOpts are extra franz-go options (TLS, SASL).
	ClientOpts []kgo.Opt
}

// NewListingResolver starts reading cfg.Topic from its start and returns
// once it has read every record committed when it was called (Sync); it
// then follows the topic until Close. A topic that does not exist yet is
// empty: no listing was ever applied.
func NewListingResolver(ctx context.Context, cfg ListingResolverConfig) (*ListingResolver, error) {
	if cfg.Topic == "" {
		return nil, errors.New("listing resolver: no topic")
	}
	reg, log := cfg.Registry, cfg.Logger
	if reg == nil {
		reg = schemas.NewRegistry()
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID("stockledger-listings"),
		kgo.ConsumeTopics(cfg.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// Read what the processor committed (it publishes in transactions
		// with --exactly-once); markers are kept so the offsets they take
		// count as read (Sync compares offsets with the stable end).
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(200 * time.Millisecond),
		kgo.MetadataMinAge(time.Second),
	}, cfg.ClientOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("creating kafka client: %w", err)
	}
	lctx, cancel := context.WithCancel(context.Background())
	r := &ListingResolver{cl: cl, adm: kadm.NewClient(cl), topic: cfg.Topic, reg: reg, log: log, cancel: cancel, done: make(chan struct{})}
	r.mu.byKey = map[listingKey][]listingState{}
	r.mu.next = map[int32]int64{}
	r.mu.moved = make(chan struct{})
	go r.follow(lctx)
	if err := r.Sync(ctx); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// Close stops following the topic.
func (r *ListingResolver) Close() {
	r.cancel()
	<-r.done
	r.cl.Close()
}

// Resolve returns the SKU a channel's listingSKU is active on and its units
// per listing. ok is false when it is active on no SKU (never bound, or
// removed) or, after a race, on more than one.
func (r *ListingResolver) Resolve(channel, listingSKU string) (sku string, units int64, ok bool) {
	act := r.ActiveBindings(channel, listingSKU)
	if len(act) != 1 {
		return "", 0, false
	}
	return act[0].SKU, act[0].Units, true
}

// ActiveOn returns the SKU a channel's listingSKU is active on (the first
// in byte order when a race bound it to several), and whether it is active
// at all.
func (r *ListingResolver) ActiveOn(channel, listingSKU string) (sku string, ok bool) {
	act := r.ActiveBindings(channel, listingSKU)
	if len(act) == 0 {
		return "", false
	}
	return act[0].SKU, true
}

// ActiveBindings returns every SKU a channel's listingSKU is active on, in
// SKU byte order: one, or none, except after a race.
func (r *ListingResolver) ActiveBindings(channel, listingSKU string) []ActiveListing {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []ActiveListing
	for _, s := range r.mu.byKey[listingKey{channel, listingSKU}] {
		if s.active {
			out = append(out, ActiveListing{SKU: s.sku, Units: s.units})
		}
	}
	return out
}

// Sync waits until the resolver has read every record the topic held
// committed when Sync was called: a listing the ledger has applied (and
// published) before the call resolves after it.
func (r *ListingResolver) Sync(ctx context.Context) error {
	ends, err := r.adm.ListCommittedOffsets(ctx, r.topic)
	if err != nil {
		return fmt.Errorf("listing end offsets of %s: %w", r.topic, err)
	}
	target := map[int32]int64{}
	var lerr error
	ends.Each(func(l kadm.ListedOffset) {
		switch {
		case errors.Is(l.Err, kerr.UnknownTopicOrPartition):
		case l.Err != nil:
			lerr = fmt.Errorf("end offset of %s/%d: %w", r.topic, l.Partition, l.Err)
		case l.Offset > 0:
			target[l.Partition] = l.Offset
		}
	})
	if lerr != nil {
		return lerr
	}
	for {
		r.mu.Lock()
		behind := false
		for p, end := range target {
			behind = behind || r.mu.next[p] < end
		}
		moved, ferr := r.mu.moved, r.mu.fetchErr
		r.mu.Unlock()
		if !behind {
			return nil
		}
		select {
		case <-moved:
		case <-ctx.Done():
			if ferr != nil {
				return fmt.Errorf("reading %s: %w", r.topic, ferr)
			}
			return fmt.Errorf("reading %s: %w", r.topic, ctx.Err())
		}
	}
}

// follow reads the topic until ctx is done.
func (r *ListingResolver) follow(ctx context.Context) {
	defer close(r.done)
	for {
		fs := r.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		r.mu.Lock()
		fs.EachError(func(t string, p int32, err error) {
			r.mu.fetchErr = fmt.Errorf("partition %d: %w", p, err)
		})
		fs.EachRecord(r.applyLocked)
		close(r.mu.moved)
		r.mu.moved = make(chan struct{})
		r.mu.Unlock()
	}
}

// applyLocked applies one record of the topic.
func (r *ListingResolver) applyLocked(rec *kgo.Record) {
	r.mu.next[rec.Partition] = rec.Offset + 1
	if rec.Attrs.IsControl() {
		return
	}
	var b schemas.ListingBinding
	if err := r.reg.DecodeListingBinding(rec.Value, &b); err != nil {
		r.log.Warn("skipping a listings record that does not decode", "topic", rec.Topic,
			"partition", rec.Partition, "offset", rec.Offset, "err", err)
		return
	}
	k := listingKey{b.Channel, b.ListingSKU}
	states := r.mu.byKey[k]
	i, found := slices.BinarySearchFunc(states, b.SKU, compareState)
	s := listingState{sku: b.SKU, units: int64(b.Units), active: b.Active, version: b.Version}
	switch {
	case !found:
		r.mu.byKey[k] = slices.Insert(states, i, s)
	case b.Version > states[i].version: // else a repeat, or an older copy published again
		states[i] = s
	}
}
