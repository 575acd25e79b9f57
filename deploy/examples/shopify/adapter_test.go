package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stockledger/stockledger/processors/publish"
)

var testSecret = []byte("whsec_test")

// testKey is one key the simulated publisher sends, and its inventory item.
type testKey struct {
	sku     string
	listing *string
	itemID  string
}

// testSeed returns STOCKLEDGER_TEST_SEED if set, else a time-based seed.
func testSeed(t *testing.T) uint64 {
	t.Helper()
	if s := os.Getenv("STOCKLEDGER_TEST_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("STOCKLEDGER_TEST_SEED=%q: %v", s, err)
		}
		return v
	}
	return uint64(time.Now().UnixNano())
}

// testKeys is skus SKUs and, for the first listings of them, a 3-pack
// listing each, with inventory items numbered from 1001.
func testKeys(skus, listings int) []testKey {
	var keys []testKey
	for i := range skus {
		keys = append(keys, testKey{sku: fmt.Sprintf("TEE-%03d", i)})
	}
	for i := range listings {
		l := fmt.Sprintf("TEE-%03d-3PK", i)
		keys = append(keys, testKey{sku: fmt.Sprintf("TEE-%03d", i), listing: &l})
	}
	for i := range keys {
		keys[i].itemID = fmt.Sprintf("%s%d", inventoryItemPrefix, 1001+i)
	}
	return keys
}

// mappingFile is keys as the adapter's mapping file.
func mappingFile(keys []testKey) string {
	var b strings.Builder
	b.WriteString("# sku, listing, inventory item\n")
	for _, k := range keys {
		line, _ := json.Marshal(mappingLine{SKU: k.sku, ListingSKU: k.listing, InventoryItemID: k.itemID})
		b.Write(line)
		b.WriteString("\n\n")
	}
	return b.String()
}

// rig is an adapter between a stand-in Shopify and a test playing the publisher.
type rig struct {
	keys    []testKey
	standin *standin
	adapter *adapter
	url     string // the adapter's webhook
}

