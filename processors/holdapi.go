package processors

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/schemas"
)

// The checkout API: POST /v1/holds places a hold and answers with its
// decision, DELETE /v1/holds/{sku}/{hold_id} releases one. Any instance
// answers: it writes the event keyed by the SKU, and the partition's owner
// (wherever it runs) decides in log order, so the last unit goes to one
// buyer without a lock; the answer is the hold result the fold published
// (holdwait.go).
//
// A retry carries the same hold_id and must get the same answer. The hold
// event's event_id is derived from the hold_id (holdEventID), so a retry
// writes the same event again, which the fold skips as a duplicate, and
// the answer is the decision already published for that event.

// HoldAPIConfig configures the checkout API. Start from
// DefaultHoldAPIConfig.
type HoldAPIConfig struct {
	// WaitTimeout bounds how long a request waits for its hold result;
	// past it the answer is 504 and the client retries with the same
	// hold_id. Default 5s.
	WaitTimeout time.Duration
	// Lookback is how far back (record time) the hold-results topic is
	// read when the API starts, so retries of holds decided just before
	// are answered from memory. Default 15m.
	Lookback time.Duration
	// MaxRecent caps the holds whose results are kept in memory (a few
	// hundred bytes each). Default 100,000.
	MaxRecent int
	// ResolveListing, when set, resolves a channel's listing_sku to its
	// SKU and pack size (units per listing unit) from the listings the
	// ledger applied; nil: a hold naming a listing_sku is refused (422).
	ResolveListing func(channel, listingSKU string) (sku string, units int64, ok bool)
}

// DefaultHoldAPIConfig returns a HoldAPIConfig with every default set.
func DefaultHoldAPIConfig() HoldAPIConfig {
	return HoldAPIConfig{WaitTimeout: 5 * time.Second, Lookback: 15 * time.Minute, MaxRecent: 100_000}
}

// problems reports c's problems through bad.
func (c *HoldAPIConfig) problems(bad func(field, f string, a ...any)) {
	if c.WaitTimeout <= 0 {
		bad("Holds.WaitTimeout", "%v must be positive", c.WaitTimeout)
	}
	if c.Lookback < 0 {
		bad("Holds.Lookback", "%v must not be negative", c.Lookback)
	}
	if c.MaxRecent < 1 {
		bad("Holds.MaxRecent", "%d must be at least 1", c.MaxRecent)
	}
}

// holdAPI is a processor's checkout API state: its watch, started by the
// first request, and its metrics.
type holdAPI struct {
	m  *holdMetrics
	mu struct {
		sync.Mutex
		w      *holdWatch
		closed bool
	}
}

// watch returns the processor's hold watch, starting it on first use. A
// start that fails is tried again by the next request.
func (p *Processor) holdWatch(ctx context.Context, cfg HoldAPIConfig) (*holdWatch, error) {
	h := &p.holds
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.mu.closed {
		return nil, errors.New("the processor is stopping")
	}
	if h.mu.w == nil {
		w, err := startHoldWatch(ctx, p, cfg)
		if err != nil {
			return nil, err
		}
		h.mu.w = w
	}
	return h.mu.w, nil
}

// close stops the watch, if started; later requests get 503.
func (h *holdAPI) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.mu.closed = true
	if h.mu.w != nil {
		h.mu.w.close()
	}
}

// holdMetrics count the checkout API's requests.
type holdMetrics struct {
	requests  *prometheus.CounterVec
	roundTrip *prometheus.HistogramVec
}

func newHoldMetrics(reg prometheus.Registerer) *holdMetrics {
	m := &holdMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stockledger_holds_requests_total",
			Help: "Checkout API requests (op hold or release), by outcome: a hold status, not_found, bad_request, unprocessable, conflict, timeout or error.",
		}, []string{"op", "outcome"}),
		roundTrip: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "stockledger_holds_round_trip_seconds",
			Help:    "From a checkout API request to its answer from the ledger (a hold result or a dead letter), by op.",
			Buckets: []float64{.002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"op"}),
	}
	reg.MustRegister(m.requests, m.roundTrip)
	return m
}

// holdAnswer is what a checkout request is answered: a hold result, or
// an error body.
type holdAnswer struct {
	code    int
	outcome string
	result  *ledger.HoldResult
	body    any
	ledger  bool // the answer came from the ledger (counts in the round trip)
}

