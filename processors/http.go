package processors

import (
	"encoding/json"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stockledger/stockledger/ledger"
)

// LocationJSON is one location of a SKU in GET /v1/skus/{sku}.
type LocationJSON struct {
	Location    string     `json:"location"`
	OnHand      ledger.Qty `json:"on_hand"`
	Reserved    ledger.Qty `json:"reserved"`
	Unavailable ledger.Qty `json:"unavailable"`
	Incoming    ledger.Qty `json:"incoming"`
	SafetyStock ledger.Qty `json:"safety_stock"`
	Available   ledger.Qty `json:"available"`
}

// SKUJSON is the body of GET /v1/skus/{sku}.
type SKUJSON struct {
	SKU                 string                `json:"sku"`
	Partition           int32                 `json:"partition"`
	Version             uint64                `json:"version"`
	Unassigned          ledger.Qty            `json:"unassigned"`
	UnassignedByChannel map[string]ledger.Qty `json:"unassigned_by_channel"`
	ReorderPoint        *ledger.Qty           `json:"reorder_point"`
	LeadTimeDays        *int64                `json:"lead_time_days"`
	Locations           []LocationJSON        `json:"locations"`
	Channels            map[string]ledger.Qty `json:"channels"`
	Listings            []ListingJSON         `json:"listings"`
	OpenHolds           []OpenHoldJSON        `json:"open_holds"`
	OpenOrders          []OpenOrderJSON       `json:"open_orders"`
}

// ListingJSON is one of a SKU's listings in GET /v1/skus/{sku}.
type ListingJSON struct {
	Channel    string     `json:"channel"`
	ListingSKU string     `json:"listing_sku"`
	Units      ledger.Qty `json:"units"`
	Available  ledger.Qty `json:"available"` // as last published
}

// OpenHoldJSON is one of a SKU's open holds in GET /v1/skus/{sku}.
type OpenHoldJSON struct {
	HoldID    string     `json:"hold_id"`
	Channel   string     `json:"channel"`
	Location  *string    `json:"location"`
	Granted   ledger.Qty `json:"granted"`
	ExpiresAt time.Time  `json:"expires_at"`
}

// OpenOrderJSON is one of a SKU's open orders in GET /v1/skus/{sku}: an
// order with units still reserved.
type OpenOrderJSON struct {
	OrderID  string     `json:"order_id"`
	Channel  string     `json:"channel"`
	Location *string    `json:"location"`
	Open     ledger.Qty `json:"open"`
}

// NewSKUJSON renders s (in partition part) for the API.
func NewSKUJSON(s *ledger.SKU, part int32) SKUJSON {
	out := SKUJSON{SKU: s.Name, Partition: part, Version: s.Version, Unassigned: s.Unassigned,
		Locations: []LocationJSON{}, Channels: map[string]ledger.Qty{}}
	if s.HasReorder {
		rp := s.ReorderPoint
		out.ReorderPoint = &rp
	}
	for i := range s.Locations {
		l := &s.Locations[i]
		if !l.Named {
			continue
		}
		out.Locations = append(out.Locations, LocationJSON{l.Code, l.OnHand, l.Reserved, l.Unavailable, l.Incoming, l.SafetyStock, l.Available()})
	}
	for _, c := range s.Published {
		out.Channels[c.Channel] = c.ATS
	}
	addPart2JSON(&out, s)
	return out
}

// addPart2JSON adds what part 2 keeps of s: unassigned units by channel,
// the lead time, listings, open holds (by hold id) and open orders (by
// order id).
func addPart2JSON(out *SKUJSON, s *ledger.SKU) {
	out.UnassignedByChannel = map[string]ledger.Qty{}
	for _, u := range s.UnassignedBy {
		out.UnassignedByChannel[u.Channel] = u.Qty
	}
	if s.LeadTimeDays > 0 {
		lt := s.LeadTimeDays
		out.LeadTimeDays = &lt
	}
	out.Listings, out.OpenHolds = []ListingJSON{}, []OpenHoldJSON{}
	for _, l := range s.Listings {
		if !l.Gone {
			out.Listings = append(out.Listings, ListingJSON{l.Channel, l.ListingSKU, l.Units, l.Published})
		}
	}
	for _, id := range slices.Sorted(maps.Keys(s.Holds)) {
		h := s.Holds[id]
		if h.Closed {
			continue
		}
		var loc *string
		if h.Location != "" {
			loc = &h.Location
		}
		out.OpenHolds = append(out.OpenHolds, OpenHoldJSON{id, h.Channel, loc, h.Granted, time.UnixMicro(h.ExpiresAt).UTC()})
	}
	out.OpenOrders = []OpenOrderJSON{}
	for _, id := range slices.Sorted(maps.Keys(s.Orders)) {
		o := s.Orders[id]
		if o.Open <= 0 {
			continue // shipped or cancelled: kept only until pruned
		}
		var loc *string
		if o.Location != "" {
			loc = &o.Location
		}
		out.OpenOrders = append(out.OpenOrders, OpenOrderJSON{id, o.Channel, loc, o.Open})
	}
}

