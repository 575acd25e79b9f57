package console

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/processors"
)

// The history page: a SKU's events as the ledger folded them, with each
// channel's available after each, as a chart over event time and a table.
// It reads what GET /v1/skus/{sku}/history reads (HTTPConfig.History: a
// fold of the SKU's partition from its start), rendered on the server;
// the script draws the chart from the points the page carries.

// historyRow is the part of a history row (audit.RowJSON) the page shows.
// HistoryFunc hands rows over as JSON values, so they are read back
// through their JSON form.
type historyRow struct {
	Offset     int64                     `json:"offset"`
	AppendedAt string                    `json:"appended_at"`
	EventID    string                    `json:"event_id"`
	Type       string                    `json:"type"`
	OccurredAt string                    `json:"occurred_at"`
	Outcome    string                    `json:"outcome"`
	Reason     string                    `json:"reason"`
	Detail     string                    `json:"detail"`
	Version    uint64                    `json:"version"`
	Locations  []processors.LocationJSON `json:"locations"`
	Channels   map[string]int64          `json:"channels"`
	Event      struct {
		Qty      *int64 `json:"qty"`
		Location string `json:"location"`
		Channel  string `json:"channel"`
	} `json:"event"`
	OnHand ledger.Qty `json:"-"`
}

// What says what the event did in a few words: "5 at dc-east (web)".
func (h *historyRow) What() string {
	var parts []string
	if h.Event.Qty != nil {
		parts = append(parts, qty(*h.Event.Qty))
	}
	if h.Event.Location != "" {
		parts = append(parts, "at "+h.Event.Location)
	}
	if h.Event.Channel != "" {
		parts = append(parts, "("+h.Event.Channel+")")
	}
	return strings.Join(parts, " ")
}

// When is the event's time, as the table shows it ("" when the event
// could not be read).
func (h *historyRow) When() string {
	t, err := time.Parse(time.RFC3339Nano, h.OccurredAt)
	if err != nil {
		return h.OccurredAt
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

// Channel is the channel's available after the event, "—" when the SKU
// had no such channel then.
func (h *historyRow) Channel(name string) string {
	v, ok := h.Channels[name]
	if !ok {
		return "—"
	}
	return qty(v)
}

// chartPoint is one point of each channel's line: the channels' available
// after the event that occurred at T.
type chartPoint struct {
	T      time.Time        `json:"t"`
	Offset int64            `json:"offset"`
	Type   string           `json:"type"`
	V      map[string]int64 `json:"v"`
}

// historyPage is what the history template shows.
type historyPage struct {
	page
	SKU      string
	Since    string // the range chosen: "", "1h", "24h", "7d"
	Ranges   []string
	Rows     []historyRow // newest first
	Total    int          // rows in the range, before HistoryRows cut them
	Channels []string
	Chart    struct {
		Channels []string     `json:"channels"`
		Points   []chartPoint `json:"points"`
	}
}

// historyRanges are the ranges the page offers, by record time.
var historyRanges = map[string]time.Duration{"1h": time.Hour, "24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour}

// serveHistory serves GET /skus/{sku}/history?since=1h|24h|7d.
func (c *Console) serveHistory(w http.ResponseWriter, r *http.Request) {
	s, ok := c.lookUp(w, r)
	if !ok {
		return
	}
	out := historyPage{page: c.newPage(r, s.SKU+": history"), SKU: s.SKU, Since: r.URL.Query().Get("since"), Ranges: []string{"1h", "24h", "7d"}}
	var since time.Time
	if out.Since != "" {
		d, ok := historyRanges[out.Since]
		if !ok {
			c.fail(w, r, http.StatusBadRequest, "Unknown range", fmt.Sprintf("since=%s: the history page shows 1h, 24h, 7d or everything (no since).", quote(out.Since)))
			return
		}
		since = time.Now().Add(-d)
	}
	if c.cfg.History == nil {
		c.fail(w, r, http.StatusNotImplemented, "No history here", "This server reads no history (HTTPConfig.History is not set).")
		return
	}
	rows, err := c.readHistory(r, s.SKU, since)
	if err != nil {
		c.fail(w, r, http.StatusServiceUnavailable, "History unreadable", "Reading the events topic: "+err.Error())
		return
	}
	out.Total = len(rows)
	rows = rows[max(0, len(rows)-c.cfg.HistoryRows):]
	out.Channels, out.Chart.Points = chart(rows)
	out.Chart.Channels = out.Channels
	slices.Reverse(rows)
	out.Rows = rows
	c.render(w, r, http.StatusOK, "history", out)
}

// readHistory reads the SKU's history rows appended since since (zero:
// all), in topic order.
func (c *Console) readHistory(r *http.Request, sku string, since time.Time) ([]historyRow, error) {
	v, err := c.cfg.History(r.Context(), sku, since, time.Time{})
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding the history rows: %w", err)
	}
	var rows []historyRow
	if err := json.Unmarshal(b, &rows); err != nil {
		return nil, fmt.Errorf("reading the history rows: %w", err)
	}
	for i := range rows {
		for _, l := range rows[i].Locations {
			rows[i].OnHand += l.OnHand
		}
	}
	return rows, nil
}

// chart returns the channels the rows name and the chart's points: one
// per row with an event time, ordered by it (events may arrive out of
// event-time order; the chart's x axis is event time).
func chart(rows []historyRow) ([]string, []chartPoint) {
	seen := map[string]bool{}
	points := []chartPoint{}
	for _, h := range rows {
		for ch := range h.Channels {
			seen[ch] = true
		}
		t, err := time.Parse(time.RFC3339Nano, h.OccurredAt)
		if err == nil { // "" for an event that could not be read
			points = append(points, chartPoint{T: t, Offset: h.Offset, Type: h.Type, V: h.Channels})
		}
	}
	slices.SortStableFunc(points, func(a, b chartPoint) int { return a.T.Compare(b.T) })
	return slices.Sorted(maps.Keys(seen)), points
}
