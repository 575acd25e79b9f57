// Package standin is a stand-in for a channel's webhook, for testing
// `stockledger publish`: it checks each request's signature and payload,
// applies items by version as the payload's contract asks, and misbehaves
// at random (fails, throttles, answers after the publisher gave up). It
// also measures what the publisher must never do: exceed the rate limit,
// or send a lower version of a key after a higher one.
package standin

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/stockledger/stockledger/schemas"
)

// Faults are the odds of each misbehaviour, per request.
type Faults struct {
	Seed          uint64
	Throttle      float64       // 429 with Retry-After: 1, nothing applied
	Fail          float64       // 500, nothing applied
	ApplyThenFail float64       // applied, then 500 (the answer is lost)
	Late          float64       // applied after LateBy, then answered (the publisher has given up by then)
	LateBy        time.Duration // longer than the publisher's --timeout
}

// Value is what the channel holds for a target (a SKU, or a SKU's listing).
type Value struct {
	Available int64
	Version   uint64
}

// Report is what the stand-in measured.
type Report struct {
	Requests    int
	ByStatus    map[int]int
	Breaches    []string // requests beyond the rate limit (or its burst)
	Regressions []string // a key sent at a lower version after a higher one
	Invalid     []string // bodies the JSON Schema refuses, bad signatures or idempotency keys
	Impatient   []string // requests sent before a 429's Retry-After had passed
	LateDropped int      // items not applied: the channel held a newer version
}

// Channel is a running stand-in.
type Channel struct {
	secret []byte
	rate   float64
	burst  float64
	faults Faults
	schema *jsonschema.Schema
	srv    *http.Server
	url    string

	mu struct {
		sync.Mutex
		rng      *rand.Rand
		state    map[string]Value
		received map[string]uint64 // highest version received per target
		tokens   float64
		last     time.Time
		// notBefore: a 429 asked for no request before then.
		notBefore time.Time
		report    Report
	}
}

// Start starts a stand-in on 127.0.0.1 that accepts requests signed with
// secret and measures them against rate (per second) and burst.
func Start(secret []byte, rate float64, burst int, f Faults) (*Channel, error) {
	c := &Channel{secret: secret, rate: rate, burst: float64(burst), faults: f}
	comp := jsonschema.NewCompiler()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemas.PublishRequestSchema))
	if err == nil {
		err = comp.AddResource("publish-request.schema.json", doc)
	}
	if err == nil {
		c.schema, err = comp.Compile("publish-request.schema.json")
	}
	if err != nil {
		return nil, fmt.Errorf("compiling the payload schema: %w", err)
	}
	c.mu.rng = rand.New(rand.NewPCG(f.Seed, 0x57a9d))
	c.mu.state, c.mu.received = map[string]Value{}, map[string]uint64{}
	c.mu.tokens, c.mu.report.ByStatus = c.burst, map[int]int{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c.url = "http://" + ln.Addr().String() + "/hook"
	c.srv = &http.Server{Handler: c, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = c.srv.Serve(ln) }()
	return c, nil
}

// URL is the webhook's address.
func (c *Channel) URL() string { return c.url }

// Close stops the stand-in.
func (c *Channel) Close() { _ = c.srv.Close() }

// State returns what the channel holds, by publish.Item.Target.
func (c *Channel) State() map[string]Value {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]Value, len(c.mu.state))
	for k, v := range c.mu.state {
		out[k] = v
	}
	return out
}

// NewClient tells the stand-in that the publisher restarted: a Retry-After
// was addressed to the process that got it, and a new one cannot know it.
// (The rate is still measured across restarts.)
func (c *Channel) NewClient() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.notBefore = time.Time{}
}

// Report returns what the stand-in measured so far.
func (c *Channel) Report() Report {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.mu.report
	r.ByStatus = make(map[int]int, len(c.mu.report.ByStatus))
	for k, v := range c.mu.report.ByStatus {
		r.ByStatus[k] = v
	}
	r.Breaches = append([]string(nil), r.Breaches...)
	r.Regressions = append([]string(nil), r.Regressions...)
	r.Invalid = append([]string(nil), r.Invalid...)
	r.Impatient = append([]string(nil), r.Impatient...)
	return r
}

func (c *Channel) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		c.answer(w, http.StatusBadRequest)
		return
	}
	req, status := c.receive(r, body)
	if status != 0 {
		c.answer(w, status)
		return
	}
	c.misbehave(w, req)
}
