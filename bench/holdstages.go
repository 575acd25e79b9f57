package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/processors"
	"github.com/stockledger/stockledger/schemas"
)

// Where a hold's round trip goes. After a phase, its hold events and
// hold results are read back from the topics, and each round trip is cut
// at the two records' timestamps (CreateTime, set when the API's and the
// processor's producers are handed them; whole milliseconds, so each
// stage is ±1 ms):
//
//   - to the event: due time → the hold event handed to the API's producer
//     (the generator's queue, HTTP, the handler);
//   - fold: → the hold result handed to the processor's producer (the
//     event's produce, the processor's fetch, its batch's fold);
//   - to the answer: → the answer received (the result's produce, the
//     API's watch fetching it, the handler's answer over HTTP).

// HoldStages splits a phase's round trips, in milliseconds.
type HoldStages struct {
	Matched  int         `json:"matched"` // round trips with both records found
	ToEvent  Percentiles `json:"to_event"`
	Fold     Percentiles `json:"fold"`
	ToAnswer Percentiles `json:"to_answer"`
	// TailMeans are the three stages' means over the round trips at or
	// above the phase's p99: where the tail's time goes.
	TailMeans [3]float64 `json:"tail_means_ms"`
}

// topicEnds are the end offsets of the events and hold-results topics.
type topicEnds struct{ events, results map[int32]int64 }

func holdTopicEnds(ctx context.Context, env *Env, t processors.Topics) (topicEnds, error) {
	adm, cl, err := env.admin()
	if err != nil {
		return topicEnds{}, err
	}
	defer cl.Close()
	var e topicEnds
	if e.events, _, err = endOffsets(ctx, adm, t.Events); err != nil {
		return e, err
	}
	e.results, _, err = endOffsets(ctx, adm, t.HoldResults)
	return e, err
}

// holdStages reads the records between from and to and splits the round
// trips of the requests of tally t whose hold_ids are tag-0, tag-1...
func holdStages(ctx context.Context, env *Env, top processors.Topics, from, to topicEnds, t *holdTally, tag string) (*HoldStages, error) {
	reg := schemas.NewRegistry()
	n := len(t.lat)
	evMS, resMS := make([]int64, n), make([]int64, n)
	index := func(holdID string) int {
		i, err := strconv.Atoi(strings.TrimPrefix(holdID, tag+"-"))
		if !strings.HasPrefix(holdID, tag+"-") || err != nil || i < 0 || i >= n {
			return -1
		}
		return i
	}
	var ev ledger.Event
	err := readRange(ctx, env, top.Events, from.events, to.events, func(r *kgo.Record) {
		ev.Reset()
		if _, _, err := reg.DecodeEvent(r.Value, &ev); err == nil && ev.Type == ledger.TypeHold {
			if i := index(ev.HoldID); i >= 0 {
				evMS[i] = r.Timestamp.UnixMilli()
			}
		}
	})
	if err != nil {
		return nil, err
	}
	var h ledger.HoldResult
	err = readRange(ctx, env, top.HoldResults, from.results, to.results, func(r *kgo.Record) {
		if reg.DecodeHoldResult(r.Value, &h) == nil {
			if i := index(h.HoldID); i >= 0 && resMS[i] == 0 {
				resMS[i] = r.Timestamp.UnixMilli()
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return t.stages(evMS, resMS), nil
}

// stages cuts each round trip of t at its event's and result's
// timestamps (Unix milliseconds; 0: not found).
func (t *holdTally) stages(evMS, resMS []int64) *HoldStages {
	var a, b, c, lat []int64
	for i := range t.lat {
		if evMS[i] == 0 || resMS[i] == 0 || t.code[i] == 0 {
			continue
		}
		due := t.due(i).UnixMicro()
		answered := due + t.lat[i]
		a, b, c = append(a, evMS[i]*1000-due), append(b, (resMS[i]-evMS[i])*1000), append(c, answered-resMS[i]*1000)
		lat = append(lat, t.lat[i])
	}
	s := &HoldStages{Matched: len(lat), ToEvent: summarize(a), Fold: summarize(b), ToAnswer: summarize(c)}
	sorted := slices.Clone(lat)
	slices.Sort(sorted)
	p99 := percentile(sorted, 99)
	var tail int
	for i, l := range lat {
		if l >= p99 {
			tail++
			s.TailMeans[0] += float64(a[i]) / 1000
			s.TailMeans[1] += float64(b[i]) / 1000
			s.TailMeans[2] += float64(c[i]) / 1000
		}
	}
	for k := range s.TailMeans {
		if tail > 0 {
			s.TailMeans[k] = round(s.TailMeans[k]/float64(tail), 2)
		}
	}
	return s
}

// readRange reads topic's partitions from from to to, handing each record
// to fn.
func readRange(ctx context.Context, env *Env, topic string, from, to map[int32]int64, fn func(*kgo.Record)) error {
	offs := map[int32]kgo.Offset{}
	left := 0
	for p, end := range to {
		if end > from[p] {
			offs[p] = kgo.NewOffset().At(from[p])
			left++
		}
	}
	if left == 0 {
		return nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(env.Brokers...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offs}),
		kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	done := map[int32]bool{}
	for len(done) < left {
		fs := cl.PollFetches(rctx)
		if rctx.Err() != nil {
			return fmt.Errorf("reading %s back: %w", topic, rctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset < to[r.Partition] {
				fn(r)
			}
			if r.Offset+1 >= to[r.Partition] {
				done[r.Partition] = true
			}
		})
	}
	return nil
}
