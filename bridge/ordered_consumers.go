package bridge

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go/jetstream"
)

// orderedConsumerConfig is partition p's durable of ordered clustering
// group g: one filter subject, explicit acks, a bounded number of
// unacknowledged messages, and no max-deliver (a message leaves the
// partition only when its owner acks it or copies it to the DLQ: giving
// up silently would break the order).
func orderedConsumerConfig(g core.GroupConfig, p int) jetstream.ConsumerConfig {
	c := jetstream.ConsumerConfig{
		Durable:       wire.OrderedConsumer(g.Name, p),
		Description:   fmt.Sprintf("jetmq ordered group %s of topic %s, partition %d", g.Name, g.Topic, p),
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       wire.OrderedAckWait(g),
		MaxDeliver:    -1,
		MaxAckPending: wire.OrderedMaxAckPending,
		Metadata: map[string]string{wire.MetaGroup: g.Name, wire.MetaMode: g.Mode,
			wire.MetaOrdered: "true", wire.MetaPartition: strconv.Itoa(p)},
	}
	if g.Start == core.StartLastPerKey {
		c.DeliverPolicy = jetstream.DeliverLastPerSubjectPolicy
	}
	if f := wire.OrderedPartitionFilters(g.Topic, p, g.Tags); len(f) == 1 {
		c.FilterSubject = f[0]
	} else {
		c.FilterSubjects = f
	}
	return c
}

// ensureOrderedConsumers creates the partition consumers of ordered
// clustering group g that do not exist yet (one per partition of the
// topic, including partitions added by a resize).
func (s *GroupService) ensureOrderedConsumers(ctx context.Context, g core.GroupConfig) error {
	ti, ok, err := s.topicInfo(ctx, g.Topic)
	if err != nil {
		return err
	}
	if !ok {
		return errTopicNotFound(g.Topic)
	}
	st, err := s.js.Stream(ctx, g.Topic)
	if err != nil {
		return err
	}
	for p := 0; p < ti.Partitions; p++ {
		if err := s.ensureOrderedConsumer(ctx, st, g, p); err != nil {
			return fmt.Errorf("partition %d: %w", p, err)
		}
	}
	return nil
}

func (s *GroupService) ensureOrderedConsumer(ctx context.Context, st jetstream.Stream, g core.GroupConfig, p int) error {
	want := orderedConsumerConfig(g, p)
	cur, err := st.Consumer(ctx, want.Durable)
	if err == nil {
		md := cur.CachedInfo().Config.Metadata
		if md[wire.MetaGroup] != g.Name || md[wire.MetaOrdered] != "true" {
			return fmt.Errorf("consumer %q exists and belongs to something else (metadata %v)", want.Durable, md)
		}
		return nil
	}
	if !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return err
	}
	c, err := st.CreateConsumer(ctx, want)
	if errors.Is(err, jetstream.ErrConsumerExists) {
		return nil
	}
	if err != nil {
		return err
	}
	if g.Start == core.StartNew {
		return s.startAtEnd(ctx, st, c)
	}
	return nil
}

// fencePartition makes partition p's consumer forget every delivery it
// made: nothing stays pending with the previous owner, and the next pull
// gets the partition's first unfinished message. nextSeq (0: unknown)
// is where the previous owner says it stopped; the consumer's ack floor
// is used when that is further. A consumer that is gone is created again,
// starting at nextSeq when known.
func (s *GroupService) fencePartition(ctx context.Context, g core.GroupConfig, p int, nextSeq uint64) error {
	name := wire.OrderedConsumer(g.Name, p)
	err := s.resetForward(ctx, g, name, nextSeq)
	if err == nil {
		// Back to the ack floor (allowed for every deliver policy).
		_, err = s.js.ResetConsumer(ctx, g.Topic, name)
	}
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return s.recreateOrderedConsumer(ctx, g, p, nextSeq)
	}
	return err
}

// resetForward moves consumer name to nextSeq when that is beyond its ack
// floor (the previous owner's last acks may still be on their way).
func (s *GroupService) resetForward(ctx context.Context, g core.GroupConfig, name string, nextSeq uint64) error {
	if nextSeq == 0 {
		return nil
	}
	c, err := s.js.Consumer(ctx, g.Topic, name)
	if err != nil {
		return err
	}
	if nextSeq <= c.CachedInfo().AckFloor.Stream+1 {
		return nil
	}
	_, err = s.js.ResetConsumerToSequence(ctx, g.Topic, name, nextSeq)
	if errors.Is(err, jetstream.ErrConsumerInvalidReset) {
		return nil
	}
	return err
}

// recreateOrderedConsumer creates partition p's consumer again after it
// vanished (deleted by hand), at nextSeq when known.
func (s *GroupService) recreateOrderedConsumer(ctx context.Context, g core.GroupConfig, p int, nextSeq uint64) error {
	st, err := s.js.Stream(ctx, g.Topic)
	if err != nil {
		return err
	}
	if err := s.ensureOrderedConsumer(ctx, st, g, p); err != nil {
		return err
	}
	return s.resetForward(ctx, g, wire.OrderedConsumer(g.Name, p), nextSeq)
}

// orderedPartitions is the partition table of an ordered clustering
// group's status: leases from its coordinator (when one answers), lag from
// the partition consumers cis.
func (s *GroupService) orderedPartitions(ctx context.Context, g core.GroupConfig, cis []*jetstream.ConsumerInfo) []wire.OrderedPartitionStatus {
	sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	out, _ := s.ordered.partitionStatus(sctx, g)
	cancel()
	for _, ci := range cis {
		p, err := strconv.Atoi(ci.Config.Metadata[wire.MetaPartition])
		if err != nil || p < 0 || p > core.MaxPartitions {
			continue
		}
		for len(out) <= p {
			out = append(out, wire.OrderedPartitionStatus{Partition: len(out)})
		}
		out[p].Pending, out[p].AckPending, out[p].Waiting = ci.NumPending, ci.NumAckPending, ci.NumWaiting
	}
	return out
}