func holdError(code int, outcome, msg string, extra ...any) holdAnswer {
	body := map[string]any{"error": msg}
	for i := 0; i+1 < len(extra); i += 2 {
		body[extra[i].(string)] = extra[i+1]
	}
	return holdAnswer{code: code, outcome: outcome, body: body}
}

// decided answers a hold's decision: 201 when it holds units, 409 when it
// does not (refused, expired, or already closed).
func decided(r *ledger.HoldResult) holdAnswer {
	code := http.StatusConflict
	if r.Status == ledger.HoldGranted || r.Status == ledger.HoldPartial {
		code = http.StatusCreated
	}
	return holdAnswer{code: code, outcome: r.Status.String(), result: r, ledger: true}
}

// write sends a and counts it.
func (h *holdAPI) write(w http.ResponseWriter, op string, start time.Time, a holdAnswer) {
	h.m.requests.WithLabelValues(op, a.outcome).Inc()
	if a.ledger {
		h.m.roundTrip.WithLabelValues(op).Observe(time.Since(start).Seconds())
	}
	if a.result == nil {
		writeJSON(w, a.code, a.body)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.code)
	_, _ = w.Write(append(schemas.AppendHoldResultJSON(nil, a.result), '\n'))
}

// registerHoldAPI adds the checkout API's routes to api.
func (p *Processor) registerHoldAPI(api *http.ServeMux, cfg HoldAPIConfig) {
	api.HandleFunc("POST /v1/holds", func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ev, bad := holdEvent(r.Body, cfg, start)
		if bad.code != 0 {
			p.holds.write(w, "hold", start, bad)
			return
		}
		p.holds.write(w, "hold", start, p.answer(r.Context(), cfg, func(ctx context.Context, hw *holdWatch) holdAnswer {
			return p.placeHold(ctx, hw, ev)
		}))
	})
	api.HandleFunc("DELETE /v1/holds/{sku}/{hold_id}", func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ev := releaseEvent(r.PathValue("sku"), r.PathValue("hold_id"), start)
		if reason, detail := ledger.Validate(ev); reason != ledger.ReasonNone {
			p.holds.write(w, "release", start, holdError(http.StatusBadRequest, "bad_request", detail))
			return
		}
		p.holds.write(w, "release", start, p.answer(r.Context(), cfg, func(ctx context.Context, hw *holdWatch) holdAnswer {
			return p.releaseHold(ctx, hw, ev)
		}))
	})
}

// answer runs do with the watch and the wait bounded by cfg.WaitTimeout.
func (p *Processor) answer(ctx context.Context, cfg HoldAPIConfig, do func(context.Context, *holdWatch) holdAnswer) holdAnswer {
	ctx, cancel := context.WithTimeout(ctx, cfg.WaitTimeout)
	defer cancel()
	hw, err := p.holdWatch(ctx, cfg)
	if err != nil {
		return holdError(http.StatusServiceUnavailable, "error", err.Error())
	}
	return do(ctx, hw)
}

// waitFailed answers a wait that ended without a result.
func waitFailed(err error, timeout string) holdAnswer {
	if errors.Is(err, context.DeadlineExceeded) {
		return holdError(http.StatusGatewayTimeout, "timeout", "no hold result in "+timeout+"; retry with the same hold_id")
	}
	return holdError(http.StatusServiceUnavailable, "error", err.Error())
}

// placeHold writes hold event ev and answers with its decision.
func (p *Processor) placeHold(ctx context.Context, hw *holdWatch, ev *ledger.Event) holdAnswer {
	wt, seen := hw.register(ev.SKU, ev.HoldID, ev.ID)
	defer hw.unregister(wt)
	if r := causedBy(seen, ev.ID); r != nil {
		return decided(r) // a retry of a hold already decided
	}
	part, off, err := hw.write(ctx, p.framing, ev)
	if err != nil {
		return waitFailed(err, "")
	}
	for {
		note, err := hw.await(ctx, wt, part, off)
		switch {
		case err != nil:
			return waitFailed(err, deadlineText(ctx))
		case note.result != nil:
			if note.result.CauseEventID == ev.ID {
				return decided(note.result)
			}
		case note.dead != nil && note.dead.Reason == ledger.ReasonHoldExists:
			// The hold_id was used by an event of another id (another
			// writer, or our id forgotten): its decision stands.
			return p.pastDecision(ctx, hw, wt.key, ev.ID)
		case note.dead != nil:
			return holdError(http.StatusBadRequest, "bad_request", note.dead.Detail, "reason", note.dead.Reason.String())
		default:
			// Folded and nothing published: a retry of a hold decided
			// before the watch started.
			return p.pastDecision(ctx, hw, wt.key, ev.ID)
		}
	}
}