// Handler serves the HTTP API with DefaultHTTPConfig's limits and no token.
func (p *Processor) Handler(gatherer prometheus.Gatherer) http.Handler {
	return p.HTTPHandler(gatherer, DefaultHTTPConfig())
}

// HTTPHandler serves the HTTP API: GET /v1/skus/{sku}, /v1/status, POST
// /v1/checkpoint, the checkout API (POST /v1/holds, DELETE
// /v1/holds/{sku}/{hold_id}: holdapi.go), POST /v1/events (ingest,
// ingesthttp.go), /v1/openapi.yaml, /metrics,
// /healthz and /readyz. With
// cfg.Token, every /v1/ request must carry it as a bearer token; the
// probes and /metrics stay open (see HTTPConfig). Requests to /v1/ beyond
// cfg.MaxConcurrent at once are refused (503), and bodies over
// cfg.MaxBodyBytes (413).
func (p *Processor) HTTPHandler(gatherer prometheus.Gatherer, cfg HTTPConfig) http.Handler {
	api := http.NewServeMux()
	mux := http.NewServeMux()
	api.HandleFunc("GET /v1/skus/{sku}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("sku")
		if !ledger.ValidCode(name, ledger.MaxSKUBytes) {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid SKU code"})
			return
		}
		part := p.PartitionOf(name)
		if !p.Owns(part) {
			owner := p.Owner(r.Context(), part)
			body := map[string]any{"error": "this instance does not own the SKU's partition", "sku": name, "partition": part, "owner": owner}
			if owner != "" {
				w.Header().Set("Location", "http://"+owner+r.URL.Path)
			}
			writeJSON(w, http.StatusMisdirectedRequest, body)
			return
		}
		s, found, err := p.SKU(name)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		if !found {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown SKU", "sku": name})
			return
		}
		writeJSON(w, http.StatusOK, NewSKUJSON(&s, part))
	})
	api.HandleFunc("GET /v1/skus", p.serveSKUList)
	api.HandleFunc("GET /v1/skus/{sku}/history", serveSKUHistory(cfg.History))
	api.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		st := p.Status()
		if st.Partitions == nil {
			st.Partitions = []PartitionStatus{}
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"ready": st.Ready, "group": st.Group, "topic": st.Topic,
			"topic_partitions": st.TopicPartitions, "partitions": st.Partitions, "lag": st.GroupLag, "owned_lag": st.OwnedLag,
		})
	})
	api.HandleFunc("POST /v1/checkpoint", p.serveCheckpoint(cfg))
	p.registerHoldAPI(api, cfg.Holds)
	api.HandleFunc("POST /v1/events", p.serveIngest(cfg.Ingest))
	api.HandleFunc("GET /v1/openapi.yaml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(OpenAPI)
	})
	api.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such path or method: " + r.Method + " " + r.URL.Path})
	})
	mux.Handle("/v1/", guard(api, cfg))
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !p.Ready() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	return http.TimeoutHandler(mux, cfg.HandlerTimeout, `{"error":"timeout"}`)
}

// serveCheckpoint serves POST /v1/checkpoint: a consistent copy of the
// store for `stockledger verify` while the processor runs (Pebble lets one
// process open a store), in DATA/checkpoints beside the store. The caller
// removes it when done; later requests remove it anyway once it is not
// among the newest and not open (store.NewCheckpoint). A checkpoint takes
// disk space, so without a token only this machine may ask for one
// (verify opens the path, so it runs here anyway).
func (p *Processor) serveCheckpoint(cfg HTTPConfig) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if cfg.Token == "" && !fromLoopback(r) {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "a checkpoint takes disk space on this instance: " +
				"without an HTTP token (--http-token) only loopback clients may make one; configure a token to allow other hosts"})
			return
		}
		// Absolute, so the path handed out names the directory the next
		// request checks for readers.
		parent, err := filepath.Abs(filepath.Join(filepath.Dir(p.store.Dir()), "checkpoints"))
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		dir, err := p.store.NewCheckpoint(parent)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"path": dir})
	}
}

// fromLoopback reports whether r came from this machine's loopback
// interface.
func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
