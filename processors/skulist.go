package processors

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stockledger/stockledger/ledger"
)

// GET /v1/skus: the SKUs this instance's partitions hold, by name prefix,
// a page at a time (for an operator's search, or a bulk read). Each
// instance answers for the partitions it owns, and says which they are.

// maxSKUList caps a page of GET /v1/skus.
const maxSKUList = 1000

// SKUList is a page of GET /v1/skus.
type SKUList struct {
	SKUs []SKUJSON `json:"skus"`
	// Partitions are those this instance owns, which the page covers;
	// TopicPartitions is the events topic's count.
	Partitions      []int32 `json:"partitions"`
	TopicPartitions int32   `json:"topic_partitions"`
	// NextAfter, when set, is the after of the next page.
	NextAfter string `json:"next_after,omitempty"`
}

// SKUs lists the committed states of up to limit SKUs of the partitions
// this instance owns whose names start with prefix and come after after,
// in name order.
func (p *Processor) SKUs(prefix, after string, limit int) (SKUList, error) {
	out := SKUList{SKUs: []SKUJSON{}, Partitions: p.ownedPartitions(), TopicPartitions: p.numPartitions}
	for _, part := range out.Partitions {
		n := 0
		err := p.store.SKUsFrom(part, prefix, after, func(s *ledger.SKU) (bool, error) {
			out.SKUs = append(out.SKUs, NewSKUJSON(s, part))
			n++
			return n <= limit, nil // one more than a page says whether another follows
		})
		if err != nil {
			return SKUList{}, err
		}
	}
	slices.SortFunc(out.SKUs, func(a, b SKUJSON) int { return strings.Compare(a.SKU, b.SKU) })
	if len(out.SKUs) > limit {
		out.SKUs = out.SKUs[:limit]
		out.NextAfter = out.SKUs[limit-1].SKU
	}
	return out, nil
}

// serveSKUList serves GET /v1/skus?prefix=&after=&limit=.
func (p *Processor) serveSKUList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	prefix, after := q.Get("prefix"), q.Get("after")
	for name, v := range map[string]string{"prefix": prefix, "after": after} {
		if len(v) > ledger.MaxSKUBytes {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": name + ": longer than a SKU code (128 bytes)", "field": name})
			return
		}
	}
	limit := 100
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxSKUList {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "limit: want 1 to " + strconv.Itoa(maxSKUList) + ", got " + s, "field": "limit"})
			return
		}
		limit = n
	}
	list, err := p.SKUs(prefix, after, limit)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, list)
}

// HistoryFunc reads a SKU's history for GET /v1/skus/{sku}/history: a
// fold of the SKU's partition from its start (audit.History), its rows
// as JSON values in topic order, those appended in [since, until] (zero:
// unbounded).
type HistoryFunc func(ctx context.Context, sku string, since, until time.Time) (rows any, err error)

// serveSKUHistory serves GET /v1/skus/{sku}/history?since=&until=.
func serveSKUHistory(history HistoryFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("sku")
		if !ledger.ValidCode(name, ledger.MaxSKUBytes) {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid SKU code"})
			return
		}
		var bounds [2]time.Time
		for i, field := range []string{"since", "until"} {
			if v := r.URL.Query().Get(field); v != "" {
				t, err := time.Parse(time.RFC3339Nano, v)
				if err != nil {
					writeJSON(w, http.StatusBadRequest, map[string]string{"error": field + ": want an RFC 3339 time, got " + v, "field": field})
					return
				}
				bounds[i] = t
			}
		}
		if history == nil {
			writeJSON(w, http.StatusNotImplemented, map[string]string{"error": "this server reads no history (HTTPConfig.History is not set)"})
			return
		}
		rows, err := history(r.Context(), name, bounds[0], bounds[1])
		if err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "reading the events topic: " + err.Error(), "sku": name})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"sku": name, "rows": rows})
	}
}
