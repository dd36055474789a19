package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go/jetstream"
)

// apply creates group g, or updates it when update is set (the config
// file's groups are applied this way at every start). Errors are
// *wire.APIError.
func (s *GroupService) apply(ctx context.Context, g core.GroupConfig, update bool) (core.GroupConfig, bool, error) {
	g.SetDefaults()
	if err := g.Validate("group"); err != nil {
		return g, false, errBadRequest("%v", err)
	}
	ti, ok, err := s.topicInfo(ctx, g.Topic)
	if err != nil {
		return g, false, errUnavailable("read topic %q: %v", g.Topic, err)
	}
	if !ok {
		return g, false, errTopicNotFound(g.Topic)
	}
	cur, exists, err := s.loadGroup(ctx, g.Topic, g.Name)
	if err != nil {
		return g, false, registryErr(err)
	}
	if exists && !reflect.DeepEqual(cur, g) {
		if !update {
			return cur, false, errConflict("group %q of topic %q exists with a different config; delete it first", g.Name, g.Topic)
		}
		if cur.Mode != g.Mode || cur.Ordered != g.Ordered {
			return cur, false, errConflict("group %q of topic %q: mode/ordered cannot change (%s/%v to %s/%v); delete the group first", g.Name, g.Topic, cur.Mode, cur.Ordered, g.Mode, g.Ordered)
		}
	}
	if err := s.ensureDLQ(ctx, ti); err != nil {
		return g, false, errUnavailable("dead-letter stream of topic %q: %v", g.Topic, err)
	}
	if err := s.ensureAdvisoryCapture(ctx, g.Topic); err != nil {
		s.log.Warn("max-deliveries advisories of the topic are not captured; members still dead-letter themselves", "topic", g.Topic, "err", err)
	}
	if g.Mode == core.ModeClustering && !g.Ordered {
		if err := s.ensureClusteringConsumer(ctx, g); err != nil {
			return g, false, errUnavailable("consumer %q on %q: %v", g.Name, g.Topic, err)
		}
	}
	if g.Mode == core.ModeClustering && g.Ordered {
		if err := s.ensureOrderedConsumers(ctx, g); err != nil {
			return g, false, errUnavailable("partition consumers of %q on %q: %v", g.Name, g.Topic, err)
		}
	}
	if !exists || !reflect.DeepEqual(cur, g) {
		b, _ := json.Marshal(g)
		if _, err := s.kv.Put(ctx, wire.GroupID(g.Topic, g.Name), b); err != nil {
			return g, false, errUnavailable("write group registry: %v", err)
		}
	}
	return g, !exists, nil
}

// groupConsumerConfig is the JetStream consumer of group g: the clustering
// durable (member "") or one broadcasting member's durable.
func groupConsumerConfig(g core.GroupConfig, member string) jetstream.ConsumerConfig {
	pol := core.PolicyOf(g)
	c := jetstream.ConsumerConfig{
		Durable:       wire.ClusteringConsumer(g.Name),
		Description:   fmt.Sprintf("jetmq %s group %s of topic %s", g.Mode, g.Name, g.Topic),
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       wire.GroupAckWait(g),
		MaxDeliver:    pol.MaxDeliver(),
		MaxAckPending: wire.GroupMaxAckPending,
		Metadata:      map[string]string{wire.MetaGroup: g.Name, wire.MetaMode: g.Mode},
	}
	if g.Start == core.StartLastPerKey {
		c.DeliverPolicy = jetstream.DeliverLastPerSubjectPolicy
	}
	f := wire.GroupFilters(g.Topic, g.Tags)
	if len(f) == 0 && g.Start == core.StartLastPerKey {
		f = []string{wire.LastPerKeyFilter(g.Topic)}
	}
	if len(f) == 1 {
		c.FilterSubject = f[0]
	} else {
		c.FilterSubjects = f
	}
	if member != "" {
		c.Durable = wire.BroadcastConsumer(g.Name, member)
		c.Description = fmt.Sprintf("jetmq broadcasting member %s of group %s of topic %s", member, g.Name, g.Topic)
		c.Metadata[wire.MetaMember] = member
		c.InactiveThreshold = g.MemberTTL
	}
	if g.Ordered {
		c.Metadata[wire.MetaOrdered] = "true"
	}
	return c
}

