package tests

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/wire"
)

// priceCache is one cache server: the latest price of every item.
type priceCache struct {
	mu     sync.Mutex
	prices map[string]int
	seen   int
}

func (c *priceCache) handler(ctx context.Context, d *semantics.Delivery) error {
	p, err := strconv.Atoi(string(d.Data))
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if p > c.prices[d.Key] { // prices only rise in this test: keep the newest
		c.prices[d.Key] = p
	}
	c.seen++
	return nil
}

func (c *priceCache) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen
}

func (c *priceCache) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.prices {
		out[k] = v
	}
	return out
}

// Price cache seed: three broadcasting members receive every price change;
// a fourth joins late with last_per_key and ends with exactly the latest
// price of every item, having been handed only one message per item.
func TestGroupPriceCacheBroadcast(t *testing.T) {
	s := startGroupServer(t, t.TempDir(), withTopics(semantics.TopicConfig{Name: "prices", Partitions: 4}),
		withGroups(semantics.GroupConfig{Name: "cache", Topic: "prices", Mode: semantics.ModeBroadcasting, Start: semantics.StartLastPerKey}))
	nc := testutil.Connect(t, s.ClientURL())
	caches := make([]*priceCache, 4)
	for i := range caches {
		caches[i] = &priceCache{prices: map[string]int{}}
	}
	for i := 0; i < 3; i++ {
		subscribe(t, testutil.Connect(t, s.ClientURL()), "prices", "cache", caches[i].handler, semantics.WithMember(fmt.Sprintf("cache%d", i)), semantics.WithoutCreate())
	}
	const items, rounds = 20, 5
	latest := map[string]int{}
	p := newProducer(t, nc)
	for r := 1; r <= rounds; r++ {
		sendN(t, p, "prices", items, func(i int) *semantics.Message {
			return &semantics.Message{Key: fmt.Sprintf("item%d", i), Data: []byte(strconv.Itoa(r*100 + i))}
		})
		for i := 0; i < items; i++ {
			latest[fmt.Sprintf("item%d", i)] = r*100 + i
		}
	}
	for i := 0; i < 3; i++ {
		waitCount(t, fmt.Sprintf("cache%d", i), 20*time.Second, caches[i].count, items*rounds)
	}
	subscribe(t, testutil.Connect(t, s.ClientURL()), "prices", "cache", caches[3].handler, semantics.WithMember("late"), semantics.WithoutCreate())
	waitCount(t, "late cache", 20*time.Second, caches[3].count, items)
	for i, c := range caches {
		if got := c.snapshot(); fmt.Sprint(got) != fmt.Sprint(latest) {
			t.Fatalf("cache %d ends with %v, want %v", i, got, latest)
		}
	}
	testutil.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		st := groupInfo(t, nc, "prices", "cache")
		if len(st.Members) != 4 || st.Pending != 0 || st.AckPending != 0 {
			return fmt.Errorf("info %+v", st)
		}
		return nil
	})
	if n := caches[3].count(); n != items {
		t.Fatalf("late member was handed %d messages, want one per item (%d)", n, items)
	}
	for i := 0; i < 3; i++ {
		if n := caches[i].count(); n != items*rounds {
			t.Fatalf("cache%d handled %d, want every change once (%d)", i, n, items*rounds)
		}
	}
}

// A broadcasting member's position lives on the server: restarting with
// the same id resumes right after its last ack; a member silent for
// longer than member_ttl is removed with its state.
func TestGroupBroadcastResumeAndTTL(t *testing.T) {
	s := startGroupServer(t, t.TempDir(), withTopics(semantics.TopicConfig{Name: "news", Partitions: 2}),
		withGroups(semantics.GroupConfig{Name: "readers", Topic: "news", Mode: semantics.ModeBroadcasting, Start: semantics.StartAll, MemberTTL: 2 * time.Second}))
	nc := testutil.Connect(t, s.ClientURL())
	p := newProducer(t, nc)
	got := newTally()
	h := func(ctx context.Context, d *semantics.Delivery) error { got.add(string(d.Data), d.Member); return nil }
	sub, err := semantics.Subscribe(context.Background(), testutil.Connect(t, s.ClientURL()), "news", "readers", h, semantics.WithMember("r1"), semantics.WithoutCreate())
	if err != nil {
		t.Fatal(err)
	}
	sendN(t, p, "news", 10, func(i int) *semantics.Message { return &semantics.Message{Key: "k", Data: []byte(fmt.Sprint(i))} })
	waitCount(t, "first run", 10*time.Second, got.distinct, 10)
	if err := sub.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	sendN(t, p, "news", 10, func(i int) *semantics.Message { return &semantics.Message{Key: "k", Data: []byte(fmt.Sprint(10 + i))} })
	sub = subscribe(t, testutil.Connect(t, s.ClientURL()), "news", "readers", h, semantics.WithMember("r1"), semantics.WithoutCreate())
	waitCount(t, "resumed", 10*time.Second, got.distinct, 20)
	if d := got.dups(); len(d) > 0 {
		t.Fatalf("resume redelivered %v", d)
	}
	if err := sub.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	js := testutil.JetStream(t, nc)
	testutil.CheckFor(t, 15*time.Second, 100*time.Millisecond, func() error {
		if _, err := js.Consumer(context.Background(), "news", wire.BroadcastConsumer("readers", "r1")); err == nil {
			return fmt.Errorf("silent member's durable still there")
		}
		return nil
	})
}
