package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jetmq/jetmq/semantics"
	"github.com/nats-io/nats.go"
)

// drainClock counts deliveries towards a goal and times them from the
// first delivery, the way every consuming scenario is timed (set-up before
// the first delivery is not measured). Safe for concurrent handlers.
type drainClock struct {
	want  int64
	got   atomic.Int64
	first atomic.Pointer[time.Time]
	once  sync.Once
	done  chan struct{} // closed when want deliveries were counted
}

func newDrainClock(want int) *drainClock {
	return &drainClock{want: int64(want), done: make(chan struct{})}
}

// tick counts one delivery and returns the count so far.
func (c *drainClock) tick() int {
	if c.first.Load() == nil {
		now := time.Now()
		c.first.CompareAndSwap(nil, &now)
	}
	n := c.got.Add(1)
	if n >= c.want {
		c.once.Do(func() { close(c.done) })
	}
	return int(n)
}

func (c *drainClock) count() int { return int(c.got.Load()) }

// since is the time from the first delivery (0 before it).
func (c *drainClock) since() time.Duration {
	if start := c.first.Load(); start != nil {
		return time.Since(*start)
	}
	return 0
}

// wait waits for the goal, then flushes conns so that the last acks are
// sent (and timed, as in raw-consume); it returns the count and the time.
func (c *drainClock) wait(ctx context.Context, conns []*nats.Conn) (int, time.Duration, error) {
	select {
	case <-c.done:
	case <-ctx.Done():
		return c.count(), c.since(), ctx.Err()
	}
	for _, nc := range conns {
		if err := nc.Flush(); err != nil {
			return c.count(), c.since(), err
		}
	}
	return c.count(), c.since(), nil
}

// helperMembers are Go helper members of one group, each on its own
// connection.
type helperMembers struct {
	conns []*nats.Conn
	subs  []*semantics.Subscription
}

// startMembers connects n members (ids m0, m1 …) and then subscribes them
// to group with handler(id) and opts, so that the connections are made
// before any member starts consuming. Call stop even after an error.
func startMembers(ctx context.Context, env *Env, topic, group string, n int, handler func(member string) semantics.Handler, opts ...semantics.SubscribeOption) (*helperMembers, error) {
	ms := &helperMembers{}
	for range n {
		nc, err := env.Connect()
		if err != nil {
			return ms, err
		}
		ms.conns = append(ms.conns, nc)
	}
	for i, nc := range ms.conns {
		id := fmt.Sprintf("m%d", i)
		o := append([]semantics.SubscribeOption{semantics.WithoutCreate(), semantics.WithMember(id)}, opts...)
		s, err := semantics.Subscribe(ctx, nc, topic, group, handler(id), o...)
		if err != nil {
			return ms, err
		}
		ms.subs = append(ms.subs, s)
	}
	return ms, nil
}

// stop stops every member (letting it finish what it holds) and closes
// the connections.
func (ms *helperMembers) stop() {
	for _, s := range ms.subs {
		sctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		_ = s.Stop(sctx)
		cancel()
	}
	for _, c := range ms.conns {
		c.Close()
	}
}
