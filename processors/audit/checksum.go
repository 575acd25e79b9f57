package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/stockledger/stockledger/ledger"
	"github.com/stockledger/stockledger/ledger/store"
)

// Sum is a partition's state checksum: SHA-256 over the partition's state
// (its channel policies and policy ids, in their canonical encoding) and,
// in key order, every SKU's name and state encoding. The encodings are
// deterministic (ledger/encoding.go), so two stores hold the same ledger of
// a partition exactly when their sums are equal.
type Sum struct {
	Partition int32
	Next      int64 // the partition's next offset in the store (-1: none)
	SKUs      int
	Hash      [32]byte
}

// Hex is the checksum in hex.
func (s Sum) Hex() string { return hex.EncodeToString(s.Hash[:]) }

// Checksum computes partition part's Sum in st.
func Checksum(st *store.Store, part int32, cfg ledger.Config) (Sum, error) {
	sum := Sum{Partition: part, Next: -1}
	next, ok, err := st.Offset(part)
	if err != nil {
		return sum, err
	}
	if ok {
		sum.Next = next
	}
	h := sha256.New()
	var lb [binary.MaxVarintLen64]byte
	write := func(b []byte) {
		h.Write(lb[:binary.PutUvarint(lb[:], uint64(len(b)))])
		h.Write(b)
	}
	pst := ledger.Partition{Config: cfg}
	switch err := st.Partition(part, &pst); {
	case errors.Is(err, ledger.ErrCorrupt):
		write([]byte("unreadable: " + err.Error())) // differs from any state
	case err != nil:
		return sum, err
	default:
		// Re-encoded: an absent partition state and an empty one are the same.
		write(pst.AppendBinary(nil))
	}
	err = st.SKUs(part, func(name string, val []byte) error {
		sum.SKUs++
		write([]byte(name))
		write(val)
		return nil
	})
	if err != nil {
		return sum, err
	}
	h.Sum(sum.Hash[:0])
	return sum, nil
}

// SKUDiff is one SKU whose state differs between two stores.
type SKUDiff struct {
	SKU string
	// What differs, in words ("dc-east on_hand: live 12, replay 10"); "only
	// in live" or "only in replay" when one store lacks the SKU.
	What []string
}

// String renders d on one line.
func (d SKUDiff) String() string { return d.SKU + ": " + strings.Join(d.What, "; ") }

// Diff lists the SKUs of partition part whose states differ between live
// and replay (described: at most limit; 0 means all), in SKU order, with
// how many differ in all, and how the partitions' own states (channel
// policies, policy ids) differ.
func Diff(live, replay *store.Store, part int32, cfg ledger.Config, limit int) (diffs []SKUDiff, total int, policies []string, err error) {
	lp, rp := ledger.Partition{Config: cfg}, ledger.Partition{Config: cfg}
	if err := replay.Partition(part, &rp); err != nil {
		return nil, 0, nil, err
	}
	switch err := live.Partition(part, &lp); {
	case errors.Is(err, ledger.ErrCorrupt):
		policies = []string{"live partition state unreadable: " + err.Error()}
	case err != nil:
		return nil, 0, nil, err
	default:
		policies = diffPartition(&lp, &rp)
	}
	names, onlyLive, err := differingSKUs(live, replay, part)
	if err != nil {
		return nil, 0, nil, err
	}
	total = len(names)
	for _, name := range names {
		if limit > 0 && len(diffs) >= limit {
			break
		}
		var l, r ledger.SKU
		lok, err := live.SKU(part, name, &l)
		switch {
		case errors.Is(err, ledger.ErrCorrupt):
			diffs = append(diffs, SKUDiff{SKU: name, What: []string{"live state unreadable: " + err.Error()}})
			continue
		case err != nil:
			return nil, 0, nil, err
		}
		rok, err := replay.SKU(part, name, &r)
		if err != nil {
			return nil, 0, nil, err
		}
		switch {
		case onlyLive[name] || !rok:
			diffs = append(diffs, SKUDiff{SKU: name, What: []string{fmt.Sprintf("only in live (version %d)", l.Version)}})
		case !lok:
			diffs = append(diffs, SKUDiff{SKU: name, What: []string{fmt.Sprintf("only in replay (version %d)", r.Version)}})
		default:
			diffs = append(diffs, SKUDiff{SKU: name, What: diffSKU(&l, &r)})
		}
	}
	return diffs, total, policies, nil
}

