package processors_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger/gen"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/processors/e2etest"
)

// statusOf is what /readyz and /v1/status of a live processor say.
type statusOf struct {
	ready    bool
	lag      int64
	ownedLag int64
	owned    int
}

func readStatus(t *testing.T, srv *httptest.Server) statusOf {
	t.Helper()
	var st statusOf
	resp, err := http.Get(srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	st.ready = resp.StatusCode == http.StatusOK
	resp, err = http.Get(srv.URL + "/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Lag        int64             `json:"lag"`
		OwnedLag   int64             `json:"owned_lag"`
		Partitions []json.RawMessage `json:"partitions"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	st.lag, st.ownedLag, st.owned = body.Lag, body.OwnedLag, len(body.Partitions)
	return st
}

// waitStatus polls until ok accepts the status, or fails the test.
func waitStatus(ctx context.Context, t *testing.T, srv *httptest.Server, what string, ok func(statusOf) bool) statusOf {
	t.Helper()
	for {
		st := readStatus(t, srv)
		if ok(st) {
			return st
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: last status %+v", what, st)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestEndToEndReadyAndLagWithoutPartitions: another member of the group
// holds the only partition and folds nothing, while events wait. The
// processor owns nothing: /readyz must say not ready (it folds nothing)
// and /v1/status's lag must count the events nobody has folded, not zero.
// Once the other member leaves, the processor takes the partition, folds
// it and is ready with lag 0; its committed offsets are mirrored to the
// group, where Kafka tools read them.
func TestEndToEndReadyAndLagWithoutPartitions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := e2etest.NewCluster("idle", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	lines := gen.Stream(gen.Config{Seed: 4, SKUs: 20}, 500)
	if err := e2etest.ProduceLines(ctx, cl, 1, lines); err != nil {
		t.Fatal(err)
	}
	// A member that takes the partition and never folds or commits.
	squatter, err := kgo.NewClient(kgo.SeedBrokers(cl.Brokers...), kgo.ConsumerGroup(cl.Group),
		kgo.ConsumeTopics(cl.Topics().Events), kgo.DisableAutoCommit())
	if err != nil {
		t.Fatal(err)
	}
	defer squatter.Close()
	for len(squatter.PollRecords(ctx, 1).Records()) == 0 && ctx.Err() == nil {
	}
	l, err := e2etest.StartLive(ctx, cl, filepath.Join(t.TempDir(), "ledger"), 1,
		func(c *processors.Config) { c.LagInterval = 100 * time.Millisecond })
	if err != nil {
		t.Fatal(err)
	}
	defer l.Stop()
	srv := httptest.NewServer(l.P.Handler(l.Gatherer))
	defer srv.Close()
	events := int64(len(lines))
	st := waitStatus(ctx, t, srv, "the group's lag", func(s statusOf) bool { return s.lag != 0 })
	for range 10 { // it stays so while nobody folds
		if st.ready || st.lag != events || st.owned != 0 || st.ownedLag != 0 {
			t.Fatalf("owning nothing while %d events wait: status %+v, want not ready, lag %d", events, st, events)
		}
		time.Sleep(50 * time.Millisecond)
		st = readStatus(t, srv)
	}
	squatter.Close() // leaves the group: the partition comes to the processor
	waitStatus(ctx, t, srv, "ready and caught up", func(s statusOf) bool { return s.ready && s.lag == 0 && s.owned == 1 })
	waitMirrored(ctx, t, cl, events)
}

// waitMirrored waits until the group's committed offset of partition 0 is
// want, as kafka-consumer-groups would show it.
func waitMirrored(ctx context.Context, t *testing.T, cl *e2etest.Cluster, want int64) {
	t.Helper()
	c, err := kgo.NewClient(kgo.SeedBrokers(cl.Brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	adm := kadm.NewClient(c)
	var got any = "nothing"
	for ctx.Err() == nil {
		offs, err := adm.FetchOffsets(ctx, cl.Group)
		if err == nil {
			if o, ok := offs.Lookup(cl.Topics().Events, 0); ok {
				if got = o.At; o.At == want {
					return
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("group offset of partition 0: %v, want %d", got, want)
}
