package audit

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/processors"
)

// LocationRow is one location's quantities after an event.
type LocationRow struct {
	Location    string
	OnHand      ledger.Qty
	Reserved    ledger.Qty
	Unavailable ledger.Qty
	Incoming    ledger.Qty
	SafetyStock ledger.Qty
	Available   ledger.Qty
}

// HistoryRow is one event of a SKU's history and the SKU just after it.
type HistoryRow struct {
	Partition  int32
	Offset     int64
	AppendedAt time.Time // the record's timestamp: when Kafka got the event
	// The event, as far as it could be read: Event.Has says which fields
	// (nothing when Reason is undecodable or unknown_schema).
	Event ledger.Event
	// Outcome is what the ledger did with it; Reason and Detail say why a
	// refused event (a dead letter) was refused.
	Outcome ledger.Outcome
	Reason  ledger.Reason
	Detail  string
	// The SKU after the event.
	Version    uint64
	Unassigned ledger.Qty
	Locations  []LocationRow         // the locations the SKU has, by code
	Channels   []ledger.ChannelValue // each channel's available, by channel
	// What it caused: updates (before the processor coalesces a batch's
	// changes), alerts and hold results (a clock event's expiries among
	// them).
	Updates     []ledger.Update
	Alerts      []ledger.Alert
	HoldResults []ledger.HoldResult
}

// HistoryOptions selects a SKU's history.
type HistoryOptions struct {
	SKU string
	// Since and Until, when set, keep the rows whose record timestamp is in
	// [Since, Until]; the fold still starts at the beginning of the topic,
	// and stops after Until.
	Since, Until time.Time
}

// HistoryResult is a SKU's history.
type HistoryResult struct {
	Partition int32
	Next      int64 // the partition's next offset after the read
	Rows      []HistoryRow
}

// History folds the partition that holds opts.SKU (and only it), keeping
// the channel policies, the clock and that one SKU, and returns a row for
// every event of the SKU in topic order: applied, duplicate or refused,
// each channel_policy that reached it, and each clock event that changed it
// (expired its holds), at the clock's offset. A record is the SKU's when the event
// names it, or, when the sku cannot be read from it, when its key does.
func History(ctx context.Context, cfg Config, opts HistoryOptions) (*HistoryResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid audit config: %w", err)
	}
	if !ledger.ValidCode(opts.SKU, ledger.MaxSKUBytes) {
		return nil, fmt.Errorf("%q is not a valid SKU code", opts.SKU)
	}
	adm, closeAdm, err := admin(&cfg)
	if err != nil {
		return nil, err
	}
	n, err := processors.PartitionCount(ctx, adm, cfg.Topic)
	if err != nil {
		closeAdm()
		return nil, err
	}
	part := processors.PartitionOf(opts.SKU, n)
	ranges, _, err := plan(ctx, adm, cfg.Topic, Stop{}, []int32{part})
	closeAdm()
	if err != nil {
		return nil, err
	}
	reg, err := cfg.SchemaRegistry.Schemas()
	if err != nil {
		return nil, err
	}
	h := &historyFold{opts: opts, rf: processors.NewRecordFold(ledger.NewFold(cfg.Ledger, nil), reg, part, n)}
	next, err := read(ctx, &cfg, ranges, opts.Until, map[int32]sink{part: h}, nil)
	if err != nil {
		return nil, err
	}
	return &HistoryResult{Partition: part, Next: next[part], Rows: h.rows}, nil
}

// historyFold folds one partition's policies, clock and one SKU. Other
// SKUs' events are decoded only to be skipped: nothing but channel
// policies and clock events reaches a SKU from outside it.
type historyFold struct {
	opts HistoryOptions
	rf   *processors.RecordFold // in memory: the partition's policies and the one SKU
	fx   ledger.Effects
	rows []HistoryRow
}

func (h *historyFold) finish(int64) error { return nil }

func (h *historyFold) fold(recs []*kgo.Record) error {
	for _, r := range recs {
		if err := h.one(r); err != nil {
			return err
		}
	}
	return nil
}

// one folds r when it is a channel_policy, a clock or an event of the SKU
// (so the fold holds no other SKU, and its expiry index only the SKU's
// holds), and makes it a row when it concerns the SKU: a clock does when
// it changed the SKU (the spec: a clock that changes nothing of a SKU does
// not touch it).
func (h *historyFold) one(r *kgo.Record) error {
	h.fx.Reset()
	reason, detail, err := h.rf.DecodeRecord(r.Value)
	if err != nil {
		return err
	}
	ev := &h.rf.Ev
	if reason != ledger.ReasonNone {
		if h.mine(r, ev) {
			h.row(r, ledger.Result{Outcome: ledger.Refused, Reason: reason, Detail: detail})
		}
		return nil
	}
	if !ev.Type.Broadcast() && !h.mine(r, ev) {
		return nil
	}
	before := h.rf.State(h.opts.SKU).Version
	res, err := h.rf.ApplyRecord(r.Key, false, &h.fx)
	if err != nil {
		return err
	}
	switch ev.Type {
	case ledger.TypeChannelPolicy:
		if res.Outcome == ledger.Applied && h.rf.State(h.opts.SKU).Known() {
			h.row(r, res)
		}
	case ledger.TypeClock:
		if h.rf.State(h.opts.SKU).Version != before {
			h.row(r, res)
		}
	default:
		h.row(r, res)
	}
	return nil
}

// mine reports whether r is an event of the SKU.
func (h *historyFold) mine(r *kgo.Record, ev *ledger.Event) bool {
	if ev.Has&ledger.FieldSKU != 0 {
		return ev.SKU == h.opts.SKU
	}
	return !ev.Type.Broadcast() && string(r.Key) == h.opts.SKU
}

// row records the event just folded and the SKU after it.
func (h *historyFold) row(r *kgo.Record, res ledger.Result) {
	if (!h.opts.Since.IsZero() && r.Timestamp.Before(h.opts.Since)) || (!h.opts.Until.IsZero() && r.Timestamp.After(h.opts.Until)) {
		return
	}
	s := h.rf.State(h.opts.SKU)
	row := HistoryRow{
		Partition: r.Partition, Offset: r.Offset, AppendedAt: r.Timestamp,
		Outcome: res.Outcome, Reason: res.Reason, Detail: res.Detail,
		Version: s.Version, Unassigned: s.Unassigned,
		Channels: append([]ledger.ChannelValue(nil), s.Published...),
		Updates:  append([]ledger.Update(nil), h.fx.Updates...),
		Alerts:   append([]ledger.Alert(nil), h.fx.Alerts...),

		HoldResults: append([]ledger.HoldResult(nil), h.fx.HoldResults...),
	}
	row.Event = h.rf.Ev
	row.Event.SafetyStock = append([]ledger.LocQty(nil), h.rf.Ev.SafetyStock...)
	row.Event.Locations = append([]string(nil), h.rf.Ev.Locations...)
	for i := range s.Locations {
		l := &s.Locations[i]
		if l.Named {
			row.Locations = append(row.Locations, LocationRow{l.Code, l.OnHand, l.Reserved, l.Unavailable, l.Incoming, l.SafetyStock, l.Available()})
		}
	}
	h.rows = append(h.rows, row)
}