// pastDecision answers a hold decided earlier: its decision if still
// known, else its last result.
func (p *Processor) pastDecision(ctx context.Context, hw *holdWatch, key, eventID string) holdAnswer {
	rs, err := hw.pastResults(ctx, key)
	if err != nil {
		return waitFailed(err, deadlineText(ctx))
	}
	if r := causedBy(rs, eventID); r != nil {
		return decided(r)
	}
	if len(rs) > 0 {
		return decided(&rs[len(rs)-1])
	}
	return holdError(http.StatusConflict, "conflict", "hold_id "+key[strings.IndexByte(key, '/')+1:]+
		" is already used for this SKU and its result is no longer on the hold-results topic")
}

// releaseHold writes hold_released event ev and answers with the hold's
// closing result: released by it, or the status the hold was already
// closed with; 404 for a hold the SKU does not know.
func (p *Processor) releaseHold(ctx context.Context, hw *holdWatch, ev *ledger.Event) holdAnswer {
	wt, seen := hw.register(ev.SKU, ev.HoldID, ev.ID)
	defer hw.unregister(wt)
	if r := lastClosed(seen); r != nil {
		return holdAnswer{code: http.StatusOK, outcome: r.Status.String(), result: r, ledger: true}
	}
	part, off, err := hw.write(ctx, p.framing, ev)
	if err != nil {
		return waitFailed(err, "")
	}
	for {
		note, err := hw.await(ctx, wt, part, off)
		switch {
		case err != nil:
			return waitFailed(err, deadlineText(ctx))
		case note.result != nil:
			if closedStatus(note.result.Status) {
				return holdAnswer{code: http.StatusOK, outcome: note.result.Status.String(), result: note.result, ledger: true}
			}
		case note.dead != nil && note.dead.Reason == ledger.ReasonUnknownHold:
			a := holdError(http.StatusNotFound, "not_found", note.dead.Detail, "sku", ev.SKU, "hold_id", ev.HoldID)
			a.ledger = true
			return a
		case note.dead != nil:
			return holdError(http.StatusBadRequest, "bad_request", note.dead.Detail, "reason", note.dead.Reason.String())
		default:
			// Applied and nothing published: the hold was closed before
			// the watch started.
			rs, err := hw.pastResults(ctx, wt.key)
			if err != nil {
				return waitFailed(err, deadlineText(ctx))
			}
			if r := lastClosed(rs); r != nil {
				return holdAnswer{code: http.StatusOK, outcome: r.Status.String(), result: r, ledger: true}
			}
			return holdError(http.StatusConflict, "conflict", "hold_id "+ev.HoldID+" is closed and its result is no longer on the hold-results topic")
		}
	}
}

// pastResults returns key's results: those the watch saw, else those in
// its partition of the hold-results topic.
func (w *holdWatch) pastResults(ctx context.Context, key string) ([]ledger.HoldResult, error) {
	if rs := w.recent(key); len(rs) > 0 {
		return rs, nil
	}
	return w.scan(ctx, key)
}

// await returns the next note for wt, or the zero note once the group
// has folded the event at part/off and the watch has read every output of
// it (nothing was published for wt).
func (w *holdWatch) await(ctx context.Context, wt *holdWaiter, part int32, off int64) (holdNote, error) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case note := <-wt.ch:
			return note, nil
		case <-ctx.Done():
			return holdNote{}, ctx.Err()
		case <-tick.C:
		}
		done, err := w.folded(ctx, part, off)
		if err != nil {
			return holdNote{}, err
		}
		if !done {
			continue
		}
		if err := w.catchUp(ctx, wt.sku, wt.key); err != nil {
			return holdNote{}, err
		}
		select {
		case note := <-wt.ch:
			return note, nil
		default:
			return holdNote{}, nil
		}
	}
}

func deadlineText(ctx context.Context) string {
	if d, ok := ctx.Deadline(); ok {
		return time.Until(d).Round(time.Millisecond).String() + " more"
	}
	return "time"
}

