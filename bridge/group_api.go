package bridge

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/internal/jsapi"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// onGroupAPI serves $MQ.API.GROUP.<OP>.<topic>.<group> and
// $MQ.API.GROUP.LIST[.<topic>].
func (s *GroupService) onGroupAPI(ctx context.Context, m *nats.Msg) (any, error) {
	toks := strings.Split(strings.TrimPrefix(m.Subject, wire.GroupAPIPrefix), ".")
	op := toks[0]
	if op == "LIST" {
		topic := ""
		if len(toks) == 2 {
			topic = toks[1]
			if err := core.ValidateTopicName(topic); err != nil {
				return nil, errBadRequest("%v", err)
			}
		} else if len(toks) != 1 {
			return nil, errBadRequest("want %sLIST[.<topic>]", wire.GroupAPIPrefix)
		}
		v, err := s.apiList(ctx, topic)
		return v, err
	}
	if len(toks) != 3 {
		return nil, errBadRequest("want %s%s.<topic>.<group>", wire.GroupAPIPrefix, op)
	}
	topic, group := toks[1], toks[2]
	if err := validateGroupRef(topic, group); err != nil {
		return nil, err
	}
	var v any
	var err error
	switch op {
	case "CREATE":
		v, err = s.apiCreate(ctx, topic, group, m.Data)
	case "INFO":
		v, err = s.apiInfo(ctx, topic, group, m.Data)
	case "DELETE":
		v, err = s.apiDelete(ctx, topic, group)
	case "RESET":
		v, err = s.apiReset(ctx, topic, group, m.Data)
	case "LAG":
		v, err = s.apiLag(ctx, topic, group, m.Data)
	default:
		err = errBadRequest("unknown group operation %q: want CREATE, INFO, LIST, DELETE, RESET or LAG", op)
	}
	return v, err
}

// reply sends v, or err when the operation failed.
func validateGroupRef(topic, group string) error {
	if err := core.ValidateTopicName(topic); err != nil {
		return errBadRequest("%v", err)
	}
	if err := core.ValidateGroupName(group); err != nil {
		return errBadRequest("%v", err)
	}
	return nil
}

func (s *GroupService) apiCreate(ctx context.Context, topic, group string, body []byte) (any, error) {
	g, err := core.DecodeGroupConfig(body)
	if err != nil {
		return nil, errBadRequest("group config: %v", err)
	}
	if (g.Name != "" && g.Name != group) || (g.Topic != "" && g.Topic != topic) {
		return nil, errBadRequest("body names group %q of topic %q, subject names %q of %q", g.Name, g.Topic, group, topic)
	}
	g.Name, g.Topic = group, topic
	g, created, err := s.apply(ctx, g, false)
	if err != nil {
		return nil, err
	}
	st, err := s.status(ctx, g)
	if err != nil {
		return nil, errUnavailable("%v", err)
	}
	return struct {
		wire.GroupStatus
		Created bool `json:"created"`
	}{st, created}, nil
}

// apiInfo answers one page of the group's members (see fitPage).
func (s *GroupService) apiInfo(ctx context.Context, topic, group string, body []byte) (any, error) {
	req, err := decodeInfoRequest(body)
	if err != nil {
		return nil, err
	}
	g, err := s.mustGroup(ctx, topic, group)
	if err != nil {
		return nil, err
	}
	st, err := s.status(ctx, g)
	if err != nil {
		return nil, errUnavailable("%v", err)
	}
	return fitPage(st, req, int(s.nc.MaxPayload()))
}

func (s *GroupService) apiList(ctx context.Context, topic string) (any, error) {
	if topic != "" {
		if _, ok, err := s.topicInfo(ctx, topic); err != nil {
			return nil, errUnavailable("%v", err)
		} else if !ok {
			return nil, errTopicNotFound(topic)
		}
	}
	gs, err := s.listGroups(ctx, topic)
	if err != nil {
		return nil, errUnavailable("read group registry: %v", err)
	}
	out := wire.GroupList{Groups: []wire.GroupStatus{}}
	gone := map[string]bool{}
	for _, g := range gs {
		if s.forgetIfGone(ctx, g.Topic, gone) {
			continue
		}
		st, err := s.status(ctx, g)
		if err != nil {
			return nil, errUnavailable("%v", err)
		}
		out.Groups = append(out.Groups, pageMembers(st, 0, wire.ListMemberPage))
	}
	return out, nil
}

