package ledger

import (
	"sort"
	"time"
)

// Config bounds what a ledger remembers. The zero value is not valid; use
// DefaultConfig.
type Config struct {
	// IDRetention is how long, in event time, applied event ids (and closed
	// orders, PO lines and transfers) are remembered, measured back from
	// the newest occurred_at the SKU (or partition) has seen. Default 7 days.
	IDRetention time.Duration
	// MaxIDsPerSKU caps the event ids remembered per SKU (and channel_policy
	// ids per partition); past it the oldest are forgotten. Default 10,000.
	MaxIDsPerSKU int
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{IDRetention: 7 * 24 * time.Hour, MaxIDsPerSKU: 10_000}
}

// ChannelPolicy is a channel's policy.
type ChannelPolicy struct {
	Channel   string
	Locations []string // eligible locations; empty means every location
	Buffer    Qty
	SharePct  int64
	MaxQty    Qty
	HasMaxQty bool
	EndAt     Qty // ats at or below it is 0
	HasEndAt  bool
	Exclude   bool // a SKU's override shuts the channel for it
	// gone: the channel is the SKU's only through an override removed
	// since its 0 was last published (Override.Gone).
	gone bool
}

// eligible reports whether location code counts for the channel.
func (c *ChannelPolicy) eligible(code string) bool {
	if len(c.Locations) == 0 {
		return true
	}
	for _, l := range c.Locations {
		if l == code {
			return true
		}
	}
	return false
}

// Partition is the state a partition owns beside its SKUs: the channel
// policies it has seen and the channel_policy ids it has applied.
type Partition struct {
	Config   Config
	Channels []ChannelPolicy // sorted by Channel
	Seen     IDWindow
	Newest   int64
	// Clock is the partition's event time: the largest occurred_at of the
	// clock events applied (HasClock). Only it decides expiry.
	Clock    int64
	HasClock bool
	// PolicySeq counts the channel_policy events applied. A SKU records
	// the count it has seen, so a policy reaches each SKU once even when a
	// restored SKU state is ahead of the partition's (see ReachSKU).
	PolicySeq uint64

	eff []ChannelPolicy // effectiveAll's scratch
	ats []Qty           // atsAll's

	// DeferPublish, for a fold that wants the ledger and not its channel
	// updates (a replay): ApplyValid and ReachSKU emit no updates and leave
	// a SKU's Published as it was, and the caller calls SettlePublished
	// before it reads or persists that SKU. Not part of the state.
	DeferPublish bool
}

// NewPartition returns an empty partition state.
func NewPartition(cfg Config) *Partition { return &Partition{Config: cfg} }

// Channel returns the policy of channel, or nil.
func (p *Partition) Channel(channel string) *ChannelPolicy {
	i := sort.Search(len(p.Channels), func(i int) bool { return p.Channels[i].Channel >= channel })
	if i < len(p.Channels) && p.Channels[i].Channel == channel {
		return &p.Channels[i]
	}
	return nil
}

func (p *Partition) retentionMicros() int64 { return p.Config.IDRetention.Microseconds() }

// ApplyChannelPolicy applies a channel_policy event to the partition's
// policies. When it returns Applied, the caller must then call ReachSKU
// with the same event for every SKU the partition knows.
func (p *Partition) ApplyChannelPolicy(ev *Event) Result {
	if ev.Type != TypeChannelPolicy {
		return Result{Outcome: Refused, Reason: ReasonInvalidField, Detail: "not a channel_policy event"}
	}
	if r, d := Validate(ev); r != ReasonNone {
		return Result{Outcome: Refused, Reason: r, Detail: d}
	}
	if p.Seen.Contains(ev.ID) {
		return Result{Outcome: Duplicate}
	}
	pol := ChannelPolicy{
		Channel:   ev.Channel,
		Locations: append([]string(nil), ev.Locations...),
		Buffer:    ev.Buffer,
		SharePct:  ev.SharePct,
		MaxQty:    ev.MaxQty,
		HasMaxQty: ev.Has&FieldMaxQty != 0,
		EndAt:     ev.EndAt,
		HasEndAt:  ev.Has&FieldEndAt != 0,
	}
	if c := p.Channel(ev.Channel); c != nil {
		*c = pol
	} else {
		i := sort.Search(len(p.Channels), func(i int) bool { return p.Channels[i].Channel >= ev.Channel })
		p.Channels = append(p.Channels, ChannelPolicy{})
		copy(p.Channels[i+1:], p.Channels[i:])
		p.Channels[i] = pol
	}
	p.Newest = max(p.Newest, ev.OccurredAt)
	p.Seen.Add(ev.ID, ev.OccurredAt, p.Config.MaxIDsPerSKU, p.Newest-p.retentionMicros())
	p.PolicySeq++
	return Result{Outcome: Applied}
}

// ReachSKU brings an applied channel_policy event to a SKU the partition
// knows: its version grows and each channel's update is published if its
// ats changed or is new. Unknown SKUs, and SKUs the policy already reached
// (a state restored from a changelog can be ahead of its partition's), are
// left alone.
func (p *Partition) ReachSKU(s *SKU, ev *Event, fx *Effects) {
	if !s.Known() || s.PolicySeq >= p.PolicySeq {
		return
	}
	s.PolicySeq = p.PolicySeq
	s.Version++
	// Every channel: a channel's locations decide which channels its
	// unassigned units lower (overlaps), not only its own ats.
	p.publish(s, ev, fx, len(fx.HoldResults))
}
