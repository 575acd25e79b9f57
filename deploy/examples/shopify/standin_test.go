package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The stand-in is a local imitation of Shopify's GraphQL Admin API, as far
// as the adapter uses it: inventorySetQuantities with changeFromQuantity
// compare-and-set and the @idempotent directive, and the inventory level
// query. It recognises operations by name and reads their variables; it
// is not a GraphQL server.
//
// Tests encode versions in quantities: a value the publisher sends for
// version v is in [v*1000, v*1000+999], and a simulated POS sale only
// takes units off within that range. So the stand-in can tell which
// version its quantity reflects, and checks on every change that it never
// goes back.

const (
	standinToken    = "shpat_test"
	standinLocation = "gid://shopify/Location/1"
	standinPath     = "/admin/api/2026-04/graphql.json"
)

// versionOf is the version a quantity reflects (see above).
func versionOf(q int64) uint64 { return uint64(q / 1000) }

// fault is what the stand-in does to one request.
type fault int

const (
	faultNone        fault = iota
	fault429               // HTTP 429 with Retry-After
	faultThrottled         // 200 with a THROTTLED GraphQL error
	faultFailBefore        // 500 before doing anything
	faultLostReply         // do it, then answer 500
	faultServerError       // 503: unavailable, nothing done
)

// faultRates are the probabilities of each fault per request.
type faultRates struct {
	throttle429, throttled, failBefore, lostReply float64
	delay                                         float64 // probability of a delay of up to maxDelay
	maxDelay                                      time.Duration
}

type standinStats struct {
	requests, mutations, applied, stale, replays, reads int
	throttled, failed, lostReplies, posSales            int
}

type standin struct {
	faults faultRates

	mu struct {
		sync.Mutex
		rng        *rand.Rand
		forced     []fault           // the next requests' faults, before any random one
		qty        map[string]int64  // available by inventory item, at standinLocation
		version    map[string]uint64 // versionOf(qty) at the last change
		idem       map[string]idemRecord
		violations []string
		stats      standinStats
	}
}

// idemRecord is the first outcome of an idempotency key.
type idemRecord struct {
	params string
	ok     bool
}

func newStandin(seed uint64, faults faultRates, qty map[string]int64) *standin {
	s := &standin{faults: faults}
	s.mu.rng = rand.New(rand.NewPCG(seed, 0x5ca1ab1e))
	s.mu.qty = qty
	s.mu.version = make(map[string]uint64, len(qty))
	for id, q := range qty {
		s.mu.version[id] = versionOf(q)
	}
	s.mu.idem = make(map[string]idemRecord)
	return s
}

func (s *standin) force(f ...fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.forced = append(s.mu.forced, f...)
}

// roll picks a request's fault and delay.
func (s *standin) roll() (fault, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.stats.requests++
	if len(s.mu.forced) > 0 {
		f := s.mu.forced[0]
		s.mu.forced = s.mu.forced[1:]
		return f, 0
	}
	var d time.Duration
	if s.mu.rng.Float64() < s.faults.delay {
		d = time.Duration(s.mu.rng.Int64N(int64(s.faults.maxDelay) + 1))
	}
	p := s.mu.rng.Float64()
	for _, c := range []struct {
		f fault
		p float64
	}{{fault429, s.faults.throttle429}, {faultThrottled, s.faults.throttled}, {faultFailBefore, s.faults.failBefore}, {faultLostReply, s.faults.lostReply}} {
		if p < c.p {
			return c.f, d
		}
		p -= c.p
	}
	return faultNone, d
}

