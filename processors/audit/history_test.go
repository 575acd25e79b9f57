package audit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/ledger/specmodel"
	"github.com/stockledger/stockledger/ledger/specmodel/keys"
	"github.com/stockledger/stockledger/processors/audit"
	"github.com/stockledger/stockledger/processors/e2etest"
)

// expectedRow is the independent model's view of one event of a SKU.
type expectedRow struct {
	line    string
	eventID string
	outcome string // applied, duplicate, refused
	reason  string
	view    specmodel.SKUView
	alerts  []string
}

// modelHistory folds lines through the spec model and returns, for each
// of skus, the model's state after each event the SKU's history holds:
// every event keyed by the SKU on the wire, and each channel_policy that
// reached it.
func modelHistory(t *testing.T, lines [][]byte, skus []string) map[string][]expectedRow {
	t.Helper()
	wire, err := e2etest.Wire(lines)
	if err != nil {
		t.Fatal(err)
	}
	m := specmodel.New()
	out := map[string][]expectedRow{}
	for i, l := range lines {
		var track []string
		for _, s := range skus {
			if wire[i].Policy || wire[i].SKU == s {
				track = append(track, s)
			}
		}
		if len(track) == 0 {
			m.Apply(l)
			continue
		}
		type snap struct {
			v     specmodel.SKUView
			known bool
		}
		before := map[string]snap{}
		for _, s := range track {
			v, ok := m.SKU(s)
			before[s] = snap{v, ok}
		}
		nd, na, dups := len(m.DeadLetters()), len(m.Alerts()), m.Duplicates()
		m.Apply(l)
		var head struct {
			ID string `json:"event_id"`
		}
		_ = json.Unmarshal(l, &head)
		for _, s := range track {
			after, _ := m.SKU(s)
			r := expectedRow{line: string(l), eventID: head.ID, view: after}
			switch {
			case wire[i].Policy:
				if !before[s].known || after.Version == before[s].v.Version {
					continue
				}
				r.outcome = "applied"
			case len(m.DeadLetters()) > nd:
				r.outcome, r.reason = "refused", m.DeadLetters()[nd].Reason
			case m.Duplicates() > dups:
				r.outcome = "duplicate"
			default:
				r.outcome = "applied"
			}
			for _, a := range m.Alerts()[na:] {
				if a.SKU == s {
					r.alerts = append(r.alerts, keys.ModelAlert(&a))
				}
			}
			out[s] = append(out[s], r)
		}
	}
	return out
}

// TestHistoryMatchesModel: for several SKUs of a generated history, every
// row of `history` (applied, duplicate and refused events, and policy
// changes that reached the SKU) has the quantities per location, the
// unassigned units, the version, each channel's available, the dead-letter
// reason and the alerts that the independent spec model has after the same
// event.
func TestHistoryMatchesModel(t *testing.T) {
	n := 12_000
	if testing.Short() {
		n = 4_000
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl := newCluster(t, "history")
	lines := streamLines(11, n, 60)
	if err := e2etest.ProduceLines(ctx, cl, testPartitions, lines); err != nil {
		t.Fatal(err)
	}
	cfg := auditConfig(cl)
	total := 0
	skus := []string{"SKU-000000", "SKU-000003", "SKU-000017", "SKU-000059"}
	model := modelHistory(t, lines, skus)
	for _, sku := range skus {
		want := model[sku]
		res, err := audit.History(ctx, cfg, audit.HistoryOptions{SKU: sku})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Rows) != len(want) {
			t.Errorf("%s: %d rows, model %d", sku, len(res.Rows), len(want))
		}
		for i := range min(len(res.Rows), len(want)) {
			for _, d := range compareRow(&res.Rows[i], &want[i]) {
				t.Errorf("%s row %d (offset %d, %s): %s", sku, i, res.Rows[i].Offset, want[i].line, d)
			}
			if t.Failed() {
				t.FailNow()
			}
		}
		total += len(res.Rows)
	}
	if total < 500 {
		t.Fatalf("only %d rows checked", total)
	}
	t.Logf("%d history rows equal the model", total)

	// --since/--until select by record time and stop the read.
	all, err := audit.History(ctx, cfg, audit.HistoryOptions{SKU: "SKU-000000"})
	if err != nil {
		t.Fatal(err)
	}
	mid := all.Rows[len(all.Rows)/2].AppendedAt
	some, err := audit.History(ctx, cfg, audit.HistoryOptions{SKU: "SKU-000000", Since: mid, Until: mid})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range some.Rows {
		if !r.AppendedAt.Equal(mid) {
			t.Errorf("row appended at %v outside [%v, %v]", r.AppendedAt, mid, mid)
		}
	}
	if len(some.Rows) == 0 {
		t.Error("no row in the middle millisecond")
	}
}

func compareRow(got *audit.HistoryRow, w *expectedRow) []string {
	var d []string
	if got.Event.ID != w.eventID {
		d = append(d, fmt.Sprintf("event_id %q, model %q", got.Event.ID, w.eventID))
	}
	if o := got.Outcome.String(); o != w.outcome {
		d = append(d, fmt.Sprintf("outcome %s (%s %s), model %s (%s)", o, got.Reason, got.Detail, w.outcome, w.reason))
		return d
	}
	if got.Outcome == ledger.Refused && got.Reason.String() != w.reason {
		d = append(d, fmt.Sprintf("dead letter %s, model %s", got.Reason, w.reason))
	}
	if int64(got.Version) != w.view.Version || int64(got.Unassigned) != w.view.Unassigned {
		d = append(d, fmt.Sprintf("version/unassigned %d/%d, model %d/%d", got.Version, got.Unassigned, w.view.Version, w.view.Unassigned))
	}
	locs := map[string]specmodel.LocationView{}
	for _, l := range got.Locations {
		locs[l.Location] = specmodel.LocationView{OnHand: int64(l.OnHand), Reserved: int64(l.Reserved), Unavailable: int64(l.Unavailable),
			Incoming: int64(l.Incoming), SafetyStock: int64(l.SafetyStock), Available: int64(l.Available)}
	}
	if fmt.Sprint(locs) != fmt.Sprint(w.view.Locations) {
		d = append(d, fmt.Sprintf("locations %v, model %v", locs, w.view.Locations))
	}
	chans := map[string]int64{}
	for _, c := range got.Channels {
		chans[c.Channel] = int64(c.ATS)
	}
	if fmt.Sprint(chans) != fmt.Sprint(w.view.Channels) {
		d = append(d, fmt.Sprintf("channels %v, model %v", chans, w.view.Channels))
	}
	var alerts []string
	for i := range got.Alerts {
		alerts = append(alerts, keys.Alert(&got.Alerts[i]))
	}
	if fmt.Sprint(alerts) != fmt.Sprint(w.alerts) {
		d = append(d, fmt.Sprintf("alerts %v, model %v", alerts, w.alerts))
	}
	return d
}