// ensureClusteringConsumer creates the group's durable or brings an
// existing one in line with g.
func (s *GroupService) ensureClusteringConsumer(ctx context.Context, g core.GroupConfig) error {
	_, err := s.ensureConsumer(ctx, g, "")
	return err
}

// ensureConsumer creates (or updates) the consumer of g for member ("":
// the clustering durable) and returns its name. Consumers start with
// DeliverAll so that a reset can later move them anywhere; start "new" is
// a reset to the end of the stream right after creation.
func (s *GroupService) ensureConsumer(ctx context.Context, g core.GroupConfig, member string) (string, error) {
	want := groupConsumerConfig(g, member)
	st, err := s.js.Stream(ctx, g.Topic)
	if err != nil {
		return "", err
	}
	cur, err := st.Consumer(ctx, want.Durable)
	switch {
	case err == nil:
		ci := cur.CachedInfo()
		if ci.Config.Metadata[wire.MetaGroup] != g.Name || ci.Config.Metadata[wire.MetaMember] != member {
			return "", fmt.Errorf("consumer %q exists and belongs to something else (metadata %v)", want.Durable, ci.Config.Metadata)
		}
		if consumerUpToDate(ci.Config, want) {
			return want.Durable, nil
		}
		// The delivery policy cannot change; keep the one it has.
		want.DeliverPolicy, want.OptStartSeq, want.OptStartTime = ci.Config.DeliverPolicy, ci.Config.OptStartSeq, ci.Config.OptStartTime
		_, err = st.UpdateConsumer(ctx, want)
		return want.Durable, err
	case !errors.Is(err, jetstream.ErrConsumerNotFound):
		return "", err
	}
	c, err := st.CreateConsumer(ctx, want)
	if errors.Is(err, jetstream.ErrConsumerExists) {
		return want.Durable, nil // another node created it a moment ago
	}
	if err != nil {
		return "", err
	}
	if g.Start == core.StartNew {
		return want.Durable, s.startAtEnd(ctx, st, c)
	}
	return want.Durable, nil
}

// startAtEnd moves a just-created consumer past the last stored message.
// It only touches a pristine consumer (nothing delivered yet), so a second
// node applying the same config a moment later does not move it again.
func (s *GroupService) startAtEnd(ctx context.Context, st jetstream.Stream, c jetstream.Consumer) error {
	ci, err := c.Info(ctx)
	if err != nil {
		return err
	}
	if ci.Delivered.Stream != 0 || ci.Delivered.Consumer != 0 {
		return nil
	}
	si, err := st.Info(ctx)
	if err != nil {
		return err
	}
	if si.State.LastSeq == 0 {
		return nil // empty stream: "all" is "new"
	}
	_, err = s.js.ResetConsumerToSequence(ctx, si.Config.Name, ci.Name, si.State.LastSeq+1)
	return err
}

// consumerUpToDate compares the fields apply may change.
func consumerUpToDate(cur, want jetstream.ConsumerConfig) bool {
	return cur.FilterSubject == want.FilterSubject && reflect.DeepEqual(cur.FilterSubjects, want.FilterSubjects) &&
		cur.MaxDeliver == want.MaxDeliver && cur.InactiveThreshold == want.InactiveThreshold &&
		cur.AckWait == want.AckWait && cur.MaxAckPending == want.MaxAckPending &&
		cur.Metadata[wire.MetaMode] == want.Metadata[wire.MetaMode]
}

// groupConsumers lists the consumers of topic that belong to group.
func (s *GroupService) groupConsumers(ctx context.Context, topic, group string) ([]*jetstream.ConsumerInfo, error) {
	st, err := s.js.Stream(ctx, topic)
	if err != nil {
		return nil, err
	}
	var out []*jetstream.ConsumerInfo
	l := st.ListConsumers(ctx)
	for ci := range l.Info() {
		if ci.Config.Metadata[wire.MetaGroup] == group {
			out = append(out, ci)
		}
	}
	return out, l.Err()
}
