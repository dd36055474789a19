package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	rmq "github.com/apache/rocketmq-clients/golang/v5"
	"github.com/jetmq/jetmq/core"
	"github.com/nats-io/nats.go/jetstream"
)

// rmqWindow is how many sends rmq-send keeps in flight. The official Go
// client runs every SendAsync in a goroutine of its own and has no window
// of its own; an application bounds it as this does.
const rmqWindow = 1024

// rocketMQAddr is the RocketMQ endpoint the scenario talks to: the one
// given (--rocketmq) or the embedded server's.
func (e *Env) rocketMQAddr() (string, error) {
	if e.RocketMQ != "" {
		return e.RocketMQ, nil
	}
	if e.Server != nil && e.Server.RocketMQAddr() != "" {
		return e.Server.RocketMQAddr(), nil
	}
	return "", errors.New("no RocketMQ endpoint: the server under test has none (give --rocketmq host:port)")
}

var quietOnce sync.Once

// quietClientLog sends the official client's log (by default a file under
// $HOME/logs/rocketmq at info level) to a directory under the system
// temporary directory at error level. The client reads its log settings
// from the environment; they are set once, before the first client exists.
func quietClientLog() {
	quietOnce.Do(func() {
		if os.Getenv(rmq.CLIENT_LOG_ROOT) == "" {
			os.Setenv(rmq.CLIENT_LOG_ROOT, filepath.Join(os.TempDir(), "jetmq-bench-rocketmq-log"))
		}
		if os.Getenv(rmq.CLIENT_LOG_LEVEL) == "" {
			os.Setenv(rmq.CLIENT_LOG_LEVEL, "error")
		}
		rmq.ResetLogger()
	})
}

// runRmqSend measures the official RocketMQ Go client sending keyless
// messages to a jetmq topic with SendAsync, rmqWindow in flight; msgs/s
// counts sends whose receipt came back, and the topic must hold exactly
// that many.
func runRmqSend(ctx context.Context, env *Env) (Result, error) {
	addr, err := env.rocketMQAddr()
	if err != nil {
		return Result{}, err
	}
	s, err := openTopic(ctx, env, benchPartitions)
	if err != nil {
		return Result{}, err
	}
	defer s.close()
	r, err := sendOverRocketMQ(ctx, env, addr, s.name, s.js, s.name)
	if err != nil {
		return Result{}, err
	}
	ref, err := runPlainProxySend(ctx, env)
	if err != nil {
		return Result{}, fmt.Errorf("reference: %w", err)
	}
	r.Reference = newReference("plain-proxy", "the same client and window against a hand-written gRPC proxy doing one plain JetStream publish per send", false, ref)
	return r, nil
}

// sendOverRocketMQ times an official producer sending env.Msgs messages to
// topic through the endpoint at addr; stream (of js) must then hold
// exactly the acknowledged count.
func sendOverRocketMQ(ctx context.Context, env *Env, addr, topic string, js jetstream.JetStream, stream string) (Result, error) {
	quietClientLog()
	p, err := rmq.NewProducer(&rmq.Config{Endpoint: addr}, rmq.WithTopics(topic))
	if err == nil {
		err = p.Start()
	}
	if err != nil {
		return Result{}, fmt.Errorf("rocketmq producer: %w", err)
	}
	defer func() { _ = p.GracefulStop() }()
	start := time.Now()
	acked, err := sendAsync(ctx, env, p, topic, start)
	elapsed := time.Since(start)
	if err != nil {
		return Result{}, err
	}
	if err := checkStored(ctx, js, stream, acked); err != nil {
		return Result{}, err
	}
	r := NewResult(acked, elapsed, nil)
	r.Notes = fmt.Sprintf("official Go client v5.1.4 over TLS, keyless, up to %d SendAsync in flight", rmqWindow)
	return r, nil
}

// sendAsync sends env.Msgs messages with at most rmqWindow in flight and
// returns how many were acknowledged; it stops at the first failure.
func sendAsync(ctx context.Context, env *Env, p rmq.Producer, topic string, start time.Time) (int, error) {
	window := make(chan struct{}, rmqWindow)
	var (
		acked    atomic.Int64
		firstErr atomic.Pointer[error]
		wg       sync.WaitGroup
		progress sync.Mutex
	)
	payload := env.Payload()
	for i := 0; i < env.Msgs && !env.Expired(start) && firstErr.Load() == nil && ctx.Err() == nil; i++ {
		window <- struct{}{}
		wg.Add(1)
		p.SendAsync(ctx, &rmq.Message{Topic: topic, Body: payload}, func(_ context.Context, _ []*rmq.SendReceipt, err error) {
			defer wg.Done()
			defer func() { <-window }()
			if err != nil {
				err = fmt.Errorf("send: %w", err)
				firstErr.CompareAndSwap(nil, &err)
				return
			}
			n := int(acked.Add(1))
			progress.Lock()
			env.Progress(n, env.Msgs)
			progress.Unlock()
		})
	}
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		return int(acked.Load()), *e
	}
	return int(acked.Load()), ctx.Err()
}

