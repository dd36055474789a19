package tests

import (
	"context"
	"testing"
	"time"

	rmq "github.com/apache/rocketmq-clients/golang/v5"
	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/nats-io/nats.go"
)

// TestRocketMQProducerToNATSMember: an unmodified RocketMQ producer's
// normal, FIFO and delayed sends land on the topic as NATS publishes
// would, and a NATS group member sees keys, tag and properties.
func TestRocketMQProducerToNATSMember(t *testing.T) {
	s := rmqServer(t, []semantics.TopicConfig{{Name: "orders", Partitions: 4}})
	nc := testutil.Connect(t, s.ClientURL())
	got := natsMember(t, nc, "orders", "nats-side")

	p := rmqProducer(t, s.RocketMQAddr(), rmq.WithTopics("orders"))
	ctx := context.Background()
	normal := &rmq.Message{Topic: "orders", Body: []byte("normal")}
	normal.SetKeys("alice", "order 7")
	normal.SetTag("vip")
	normal.AddProperty("color", "red")
	if _, err := p.Send(ctx, normal); err != nil {
		t.Fatalf("normal send: %v", err)
	}
	fifo := &rmq.Message{Topic: "orders", Body: []byte("fifo")}
	fifo.SetMessageGroup("bob")
	if _, err := p.Send(ctx, fifo); err != nil {
		t.Fatalf("fifo send: %v", err)
	}
	odd := &rmq.Message{Topic: "orders", Body: []byte("odd key")}
	odd.SetKeys("a.b c")
	odd.SetTag("t*1")
	if _, err := p.Send(ctx, odd); err != nil {
		t.Fatalf("send with odd key: %v", err)
	}
	delayed := &rmq.Message{Topic: "orders", Body: []byte("later")}
	delayed.SetKeys("carol")
	delayed.SetDelayTimestamp(time.Now().Add(1500 * time.Millisecond))
	sentAt := time.Now()
	if _, err := p.Send(ctx, delayed); err != nil {
		t.Fatalf("delay send: %v", err)
	}

	byBody := map[string]*semantics.Delivery{}
	for len(byBody) < 4 {
		select {
		case d := <-got:
			byBody[string(d.Data)] = d
		case <-time.After(10 * time.Second):
			t.Fatalf("NATS member got %d of 4 messages", len(byBody))
		}
	}
	n := byBody["normal"]
	if n.Key != "alice" || n.Tag != "vip" || n.Headers.Get("color") != "red" || n.Partition != semantics.Partition("alice", 4) {
		t.Fatalf("normal message: key %q tag %q color %q partition %d", n.Key, n.Tag, n.Headers.Get("color"), n.Partition)
	}
	if keys := n.Headers.Values("Mq-Rmq-Keys"); len(keys) != 2 || keys[1] != "order 7" {
		t.Fatalf("keys header %v", keys)
	}
	if f := byBody["fifo"]; f.Key != "bob" || f.Partition != semantics.Partition("bob", 4) || f.Headers.Get("Mq-Rmq-Message-Group") != "bob" {
		t.Fatalf("fifo message: key %q partition %d", f.Key, f.Partition)
	}
	o := byBody["odd key"]
	if o.Key[0] != '~' || o.Headers.Get("Mq-Rmq-Tag") != "t*1" || o.Headers.Values("Mq-Rmq-Keys")[0] != "a.b c" {
		t.Fatalf("odd key/tag not encoded with originals kept: key %q tag %q headers %v", o.Key, o.Tag, o.Headers)
	}
	if d := byBody["later"]; d.Key != "carol" || d.Published.Before(sentAt.Add(1400*time.Millisecond)) {
		t.Fatalf("delayed message: key %q stored %s after the send", d.Key, d.Published.Sub(sentAt))
	}
}

// TestRocketMQNATSPublisherToSimpleConsumer: what a NATS client publishes
// reaches a RocketMQ SimpleConsumer with its key, tag and headers.
func TestRocketMQNATSPublisherToSimpleConsumer(t *testing.T) {
	s := rmqServer(t, []semantics.TopicConfig{{Name: "events", Partitions: 2}},
		semantics.GroupConfig{Name: "rmq-side", Topic: "events", Start: semantics.StartAll})
	nc := testutil.Connect(t, s.ClientURL())
	js := testutil.JetStream(t, nc)
	msg := nats.NewMsg("events.dave.signup")
	msg.Header.Set("source", "nats")
	msg.Data = []byte("from nats")
	if _, err := js.PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(context.Background(), "events", []byte("keyless")); err != nil {
		t.Fatal(err)
	}
	c := rmqSimpleConsumer(t, s.RocketMQAddr(), "rmq-side", map[string]*rmq.FilterExpression{"events": rmq.SUB_ALL})
	got := receiveN(t, c, 2, 10*time.Second, true)
	by := map[string]*rmq.MessageView{}
	for _, mv := range got {
		by[string(mv.GetBody())] = mv
	}
	m := by["from nats"]
	if m == nil || m.GetTag() == nil || *m.GetTag() != "signup" || len(m.GetKeys()) != 1 || m.GetKeys()[0] != "dave" || m.GetProperties()["source"] != "nats" {
		t.Fatalf("message from NATS: %+v", m)
	}
	if k := by["keyless"]; k == nil || len(k.GetKeys()) != 0 || k.GetTag() != nil {
		t.Fatalf("keyless message: %+v", k)
	}
	if m.GetDeliveryAttempt() != 1 {
		t.Fatalf("delivery attempt %d", m.GetDeliveryAttempt())
	}
}
