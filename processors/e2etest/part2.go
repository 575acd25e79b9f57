package e2etest

// Part 2's outputs (ledger-semantics-2.md): hold results on
// PREFIX.hold-results keyed sku/hold_id, listing updates on the updates
// topic keyed channel/sku/listing_sku, and the part 2 state of a SKU.

import (
	"context"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/ledger/specmodel"
	"github.com/stockledger/stockledger/ledger/specmodel/keys"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/schemas"
)

// UpdateKey is an update's record key: channel/sku, or
// channel/sku/listing_sku for a listing's update.
func UpdateKey(channel, sku, listingSKU string) string {
	if listingSKU == "" {
		return channel + "/" + sku
	}
	return channel + "/" + sku + "/" + listingSKU
}

// modelFinal is the last value of every update key the model published:
// each SKU's channels and active listings as its state has them, and 0
// for a key the model published and then dropped (a listing removed, or a
// channel only an override gave the SKU, removed: its 0 goes out once).
func modelFinal(m *specmodel.Model) map[string]int64 {
	final := m.Final()
	for _, name := range m.SKUs() {
		w, _ := m.SKU(name)
		for k, v := range w.Listings {
			ch, l, _ := strings.Cut(k, "/")
			final[UpdateKey(ch, name, l)] = v
		}
	}
	for _, u := range m.Updates() {
		k := UpdateKey(u.Channel, u.SKU, u.ListingSKU)
		if _, ok := final[k]; !ok {
			final[k] = 0
		}
	}
	return final
}

// AddHoldResult records one hold result.
func (o *Outputs) AddHoldResult(h *ledger.HoldResult) {
	k := h.SKU + "/" + h.HoldID
	if v, ok := o.holdVersion[k]; ok && h.Version < v {
		o.VersionsShrank = append(o.VersionsShrank, fmt.Sprintf("hold %s: %d after %d", k, h.Version, v))
	}
	o.holdVersion[k] = h.Version
	o.Holds[keys.HoldResult(h)]++
}

// readHoldResults reads the hold-results topic to its end into o.
func readHoldResults(ctx context.Context, brokers []string, topic string, reg *schemas.Registry, o *Outputs, opts ...kgo.Opt) error {
	tail := processors.TailOptions{FromBeginning: true, ExitAtEnd: true}
	return processors.Tail(ctx, brokers, topic, tail, func(r *kgo.Record) error {
		var h ledger.HoldResult
		if err := reg.DecodeHoldResult(r.Value, &h); err != nil {
			return err
		}
		if want := h.SKU + "/" + h.HoldID; string(r.Key) != want {
			return fmt.Errorf("hold result keyed %q, want %q", r.Key, want)
		}
		o.AddHoldResult(&h)
		return nil
	}, opts...)
}
