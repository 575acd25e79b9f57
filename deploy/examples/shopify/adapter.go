package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stockledger/stockledger/processors/publish"
)

// maxRequestBytes bounds a webhook body: --batch 1000 items of a few
// hundred bytes each, with room to spare.
const maxRequestBytes = 4 << 20

// adapter is the webhook receiver: it applies a publisher's absolute
// values to one Shopify location.
//
// Per key (publish.Item.Target) it remembers, in memory, the highest
// version Shopify is known to hold and the quantity it believes Shopify
// holds. After a restart that memory is empty and is rebuilt lazily: the
// first item per key is applied (after reading Shopify's quantity). That
// is safe because the publisher never sends a lower version of a key after
// a higher one; the only exposure is a copy of an old request still in the
// network when the adapter restarts.
type adapter struct {
	secret    []byte
	tolerance time.Duration // of the signature's timestamp; default 5m
	shop      *shopifyClient
	items     map[string]string // Target -> inventory item GID, from the mapping file
	log       *slog.Logger
	now       func() time.Time

	// maxAttempts bounds the mutations of one webhook request (stale
	// compares retried) before it is answered 409; default 5.
	maxAttempts int
	// maxItems bounds the quantities of one inventorySetQuantities (and
	// the ids of one nodes query, which Shopify limits to 250); a webhook
	// request with more items takes several mutations. Default 250.
	maxItems int

	mu struct {
		sync.Mutex
		keys map[string]*keyState // by Target; bounded by the mapping file
	}
}

// keyState is what the adapter knows about one key.
type keyState struct {
	// lock is a one-slot semaphore, held while a request sets this key: one
	// key's sets reach Shopify one at a time, each after its version was
	// checked against the last, so a late request cannot overtake a newer
	// one between the check and the mutation.
	lock chan struct{}

	// The fields below are guarded by lock.

	// applied is the highest version Shopify is known to hold.
	applied uint64
	// sent is the highest version the adapter has tried to set, applied
	// or not: a mutation whose answer was lost may have taken effect, so a
	// lower version must not follow it. Dropping those is safe: the request
	// that carried sent was answered 2xx, or the publisher sends the key
	// again with a version at least as high.
	sent uint64
	// quantity is what the adapter believes Shopify holds (the
	// changeFromQuantity of the next set), valid when known.
	quantity int64
	known    bool
}

// change is one item of a request, resolved to its key and inventory item.
type change struct {
	item   publish.Item
	itemID string // inventory item GID
	key    *keyState
}

// result is what the adapter did with one webhook request.
type result struct {
	set       int      // items set in Shopify
	unchanged int      // items Shopify already held, or a newer version of
	unmapped  []string // items the mapping file has no inventory item for
	err       error
}

func newAdapter(secret []byte, shop *shopifyClient, items map[string]string, log *slog.Logger) *adapter {
	a := &adapter{
		secret:      secret,
		tolerance:   5 * time.Minute,
		shop:        shop,
		items:       items,
		maxAttempts: 5,
		maxItems:    250,
		log:         log,
		now:         time.Now,
	}
	a.mu.keys = make(map[string]*keyState)
	return a
}

