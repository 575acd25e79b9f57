package e2etest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/processors/audit"
)

// PostHold posts a hold request body to the checkout API at base (an
// instance's http://host:port) and returns the status and body; status 0
// when no answer came (the instance is down, or ctx ended).
func PostHold(ctx context.Context, hc *http.Client, base string, body []byte) (int, []byte) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/holds", bytes.NewReader(body))
	if err != nil {
		return 0, nil
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil
	}
	return resp.StatusCode, b
}

// ReplayOpenHolds replays the events topic acfg names into a scratch
// store under dir and returns sku's open holds, sorted: what a fold of the
// topic alone decided.
func ReplayOpenHolds(ctx context.Context, acfg audit.Config, dir, sku string) ([]string, error) {
	res, err := audit.Replay(ctx, acfg, audit.Stop{}, dir, nil)
	if err != nil {
		return nil, err
	}
	defer res.Close()
	var s ledger.SKU
	found, err := res.Store.SKU(processors.PartitionOf(sku, res.Partitions), sku, &s)
	if err != nil || !found {
		return nil, fmt.Errorf("replay: %s found %v: %v", sku, found, err)
	}
	var open []string
	for id, h := range s.Holds {
		if !h.Closed && h.Granted > 0 {
			open = append(open, id)
		}
	}
	slices.Sort(open)
	return open, nil
}

// RaceAnswer is what a last-unit race checks of one client's hold result.
type RaceAnswer struct {
	Status    string
	Available int64
}

// CheckRace checks the answers of a race of clients for units units, by
// hold id: every client decided, exactly units granted and the rest
// refused with nothing left, and the grants the units one by one (each
// left one fewer available). It returns the granted hold ids, sorted, and
// what is wrong.
func CheckRace(got map[string]RaceAnswer, units, clients int) (granted, problems []string) {
	if len(got) != clients {
		return nil, []string{fmt.Sprintf("%d of %d clients got a decision", len(got), clients)}
	}
	avail := map[int64]bool{}
	for id, a := range got {
		switch a.Status {
		case "granted":
			granted = append(granted, id)
			avail[a.Available] = true
		case "refused":
			if a.Available != 0 {
				problems = append(problems, fmt.Sprintf("hold %s refused with %d available", id, a.Available))
			}
		default:
			problems = append(problems, fmt.Sprintf("hold %s: status %s", id, a.Status))
		}
	}
	if len(granted) != units || len(got)-len(granted) != clients-units {
		problems = append(problems, fmt.Sprintf("%d granted, %d refused; want %d and %d", len(granted), len(got)-len(granted), units, clients-units))
	}
	for a := range int64(units) {
		if !avail[a] {
			problems = append(problems, fmt.Sprintf("no grant left %d available: the grants were not the units one by one", a))
		}
	}
	slices.Sort(granted)
	return granted, problems
}
