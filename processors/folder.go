package processors

import (
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/ledger/store"
	"github.com/stockledger/stockledger/schemas"
)

// Folder folds batches of one partition's event records into a store
// without Kafka: the processor's fold (decode, validate, hot states in
// memory, write-back per batch) for replays and benchmarks.
type Folder struct {
	st  *store.Store
	pt  *partition
	max int
	seq uint64 // the last batch folded
}

// NewFolder starts folding partition part of topic (of partitions
// partitions) into st, from the state st holds.
func NewFolder(st *store.Store, reg *schemas.Registry, topic string, part, partitions int32, cfg ledger.Config, maxCached int) (*Folder, error) {
	pt := newPartition(part, topic, partitions, cfg, st, reg)
	if err := st.Partition(part, &pt.fold.P); err != nil {
		return nil, err
	}
	next, _, err := st.Offset(part)
	if err != nil {
		return nil, err
	}
	pt.next = next
	if pt.published, err = st.Published(part); err != nil {
		return nil, err
	}
	return &Folder{st: st, pt: pt, max: maxCached}, nil
}

// Fold folds records (in offset order) and commits the batch: new states
// and the next offset in one Pebble write. It returns the batch's effects
// (valid until the next call) and its dead letters.
func (f *Folder) Fold(records []*kgo.Record) (*ledger.Effects, []schemas.DeadLetter, error) {
	pt := f.pt
	f.seq++
	pb, err := pt.foldBatch(records, f.seq, true)
	if err != nil {
		return nil, nil, err
	}
	if err := commitState(f.st, []partBatch{pb}, false); err != nil {
		return nil, nil, err
	}
	pt.fold.Saved(f.seq)
	pt.fold.Evict(f.max)
	return &pt.fx, pt.deads, nil
}

// Next is the next offset to fold.
func (f *Folder) Next() int64 { return f.pt.next }
