// Package bench measures stockledger: the fold with Pebble (go test
// -bench), and, as workloads grow, the processor end to end.
package bench
