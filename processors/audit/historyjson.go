package audit

import (
	"context"
	"encoding/json"
	"time"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/schemas"
)

// RowJSON is a history row as JSON: `history --format jsonl` prints one
// per line, GET /v1/skus/{sku}/history answers a list of them.
type RowJSON struct {
	Partition  int32                     `json:"partition"`
	Offset     int64                     `json:"offset"`
	AppendedAt string                    `json:"appended_at"`
	EventID    string                    `json:"event_id"`
	Type       string                    `json:"type"`
	OccurredAt string                    `json:"occurred_at,omitempty"`
	Outcome    string                    `json:"outcome"`
	Reason     string                    `json:"reason,omitempty"`
	Detail     string                    `json:"detail,omitempty"`
	Version    uint64                    `json:"version"`
	Unassigned ledger.Qty                `json:"unassigned"`
	Locations  []processors.LocationJSON `json:"locations"`
	Channels   map[string]int64          `json:"channels"`
	Alerts     []json.RawMessage         `json:"alerts"`
	Updates    []json.RawMessage         `json:"updates"`
	// HoldResults: the hold results the event published (a hold's
	// decision; a release, conversion, or a clock's expiries).
	HoldResults []json.RawMessage `json:"hold_results"`
	Event       json.RawMessage   `json:"event,omitempty"`
}

// NewRowJSON renders r.
func NewRowJSON(r *HistoryRow) RowJSON {
	j := RowJSON{
		Partition: r.Partition, Offset: r.Offset, AppendedAt: r.AppendedAt.UTC().Format(time.RFC3339Nano),
		EventID: r.Event.ID, Type: r.TypeName(), OccurredAt: r.OccurredText(), Outcome: r.Outcome.String(),
		Version: r.Version, Unassigned: r.Unassigned, Locations: []processors.LocationJSON{}, Channels: map[string]int64{},
		Alerts: []json.RawMessage{}, Updates: []json.RawMessage{}, HoldResults: []json.RawMessage{},
	}
	if r.Outcome == ledger.Refused {
		j.Reason, j.Detail = r.Reason.String(), r.Detail
	}
	for _, l := range r.Locations {
		j.Locations = append(j.Locations, processors.LocationJSON(l))
	}
	for _, c := range r.Channels {
		j.Channels[c.Channel] = int64(c.ATS)
	}
	for k := range r.Alerts {
		j.Alerts = append(j.Alerts, schemas.AppendAlertJSON(nil, &r.Alerts[k]))
	}
	for k := range r.Updates {
		j.Updates = append(j.Updates, schemas.AppendUpdateJSON(nil, &r.Updates[k]))
	}
	for k := range r.HoldResults {
		j.HoldResults = append(j.HoldResults, schemas.AppendHoldResultJSON(nil, &r.HoldResults[k]))
	}
	if r.Event.Type != ledger.TypeUnknown {
		j.Event = schemas.AppendEventJSON(nil, &r.Event)
	}
	return j
}

// TypeName is the row's event type ("" when it could not be read).
func (r *HistoryRow) TypeName() string {
	if r.Event.Type == ledger.TypeUnknown {
		return ""
	}
	return r.Event.Type.String()
}

// OccurredText is the event's occurred_at in RFC 3339 ("" without one).
func (r *HistoryRow) OccurredText() string {
	if r.Event.Has&ledger.FieldOccurredAt == 0 {
		return ""
	}
	return time.UnixMicro(r.Event.OccurredAt).UTC().Format(time.RFC3339Nano)
}

// HistoryFunc returns the history reader of GET /v1/skus/{sku}/history:
// History with cfg, its rows as RowJSON.
func HistoryFunc(cfg Config) processors.HistoryFunc {
	return func(ctx context.Context, sku string, since, until time.Time) (any, error) {
		res, err := History(ctx, cfg, HistoryOptions{SKU: sku, Since: since, Until: until})
		if err != nil {
			return nil, err
		}
		rows := make([]RowJSON, len(res.Rows))
		for i := range res.Rows {
			rows[i] = NewRowJSON(&res.Rows[i])
		}
		return rows, nil
	}
}
