package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// groupPrefetch is what each group member asks for ahead of its handler,
// matching the raw baseline's batch between two members.
const groupPrefetch = ConsumeBatch / 2

// createGroup creates a group of topic through the admin API.
func createGroup(ctx context.Context, nc *nats.Conn, topic, group, mode string) error {
	return apiCall(ctx, nc, wire.GroupAPIPrefix+"CREATE."+topic+"."+group, fmt.Sprintf(`{"mode":%q,"start":"all"}`, mode))
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
func consumeWithMembers(ctx context.Context, env *Env, topic, group string, members, want int, handle func()) (int, time.Duration, error) {
	clock := newDrainClock(want)
	h := func(ctx context.Context, d *semantics.Delivery) error {
		if handle != nil {
			handle()
		}
		env.Progress(clock.tick(), want)
		return nil
	}
	ms, err := startMembers(ctx, env, topic, group, members, func(string) semantics.Handler { return h }, semantics.WithPrefetch(groupPrefetch))
	defer ms.stop()
	if err != nil {
		return 0, 0, err
	}
	return clock.wait(ctx, ms.conns)
}

// drainGroup pre-fills a topic with env.Msgs keyed messages and drains it
// twice in the same run: first with plain nats.go pull consumers, member
// i on plainDurables[i mod len] (the reference: the same shape without
// jetmq's helper), then with members of a group of mode through the Go
// helper. want is how many deliveries one message makes (fanout).
func drainGroup(ctx context.Context, env *Env, mode, group string, members, fanout int, plainDurables []string) (helper, plain Result, filled int, err error) {
	nc, js, err := env.JetStream()
	if err != nil {
		return Result{}, Result{}, 0, err
	}
	defer nc.Close()
	topic := env.Name()
	filled, err = prefillTopic(ctx, env, nc, js, topic, env.Msgs)
	defer deleteTopic(nc, topic)
	if err != nil {
		return Result{}, Result{}, 0, err
	}
	got, elapsed, err := consumePlainMembers(ctx, env, topic, plainDurables, members, groupPrefetch, fanout*filled)
	if err != nil {
		return Result{}, Result{}, 0, fmt.Errorf("plain consumers: %w", err)
	}
	plain = NewResult(got, elapsed, nil)
	if err := createGroup(ctx, nc, topic, group, mode); err != nil {
		return Result{}, Result{}, 0, err
	}
	got, elapsed, err = consumeWithMembers(ctx, env, topic, group, members, fanout*filled, nil)
	if err != nil {
		return Result{}, Result{}, 0, err
	}
	return NewResult(got, elapsed, nil), plain, filled, nil
}

// runClusterConsume drains a pre-filled topic with a two-member clustering
// group (explicit acks through the Go helper).
func runClusterConsume(ctx context.Context, env *Env) (Result, error) {
	r, plain, _, err := drainGroup(ctx, env, core.ModeClustering, "workers", 2, 1, []string{"plain_pair"})
	if err != nil {
		return Result{}, err
	}
	r.Notes = fmt.Sprintf("two members of one clustering group, prefetch %d each, explicit ack per message", groupPrefetch)
	r.Reference = newReference("plain-pair", "the same drain by two plain nats.go pull consumers on one durable", false, plain)
	return r, nil
}

// runBroadcast3 drains a pre-filled topic with three broadcasting members;
// the rate counts every delivery (3 × messages).
func runBroadcast3(ctx context.Context, env *Env) (Result, error) {
	r, plain, filled, err := drainGroup(ctx, env, core.ModeBroadcasting, "caches", 3, 3, []string{"plain_0", "plain_1", "plain_2"})
	if err != nil {
		return Result{}, err
	}
	r.Notes = fmt.Sprintf("three broadcasting members, %d messages each, aggregate deliveries", filled)
	r.Reference = newReference("plain-trio", "the same by three plain nats.go pull consumers, a durable each", false, plain)
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
	if err := createGroup(ctx, nc, topic, "slow", core.ModeClustering); err != nil {
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
