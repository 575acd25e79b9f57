package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/schemas"
)

// demo feeds a small retailer's day into the events topic, live: two
// warehouses and two stores, a web shop, Amazon, eBay and the stores' POS.
// The web shop's checkout holds units through the checkout API before it
// orders (some carts are abandoned and their holds expire); store sales
// drain stock the web shop shows; a flash sale hits one hot SKU every 30
// seconds, where the web shop's holds are refused once the units are gone
// (oversell prevented) while Amazon's orders, which hold nothing, oversell
// (oversold alerts); eBay sells a 6-pack listing; the hot SKU sells faster
// than its lead time allows (reorder_due); and a purchase order is closed
// short and then receives a late delivery (po_short, receipt_over).
type demo struct {
	p   *processors.EventProducer
	reg *schemas.Registry
	fr  *schemas.Framing
	log *slog.Logger
	r   *rand.Rand
	n   int
	api checkoutAPI
	// run tells this run's order, transfer and PO ids from an earlier
	// run's on the same data, so a restarted demo trades on where it was.
	run string

	flash []flashOrder // the last flash sale's orders
}

type flashOrder struct {
	id  string
	qty int
}

var (
	demoSKUs      = []string{"TEE-RED-M", "TEE-RED-L", "TEE-BLK-M", "HOODIE-GRY-M", "CAP-NAVY", "MUG-LOGO", "SOCK-3PK", "TOTE-CANVAS"}
	demoLocations = []string{"dc-east", "dc-west", "store-soho", "store-brooklyn"}
	demoHot       = "TEE-RED-M"
	// eBay sells TEE-BLK-M by the 6-pack: one listing unit is 6 of the SKU.
	demoPack, demoPackSKU, demoPackUnits = "TEE-BLK-M-6PK", "TEE-BLK-M", 6
)

func runDemo(ctx context.Context, brokers []string, topics processors.Topics, src processors.SchemaRegistryConfig, opts []kgo.Opt, api checkoutAPI, log *slog.Logger) error {
	reg := schemas.NewRegistry()
	fr, err := src.Connect(ctx, reg, processors.Topics{Events: topics.Events})
	if err != nil {
		return err
	}
	p, err := processors.NewEventProducer(ctx, brokers, topics, 8, opts...)
	if err != nil {
		return err
	}
	defer p.Close()
	d := &demo{p: p, reg: reg, fr: fr, log: log, api: api, r: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7)),
		run: strconv.FormatInt(time.Now().Unix(), 36)}
	return d.loop(ctx)
}

func (d *demo) send(ctx context.Context, format string, args ...any) {
	d.n++
	d.sendID(ctx, fmt.Sprintf("demo-%s-%d", d.run, d.n), format, args...)
}

// sendID sends an event with event_id id: the opening events have ids of
// their own, the same in every run, so a restart on the same data sends
// them again and the ledger skips them as duplicates.
func (d *demo) sendID(ctx context.Context, id, format string, args ...any) {
	now := time.Now().UTC().Format(time.RFC3339Nano)
	line := fmt.Sprintf(`{"event_id":%q,"occurred_at":%q,"source":"demo",`, id, now) + fmt.Sprintf(format, args...) + "}"
	var ev ledger.Event
	reason, detail := schemas.ParseEventJSON([]byte(line), &ev)
	if reason == ledger.ReasonNone {
		reason, detail = ledger.Validate(&ev)
	}
	if reason != ledger.ReasonNone {
		d.log.Error("demo event invalid", "reason", reason, "detail", detail, "line", line)
		return
	}
	v, err := d.fr.EncodeEvent(nil, &ev)
	if err != nil {
		d.log.Error("demo encode", "err", err)
		return
	}
	d.p.Produce(ctx, ev.SKU, ev.Type == ledger.TypeChannelPolicy, v)
}

func (d *demo) loc() string { return demoLocations[d.r.IntN(len(demoLocations))] }

func (d *demo) sku() string { return demoSKUs[d.r.IntN(len(demoSKUs))] }

