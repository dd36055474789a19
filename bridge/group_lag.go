package bridge

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go/jetstream"
)

// apiLag answers GROUP.LAG.<topic>.<group>: per partition, what the group
// has not acknowledged yet. Ordered groups have one consumer per
// partition, whose num_pending + num_ack_pending is exact. A clustering
// group (and each broadcasting member) has one consumer over every
// partition, which keeps no per-partition figure: its lag per partition is
// the number of the partition's messages (on the group's filters) after
// the consumer's ack floor, counted with one direct get per partition and
// filter (countFrom); messages acknowledged out of order above the floor
// are still in it.
func (s *GroupService) apiLag(ctx context.Context, topic, group string, body []byte) (any, error) {
	if err := decodeRequest("request", body, &struct{}{}); err != nil {
		return nil, err
	}
	g, err := s.mustGroup(ctx, topic, group)
	if err != nil {
		return nil, err
	}
	ti, ok, err := s.topicInfo(ctx, topic)
	if err != nil {
		return nil, errUnavailable("read topic %q: %v", topic, err)
	}
	if !ok {
		return nil, errTopicNotFound(topic)
	}
	cis, err := s.groupConsumers(ctx, topic, group)
	if err != nil {
		return nil, errUnavailable("list consumers of %q: %v", topic, err)
	}
	out := wire.GroupLag{Topic: topic, Group: group, Mode: g.Mode, Ordered: g.Ordered, Lag: []wire.PartitionLag{}}
	switch {
	case g.Ordered && g.Mode == core.ModeClustering:
		out.Lag = orderedLag(ti.Partitions, g.Name, cis)
	case g.Mode == core.ModeBroadcasting:
		for _, ci := range cis {
			lag, err := s.floorLag(ctx, ti, ci)
			if err != nil {
				return nil, errUnavailable("count messages of %q: %v", topic, err)
			}
			ml := wire.MemberLag{Member: ci.Config.Metadata[wire.MetaMember], Consumer: ci.Name, Lag: lag, Total: sumLag(lag)}
			out.Members = append(out.Members, ml)
			out.Total += ml.Total
		}
		return out, nil
	default:
		for _, ci := range cis {
			if ci.Name == wire.ClusteringConsumer(g.Name) {
				if out.Lag, err = s.floorLag(ctx, ti, ci); err != nil {
					return nil, errUnavailable("count messages of %q: %v", topic, err)
				}
			}
		}
	}
	out.Total = sumLag(out.Lag)
	return out, nil
}

// orderedLag reads each partition's consumer <group>~p<p>.
func orderedLag(partitions int, group string, cis []*jetstream.ConsumerInfo) []wire.PartitionLag {
	byName := map[string]*jetstream.ConsumerInfo{}
	for _, ci := range cis {
		byName[ci.Name] = ci
	}
	out := make([]wire.PartitionLag, 0, partitions)
	for p := 0; p < partitions; p++ {
		pl := wire.PartitionLag{Partition: p, Exact: true, Consumer: wire.OrderedConsumer(group, p)}
		if ci := byName[pl.Consumer]; ci != nil {
			pl.Pending, pl.AckPending, pl.AckFloor = ci.NumPending, ci.NumAckPending, ci.AckFloor.Stream
			pl.Lag = ci.NumPending + uint64(ci.NumAckPending)
		}
		out = append(out, pl)
	}
	return out
}

// lagCounts bounds the direct gets one GROUP.LAG request runs at once.
const lagCounts = 8

// floorLag counts, per partition, the messages on consumer ci's filters
// after its ack floor, lagCounts partitions at a time.
func (s *GroupService) floorLag(ctx context.Context, ti TopicInfo, ci *jetstream.ConsumerInfo) ([]wire.PartitionLag, error) {
	filters := consumerFilters(ci.Config)
	out := make([]wire.PartitionLag, ti.Partitions)
	errs := make([]error, ti.Partitions)
	slots := make(chan struct{}, lagCounts)
	var wg sync.WaitGroup
	for p := range out {
		out[p] = wire.PartitionLag{Partition: p, Consumer: ci.Name, AckFloor: ci.AckFloor.Stream}
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			for _, f := range partitionFilters(ti.Name, p, filters) {
				n, err := countFrom(ctx, s.nc, ti.Name, f, ci.AckFloor.Stream+1)
				if err != nil {
					errs[p] = err
					return
				}
				out[p].Lag += n
			}
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// partitionFilters narrows a consumer's filters (whole topic, or
// <topic>.*.*.<tag>) to partition p.
func partitionFilters(topic string, p int, filters []string) []string {
	ps := strconv.Itoa(p)
	out := make([]string, 0, len(filters))
	for _, f := range filters {
		if f == ">" || f == topic+".>" {
			out = append(out, wire.PartitionFilter(topic, p))
			continue
		}
		if rest, ok := cutTopic(f, topic); ok && len(rest) > 1 && rest[0] == '*' && rest[1] == '.' {
			out = append(out, topic+"."+ps+rest[1:])
			continue
		}
		if strings.HasPrefix(f, topic+"."+ps+".") {
			out = append(out, f) // already bound to partition p
		}
	}
	return out
}

// cutTopic strips "<topic>." from filter.
func cutTopic(filter, topic string) (string, bool) {
	if len(filter) > len(topic)+1 && filter[:len(topic)+1] == topic+"." {
		return filter[len(topic)+1:], true
	}
	return "", false
}

func sumLag(lag []wire.PartitionLag) uint64 {
	var n uint64
	for _, pl := range lag {
		n += pl.Lag
	}
	return n
}
