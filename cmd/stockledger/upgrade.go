package main

import (
	"fmt"

	"github.com/stockledger/stockledger/processors"
)

// pebbleV1Help is run's answer to a store written by a stockledger on
// Pebble v1 (store.ErrPebbleV1Format): Pebble v2 cannot open or convert
// it, and waiting does not help, so run stops at once and says how to
// build the store again. Nothing is moved or deleted for the operator: the
// old directory is the only copy of the published marks, and the way back
// to the previous release.
func pebbleV1Help(err error, dir string, cfg processors.Config) error {
	refill := fmt.Sprintf("each partition it is assigned is restored from the changelog topic %s and folded on from there "+
		"(a partition the changelog does not hold is folded from the start of %s)", cfg.Topics.Changelog, cfg.Topics.Events)
	if !cfg.Changelog {
		refill = fmt.Sprintf("with --changelog=false each partition it is assigned is folded again from the start of %s, "+
			"and its outputs are published again with the same versions", cfg.Topics.Events)
	}
	return fmt.Errorf("%w.\nThis release cannot read it. To upgrade, move that directory aside (mv %s %s.pebble-v1) "+
		"and start again with the same --data: %s. Once `stockledger verify` agrees, delete the old directory. "+
		"To go back instead, run the previous release on it", err, dir, dir, refill)
}
