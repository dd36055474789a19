package tests

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/server"
	"github.com/nats-io/nats.go"
)

// metricValue reads one sample of /metrics (-1 if absent).
func metricValue(t *testing.T, addr, name, labels string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, name+"{"+labels+"}") {
			var v float64
			fmt.Sscanf(strings.TrimSpace(line[len(name)+len(labels)+2:]), "%g", &v)
			return v
		}
	}
	return -1
}

// Flash sale seed: a burst published as fast as possible while a
// two-member group works at a capped rate: nothing lost, nothing twice,
// and the backlog visible in the lag metric while it drains.
func TestGroupFlashSaleLoadShift(t *testing.T) {
	n, perMemberRate := 2000, 1000
	if fullSize() {
		n, perMemberRate = 200000, 20000
	}
	s := startGroupServer(t, t.TempDir(), withTopics(semantics.TopicConfig{Name: "sale", Partitions: 8}),
		withGroups(semantics.GroupConfig{Name: "notify", Topic: "sale"}))
	nc := testutil.Connect(t, s.ClientURL())
	got := newTally()
	for i := 0; i < 2; i++ {
		tick := time.NewTicker(time.Second / time.Duration(perMemberRate))
		t.Cleanup(tick.Stop)
		subscribe(t, testutil.Connect(t, s.ClientURL()), "sale", "notify", func(ctx context.Context, d *semantics.Delivery) error {
			<-tick.C // capped rate
			got.add(string(d.Data), d.Member)
			return nil
		}, semantics.WithoutCreate(), semantics.WithMember(fmt.Sprintf("w%d", i)))
	}
	start := time.Now()
	sendN(t, newProducer(t, nc), "sale", n, func(i int) *semantics.Message {
		return &semantics.Message{Key: fmt.Sprintf("order%d", i), Data: []byte(fmt.Sprint(i))}
	})
	t.Logf("burst of %d published in %s", n, time.Since(start))
	labels := `account="$G",group="notify",topic="sale"`
	backlog := metricValue(t, s.HTTPAddr(), "jetmq_group_pending", labels)
	if backlog <= 0 {
		t.Fatalf("lag metric shows %v right after the burst, want a backlog", backlog)
	}
	t.Logf("backlog in the lag metric after the burst: %v", backlog)
	waitCount(t, "drained", 5*time.Minute, got.distinct, n)
	testutil.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		if v := metricValue(t, s.HTTPAddr(), "jetmq_group_pending", labels); v != 0 {
			return fmt.Errorf("pending %v after draining", v)
		}
		return nil
	})
	if d := got.dups(); len(d) > 0 {
		t.Fatalf("%d handled twice without a crash, e.g. %v", len(d), d[:min(5, len(d))])
	}
	if m := got.members(); len(m) != 2 {
		t.Fatalf("work spread %v", m)
	}
}

// A member whose connection dies mid-batch loses its unacked messages to
// another member after session_timeout.
func TestGroupMemberCrashHandsOverUnacked(t *testing.T) {
	s := startGroupServer(t, t.TempDir(), withTopics(semantics.TopicConfig{Name: "jobs", Partitions: 4}),
		withGroups(semantics.GroupConfig{Name: "workers", Topic: "jobs", SessionTimeout: time.Second}))
	nc := testutil.Connect(t, s.ClientURL())
	victim, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	stuck := make(chan struct{})
	defer close(stuck)
	var victimHeld atomic.Int32
	if _, err := semantics.Subscribe(context.Background(), victim, "jobs", "workers", func(ctx context.Context, d *semantics.Delivery) error {
		victimHeld.Add(1)
		<-stuck // never finishes: the member "dies" mid-batch
		return nil
	}, semantics.WithoutCreate(), semantics.WithConcurrency(8), semantics.WithPrefetch(50)); err != nil {
		t.Fatal(err)
	}
	const n = 100
	sendN(t, newProducer(t, nc), "jobs", n, func(i int) *semantics.Message {
		return &semantics.Message{Key: fmt.Sprint(i), Data: []byte(fmt.Sprint(i))}
	})
	waitCount(t, "victim busy", 10*time.Second, func() int { return int(victimHeld.Load()) }, 8)
	victim.Close() // abrupt: no acks, no leave
	got := newTally()
	subscribe(t, testutil.Connect(t, s.ClientURL()), "jobs", "workers", func(ctx context.Context, d *semantics.Delivery) error {
		got.add(string(d.Data), d.Member)
		return nil
	}, semantics.WithoutCreate())
	waitCount(t, "survivor", 20*time.Second, got.distinct, n)
	t.Logf("victim held %d in handlers when it died; survivor handled all %d", victimHeld.Load(), n)
}

// A broker restart in the middle of consumption loses nothing.
func TestGroupBrokerRestartLosesNothing(t *testing.T) {
	dir := t.TempDir()
	port := testutil.FreePort(t)
	mutate := []func(*server.Config){withTopics(semantics.TopicConfig{Name: "jobs", Partitions: 4}),
		withGroups(semantics.GroupConfig{Name: "workers", Topic: "jobs", SessionTimeout: time.Second}),
		func(c *server.Config) { c.NATS.Port = port }}
	s := startGroupServer(t, dir, mutate...)
	url := s.ClientURL()
	opts := []nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(100 * time.Millisecond)}
	nc := testutil.Connect(t, url, opts...)
	got := newTally()
	var handled atomic.Int32
	for i := 0; i < 2; i++ {
		subscribe(t, testutil.Connect(t, url, opts...), "jobs", "workers", func(ctx context.Context, d *semantics.Delivery) error {
			handled.Add(1)
			time.Sleep(5 * time.Millisecond) // slow enough that the restart falls mid-run
			got.add(string(d.Data), d.Member)
			return nil
		}, semantics.WithoutCreate(), semantics.WithMember(fmt.Sprintf("w%d", i)))
	}
	const n = 1000
	sendN(t, newProducer(t, nc), "jobs", n, func(i int) *semantics.Message {
		return &semantics.Message{Key: fmt.Sprint(i), Data: []byte(fmt.Sprint(i))}
	})
	waitCount(t, "some handled", 20*time.Second, func() int { return int(handled.Load()) }, n/4)
	testutil.Shutdown(t, s)
	t.Logf("broker stopped with %d of %d handled", got.distinct(), n)
	s = startGroupServer(t, dir, mutate...)
	waitCount(t, "all handled after restart", 60*time.Second, got.distinct, n)
	t.Logf("handled %d deliveries for %d messages across the restart", handled.Load(), n)
}
