package tests

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	rmq "github.com/apache/rocketmq-clients/golang/v5"
	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/nats-io/nats.go"
)

// TestRocketMQSimpleConsumerInvisibility: a received message stays
// invisible for the requested duration, comes again with its attempt
// raised when not acked, ChangeInvisibleDuration hides it longer, and an
// ack with the renewed handle settles it for the group.
func TestRocketMQSimpleConsumerInvisibility(t *testing.T) {
	s := rmqServer(t, []semantics.TopicConfig{{Name: "jobs", Partitions: 1}},
		semantics.GroupConfig{Name: "workers", Topic: "jobs", Start: semantics.StartAll})
	nc := testutil.Connect(t, s.ClientURL())
	js := testutil.JetStream(t, nc)
	if _, err := js.Publish(context.Background(), "jobs.k1", []byte("job")); err != nil {
		t.Fatal(err)
	}
	c := rmqSimpleConsumer(t, s.RocketMQAddr(), "workers", map[string]*rmq.FilterExpression{"jobs": rmq.SUB_ALL})
	first := receiveN(t, c, 1, time.Second, false)[0]
	firstAt := time.Now()
	if mvs, _ := c.Receive(context.Background(), 4, time.Second); len(mvs) != 0 {
		t.Fatalf("message visible again during its invisible duration")
	}
	again := receiveN(t, c, 1, 5*time.Second, false)[0]
	if again.GetMessageId() != first.GetMessageId() || again.GetDeliveryAttempt() != 2 || time.Since(firstAt) < 900*time.Millisecond {
		t.Fatalf("redelivery: id %s (first %s) attempt %d after %s", again.GetMessageId(), first.GetMessageId(), again.GetDeliveryAttempt(), time.Since(firstAt))
	}
	if err := c.ChangeInvisibleDuration(again, 3*time.Second); err != nil {
		t.Fatalf("change invisible duration: %v", err)
	}
	if mvs, _ := c.Receive(context.Background(), 4, time.Second); len(mvs) != 0 {
		t.Fatalf("message visible again after ChangeInvisibleDuration")
	}
	if err := c.Ack(context.Background(), again); err != nil {
		t.Fatal(err)
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
		if info.NumAckPending != 0 || info.NumPending != 0 || info.AckFloor.Stream != 1 {
			return fmt.Errorf("group consumer: ack pending %d, pending %d, ack floor %d", info.NumAckPending, info.NumPending, info.AckFloor.Stream)
		}
		return nil
	})
}

