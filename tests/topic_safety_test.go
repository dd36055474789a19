package tests

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/server"
	"github.com/jetmq/jetmq/wire"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
)

// TestStoreDirTakenByOneProcessOnly starts a second node on a store dir in
// use, in-process and as a second binary: both refuse, naming the holder,
// and the first node's messages are all still there afterwards.
func TestStoreDirTakenByOneProcessOnly(t *testing.T) {
	dir := t.TempDir()
	first := testutil.StartServer(t, func(c *server.Config) { c.NATS.StoreDir = dir })
	nc := testutil.Connect(t, first.ClientURL())
	js := testutil.JetStream(t, nc)
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "KEEP", Subjects: []string{"keep.>"}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if _, err := js.Publish(ctx, "keep.x", nil); err != nil {
			t.Fatal(err)
		}
	}

	second, err := server.New(testutil.Config(dir), server.WithLogger(testutil.Logger()))
	if err != nil {
		t.Fatal(err)
	}
	err = second.Start(ctx)
	// The first node runs in this test process: the holder named is us.
	holder := fmt.Sprintf("in use by another jetmq (pid %d on ", os.Getpid())
	if err == nil || !strings.Contains(err.Error(), "nats.store_dir") || !strings.Contains(err.Error(), holder) {
		t.Fatalf("second in-process server on one store dir: %v", err)
	}

	p := testutil.StartProcess(t, t.TempDir(), "serve", "--store-dir", dir, "--port", fmt.Sprint(testutil.FreePort(t)), "--http", "")
	if code := p.Wait(30 * time.Second); code == 0 || code == -1 {
		t.Fatalf("second process exit status %d, want a failure:\n%s", code, p.Stderr)
	}
	if lines := strings.Split(strings.TrimSpace(p.Stderr.String()), "\n"); len(lines) != 1 || !strings.Contains(lines[0], holder) {
		t.Fatalf("second process must say in one line who holds the store dir, said:\n%s", p.Stderr)
	}
	s, err := js.Stream(ctx, "KEEP")
	if err != nil || s.CachedInfo().State.Msgs != 100 {
		t.Fatalf("first node's stream after the refused starts: %v %+v", err, s)
	}
}

// seedOlderLayout makes, with a plain nats-server on dir, a topic as jetmq
// layout 3 left it, holding messages an older jetmq misfiled: a keyed and a
// tagged publish that reached the stream unmapped, and one junk subject.
func seedOlderLayout(t *testing.T, dir, topic string, partitions int) {
	t.Helper()
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("plain nats-server not ready")
	}
	nc := testutil.Connect(t, ns.ClientURL())
	js := testutil.JetStream(t, nc)
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: wire.InternalStream(topic), Subjects: []string{semantics.InternalPrefix + topic + ".>"}, AllowMsgSchedules: true, AllowAtomicPublish: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: topic, Subjects: []string{topic + ".>"},
		Sources:  []*jetstream.StreamSource{{Name: wire.InternalStream(topic), SubjectTransforms: []jetstream.SubjectTransformConfig{{Source: wire.OutboxFilter(topic), Destination: topic + ".>"}}}},
		Metadata: map[string]string{semantics.MetaPartitions: fmt.Sprint(partitions), semantics.MetaMaxDelay: "720h0m0s", semantics.MetaVersion: "3"}}); err != nil {
		t.Fatal(err)
	}
	for i, subj := range []string{topic + ".alice", topic + ".bob.vip", topic + ".alice", topic + ".1.carol", topic + ".x.y.z", topic + ".alice"} {
		if _, err := js.Publish(ctx, subj, []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTopicOlderLayoutMisfiledRepaired brings a topic of the older layout
// up to date in place, counts what an older jetmq misfiled, and moves it to
// its partitions in per-key order, once, even when the repair runs twice.
func TestTopicOlderLayoutMisfiledRepaired(t *testing.T) {
	dir := t.TempDir()
	seedOlderLayout(t, dir, "orders", 4)
	s := testutil.StartServer(t, func(c *server.Config) { c.NATS.StoreDir = dir })
	nc := testutil.Connect(t, s.ClientURL())
	js := testutil.JetStream(t, nc)

	var st wire.TopicStatus
	testutil.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		if err := apiRequest(t, nc, semantics.APIPrefix+"TOPIC.INFO.orders", nil, &st); err != nil {
			return err
		}
		if st.Misfiled != 5 {
			return fmt.Errorf("misfiled %d, want 5 (3 alice, 1 bob.vip, 1 junk)", st.Misfiled)
		}
		return nil
	})
	if !strings.Contains(scrape(t, s), `jetmq_topic_misfiled_messages{account="$G",topic="orders"} 5`) {
		t.Fatalf("/metrics does not count the misfiled messages")
	}
	// The migrated stream maps a keyed publish itself now.
	ack, err := js.Publish(context.Background(), "orders.dave", []byte("new"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := storedSubject(t, js, "orders", ack.Sequence), fmt.Sprintf("orders.%d.dave", semantics.Partition("dave", 4)); got != want {
		t.Fatalf("after migration a keyed publish is stored on %s, want %s", got, want)
	}

	info := testutil.RunCLI(t, "topic", "info", "orders", "-s", s.ClientURL())
	if !strings.Contains(info.Stdout, "Misfiled 5") {
		t.Fatalf("jetmq topic info does not show the misfiled messages:\n%s%s", info.Stdout, info.Stderr)
	}
	rep := testutil.RunCLI(t, "topic", "repair", "orders", "-s", s.ClientURL())
	if rep.Code != 0 || !strings.Contains(rep.Stdout, "moved 4 misfiled messages; 1 junk") {
		t.Fatalf("jetmq topic repair: %d\n%s%s", rep.Code, rep.Stdout, rep.Stderr)
	}
	var r wire.RepairReply
	if err := apiRequest(t, nc, semantics.APIPrefix+"TOPIC.REPAIR.orders", nil, &r); err != nil || r.Moved != 0 || r.Unplaced != 1 {
		t.Fatalf("second repair %+v %v, want nothing moved", r, err)
	}
	alice := fmt.Sprintf("orders.%d.alice", semantics.Partition("alice", 4))
	testutil.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		if err := apiRequest(t, nc, semantics.APIPrefix+"TOPIC.INFO.orders", nil, &st); err != nil {
			return err
		}
		if st.Misfiled != 1 || st.Messages != 6 {
			return fmt.Errorf("after repair: misfiled %d (want 1, the junk), messages %d (want 6)", st.Misfiled, st.Messages)
		}
		return nil
	})
	if got := bodiesOn(t, js, "orders", alice); got != "0,2,5" {
		t.Fatalf("alice's moved messages on %s: %s, want 0,2,5 in order", alice, got)
	}
	if got := bodiesOn(t, js, "orders", fmt.Sprintf("orders.%d.bob.vip", semantics.Partition("bob", 4))); got != "1" {
		t.Fatalf("bob's tagged message: %q", got)
	}
}

