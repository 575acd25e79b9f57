package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// staleError is Shopify's quantity changing under the adapter on every
// attempt: the publisher sends the keys again after a backoff.
type staleError struct {
	items    int
	attempts int
}

func (e *staleError) Error() string {
	return fmt.Sprintf("Shopify's available quantity kept changing while setting %d items (%d attempts); send again later", e.items, e.attempts)
}

// rejectedError is Shopify refusing a change for a reason that sending it
// again will not fix until someone changes the shop or the mapping.
type rejectedError struct{ reasons []string }

func (e *rejectedError) Error() string {
	return "Shopify refused the change: " + strings.Join(e.reasons, "; ")
}

// set applies cs (keys locked) to Shopify in one inventorySetQuantities,
// each quantity compared-and-set against what the adapter believes
// Shopify holds. A stale belief (someone else changed the stock, e.g. a
// sale at a Shopify POS, or an earlier mutation of ours whose answer was
// lost) is read again and the mutation retried: the ledger's value is the
// one to set, the compare-and-set makes sure it replaces a value the
// adapter has seen rather than one it has not.
func (a *adapter) set(ctx context.Context, channel string, cs []*change) error {
	for _, c := range cs {
		c.key.sent = max(c.key.sent, c.item.Version)
	}
	if err := a.refresh(ctx, unknown(cs)); err != nil {
		return err
	}
	keyAttempt := 0
	for attempt := 1; ; attempt++ {
		in := a.input(cs)
		key := mutationKey(cs, in, keyAttempt)
		in.ReferenceDocumentURI = referenceURI(channel, cs, key)
		uerrs, err := a.shop.setAvailable(ctx, in, key)
		if err != nil {
			return err
		}
		if len(uerrs) == 0 {
			for _, c := range cs {
				c.key.applied, c.key.quantity, c.key.known = c.item.Version, c.item.Available, true
			}
			return nil
		}
		stale, newKey, err := classify(cs, uerrs)
		if err != nil {
			return err
		}
		if attempt == a.maxAttempts {
			return &staleError{items: len(cs), attempts: attempt}
		}
		if newKey {
			// The same parameters failed before under this key (it is
			// derived from them): read everything again, and use a new key.
			keyAttempt++
			stale = cs
		}
		if err := a.refresh(ctx, stale); err != nil {
			return err
		}
	}
}

// input is the mutation's input for cs.
func (a *adapter) input(cs []*change) setQuantitiesInput {
	in := setQuantitiesInput{Name: "available", Reason: "correction", Quantities: make([]quantityInput, len(cs))}
	for i, c := range cs {
		in.Quantities[i] = quantityInput{
			InventoryItemID:    c.itemID,
			LocationID:         a.shop.locationID,
			Quantity:           c.item.Available,
			ChangeFromQuantity: c.key.quantity,
		}
	}
	return in
}

// classify sorts a mutation's userErrors: the changes whose
// changeFromQuantity was stale (all of them when Shopify's field path does
// not say which), whether the idempotency key must change, or an error
// for anything else.
func classify(cs []*change, uerrs []userError) (stale []*change, newKey bool, err error) {
	var rejected []string
	seen := make(map[int]bool)
	all := false
	for _, e := range uerrs {
		switch e.Code {
		case "CHANGE_FROM_QUANTITY_STALE":
			i, ok := quantityIndex(e.Field, len(cs))
			if !ok {
				all = true
			} else if !seen[i] {
				seen[i] = true
				stale = append(stale, cs[i])
			}
		case "IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED":
			newKey = true
		case "IDEMPOTENCY_CONCURRENT_REQUEST":
			// An earlier attempt (timed out on our side) is still running.
			return nil, false, &upstreamError{errors.New("an earlier attempt of this change is still running at Shopify")}
		default:
			rejected = append(rejected, describeUserError(e, cs))
		}
	}
	if len(rejected) > 0 {
		return nil, false, &rejectedError{rejected}
	}
	if all {
		stale = cs
	}
	return stale, newKey, nil
}

// quantityIndex reads i from a field path [..., "quantities", "i", ...].
func quantityIndex(field []string, n int) (int, bool) {
	for j := 0; j+1 < len(field); j++ {
		if field[j] == "quantities" {
			i, err := strconv.Atoi(field[j+1])
			return i, err == nil && i >= 0 && i < n
		}
	}
	return 0, false
}

func describeUserError(e userError, cs []*change) string {
	s := e.Code + ": " + e.Message
	if i, ok := quantityIndex(e.Field, len(cs)); ok {
		c := cs[i]
		s = describeTarget(c.item.SKU, c.item.ListingSKU) + " (" + c.itemID + "): " + s
	}
	return s
}

// unknown is the changes whose key's quantity in Shopify the adapter has
// not seen yet (first request for the key since the adapter started).
func unknown(cs []*change) []*change {
	var u []*change
	for _, c := range cs {
		if !c.key.known {
			u = append(u, c)
		}
	}
	return u
}

// refresh reads Shopify's available quantity of cs into their key states.
func (a *adapter) refresh(ctx context.Context, cs []*change) error {
	if len(cs) == 0 {
		return nil
	}
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.itemID
	}
	got, err := a.shop.readAvailable(ctx, ids)
	if err != nil {
		return err
	}
	for _, c := range cs {
		q := got[c.itemID]
		if c.key.known && q != c.key.quantity {
			// Worth a line: stock that changes in Shopify without passing
			// through the ledger (a POS not wired to it) is drift.
			a.log.Info("Shopify's available differs from the adapter's last",
				"target", describeTarget(c.item.SKU, c.item.ListingSKU), "expected", c.key.quantity, "found", q)
		}
		c.key.quantity, c.key.known = q, true
	}
	return nil
}