func newRig(t *testing.T, seed uint64, faults faultRates, keys []testKey) *rig {
	t.Helper()
	items, err := parseMapping(strings.NewReader(mappingFile(keys)), "map.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	qty := make(map[string]int64, len(keys))
	for i, k := range keys {
		qty[k.itemID] = int64(100 + i%900) // version 0
	}
	s := newStandin(seed, faults, qty)
	shopSrv := httptest.NewServer(s)
	t.Cleanup(shopSrv.Close)
	shop := &shopifyClient{
		endpoint:   shopSrv.URL + standinPath,
		token:      standinToken,
		locationID: standinLocation,
		http:       &http.Client{Timeout: 10 * time.Second},
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	a := newAdapter(testSecret, shop, items, log)
	adapterSrv := httptest.NewServer(a)
	t.Cleanup(adapterSrv.Close)
	return &rig{keys: keys, standin: s, adapter: a, url: adapterSrv.URL}
}

// post sends body to the adapter signed with secret, and returns the
// status, Retry-After and body of the answer.
func (r *rig) post(t *testing.T, secret []byte, body []byte) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, r.url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(publish.SignatureHeader, publish.Sign(secret, time.Now(), body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0, "", ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), string(b)
}

// item is key k's value at version.
func item(k testKey, version uint64, available int64) publish.Item {
	listing := ""
	if k.listing != nil {
		listing = *k.listing
	}
	return publish.Item{
		SKU: k.sku, ListingSKU: k.listing, Available: available, Version: version,
		OccurredAt:     time.Now().UTC().Truncate(time.Millisecond),
		IdempotencyKey: publish.IdempotencyKey("web", k.sku, listing, version),
	}
}

func requestBody(t *testing.T, items ...publish.Item) []byte {
	t.Helper()
	b, err := json.Marshal(publish.Request{Channel: "web", SentAt: time.Now().UTC(), Updates: items})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAdapterUnderFaults plays a publisher under failures against the
// adapter, in front of a stand-in Shopify that throttles, fails, loses
// replies, delays, and sells at a POS behind the adapter's back. In the
// end Shopify holds every key's last value, and no key's quantity ever
// reflected a lower version than before.
func TestAdapterUnderFaults(t *testing.T) {
	seed := testSeed(t)
	t.Logf("seed %d (replay with STOCKLEDGER_TEST_SEED=%d)", seed, seed)
	faults := faultRates{throttle429: 0.03, throttled: 0.03, failBefore: 0.05, lostReply: 0.06, delay: 0.3, maxDelay: 2 * time.Millisecond}
	r := newRig(t, seed, faults, testKeys(120, 40))
	r.adapter.maxItems = 7 // batches of 10 take two mutations
	p := newSimPublisher(t, r, seed)
	start := time.Now()
	p.run(400, 4)
	took := time.Since(start)

	for i, k := range r.keys {
		want := p.newest[i]
		if got := r.standin.quantity(k.itemID); got != want.available {
			t.Errorf("%s: Shopify holds %d, the last value sent is %d (version %d)", describeTarget(k.sku, k.listing), got, want.available, want.version)
		}
		ks := r.adapter.mu.keys[publish.Item{SKU: k.sku, ListingSKU: k.listing}.Target()]
		if ks == nil || ks.applied != want.version {
			t.Errorf("%s: the adapter's applied version is not the last sent, %d", describeTarget(k.sku, k.listing), want.version)
		}
	}
	for _, v := range r.standin.violations() {
		t.Error(v)
	}
	st := r.standin.stats()
	t.Logf("%s: publisher %+v", took.Round(time.Millisecond), p.stats)
	t.Logf("stand-in %+v", st)
	// The faults the test is about must have happened, or it proved little.
	if st.stale == 0 || st.lostReplies == 0 || st.throttled == 0 || p.stats.late == 0 || p.stats.resent == 0 {
		t.Errorf("a fault never happened: stand-in %+v, publisher %+v", st, p.stats)
	}
}

// TestBadSignature: 401, and nothing reaches Shopify.
func TestBadSignature(t *testing.T) {
	r := newRig(t, 1, faultRates{}, testKeys(2, 0))
	k := r.keys[0]
	before := r.standin.quantity(k.itemID)
	body := requestBody(t, item(k, 3, 3500))
	if code, _, msg := r.post(t, []byte("not the secret"), body); code != http.StatusUnauthorized || !strings.Contains(msg, "does not match") {
		t.Errorf("wrong secret: %d %q, want 401 naming the mismatch", code, msg)
	}
	req, _ := http.NewRequest(http.MethodPost, r.url, bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no signature: %d, want 401", resp.StatusCode)
	}
	if got := r.standin.quantity(k.itemID); got != before || r.standin.stats().requests != 0 {
		t.Errorf("after refused requests Shopify holds %d (was %d) after %d requests", got, before, r.standin.stats().requests)
	}
}

// TestUnmappedSKU: 422 naming the SKU and the mapping file; the request's
// mapped items are applied all the same.
func TestUnmappedSKU(t *testing.T) {
	r := newRig(t, 1, faultRates{}, testKeys(2, 0))
	k := r.keys[0]
	unknown := testKey{sku: "MUG-XL"}
	code, _, msg := r.post(t, testSecret, requestBody(t, item(k, 2, 2500), item(unknown, 7, 7500)))
	if code != http.StatusUnprocessableEntity || !strings.Contains(msg, `SKU "MUG-XL"`) || !strings.Contains(msg, "--map") {
		t.Errorf("unmapped SKU: %d %q, want 422 naming the SKU and --map", code, msg)
	}
	if got := r.standin.quantity(k.itemID); got != 2500 {
		t.Errorf("the mapped item: Shopify holds %d, want 2500", got)
	}
}

// TestPOSSaleBetweenSets: a stale changeFromQuantity is read again and the
// set retried.
func TestPOSSaleBetweenSets(t *testing.T) {
	r := newRig(t, 1, faultRates{}, testKeys(3, 1))
	k := r.keys[3] // a listing
	mustPost(t, r, item(k, 1, 1500), item(r.keys[0], 1, 1510))
	r.standin.posSale(k.itemID)
	mustPost(t, r, item(k, 2, 2500), item(r.keys[0], 2, 2510))
	if q0, q := r.standin.quantity(r.keys[0].itemID), r.standin.quantity(k.itemID); q != 2500 || q0 != 2510 {
		t.Errorf("Shopify holds %d and %d, want 2500 and 2510", q, q0)
	}
	if st := r.standin.stats(); st.stale != 1 || st.applied != 2 {
		t.Errorf("stand-in %+v, want one stale compare and two sets", st)
	}
}

// TestLostReplyThenOlderRequest: Shopify applies version 5 but its answer
// is lost; a late request with version 3 must not undo it, and the resend
// of version 5 is recognised by its idempotency key.
func TestLostReplyThenOlderRequest(t *testing.T) {
	r := newRig(t, 1, faultRates{}, testKeys(1, 0))
	k := r.keys[0]
	r.standin.force(faultNone, faultLostReply) // the read, then the mutation
	if code, _, _ := r.post(t, testSecret, requestBody(t, item(k, 5, 5500))); code != http.StatusBadGateway {
		t.Fatalf("lost reply: %d, want 502", code)
	}
	mustPost(t, r, item(k, 3, 3500))
	if q := r.standin.quantity(k.itemID); q != 5500 {
		t.Errorf("after the late version 3 Shopify holds %d, want 5500", q)
	}
	mustPost(t, r, item(k, 5, 5500))
	if st := r.standin.stats(); st.replays != 1 || st.applied != 1 {
		t.Errorf("stand-in %+v, want the resend replayed", st)
	}
	for _, v := range r.standin.violations() {
		t.Error(v)
	}
}

// TestThrottled: Shopify's throttling reaches the publisher as 429 with a
// Retry-After in whole seconds; its 5xx as 502.
func TestThrottled(t *testing.T) {
	r := newRig(t, 1, faultRates{}, testKeys(1, 0))
	k := r.keys[0]
	for _, c := range []struct {
		f          fault
		code       int
		retryAfter string
	}{
		{fault429, http.StatusTooManyRequests, "2"},       // Shopify's Retry-After: 2.0
		{faultThrottled, http.StatusTooManyRequests, "1"}, // (12-4)/100 s, at least 1 s
		{faultServerError, http.StatusBadGateway, ""},
	} {
		r.standin.force(c.f)
		code, ra, _ := r.post(t, testSecret, requestBody(t, item(k, 1, 1500)))
		if code != c.code || ra != c.retryAfter {
			t.Errorf("fault %d: %d Retry-After %q, want %d %q", c.f, code, ra, c.code, c.retryAfter)
		}
	}
	mustPost(t, r, item(k, 1, 1500))
}

func mustPost(t *testing.T, r *rig, items ...publish.Item) {
	t.Helper()
	if code, _, msg := r.post(t, testSecret, requestBody(t, items...)); code != http.StatusOK {
		t.Fatalf("%d %s", code, msg)
	}
}

func TestParseMapping(t *testing.T) {
	in := `{"sku": "A", "inventory_item_id": "gid://shopify/InventoryItem/1"}
{"sku": "A", "listing_sku": "A-3PK", "inventory_item_id": "gid://shopify/InventoryItem/2"}
{"sku": "B", "inventory_item_id": "12345"}
{"sku": "A", "listing_sku": null, "inventory_item_id": "gid://shopify/InventoryItem/3"}
{"sku": "C", "inventory_item_id": "gid://shopify/InventoryItem/2"}
sku,inventory_item_id
{"sku": "D", "inventory_item": "gid://shopify/InventoryItem/4"}
`
	_, err := parseMapping(strings.NewReader(in), "map.jsonl")
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`map.jsonl:3: inventory_item_id "12345" is not a Shopify inventory item GID`,
		`map.jsonl:4: SKU "A" is already mapped on line 1`,
		`map.jsonl:5: gid://shopify/InventoryItem/2 is already mapped on line 2`,
		`map.jsonl:6: want {"sku"`,
		`map.jsonl:7: want {"sku"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	m, err := parseMapping(strings.NewReader(strings.Join(strings.Split(in, "\n")[:2], "\n")), "map.jsonl")
	if err != nil || len(m) != 2 || m["A\x00A-3PK"] != "gid://shopify/InventoryItem/2" {
		t.Errorf("good lines: %v %v", m, err)
	}
}

// simPublisher plays `stockledger publish` under failures: it sends the
// newest value of every unacknowledged key in batches, several batches at
// once, resends after a failure with the newest values, and besides
// delivers duplicates at once and copies of old requests late (after
// newer ones, concurrently with them), as a network and a publisher that
// retries would.
type simPublisher struct {
	t      *testing.T
	r      *rig
	batch  int
	newest []value // by key index; written only before senders read it or under mu

	mu struct {
		sync.Mutex
		rng      *rand.Rand
		acked    []uint64
		inflight []bool
		done     bool // no more versions will be generated
	}
	late  sync.WaitGroup
	stats struct{ requests, resent, dups, late, throttled, failed int } // under mu
	old   [][]byte                                                      // bodies sent, for a last volley of late copies; under mu
}

type value struct {
	version   uint64
	available int64
}

func newSimPublisher(t *testing.T, r *rig, seed uint64) *simPublisher {
	p := &simPublisher{t: t, r: r, batch: 10, newest: make([]value, len(r.keys))}
	p.mu.rng = rand.New(rand.NewPCG(seed, 0xfeed))
	p.mu.acked = make([]uint64, len(r.keys))
	p.mu.inflight = make([]bool, len(r.keys))
	return p
}

// run generates rounds of new versions while POS sales happen, then a
// last version of every key with the POS stopped (a sale in Shopify after
// the last value would be a later event the ledger has not seen), and
// waits until every key's last value is acknowledged and every late copy
// delivered.
func (p *simPublisher) run(rounds, senders int) {
	var wg sync.WaitGroup
	for range senders {
		wg.Add(1)
		go func() { defer wg.Done(); p.send() }()
	}
	stopPOS := make(chan struct{})
	posDone := make(chan struct{})
	go p.pos(stopPOS, posDone)
	for range rounds {
		p.generate(0.1)
		time.Sleep(time.Millisecond)
	}
	close(stopPOS)
	<-posDone
	p.generate(1)
	p.mu.Lock()
	p.mu.done = true
	p.mu.Unlock()
	wg.Wait()
	p.volley()
	p.late.Wait()
}

// generate gives a fraction of the keys a new version (up by 1 to 3) and
// value (in that version's range, see versionOf).
func (p *simPublisher) generate(fraction float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range p.newest {
		if p.mu.rng.Float64() >= fraction {
			continue
		}
		v := p.newest[i].version + 1 + p.mu.rng.Uint64N(3)
		p.newest[i] = value{version: v, available: int64(v)*1000 + 500 + p.mu.rng.Int64N(100)}
	}
}

func (p *simPublisher) pos(stop, done chan struct{}) {
	defer close(done)
	for {
		select {
		case <-stop:
			return
		case <-time.After(time.Millisecond):
		}
		p.mu.Lock()
		k := p.r.keys[p.mu.rng.IntN(len(p.r.keys))]
		p.mu.Unlock()
		p.r.standin.posSale(k.itemID)
	}
}

// next takes up to batch keys whose newest value is unacknowledged and
// not in flight; finished reports that none is left, nor will be.
func (p *simPublisher) next() (idx []int, items []publish.Item, finished bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pending := false
	for i, v := range p.newest {
		if v.version <= p.mu.acked[i] {
			continue
		}
		pending = true
		if p.mu.inflight[i] || len(idx) == p.batch {
			continue
		}
		p.mu.inflight[i] = true
		idx = append(idx, i)
		items = append(items, item(p.r.keys[i], v.version, v.available))
	}
	return idx, items, !pending && p.mu.done
}

// send is one sender: it loops over batches until everything is acknowledged.
func (p *simPublisher) send() {
	for {
		idx, items, finished := p.next()
		if finished {
			return
		}
		if len(idx) == 0 {
			time.Sleep(200 * time.Microsecond)
			continue
		}
		body := requestBody(p.t, items...)
		p.chaos(body)
		code, retryAfter, msg := p.r.post(p.t, testSecret, body)
		wait := p.settle(idx, items, code, retryAfter, msg)
		time.Sleep(wait)
	}
}

// chaos sends copies of a request: one at once (a duplicate), or one
// later (a late copy, delivered after newer requests).
func (p *simPublisher) chaos(body []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.old = append(p.old, body)
	switch x := p.mu.rng.Float64(); {
	case x < 0.1:
		p.stats.dups++
		p.deliverLocked(body, 0)
	case x < 0.25:
		p.stats.late++
		p.deliverLocked(body, time.Duration(1+p.mu.rng.IntN(30))*time.Millisecond)
	}
}

func (p *simPublisher) deliverLocked(body []byte, after time.Duration) {
	p.late.Add(1)
	go func() {
		defer p.late.Done()
		time.Sleep(after)
		// Its answer does not matter (the publisher gave up on it), but
		// the adapter must take it for a valid request.
		if code, _, msg := p.r.post(p.t, testSecret, body); code == http.StatusBadRequest || code == http.StatusUnauthorized || code == http.StatusUnprocessableEntity {
			p.t.Errorf("a copy of an old request: %d %s", code, msg)
		}
	}()
}

// volley delivers copies of old requests after everything was
// acknowledged, all at once.
func (p *simPublisher) volley() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range 30 {
		p.stats.late++
		p.deliverLocked(p.old[p.mu.rng.IntN(len(p.old))], 0)
	}
}

// settle records a batch's answer and returns how long to wait before the next.
func (p *simPublisher) settle(idx []int, items []publish.Item, code int, retryAfter, msg string) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.requests++
	for j, i := range idx {
		p.mu.inflight[i] = false
		if code/100 == 2 {
			p.mu.acked[i] = max(p.mu.acked[i], items[j].Version)
		} else {
			p.stats.resent++
		}
	}
	switch {
	case code/100 == 2:
		return 0
	case code == http.StatusTooManyRequests:
		p.stats.throttled++
		secs, err := strconv.Atoi(retryAfter)
		if err != nil || secs < 1 {
			p.t.Errorf("429 with Retry-After %q, want whole seconds", retryAfter)
		}
		// The test's clock: a second of Retry-After is a millisecond.
		return time.Duration(secs) * time.Millisecond
	case code == http.StatusBadGateway || code == http.StatusConflict:
		p.stats.failed++
		return time.Duration(p.mu.rng.IntN(1000)) * time.Microsecond
	default:
		p.t.Errorf("batch answered %d %s", code, msg)
		return time.Millisecond
	}
}

func TestFlags(t *testing.T) {
	t.Setenv("STOCKLEDGER_WEBHOOK_SECRET", "s")
	t.Setenv("SHOPIFY_ACCESS_TOKEN", "shpat_x")
	c, err := parseFlags([]string{"--shop", "https://x.myshopify.com", "--location-id", "gid://shopify/Location/7", "--map", "m.jsonl"}, io.Discard)
	if err != nil || c.Secret != "s" || c.AccessToken != "shpat_x" || c.Listen != "127.0.0.1:8090" {
		t.Errorf("%+v %v", c, err)
	}
	_, err = parseFlags([]string{"--shop", "x.myshopify.com", "--api-version", "2025-10", "--location-id", "7", "--map", "m.jsonl"}, io.Discard)
	for _, want := range []string{"--shop", "--api-version", "--location-id"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %s: %v", want, err)
		}
	}
}

// TestItemNotInShop: a mapped inventory item Shopify does not know is a
// 422 naming it, not a retry storm of 502s.
func TestItemNotInShop(t *testing.T) {
	r := newRig(t, 1, faultRates{}, testKeys(2, 0))
	k := r.keys[1]
	r.standin.mu.Lock()
	delete(r.standin.mu.qty, k.itemID)
	r.standin.mu.Unlock()
	code, _, msg := r.post(t, testSecret, requestBody(t, item(k, 1, 1500)))
	if code != http.StatusUnprocessableEntity || !strings.Contains(msg, k.itemID+" does not exist") {
		t.Errorf("%d %q, want 422 naming %s", code, msg, k.itemID)
	}
}