// ServeHTTP receives one webhook request.
func (a *adapter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST a publish request", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	if err != nil {
		http.Error(w, "reading the body: "+err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	if err := publish.Verify(a.secret, r.Header.Get(publish.SignatureHeader), body, a.now(), a.tolerance); err != nil {
		a.log.Warn("webhook request refused", "remote", r.RemoteAddr, "err", err)
		http.Error(w, publish.SignatureHeader+": "+err.Error(), http.StatusUnauthorized)
		return
	}
	req, err := decodeRequest(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	a.respond(w, a.apply(r.Context(), req))
}

// decodeRequest decodes and checks a publish.Request.
func decodeRequest(body []byte) (publish.Request, error) {
	var req publish.Request
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, fmt.Errorf("decoding the publish request: %w", err)
	}
	if req.Channel == "" || len(req.Updates) == 0 {
		return req, errors.New("a publish request needs a channel and at least one update")
	}
	for i, it := range req.Updates {
		if it.SKU == "" || it.Version == 0 || it.Available < 0 || it.IdempotencyKey == "" || (it.ListingSKU != nil && *it.ListingSKU == "") {
			return req, fmt.Errorf("updates[%d]: needs a sku, a version above 0, available of 0 or more and an idempotency_key", i)
		}
	}
	return req, nil
}

// apply sets the request's items in Shopify: the mapped ones even when
// some are unmapped, so that a fixed mapping has less to catch up on.
func (a *adapter) apply(ctx context.Context, req publish.Request) result {
	cs, unmapped := a.resolve(req.Updates)
	res := result{unmapped: unmapped}
	release, err := lockKeys(ctx, cs)
	if err != nil {
		res.err = err
		return res
	}
	defer release()
	var todo []*change
	for _, c := range cs {
		// A version at or below applied is already there; one below sent
		// is superseded by a newer value already sent (see keyState.sent).
		if c.item.Version <= c.key.applied || c.item.Version < c.key.sent {
			res.unchanged++
			continue
		}
		todo = append(todo, c)
	}
	for len(todo) > 0 && res.err == nil {
		n := min(len(todo), a.maxItems)
		if res.err = a.set(ctx, req.Channel, todo[:n]); res.err == nil {
			res.set += n
		}
		todo = todo[n:]
	}
	return res
}

// resolve finds each item's inventory item and key state. A key listed
// twice keeps its highest version (and is locked once).
func (a *adapter) resolve(items []publish.Item) (cs []*change, unmapped []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	byTarget := make(map[string]*change, len(items))
	for _, it := range items {
		target := it.Target()
		id, ok := a.items[target]
		if !ok {
			unmapped = append(unmapped, describeTarget(it.SKU, it.ListingSKU))
			continue
		}
		if c, dup := byTarget[target]; dup {
			if it.Version > c.item.Version {
				c.item = it
			}
			continue
		}
		k := a.mu.keys[target]
		if k == nil {
			k = &keyState{lock: make(chan struct{}, 1)}
			a.mu.keys[target] = k
		}
		c := &change{item: it, itemID: id, key: k}
		byTarget[target] = c
		cs = append(cs, c)
	}
	// One order for every request, so that two requests sharing keys
	// cannot each hold one the other waits for.
	slices.SortFunc(cs, func(x, y *change) int { return strings.Compare(x.itemID, y.itemID) })
	return cs, unmapped
}

// lockKeys takes the lock of every change's key, in order, and returns
// the function that releases them.
func lockKeys(ctx context.Context, cs []*change) (release func(), err error) {
	held := 0
	release = func() {
		for _, c := range cs[:held] {
			<-c.key.lock
		}
	}
	for _, c := range cs {
		select {
		case c.key.lock <- struct{}{}:
			held++
		case <-ctx.Done():
			release()
			return nil, fmt.Errorf("waiting for another request setting %s: %w", c.item.SKU, ctx.Err())
		}
	}
	return release, nil
}

// respond answers the publisher: 2xx only when every item is applied.
func (a *adapter) respond(w http.ResponseWriter, res result) {
	var thr *throttledError
	var stale *staleError
	var rej *rejectedError
	switch {
	case errors.As(res.err, &thr):
		secs := int64(math.Ceil(thr.retryAfter.Seconds()))
		w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
		http.Error(w, res.err.Error(), http.StatusTooManyRequests)
	case errors.As(res.err, &stale):
		http.Error(w, res.err.Error(), http.StatusConflict)
	case errors.As(res.err, &rej):
		a.log.Error("Shopify refused a change", "err", res.err)
		http.Error(w, res.err.Error(), http.StatusUnprocessableEntity)
	case res.err != nil:
		a.log.Warn("applying a publish request", "err", res.err)
		http.Error(w, res.err.Error(), http.StatusBadGateway)
	case len(res.unmapped) > 0:
		msg := fmt.Sprintf("the mapping file (--map) has no inventory item for %s; add a line for each and restart the adapter",
			strings.Join(res.unmapped, ", "))
		a.log.Error("unmapped items", "err", msg)
		http.Error(w, msg, http.StatusUnprocessableEntity)
	default:
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, "{\"set\":%d,\"unchanged\":%d}\n", res.set, res.unchanged)
	}
}

// mutationKey is the idempotency key of setting in under attempt: the same
// items at the same versions from the same believed quantities give the
// same key (so a retry after a lost answer is not applied twice), anything
// else a new one (Shopify refuses a key reused with other parameters).
// Versions are part of it because the same quantities recur: 3 -> 2 -> 3
// is two operations.
func mutationKey(cs []*change, in setQuantitiesInput, attempt int) string {
	h := sha256.New()
	for i, c := range cs {
		q := in.Quantities[i]
		fmt.Fprintf(h, "%s\x00%s\x00%d\x00%d\x00", c.item.IdempotencyKey, q.InventoryItemID, q.Quantity, q.ChangeFromQuantity)
	}
	fmt.Fprintf(h, "%s\x00%s\x00%d", in.LocationID(), in.Reason, attempt)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// LocationID is the location of the input's quantities.
func (in setQuantitiesInput) LocationID() string {
	if len(in.Quantities) == 0 {
		return ""
	}
	return in.Quantities[0].LocationID
}

// referenceURI names the source of a change in Shopify's inventory
// history: the item's idempotency key (channel/sku/version), or for a
// batch the channel and the mutation's key (the adapter logs nothing per
// batch, so the URI is what ties a history entry to a request).
func referenceURI(channel string, cs []*change, key string) string {
	if len(cs) == 1 {
		parts := strings.Split(cs[0].item.IdempotencyKey, "/")
		for i, p := range parts {
			parts[i] = url.PathEscape(p)
		}
		return "stockledger://" + strings.Join(parts, "/")
	}
	return "stockledger://" + url.PathEscape(channel) + "/batch/" + key
}
