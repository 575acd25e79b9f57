package processors

import (
	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/schemas"
)

// RecordFold is the one fold of an events record: decode it, check where
// it sits, apply it through the partition's ledger.Fold (embedded: its
// policies, hot states and dirty set). The processor's partitions, replays
// and history fold records through it; they differ in settings (the
// fold's DeferPublish, its Loader) and in what they do with the results.
type RecordFold struct {
	*ledger.Fold
	dec   *schemas.Decoder // interns SKU names through the fold
	place ledger.Placement // the partition folded; Key is set per record
	// Ev is the last record's event, as far as it decoded.
	Ev ledger.Event
	// Order is the order Each hands a batch's records in.
	Order  Order
	groups *skuGroups // SKUOrder's, reused
	names  [][]byte   // prefetch's, reused
}

// NewRecordFold folds records of partition part (of partitions) into fold.
func NewRecordFold(fold *ledger.Fold, reg *schemas.Registry, part, partitions int32) *RecordFold {
	rf := &RecordFold{Fold: fold, place: ledger.Placement{Partition: part, Partitions: partitions}}
	rf.dec = reg.NewDecoder(schemas.DecoderConfig{SKU: fold.Name})
	return rf
}

// DecodeRecord decodes value into Ev. A reason other than ReasonNone makes
// the record a dead letter. An error says nothing of the record: the
// schema registry could not be asked, and the record must be folded again
// later, neither applied nor dead.
func (rf *RecordFold) DecodeRecord(value []byte) (ledger.Reason, string, error) {
	rf.Ev.Reset()
	reason, detail, err := rf.dec.Decode(value, &rf.Ev)
	if err != nil {
		return ledger.ReasonNone, "", err
	}
	return reason, detail, nil
}

// ApplyRecord applies Ev, decoded from a record keyed key: where it sits
// is checked first, unless placed (the caller found it placed), then the
// ledger folds it. An error is the loader's.
func (rf *RecordFold) ApplyRecord(key []byte, placed bool, fx *ledger.Effects) (ledger.Result, error) {
	if !placed {
		if reason, detail := rf.CheckPlacement(key); reason != ledger.ReasonNone {
			return ledger.Result{Outcome: ledger.Refused, Reason: reason, Detail: detail}, nil
		}
	}
	return rf.Fold.Apply(&rf.Ev, fx)
}

// CheckPlacement checks where Ev, decoded from a record keyed key, sits
// (ledger.Placement.Check), for a driver that applies it in steps of its
// own.
func (rf *RecordFold) CheckPlacement(key []byte) (ledger.Reason, string) {
	rf.place.Key = key
	return rf.place.Check(&rf.Ev)
}

// FoldRecord is DecodeRecord, then ApplyRecord of what decoded.
func (rf *RecordFold) FoldRecord(value, key []byte, placed bool, fx *ledger.Effects) (ledger.Result, error) {
	reason, detail, err := rf.DecodeRecord(value)
	if err != nil || reason != ledger.ReasonNone {
		return ledger.Result{Outcome: ledger.Refused, Reason: reason, Detail: detail}, err
	}
	return rf.ApplyRecord(key, placed, fx)
}

// PeekSKU reads a record's sku without decoding the rest (schemas
// Decoder.PeekSKU), for a driver that orders records by SKU.
func (rf *RecordFold) PeekSKU(value []byte) ([]byte, bool) { return rf.dec.PeekSKU(value) }

// Placed reports whether a record keyed key of SKU sku sits where sku
// belongs: such records fold without a second check (ApplyRecord's placed).
func (rf *RecordFold) Placed(key, sku []byte) bool {
	return key != nil && string(key) == string(sku) && ledger.PartitionFor(sku, rf.place.Partitions) == rf.place.Partition
}