// bodiesOn lists the bodies stored on subj, oldest first.
func bodiesOn(t *testing.T, js jetstream.JetStream, stream, subj string) string {
	t.Helper()
	ctx := context.Background()
	c, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subj}})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for {
		b, err := c.Fetch(100, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range b.Messages() {
			out = append(out, string(m.Data()))
			n++
		}
		if n == 0 {
			return strings.Join(out, ",")
		}
	}
}

// scrape reads the node's /metrics.
func scrape(t *testing.T, s *server.Server) string {
	t.Helper()
	_, body := getHTTP(t, s.HTTPAddr(), "/metrics")
	return body
}

// TestTopicInternalStreamDeletedIsRecreated deletes a topic's internal
// stream from outside: /healthz tells while it lasts, jetmq recreates it,
// and delayed messages flow again (the new stream's sequences continue
// after the last one the topic copied, so none is skipped).
func TestTopicInternalStreamDeletedIsRecreated(t *testing.T) {
	s := testutil.StartServer(t, withTopics(semantics.TopicConfig{Name: "orders", Partitions: 4, MaxDelay: time.Hour}))
	nc := testutil.Connect(t, s.ClientURL())
	js := testutil.JetStream(t, nc)
	msgs := consumeTopic(t, js, "orders")
	delayed := func(body string) {
		t.Helper()
		if _, err := delayRequest(t, nc, "$MQ.DELAY.orders.alice", map[string]string{semantics.HeaderDelay: "10ms"}, body); err != nil {
			t.Fatalf("delay %s: %v", body, err)
		}
		select {
		case m := <-msgs:
			if string(m.Data()) != body {
				t.Fatalf("got %q, want %q", m.Data(), body)
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("delayed message %q never arrived", body)
		}
	}
	for i := 0; i < 3; i++ {
		delayed(fmt.Sprint("before-", i))
	}
	if err := js.DeleteStream(context.Background(), wire.InternalStream("orders")); err != nil {
		t.Fatal(err)
	}
	sawProblem := false
	testutil.CheckFor(t, 30*time.Second, 20*time.Millisecond, func() error {
		code, body := getHTTP(t, s.HTTPAddr(), "/healthz")
		if code == 200 && strings.Contains(body, `"degraded"`) && strings.Contains(body, `"topic":"orders"`) {
			sawProblem = true
		}
		if _, err := js.Stream(context.Background(), wire.InternalStream("orders")); err != nil {
			return err
		}
		if !sawProblem {
			return fmt.Errorf("recreated before /healthz told: %s", body)
		}
		return nil
	})
	delayed("after")
	testutil.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		if _, body := getHTTP(t, s.HTTPAddr(), "/healthz"); !strings.Contains(body, `"ok"`) {
			return fmt.Errorf("healthz after the repair: %s", body)
		}
		return nil
	})
}