func (d *demo) loop(ctx context.Context) error {
	if err := d.open(ctx); err != nil {
		return err
	}
	d.log.Info("demo: opening stock received; live trading starts (tail updates and alerts to watch)")
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for i := 1; ; i++ {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		d.trade(ctx, i)
		switch {
		case i%300 == 30: // 3 s into every 30 s: a flash sale on the hot SKU
			d.flashSale(ctx, i)
		case i%300 == 120: // the warehouse ships what it can and cancels the rest
			for j, o := range d.flash {
				if j%3 == 0 {
					d.send(ctx, `"type":"order_cancelled","sku":%q,"order_id":%q`, demoHot, o.id)
					continue
				}
				d.send(ctx, `"type":"shipment","sku":%q,"order_id":%q,"location":%q,"qty":%d`, demoHot, o.id, []string{"dc-east", "dc-west"}[j%2], o.qty)
			}
			d.log.Info("demo: flash sale orders shipped from the warehouses, a third cancelled")
		case i%300 == 200 && d.roomAt(ctx, demoHot, "dc-east", 150): // a PO arrives short, is closed, then a late box turns up
			po := fmt.Sprintf("PO-%s-%d", d.run, i)
			d.send(ctx, `"type":"purchase_order","sku":%q,"po_id":%q,"location":"dc-east","qty":160`, demoHot, po)
			d.send(ctx, `"type":"receipt","sku":%q,"po_id":%q,"location":"dc-east","qty":140`, demoHot, po)
			d.send(ctx, `"type":"purchase_order_closed","sku":%q,"po_id":%q`, demoHot, po)
			d.send(ctx, `"type":"receipt","sku":%q,"po_id":%q,"location":"dc-east","qty":30`, demoHot, po)
			d.log.Info("demo: " + po + " for " + demoHot + " received 140 of 160, closed short, then 30 arrived late")
		case i%50 == 0: // restock what runs low: stores from a warehouse, warehouses from a supplier
			d.replenish(ctx, i)
		}
		if err := d.p.Flush(ctx); err != nil {
			return err
		}
	}
}

// trade is a tenth of a second of ordinary trading.
func (d *demo) trade(ctx context.Context, i int) {
	switch d.r.IntN(4) {
	case 0:
		store := []string{"store-soho", "store-brooklyn"}[d.r.IntN(2)]
		d.send(ctx, `"type":"pos_sale","sku":%q,"channel":"pos-soho","location":%q,"qty":1`, d.sku(), store)
	case 1:
		d.webCheckout(ctx, d.sku(), fmt.Sprintf("W-%s-%d", d.run, i))
	case 2: // a marketplace order, unassigned until the 3PL ships it
		s := d.sku()
		o := fmt.Sprintf("A-%s-%d", d.run, i)
		d.send(ctx, `"type":"order","sku":%q,"channel":"amazon","order_id":%q,"qty":1`, s, o)
		d.send(ctx, `"type":"shipment","sku":%q,"order_id":%q,"location":"dc-west","qty":1`, s, o)
	default:
		if d.r.IntN(40) == 0 { // the web shop cancels an order the ledger never saw: a dead letter
			d.send(ctx, `"type":"order_cancelled","sku":%q,"order_id":"W-UNKNOWN-%s-%d"`, d.sku(), d.run, i)
		}
		if d.r.IntN(10) == 0 {
			d.send(ctx, `"type":"return","sku":%q,"location":%q,"qty":1,"resellable":%v`, d.sku(), d.loc(), d.r.IntN(2) == 0)
		}
		if d.r.IntN(15) == 0 { // a 6-pack sold on eBay: the demo resolves its own listing, 6 units
			o := fmt.Sprintf("E-%s-%d", d.run, i)
			d.send(ctx, `"type":"order","sku":%q,"listing_sku":%q,"channel":"ebay","order_id":%q,"qty":%d`, demoPackSKU, demoPack, o, demoPackUnits)
			d.send(ctx, `"type":"shipment","sku":%q,"order_id":%q,"location":"dc-west","qty":%d`, demoPackSKU, o, demoPackUnits)
		}
	}
}
