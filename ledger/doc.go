// Package ledger is stockledger's deterministic core: the per-SKU stock
// ledger of the spec (ledger/DECISIONS.md records the choices the spec leaves
// open) as a pure fold.
//
// The model: a partition of the events topic owns a set of SKUs and one copy
// of every channel policy. Events of one SKU are applied to that SKU's
// state in topic order by [Partition.Apply]; a channel_policy event changes
// the partition's policies and then reaches every SKU the partition knows
// through [Partition.ApplyChannelPolicy] and [Partition.ReachSKU]. Each
// application returns an [Outcome] (applied, duplicate or refused with a
// [Reason]) and appends effects, the channel stock updates and alerts, to an
// [Effects] buffer that the caller owns and reuses.
//
// The package reads no clock, starts no goroutine and does no I/O: all time
// is the event's occurred_at. It imports only the standard library, so the
// same fold serves the live processor, replays, audits and tests.
package ledger
