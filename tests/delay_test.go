package tests

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// delayRequest sends a raw delayed publish and decodes the reply.
func delayRequest(t *testing.T, nc *nats.Conn, subject string, hdr map[string]string, body string) (semantics.SendResult, error) {
	t.Helper()
	m := nats.NewMsg(subject)
	for k, v := range hdr {
		m.Header.Set(k, v)
	}
	m.Data = []byte(body)
	resp, err := nc.RequestMsg(m, 10*time.Second)
	if err != nil {
		t.Fatalf("delay request: %v", err)
	}
	var r struct {
		Seq       uint64    `json:"seq"`
		Partition int       `json:"partition"`
		DeliverAt time.Time `json:"deliver_at"`
	}
	err = semantics.DecodeReply(resp.Data, &r)
	return semantics.SendResult{Seq: r.Seq, Partition: r.Partition, DeliverAt: r.DeliverAt}, err
}

// consumeTopic returns an ordered consumer's message channel on <topic>.>.
func consumeTopic(t *testing.T, js jetstream.JetStream, topic string) <-chan jetstream.Msg {
	t.Helper()
	c, err := js.OrderedConsumer(context.Background(), topic, jetstream.OrderedConsumerConfig{FilterSubjects: []string{topic + ".>"}})
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan jetstream.Msg, 1024)
	cc, err := c.Consume(func(m jetstream.Msg) { ch <- m })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cc.Stop)
	return ch
}

func TestDelayedDeliveryOnTimeNeverBefore(t *testing.T) {
	s := testutil.StartServer(t, withTopics(semantics.TopicConfig{Name: "orders", Partitions: 4, MaxDelay: time.Hour}))
	nc := testutil.Connect(t, s.ClientURL())
	js := testutil.JetStream(t, nc)
	msgs := consumeTopic(t, js, "orders")

	sent := time.Now()
	at := sent.Add(1500 * time.Millisecond)
	r, err := delayRequest(t, nc, "$MQ.DELAY.orders.alice.vip", map[string]string{semantics.HeaderDeliverAt: at.Format(time.RFC3339Nano), "X-Trace": "t1"}, "pay")
	if err != nil {
		t.Fatal(err)
	}
	if r.Partition != int(fnv1a32("alice")%4) {
		t.Fatalf("partition %d, want %d", r.Partition, fnv1a32("alice")%4)
	}
	if ack := time.Since(sent); ack > time.Second {
		t.Fatalf("delayed publish acknowledged after %s, want at once", ack)
	}
	select {
	case m := <-msgs:
		got := time.Now()
		if got.Before(at) {
			t.Fatalf("delivered %s before its time", at.Sub(got))
		}
		if late := got.Sub(at); late > time.Second {
			t.Fatalf("delivered %s late", late)
		}
		if m.Subject() != wire.StoredSubject("orders", r.Partition, "alice", "vip") || string(m.Data()) != "pay" || m.Headers().Get("X-Trace") != "t1" {
			t.Fatalf("delivered %s %q %v", m.Subject(), m.Data(), m.Headers())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("delayed message never delivered")
	}

	// A time in the past delivers now; Mq-Delay works too.
	if _, err := delayRequest(t, nc, "$MQ.DELAY.orders.bob", map[string]string{semantics.HeaderDeliverAt: time.Now().Add(-time.Hour).Format(time.RFC3339)}, "past"); err != nil {
		t.Fatal(err)
	}
	if _, err := delayRequest(t, nc, "$MQ.DELAY.orders.carol", map[string]string{semantics.HeaderDelay: "200ms"}, "short"); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for len(seen) < 2 {
		select {
		case m := <-msgs:
			seen[string(m.Data())] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("only %v delivered", seen)
		}
	}
}

func TestDelayedDeliveryBadInput(t *testing.T) {
	s := testutil.StartServer(t, withTopics(semantics.TopicConfig{Name: "orders", Partitions: 4, MaxDelay: time.Hour}))
	nc := testutil.Connect(t, s.ClientURL())
	for _, tc := range []struct {
		subject string
		hdr     map[string]string
		want    error
	}{
		{"$MQ.DELAY.orders.k", map[string]string{semantics.HeaderDeliverAt: "tomorrow"}, semantics.ErrBadRequest},
		{"$MQ.DELAY.orders.k", map[string]string{semantics.HeaderDelay: "-5s"}, semantics.ErrBadRequest},
		{"$MQ.DELAY.orders.k", map[string]string{semantics.HeaderDelay: "2h"}, semantics.ErrBadRequest},
		{"$MQ.DELAY.orders.k", nil, semantics.ErrBadRequest},
		{"$MQ.DELAY.orders", map[string]string{semantics.HeaderDelay: "1s"}, semantics.ErrBadRequest},
		{"$MQ.DELAY.nope.k", map[string]string{semantics.HeaderDelay: "1s"}, semantics.ErrNotFound},
	} {
		if _, err := delayRequest(t, nc, tc.subject, tc.hdr, ""); !errors.Is(err, tc.want) {
			t.Errorf("%s %v: %v, want %v", tc.subject, tc.hdr, err, tc.want)
		}
	}
}