// rmqGroup is the clustering group rmq-receive's push consumer joins.
const rmqGroup = "rmq_workers"

// runRmqReceive pre-fills a topic with env.Msgs keyed messages published
// over NATS (not timed), then times an official RocketMQ push consumer
// (the client's defaults: 20 consumption goroutines, 1024 cached) of a
// clustering group draining them, from its first delivery until the
// group's durable has seen every ack. The client's GracefulStop (not
// timed) waits for its receive in flight, up to the server's
// rocketmq.long_polling: the embedded bench server sets 1s.
func runRmqReceive(ctx context.Context, env *Env) (Result, error) {
	addr, err := env.rocketMQAddr()
	if err != nil {
		return Result{}, err
	}
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
	if err := createGroup(ctx, nc, topic, rmqGroup, core.ModeClustering); err != nil {
		return Result{}, err
	}
	durable, err := js.Consumer(ctx, topic, rmqGroup)
	if err != nil {
		return Result{}, fmt.Errorf("group durable: %w", err)
	}
	r, err := receiveOverRocketMQ(ctx, env, addr, topic, durable, filled)
	if err != nil {
		return Result{}, err
	}
	ref, err := runPlainProxyReceive(ctx, env)
	if err != nil {
		return Result{}, fmt.Errorf("reference: %w", err)
	}
	r.Reference = newReference("plain-proxy", "the same push consumer against a hand-written gRPC proxy doing plain JetStream pulls and one ack request per ack", false, ref)
	return r, nil
}

// receiveOverRocketMQ times an official push consumer of rmqGroup draining
// filled messages of topic through the endpoint at addr, from its first
// delivery until durable has seen every ack.
func receiveOverRocketMQ(ctx context.Context, env *Env, addr, topic string, durable jetstream.Consumer, filled int) (Result, error) {
	quietClientLog()
	clock := newDrainClock(filled)
	var progress sync.Mutex
	c, err := rmq.NewPushConsumer(&rmq.Config{Endpoint: addr, ConsumerGroup: rmqGroup},
		rmq.WithPushSubscriptionExpressions(map[string]*rmq.FilterExpression{topic: rmq.SUB_ALL}),
		rmq.WithPushMessageListener(&rmq.FuncMessageListener{Consume: func(*rmq.MessageView) rmq.ConsumerResult {
			n := clock.tick()
			progress.Lock()
			env.Progress(n, filled)
			progress.Unlock()
			return rmq.SUCCESS
		}}))
	if err == nil {
		err = c.Start()
	}
	if err != nil {
		return Result{}, fmt.Errorf("rocketmq push consumer: %w", err)
	}
	defer func() { _ = c.GracefulStop() }()
	acked, err := waitDurableAcked(ctx, env, clock, durable, filled)
	if err != nil {
		return Result{}, err
	}
	r := NewResult(acked, clock.since(), nil)
	r.Notes = "official Go client v5.1.4 push consumer over TLS (default 20 goroutines, 1024 cached), clustering group, ack per message; timed to the durable's ack floor"
	return r, nil
}

// waitDurableAcked waits until the group's durable has acks for all want
// messages (deliveries alone do not count: the client acks after the
// listener returns), or until env's duration bound ends the phase; it
// returns how many messages are acked. It fails when neither deliveries
// nor acks move for stallTimeout.
func waitDurableAcked(ctx context.Context, env *Env, clock *drainClock, durable jetstream.Consumer, want int) (int, error) {
	var last struct{ got, floor int }
	moved := time.Now()
	for {
		info, err := durable.Info(ctx)
		if err != nil {
			return 0, err
		}
		floor := int(info.AckFloor.Stream)
		if floor >= want || firstAt(clock, env) {
			return min(floor, want), nil
		}
		if got := clock.count(); got != last.got || floor != last.floor {
			last.got, last.floor, moved = got, floor, time.Now()
		} else if time.Since(moved) > stallTimeout {
			return floor, fmt.Errorf("push consumer: %d of %d delivered, ack floor %d, nothing moved for %s", got, want, floor, stallTimeout)
		}
		select {
		case <-ctx.Done():
			return floor, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// firstAt reports whether the duration bound, counted from the first
// delivery, has passed.
func firstAt(clock *drainClock, env *Env) bool {
	start := clock.first.Load()
	return start != nil && env.Expired(*start)
}

// stallTimeout is how long rmq-receive waits without any delivery or ack
// before it gives up.
const stallTimeout = 30 * time.Second
