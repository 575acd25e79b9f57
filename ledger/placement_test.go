package ledger_test

import (
	"testing"

	"github.com/stockledger/stockledger/ledger"
)

// TestPartitionForSpecExamples: the numbers of worked example 16 of part 2
// (murmur2 of TEE and MUG, and the masked, not abs, sign).
func TestPartitionForSpecExamples(t *testing.T) {
	for _, c := range []struct {
		key  string
		want int32
	}{{"TEE", 7}, {"MUG", 2}} {
		if got := ledger.PartitionFor([]byte(c.key), 8); got != c.want {
			t.Errorf("PartitionFor(%q, 8) = %d, want %d", c.key, got, c.want)
		}
	}
}

func TestPlacementCheck(t *testing.T) {
	tee := func(typ ledger.EventType, has ledger.Field) *ledger.Event {
		return &ledger.Event{ID: "r1", Type: typ, SKU: "TEE", Has: has}
	}
	for _, c := range []struct {
		name string
		ev   *ledger.Event
		pl   ledger.Placement
		want ledger.Reason
	}{
		{"placed", tee(ledger.TypeReceipt, ledger.FieldSKU), ledger.Placement{Partition: 7, Partitions: 8, Key: []byte("TEE")}, ledger.ReasonNone},
		{"other partition", tee(ledger.TypeReceipt, ledger.FieldSKU), ledger.Placement{Partition: 1, Partitions: 8, Key: []byte("TEE")}, ledger.ReasonWrongPartition},
		{"other key", tee(ledger.TypeReceipt, ledger.FieldSKU), ledger.Placement{Partition: 7, Partitions: 8, Key: []byte("tee")}, ledger.ReasonWrongPartition},
		{"no key", tee(ledger.TypeReceipt, ledger.FieldSKU), ledger.Placement{Partition: 7, Partitions: 8}, ledger.ReasonWrongPartition},
		{"no sku", tee(ledger.TypeReceipt, 0), ledger.Placement{Partition: 1, Partitions: 8, Key: []byte("TEE")}, ledger.ReasonNone},
		{"unknown type", tee(ledger.TypeUnknown, ledger.FieldSKU), ledger.Placement{Partition: 1, Partitions: 8, Key: []byte("TEE")}, ledger.ReasonNone},
		{"policy anywhere", &ledger.Event{Type: ledger.TypeChannelPolicy}, ledger.Placement{Partition: 3, Partitions: 8}, ledger.ReasonNone},
		{"one partition", tee(ledger.TypeReceipt, ledger.FieldSKU), ledger.Placement{Partition: 0, Partitions: 1, Key: []byte("TEE")}, ledger.ReasonNone},
	} {
		if got, detail := c.pl.Check(c.ev); got != c.want {
			t.Errorf("%s: Check = %s (%s), want %s", c.name, got, detail, c.want)
		}
	}
}
