package processors

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// leaveWait is how long a graceful stop lets the client leave the group
// on its own before it asks the coordinator directly (leaveDirectly).
const leaveWait = 2 * time.Second

// close ends Run: the last batch's changelog records go out, the instance
// leaves its group and the client closes, and the restores still running
// stop. The batch in hand was committed before.
func (p *Processor) close() {
	p.holds.close()
	p.ingest.close()
	fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if err := p.cl.Flush(fctx); err != nil {
		p.log.Warn("flushing the changelog before leaving the group; the next owner re-sends what it lacks", "err", err)
	}
	cancel()
	// A poll blocks rebalances until AllowRebalance; leaving the group
	// is one, so allow it first or the leave waits forever.
	p.allowRebalance()
	p.leave()
	if p.sess != nil {
		p.sess.Close() // aborts a transaction left open
	} else {
		p.cl.Close()
	}
	p.clStop()
	// No callback runs after Close: stop the restores still running and
	// wait for them, so none touches the store once Run returned.
	for _, cancel := range p.restoring {
		cancel()
	}
	p.restoreWG.Wait()
}

// leave takes the instance out of its group without waiting for someone
// else's rebalance. The client leaves only after the join it has in
// flight returns, and the coordinator holds that join until every member
// rejoined: with a member killed a moment ago, until that member's session
// times out (--session-timeout), far past any shutdown timeout. So when the
// client's own leave has not finished after leaveWait, the instance stops
// the client's requests (the held join fails at once, and the client
// cannot rejoin as a new member) and asks the coordinator to remove its
// member directly; the rebalance then goes on without it. A static member's
// client never sends a leave (a restart is meant to come back as it), so a
// stop sends it itself: a stopped instance's partitions move at once.
func (p *Processor) leave() {
	member, _ := p.cl.GroupMetadata()
	ctx, cancel := context.WithTimeout(context.Background(), leaveWait)
	defer cancel()
	err := p.cl.LeaveGroupContext(ctx)
	if err != nil && errors.Is(err, context.DeadlineExceeded) {
		p.clStop()
		p.log.Info("a rebalance holds the group: leaving it directly", "member_id", member)
	} else if err != nil || !p.cfg.StaticMembership {
		return
	}
	if member == "" {
		return
	}
	if err := p.leaveDirectly(member); err != nil {
		p.log.Warn("leaving the group directly; the group gives this instance's partitions away after its session times out", "err", err)
	}
}

// leaveDirectly sends a LeaveGroup request for member from a client of its
// own: the group client's connection to the coordinator is busy with the
// held join, and a broker answers one request of a connection at a time.
func (p *Processor) leaveDirectly(member string) error {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(p.cfg.Brokers...), kgo.ClientID("stockledger-leave")}, p.cfg.ClientOpts...)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group = p.cfg.Group
	req.MemberID = member // for brokers older than LeaveGroup v3
	m := kmsg.NewLeaveGroupRequestMember()
	m.MemberID = member
	if p.cfg.StaticMembership {
		m.InstanceID = &p.cfg.InstanceID
	}
	reason := "stockledger is stopping"
	m.Reason = &reason
	req.Members = append(req.Members, m)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return err
	}
	for _, m := range resp.Members {
		if err := kerr.ErrorForCode(m.ErrorCode); err != nil {
			return err
		}
	}
	return nil
}