// causedBy returns the result of rs that eventID caused, if any.
func causedBy(rs []ledger.HoldResult, eventID string) *ledger.HoldResult {
	for i := range rs {
		if rs[i].CauseEventID == eventID {
			return &rs[i]
		}
	}
	return nil
}

// lastClosed returns the last result of rs when it closed the hold.
func lastClosed(rs []ledger.HoldResult) *ledger.HoldResult {
	if len(rs) == 0 || !closedStatus(rs[len(rs)-1].Status) {
		return nil
	}
	return &rs[len(rs)-1]
}

// closedStatus reports whether a hold with status s reserves nothing
// any more (and never will again).
func closedStatus(s ledger.HoldStatus) bool {
	return s != ledger.HoldGranted && s != ledger.HoldPartial
}

// holdEventID is the event_id of the hold event of holdID: derived from
// it, so a retry is the same event. A hold_id too long to fit is hashed.
func holdEventID(holdID string) string {
	if len("hold/")+len(holdID) <= ledger.MaxEventIDBytes {
		return "hold/" + holdID
	}
	sum := sha256.Sum256([]byte(holdID))
	return "hold/#" + hex.EncodeToString(sum[:])
}

// randomID is 16 random bytes in hex.
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// releaseEvent is the hold_released event of sku's hold holdID at now.
// Its event_id is new each time: releasing a closed hold changes nothing,
// so a repeated release needs no de-duplication.
func releaseEvent(sku, holdID string, now time.Time) *ledger.Event {
	return &ledger.Event{ID: "release/" + randomID(), Type: ledger.TypeHoldReleased, SKU: sku, HoldID: holdID,
		OccurredAt: now.UnixMicro(),
		Has:        ledger.FieldEventID | ledger.FieldType | ledger.FieldSKU | ledger.FieldOccurredAt | ledger.FieldHoldID}
}

// HoldRequestJSON is the body of POST /v1/holds.
type HoldRequestJSON struct {
	SKU          string `json:"sku,omitempty"`
	ListingSKU   string `json:"listing_sku,omitempty"`
	Channel      string `json:"channel"`
	Qty          *int64 `json:"qty"`
	TTL          string `json:"ttl,omitempty"`
	ExpiresAt    string `json:"expires_at,omitempty"`
	Location     string `json:"location,omitempty"`
	AllowPartial bool   `json:"allow_partial,omitempty"`
	HoldID       string `json:"hold_id,omitempty"`
}

// holdEvent reads a POST /v1/holds body into its hold event at now, or
// the 400 (422) answer naming what is wrong.
func holdEvent(body io.Reader, cfg HoldAPIConfig, now time.Time) (*ledger.Event, holdAnswer) {
	var req HoldRequestJSON
	if a, ok := decodeHoldRequest(body, &req); !ok {
		return nil, a
	}
	bad := func(f string, a ...any) (*ledger.Event, holdAnswer) {
		return nil, holdError(http.StatusBadRequest, "bad_request", fmt.Sprintf(f, a...))
	}
	if req.Qty == nil {
		return bad("missing qty")
	}
	if req.HoldID == "" {
		req.HoldID = "h-" + randomID()
	}
	ev := &ledger.Event{ID: holdEventID(req.HoldID), Type: ledger.TypeHold, SKU: req.SKU, Channel: req.Channel,
		Qty: ledger.Qty(*req.Qty), HoldID: req.HoldID, OccurredAt: now.UnixMicro(), AllowPartial: req.AllowPartial,
		Has: ledger.FieldEventID | ledger.FieldType | ledger.FieldOccurredAt | ledger.FieldQty | ledger.FieldHoldID |
			ledger.FieldExpiresAt | ledger.FieldAllowPartial}
	// Absent, not empty: the ledger's check then says "missing sku".
	for _, f := range []struct {
		v string
		f ledger.Field
	}{{req.SKU, ledger.FieldSKU}, {req.Channel, ledger.FieldChannel}} {
		if f.v != "" {
			ev.Has |= f.f
		}
	}
	if req.Location != "" {
		ev.Location, ev.Has = req.Location, ev.Has|ledger.FieldLocation
	}
	if a, ok := holdExpiry(&req, ev, now); !ok {
		return nil, a
	}
	if a, ok := resolveListing(&req, ev, cfg); !ok {
		return nil, a
	}
	if reason, detail := ledger.Validate(ev); reason != ledger.ReasonNone {
		return bad("%s", detail)
	}
	return ev, holdAnswer{}
}