func (s *standin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Shopify-Access-Token") != standinToken {
		http.Error(w, `{"errors":"[API] Invalid API key or access token"}`, http.StatusUnauthorized)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != standinPath {
		http.NotFound(w, r)
		return
	}
	var body struct {
		Query     string          `json:"query"`
		Variables json.RawMessage `json:"variables"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f, delay := s.roll()
	time.Sleep(delay)
	if s.refuse(w, f) {
		return
	}
	var resp any
	switch op := strings.TrimSpace(body.Query); {
	case strings.HasPrefix(op, "mutation StockledgerSetAvailable("):
		resp = s.setQuantities(body.Query, body.Variables)
	case strings.HasPrefix(op, "query StockledgerReadAvailable("):
		resp = s.read(body.Variables)
	default:
		resp = graphQLError("unknown operation", "")
	}
	if f == faultLostReply {
		s.count(func(st *standinStats) { st.lostReplies++ })
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
}

// refuse answers the faults that do nothing.
func (s *standin) refuse(w http.ResponseWriter, f fault) bool {
	switch f {
	case fault429:
		s.count(func(st *standinStats) { st.throttled++ })
		w.Header().Set("Retry-After", "2.0")
		http.Error(w, `{"errors":"Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."}`, http.StatusTooManyRequests)
	case faultThrottled:
		s.count(func(st *standinStats) { st.throttled++ })
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"errors":[{"message":"Throttled","extensions":{"code":"THROTTLED","documentation":"https://shopify.dev/api/usage/rate-limits"}}],`+
			`"extensions":{"cost":{"requestedQueryCost":12,"actualQueryCost":null,"throttleStatus":{"maximumAvailable":2000.0,"currentlyAvailable":4,"restoreRate":100.0}}}}`)
	case faultFailBefore, faultServerError:
		s.count(func(st *standinStats) { st.failed++ })
		code := http.StatusInternalServerError
		if f == faultServerError {
			code = http.StatusServiceUnavailable
		}
		http.Error(w, http.StatusText(code), code)
	default:
		return false
	}
	return true
}

func (s *standin) count(f func(*standinStats)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.mu.stats)
}

var idempotentKeyPattern = regexp.MustCompile(`\)\s*@idempotent\(key:\s*"([^"]+)"\)`)

// setInput is InventorySetQuantitiesInput as the stand-in reads it: the
// quantities as raw fields, to tell an explicit null changeFromQuantity
// (no compare) from a missing one (an error, as in Shopify).
type setInput struct {
	Input struct {
		Name                 string                       `json:"name"`
		Reason               string                       `json:"reason"`
		ReferenceDocumentURI string                       `json:"referenceDocumentUri"`
		Quantities           []map[string]json.RawMessage `json:"quantities"`
	} `json:"input"`
}

func (s *standin) setQuantities(query string, vars json.RawMessage) any {
	m := idempotentKeyPattern.FindStringSubmatch(query)
	if m == nil {
		return graphQLError("The @idempotent directive is required for this mutation.", "BAD_REQUEST")
	}
	var in setInput
	if err := json.Unmarshal(vars, &in); err != nil {
		return graphQLError("Variable $input of type InventorySetQuantitiesInput! was provided invalid value: "+err.Error(), "INVALID_VARIABLE")
	}
	var canon bytes.Buffer
	json.Compact(&canon, vars)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.stats.mutations++
	if rec, seen := s.mu.idem[m[1]]; seen {
		switch {
		case rec.params != canon.String():
			return setPayload(userErrorOf("IDEMPOTENCY_KEY_PARAMETER_MISMATCH", nil, "The same idempotency key cannot be used with different operation parameters."))
		case !rec.ok:
			return setPayload(userErrorOf("IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED", nil, "A previous request with this idempotency key failed."))
		}
		s.mu.stats.replays++
		return setPayload()
	}
	uerrs := s.checkLocked(in)
	ok := len(uerrs) == 0
	s.mu.idem[m[1]] = idemRecord{params: canon.String(), ok: ok}
	if !ok {
		return setPayload(uerrs...)
	}
	for _, q := range in.Input.Quantities {
		var id string
		var n int64
		json.Unmarshal(q["inventoryItemId"], &id)
		json.Unmarshal(q["quantity"], &n)
		s.setLocked(id, n, "set by "+in.Input.ReferenceDocumentURI)
	}
	s.mu.stats.applied++
	return setPayload()
}

