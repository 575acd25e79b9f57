package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/processors/audit"
	"github.com/stockledger/stockledger/schemas"
)

func historyCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("history", "history SKU [--since T] [--until T] [--format table|jsonl|csv] [--brokers a,b] [--topic-prefix P]", stderr)
	af := addAuditFlags(fs)
	since := fs.String("since", "", "show events appended to Kafka at or after this time (RFC 3339; the fold still starts at the beginning)")
	until := fs.String("until", "", "show events appended to Kafka at or before this time (RFC 3339), and stop there")
	format := fs.String("format", "table", "output: table (for people), jsonl (one object per event) or csv (one row per event, a column per location quantity and channel)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return exitError{2, fmt.Errorf("history: want one SKU, got %d arguments", len(pos))}
	}
	opts := audit.HistoryOptions{SKU: pos[0]}
	if *since != "" {
		if opts.Since, err = parseTime(*since); err != nil {
			return exitError{2, fmt.Errorf("--since: %w", err)}
		}
	}
	if *until != "" {
		if opts.Until, err = parseTime(*until); err != nil {
			return exitError{2, fmt.Errorf("--until: %w", err)}
		}
	}
	write := map[string]func(io.Writer, []audit.HistoryRow) error{"table": writeHistoryTable, "jsonl": writeHistoryJSONL, "csv": writeHistoryCSV}[*format]
	if write == nil {
		return exitError{2, fmt.Errorf("--format %q: want table, jsonl or csv", *format)}
	}
	cfg, err := af.config(ctx)
	if err != nil {
		return err
	}
	res, err := audit.History(ctx, cfg, opts)
	if err != nil {
		return explainKafkaErr(err)
	}
	w := bufio.NewWriter(stdout)
	if err := write(w, res.Rows); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if len(res.Rows) == 0 {
		fmt.Fprintf(stderr, "history: no event of %s in partition %d (offsets below %d)\n", opts.SKU, res.Partition, res.Next)
	}
	return nil
}

func writeHistoryJSONL(w io.Writer, rows []audit.HistoryRow) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for i := range rows {
		if err := enc.Encode(audit.NewRowJSON(&rows[i])); err != nil {
			return err
		}
	}
	return nil
}

// historyColumns are the locations and channels any row has, in order.
func historyColumns(rows []audit.HistoryRow) (locs, chans []string) {
	seenL, seenC := map[string]bool{}, map[string]bool{}
	for i := range rows {
		for _, l := range rows[i].Locations {
			if !seenL[l.Location] {
				seenL[l.Location] = true
				locs = append(locs, l.Location)
			}
		}
		for _, c := range rows[i].Channels {
			if !seenC[c.Channel] {
				seenC[c.Channel] = true
				chans = append(chans, c.Channel)
			}
		}
	}
	slices.Sort(locs)
	slices.Sort(chans)
	return locs, chans
}

func findLoc(r *audit.HistoryRow, code string) (audit.LocationRow, bool) {
	for _, l := range r.Locations {
		if l.Location == code {
			return l, true
		}
	}
	return audit.LocationRow{}, false
}

func findChan(r *audit.HistoryRow, ch string) (int64, bool) {
	for _, c := range r.Channels {
		if c.Channel == ch {
			return int64(c.ATS), true
		}
	}
	return 0, false
}

// notes renders what a row caused, for the table and CSV.
func notes(r *audit.HistoryRow) string {
	var out []string
	if r.Outcome == ledger.Refused {
		out = append(out, "dead letter "+r.Reason.String()+": "+r.Detail)
	}
	for _, a := range r.Alerts {
		s := a.Kind.String()
		var parts []string
		if a.Has&ledger.AlertHasChannel != 0 {
			parts = append(parts, a.Channel)
		}
		if a.Has&ledger.AlertHasLocation != 0 {
			parts = append(parts, "@"+a.Location)
		}
		for _, q := range []struct {
			bit  ledger.AlertField
			name string
			v    ledger.Qty
		}{{ledger.AlertHasShortfall, "shortfall", a.Shortfall}, {ledger.AlertHasUnits, "units", a.Units},
			{ledger.AlertHasOnHand, "on_hand", a.OnHand}, {ledger.AlertHasTotal, "total", a.Total}} {
			if a.Has&q.bit != 0 {
				parts = append(parts, q.name+" "+strconv.FormatInt(int64(q.v), 10))
			}
		}
		out = append(out, s+"("+strings.Join(parts, " ")+")")
	}
	for _, h := range r.HoldResults {
		out = append(out, holdNote(&h))
	}
	return strings.Join(out, "; ")
}

