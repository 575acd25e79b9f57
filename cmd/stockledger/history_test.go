package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/processors/audit"
)

// TestHistoryShowsHoldResults: a clock event's row shows the hold results
// it published (an expiry) in every format: jsonl's hold_results, the
// table's notes, csv's hold_results column.
func TestHistoryShowsHoldResults(t *testing.T) {
	at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	row := audit.HistoryRow{
		Partition: 2, Offset: 41, AppendedAt: at,
		Event:   ledger.Event{ID: "clock/2/1795773600000", Type: ledger.TypeClock, OccurredAt: at.UnixMicro(), Has: ledger.FieldEventID | ledger.FieldType | ledger.FieldOccurredAt},
		Outcome: ledger.Applied, Version: 4,
		HoldResults: []ledger.HoldResult{{HoldID: "cart-7", SKU: "TEE-RED-M", Channel: "web", Status: ledger.HoldExpired,
			Requested: 3, Granted: 0, Available: 12, ExpiresAt: at.Add(-time.Second).UnixMicro(), Version: 4,
			CauseEventID: "clock/2/1795773600000", OccurredAt: at.UnixMicro()}},
	}
	rows := []audit.HistoryRow{row}

	var jb bytes.Buffer
	if err := writeHistoryJSONL(&jb, rows); err != nil {
		t.Fatal(err)
	}
	var j struct {
		Type        string `json:"type"`
		Offset      int64  `json:"offset"`
		HoldResults []struct {
			HoldID       string `json:"hold_id"`
			Status       string `json:"status"`
			Granted      int64  `json:"granted"`
			CauseEventID string `json:"cause_event_id"`
		} `json:"hold_results"`
	}
	if err := json.Unmarshal(jb.Bytes(), &j); err != nil {
		t.Fatalf("%v: %s", err, jb.Bytes())
	}
	if j.Type != "clock" || j.Offset != 41 || len(j.HoldResults) != 1 || j.HoldResults[0].HoldID != "cart-7" ||
		j.HoldResults[0].Status != "expired" || j.HoldResults[0].Granted != 0 || j.HoldResults[0].CauseEventID != "clock/2/1795773600000" {
		t.Errorf("jsonl: %s", jb.Bytes())
	}

	var tb bytes.Buffer
	if err := writeHistoryTable(&tb, rows); err != nil {
		t.Fatal(err)
	}
	if want := "hold cart-7 expired(web, requested 3, granted 0, available 12)"; !strings.Contains(tb.String(), want) {
		t.Errorf("table lacks %q:\n%s", want, tb.String())
	}

	var cb bytes.Buffer
	if err := writeHistoryCSV(&cb, rows); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&cb).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	head, rec := recs[0], recs[1]
	if head[len(head)-1] != "hold_results" || !strings.Contains(rec[len(rec)-1], `"hold_id":"cart-7"`) || !strings.Contains(rec[len(rec)-1], `"status":"expired"`) {
		t.Errorf("csv: %v / %v", head, rec)
	}
}
