package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/stockledger/stockledger/ledger/store"
)

// PartitionCheck is one partition's verification.
type PartitionCheck struct {
	Partition int32
	// Next is the live store's next offset: the replay stops there.
	Next   int64
	Live   Sum
	Replay Sum
	Match  bool
	// Diffs are the differing SKUs (at most the limit Verify was given);
	// More says how many more there were.
	Diffs []SKUDiff
	More  int
	// Policies describe differences of the partition's own state.
	Policies []string
}

// VerifyResult is the outcome of Verify.
type VerifyResult struct {
	Partitions []PartitionCheck
	Match      bool
	Replay     *ReplayResult
}

// Verify replays the events topic to the offsets the live store holds
// (every partition the store has, each to its own next offset) into a
// scratch store in scratchDir, and compares the two partition by partition:
// the state checksums, then, where they differ, the SKUs. live is only
// read. The caller closes res.Replay.
func Verify(ctx context.Context, cfg Config, live *store.Store, scratchDir string, maxDiffs int, prog *Progress) (*VerifyResult, error) {
	raw, err := live.Meta()
	if err != nil {
		return nil, fmt.Errorf("reading the live store's metadata: %w", err)
	}
	if raw == nil {
		return nil, errors.New("the live store has no metadata: it is not a stockledger store, or its processor never started")
	}
	var meta storeMeta
	if err := json.Unmarshal(raw, &meta); err != nil {
		return nil, fmt.Errorf("reading the live store's metadata: %w", err)
	}
	if meta.Topic != cfg.Topic {
		return nil, fmt.Errorf("the live store was built from topic %s, not %s (set --topic-prefix)", meta.Topic, cfg.Topic)
	}
	parts, err := live.Partitions()
	if err != nil {
		return nil, err
	}
	if len(parts) == 0 {
		return nil, errors.New("the live store holds no partition yet")
	}
	offsets := make(map[int32]int64, len(parts))
	for _, p := range parts {
		next, _, err := live.Offset(p)
		if err != nil {
			return nil, err
		}
		offsets[p] = next
	}
	rep, err := Replay(ctx, cfg, Stop{Offsets: offsets}, scratchDir, prog)
	if err != nil {
		return nil, err
	}
	if rep.Partitions != meta.Partitions {
		rep.Close()
		return nil, fmt.Errorf("the live store was built from %d partitions, but %s has %d", meta.Partitions, cfg.Topic, rep.Partitions)
	}
	res := &VerifyResult{Match: true, Replay: rep}
	for _, p := range parts {
		c := PartitionCheck{Partition: p, Next: offsets[p]}
		if c.Live, err = Checksum(live, p, cfg.Ledger); err != nil {
			rep.Close()
			return nil, fmt.Errorf("checksumming live partition %d: %w", p, err)
		}
		if c.Replay, err = Checksum(rep.Store, p, cfg.Ledger); err != nil {
			rep.Close()
			return nil, fmt.Errorf("checksumming replayed partition %d: %w", p, err)
		}
		c.Match = c.Live.Hash == c.Replay.Hash && c.Replay.Next == c.Next
		if !c.Match {
			res.Match = false
			diffs, total, pol, err := Diff(live, rep.Store, p, cfg.Ledger, maxDiffs)
			if err != nil {
				rep.Close()
				return nil, fmt.Errorf("comparing partition %d: %w", p, err)
			}
			c.Diffs, c.More, c.Policies = diffs, total-len(diffs), pol
		}
		res.Partitions = append(res.Partitions, c)
	}
	return res, nil
}
