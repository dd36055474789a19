package tests

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	rmq "github.com/apache/rocketmq-clients/golang/v5"
	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
)

// TestRocketMQFIFOWithNATSProducer: a RocketMQ FIFO producer (message
// group "acct") and a NATS producer (key "acct") write one partition; a
// RocketMQ push consumer of the ordered group gets their messages in the
// one order they were stored.
func TestRocketMQFIFOWithNATSProducer(t *testing.T) {
	s := rmqServer(t, []semantics.TopicConfig{{Name: "ledger", Partitions: 4}},
		semantics.GroupConfig{Name: "books", Topic: "ledger", Ordered: true, Start: semantics.StartAll, Suspend: 100 * time.Millisecond})
	nc := testutil.Connect(t, s.ClientURL())
	np := newProducer(t, nc)
	p := rmqProducer(t, s.RocketMQAddr(), rmq.WithTopics("ledger"))
	const n = 20
	for i := 0; i < n; i++ {
		body := fmt.Sprint(i)
		if i%2 == 0 {
			m := &rmq.Message{Topic: "ledger", Body: []byte(body)}
			m.SetMessageGroup("acct")
			if _, err := p.Send(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if _, err := np.Send(context.Background(), &semantics.Message{Topic: "ledger", Key: "acct", Data: []byte(body)}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var order []string
	rmqPushConsumer(t, s.ClientURL(), s.RocketMQAddr(), "books", "ledger", rmq.SUB_ALL, func(mv *rmq.MessageView) rmq.ConsumerResult {
		mu.Lock()
		defer mu.Unlock()
		if g := mv.GetMessageGroup(); g == nil || *g != "acct" {
			t.Errorf("message %s has message group %v", mv.GetBody(), g)
		}
		order = append(order, string(mv.GetBody()))
		return rmq.SUCCESS
	})
	testutil.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(order) < n {
			return fmt.Errorf("consumed %d of %d: %v", len(order), n, order)
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	for i, b := range order {
		if b != fmt.Sprint(i) {
			t.Fatalf("order violated at %d: %v", i, order)
		}
	}
}

// TestRocketMQRecallDelayed: RecallMessage cancels a delayed message that
// has not fired, through $MQ.API.DELAY.CANCEL; recalling again is NOT_FOUND.
func TestRocketMQRecallDelayed(t *testing.T) {
	s := rmqServer(t, []semantics.TopicConfig{{Name: "later", Partitions: 1}})
	nc := testutil.Connect(t, s.ClientURL())
	p := rmqProducer(t, s.RocketMQAddr(), rmq.WithTopics("later"))
	m := &rmq.Message{Topic: "later", Body: []byte("cancel me")}
	m.SetKeys("k")
	m.SetDelayTimestamp(time.Now().Add(time.Hour))
	res, err := p.Send(context.Background(), m)
	if err != nil || res[0].RecallHandle == "" {
		t.Fatalf("delay send: %v %+v", err, res)
	}
	var dl semantics.DelayList
	if err := rmqAPI(nc, "$MQ.API.DELAY.LIST.later", "", &dl); err != nil || dl.Total != 1 {
		t.Fatalf("delay list: %+v %v", dl, err)
	}
	if _, err := p.Recall(context.Background(), "later", res[0].RecallHandle); err != nil {
		t.Fatalf("recall: %v", err)
	}
	if err := rmqAPI(nc, "$MQ.API.DELAY.LIST.later", "", &dl); err != nil || dl.Total != 0 {
		t.Fatalf("delay list after recall: %+v %v", dl, err)
	}
	_, err = p.Recall(context.Background(), "later", res[0].RecallHandle)
	if st, ok := rmq.AsErrRpcStatus(err); !ok || st.GetCode() != 40400 {
		t.Fatalf("second recall: %v", err)
	}
}
