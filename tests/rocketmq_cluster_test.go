package tests

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	rmq "github.com/apache/rocketmq-clients/golang/v5"
	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/server"
)

// TestRocketMQClusterRoutesHandlesFailover: on a 3-node cluster every
// node serves the endpoint and QueryRoute lists all three (each broker
// with the others as fallbacks); a message
// received through node 1 is acked through node 2 (receipt handles are
// stateless); after node 3 stops, QueryRoute drops it within the node
// TTL, and a producer and a push consumer pointed at the two remaining
// nodes keep producing and consuming.
func TestRocketMQClusterRoutesHandlesFailover(t *testing.T) {
	c := testutil.StartCluster(t, 3, func(_ int, cfg *server.Config) {
		cfg.Topics = []semantics.TopicConfig{{Name: "jobs", Partitions: 2, Replicas: 3}}
		cfg.Groups = []semantics.GroupConfig{{Name: "workers", Topic: "jobs", Start: semantics.StartAll}}
		cfg.RocketMQ.LongPolling = 500 * time.Millisecond
	})
	addrs := make([]string, 3)
	for i, s := range c.Servers {
		addrs[i] = s.RocketMQAddr()
		if addrs[i] == "" {
			t.Fatalf("node %d serves no RocketMQ endpoint", i+1)
		}
	}
	raw1, ctx1 := rawRMQ(t, addrs[0])
	testutil.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error { return routeLists(ctx1, raw1, "jobs", addrs, 2) })

	receiveOnOneAckOnAnother(t, c, addrs)

	ttl := c.Configs[0].NATS.NodeTTL
	if ttl == 0 {
		ttl = server.DefaultNodeTTL
	}
	c.Stop(2)
	stopped := time.Now()
	testutil.CheckFor(t, ttl+5*time.Second, 50*time.Millisecond, func() error { return routeLists(ctx1, raw1, "jobs", addrs[:2], 2) })
	if waited := time.Since(stopped); waited > ttl+time.Second {
		t.Errorf("QueryRoute still listed the stopped node %s after it stopped (node TTL %s)", waited, ttl)
	}
	produceAndConsumeOn(t, c.URLs(), strings.Join(addrs[:2], ";"), 20)
}

// routeLists checks that QueryRoute answers one broker per endpoint in
// want, each with one queue per partition and listing every wanted
// address, its own twice when there are others (the fallbacks a client
// fails over to, see rocketmq's brokers): no other address, and each
// wanted address is one broker's own.
func routeLists(ctx context.Context, c v2.MessagingServiceClient, topic string, want []string, partitions int) error {
	resp, err := c.QueryRoute(ctx, &v2.QueryRouteRequest{Topic: &v2.Resource{Name: topic}})
	if err != nil {
		return err
	}
	if resp.GetStatus().GetCode() != v2.Code_OK {
		return fmt.Errorf("QueryRoute: %v", resp.GetStatus())
	}
	queues := map[string]int{}           // per broker name
	brokerAddrs := map[string][]string{} // per broker name
	for _, q := range resp.GetMessageQueues() {
		name := q.GetBroker().GetName()
		queues[name]++
		var addrs []string
		for _, a := range q.GetBroker().GetEndpoints().GetAddresses() {
			addrs = append(addrs, a.GetHost()+":"+strconv.Itoa(int(a.GetPort())))
		}
		brokerAddrs[name] = addrs
	}
	if len(queues) != len(want) {
		return fmt.Errorf("QueryRoute lists %d brokers %v, want %d", len(queues), brokerAddrs, len(want))
	}
	sorted := slices.Sorted(slices.Values(want))
	var owns []string
	for name, n := range queues {
		if n != partitions {
			return fmt.Errorf("broker %s has %d queues, want %d (one per partition)", name, n, partitions)
		}
		addrs := slices.Sorted(slices.Values(brokerAddrs[name]))
		if !slices.Equal(slices.Compact(slices.Clone(addrs)), sorted) {
			return fmt.Errorf("broker %s lists %v, want %v", name, addrs, sorted)
		}
		own := addrs[0] // the one address listed twice, or the only one
		for i := 1; i < len(addrs); i++ {
			if addrs[i] == addrs[i-1] {
				own = addrs[i]
			}
		}
		if len(want) > 1 && len(addrs) != len(want)+1 {
			return fmt.Errorf("broker %s lists %v, want its own address twice and each other once", name, addrs)
		}
		owns = append(owns, own)
	}
	slices.Sort(owns)
	if !slices.Equal(owns, sorted) {
		return fmt.Errorf("brokers' own addresses %v, want %v", owns, sorted)
	}
	return nil
}

