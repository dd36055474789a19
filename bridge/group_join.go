package bridge

import (
	"context"
	"errors"
	"strings"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"
)

// onJoin admits a member: $MQ.GROUP.JOIN.<topic>.<group>.
func (s *GroupService) onJoin(ctx context.Context, m *nats.Msg) (any, error) {
	toks := strings.Split(strings.TrimPrefix(m.Subject, wire.GroupJoinPrefix), ".")
	if len(toks) != 2 {
		return nil, errBadRequest("want %s<topic>.<group>", wire.GroupJoinPrefix)
	}
	req, err := wire.DecodeJoinRequest(m.Data)
	if err != nil {
		return nil, errBadRequest("join request: %v", err)
	}
	reply, err := s.join(ctx, toks[0], toks[1], req)
	if err != nil {
		return nil, err
	}
	return reply, nil
}

// join checks the group (creating it when the request asks to), then
// hands the member the consumer to bind to.
func (s *GroupService) join(ctx context.Context, topic, group string, req wire.JoinRequest) (any, error) {
	if err := core.ValidateTopicName(topic); err != nil {
		return nil, errBadRequest("%v", err)
	}
	if err := core.ValidateGroupName(group); err != nil {
		return nil, errBadRequest("%v", err)
	}
	if req.Member == "" {
		req.Member = nuid.Next()
	} else if err := core.ValidateMemberID(req.Member); err != nil {
		return nil, errBadRequest("%v", err)
	}
	if req.Presence != "" && !validPresence(req.Presence) {
		return nil, errBadRequest("presence %q: want a literal subject outside the $ namespaces", req.Presence)
	}
	g, err := s.groupForJoin(ctx, topic, group, req.Create)
	if err != nil {
		return nil, err
	}
	if g.Ordered {
		return s.joinOrdered(ctx, g, req)
	}
	if !req.Speaks(wire.ProtocolPull) {
		return nil, errConflict("group %q of topic %q is unordered: the member must speak protocol %q", group, topic, wire.ProtocolPull)
	}
	consumer := wire.ClusteringConsumer(g.Name)
	if g.Mode == core.ModeBroadcasting {
		if consumer, err = s.joinBroadcasting(ctx, g, req); err != nil {
			return nil, err
		}
	} else if err := s.ensureClusteringConsumer(ctx, g); err != nil {
		// (this recreates the durable if someone deleted it by hand)
		return nil, errUnavailable("consumer for member %q: %v", req.Member, err)
	}
	s.admitMember(ctx, wire.GroupID(topic, group), req.Member, req.Presence)
	return wire.NewJoinReply(g, req.Member, consumer), nil
}

// groupForJoin loads the group, or creates it from the member's config.
func (s *GroupService) groupForJoin(ctx context.Context, topic, group string, want *core.GroupConfig) (core.GroupConfig, error) {
	g, ok, err := s.loadGroup(ctx, topic, group)
	if err != nil {
		return g, registryErr(err)
	}
	if ok {
		if want != nil {
			if why := g.CompatibleWith(*want); why != "" {
				return g, errConflict("group %q of topic %q: %s", group, topic, why)
			}
		}
		return g, nil
	}
	if want == nil {
		return g, errGroupNotFound(topic, group)
	}
	c := *want
	c.Name, c.Topic = group, topic
	g, _, err = s.apply(ctx, c, false)
	var ae *wire.APIError
	if errors.As(err, &ae) && ae.Code == wire.CodeConflict {
		// Created concurrently by another member: join it if it fits.
		return s.groupForJoin(ctx, topic, group, want)
	}
	return g, err
}

func (s *GroupService) joinOrdered(ctx context.Context, g core.GroupConfig, req wire.JoinRequest) (any, error) {
	if !req.Speaks(wire.ProtocolOrdered) {
		return nil, errConflict("group %q of topic %q is ordered: the member must speak protocol %q", g.Name, g.Topic, wire.ProtocolOrdered)
	}
	return s.ordered.join(ctx, g, req)
}
