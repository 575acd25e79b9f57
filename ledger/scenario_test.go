package ledger_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

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
			if d.Cmd != "fold" {
				t.Fatalf("unknown command %q", d.Cmd)
			}
			return fold(t, d.Input)
		})
	})
}

func fold(t *testing.T, input string) string {
	book := ledger.NewBook(ledger.DefaultConfig())
	var fx ledger.Effects
	var out bytes.Buffer
	dups := 0
	var dead []string
	for _, line := range strings.Split(input, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var ev ledger.Event
		res := ledger.Result{Outcome: ledger.Refused}
		if r, _ := schemas.ParseEventJSON([]byte(line), &ev); r == ledger.ReasonNone {
			res = book.Apply(&ev, &fx)
		} else {
			res.Reason = r
		}
		switch res.Outcome {
		case ledger.Duplicate:
			dups++
		case ledger.Refused:
			dead = append(dead, fmt.Sprintf("dead: %s %s", ev.ID, res.Reason))
		}
	}
	for _, name := range book.Names() {
		s := book.SKUs[name]
		fmt.Fprintf(&out, "%s version=%d unassigned=%d\n", name, s.Version, s.Unassigned)
		for _, l := range s.Locations {
			if l.Named {
				fmt.Fprintf(&out, "  %s: on_hand=%d reserved=%d unavailable=%d incoming=%d safety_stock=%d available=%d\n",
					l.Code, l.OnHand, l.Reserved, l.Unavailable, l.Incoming, l.SafetyStock, l.Available())
			}
		}
		out.WriteString("  channels:")
		for _, c := range s.Published {
			fmt.Fprintf(&out, " %s=%d", c.Channel, c.ATS)
		}
		out.WriteString("\n")
	}
	for _, a := range fx.Alerts {
		fmt.Fprintf(&out, "alert: %s from %s", a.Kind, a.CauseEventID)
		if a.Has&ledger.AlertHasLocation != 0 {
			fmt.Fprintf(&out, " location=%s", a.Location)
		}
		for _, f := range []struct {
			has  ledger.AlertField
			name string
			v    ledger.Qty
		}{{ledger.AlertHasShortfall, "shortfall", a.Shortfall}, {ledger.AlertHasUnits, "units", a.Units},
			{ledger.AlertHasOnHand, "on_hand", a.OnHand}, {ledger.AlertHasTotal, "total", a.Total},
			{ledger.AlertHasReorderPoint, "reorder_point", a.ReorderPoint}} {
			if a.Has&f.has != 0 {
				fmt.Fprintf(&out, " %s=%d", f.name, f.v)
			}
		}
		out.WriteString("\n")
	}
	for _, d := range dead {
		out.WriteString(d + "\n")
	}
	fmt.Fprintf(&out, "duplicates: %d\n", dups)
	return out.String()
}