// differingSKUs lists, in order, the SKUs of partition part whose
// persisted bytes differ between live and replay, or that only one holds
// (onlyLive: those only live holds).
func differingSKUs(live, replay *store.Store, part int32) (names []string, onlyLive map[string]bool, err error) {
	// Index the replay's states by a hash of their bytes, then walk live.
	seed := maphash.MakeSeed()
	replayed := map[string]uint64{}
	err = replay.SKUs(part, func(name string, val []byte) error {
		replayed[name] = maphash.Bytes(seed, val)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	onlyLive = map[string]bool{}
	err = live.SKUs(part, func(name string, val []byte) error {
		h, ok := replayed[name]
		switch {
		case !ok:
			names = append(names, name)
			onlyLive[name] = true
		case h != maphash.Bytes(seed, val):
			names = append(names, name)
		}
		delete(replayed, name)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	for name := range replayed {
		names = append(names, name)
	}
	slices.Sort(names)
	return names, onlyLive, nil
}

// diffSKU describes how two states of one SKU differ, field by field.
func diffSKU(l, r *ledger.SKU) []string {
	var out []string
	add := func(what string, lv, rv any) {
		if fmt.Sprint(lv) != fmt.Sprint(rv) {
			out = append(out, fmt.Sprintf("%s: live %v, replay %v", what, lv, rv))
		}
	}
	add("version", l.Version, r.Version)
	add("unassigned", l.Unassigned, r.Unassigned)
	add("reorder_point", reorder(l), reorder(r))
	codes := map[string]bool{}
	for _, x := range l.Locations {
		codes[x.Code] = true
	}
	for _, x := range r.Locations {
		codes[x.Code] = true
	}
	for _, c := range slices.Sorted(maps.Keys(codes)) {
		a, b := l.Location(c), r.Location(c)
		add(c+" on_hand", a.OnHand, b.OnHand)
		add(c+" reserved", a.Reserved, b.Reserved)
		add(c+" unavailable", a.Unavailable, b.Unavailable)
		add(c+" incoming", a.Incoming, b.Incoming)
		add(c+" safety_stock", a.SafetyStock, b.SafetyStock)
		add(c+" named", a.Named, b.Named)
	}
	chans := map[string]bool{}
	for _, v := range l.Published {
		chans[v.Channel] = true
	}
	for _, v := range r.Published {
		chans[v.Channel] = true
	}
	for _, c := range slices.Sorted(maps.Keys(chans)) {
		a, aok := l.PublishedATS(c)
		b, bok := r.PublishedATS(c)
		add("channel "+c+" available", optQty(a, aok), optQty(b, bok))
	}
	add("open orders", len(l.Orders), len(r.Orders))
	add("purchase-order lines", len(l.POs), len(r.POs))
	add("transfers", len(l.Transfers), len(r.Transfers))
	add("remembered event ids", l.Seen.Len(), r.Seen.Len())
	add("policy sequence", l.PolicySeq, r.PolicySeq)
	add("newest occurred_at", l.Newest, r.Newest)
	if len(out) == 0 {
		out = append(out, "state bytes differ (order, PO, transfer or event-id details)")
	}
	return out
}

func diffPartition(l, r *ledger.Partition) []string {
	if string(l.AppendBinary(nil)) == string(r.AppendBinary(nil)) {
		return nil
	}
	var out []string
	desc := func(p *ledger.Partition) map[string]string {
		m := map[string]string{}
		for _, c := range p.Channels {
			m[c.Channel] = DescribePolicy(&c)
		}
		return m
	}
	lm, rm := desc(l), desc(r)
	for c, d := range lm {
		if rm[c] != d {
			out = append(out, fmt.Sprintf("channel %s policy: live %q, replay %q", c, d, rm[c]))
		}
	}
	for c, d := range rm {
		if _, ok := lm[c]; !ok {
			out = append(out, fmt.Sprintf("channel %s policy: live none, replay %q", c, d))
		}
	}
	if l.PolicySeq != r.PolicySeq {
		out = append(out, fmt.Sprintf("policy events applied: live %d, replay %d", l.PolicySeq, r.PolicySeq))
	}
	if l.HasClock != r.HasClock || l.Clock != r.Clock {
		out = append(out, fmt.Sprintf("clock: live %s, replay %s", describeClock(l), describeClock(r)))
	}
	if len(out) == 0 {
		out = append(out, "partition state bytes differ (remembered policy event ids)")
	}
	slices.Sort(out)
	return out
}

// describeClock renders a partition's clock (part 2: the largest
// occurred_at of its clock events).
func describeClock(p *ledger.Partition) string {
	if !p.HasClock {
		return "none"
	}
	return time.UnixMicro(p.Clock).UTC().Format(time.RFC3339Nano)
}

// DescribePolicy renders a channel policy in words.
func DescribePolicy(c *ledger.ChannelPolicy) string {
	locs := "all locations"
	if len(c.Locations) > 0 {
		locs = strings.Join(c.Locations, "+")
	}
	capQ := "no cap"
	if c.HasMaxQty {
		capQ = fmt.Sprintf("max %d", c.MaxQty)
	}
	return fmt.Sprintf("%s, buffer %d, share %d%%, %s", locs, c.Buffer, c.SharePct, capQ)
}

func reorder(s *ledger.SKU) string {
	if !s.HasReorder {
		return "none"
	}
	return fmt.Sprint(s.ReorderPoint)
}

func optQty(q ledger.Qty, ok bool) string {
	if !ok {
		return "none"
	}
	return fmt.Sprint(int64(q))
}
