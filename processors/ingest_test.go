package processors_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/stockledger/stockledger/ledger/gen"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/processors/e2etest"
)

// TestIngestRefusesWholeThenAppliesOnce is the acceptance for POST
// /v1/events: 1,000 lines with 10 bad ones are refused whole, each bad line
// named; with partial=true the 990 are written, and posting the same body
// again changes nothing in the ledger: it equals the model of the 990
// lines folded once. The second post goes through Python's urllib, a
// client of another make (skipped where python3 is missing).
func TestIngestRefusesWholeThenAppliesOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const parts = 4
	cl, err := e2etest.NewCluster("ingest", parts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	l, err := e2etest.StartLive(ctx, cl, filepath.Join(t.TempDir(), "ledger"), parts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Stop()
	const token = "ingest-token"
	cfg := processors.DefaultHTTPConfig()
	cfg.Token = token
	api := serveAPI(t, l, listen(t), cfg)

	lines := gen.Stream(gen.Config{Seed: 5, SKUs: 40}, 1000)
	badAt := []int{3, 97, 150, 151, 400, 512, 640, 777, 901, 1000} // line numbers, from 1
	valid := make([][]byte, 0, len(lines))
	var body bytes.Buffer
	for i, line := range lines {
		n := i + 1
		switch {
		case !slices.Contains(badAt, n):
			valid = append(valid, line)
		case n%2 == 0:
			line = []byte(`{"event_id":"bad-` + strconv.Itoa(n) + `","type":"receipt","occurred_at":"2026-11-27T10:00:00Z","sku":"S","location":"dc","qty":-4}`)
		default:
			line = []byte(`{"event_id": not json`)
		}
		body.Write(line)
		body.WriteByte('\n')
	}
	before := endOffsets(ctx, t, l, cl)

	code, a := postEvents(t, api.url+"/v1/events", token, body.Bytes())
	if code != http.StatusUnprocessableEntity || a.Accepted != 0 || a.Refused != len(badAt) {
		t.Fatalf("a body with bad lines: %d, accepted %d refused %d, want 422, 0, %d: %s", code, a.Accepted, a.Refused, len(badAt), a.Error)
	}
	var named []int
	for _, ln := range a.Lines {
		if ln.Status == "refused" {
			named = append(named, ln.Line)
		}
	}
	if !slices.Equal(named, badAt) {
		t.Fatalf("refused lines %v, want %v", named, badAt)
	}
	if after := endOffsets(ctx, t, l, cl); !maps.Equal(before, after) {
		t.Fatalf("a body refused whole wrote events: end offsets %v, then %v", before, after)
	}

	code, a = postEvents(t, api.url+"/v1/events?partial=true", token, body.Bytes())
	if code != http.StatusOK || a.Accepted != len(valid) || a.Refused != len(badAt) {
		t.Fatalf("partial=true: %d, accepted %d refused %d, want 200, %d, %d: %s", code, a.Accepted, a.Refused, len(valid), len(badAt), a.Error)
	}
	if py, err := exec.LookPath("python3"); err == nil {
		code, a = postWithPython(ctx, t, py, api.url+"/v1/events?partial=true", token, body.Bytes())
	} else {
		t.Log("python3 not found: the second post goes through Go's client")
		code, a = postEvents(t, api.url+"/v1/events?partial=true", token, body.Bytes())
	}
	if code != http.StatusOK || a.Accepted != len(valid) {
		t.Fatalf("the same body again: %d, accepted %d, want 200, %d", code, a.Accepted, len(valid))
	}

	if err := l.WaitCaughtUp(ctx, cl); err != nil {
		t.Fatal(err)
	}
	exp := e2etest.Expect(valid)
	if diffs := e2etest.CompareSKUs(exp, e2etest.StoreSKUs(l.Store, parts)); len(diffs) > 0 {
		t.Fatalf("the ledger after the body twice is not the model of its valid lines once:\n%v", diffs)
	}
}

// ingestAnswer is POST /v1/events's answer, as a client reads it.
type ingestAnswer struct {
	Accepted, Refused int
	Error             string
	Lines             []struct {
		Line   int
		Status string
	}
}

func postEvents(t *testing.T, url, token string, body []byte) (int, ingestAnswer) {
	t.Helper()
	req, err := http.NewRequest("POST", url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var a ingestAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("POST %s: %d %s", url, resp.StatusCode, raw)
	}
	return resp.StatusCode, a
}

// postWithPython posts body with Python's standard urllib and returns the
// status and the answer it read.
func postWithPython(ctx context.Context, t *testing.T, py, url, token string, body []byte) (int, ingestAnswer) {
	t.Helper()
	const script = `
import json, sys, urllib.request, urllib.error
req = urllib.request.Request(sys.argv[1], data=sys.stdin.buffer.read(), method="POST",
    headers={"Content-Type": "application/x-ndjson", "Authorization": "Bearer " + sys.argv[2]})
try:
    with urllib.request.urlopen(req, timeout=60) as r:
        status, raw = r.status, r.read()
except urllib.error.HTTPError as e:
    status, raw = e.code, e.read()
json.dump({"status": status, "answer": json.loads(raw)}, sys.stdout)
`
	cmd := exec.CommandContext(ctx, py, "-c", script, url, token)
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3 urllib: %v", err)
	}
	var res struct {
		Status int
		Answer ingestAnswer
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("python3 urllib printed %s: %v", out, err)
	}
	return res.Status, res.Answer
}

// endOffsets are the events topic's end offsets.
func endOffsets(ctx context.Context, t *testing.T, l *e2etest.Live, cl *e2etest.Cluster) map[int32]int64 {
	t.Helper()
	ends, err := kadm.NewClient(l.P.Client()).ListEndOffsets(ctx, cl.Topics().Events)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}
