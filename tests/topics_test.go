package tests

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/server"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// fnv1a32 is an independent FNV-1a-32, to check the broker's partitions.
func fnv1a32(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

func withTopics(topics ...semantics.TopicConfig) func(*server.Config) {
	return func(c *server.Config) { c.Topics = append(c.Topics, topics...) }
}

// apiRequest sends a JSON request to the jetmq API and decodes the reply.
func apiRequest(t *testing.T, nc *nats.Conn, subject string, body any, out any) error {
	t.Helper()
	var data []byte
	if body != nil {
		var err error
		if data, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := nc.Request(subject, data, 10*time.Second)
	if err != nil {
		t.Fatalf("request %s: %v", subject, err)
	}
	return semantics.DecodeReply(resp.Data, out)
}

func storedSubject(t *testing.T, js jetstream.JetStream, topic string, seq uint64) string {
	t.Helper()
	s, err := js.Stream(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	// A direct get may be answered by a replica that has not applied the
	// message yet: poll until one has it.
	var subject string
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		m, err := s.GetMsg(context.Background(), seq)
		if err != nil {
			return err
		}
		subject = m.Subject
		return nil
	})
	return subject
}

func TestTopicKeyedPublishLandsOnFNVPartition(t *testing.T) {
	s := testutil.StartServer(t, withTopics(semantics.TopicConfig{Name: "orders", Partitions: 8}))
	nc := testutil.Connect(t, s.ClientURL())
	js := testutil.JetStream(t, nc)
	ctx := context.Background()
	for i := 0; i < 200; i++ {
		key := fmt.Sprintf("user-%d", i)
		subj, want := "orders."+key, fmt.Sprintf("orders.%d.%s", fnv1a32(key)%8, key)
		if i%2 == 1 {
			subj, want = subj+".vip", want+".vip"
		}
		ack, err := js.Publish(ctx, subj, []byte(key))
		if err != nil {
			t.Fatalf("publish %s: %v", subj, err)
		}
		if got := storedSubject(t, js, "orders", ack.Sequence); got != want {
			t.Fatalf("publish %s stored on %s, want %s", subj, got, want)
		}
	}
	// A core publish takes the same path: the stream maps it (a core
	// subscriber sees it as published).
	if err := nc.Publish("orders.carol", []byte("core")); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("orders.%d.carol", fnv1a32("carol")%8)
	testutil.CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		m, err := js.Stream(ctx, "orders")
		if err != nil {
			return err
		}
		if _, err := m.GetLastMsgForSubject(ctx, want); err != nil {
			return fmt.Errorf("core publish not stored on %s: %w", want, err)
		}
		return nil
	})
	// The stored subject of a published key keeps its meaning: publishing
	// "orders.3.bob" is key "3", tag "bob".
	ack, err := js.Publish(ctx, "orders.3.bob", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := storedSubject(t, js, "orders", ack.Sequence), fmt.Sprintf("orders.%d.3.bob", fnv1a32("3")%8); got != want {
		t.Fatalf("stored on %s, want %s", got, want)
	}
}

