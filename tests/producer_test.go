package tests

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/wire"
)

func TestProducerSendReportsPartitionAndSequence(t *testing.T) {
	s := testutil.StartServer(t, withTopics(semantics.TopicConfig{Name: "orders", Partitions: 8}))
	nc := testutil.Connect(t, s.ClientURL())
	js := testutil.JetStream(t, nc)
	p, err := semantics.NewProducer(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r, err := p.Send(ctx, &semantics.Message{Topic: "orders", Key: "alice", Tag: "created", Data: []byte("1"), Headers: map[string][]string{"X-A": {"b"}}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Partition != int(fnv1a32("alice")%8) || r.Seq != 1 {
		t.Fatalf("result %+v", r)
	}
	if got := storedSubject(t, js, "orders", r.Seq); got != wire.StoredSubject("orders", r.Partition, "alice", "created") {
		t.Fatalf("stored on %s", got)
	}
	// Keyless: the partition is read back.
	r, err = p.Send(ctx, &semantics.Message{Topic: "orders", Data: []byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	if got := storedSubject(t, js, "orders", r.Seq); got != wire.StoredSubject("orders", r.Partition, "_", "") {
		t.Fatalf("keyless result %+v stored on %s", r, got)
	}
	// Deduplication by message id.
	for i := 0; i < 2; i++ {
		r, err = p.Send(ctx, &semantics.Message{Topic: "orders", Key: "bob", MsgID: "m-1"})
		if err != nil {
			t.Fatal(err)
		}
		if r.Duplicate != (i == 1) {
			t.Fatalf("send %d: duplicate=%v", i, r.Duplicate)
		}
	}
	// Async, pipelined.
	var futures []*semantics.SendFuture
	for i := 0; i < 1000; i++ {
		f, err := p.SendAsync(&semantics.Message{Topic: "orders", Key: fmt.Sprintf("u%d", i%50), Data: []byte{byte(i)}})
		if err != nil {
			t.Fatal(err)
		}
		futures = append(futures, f)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	last := uint64(0)
	for i, f := range futures {
		r, err := f.Result(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if r.Seq <= last || r.Partition != int(fnv1a32(fmt.Sprintf("u%d", i%50))%8) {
			t.Fatalf("future %d: %+v after seq %d", i, r, last)
		}
		last = r.Seq
	}
	// Delayed through the helper.
	r, err = p.Send(ctx, &semantics.Message{Topic: "orders", Key: "carol", Delay: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.DeliverAt.IsZero() || r.Partition != int(fnv1a32("carol")%8) {
		t.Fatalf("delayed result %+v", r)
	}
}

func TestProducerTypedErrors(t *testing.T) {
	s := testutil.StartServer(t, withTopics(semantics.TopicConfig{Name: "orders", Partitions: 2}))
	nc := testutil.Connect(t, s.ClientURL())
	p, err := semantics.NewProducer(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tc := range []struct {
		m    semantics.Message
		want error
	}{
		{semantics.Message{Topic: "nope", Key: "k"}, semantics.ErrTopicNotFound},
		{semantics.Message{Topic: "orders", Key: "a.b"}, semantics.ErrInvalidKey},
		{semantics.Message{Topic: "orders", Key: "a b"}, semantics.ErrInvalidKey},
		{semantics.Message{Topic: "orders", Key: "*"}, semantics.ErrInvalidKey},
		{semantics.Message{Topic: "orders", Key: ">"}, semantics.ErrInvalidKey},
		{semantics.Message{Topic: "orders", Key: "_"}, semantics.ErrInvalidKey},
		{semantics.Message{Topic: "orders", Key: "k", Tag: "x.y"}, semantics.ErrInvalidTag},
		{semantics.Message{Topic: "orders", Key: "k", Delay: 48 * time.Hour * 365}, semantics.ErrBadRequest},
		{semantics.Message{Topic: "nope", Key: "k", Delay: time.Second}, semantics.ErrTopicNotFound},
	} {
		if _, err := p.Send(ctx, &tc.m); !errors.Is(err, tc.want) {
			t.Errorf("send %+v: %v, want %v", tc.m, err, tc.want)
		}
	}
}
