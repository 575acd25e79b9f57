package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger/store"
)

// ReplayResult is a ledger rebuilt from the events topic.
type ReplayResult struct {
	// Store is the scratch store holding the rebuilt ledger, in the live
	// store's layout; the caller closes it (and removes its directory).
	Store *store.Store
	// Partitions is the events topic's partition count.
	Partitions int32
	// Next is, per replayed partition, the next offset after the replay:
	// the ledger is as of these offsets.
	Next map[int32]int64
	// Counts are what the fold did, all partitions together.
	Counts Counts
	// Took is the wall time of the read and fold.
	Took time.Duration
}

// Close closes the scratch store.
func (r *ReplayResult) Close() error { return r.Store.Close() }

// storeMeta is the live store's metadata record (processors.storeMeta).
type storeMeta struct {
	Topic      string `json:"topic"`
	Partitions int32  `json:"partitions"`
}

// Replay rebuilds the ledger as of stop from the events topic into a new
// store in scratchDir, which must not exist or be empty: a replay never
// writes to a store that holds anything, so it cannot touch a live one.
// prog, when not nil, counts records as they are folded.
func Replay(ctx context.Context, cfg Config, stop Stop, scratchDir string, prog *Progress) (*ReplayResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid audit config: %w", err)
	}
	if err := checkEmptyDir(scratchDir); err != nil {
		return nil, err
	}
	adm, closeAdm, err := admin(&cfg)
	if err != nil {
		return nil, err
	}
	ranges, n, err := plan(ctx, adm, cfg.Topic, stop, nil)
	closeAdm()
	if err != nil {
		return nil, err
	}
	st, err := store.Open(scratchDir, store.Options{})
	if err != nil {
		return nil, err
	}
	meta, _ := json.Marshal(storeMeta{Topic: cfg.Topic, Partitions: n})
	if err := st.SetMeta(meta); err != nil {
		st.Close()
		return nil, err
	}
	reg, err := cfg.SchemaRegistry.Schemas()
	if err != nil {
		st.Close()
		return nil, err
	}
	folds := make(map[int32]*replayFold, len(ranges))
	sinks := make(map[int32]sink, len(ranges))
	perPart := max(1, cfg.MaxHotSKUs/max(1, len(ranges)))
	for _, r := range ranges {
		f := newReplayFold(r.part, n, st, reg, cfg.Ledger, perPart)
		folds[r.part], sinks[r.part] = f, f
	}
	start := time.Now()
	next, err := read(ctx, &cfg, ranges, stop.Until, sinks, prog)
	if err != nil {
		st.Close()
		return nil, err
	}
	res := &ReplayResult{Store: st, Partitions: n, Next: next, Counts: newCounts(), Took: time.Since(start)}
	for _, f := range folds {
		res.Counts.add(f.counts)
	}
	return res, nil
}

// Parts lists the replayed partitions in order.
func (r *ReplayResult) Parts() []int32 {
	ps := make([]int32, 0, len(r.Next))
	for p := range r.Next {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	return ps
}

func admin(cfg *Config) (*kadm.Client, func(), error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(cfg.Brokers...), kgo.ClientID("stockledger-audit")}, cfg.ClientOpts...)...)
	if err != nil {
		return nil, nil, fmt.Errorf("creating kafka client: %w", err)
	}
	return kadm.NewClient(cl), cl.Close, nil
}

// checkEmptyDir refuses a directory that holds anything.
func checkEmptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("scratch directory: %w", err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("scratch directory %s is not empty: a replay only writes a new store, never one that holds anything", dir)
	}
	return nil
}
