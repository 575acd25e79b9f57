package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/schemas"
)

// ParsePolicies reads a backtest's channel policies: JSON Lines, one
// channel_policy a line in the spec's JSON form (channel, locations,
// buffer, share_pct, max_qty; type, event_id and occurred_at may be left
// out). Blank lines and lines starting with # are skipped. Each policy is
// checked as the ledger checks a channel_policy event; a channel may
// appear once.
func ParsePolicies(r io.Reader) ([]ledger.ChannelPolicy, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var out []ledger.ChannelPolicy
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		// encoding/json would read bad bytes, in a key too, as U+FFFD.
		if !utf8.Valid(line) {
			return nil, fmt.Errorf("line %d: not valid UTF-8 (JSON text must be UTF-8)", n)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(line, &m); err != nil {
			return nil, fmt.Errorf("line %d: not a JSON object: %v", n, err)
		}
		if t, ok := m["type"]; ok && string(t) != `"channel_policy"` {
			return nil, fmt.Errorf("line %d: type %s: want channel_policy", n, t)
		}
		m["type"] = json.RawMessage(`"channel_policy"`)
		if _, ok := m["event_id"]; !ok {
			m["event_id"] = json.RawMessage(fmt.Sprintf(`"backtest-%d"`, n))
		}
		if _, ok := m["occurred_at"]; !ok {
			m["occurred_at"] = json.RawMessage(`"1970-01-01T00:00:00Z"`)
		}
		full, err := json.Marshal(m)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", n, err)
		}
		var ev ledger.Event
		reason, detail := schemas.ParseEventJSON(full, &ev)
		if reason == ledger.ReasonNone {
			reason, detail = ledger.Validate(&ev)
		}
		if reason != ledger.ReasonNone {
			return nil, fmt.Errorf("line %d: %s: %s", n, reason, detail)
		}
		pol := ledger.ChannelPolicy{Channel: ev.Channel, Locations: slices.Clone(ev.Locations), Buffer: ev.Buffer,
			SharePct: ev.SharePct, MaxQty: ev.MaxQty, HasMaxQty: ev.Has&ledger.FieldMaxQty != 0}
		for _, p := range out {
			if p.Channel == pol.Channel {
				return nil, fmt.Errorf("line %d: channel %q already has a policy in the file", n, pol.Channel)
			}
		}
		out = append(out, pol)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no policy in the file")
	}
	return out, nil
}

// ChannelOutcome is one channel's backtest (ledger/DECISIONS.md, Backtests,
// defines each count).
type ChannelOutcome struct {
	Channel string
	// Actual and Backtest are the channel's last policy in each run ("" when
	// it has none).
	Actual, Backtest string
	// Sales are the order and pos_sale events applied on the channel in
	// the actual history.
	Sales int64
	// Oversold orders: sales that raised an oversold alert, as it happened
	// and under the backtest's policies.
	ActualOversold, BacktestOversold int64
	// TurnedAway are the orders the backtest's policies would not have
	// taken; UnitsWithheld their units.
	TurnedAway    int64
	UnitsWithheld ledger.Qty
}

// BacktestResult is a backtest's outcome, by channel.
type BacktestResult struct {
	Channels []ChannelOutcome
	Next     map[int32]int64 // the offsets the history was replayed to
	Records  int64
}

