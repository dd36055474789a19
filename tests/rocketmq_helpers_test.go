package tests

import (
	"context"
	"os"
	"testing"
	"time"

	rmq "github.com/apache/rocketmq-clients/golang/v5"
	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/server"
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

func rmqPushConsumer(t *testing.T, addr, group, topic string, filter *rmq.FilterExpression, consume func(*rmq.MessageView) rmq.ConsumerResult) rmq.PushConsumer {
	t.Helper()
	subs := map[string]*rmq.FilterExpression{topic: filter}
	c, err := rmq.NewPushConsumer(rmqConfig(addr, group), rmq.WithPushSubscriptionExpressions(subs),
		rmq.WithPushMessageListener(&rmq.FuncMessageListener{Consume: consume}), rmq.WithPushConsumptionThreadCount(4))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatalf("push consumer start: %v", err)
	}
	t.Cleanup(func() { _ = c.GracefulStop() })
	return c
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