// receiveOnOneAckOnAnother receives a message through node 1 with a long
// invisible duration and acks it through node 2: the group's durable must
// then have it acked, and it must not come again.
func receiveOnOneAckOnAnother(t *testing.T, c *testutil.Cluster, addrs []string) {
	t.Helper()
	nc := testutil.Connect(t, c.Servers[0].ClientURL())
	js := testutil.JetStream(t, nc)
	if _, err := js.Publish(context.Background(), "jobs.k1", []byte("stateless")); err != nil {
		t.Fatal(err)
	}
	raw1, ctx1 := rawRMQ(t, addrs[0])
	got := rawReceive(t, raw1, ctx1, "jobs", "workers", time.Minute)
	if len(got) != 1 || string(got[0].GetBody()) != "stateless" {
		t.Fatalf("receive through node 1: want the one message, got %d", len(got))
	}
	m := got[0]
	raw2, ctx2 := rawRMQ(t, addrs[1])
	resp, err := raw2.AckMessage(ctx2, &v2.AckMessageRequest{Group: &v2.Resource{Name: "workers"}, Topic: &v2.Resource{Name: "jobs"},
		Entries: []*v2.AckMessageEntry{{MessageId: m.GetSystemProperties().GetMessageId(), ReceiptHandle: m.GetSystemProperties().GetReceiptHandle()}}})
	if err != nil {
		t.Fatalf("ack through node 2: %v", err)
	}
	if code := resp.GetStatus().GetCode(); code != v2.Code_OK {
		t.Fatalf("ack through node 2: want OK, got %v", resp.GetStatus())
	}
	cons, err := js.Consumer(context.Background(), "jobs", "workers")
	if err != nil {
		t.Fatal(err)
	}
	testutil.CheckFor(t, 5*time.Second, 50*time.Millisecond, func() error {
		info, err := cons.Info(context.Background())
		if err != nil {
			return err
		}
		if info.NumAckPending != 0 || info.AckFloor.Stream != 1 {
			return fmt.Errorf("group durable: ack pending %d, ack floor %d", info.NumAckPending, info.AckFloor.Stream)
		}
		return nil
	})
}

// produceAndConsumeOn sends n messages with a producer whose endpoint
// lists the surviving nodes and receives all of them with a push consumer
// of the same endpoint.
func produceAndConsumeOn(t *testing.T, natsURLs, endpoint string, n int) {
	t.Helper()
	got := make(chan string, 4*n)
	rmqPushConsumer(t, natsURLs, endpoint, "workers", "jobs", rmq.SUB_ALL, func(mv *rmq.MessageView) rmq.ConsumerResult {
		got <- string(mv.GetBody())
		return rmq.SUCCESS
	})
	p := rmqProducer(t, endpoint, rmq.WithTopics("jobs"))
	want := map[string]bool{}
	for i := range n {
		body := "after-" + strconv.Itoa(i)
		msg := &rmq.Message{Topic: "jobs", Body: []byte(body)}
		msg.SetKeys("k" + strconv.Itoa(i))
		if _, err := p.Send(context.Background(), msg); err != nil {
			t.Fatalf("send %d after the node stopped: %v", i, err)
		}
		want[body] = true
	}
	deadline := time.After(20 * time.Second)
	for len(want) > 0 {
		select {
		case b := <-got:
			if b == "stateless" {
				t.Fatalf("the message acked through another node came again")
			}
			delete(want, b)
		case <-deadline:
			t.Fatalf("push consumer on the surviving nodes: %d of %d messages missing", len(want), n)
		}
	}
}