// Backtest replays the events topic (to stop) twice in step: as it
// happened, and with policies in place of the channels' real ones, and
// reports per channel the oversold orders of each and the orders and units
// the backtest's policies would have turned away. Both ledgers are kept in
// memory.
func Backtest(ctx context.Context, cfg Config, policies []ledger.ChannelPolicy, stop Stop, prog *Progress) (*BacktestResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid audit config: %w", err)
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
	reg, err := cfg.SchemaRegistry.Schemas()
	if err != nil {
		return nil, err
	}
	folds := map[int32]*backtestFold{}
	sinks := map[int32]sink{}
	for _, r := range ranges {
		f := newBacktestFold(reg, cfg.Ledger, policies, r.part, n)
		folds[r.part], sinks[r.part] = f, f
	}
	next, err := read(ctx, &cfg, ranges, stop.Until, sinks, prog)
	if err != nil {
		return nil, err
	}
	res := &BacktestResult{Next: next}
	byChannel := map[string]*ChannelOutcome{}
	get := func(c string) *ChannelOutcome {
		o := byChannel[c]
		if o == nil {
			o = &ChannelOutcome{Channel: c}
			byChannel[c] = o
		}
		return o
	}
	for _, f := range folds {
		res.Records += f.records
		for c, o := range f.out {
			t := get(c)
			t.Sales += o.Sales
			t.ActualOversold += o.ActualOversold
			t.BacktestOversold += o.BacktestOversold
			t.TurnedAway += o.TurnedAway
			t.UnitsWithheld += o.UnitsWithheld
		}
		// Every partition sees every channel_policy: any one describes them.
		for i := range f.actual.P.Channels {
			get(f.actual.P.Channels[i].Channel).Actual = DescribePolicy(&f.actual.P.Channels[i])
		}
		for i := range f.alt.P.Channels {
			get(f.alt.P.Channels[i].Channel).Backtest = DescribePolicy(&f.alt.P.Channels[i])
		}
	}
	for _, o := range byChannel {
		res.Channels = append(res.Channels, *o)
	}
	slices.SortFunc(res.Channels, func(a, b ChannelOutcome) int {
		switch {
		case a.Channel < b.Channel:
			return -1
		case a.Channel > b.Channel:
			return 1
		}
		return 0
	})
	return res, nil
}

// backtestFold folds one partition twice in step: actual (the history as
// it happened) and alt (the backtest's policies; orders they turn away are
// not applied, nor the later events of those orders).
type backtestFold struct {
	rec         *processors.RecordFold // decodes and places records for actual, whose fold it is
	altEv       ledger.Event
	actual, alt *ledger.Book
	policies    map[string]*ledger.ChannelPolicy
	started     bool
	// turned away, per SKU: order event ids and order ids
	awayIDs    map[skuKey]struct{}
	awayOrders map[skuKey]struct{}
	fxA, fxB   ledger.Effects
	out        map[string]*ChannelOutcome
	records    int64
}

type skuKey struct{ sku, id string }

func newBacktestFold(reg *schemas.Registry, cfg ledger.Config, policies []ledger.ChannelPolicy, part, partitions int32) *backtestFold {
	actual := ledger.NewBook(cfg)
	f := &backtestFold{
		rec: processors.NewRecordFold(actual.Fold, reg, part, partitions), actual: actual, alt: ledger.NewBook(cfg),
		policies: map[string]*ledger.ChannelPolicy{},
		awayIDs:  map[skuKey]struct{}{}, awayOrders: map[skuKey]struct{}{}, out: map[string]*ChannelOutcome{},
	}
	for i := range policies {
		f.policies[policies[i].Channel] = &policies[i]
	}
	return f
}

func (f *backtestFold) finish(int64) error { return nil }

func (f *backtestFold) channel(c string) *ChannelOutcome {
	o := f.out[c]
	if o == nil {
		o = &ChannelOutcome{Channel: c}
		f.out[c] = o
	}
	return o
}

// start puts the backtest's policies in force before the first event.
func (f *backtestFold) start() {
	f.started = true
	chans := make([]string, 0, len(f.policies))
	for c := range f.policies {
		chans = append(chans, c)
	}
	slices.Sort(chans)
	for _, c := range chans {
		f.altEv.Reset()
		f.altEv.ID, f.altEv.Type = "\x00backtest-"+c, ledger.TypeChannelPolicy
		f.altEv.Has = ledger.FieldEventID | ledger.FieldType | ledger.FieldOccurredAt | ledger.FieldChannel | ledger.FieldLocations | ledger.FieldBuffer | ledger.FieldSharePct
		f.altEv.Channel = c
		f.substitute(&f.altEv)
		f.alt.Apply(&f.altEv, &f.fxB)
	}
}

