package bridge

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go/jetstream"
)

// status gathers a group's lag from its consumers, its members from the
// member table and the consumers, and its DLQ size.
func (s *GroupService) status(ctx context.Context, g core.GroupConfig) (wire.GroupStatus, error) {
	st := wire.GroupStatus{Config: g, Members: []wire.MemberStatus{}}
	cis, err := s.groupConsumers(ctx, g.Topic, g.Name)
	if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return st, fmt.Errorf("list consumers of %q: %w", g.Topic, err)
	}
	liveSince := time.Now().Add(-3 * wire.HeartbeatInterval(g))
	seen := s.members.list(wire.GroupID(g.Topic, g.Name), time.Now().Add(-memberForgetAfter))
	byMember := map[string]*wire.MemberStatus{}
	for _, ci := range cis {
		st.Pending += ci.NumPending
		st.AckPending += ci.NumAckPending
		st.Redelivered += ci.NumRedelivered
		st.WaitingPulls += ci.NumWaiting
		if m := ci.Config.Metadata[wire.MetaMember]; m != "" {
			byMember[m] = &wire.MemberStatus{Member: m, Consumer: ci.Name, Pending: ci.NumPending,
				AckPending: ci.NumAckPending, Redelivered: ci.NumRedelivered, AckFloor: ci.AckFloor.Stream,
				Live: ci.NumWaiting > 0}
		} else if g.Mode == core.ModeClustering && !g.Ordered {
			st.Consumer = ci.Name
		}
	}
	for m, at := range seen {
		ms := byMember[m]
		if ms == nil {
			if g.Mode == core.ModeBroadcasting {
				continue // its durable is gone: removed after member_ttl
			}
			ms = &wire.MemberStatus{Member: m}
			byMember[m] = ms
		}
		ms.LastSeen = at
		ms.Live = ms.Live || at.After(liveSince)
	}
	for _, m := range sortedKeys(byMember) {
		st.Members = append(st.Members, *byMember[m])
		if byMember[m].Live {
			st.MembersLive++
		}
	}
	st.MembersTotal = len(st.Members)
	if g.Ordered && g.Mode == core.ModeClustering {
		st.Partitions = s.orderedPartitions(ctx, g, cis)
	}
	n, err := s.dlqCount(ctx, g.Topic, g.Name)
	if err != nil {
		return st, fmt.Errorf("dead-letter count: %w", err)
	}
	st.DLQ = n
	return st, nil
}

// dlqCount is the number of group's messages in its topic's DLQ stream.
func (s *GroupService) dlqCount(ctx context.Context, topic, group string) (uint64, error) {
	st, err := s.js.Stream(ctx, wire.DLQStream(topic))
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	subj := wire.DLQSubject(topic, group)
	si, err := st.Info(ctx, jetstream.WithSubjectFilter(subj))
	if err != nil {
		return 0, err
	}
	return si.State.Subjects[subj], nil
}
