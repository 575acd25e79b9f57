package publish

import (
	"strconv"
	"time"
)

// Request is the body of one webhook request: a batch of a channel's
// stock values, each absolute. Its JSON Schema is
// schemas/webhook/publish-request.schema.json; a receiver answers 2xx once
// it has applied every item, 429 (optionally with Retry-After) to slow the
// publisher down, anything else to have the batch's keys sent again.
type Request struct {
	Channel string    `json:"channel"`
	SentAt  time.Time `json:"sent_at"`
	Updates []Item    `json:"updates"`
}

// Item is one key's value: the channel may sell Available units of SKU
// (or, with ListingSKU, of that listing of it). Version orders a key's
// values: a receiver applies an item only if its version is above the one
// it holds for the key, so a late copy of an older batch cannot undo a
// newer one. IdempotencyKey names the value (channel/sku/version, with
// /listing_sku before the version for a listing); the same key always
// carries the same value.
type Item struct {
	SKU            string    `json:"sku"`
	ListingSKU     *string   `json:"listing_sku"`
	Available      int64     `json:"available"`
	Version        uint64    `json:"version"`
	OccurredAt     time.Time `json:"occurred_at"`
	IdempotencyKey string    `json:"idempotency_key"`
}

// IdempotencyKey is the idempotency key of a channel's value of sku (or of
// its listing, when listing is not empty) at version.
func IdempotencyKey(channel, sku, listing string, version uint64) string {
	k := channel + "/" + sku + "/"
	if listing != "" {
		k += listing + "/"
	}
	return k + strconv.FormatUint(version, 10)
}

// Target is what an item sets: the SKU, or the listing when it has one.
// Receivers key their state by it.
func (it Item) Target() string {
	if it.ListingSKU != nil {
		return it.SKU + "\x00" + *it.ListingSKU
	}
	return it.SKU
}
