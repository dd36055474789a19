package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ConsumeBatch is how many messages the raw pull consumer asks for at a
// time (nats.go refills when half are used).
const ConsumeBatch = 1000

// runRawConsume pre-fills a stream with env.Msgs messages (not timed), then
// times one pull consumer with explicit acks draining all of them. Latency
// is not meaningful for a backlog and is left at 0.
func runRawConsume(ctx context.Context, env *Env) (Result, error) {
	s, err := openRawStream(ctx, env)
	if err != nil {
		return Result{}, err
	}
	defer s.close()
	js, stream := s.js, s.name
	filled, err := publishAsync(ctx, env, js, fixedSubject(s.subj), env.Msgs, nil, nil)
	if err != nil {
		return Result{}, fmt.Errorf("fill: %w", err)
	}
	cons, err := js.CreateConsumer(ctx, stream, jetstream.ConsumerConfig{
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return Result{}, fmt.Errorf("create consumer: %w", err)
	}
	start := time.Now()
	got, err := consumeAcked(ctx, env, cons, filled, start)
	if err != nil {
		return Result{}, err
	}
	if err := s.nc.Flush(); err != nil {
		return Result{}, err
	}
	elapsed := time.Since(start)
	if err := waitAcked(ctx, cons, got); err != nil {
		return Result{}, err
	}
	r := NewResult(got, elapsed, nil)
	r.Notes = fmt.Sprintf("one pull consumer, batch %d, explicit ack per message", ConsumeBatch)
	return r, nil
}

// consumeAcked receives and acks messages until want arrived, the duration
// bound passes or ctx ends, and returns how many it acked.
func consumeAcked(ctx context.Context, env *Env, cons jetstream.Consumer, want int, start time.Time) (int, error) {
	if want == 0 {
		return 0, nil
	}
	done := make(chan struct{})
	got := 0
	var ackErr error
	cc, err := cons.Consume(func(m jetstream.Msg) {
		if got >= want {
			return
		}
		if err := m.Ack(); err != nil && ackErr == nil {
			ackErr = err
		}
		got++
		env.Progress(got, want)
		if got == want || env.Expired(start) {
			want = got
			close(done)
		}
	}, jetstream.PullMaxMessages(ConsumeBatch))
	if err != nil {
		return 0, fmt.Errorf("consume: %w", err)
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
	cc.Stop()
	<-cc.Closed()
	if ctx.Err() != nil {
		return got, ctx.Err()
	}
	if ackErr != nil {
		return got, fmt.Errorf("ack: %w", ackErr)
	}
	return got, nil
}

// waitAcked waits (untimed) until the server has processed the acks for
// the first n messages, so that the count reported is what the server saw.
func waitAcked(ctx context.Context, cons jetstream.Consumer, n int) error {
	deadline := time.Now().Add(cleanupTimeout)
	for {
		info, err := cons.Info(ctx)
		if err != nil {
			return err
		}
		if info.AckFloor.Consumer >= uint64(n) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("consumer ack floor %d after %s, %d messages were acked", info.AckFloor.Consumer, cleanupTimeout, n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// consumePlainMembers is the plain-client reference for a group: members
// pull consumers (plain nats.go, each on its own connection, batch
// prefetch), member i bound to durables[i mod len(durables)] (one durable
// for a clustering group's members, one each for broadcasting members),
// each durable new on stream, acking every message, until want were acked
// in total. It returns the acked count and the time from the first
// delivery to the last ack flushed, timed like consumeWithMembers so that
// the two compare.
func consumePlainMembers(ctx context.Context, env *Env, stream string, durables []string, members, prefetch, want int) (int, time.Duration, error) {
	anc, js, err := env.JetStream()
	if err != nil {
		return 0, 0, err
	}
	defer anc.Close()
	for _, durable := range durables {
		if _, err := js.CreateConsumer(ctx, stream, jetstream.ConsumerConfig{
			Durable: durable, AckPolicy: jetstream.AckExplicitPolicy, DeliverPolicy: jetstream.DeliverAllPolicy,
			MaxAckPending: wire.GroupMaxAckPending, // as a group's durable
		}); err != nil {
			return 0, 0, fmt.Errorf("create consumer: %w", err)
		}
		defer func() { _ = js.DeleteConsumer(context.Background(), stream, durable) }()
	}
	clock := newDrainClock(want)
	var (
		conns []*nats.Conn
		ccs   []jetstream.ConsumeContext
	)
	defer func() {
		for _, cc := range ccs {
			cc.Stop()
		}
		for _, nc := range conns {
			nc.Close()
		}
	}()
	var cons []jetstream.Consumer
	for i := range members {
		nc, mjs, err := env.JetStream()
		if err != nil {
			return 0, 0, err
		}
		conns = append(conns, nc)
		c, err := mjs.Consumer(ctx, stream, durables[i%len(durables)])
		if err != nil {
			return 0, 0, err
		}
		cons = append(cons, c)
	}
	for _, c := range cons {
		cc, err := c.Consume(func(m jetstream.Msg) {
			_ = m.Ack()
			clock.tick()
		}, jetstream.PullMaxMessages(prefetch))
		if err != nil {
			return 0, 0, fmt.Errorf("consume: %w", err)
		}
		ccs = append(ccs, cc)
	}
	return clock.wait(ctx, conns)
}
