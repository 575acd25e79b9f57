package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/schemas"
)

// Listings end to end: `stockledger produce` resolves lines naming a
// listing_sku against the listings topic that `stockledger run` fills,
// and against the file's own listing lines; the worked examples 10 and 11
// of ledger-semantics-2 come out on the updates and listings topics.

const listingAt = `"occurred_at":"2026-11-27T10:00:00Z"`

// listingRun starts a broker and a processor and waits until it owns
// every partition (the topics exist).
func listingRun(ctx context.Context, t *testing.T) *cluster {
	t.Helper()
	cl := startBroker(t)
	c := startRun(t, "run", cl, filepath.Join(t.TempDir(), "data"))
	waitOwned(ctx, t, c)
	return cl
}

// produceLines runs `stockledger produce` on lines (a file) with extra
// flags and returns its stdout, stderr and exit status.
func produceLines(ctx context.Context, t *testing.T, cl *cluster, lines []string, extra ...string) (string, string, int) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(f, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"produce", "--brokers", cl.brokers, "--topic-prefix", cl.prefix, "--partitions", strconv.Itoa(testPartitions)}, extra...)
	return cli(ctx, t, nil, append(args, f)...)
}

// mustProduce produces lines and requires them all sent.
func mustProduce(ctx context.Context, t *testing.T, cl *cluster, lines ...string) {
	t.Helper()
	if out, errOut, code := produceLines(ctx, t, cl, lines); code != 0 {
		t.Fatalf("produce: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
}

// refusedLines produces lines twice: without --skip-invalid the file must be
// refused whole (exit 2, nothing sent) with exactly the lines of want
// reported, each with its code and a detail containing its text; with it,
// the other lines are sent.
func refusedLines(ctx context.Context, t *testing.T, cl *cluster, lines []string, want map[int][2]string) {
	t.Helper()
	adm := cl.admin(t)
	before, err := cl.endOffsets(ctx, adm)
	if err != nil {
		t.Fatal(err)
	}
	check := func(errOut string) {
		t.Helper()
		got := map[int]string{}
		for _, l := range strings.Split(strings.TrimSpace(errOut), "\n") {
			var n int
			if _, err := fmt.Sscanf(l, "line %d:", &n); err == nil {
				got[n] = l
			}
		}
		for n, w := range want {
			if !strings.HasPrefix(got[n], fmt.Sprintf("line %d: %s: ", n, w[0])) || !strings.Contains(got[n], w[1]) {
				t.Errorf("line %d reported as %q, want %s: ...%s...", n, got[n], w[0], w[1])
			}
		}
		if len(got) != len(want) {
			t.Errorf("reported lines %v, want %d of them\nstderr:\n%s", got, len(want), errOut)
		}
	}
	out, errOut, code := produceLines(ctx, t, cl, lines)
	if code != 2 || strings.Contains(out, "produced") {
		t.Fatalf("produce of a file with refused lines: exit %d, want 2\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	check(errOut)
	if now, err := cl.endOffsets(ctx, adm); err != nil || sum(now) != sum(before) {
		t.Fatalf("a refused file changed the events topic from %d to %d records (%v)", sum(before), sum(now), err)
	}
	out, errOut, code = produceLines(ctx, t, cl, lines, "--skip-invalid")
	if code != 0 {
		t.Fatalf("produce --skip-invalid: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	check(errOut)
	if w := fmt.Sprintf("skipped %d invalid lines\n", len(want)); !strings.HasSuffix(out, w) {
		t.Errorf("produce --skip-invalid printed %q, want ...%q", out, w)
	}
}

// topicJSON reads a topic from its start to its end: each record as
// "key json" (the JSON Lines form tail prints).
func topicJSON(ctx context.Context, t *testing.T, cl *cluster, topic string) []string {
	t.Helper()
	reg := schemas.NewRegistry()
	var out []string
	err := processors.Tail(ctx, strings.Split(cl.brokers, ","), topic, processors.TailOptions{FromBeginning: true, ExitAtEnd: true},
		func(r *kgo.Record) error {
			b, err := reg.AppendMessageJSON(nil, r.Value)
			if err != nil {
				return err
			}
			out = append(out, string(r.Key)+" "+string(b))
			return nil
		}, cl.opts...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// waitRecords waits until topic holds a record containing each of want
// (every fragment of one entry in one record), and returns its records.
func waitRecords(ctx context.Context, t *testing.T, cl *cluster, topic string, want ...[]string) []string {
	t.Helper()
	for {
		recs := topicJSON(ctx, t, cl, topic)
		missing := slices.IndexFunc(want, func(frags []string) bool {
			return !slices.ContainsFunc(recs, func(r string) bool {
				return !slices.ContainsFunc(frags, func(f string) bool { return !strings.Contains(r, f) })
			})
		})
		if missing < 0 {
			return recs
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s has no record with %q; it holds:\n%s", topic, want[missing], strings.Join(recs, "\n"))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// lastUpdate returns the last record of key on the updates topic.
func lastUpdate(recs []string, key string) string {
	last := ""
	for _, r := range recs {
		if strings.HasPrefix(r, key+" ") {
			last = r
		}
	}
	return last
}

// TestListingsExample10CLI: worked example 10 through produce and run. A
// 6-pack bound in one file resolves in a later one from the listings
// topic: an order of one pack becomes 6 units of TEE, listing_sku kept.
// In the same file the amazon listing is removed, so an order of it is
// refused by line, as is one of a listing nobody has.
func TestListingsExample10CLI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl := listingRun(ctx, t)
	mustProduce(ctx, t, cl,
		`{"event_id":"p-web","type":"channel_policy",`+listingAt+`,"channel":"web","locations":[],"buffer":0,"share_pct":100}`,
		`{"event_id":"p-amz","type":"channel_policy",`+listingAt+`,"channel":"amazon","locations":["dc"],"buffer":2,"share_pct":100}`,
		`{"event_id":"r1","type":"receipt",`+listingAt+`,"sku":"TEE","location":"dc","qty":14}`,
		`{"event_id":"l1","type":"listing",`+listingAt+`,"sku":"TEE","channel":"web","listing_sku":"TEE-6PK","units":6}`,
		`{"event_id":"l2","type":"listing",`+listingAt+`,"sku":"TEE","channel":"amazon","listing_sku":"AMZ-TEE"}`)
	waitRecords(ctx, t, cl, cl.topics.Listings, []string{"web/TEE-6PK/TEE ", `"cause_event_id":"l1"`}, []string{"amazon/AMZ-TEE/TEE ", `"cause_event_id":"l2"`})

	refusedLines(ctx, t, cl, []string{
		`{"event_id":"o1","type":"order",` + listingAt + `,"listing_sku":"TEE-6PK","channel":"web","order_id":"W-7","qty":1}`,
		`{"event_id":"l3","type":"listing",` + listingAt + `,"sku":"TEE","channel":"amazon","listing_sku":"AMZ-TEE","active":false}`,
		`{"event_id":"o2","type":"order",` + listingAt + `,"listing_sku":"AMZ-TEE","channel":"amazon","order_id":"A-8","qty":1}`,
		`{"event_id":"o3","type":"order",` + listingAt + `,"listing_sku":"NOPE-6PK","channel":"web","order_id":"W-9","qty":1}`,
	}, map[int][2]string{
		3: {"unresolved_listing", `unknown listing "AMZ-TEE" on channel "amazon"`},
		4: {"unresolved_listing", `unknown listing "NOPE-6PK" on channel "web"`},
	})

	ups := waitRecords(ctx, t, cl, cl.topics.Updates, []string{"amazon/TEE/AMZ-TEE ", `"available":0`, `"cause_event_id":"l3"`})
	for key, want := range map[string]string{
		"web/TEE":    `"channel":"web","sku":"TEE","available":8,`,
		"amazon/TEE": `"channel":"amazon","sku":"TEE","available":6,`,
		// l1 was published before o1's file: previous is the 6-pack's 2.
		"web/TEE/TEE-6PK": `"channel":"web","sku":"TEE","listing_sku":"TEE-6PK","available":1,"previous":2,"version":4,"cause_event_id":"o1"`,
		// Removed: 0 once (o1 and l3 may share a batch: previous is 12 or 6).
		"amazon/TEE/AMZ-TEE": `"channel":"amazon","sku":"TEE","listing_sku":"AMZ-TEE","available":0,`,
	} {
		if got := lastUpdate(ups, key); !strings.Contains(got, want) {
			t.Errorf("last update of %s: %s\nwant ...%s...", key, got, want)
		}
	}
	// The order went into the topic resolved: 6 units of TEE, listing_sku kept.
	events := topicJSON(ctx, t, cl, cl.topics.Events)
	if !slices.ContainsFunc(events, func(e string) bool {
		return strings.HasPrefix(e, "TEE ") && strings.Contains(e, `"event_id":"o1"`) && strings.Contains(e, `"sku":"TEE"`) &&
			strings.Contains(e, `"qty":6`) && strings.Contains(e, `"listing_sku":"TEE-6PK"`)
	}) {
		t.Errorf("the events topic has no resolved o1 keyed TEE:\n%s", strings.Join(events, "\n"))
	}
	lst := topicJSON(ctx, t, cl, cl.topics.Listings)
	if got := lastUpdate(lst, "amazon/AMZ-TEE/TEE"); !strings.Contains(got, `"units":1,"active":false,"version":5,"cause_event_id":"l3"`) {
		t.Errorf("listings topic: the removal of AMZ-TEE is %s", got)
	}
}

// TestListingsExample11CLI: worked example 11 through produce and run. A
// listing_sku active on TEE cannot be bound to MUG, whether TEE's binding
// is in the same file or already on the listings topic; once TEE removes
// it (earlier in a file), MUG binds it and an order of one set resolves to
// 2 units of MUG; TEE removing it again is refused (it is MUG's), TEE
// removing a listing nobody has is sent. The `tail listings` output holds
// every applied listing event.
func TestListingsExample11CLI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl := listingRun(ctx, t)
	l2 := `{"event_id":"l2","type":"listing",` + listingAt + `,"sku":"MUG","channel":"web","listing_sku":"GIFT-SET","units":2}`
	conflict := [2]string{"listing_conflict", `listing "GIFT-SET" on channel "web" is active on SKU "TEE": remove it there first`}
	refusedLines(ctx, t, cl, []string{
		`{"event_id":"p-web","type":"channel_policy",` + listingAt + `,"channel":"web","locations":[],"buffer":0,"share_pct":100}`,
		`{"event_id":"r1","type":"receipt",` + listingAt + `,"sku":"TEE","location":"dc","qty":14}`,
		`{"event_id":"r2","type":"receipt",` + listingAt + `,"sku":"MUG","location":"dc","qty":9}`,
		`{"event_id":"l1","type":"listing",` + listingAt + `,"sku":"TEE","channel":"web","listing_sku":"GIFT-SET"}`,
		l2,
	}, map[int][2]string{5: conflict})
	waitRecords(ctx, t, cl, cl.topics.Updates, []string{"web/TEE/GIFT-SET ", `"available":14`})
	// Now TEE's binding is on the listings topic: l2 alone is refused too.
	out, errOut, code := produceLines(ctx, t, cl, []string{l2})
	if want := "line 1: " + conflict[0] + ": " + conflict[1]; code != 2 || !strings.Contains(errOut, want) {
		t.Fatalf("l2 after TEE's binding was applied: exit %d, stderr %q, want %q (stdout %s)", code, errOut, want, out)
	}

	refusedLines(ctx, t, cl, []string{
		`{"event_id":"l3","type":"listing",` + listingAt + `,"sku":"TEE","channel":"web","listing_sku":"GIFT-SET","active":false}`,
		`{"event_id":"l4","type":"listing",` + listingAt + `,"sku":"MUG","channel":"web","listing_sku":"GIFT-SET","units":2}`,
		`{"event_id":"o1","type":"order",` + listingAt + `,"listing_sku":"GIFT-SET","channel":"web","order_id":"W-9","qty":1}`,
		`{"event_id":"l5","type":"listing",` + listingAt + `,"sku":"TEE","channel":"web","listing_sku":"GIFT-SET","active":false}`,
		`{"event_id":"l6","type":"listing",` + listingAt + `,"sku":"TEE","channel":"web","listing_sku":"TEE-GIFT","active":false}`,
	}, map[int][2]string{4: {"listing_conflict", `listing "GIFT-SET" on channel "web" is active on SKU "MUG", not on "TEE": remove it there`}})

	ups := waitRecords(ctx, t, cl, cl.topics.Updates, []string{"web/MUG/GIFT-SET ", `"available":3`}, []string{"web/TEE/GIFT-SET ", `"available":0`})
	for key, want := range map[string]string{
		"web/TEE":          `"available":14,`,
		"web/MUG":          `"available":7,"previous":9,"version":3,"cause_event_id":"o1"`,
		"web/TEE/GIFT-SET": `"listing_sku":"GIFT-SET","available":0,"previous":14,"version":3,"cause_event_id":"l3"`,
		"web/MUG/GIFT-SET": `"listing_sku":"GIFT-SET","available":3,`,
	} {
		if got := lastUpdate(ups, key); !strings.Contains(got, want) {
			t.Errorf("last update of %s: %s\nwant ...%s...", key, got, want)
		}
	}
	if !slices.ContainsFunc(ups, func(u string) bool {
		return strings.HasPrefix(u, "web/MUG/GIFT-SET ") && strings.Contains(u, `"available":4,`)
	}) &&
		!slices.ContainsFunc(ups, func(u string) bool {
			return strings.HasPrefix(u, "web/MUG/GIFT-SET ") && strings.Contains(u, `"available":3,"previous":null`)
		}) {
		t.Errorf("web/MUG/GIFT-SET never showed floor(9 / 2) = 4 (nor started at 3 in one batch with o1):\n%s", strings.Join(ups, "\n"))
	}
	events := topicJSON(ctx, t, cl, cl.topics.Events)
	if !slices.ContainsFunc(events, func(e string) bool {
		return strings.HasPrefix(e, "MUG ") && strings.Contains(e, `"event_id":"o1"`) && strings.Contains(e, `"qty":2`) && strings.Contains(e, `"listing_sku":"GIFT-SET"`)
	}) {
		t.Errorf("the events topic has no o1 resolved to 2 units of MUG:\n%s", strings.Join(events, "\n"))
	}

	// The listings topic through the CLI: every applied listing event once
	// per key and batch, the last of each key as example 11 ends.
	args := append([]string{"tail", "listings", "--from-beginning", "--exit-at-end", "--brokers", cl.brokers, "--topic-prefix", cl.prefix}, cl.args...)
	out, errOut, code = cli(ctx, t, nil, args...)
	if code != 0 || errOut != "" {
		t.Fatalf("tail listings: exit %d\nstderr: %s", code, errOut)
	}
	last := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var sku, listing string
		for _, f := range []struct {
			name string
			dst  *string
		}{{`"sku":"`, &sku}, {`"listing_sku":"`, &listing}} {
			if i := strings.Index(l, f.name); i >= 0 {
				*f.dst, _, _ = strings.Cut(l[i+len(f.name):], `"`)
			}
		}
		last[listing+"/"+sku] = l
	}
	for key, want := range map[string]string{
		"GIFT-SET/TEE": `"units":1,"active":false,"version":3,"cause_event_id":"l3"`,
		"GIFT-SET/MUG": `"units":2,"active":true,"version":2,"cause_event_id":"l4"`,
		"TEE-GIFT/TEE": `"units":1,"active":false,"version":4,"cause_event_id":"l6"`,
	} {
		if !strings.Contains(last[key], `"type":"listing_binding","channel":"web"`) || !strings.Contains(last[key], want) {
			t.Errorf("tail listings: the last binding of web/%s is %q, want ...%s...", key, last[key], want)
		}
	}
	if len(last) != 3 {
		t.Errorf("tail listings: %d keys, want 3:\n%s", len(last), out)
	}
}