// holdNote renders a hold result for the table: "hold H-7 expired
// (web, requested 3, granted 0, available 12)".
func holdNote(h *ledger.HoldResult) string {
	where := h.Channel
	if h.Location != "" {
		where += " @" + h.Location
	}
	return fmt.Sprintf("hold %s %s(%s, requested %d, granted %d, available %d)", h.HoldID, h.Status, where, h.Requested, h.Granted, h.Available)
}

func writeHistoryTable(w io.Writer, rows []audit.HistoryRow) error {
	locs, chans := historyColumns(rows)
	fmt.Fprintln(w, "# location cells: on_hand/reserved/unavailable/incoming/safety_stock=available; channel cells: available")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := []string{"OFFSET", "OCCURRED_AT", "TYPE", "EVENT_ID", "RESULT", "VER", "UNASSIGNED"}
	head = append(head, locs...)
	head = append(head, chans...)
	head = append(head, "NOTES")
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for i := range rows {
		r := &rows[i]
		cells := []string{strconv.FormatInt(r.Offset, 10), r.OccurredText(), r.TypeName(), r.Event.ID, r.Outcome.String(),
			strconv.FormatUint(r.Version, 10), strconv.FormatInt(int64(r.Unassigned), 10)}
		for _, code := range locs {
			l, ok := findLoc(r, code)
			if !ok {
				cells = append(cells, "-")
				continue
			}
			cells = append(cells, fmt.Sprintf("%d/%d/%d/%d/%d=%d", l.OnHand, l.Reserved, l.Unavailable, l.Incoming, l.SafetyStock, l.Available))
		}
		for _, ch := range chans {
			if v, ok := findChan(r, ch); ok {
				cells = append(cells, strconv.FormatInt(v, 10))
			} else {
				cells = append(cells, "-")
			}
		}
		cells = append(cells, notes(r))
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

var locationQtys = []string{"on_hand", "reserved", "unavailable", "incoming", "safety_stock", "available"}

func writeHistoryCSV(w io.Writer, rows []audit.HistoryRow) error {
	locs, chans := historyColumns(rows)
	cw := csv.NewWriter(w)
	head := []string{"partition", "offset", "appended_at", "occurred_at", "event_id", "type", "outcome", "reason", "detail", "version", "unassigned"}
	for _, l := range locs {
		for _, q := range locationQtys {
			head = append(head, l+"/"+q)
		}
	}
	for _, c := range chans {
		head = append(head, c+"/available")
	}
	head = append(head, "alerts", "hold_results")
	if err := cw.Write(head); err != nil {
		return err
	}
	for i := range rows {
		r := &rows[i]
		rec := []string{strconv.Itoa(int(r.Partition)), strconv.FormatInt(r.Offset, 10), r.AppendedAt.UTC().Format(time.RFC3339Nano),
			r.OccurredText(), r.Event.ID, r.TypeName(), r.Outcome.String(), "", "", strconv.FormatUint(r.Version, 10), strconv.FormatInt(int64(r.Unassigned), 10)}
		if r.Outcome == ledger.Refused {
			rec[7], rec[8] = r.Reason.String(), r.Detail
		}
		for _, code := range locs {
			l, ok := findLoc(r, code)
			for _, v := range []ledger.Qty{l.OnHand, l.Reserved, l.Unavailable, l.Incoming, l.SafetyStock, l.Available} {
				if ok {
					rec = append(rec, strconv.FormatInt(int64(v), 10))
				} else {
					rec = append(rec, "")
				}
			}
		}
		for _, ch := range chans {
			if v, ok := findChan(r, ch); ok {
				rec = append(rec, strconv.FormatInt(v, 10))
			} else {
				rec = append(rec, "")
			}
		}
		var alerts []string
		for k := range r.Alerts {
			alerts = append(alerts, string(schemas.AppendAlertJSON(nil, &r.Alerts[k])))
		}
		var holds []string
		for k := range r.HoldResults {
			holds = append(holds, string(schemas.AppendHoldResultJSON(nil, &r.HoldResults[k])))
		}
		rec = append(rec, "["+strings.Join(alerts, ",")+"]", "["+strings.Join(holds, ",")+"]")
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
