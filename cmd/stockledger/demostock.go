package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// The demo's stock: opened once per data directory, and kept plausible for
// hours by restocking what runs low, as a retailer's replenishment would,
// from what the ledger itself says each location has.

// open sends the channel policies, SKU policies, opening stock, an open PO
// and the eBay 6-pack listing under event ids of their own: a demo
// restarted on the same data sends them again and the ledger skips them
// as duplicates, so the opening stock is received once.
func (d *demo) open(ctx context.Context) error {
	d.sendID(ctx, "demo-open-policy-web", `"type":"channel_policy","channel":"web","locations":[],"buffer":2,"share_pct":100`)
	d.sendID(ctx, "demo-open-policy-amazon", `"type":"channel_policy","channel":"amazon","locations":["dc-east","dc-west"],"buffer":5,"share_pct":80`)
	d.sendID(ctx, "demo-open-policy-ebay", `"type":"channel_policy","channel":"ebay","locations":["dc-west"],"buffer":0,"share_pct":50,"max_qty":20`)
	d.sendID(ctx, "demo-open-policy-pos-soho", `"type":"channel_policy","channel":"pos-soho","locations":["store-soho"],"buffer":0,"share_pct":100`)
	for _, s := range demoSKUs {
		d.sendID(ctx, "demo-open-policy-"+s, `"type":"sku_policy","sku":%q,"safety_stock":{"dc-east":3},"reorder_point":40,"lead_time_days":14`, s)
		for _, l := range demoLocations {
			d.sendID(ctx, "demo-open-stock-"+s+"-"+l, `"type":"receipt","sku":%q,"location":%q,"qty":%d`, s, l, demoFull(l))
		}
	}
	d.sendID(ctx, "demo-open-po-4711", `"type":"purchase_order","sku":"HOODIE-GRY-M","po_id":"PO-4711","location":"dc-east","qty":50`)
	d.sendID(ctx, "demo-open-listing", `"type":"listing","sku":%q,"channel":"ebay","listing_sku":%q,"units":%d`, demoPackSKU, demoPack, demoPackUnits)
	return d.p.Flush(ctx)
}

// demoFull is a location's opening stock, and what a restock fills it to.
func demoFull(location string) int {
	if strings.HasPrefix(location, "dc") {
		return 60
	}
	return 15
}

// replenish restocks every location of every SKU that has less than a
// third of its opening stock on hand: a store by a transfer from the
// warehouse that has the most, a warehouse by a supplier's purchase order
// received at once. Without the HTTP API (no way to read the ledger) it
// restocks one SKU at random, as a steady supply.
func (d *demo) replenish(ctx context.Context, i int) {
	if d.api.Addr == "" {
		s := d.sku()
		d.send(ctx, `"type":"receipt","sku":%q,"location":"dc-west","qty":30`, s)
		return
	}
	for _, s := range demoSKUs {
		onHand, err := d.api.onHand(ctx, s)
		if err != nil {
			d.log.Warn("demo: reading stock to restock", "sku", s, "err", err)
			return
		}
		for _, l := range demoLocations {
			full := demoFull(l)
			if onHand[l] >= full/3 {
				continue
			}
			need := full - onHand[l]
			if strings.HasPrefix(l, "dc") {
				po := fmt.Sprintf("PO-%s-%d-%s-%s", d.run, i, s, l)
				d.send(ctx, `"type":"purchase_order","sku":%q,"po_id":%q,"location":%q,"qty":%d`, s, po, l, need)
				d.send(ctx, `"type":"receipt","sku":%q,"po_id":%q,"location":%q,"qty":%d`, s, po, l, need)
				continue
			}
			from := "dc-east"
			if onHand["dc-west"] > onHand["dc-east"] {
				from = "dc-west"
			}
			if onHand[from]-need < demoFull(from)/3 {
				continue // the warehouse restocks first
			}
			onHand[from] -= need
			t := fmt.Sprintf("T-%s-%d-%s-%s", d.run, i, s, l)
			d.send(ctx, `"type":"transfer_out","sku":%q,"transfer_id":%q,"location":%q,"to_location":%q,"qty":%d`, s, t, from, l, need)
			d.send(ctx, `"type":"transfer_in","sku":%q,"transfer_id":%q,"qty":%d`, s, t, need)
		}
	}
}

// roomAt reports whether location has less than max of sku on hand (or
// the ledger cannot be read), so a delivery there keeps stock plausible.
func (d *demo) roomAt(ctx context.Context, sku, location string, max int) bool {
	if d.api.Addr == "" {
		return true
	}
	onHand, err := d.api.onHand(ctx, sku)
	return err != nil || onHand[location] < max
}

// onHand reads sku's on_hand per location from the ledger (GET
// /v1/skus/{sku}); a SKU the ledger does not know yet has none.
func (a *checkoutAPI) onHand(ctx context.Context, sku string) (map[string]int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+a.Addr+"/v1/skus/"+url.PathEscape(sku), nil)
	if err != nil {
		return nil, err
	}
	if a.Token != "" {
		req.Header.Set("Authorization", "Bearer "+a.Token)
	}
	resp, err := a.httpClient().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]int{}
	if resp.StatusCode == http.StatusNotFound {
		return out, nil
	}
	var s struct {
		Locations []struct {
			Location string `json:"location"`
			OnHand   int    `json:"on_hand"`
		} `json:"locations"`
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /v1/skus/%s: %s", sku, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return nil, err
	}
	for _, l := range s.Locations {
		out[l.Location] = l.OnHand
	}
	return out, nil
}
