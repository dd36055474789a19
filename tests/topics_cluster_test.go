package tests

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/server"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go/jetstream"
)

func TestTopicClusterPublishThroughEveryNode(t *testing.T) {
	topic := semantics.TopicConfig{Name: "orders", Partitions: 8, Replicas: 3, MaxDelay: time.Hour}
	c := testutil.StartCluster(t, 3, func(_ int, cfg *server.Config) { cfg.Topics = []semantics.TopicConfig{topic} })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	publishVia := func(node int, key string) {
		t.Helper()
		nc := testutil.Connect(t, c.Servers[node].ClientURL())
		js := testutil.JetStream(t, nc)
		var ack *jetstream.PubAck
		testutil.CheckFor(t, 20*time.Second, 100*time.Millisecond, func() error {
			var err error
			ack, err = js.Publish(ctx, "orders."+key, []byte(key))
			return err
		})
		if got, want := storedSubject(t, js, "orders", ack.Sequence), fmt.Sprintf("orders.%d.%s", fnv1a32(key)%8, key); got != want {
			t.Fatalf("via node %d: %s stored on %s, want %s", node+1, key, got, want)
		}
	}
	for i := range c.Servers {
		publishVia(i, fmt.Sprintf("via-n%d", i+1))
	}

	// A node that rejoins derives the mappings from the replicated stream.
	c.Stop(2)
	c.Restart(2)
	publishVia(2, "after-rejoin")

	// A topic created at run time reaches the mappings of every node.
	nc := testutil.Connect(t, c.Servers[0].ClientURL())
	testutil.CheckFor(t, 30*time.Second, 200*time.Millisecond, func() error {
		// Placement needs the rejoined peer to be current again.
		return apiRequest(t, nc, "$MQ.API.TOPIC.CREATE.late", map[string]any{"partitions": 4, "replicas": 3}, nil)
	})
	for i := range c.Servers {
		js := testutil.JetStream(t, testutil.Connect(t, c.Servers[i].ClientURL()))
		key := fmt.Sprintf("late-%d", i)
		testutil.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
			ack, err := js.Publish(ctx, "late."+key, nil)
			if err != nil {
				return err
			}
			if got, want := storedSubject(t, js, "late", ack.Sequence), fmt.Sprintf("late.%d.%s", fnv1a32(key)%4, key); got != want {
				return fmt.Errorf("via node %d stored on %s, want %s", i+1, got, want)
			}
			return nil
		})
	}
}

func TestDelayedDeliveryFiresAfterLeaderMoves(t *testing.T) {
	topic := semantics.TopicConfig{Name: "orders", Partitions: 4, Replicas: 3, MaxDelay: time.Hour}
	c := testutil.StartCluster(t, 3, func(_ int, cfg *server.Config) { cfg.Topics = []semantics.TopicConfig{topic} })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	nc := testutil.Connect(t, c.URLs())
	js := testutil.JetStream(t, nc)
	var leader string
	// The schedule lives in the topic's internal stream, whose leader fires
	// it: that is the leader to take away.
	testutil.CheckFor(t, 20*time.Second, 100*time.Millisecond, func() error {
		s, err := js.Stream(ctx, wire.InternalStream("orders"))
		if err != nil {
			return err
		}
		if ci := s.CachedInfo().Cluster; ci != nil && ci.Leader != "" {
			leader = ci.Leader
			return nil
		}
		return fmt.Errorf("no leader yet")
	})
	due := time.Now().Add(4 * time.Second)
	var r semantics.SendResult
	testutil.CheckFor(t, 20*time.Second, 100*time.Millisecond, func() error {
		var err error
		r, err = delayRequest(t, nc, "$MQ.DELAY.orders.k1", map[string]string{semantics.HeaderDeliverAt: due.Format(time.RFC3339Nano)}, "later")
		return err
	})
	_ = r
	for i, s := range c.Servers {
		if s.Name() == leader {
			c.Stop(i)
		}
	}
	var got jetstream.Msg
	testutil.CheckFor(t, 60*time.Second, 200*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		s, err := js.Stream(ctx, "orders")
		if err != nil {
			return err
		}
		m, err := s.GetLastMsgForSubject(ctx, "orders.*.k1")
		if err != nil {
			return err
		}
		if string(m.Data) != "later" {
			return fmt.Errorf("got %q", m.Data)
		}
		if m.Time.Before(due) {
			t.Fatalf("delivered at %s, before its time %s", m.Time, due)
		}
		return nil
	})
	_ = got
}
