package bridge

import (
	"context"
	"time"

	"github.com/jetmq/jetmq/core"
)

// fenceResult is a finished fence, handed to the coordinator's loop.
type fenceResult struct {
	step    core.Step
	nextSeq uint64
	err     error
}

// startFence resets the consumer of a partition about to be granted, in
// the background: the loop goes on answering heartbeats, and a partition
// whose consumer is electing a leader holds up no other grant.
func (c *coordinator) startFence(ctx context.Context, st core.Step) {
	if c.fencing[st.Partition] {
		return
	}
	c.fencing[st.Partition] = true
	next := c.nextSeq[st.Partition]
	delete(c.nextSeq, st.Partition)
	go func() {
		fctx, cancel := context.WithTimeout(ctx, fenceTimeout)
		err := c.svc.groups.fencePartition(fctx, c.g, st.Partition, next)
		cancel()
		select {
		case c.events <- coordEvent{kind: "fenced", fence: fenceResult{step: st, nextSeq: next, err: err}}:
		case <-ctx.Done():
		}
	}()
}

// onFenced queues a fenced partition's grant for the next rebalance, or
// schedules another try. It reports whether a rebalance is due. The
// grant is not applied here: another event of the same batch (a
// heartbeat) would otherwise be answered with it before it is persisted.
func (c *coordinator) onFenced(f fenceResult) bool {
	p := f.step.Partition
	delete(c.fencing, p)
	if f.err != nil {
		c.log.Warn("fencing a partition failed; retrying", "partition", p, "err", f.err)
		if _, newer := c.nextSeq[p]; !newer && f.nextSeq > 0 {
			c.nextSeq[p] = f.nextSeq
		}
		if c.refenceAt.IsZero() {
			c.refenceAt = time.Now().Add(refenceRetry)
		}
		return false
	}
	c.fenced = append(c.fenced, f.step)
	return true
}

// applyFenced grants the fenced partitions that still fit (free, member
// live); the rebalance persists them before anyone is told.
func (c *coordinator) applyFenced() {
	for _, st := range c.fenced {
		if _, ok := c.own.Granted(st.Partition, st.Member); ok {
			c.svc.metrics.rebalanced(c.g, st.Partition)
			c.dirty = true
		}
	}
	c.fenced = c.fenced[:0]
}
