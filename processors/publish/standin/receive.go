package standin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/stockledger/stockledger/processors/publish"
)

// receive measures a request's arrival against the rate limit and checks
// it; a status other than 0 is the answer to give at once.
func (c *Channel) receive(r *http.Request, body []byte) (publish.Request, int) {
	var req publish.Request
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.report.Requests++
	if now := time.Now(); now.Before(c.mu.notBefore.Add(-Jitter)) {
		c.mu.report.Impatient = append(c.mu.report.Impatient, fmt.Sprintf("request %d came %s before Retry-After allowed", c.mu.report.Requests, c.mu.notBefore.Sub(now).Round(time.Millisecond)))
	}
	if !c.spendToken(time.Now()) {
		c.mu.report.Breaches = append(c.mu.report.Breaches, fmt.Sprintf("request %d at %s: no token left", c.mu.report.Requests, time.Now().Format(time.StampMilli)))
		return req, http.StatusTooManyRequests
	}
	if err := publish.Verify(c.secret, r.Header.Get(publish.SignatureHeader), body, time.Now(), time.Minute); err != nil {
		c.mu.report.Invalid = append(c.mu.report.Invalid, "signature: "+err.Error())
		return req, http.StatusUnauthorized
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err == nil {
		err = c.schema.Validate(doc)
	}
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		c.mu.report.Invalid = append(c.mu.report.Invalid, err.Error())
		return req, http.StatusBadRequest
	}
	for _, it := range req.Updates {
		t := it.Target()
		listing := ""
		if it.ListingSKU != nil {
			listing = *it.ListingSKU
		}
		if want := publish.IdempotencyKey(req.Channel, it.SKU, listing, it.Version); it.IdempotencyKey != want {
			c.mu.report.Invalid = append(c.mu.report.Invalid, fmt.Sprintf("idempotency key %q, want %q", it.IdempotencyKey, want))
		}
		if it.Version < c.mu.received[t] {
			c.mu.report.Regressions = append(c.mu.report.Regressions,
				fmt.Sprintf("%s: version %d received after %d", it.IdempotencyKey, it.Version, c.mu.received[t]))
		}
		c.mu.received[t] = max(c.mu.received[t], it.Version)
	}
	return req, 0
}

// spendToken is the limit's token bucket: it refills at rate up to burst.
// A request that finds less than a token breaches it, less what the
// bucket refills in Jitter: the publisher paces its sends, but on a busy
// machine one request can take that much longer to arrive than the next,
// bringing the two closer; at most half a token, so that a request over
// the burst breaches it at any rate. A publisher sending faster than the
// rate still breaches it: the deficit grows with each request.
func (c *Channel) spendToken(now time.Time) bool {
	if !c.mu.last.IsZero() {
		c.mu.tokens = min(c.burst, c.mu.tokens+now.Sub(c.mu.last).Seconds()*c.rate)
	}
	c.mu.last = now
	if c.mu.tokens < 1-min(c.rate*Jitter.Seconds(), 0.5) {
		return false
	}
	c.mu.tokens--
	return true
}

// Jitter is the delivery delay spendToken forgives.
const Jitter = 50 * time.Millisecond

// misbehave answers a checked request as the dice say.
func (c *Channel) misbehave(w http.ResponseWriter, req publish.Request) {
	f := c.faults
	c.mu.Lock()
	x := c.mu.rng.Float64()
	c.mu.Unlock()
	switch {
	case x < f.Throttle:
		c.mu.Lock()
		c.mu.notBefore = time.Now().Add(time.Second)
		c.mu.Unlock()
		w.Header().Set("Retry-After", "1")
		c.answer(w, http.StatusTooManyRequests)
	case x < f.Throttle+f.Fail:
		c.answer(w, http.StatusInternalServerError)
	case x < f.Throttle+f.Fail+f.ApplyThenFail:
		c.apply(req)
		c.answer(w, http.StatusInternalServerError)
	case x < f.Throttle+f.Fail+f.ApplyThenFail+f.Late:
		// Sleeping, not waiting on the request's context: the point is to
		// apply after the publisher gave up and sent newer values.
		time.Sleep(f.LateBy)
		c.apply(req)
		c.answer(w, http.StatusOK)
	default:
		c.apply(req)
		c.answer(w, http.StatusOK)
	}
}

// apply applies each item whose version is above the one held.
func (c *Channel) apply(req publish.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, it := range req.Updates {
		t := it.Target()
		if it.Version <= c.mu.state[t].Version {
			if it.Version < c.mu.state[t].Version {
				c.mu.report.LateDropped++
			}
			continue
		}
		c.mu.state[t] = Value{Available: it.Available, Version: it.Version}
	}
}

func (c *Channel) answer(w http.ResponseWriter, status int) {
	c.mu.Lock()
	c.mu.report.ByStatus[status]++
	c.mu.Unlock()
	w.WriteHeader(status)
}