// checkLocked validates a mutation's input and compares each
// changeFromQuantity: any userError and nothing is applied.
func (s *standin) checkLocked(in setInput) []map[string]any {
	var uerrs []map[string]any
	if in.Input.Name != "available" || in.Input.Reason != "correction" || !strings.HasPrefix(in.Input.ReferenceDocumentURI, "stockledger://") {
		uerrs = append(uerrs, userErrorOf("INVALID_REASON", []string{"input"}, fmt.Sprintf("unexpected name %q, reason %q or referenceDocumentUri %q",
			in.Input.Name, in.Input.Reason, in.Input.ReferenceDocumentURI)))
	}
	seen := make(map[string]bool)
	for i, q := range in.Input.Quantities {
		field := func(f string) []string { return []string{"input", "quantities", strconv.Itoa(i), f} }
		var id, loc string
		json.Unmarshal(q["inventoryItemId"], &id)
		json.Unmarshal(q["locationId"], &loc)
		cur, exists := s.mu.qty[id]
		raw, hasFrom := q["changeFromQuantity"]
		switch {
		case !exists:
			uerrs = append(uerrs, userErrorOf("INVALID_INVENTORY_ITEM", field("inventoryItemId"), "The specified inventory item could not be found."))
		case loc != standinLocation:
			uerrs = append(uerrs, userErrorOf("INVALID_LOCATION", field("locationId"), "The specified location could not be found."))
		case seen[id]:
			uerrs = append(uerrs, userErrorOf("NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR", field("inventoryItemId"), "duplicate inventory item"))
		case !hasFrom:
			uerrs = append(uerrs, userErrorOf("CHANGE_FROM_QUANTITY_REQUIRED", field("changeFromQuantity"), "changeFromQuantity must be given (null to skip the check)."))
		case string(raw) != "null" && string(raw) != strconv.FormatInt(cur, 10):
			s.mu.stats.stale++
			uerrs = append(uerrs, userErrorOf("CHANGE_FROM_QUANTITY_STALE", field("changeFromQuantity"), "The changeFromQuantity value does not match persisted value."))
		}
		seen[id] = true
	}
	return uerrs
}

// setLocked changes an item's quantity, checking that the version it
// reflects does not go back.
func (s *standin) setLocked(id string, q int64, why string) {
	v := versionOf(q)
	if last := s.mu.version[id]; v < last {
		s.mu.violations = append(s.mu.violations, fmt.Sprintf("%s went back from version %d to %d (%s)", id, last, v, why))
	}
	s.mu.qty[id], s.mu.version[id] = q, v
}

func (s *standin) read(vars json.RawMessage) any {
	var v struct {
		IDs        []string `json:"ids"`
		LocationID string   `json:"locationId"`
	}
	if err := json.Unmarshal(vars, &v); err != nil {
		return graphQLError(err.Error(), "INVALID_VARIABLE")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.stats.reads++
	nodes := make([]any, len(v.IDs))
	for i, id := range v.IDs {
		q, ok := s.mu.qty[id]
		if !ok {
			continue // null: no such node
		}
		var level any // null: not stocked at the location
		if v.LocationID == standinLocation {
			level = map[string]any{"quantities": []any{map[string]any{"name": "available", "quantity": q}}}
		}
		nodes[i] = map[string]any{"id": id, "inventoryLevel": level}
	}
	return map[string]any{"data": map[string]any{"nodes": nodes}}
}

// posSale takes 1 to 3 units off an item behind the adapter's back, as a
// sale at a Shopify POS would, staying within the version's range.
func (s *standin) posSale(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.mu.qty[id]
	n := 1 + s.mu.rng.Int64N(3)
	if q%1000 < 100 {
		return
	}
	s.mu.stats.posSales++
	s.setLocked(id, q-n, "POS sale")
}

func (s *standin) quantity(id string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.qty[id]
}

func (s *standin) stats() standinStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.stats
}

func (s *standin) violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.mu.violations...)
}

func setPayload(uerrs ...map[string]any) any {
	if uerrs == nil {
		uerrs = []map[string]any{}
	}
	var group any
	if len(uerrs) == 0 {
		group = map[string]any{"id": "gid://shopify/InventoryAdjustmentGroup/1"}
	}
	return map[string]any{"data": map[string]any{"inventorySetQuantities": map[string]any{
		"inventoryAdjustmentGroup": group, "userErrors": uerrs}}}
}

func userErrorOf(code string, field []string, msg string) map[string]any {
	return map[string]any{"code": code, "field": field, "message": msg}
}

func graphQLError(msg, code string) any {
	return map[string]any{"errors": []any{map[string]any{"message": msg, "extensions": map[string]any{"code": code}}}}
}
