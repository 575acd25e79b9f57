package standin

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stockledger/stockledger/processors/publish"
)

func send(t *testing.T, c *Channel, secret []byte, version uint64) int {
	t.Helper()
	body, _ := json.Marshal(publish.Request{Channel: "web", SentAt: time.Now().UTC(), Updates: []publish.Item{{
		SKU: "A", Available: 1, Version: version, OccurredAt: time.Now().UTC(),
		IdempotencyKey: publish.IdempotencyKey("web", "A", "", version)}}})
	req, _ := http.NewRequest(http.MethodPost, c.URL(), bytes.NewReader(body))
	req.Header.Set(publish.SignatureHeader, publish.Sign(secret, time.Now(), body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestStandinMeasuresTheRate(t *testing.T) {
	secret := []byte("k")
	paced, err := Start(secret, 10, 2, Faults{})
	if err != nil {
		t.Fatal(err)
	}
	defer paced.Close()
	for i := range 8 { // the burst, then one every 1/rate
		if i >= 2 {
			time.Sleep(100 * time.Millisecond)
		}
		send(t, paced, secret, uint64(i+1))
	}
	if r := paced.Report(); len(r.Breaches) != 0 || r.ByStatus[200] != 8 {
		t.Errorf("requests at the rate: %+v, want 8 applied and no breach", r)
	}

	hasty, err := Start(secret, 10, 2, Faults{})
	if err != nil {
		t.Fatal(err)
	}
	defer hasty.Close()
	for i := range 8 { // the burst, then one every 1/(2 rate)
		if i >= 2 {
			time.Sleep(50 * time.Millisecond)
		}
		send(t, hasty, secret, uint64(i+1))
	}
	if r := hasty.Report(); len(r.Breaches) < 2 || r.ByStatus[429] != len(r.Breaches) {
		t.Errorf("requests at twice the rate: %+v, want breaches answered 429", r)
	}
}

func TestStandinChecksSignatureAndVersions(t *testing.T) {
	secret := []byte("k")
	c, err := Start(secret, 100, 100, Faults{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := send(t, c, []byte("wrong"), 1); got != http.StatusUnauthorized {
		t.Errorf("a request signed with another key: %d, want 401", got)
	}
	send(t, c, secret, 5)
	send(t, c, secret, 4)
	r := c.Report()
	if len(r.Invalid) != 1 || len(r.Regressions) != 1 || r.LateDropped != 1 {
		t.Errorf("report %+v: want the bad signature, version 4 after 5, and 4 not applied", r)
	}
	if v := c.State()["A"]; v.Version != 5 {
		t.Errorf("state %+v, want version 5 kept", v)
	}
}

func TestStandinMeasuresImpatience(t *testing.T) {
	secret := []byte("k")
	c, err := Start(secret, 100, 100, Faults{Throttle: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := send(t, c, secret, 1); got != http.StatusTooManyRequests {
		t.Fatalf("a throttled request: %d, want 429", got)
	}
	send(t, c, secret, 1)
	if r := c.Report(); len(r.Impatient) != 1 {
		t.Errorf("a request right after a 429 with Retry-After: 1: %+v, want it reported", r)
	}
}