// apiDelete removes the group and its consumers; its dead letters stay in
// the DLQ until purged.
func (s *GroupService) apiDelete(ctx context.Context, topic, group string) (any, error) {
	// A malformed entry can be deleted; any other failure to read it stops.
	if _, _, err := s.loadGroup(ctx, topic, group); !errors.Is(err, errMalformedEntry) {
		if _, err := s.mustGroup(ctx, topic, group); err != nil {
			return nil, err
		}
	}
	if err := s.kv.Delete(ctx, wire.GroupID(topic, group)); err != nil {
		return nil, errUnavailable("write group registry: %v", err)
	}
	if err := s.forgetMembers(ctx, wire.GroupID(topic, group)); err != nil {
		s.log.Warn("member records of a deleted group not removed; they expire by themselves", "topic", topic, "group", group, "err", err)
	}
	out := wire.DeleteReply{Deleted: true, Consumers: []string{}}
	cis, err := s.groupConsumers(ctx, topic, group)
	if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, errUnavailable("list consumers: %v", err)
	}
	for _, ci := range cis {
		if err := s.js.DeleteConsumer(ctx, topic, ci.Name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return nil, errUnavailable("delete consumer %q: %v", ci.Name, err)
		}
		out.Consumers = append(out.Consumers, ci.Name)
	}
	return out, nil
}

// mustGroup loads a group or answers 404 for it (or its topic).
func (s *GroupService) mustGroup(ctx context.Context, topic, group string) (core.GroupConfig, error) {
	g, ok, err := s.loadGroup(ctx, topic, group)
	if err != nil {
		return g, registryErr(err)
	}
	if !ok {
		if _, tok, _ := s.topicInfo(ctx, topic); !tok {
			return g, errTopicNotFound(topic)
		}
		return g, errGroupNotFound(topic, group)
	}
	return g, nil
}

// apiReset moves the group (or one broadcasting member) to a sequence or
// time.
func (s *GroupService) apiReset(ctx context.Context, topic, group string, body []byte) (any, error) {
	var req wire.ResetRequest
	if err := decodeRequest("reset request", body, &req); err != nil {
		return nil, err
	}
	if (req.Seq == 0) == req.Time.IsZero() {
		return nil, errBadRequest("reset request: give exactly one of seq and time")
	}
	g, err := s.mustGroup(ctx, topic, group)
	if err != nil {
		return nil, err
	}
	targets, err := s.resetTargets(ctx, g, req.Member)
	if err != nil {
		return nil, err
	}
	seq := req.Seq
	if seq == 0 {
		if seq, err = s.seqAtTime(ctx, topic, req.Time); err != nil {
			return nil, errUnavailable("find sequence at %s: %v", req.Time.Format(time.RFC3339Nano), err)
		}
	}
	out := wire.ResetReply{Seq: seq}
	for _, name := range targets {
		if _, err := s.js.ResetConsumerToSequence(ctx, topic, name, seq); err != nil {
			if errors.Is(err, jetstream.ErrConsumerInvalidReset) {
				return nil, errConflict("consumer %q cannot be reset to %d: %v (a last_per_key start cannot be rewound)", name, seq, err)
			}
			return nil, errUnavailable("reset consumer %q: %v", name, err)
		}
		out.Consumers = append(out.Consumers, name)
	}
	return out, nil
}

// resetTargets names the consumers a reset moves.
func (s *GroupService) resetTargets(ctx context.Context, g core.GroupConfig, member string) ([]string, error) {
	if member != "" {
		if g.Mode != core.ModeBroadcasting {
			return nil, errBadRequest("group %q is %s: only broadcasting members have their own position", g.Name, g.Mode)
		}
		if err := core.ValidateMemberID(member); err != nil {
			return nil, errBadRequest("%v", err)
		}
	}
	cis, err := s.groupConsumers(ctx, g.Topic, g.Name)
	if err != nil {
		return nil, errUnavailable("list consumers: %v", err)
	}
	var out []string
	for _, ci := range cis {
		if member == "" || ci.Config.Metadata[wire.MetaMember] == member {
			out = append(out, ci.Name)
		}
	}
	if len(out) == 0 {
		if member != "" {
			return nil, errNotFound("member %q of group %q not found", member, g.Name)
		}
		return nil, errNotFound("group %q of topic %q has no consumers yet", g.Name, g.Topic)
	}
	return out, nil
}

// seqAtTime is the sequence of the first message of topic stored at or
// after t (past the end if there is none).
func (s *GroupService) seqAtTime(ctx context.Context, topic string, t time.Time) (uint64, error) {
	at := t.UTC()
	m, err := jsapi.MsgGet(ctx, s.nc, topic, jsapi.MsgGetRequest{StartTime: &at, NextBySubj: topic + ".>"})
	if err != nil {
		return 0, err
	}
	if m == nil {
		si, err := s.js.Stream(ctx, topic)
		if err != nil {
			return 0, err
		}
		return si.CachedInfo().State.LastSeq + 1, nil
	}
	return m.Seq, nil
}
