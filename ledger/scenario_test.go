package ledger_test

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/schemas"
)

// TestScenarios runs the scenario files in testdata: each "fold" block is
// a stream of JSON events and, below the line, the ledger after it, its
// alerts, dead letters and duplicate count, written from the spec's worked
// examples.
func TestScenarios(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "fold":
				return fold(t, d.Input)
			case "records":
				var n int
				d.ScanArgs(t, "partitions", &n)
				return foldRecords(t, int32(n), d.Input)
			}
			t.Fatalf("unknown command %q", d.Cmd)
			return ""
		})
	})
}

// scenario is what a scenario's events left: the books (one per
// partition), their effects, dead letters and duplicate count.
type scenario struct {
	books []*ledger.Book
	fx    ledger.Effects
	dups  int
	dead  []string
}

// apply folds one JSON line read from a record placed as pl (nil: a
// stream without placement) into book.
func (sc *scenario) apply(book *ledger.Book, pl *ledger.Placement, line string) {
	var ev ledger.Event
	res := ledger.Result{Outcome: ledger.Refused}
	if r, _ := schemas.ParseEventJSON([]byte(line), &ev); r != ledger.ReasonNone {
		res.Reason = r
	} else if pl != nil {
		res = book.ApplyRecord(&ev, pl, &sc.fx)
	} else {
		res = book.Apply(&ev, &sc.fx)
	}
	switch res.Outcome {
	case ledger.Duplicate:
		sc.dups++
	case ledger.Refused:
		d := fmt.Sprintf("dead: %s %s", ev.ID, res.Reason)
		if res.Reason == ledger.ReasonWrongPartition {
			d += " (" + res.Detail + ")"
		}
		sc.dead = append(sc.dead, d)
	}
}

func fold(t *testing.T, input string) string {
	sc := &scenario{books: []*ledger.Book{ledger.NewBook(ledger.DefaultConfig())}}
	for _, line := range strings.Split(input, "\n") {
		if strings.TrimSpace(line) != "" {
			sc.apply(sc.books[0], nil, line)
		}
	}
	return sc.String()
}

// foldRecords folds lines of the form "partition key event" (key "(no
// key)" for a record without one) into one book per partition.
func foldRecords(t *testing.T, partitions int32, input string) string {
	sc := &scenario{}
	for range partitions {
		sc.books = append(sc.books, ledger.NewBook(ledger.DefaultConfig()))
	}
	for _, line := range strings.Split(input, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		part, rest, _ := strings.Cut(line, " ")
		pl := ledger.Placement{Partitions: partitions}
		if n, err := strconv.Atoi(part); err != nil || n < 0 || n >= int(partitions) {
			t.Fatalf("%q: partition %q is not one of %d", line, part, partitions)
		} else {
			pl.Partition = int32(n)
		}
		if after, ok := strings.CutPrefix(rest, "(no key) "); ok {
			rest = after
		} else {
			key, ev, _ := strings.Cut(rest, " ")
			pl.Key, rest = []byte(key), ev
		}
		sc.apply(sc.books[pl.Partition], &pl, rest)
	}
	return sc.String()
}

