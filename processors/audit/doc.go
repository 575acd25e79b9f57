// Package audit answers analysts' questions from the events topic, the
// book of record: the whole ledger as of any offset or time (Replay), one
// SKU's history with its running quantities (History), whether the live
// store equals a replay of the topic (Verify), and what other channel
// policies would have done (Backtest).
//
// The model. The ledger is a pure fold of each partition of the events
// topic (ledger.Partition and its SKUs), so the ledger "as of" a point is
// the fold of a prefix of every partition, and a fold here is the live
// processor's fold: decode, validate, apply; a channel_policy reaches every
// SKU the partition knows, in SKU order. Audits read the topic directly
// (no consumer group, read_committed as the processor reads it), one
// goroutine per partition, and never touch the live store: a replay writes
// a new scratch store, and Verify only reads the live one (opened
// read-only, or a checkpoint of it).
//
// A point is given by offsets (Stop.Offsets: the next offset per
// partition, as the store and /v1/status name it) or by a time
// (Stop.Until: the record timestamp, when Kafka got the event; not
// occurred_at, which is not ordered within a partition; ledger/DECISIONS.md,
// Audits). Replay keeps states in memory and writes them back to the
// scratch store in batches, reading the store only for states it evicted
// (Config.MaxHotSKUs). History folds only the SKU's partition, and of it
// only the channel policies and that SKU. Backtest folds every partition
// twice in step, in memory.
package audit
