package tests

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	rmq "github.com/apache/rocketmq-clients/golang/v5"
	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/server"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
)

// TestMain sends the official RocketMQ client's log (a file under
// $HOME/logs/rocketmq by default, at info level) to a temporary directory
// at error level, before any client exists.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rmq-client-log-")
	if err == nil {
		os.Setenv("rocketmq.client.logRoot", dir)
		os.Setenv("rocketmq.client.logLevel", "error")
		rmq.ResetLogger()
	}
	code := m.Run()
	if dir != "" {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// rmqServer starts a node with the topics and groups given and a short
// receive wait, so that consumers' long polls end quickly.
func rmqServer(t *testing.T, topics []semantics.TopicConfig, groups ...semantics.GroupConfig) *server.Server {
	t.Helper()
	return testutil.StartServer(t, func(c *server.Config) {
		c.Topics, c.Groups = topics, groups
		c.RocketMQ.LongPolling = 500 * time.Millisecond
	})
}

func rmqConfig(addr, group string) *rmq.Config {
	return &rmq.Config{Endpoint: addr, ConsumerGroup: group}
}

func rmqProducer(t *testing.T, addr string, opts ...rmq.ProducerOption) rmq.Producer {
	t.Helper()
	p := rmqProducerNoStop(t, addr, opts...)
	t.Cleanup(func() { _ = p.GracefulStop() })
	return p
}

// rmqProducerNoStop starts a producer the test never stops. The Go client
// v5.1.4 answers a transaction check in a goroutine nobody waits for, and
// that goroutine reads the meter state GracefulStop resets without a lock:
// stopping a producer that answered checks is a data race in the client.
// Such a producer is left to die with the test binary (its server is gone).
func rmqProducerNoStop(t *testing.T, addr string, opts ...rmq.ProducerOption) rmq.Producer {
	t.Helper()
	p, err := rmq.NewProducer(rmqConfig(addr, ""), opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatalf("producer start: %v", err)
	}
	return p
}

func rmqSimpleConsumer(t *testing.T, addr, group string, subs map[string]*rmq.FilterExpression) rmq.SimpleConsumer {
	t.Helper()
	c, err := rmq.NewSimpleConsumer(rmqConfig(addr, group), rmq.WithSimpleAwaitDuration(time.Second), rmq.WithSimpleSubscriptionExpressions(subs))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatalf("simple consumer start: %v", err)
	}
	t.Cleanup(func() { _ = c.GracefulStop() })
	return c
}

// rmqPushConsumer starts a push consumer of group on topic that hands
// every message to consume. When the test ends it waits until the group
// is drained, seen through the jetmq API at natsURLs (nothing pending,
// nothing unacknowledged, in any partition), and only then stops the
// consumer: in the Go client v5.1.4 GracefulStop waits until no receive
// is in flight and then closes its consumption pool, but a receive that
// has just returned messages submits them to that pool after its
// in-flight count fell (process_queue.go:523 onReceiveMessageResult
// against simple_thread_pool.go:85 Shutdown), a data race, and a send on
// a closed channel when it lands. A drained group's receives return
// nothing. (Stopping the servers first does not do: the client then
// retries acks under its connection manager's lock while it dials, and
// GracefulStop waits for its pool for minutes.) Tests that kill nodes
// run the client in a driver process instead (rmqDriver).
func rmqPushConsumer(t *testing.T, natsURLs, addr, group, topic string, filter *rmq.FilterExpression, consume func(*rmq.MessageView) rmq.ConsumerResult) {
	t.Helper()
	nc := testutil.Connect(t, natsURLs, nats.MaxReconnects(-1)) // closed after the cleanup below
	subs := map[string]*rmq.FilterExpression{topic: filter}
	c, err := rmq.NewPushConsumer(rmqConfig(addr, group), rmq.WithPushSubscriptionExpressions(subs),
		rmq.WithPushMessageListener(&rmq.FuncMessageListener{Consume: consume}), rmq.WithPushConsumptionThreadCount(4))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatalf("push consumer start: %v", err)
	}
	t.Cleanup(func() {
		if err := waitGroupDrained(nc, topic, group, 60*time.Second); err != nil {
			t.Logf("push consumer of %s/%s stops before its group drained: %v", topic, group, err)
		}
		_ = c.GracefulStop()
	})
}

// waitGroupDrained polls GROUP.INFO until the group has no message
// pending or unacknowledged, in any partition, for up to timeout.
func waitGroupDrained(nc *nats.Conn, topic, group string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := groupDrained(nc, topic, group)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond) // polling interval
	}
}

func groupDrained(nc *nats.Conn, topic, group string) error {
	resp, err := nc.Request(semantics.APIPrefix+"GROUP.INFO."+topic+"."+group, []byte(`{"limit":1}`), 5*time.Second)
	if err != nil {
		return err
	}
	var st wire.GroupStatus
	if err := semantics.DecodeReply(resp.Data, &st); err != nil {
		return err
	}
	pending, unacked := st.Pending, st.AckPending
	for _, p := range st.Partitions {
		pending, unacked = pending+p.Pending, unacked+p.AckPending
	}
	if pending > 0 || unacked > 0 {
		return fmt.Errorf("%d pending, %d unacknowledged", pending, unacked)
	}
	return nil
}

// receiveN receives with c until n messages came (acking each with ack),
// failing after timeout.
func receiveN(t *testing.T, c rmq.SimpleConsumer, n int, invisible time.Duration, ack bool) []*rmq.MessageView {
	t.Helper()
	var got []*rmq.MessageView
	deadline := time.Now().Add(15 * time.Second)
	for len(got) < n {
		if time.Now().After(deadline) {
			t.Fatalf("received %d of %d messages", len(got), n)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		mvs, _ := c.Receive(ctx, 16, invisible)
		cancel()
		for _, mv := range mvs {
			got = append(got, mv)
			if ack {
				if err := c.Ack(context.Background(), mv); err != nil {
					t.Fatalf("ack: %v", err)
				}
			}
		}
	}
	return got
}

func strp(s string) *string { return &s }

// natsMember joins group of topic as a Go-helper member from the start
// of the topic and hands over every delivery.
func natsMember(t *testing.T, nc *nats.Conn, topic, group string) <-chan *semantics.Delivery {
	t.Helper()
	got := make(chan *semantics.Delivery, 64)
	sub, err := semantics.Subscribe(context.Background(), nc, topic, group, func(_ context.Context, d *semantics.Delivery) error {
		got <- d
		return nil
	}, semantics.WithStart(semantics.StartAll))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Stop(context.Background()) })
	return got
}
