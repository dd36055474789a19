package bench

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jetmq/jetmq/semantics"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// groupPrefetch is what each group member asks for ahead of its handler,
// matching the raw baseline's batch between two members.
const groupPrefetch = ConsumeBatch / 2

// createGroup creates a group of topic through the admin API.
func createGroup(ctx context.Context, nc *nats.Conn, topic, group, mode string) error {
	return apiCall(ctx, nc, semantics.GroupAPIPrefix+"CREATE."+topic+"."+group, fmt.Sprintf(`{"mode":%q,"start":"all"}`, mode))
}

// prefillTopic creates a topic and publishes n keyed messages (untimed).
func prefillTopic(ctx context.Context, env *Env, nc *nats.Conn, js jetstream.JetStream, topic string, n int) (int, error) {
	if err := createTopic(ctx, nc, topic, benchPartitions); err != nil {
		return 0, err
	}
	subs := keySubjects(topic)
	return publishAsync(ctx, env, js, func(i int) string { return subs[i%len(subs)] }, n, nil, nil)
}

// consumeWithMembers starts members of group (broadcasting members get
// ids m0, m1 …), each acking every message after handle, and waits until
// want deliveries were acked in total; it returns the acked count and the
// time from the first delivery to the last ack sent.
//
// As in raw-consume, where the consumer is created and the connection made
// before the clock starts, set-up is not timed: the members' connections
// are made first, and the clock starts at the first delivery, not before
// the JOIN requests. Members joining after that one are timed (the first
// is consuming meanwhile). As in raw-consume, the flush that sends the
// last acks is timed.
func consumeWithMembers(ctx context.Context, env *Env, topic, group string, members, want int, handle func(), opts ...semantics.SubscribeOption) (int, time.Duration, error) {
	var got atomic.Int64
	var first atomic.Pointer[time.Time]
	done := make(chan struct{})
	var once atomic.Bool
	var subs []*semantics.Subscription
	var conns []*nats.Conn
	defer func() {
		for _, s := range subs {
			sctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
			_ = s.Stop(sctx)
			cancel()
		}
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < members; i++ {
		nc, err := env.Connect()
		if err != nil {
			return 0, 0, err
		}
		conns = append(conns, nc)
	}
	h := func(ctx context.Context, d *semantics.Delivery) error {
		if first.Load() == nil {
			now := time.Now()
			first.CompareAndSwap(nil, &now)
		}
		if handle != nil {
			handle()
		}
		n := int(got.Add(1))
		env.Progress(n, want)
		if n >= want && once.CompareAndSwap(false, true) {
			close(done)
		}
		return nil
	}
	for i, nc := range conns {
		o := append([]semantics.SubscribeOption{semantics.WithoutCreate(), semantics.WithPrefetch(groupPrefetch), semantics.WithMember(fmt.Sprintf("m%d", i))}, opts...)
		s, err := semantics.Subscribe(ctx, nc, topic, group, h, o...)
		if err != nil {
			return 0, 0, err
		}
		subs = append(subs, s)
	}
	since := func() time.Duration {
		if start := first.Load(); start != nil {
			return time.Since(*start)
		}
		return 0
	}
	select {
	case <-done:
	case <-ctx.Done():
		return int(got.Load()), since(), ctx.Err()
	}
	for _, c := range conns {
		if err := c.Flush(); err != nil {
			return int(got.Load()), since(), err
		}
	}
	return int(got.Load()), since(), nil
}

// runClusterConsume drains a pre-filled topic with a two-member clustering
// group (explicit acks through the Go helper).
func runClusterConsume(ctx context.Context, env *Env) (Result, error) {
	nc, js, err := env.JetStream()
	if err != nil {
		return Result{}, err
	}
	defer nc.Close()
	topic := env.Name()
	filled, err := prefillTopic(ctx, env, nc, js, topic, env.Msgs)
	defer deleteTopic(nc, topic)
	if err != nil {
		return Result{}, err
	}
	// The reference: the same two members' work done by two plain nats.go
	// pull consumers on one durable, on the same stream in the same run.
	plainGot, plainElapsed, err := consumePlainMembers(ctx, env, topic, []string{"plain_pair"}, 2, groupPrefetch, filled)
	if err != nil {
		return Result{}, fmt.Errorf("plain pair: %w", err)
	}
	plain := NewResult(plainGot, plainElapsed, nil)
	if err := createGroup(ctx, nc, topic, "workers", semantics.ModeClustering); err != nil {
		return Result{}, err
	}
	got, elapsed, err := consumeWithMembers(ctx, env, topic, "workers", 2, filled, nil)
	if err != nil {
		return Result{}, err
	}
	r := NewResult(got, elapsed, nil)
	r.Notes = fmt.Sprintf("two members of one clustering group, prefetch %d each, explicit ack per message; "+
		"the same drain by two plain nats.go pull consumers on one durable: %.0f msgs/s, helper/plain pair %.2f",
		groupPrefetch, plain.MsgsPerSec, r.MsgsPerSec/plain.MsgsPerSec)
	return r, nil
}

// runBroadcast3 drains a pre-filled topic with three broadcasting members;
// the rate counts every delivery (3 × messages).
func runBroadcast3(ctx context.Context, env *Env) (Result, error) {
	nc, js, err := env.JetStream()
	if err != nil {
		return Result{}, err
	}
	defer nc.Close()
	topic := env.Name()
	filled, err := prefillTopic(ctx, env, nc, js, topic, env.Msgs)
	defer deleteTopic(nc, topic)
	if err != nil {
		return Result{}, err
	}
	// The reference: three plain nats.go pull consumers, a durable each,
	// on the same stream in the same run.
	plainGot, plainElapsed, err := consumePlainMembers(ctx, env, topic, []string{"plain_0", "plain_1", "plain_2"}, 3, groupPrefetch, 3*filled)
	if err != nil {
		return Result{}, fmt.Errorf("plain trio: %w", err)
	}
	plain := NewResult(plainGot, plainElapsed, nil)
	if err := createGroup(ctx, nc, topic, "caches", semantics.ModeBroadcasting); err != nil {
		return Result{}, err
	}
	got, elapsed, err := consumeWithMembers(ctx, env, topic, "caches", 3, 3*filled, nil)
	if err != nil {
		return Result{}, err
	}
	r := NewResult(got, elapsed, nil)
	r.Notes = fmt.Sprintf("three broadcasting members, %d messages each, aggregate deliveries; "+
		"the same by three plain nats.go pull consumers, a durable each: %.0f msgs/s, helper/plain trio %.2f",
		filled, plain.MsgsPerSec, r.MsgsPerSec/plain.MsgsPerSec)
	return r, nil
}

// loadShiftRate caps each slow member of load-shift.
const loadShiftRate = 5000

// runLoadShift measures a publisher's p99 (one publish in flight, msgs/4)
// to a topic while a two-member group drains a backlog at a capped rate,
// and, in the same run, the p99 of the same publisher with no consumers.
func runLoadShift(ctx context.Context, env *Env) (Result, error) {
	nc, js, err := env.JetStream()
	if err != nil {
		return Result{}, err
	}
	defer nc.Close()
	topic := env.Name()
	backlog, err := prefillTopic(ctx, env, nc, js, topic, env.Msgs)
	defer deleteTopic(nc, topic)
	if err != nil {
		return Result{}, err
	}
	n := max(env.Msgs/SyncScale, 1)
	idle, _, err := syncPublishLatencies(ctx, env, js, topic, n)
	if err != nil {
		return Result{}, err
	}
	if err := createGroup(ctx, nc, topic, "slow", semantics.ModeClustering); err != nil {
		return Result{}, err
	}
	tick := time.NewTicker(time.Second / (2 * loadShiftRate))
	defer tick.Stop()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	consumed := make(chan error, 1)
	go func() {
		_, _, err := consumeWithMembers(cctx, env, topic, "slow", 2, backlog+n+n, func() { <-tick.C })
		consumed <- err
	}()
	busy, elapsed, err := syncPublishLatencies(ctx, env, js, topic, n)
	if err != nil {
		return Result{}, err
	}
	cancel()
	<-consumed
	r := NewResult(busy.Len(), elapsed, busy)
	idleP99 := micros(idle.Percentile(99))
	r.Notes = fmt.Sprintf("%d sync publishes while 2 members drain a %d backlog at %d msg/s each; idle p99 %.0fµs, p99 under load/idle %.2f",
		busy.Len(), backlog, loadShiftRate, idleP99, r.P99Micros/idleP99)
	return r, nil
}

// syncPublishLatencies publishes n keyed messages one at a time.
func syncPublishLatencies(ctx context.Context, env *Env, js jetstream.JetStream, topic string, n int) (*Latencies, time.Duration, error) {
	subs := keySubjects(topic)
	payload := env.Payload()
	lat := NewLatencies(n)
	start := time.Now()
	for i := 0; i < n && !env.Expired(start); i++ {
		at := time.Now()
		if _, err := js.Publish(ctx, subs[i%len(subs)], payload); err != nil {
			return nil, 0, fmt.Errorf("publish %d: %w", i+1, err)
		}
		lat.Record(time.Since(at))
		env.Progress(i+1, n)
	}
	return lat, time.Since(start), nil
}
