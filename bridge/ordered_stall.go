package bridge

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go/jetstream"
)

// stallSampleEvery is how often a coordinator samples its partition
// consumers for the stall check.
const stallSampleEvery = time.Second

// startSample reads every partition consumer's figures in the background
// (the coordinator's loop must not wait on JetStream) and hands them to
// the loop as a "sample" event. One sample runs at a time.
func (c *coordinator) startSample(ctx context.Context) {
	if c.sampling {
		return
	}
	c.sampling = true
	n := len(c.own.State().Partitions)
	go func() {
		infos := make(map[int]*jetstream.ConsumerInfo, n)
		var mu sync.Mutex
		var wg sync.WaitGroup
		for p := 0; p < n; p++ {
			wg.Add(1)
			go func(p int) {
				defer wg.Done()
				sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				defer cancel()
				cons, err := c.svc.js.Consumer(sctx, c.g.Topic, wire.OrderedConsumer(c.g.Name, p))
				if err != nil {
					return // no figures: this round decides nothing for p
				}
				mu.Lock()
				infos[p] = cons.CachedInfo()
				mu.Unlock()
			}(p)
		}
		wg.Wait()
		select {
		case c.events <- coordEvent{kind: "sample", infos: infos}:
		case <-ctx.Done():
		}
	}()
}

// onSample feeds a sample to the stall detector and moves every
// partition found stalled. It reports whether a rebalance is due.
func (c *coordinator) onSample(infos map[int]*jetstream.ConsumerInfo, now time.Time) bool {
	c.sampling = false
	susp := c.suspendedPartitions()
	changed := false
	for p, ci := range infos {
		if p >= len(c.own.State().Partitions) {
			continue
		}
		l := c.own.Lease(p)
		s := core.PartitionSample{Owner: l.Owner, Epoch: l.Epoch, Revoking: l.Revoking, Suspended: susp[p],
			Pending: ci.NumPending, AckPend: ci.NumAckPending, Waiting: ci.NumWaiting,
			Delivered: ci.Delivered.Stream, AckFloor: ci.AckFloor.Stream}
		if !c.stall.Observe(p, s, now) {
			continue
		}
		c.log.Warn("ordered partition stalled: its owner holds it without consuming it; moving it",
			"partition", p, "owner", l.Owner, "epoch", l.Epoch, "pending", ci.NumPending, "ack_pending", ci.NumAckPending,
			"stalled_for", core.StallAfter(c.g))
		if c.own.MoveStalled(p, now) {
			c.stalled[p] = l.Epoch
			c.stall.Forget(p)
			c.dirty = true
			c.svc.metrics.stallMoved(c.g)
			changed = true
		}
	}
	return changed
}

// clearMovedStalls ends the stalled mark of partitions granted again
// since they were found stalled.
func (c *coordinator) clearMovedStalls() {
	for p, epoch := range c.stalled {
		if p >= len(c.own.State().Partitions) || c.own.Lease(p).Epoch != epoch {
			delete(c.stalled, p)
		}
	}
	c.svc.setStalled(c.key, c.g, c.stalledList())
}

func (c *coordinator) stalledList() []int {
	out := make([]int, 0, len(c.stalled))
	for p := range c.stalled {
		out = append(out, p)
	}
	sort.Ints(out)
	return out
}

// suspendedPartitions are the partitions whose owner reports its head
// message waiting for a retry.
func (c *coordinator) suspendedPartitions() map[int]bool {
	susp := map[int]bool{}
	for m, ps := range c.suspended {
		for _, p := range ps {
			if p >= 0 && p < len(c.own.State().Partitions) && c.own.Lease(p).Owner == m {
				susp[p] = true
			}
		}
	}
	return susp
}

// setStalled records the stalled partitions of a group whose coordinator
// runs here (nil: none), for /healthz.
func (s *orderedGroups) setStalled(key string, g core.GroupConfig, ps []int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(ps) == 0 {
		delete(s.stalled, key)
		return
	}
	s.stalled[key] = stalledGroup{topic: g.Topic, group: g.Name, partitions: ps}
}

// stalledGroup is a group with partitions found stalled.
type stalledGroup struct {
	topic, group string
	partitions   []int
}

// healthDetails lists, for /healthz, every ordered group partition
// found stalled by a coordinator on this node, until it is moved.
func (s *orderedGroups) healthDetails() []HealthDetail {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.stalled))
	for k := range s.stalled {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []HealthDetail
	for _, k := range keys {
		sg := s.stalled[k]
		for _, p := range sg.partitions {
			out = append(out, HealthDetail{Service: s.Name(), Topic: sg.topic, Group: sg.group, Partition: &p,
				Problem: "ordered partition stalled: its owner held it without consuming it; being moved"})
		}
	}
	return out
}
