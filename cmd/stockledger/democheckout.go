package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// The demo's web shop checks out as a retailer's would: it holds the units
// through the checkout API (POST /v1/holds) and orders only what was
// granted, naming the hold, so the order takes the hold's place.

// checkoutAPI is where the demo reaches the checkout API; Addr "" (no HTTP
// server) makes the web shop order without holding first.
type checkoutAPI struct {
	Addr, Token string
	client      *http.Client
}

// hold asks for qty of sku on channel for ttl, returning the hold's id and
// status ("granted", "partial", "refused", "expired").
func (a *checkoutAPI) hold(ctx context.Context, sku, channel string, qty int, ttl string) (holdID, status string, err error) {
	body, _ := json.Marshal(map[string]any{"sku": sku, "channel": channel, "qty": qty, "ttl": ttl})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+a.Addr+"/v1/holds", bytes.NewReader(body))
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Content-Type", "application/json")
	if a.Token != "" {
		req.Header.Set("Authorization", "Bearer "+a.Token)
	}
	resp, err := a.httpClient().Do(req)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	var res struct {
		HoldID string `json:"hold_id"`
		Status string `json:"status"`
		Error  string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		return "", "", fmt.Errorf("checkout API answered %s: %w", resp.Status, err)
	}
	if res.Status == "" {
		return "", "", fmt.Errorf("checkout API answered %s: %s", resp.Status, res.Error)
	}
	return res.HoldID, res.Status, nil
}

func (a *checkoutAPI) httpClient() *http.Client {
	if a.client == nil {
		a.client = &http.Client{Timeout: 10 * time.Second}
	}
	return a.client
}

// webCheckout is one web customer: a hold of one unit, then (unless the
// cart is abandoned and its hold left to expire) the order naming it and
// its shipment from the warehouse.
func (d *demo) webCheckout(ctx context.Context, sku, orderID string) {
	hold := ""
	if d.api.Addr != "" {
		id, status, err := d.api.hold(ctx, sku, "web", 1, "30s")
		switch {
		case err != nil:
			d.log.Warn("demo: checkout API", "err", err)
			return
		case status != "granted":
			d.log.Info("demo: web checkout refused, nothing oversold", "sku", sku, "status", status)
			return
		case d.r.IntN(8) == 0:
			return // an abandoned cart: the hold expires on the partition's clock
		}
		hold = fmt.Sprintf(`,"hold_id":%q`, id)
	}
	d.send(ctx, `"type":"order","sku":%q,"channel":"web","order_id":%q,"qty":1,"location":"dc-east"%s`, sku, orderID, hold)
	d.send(ctx, `"type":"shipment","sku":%q,"order_id":%q,"location":"dc-east","qty":1`, sku, orderID)
}

// flashSale is 60 customers at once on the hot SKU: the web shop's hold
// before it orders (refused once the units are gone), Amazon's orders
// straight in (oversold when they outrun the stock).
func (d *demo) flashSale(ctx context.Context, i int) {
	d.log.Info("demo: flash sale on " + demoHot + ": 60 web checkouts (holding first) and amazon orders (not) in one burst")
	d.flash = d.flash[:0]
	refused := 0
	for j := range 60 {
		o, q := fmt.Sprintf("FLASH-%s-%d-%d", d.run, i, j), 2+d.r.IntN(3)
		if j%2 == 0 && d.api.Addr != "" {
			id, status, err := d.api.hold(ctx, demoHot, "web", q, "2m")
			if err != nil || status != "granted" {
				refused++
				continue
			}
			d.flash = append(d.flash, flashOrder{o, q})
			d.send(ctx, `"type":"order","sku":%q,"channel":"web","order_id":%q,"qty":%d,"hold_id":%q`, demoHot, o, q, id)
			continue
		}
		ch := []string{"web", "amazon"}[j%2]
		d.flash = append(d.flash, flashOrder{o, q})
		d.send(ctx, `"type":"order","sku":%q,"channel":%q,"order_id":%q,"qty":%d`, demoHot, ch, o, q)
	}
	if refused > 0 {
		d.log.Info(fmt.Sprintf("demo: flash sale: %d web checkouts refused at the hold (oversell prevented)", refused))
	}
}