// String renders the SKUs of every book in name order, then the alerts,
// dead letters and duplicates.
func (sc *scenario) String() string {
	var out bytes.Buffer
	var all []*ledger.SKU
	for _, b := range sc.books {
		for _, name := range b.Names() {
			all = append(all, b.SKU(name))
		}
	}
	slices.SortFunc(all, func(a, b *ledger.SKU) int { return strings.Compare(a.Name, b.Name) })
	for _, s := range all {
		name := s.Name
		fmt.Fprintf(&out, "%s version=%d unassigned=%d\n", name, s.Version, s.Unassigned)
		for _, l := range s.Locations {
			if l.Named {
				fmt.Fprintf(&out, "  %s: on_hand=%d reserved=%d unavailable=%d incoming=%d safety_stock=%d available=%d\n",
					l.Code, l.OnHand, l.Reserved, l.Unavailable, l.Incoming, l.SafetyStock, l.Available())
			}
		}
		if len(s.UnassignedBy) > 0 {
			out.WriteString("  unassigned:")
			for _, u := range s.UnassignedBy {
				fmt.Fprintf(&out, " %s=%d", u.Channel, u.Qty)
			}
			out.WriteString("\n")
		}
		out.WriteString("  channels:")
		for _, c := range s.Published {
			fmt.Fprintf(&out, " %s=%d", c.Channel, c.ATS)
		}
		out.WriteString("\n")
		sc.renderPart2(&out, s)
	}
	for _, r := range sc.fx.HoldResults {
		loc := "-"
		if r.Location != "" {
			loc = r.Location
		}
		fmt.Fprintf(&out, "hold: %s/%s %s@%s %s requested=%d granted=%d available=%d version=%d from %s\n",
			r.SKU, r.HoldID, r.Channel, loc, r.Status, r.Requested, r.Granted, r.Available, r.Version, r.CauseEventID)
	}
	for _, a := range sc.fx.Alerts {
		fmt.Fprintf(&out, "alert: %s from %s", a.Kind, a.CauseEventID)
		if a.Has&ledger.AlertHasTransferID != 0 {
			fmt.Fprintf(&out, " transfer_id=%s", a.TransferID)
		}
		if a.Has&ledger.AlertHasLocation != 0 {
			fmt.Fprintf(&out, " location=%s", a.Location)
		}
		for _, f := range []struct {
			has  ledger.AlertField
			name string
			v    ledger.Qty
		}{{ledger.AlertHasShortfall, "shortfall", a.Shortfall}, {ledger.AlertHasUnits, "units", a.Units},
			{ledger.AlertHasOnHand, "on_hand", a.OnHand}, {ledger.AlertHasTotal, "total", a.Total},
			{ledger.AlertHasReorderPoint, "reorder_point", a.ReorderPoint},
			{ledger.AlertHasExpected, "expected", a.Expected}, {ledger.AlertHasReceived, "received", a.Received},
			{ledger.AlertHasShort, "short", a.Short}, {ledger.AlertHasProjected, "projected", a.Projected},
			{ledger.AlertHasSold28, "sold28", a.Sold28}, {ledger.AlertHasDaysOfCover, "days_of_cover", a.DaysOfCover},
			{ledger.AlertHasLeadTimeDays, "lead_time_days", a.LeadTimeDays}} {
			if a.Has&f.has != 0 {
				fmt.Fprintf(&out, " %s=%d", f.name, f.v)
			}
		}
		out.WriteString("\n")
	}
	for _, d := range sc.dead {
		out.WriteString(d + "\n")
	}
	fmt.Fprintf(&out, "duplicates: %d\n", sc.dups)
	return out.String()
}

// renderPart2 renders what a consumer of the updates knows of s's listings
// (the last value published for each, removed ones included) and, for a
// SKU with a lead time, its sales window.
func (sc *scenario) renderPart2(out *bytes.Buffer, s *ledger.SKU) {
	last := map[string]ledger.Qty{}
	for _, u := range sc.fx.Updates {
		if u.SKU == s.Name && u.ListingSKU != "" {
			last[u.Channel+"/"+u.ListingSKU] = u.Available
		}
	}
	if len(last) > 0 {
		out.WriteString("  listings:")
		for _, k := range slices.Sorted(maps.Keys(last)) {
			fmt.Fprintf(out, " %s=%d", k, last[k])
		}
		out.WriteString("\n")
	}
	if s.LeadTimeDays == 0 {
		return
	}
	for _, b := range sc.books {
		if b.SKU(s.Name) != s {
			continue
		}
		first, lastDay, _ := b.P.SalesWindow(s)
		fmt.Fprintf(out, "  sales: sold28=%d window=%s..%s projected=%d lead_time_days=%d\n", b.P.Sold28(s),
			time.Unix(first*86400, 0).UTC().Format(time.DateOnly), time.Unix(lastDay*86400, 0).UTC().Format(time.DateOnly),
			s.Projected(), s.LeadTimeDays)
	}
}