// TestRocketMQPushConsumerRetriesToDLQ: a push consumer's failures are
// retried along the group's ladder; after max_reconsume attempts the
// message is in the group's DLQ, where the DLQ API lists and replays it.
func TestRocketMQPushConsumerRetriesToDLQ(t *testing.T) {
	s := rmqServer(t, []semantics.TopicConfig{{Name: "pay", Partitions: 2}},
		semantics.GroupConfig{Name: "billing", Topic: "pay", Start: semantics.StartAll, MaxReconsume: 3,
			RetryBackoff: []time.Duration{100 * time.Millisecond, 300 * time.Millisecond}})
	nc := testutil.Connect(t, s.ClientURL())
	js := testutil.JetStream(t, nc)
	var mu sync.Mutex
	var attempts []int32
	var times []time.Time
	good := make(chan string, 4)
	replayed := make(chan int32, 1)
	failing := true
	rmqPushConsumer(t, s.ClientURL(), s.RocketMQAddr(), "billing", "pay", rmq.SUB_ALL, func(mv *rmq.MessageView) rmq.ConsumerResult {
		mu.Lock()
		defer mu.Unlock()
		if string(mv.GetBody()) != "poison" {
			good <- string(mv.GetBody())
			return rmq.SUCCESS
		}
		if !failing {
			replayed <- mv.GetDeliveryAttempt()
			return rmq.SUCCESS
		}
		attempts = append(attempts, mv.GetDeliveryAttempt())
		times = append(times, time.Now())
		return rmq.FAILURE
	})
	for _, body := range []string{"poison", "fine"} {
		if _, err := js.Publish(context.Background(), "pay.acct1", []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-good:
	case <-time.After(10 * time.Second):
		t.Fatal("good message not consumed")
	}
	var dl semantics.DLQList
	testutil.CheckFor(t, 10*time.Second, 100*time.Millisecond, func() error {
		if err := rmqAPI(nc, "$MQ.API.DLQ.LIST.pay.billing", `{}`, &dl); err != nil {
			return err
		}
		if dl.Total != 1 {
			return fmt.Errorf("DLQ holds %d", dl.Total)
		}
		return nil
	})
	mu.Lock()
	if len(attempts) != 3 || attempts[0] != 1 || attempts[2] != 3 {
		t.Fatalf("attempts seen %v, want 1 2 3", attempts)
	}
	if gap := times[2].Sub(times[1]); gap < 250*time.Millisecond {
		t.Fatalf("second retry after %s, the ladder says 300ms", gap)
	}
	failing = false
	mu.Unlock()
	if dl.Messages[0].Attempts != 3 || dl.Messages[0].Group != "billing" {
		t.Fatalf("dead letter %+v", dl.Messages[0])
	}
	var rep semantics.DLQReplayReply
	if err := rmqAPI(nc, "$MQ.API.DLQ.REPLAY.pay.billing", `{}`, &rep); err != nil || rep.Replayed != 1 {
		t.Fatalf("replay: %+v %v", rep, err)
	}
	select {
	case a := <-replayed:
		if a != 1 {
			t.Fatalf("replayed message came with attempt %d", a)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("replayed message not consumed")
	}
}

// rmqAPI requests the jetmq API (without failing the test, for polls).
func rmqAPI(nc *nats.Conn, subject, body string, out any) error {
	msg, err := nc.Request(subject, []byte(body), 5*time.Second)
	if err != nil {
		return err
	}
	return semantics.DecodeReply(msg.Data, out)
}

// TestRocketMQGroupSharedWithNATS: a RocketMQ push consumer and a NATS
// member of one group split its messages, each delivered once, and the
// RocketMQ client is listed among the group's members.
func TestRocketMQGroupSharedWithNATS(t *testing.T) {
	s := rmqServer(t, []semantics.TopicConfig{{Name: "mix", Partitions: 4}},
		semantics.GroupConfig{Name: "both", Topic: "mix", Start: semantics.StartAll})
	nc := testutil.Connect(t, s.ClientURL())
	var mu sync.Mutex
	count := map[string]int{}
	by := map[string]int{}
	rec := func(side, body string) {
		mu.Lock()
		count[body]++
		by[side]++
		mu.Unlock()
	}
	rmqPushConsumer(t, s.ClientURL(), s.RocketMQAddr(), "both", "mix", rmq.SUB_ALL, func(mv *rmq.MessageView) rmq.ConsumerResult {
		rec("rmq", string(mv.GetBody()))
		return rmq.SUCCESS
	})
	p := newProducer(t, nc)
	sent := 0
	send := func(k int) {
		sendN(t, p, "mix", k, func(i int) *semantics.Message {
			return &semantics.Message{Topic: "mix", Key: fmt.Sprintf("k%d", (sent+i)%17), Data: []byte(fmt.Sprint(sent + i))}
		})
		sent += k
	}
	waitSide := func(side string) {
		testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
			mu.Lock()
			defer mu.Unlock()
			if by[side] == 0 {
				return fmt.Errorf("%s side got nothing yet", side)
			}
			return nil
		})
	}
	send(20)
	waitSide("rmq")
	var gs semantics.GroupStatus
	testutil.CheckFor(t, 10*time.Second, 100*time.Millisecond, func() error {
		if err := rmqAPI(nc, "$MQ.API.GROUP.INFO.mix.both", "", &gs); err != nil {
			return err
		}
		for _, m := range gs.Members {
			if len(m.Member) > 4 && m.Member[:4] == "rmq-" && m.Live {
				return nil
			}
		}
		return fmt.Errorf("no live RocketMQ member in %+v", gs.Members)
	})
	sub, err := semantics.Subscribe(context.Background(), nc, "mix", "both", func(_ context.Context, d *semantics.Delivery) error {
		rec("nats", string(d.Data))
		return nil
	}, semantics.WithPrefetch(8))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Stop(context.Background()) })
	for i := 0; i < 50; i++ {
		send(20)
		mu.Lock()
		both := by["nats"] > 0
		mu.Unlock()
		if both {
			break
		}
	}
	waitSide("nats")
	send(100)
	n := sent
	testutil.CheckFor(t, 20*time.Second, 100*time.Millisecond, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(count) < n {
			return fmt.Errorf("%d of %d delivered (%v)", len(count), n, by)
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	for body, c := range count {
		if c != 1 {
			t.Fatalf("message %s delivered %d times", body, c)
		}
	}
	if by["nats"] == 0 || by["rmq"] == 0 {
		t.Fatalf("one side got nothing: %v", by)
	}
}

// TestRocketMQTagFilters: TAG expressions map to the group's tags; a
// filter that differs from an existing group's and SQL92 are refused with
// ILLEGAL_FILTER_EXPRESSION.
func TestRocketMQTagFilters(t *testing.T) {
	s := rmqServer(t, []semantics.TopicConfig{{Name: "news", Partitions: 2}},
		semantics.GroupConfig{Name: "sport-only", Topic: "news", Tags: []string{"sport"}, Start: semantics.StartAll})
	nc := testutil.Connect(t, s.ClientURL())
	js := testutil.JetStream(t, nc)
	for _, subj := range []string{"news.k.sport", "news.k.music", "news.k.art", "news.k"} {
		if _, err := js.Publish(context.Background(), subj, []byte(subj)); err != nil {
			t.Fatal(err)
		}
	}
	c := rmqSimpleConsumer(t, s.RocketMQAddr(), "sport-only", map[string]*rmq.FilterExpression{"news": rmq.NewFilterExpression("sport")})
	if got := receiveN(t, c, 1, 10*time.Second, true); *got[0].GetTag() != "sport" {
		t.Fatalf("got tag %v", got[0].GetTag())
	}
	// A group created by its first RocketMQ consumer takes the filter's tags.
	c2 := rmqSimpleConsumer(t, s.RocketMQAddr(), "arts", map[string]*rmq.FilterExpression{"news": rmq.NewFilterExpression("music || art")})
	var gs semantics.GroupStatus
	if err := rmqAPI(nc, "$MQ.API.GROUP.INFO.news.arts", "", &gs); err != nil || len(gs.Config.Tags) != 2 {
		t.Fatalf("auto-created group: %+v %v", gs.Config, err)
	}
	if _, err := js.Publish(context.Background(), "news.k2.art", []byte("new art")); err != nil {
		t.Fatal(err)
	}
	if got := receiveN(t, c2, 1, 10*time.Second, true); *got[0].GetTag() != "art" {
		t.Fatalf("got tag %v", got[0].GetTag())
	}
	for name, f := range map[string]*rmq.FilterExpression{
		"sql":      rmq.NewFilterExpressionWithType("a > 1", rmq.SQL92),
		"mismatch": rmq.NewFilterExpression("music"),
	} {
		bad := rmqSimpleConsumer(t, s.RocketMQAddr(), "sport-only", map[string]*rmq.FilterExpression{"news": f})
		_, err := bad.Receive(context.Background(), 1, time.Second)
		st, ok := rmq.AsErrRpcStatus(err)
		if !ok || st.GetCode() != int32(v2.Code_ILLEGAL_FILTER_EXPRESSION) {
			t.Fatalf("%s filter: %v", name, err)
		}
	}
}