// decodeHoldRequest decodes the body strictly: unknown fields and
// mistyped values are refused, naming the field.
func decodeHoldRequest(body io.Reader, req *HoldRequestJSON) (holdAnswer, bool) {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(req)
	if err == nil && dec.More() {
		err = errors.New("more than one JSON value in the body")
	}
	var te *json.UnmarshalTypeError
	var mb *http.MaxBytesError
	switch {
	case err == nil:
		return holdAnswer{}, true
	case errors.As(err, &mb):
		return holdError(http.StatusRequestEntityTooLarge, "bad_request", fmt.Sprintf("request body over %d bytes", mb.Limit)), false
	case errors.As(err, &te):
		return holdError(http.StatusBadRequest, "bad_request", fmt.Sprintf("%s: want a JSON %s, got %s", te.Field, te.Type, te.Value), "field", te.Field), false
	case errors.Is(err, io.EOF):
		return holdError(http.StatusBadRequest, "bad_request", "empty body: want a JSON object with sku, channel, qty and ttl or expires_at"), false
	}
	return holdError(http.StatusBadRequest, "bad_request", "invalid JSON body: "+strings.TrimPrefix(err.Error(), "json: ")), false
}

// holdExpiry sets ev's expires_at from the request's ttl or expires_at:
// after now, at most 7 days after it.
func holdExpiry(req *HoldRequestJSON, ev *ledger.Event, now time.Time) (holdAnswer, bool) {
	bad := func(field, f string, a ...any) (holdAnswer, bool) {
		return holdError(http.StatusBadRequest, "bad_request", field+": "+fmt.Sprintf(f, a...), "field", field), false
	}
	var at time.Time
	switch {
	case req.TTL != "" && req.ExpiresAt != "":
		return bad("ttl", "give ttl or expires_at, not both")
	case req.TTL != "":
		d, err := time.ParseDuration(req.TTL)
		if err != nil || d <= 0 {
			return bad("ttl", "%q is not a positive duration (like 15m)", req.TTL)
		}
		at = now.Add(d)
	case req.ExpiresAt != "":
		t, err := time.Parse(time.RFC3339Nano, req.ExpiresAt)
		if err != nil {
			return bad("expires_at", "%q is not an RFC 3339 time", req.ExpiresAt)
		}
		at = t
	default:
		return bad("ttl", "missing ttl or expires_at")
	}
	field := "ttl"
	if req.TTL == "" {
		field = "expires_at"
	}
	if !at.After(now) || at.Sub(now) > 7*24*time.Hour {
		return bad(field, "the hold must expire after now and at most 7 days from now")
	}
	ev.ExpiresAt = at.UnixMicro()
	return holdAnswer{}, true
}

// resolveListing makes a hold naming a channel's listing_sku a hold of
// its SKU, qty in the SKU's units, through cfg.ResolveListing.
func resolveListing(req *HoldRequestJSON, ev *ledger.Event, cfg HoldAPIConfig) (holdAnswer, bool) {
	switch {
	case req.ListingSKU == "":
		return holdAnswer{}, true
	case req.SKU != "":
		return holdError(http.StatusBadRequest, "bad_request", "give sku or listing_sku, not both", "field", "listing_sku"), false
	case cfg.ResolveListing == nil:
		return holdError(http.StatusUnprocessableEntity, "unprocessable", "listing resolution not available"), false
	}
	sku, units, ok := cfg.ResolveListing(ev.Channel, req.ListingSKU)
	if !ok {
		return holdError(http.StatusUnprocessableEntity, "unprocessable",
			fmt.Sprintf("listing_sku %q is not an active listing of channel %q", req.ListingSKU, ev.Channel)), false
	}
	if units < 1 || int64(ev.Qty) > int64(ledger.MaxEventQty)/units {
		return holdError(http.StatusBadRequest, "bad_request", fmt.Sprintf("qty %d times the listing's %d units is out of range", ev.Qty, units), "field", "qty"), false
	}
	ev.SKU, ev.Qty, ev.ListingSKU = sku, ev.Qty*ledger.Qty(units), req.ListingSKU
	ev.Has |= ledger.FieldListingSKU
	return holdAnswer{}, true
}