// substitute puts the backtest's policy for ev's channel into ev.
func (f *backtestFold) substitute(ev *ledger.Event) {
	p := f.policies[ev.Channel]
	ev.Locations = append(ev.Locations[:0], p.Locations...)
	ev.Buffer, ev.SharePct, ev.MaxQty = p.Buffer, p.SharePct, p.MaxQty
	ev.Has &^= ledger.FieldMaxQty
	if p.HasMaxQty {
		ev.Has |= ledger.FieldMaxQty
	}
}

func (f *backtestFold) fold(recs []*kgo.Record) error {
	if !f.started {
		f.start()
	}
	for _, r := range recs {
		if err := f.one(r.Value, r.Key); err != nil {
			return err
		}
	}
	f.records += int64(len(recs))
	return nil
}

// one folds a record keyed key into both runs; an error is the schema
// registry's (the record could not be decoded, nor refused).
func (f *backtestFold) one(value, key []byte) error {
	reason, _, err := f.rec.DecodeRecord(value)
	if err != nil || reason != ledger.ReasonNone {
		return err
	}
	if reason, _ := f.rec.CheckPlacement(key); reason != ledger.ReasonNone {
		return nil
	}
	ev := &f.rec.Ev
	f.fxA.Reset()
	f.fxB.Reset()
	if ev.Type == ledger.TypeChannelPolicy {
		f.actual.Apply(ev, &f.fxA)
		altEv := ev
		if f.policies[ev.Channel] != nil {
			f.altEv = *ev
			f.altEv.Locations = nil
			f.substitute(&f.altEv)
			altEv = &f.altEv
		}
		f.alt.Apply(altEv, &f.fxB)
		return nil
	}
	if reason, _ := ledger.Validate(ev); reason != ledger.ReasonNone {
		return nil
	}
	sA, sB := f.actual.State(ev.SKU), f.alt.State(ev.SKU)
	// What each run's channel offered just before the event.
	var offA, offB ledger.Qty
	gated := false
	if ev.Type == ledger.TypeOrder {
		ca, cb := f.actual.P.Channel(ev.Channel), f.alt.P.Channel(ev.Channel)
		if ca != nil && cb != nil {
			gated, offA, offB = true, f.actual.P.ATS(sA, ev.Channel), f.alt.P.ATS(sB, ev.Channel)
		}
	}
	resA := f.actual.Apply(ev, &f.fxA)
	if resA.Outcome == ledger.Applied {
		if ev.Type == ledger.TypeOrder || ev.Type == ledger.TypePOSSale {
			f.channel(ev.Channel).Sales++
		}
	}
	countOversold(f.fxA.Alerts, func(c string) { f.channel(c).ActualOversold++ })

	// The backtest's run: the same event, unless it belongs to an order
	// the backtest's policies turned away.
	if _, away := f.awayIDs[skuKey{ev.SKU, ev.ID}]; away {
		return nil
	}
	if ev.Has&ledger.FieldOrderID != 0 {
		if _, away := f.awayOrders[skuKey{ev.SKU, ev.OrderID}]; away {
			return nil
		}
	}
	if gated && resA.Outcome == ledger.Applied && ev.Qty > offB && offB < offA {
		f.awayIDs[skuKey{ev.SKU, ev.ID}] = struct{}{}
		f.awayOrders[skuKey{ev.SKU, ev.OrderID}] = struct{}{}
		o := f.channel(ev.Channel)
		o.TurnedAway++
		o.UnitsWithheld += ev.Qty
		return nil
	}
	f.alt.Apply(ev, &f.fxB)
	countOversold(f.fxB.Alerts, func(c string) { f.channel(c).BacktestOversold++ })
	return nil
}

func countOversold(alerts []ledger.Alert, add func(channel string)) {
	for i := range alerts {
		if alerts[i].Kind == ledger.AlertOversold {
			add(alerts[i].Channel)
		}
	}
}
