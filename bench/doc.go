// Command bench is stockledger's benchmark harness: it answers how many
// events per second stockledger folds, how fast a channel hears of a sale,
// how much memory and disk a SKU-location costs, and how long a crashed
// processor takes to fold again.
//
//	go run ./bench                  # every workload at small sizes (minutes)
//	go run ./bench -full            # the sizes, three runs each (hours)
//	go run ./bench -workloads steady -cpuprofile steady.prof
//	go run ./bench -brokers 127.0.0.1:19092   # against a real Kafka
//
// Each workload is a Config with a Run method; the harness holds no
// globals. The fold workloads (steady, flash, replay) pre-fill a fresh
// events topic with a seeded stream from ledger/gen, read it once with a
// raw consumer (the ceiling, same client settings) and once with an
// in-process processors.Processor on a fresh Pebble store, then offer
// events at fixed rates and match each channel update to its cause for
// latency. The holds workload pre-fills and folds a catalog of 1M SKUs
// the same way (no raw read), serves the processor's HTTP API on
// 127.0.0.1 and offers POST /v1/holds open-loop at fixed rates, timing
// each hold from its due time to its answer. The restart and scale
// workloads run `stockledger run` as a child process, so its memory and
// CPU are its own. See README.md for the
// figures and how each is taken.
//
// The same package holds the fold micro-benchmarks (go test -bench .) and a
// smoke test that runs every workload at a minimal size.
package main