func TestTopicKeylessSpreadsEvenly(t *testing.T) {
	const n, parts = 80000, 8
	s := testutil.StartServer(t, withTopics(semantics.TopicConfig{Name: "spread", Partitions: parts}))
	nc := testutil.Connect(t, s.ClientURL())
	js := testutil.JetStream(t, nc)
	for i := 0; i < n; i++ {
		if _, err := js.PublishAsync("spread", nil, jetstream.WithStallWait(30*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(2 * time.Minute):
		t.Fatal("publishes not acknowledged")
	}
	var st struct {
		Messages          uint64 `json:"messages"`
		PartitionMessages []struct {
			Partition int    `json:"partition"`
			Messages  uint64 `json:"messages"`
		} `json:"partition_messages"`
	}
	if err := apiRequest(t, nc, "$MQ.API.TOPIC.INFO.spread", nil, &st); err != nil {
		t.Fatal(err)
	}
	if st.Messages != n || len(st.PartitionMessages) != parts {
		t.Fatalf("info: %d messages over %d partitions, want %d over %d", st.Messages, len(st.PartitionMessages), n, parts)
	}
	for _, pc := range st.PartitionMessages {
		if dev := float64(pc.Messages)/float64(n/parts) - 1; dev > 0.1 || dev < -0.1 {
			t.Errorf("partition %d has %d messages, %.1f%% off the mean %d", pc.Partition, pc.Messages, dev*100, n/parts)
		}
	}
	// Keyless messages carry the key token "_".
	if got := storedSubject(t, js, "spread", 1); !strings.HasSuffix(got, "._") {
		t.Fatalf("keyless stored on %s, want spread.<p>._", got)
	}
}

func TestTopicJunkSubjectsNeverLand(t *testing.T) {
	s := testutil.StartServer(t, withTopics(semantics.TopicConfig{Name: "orders", Partitions: 4}))
	nc := testutil.Connect(t, s.ClientURL())
	js := testutil.JetStream(t, nc)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := js.Publish(ctx, "orders.a.b.c", nil)
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != 400 {
		t.Fatalf("three tokens after the topic: got %v, want a 400 API error", err)
	}
	for _, junk := range []string{"orders.a.b.c.d", "orders.a.b.c.d.e.f"} {
		if _, err := js.Publish(ctx, junk, nil); !errors.As(err, &apiErr) || apiErr.Code != 400 {
			t.Fatalf("%s: got %v, want a 400 API error", junk, err)
		}
	}
	_ = nc.Publish("orders.x.y.z", nil)
	_ = nc.Publish("orders.x.y.z.w.v", nil)
	if _, err := js.Publish(ctx, "orders.ok", nil); err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("stream holds %d messages, want only the valid one", info.State.Msgs)
	}
}

func TestTopicPartitionFilterConsumesOnePartition(t *testing.T) {
	s := testutil.StartServer(t, withTopics(semantics.TopicConfig{Name: "orders", Partitions: 4}))
	nc := testutil.Connect(t, s.ClientURL())
	js := testutil.JetStream(t, nc)
	ctx := context.Background()
	want := map[string]bool{}
	for i := 0; i < 100; i++ {
		key := fmt.Sprintf("k%d", i)
		subj := "orders." + key
		if i%3 == 0 {
			subj += ".red"
		}
		if _, err := js.Publish(ctx, subj, []byte(key)); err != nil {
			t.Fatal(err)
		}
		if fnv1a32(key)%4 == 2 {
			want[key] = true
		}
	}
	for i := 0; i < 50; i++ {
		if _, err := js.Publish(ctx, "orders", nil); err != nil {
			t.Fatal(err)
		}
	}
	c, err := js.CreateConsumer(ctx, "orders", jetstream.ConsumerConfig{FilterSubject: wire.PartitionFilter("orders", 2), AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	keyless := 0
	batch, err := c.FetchNoWait(1000)
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		sm, err := wire.ParseStoredSubject(m.Subject())
		if err != nil || sm.Partition != 2 {
			t.Fatalf("partition filter delivered %s", m.Subject())
		}
		if sm.Key == semantics.KeylessKey {
			keyless++
		} else {
			got[sm.Key] = true
		}
		_ = m.Ack()
	}
	if len(got) != len(want) {
		t.Fatalf("partition 2 delivered %d keys, want %d", len(got), len(want))
	}
	if keyless == 0 {
		t.Fatal("no keyless message of partition 2 delivered (50 sent over 4 partitions)")
	}
}

func TestTopicAPI(t *testing.T) {
	s := testutil.StartServer(t)
	nc := testutil.Connect(t, s.ClientURL())
	var st map[string]any
	if err := apiRequest(t, nc, "$MQ.API.TOPIC.CREATE.events", map[string]any{"partitions": 4, "max_age": "1h"}, &st); err != nil {
		t.Fatal(err)
	}
	if st["created"] != true {
		t.Fatalf("create reply %v", st)
	}
	// Idempotent.
	if err := apiRequest(t, nc, "$MQ.API.TOPIC.CREATE.events", map[string]any{"partitions": 4, "max_age": "1h"}, &st); err != nil {
		t.Fatalf("repeated create: %v", err)
	}
	// Different config on CREATE is a conflict.
	err := apiRequest(t, nc, "$MQ.API.TOPIC.CREATE.events", map[string]any{"partitions": 6}, nil)
	if !errors.Is(err, semantics.ErrConflict) {
		t.Fatalf("create with other config: %v, want 409", err)
	}
	for subj, code := range map[string]error{
		"$MQ.API.TOPIC.INFO.nope":     semantics.ErrNotFound,
		"$MQ.API.TOPIC.DELETE.nope":   semantics.ErrNotFound,
		"$MQ.API.TOPIC.INFO.bad!name": semantics.ErrBadRequest,
		"$MQ.API.TOPIC.FROB.events":   semantics.ErrBadRequest,
	} {
		if err := apiRequest(t, nc, subj, nil, nil); !errors.Is(err, code) {
			t.Errorf("%s: %v, want %v", subj, err, code)
		}
	}
	for _, body := range []map[string]any{{"partitions": 0, "replicas": 1, "storage": "disk"}, {"partitions": 1025}, {"max_age": "soon"}} {
		if err := apiRequest(t, nc, "$MQ.API.TOPIC.CREATE.other", body, nil); !errors.Is(err, semantics.ErrBadRequest) {
			t.Errorf("create %v: %v, want 400", body, err)
		}
	}
	var list struct {
		Topics []struct {
			Config semantics.TopicConfig `json:"config"`
		} `json:"topics"`
	}
	if err := apiRequest(t, nc, "$MQ.API.TOPIC.LIST", nil, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Topics) != 1 || list.Topics[0].Config.Name != "events" || list.Topics[0].Config.Partitions != 4 || list.Topics[0].Config.MaxAge != time.Hour {
		t.Fatalf("list: %+v", list)
	}
	// The topic is the stream of the same name.
	js := testutil.JetStream(t, nc)
	if _, err := js.Stream(context.Background(), "events"); err != nil {
		t.Fatal(err)
	}
	if err := apiRequest(t, nc, "$MQ.API.TOPIC.DELETE.events", nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Stream(context.Background(), "events"); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("stream after delete: %v", err)
	}
}

func TestTopicResizeRefusedWhileOrderedGroupPending(t *testing.T) {
	s := testutil.StartServer(t, withTopics(semantics.TopicConfig{Name: "orders", Partitions: 4}))
	nc := testutil.Connect(t, s.ClientURL())
	js := testutil.JetStream(t, nc)
	ctx := context.Background()
	// An ordered group's consumer, as the group service marks it.
	c, err := js.CreateOrUpdateConsumer(ctx, "orders", jetstream.ConsumerConfig{Durable: "audit-p0", FilterSubject: "orders.>", AckPolicy: jetstream.AckExplicitPolicy,
		Metadata: map[string]string{semantics.MetaGroup: "audit", semantics.MetaOrdered: "true"}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if _, err := js.Publish(ctx, fmt.Sprintf("orders.k%d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	err = apiRequest(t, nc, "$MQ.API.TOPIC.UPDATE.orders", map[string]any{"partitions": 8}, nil)
	if !errors.Is(err, semantics.ErrConflict) || !strings.Contains(err.Error(), "audit (5 pending)") {
		t.Fatalf("raise with pending ordered group: %v, want 409 naming audit (5 pending)", err)
	}
	if err := apiRequest(t, nc, "$MQ.API.TOPIC.UPDATE.orders", map[string]any{"partitions": 2}, nil); !errors.Is(err, semantics.ErrConflict) {
		t.Fatalf("lowering: %v, want 409", err)
	}
	// Drained: allowed.
	batch, err := c.Fetch(5, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		if err := m.DoubleAck(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := apiRequest(t, nc, "$MQ.API.TOPIC.UPDATE.orders", map[string]any{"partitions": 8}, nil); err != nil {
		t.Fatalf("raise after drain: %v", err)
	}
	ack, err := js.Publish(ctx, "orders.zed", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := storedSubject(t, js, "orders", ack.Sequence), fmt.Sprintf("orders.%d.zed", fnv1a32("zed")%8); got != want {
		t.Fatalf("after resize stored on %s, want %s", got, want)
	}
	// Force overrides the pending check.
	if _, err := js.Publish(ctx, "orders.k1", nil); err != nil {
		t.Fatal(err)
	}
	if err := apiRequest(t, nc, "$MQ.API.TOPIC.UPDATE.orders", map[string]any{"partitions": 16, "force": true}, nil); err != nil {
		t.Fatalf("forced raise: %v", err)
	}
}

func TestTopicMetrics(t *testing.T) {
	s := testutil.StartServer(t, withTopics(semantics.TopicConfig{Name: "orders", Partitions: 2, MaxDelay: time.Hour}))
	nc := testutil.Connect(t, s.ClientURL())
	js := testutil.JetStream(t, nc)
	for _, k := range []string{"a", "b", "c"} {
		if _, err := js.Publish(context.Background(), "orders."+k, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := delayRequest(t, nc, "$MQ.DELAY.orders.d", map[string]string{semantics.HeaderDelay: "1h"}, ""); err != nil {
		t.Fatal(err)
	}
	_, body := getHTTP(t, s.HTTPAddr(), "/metrics")
	p0 := 0
	for _, k := range []string{"a", "b", "c"} {
		if fnv1a32(k)%2 == 0 {
			p0++
		}
	}
	for _, want := range []string{
		`jetmq_topic_messages{account="$G",topic="orders"} 3`,
		fmt.Sprintf(`jetmq_topic_partition_messages{account="$G",partition="0",topic="orders"} %d`, p0),
		fmt.Sprintf(`jetmq_topic_partition_messages{account="$G",partition="1",topic="orders"} %d`, 3-p0),
		`jetmq_topic_delayed_pending{account="$G",topic="orders"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestTopicOnePartitionIsOneGlobalOrder(t *testing.T) {
	s := testutil.StartServer(t, withTopics(semantics.TopicConfig{Name: "ledger", Partitions: 1}))
	nc := testutil.Connect(t, s.ClientURL())
	js := testutil.JetStream(t, nc)
	ctx := context.Background()
	for i := 0; i < 50; i++ {
		subj := fmt.Sprintf("ledger.acct-%d", i)
		if i%5 == 0 {
			subj = "ledger"
		}
		if _, err := js.Publish(ctx, subj, []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	c, err := js.OrderedConsumer(ctx, "ledger", jetstream.OrderedConsumerConfig{FilterSubjects: []string{wire.PartitionFilter("ledger", 0)}})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := c.Fetch(50, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for m := range batch.Messages() {
		if string(m.Data()) != fmt.Sprint(i) {
			t.Fatalf("message %d of partition 0 is %q: not the publish order", i, m.Data())
		}
		i++
	}
	if i != 50 {
		t.Fatalf("partition 0 holds %d of 50 messages", i)
	}
}

// TestTopicOfOlderLayoutIsRefused: a topic stream an older jetmq made
// (another internal layout) is neither served nor silently rewritten: its
// committed and delayed messages would land on the wrong subjects.
func TestTopicOfOlderLayoutIsRefused(t *testing.T) {
	s := testutil.StartServer(t)
	nc := testutil.Connect(t, s.ClientURL())
	js := testutil.JetStream(t, nc)
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: "legacy", Subjects: []string{"legacy.>"},
		Metadata: map[string]string{semantics.MetaPartitions: "4", semantics.MetaVersion: "2"},
	}); err != nil {
		t.Fatal(err)
	}
	err := apiRequest(t, nc, "$MQ.API.TOPIC.CREATE.legacy", map[string]any{"partitions": 4}, nil)
	if !errors.Is(err, semantics.ErrConflict) || !strings.Contains(err.Error(), "older jetmq") {
		t.Fatalf("create over an older topic: %v, want 409 naming the older layout", err)
	}
	if err := apiRequest(t, nc, "$MQ.API.TOPIC.INFO.legacy", nil, nil); !errors.Is(err, semantics.ErrNotFound) {
		t.Fatalf("info of an older topic: %v, want 404", err)
	}
	m := nats.NewMsg(wire.TxnPrepareSubject("legacy", "k", ""))
	m.Header.Set(semantics.HeaderTxnID, "t1")
	m.Header.Set(semantics.HeaderProducerGroup, "g")
	resp, err := nc.RequestMsg(m, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := semantics.DecodeReply(resp.Data, nil); !errors.Is(err, semantics.ErrNotFound) {
		t.Fatalf("prepare on an older topic: %v, want 404", err)
	}
}
