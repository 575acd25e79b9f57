package store

// PersistedSKUs calls fn with every SKU of partition p in its persisted
// form (ledger/layout.go), in key order, from one snapshot: the value of
// its state key (whole, or a split SKU's core) and, for a split SKU, its
// parts [first, next) of ledger.PartRange in order (nil for a whole one).
// The changelog re-sends a partition in this form. state is only valid
// during the call; parts stay valid.
func (s *Store) PersistedSKUs(p int32, fn func(name string, state []byte, parts [][]byte) error) error {
	return s.scanSKUs(p, fn)
}
