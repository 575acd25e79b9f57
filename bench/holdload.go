package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The holds load generator is open-loop: request i is due at start +
// i/rate whatever became of the earlier ones, and its latency runs from
// that due time to its answer. A slow answer therefore delays no later
// request's clock (no coordinated omission): when every client is busy,
// the requests waiting for one count their wait. The clients' own delay
// (due time to the request leaving) is reported apart as the send lag, so
// a generator that falls behind shows.

// Hold statuses in answers, as counted.
const (
	answerGranted = iota
	answerPartial
	answerRefused
	answerExpired
	answerOther // a 409 without a hold result, or an error body
)

// holdTally is what one offer of holds got back, per request.
type holdTally struct {
	lat    []int64   // microseconds from due to answer
	lag    []int64   // microseconds from due to sent
	code   []int16   // HTTP status; 0: no answer (transport error)
	status []uint8   // answer* of a 201 or 409
	start  time.Time // request i is due at start + i/rate
	rate   float64
	took   time.Duration
}

// due is when request i is due.
func (t *holdTally) due(i int) time.Time {
	return t.start.Add(time.Duration(float64(i) / t.rate * 1e9))
}

// holdClient is an HTTP client with a keep-alive connection per client.
func holdClient(clients int) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        clients,
		MaxIdleConnsPerHost: clients,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}}
}

// postHold posts one hold and returns the answer's status and body.
func postHold(ctx context.Context, cl *http.Client, url string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := cl.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	// Read to the end, so the connection is reused.
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// offerHolds posts bodies at rate per second, open-loop, from up to
// clients concurrent requests, and waits for every answer.
func offerHolds(ctx context.Context, cl *http.Client, url string, bodies [][]byte, rate float64, clients int) (*holdTally, error) {
	n := len(bodies)
	t := &holdTally{lat: make([]int64, n), lag: make([]int64, n), code: make([]int16, n), status: make([]uint8, n),
		start: time.Now().Add(5 * time.Millisecond), rate: rate}
	// Buffered for every request: the schedule never waits for a client.
	jobs := make(chan int, n)
	due := t.due
	var last atomic.Int64
	var wg sync.WaitGroup
	for range min(clients, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				d := due(i)
				t.lag[i] = time.Since(d).Microseconds()
				code, body, err := postHold(ctx, cl, url, bodies[i])
				now := time.Now()
				t.lat[i] = now.Sub(d).Microseconds()
				if err == nil {
					t.code[i], t.status[i] = int16(code), answerStatus(body)
				}
				for v := last.Load(); now.UnixNano() > v && !last.CompareAndSwap(v, now.UnixNano()); v = last.Load() {
				}
			}
		}()
	}
	for i := 0; i < n && ctx.Err() == nil; {
		for now := time.Now(); i < n && !due(i).After(now); i++ {
			jobs <- i
		}
		if i < n {
			// Bursts stay within a millisecond of their due times.
			if d := time.Until(due(i)); d > 0 {
				time.Sleep(min(d, time.Millisecond))
			}
		}
	}
	close(jobs)
	wg.Wait()
	t.took = time.Unix(0, last.Load()).Sub(t.start)
	return t, ctx.Err()
}

// answerStatus reads the "status" of a hold result body without decoding
// the rest: the generator shares the cores with what it measures.
func answerStatus(body []byte) uint8 {
	const key = `"status":"`
	i := bytes.Index(body, []byte(key))
	if i < 0 {
		return answerOther
	}
	s := body[i+len(key):]
	if j := bytes.IndexByte(s, '"'); j >= 0 {
		s = s[:j]
	}
	switch string(s) {
	case "granted":
		return answerGranted
	case "partial":
		return answerPartial
	case "refused":
		return answerRefused
	case "expired":
		return answerExpired
	}
	return answerOther
}

// phase summarises t as the phase name at rate holds/s offered. Latency
// counts the answers that are a decision (201, 409); every other answer
// and every failed request is an error, by status.
func (t *holdTally) phase(name string, rate float64) HoldPhase {
	hp := HoldPhase{Name: name, OfferedPerSec: rate, Requests: len(t.code), Seconds: t.took.Seconds()}
	var ok []int64
	for i, c := range t.code {
		switch c {
		case http.StatusCreated, http.StatusConflict:
			ok = append(ok, t.lat[i])
			switch t.status[i] {
			case answerGranted:
				hp.Granted++
			case answerPartial:
				hp.Partial++
			case answerRefused:
				hp.Refused++
			case answerExpired:
				hp.Expired++
			default:
				hp.OtherAnswers++
			}
		default:
			hp.Errors++
			if hp.ErrorsByStatus == nil {
				hp.ErrorsByStatus = map[string]int{}
			}
			hp.ErrorsByStatus[strconv.Itoa(int(c))]++
		}
	}
	hp.Answered = len(ok)
	if t.took > 0 {
		hp.ProcessedPerSec = float64(len(ok)) / t.took.Seconds()
	}
	hp.KeptUp = hp.ProcessedPerSec >= 0.95*rate
	hp.Latency, hp.SendLag = summarize(ok), summarize(t.lag)
	return hp
}
