package tests

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/ordercheck"
	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/nats-io/nats.go"
)

// orderedTopic creates a topic with the given partitions through the API.
func orderedTopic(t *testing.T, nc *nats.Conn, topic string, partitions, replicas int) {
	t.Helper()
	body := map[string]any{"partitions": partitions, "replicas": replicas}
	if err := apiRequest(t, nc, semantics.APIPrefix+"TOPIC.CREATE."+topic, body, nil); err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

// publishKeyed sends n messages over keys key-0…key-<keys-1> (key i%keys)
// and records each stored one with the checker.
func publishKeyed(t *testing.T, p *semantics.Producer, c *ordercheck.Checker, topic string, from, n, keys int) {
	t.Helper()
	futures := make([]*semantics.SendFuture, 0, n)
	names := make([]string, 0, n)
	for i := from; i < from+n; i++ {
		key := fmt.Sprintf("key-%d", i%keys)
		f, err := p.SendAsync(&semantics.Message{Topic: topic, Key: key, Data: []byte(fmt.Sprint(i))})
		if err != nil {
			t.Fatal(err)
		}
		futures = append(futures, f)
		names = append(names, key)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	for i, f := range futures {
		r, err := f.Result(ctx)
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		c.Publish(ordercheck.Published{Partition: r.Partition, Key: names[i], Seq: r.Seq})
	}
}

// checkedHandler records every handling with the checker; work runs
// inside the handled interval and may fail the attempt.
func checkedHandler(c *ordercheck.Checker, member string, work func(d *semantics.Delivery) error) semantics.Handler {
	return func(ctx context.Context, d *semantics.Delivery) error {
		start := time.Now()
		var err error
		if work != nil {
			err = work(d)
		}
		c.Record(ordercheck.Event{Partition: d.Partition, Key: d.Key, Seq: d.Seq, Member: member, Start: start, End: time.Now(), OK: err == nil})
		return err
	}
}

// jitter makes handlers take a little, uneven time so that handovers
// catch messages in flight.
func jitter(max time.Duration) func(*semantics.Delivery) error {
	return func(*semantics.Delivery) error {
		if max > 0 {
			time.Sleep(time.Duration(rand.Int64N(int64(max))))
		}
		return nil
	}
}

// orderedMembers starts and stops Ordered() members on their own
// connections.
type orderedMembers struct {
	t     *testing.T
	url   func() string
	c     *ordercheck.Checker
	topic string
	group string
	opts  []semantics.SubscribeOption
	work  func(*semantics.Delivery) error

	mu   sync.Mutex
	subs map[string]*semantics.Subscription
	conn map[string]*nats.Conn
}

func newOrderedMembers(t *testing.T, url func() string, c *ordercheck.Checker, topic, group string, work func(*semantics.Delivery) error, opts ...semantics.SubscribeOption) *orderedMembers {
	om := &orderedMembers{t: t, url: url, c: c, topic: topic, group: group, opts: opts, work: work,
		subs: map[string]*semantics.Subscription{}, conn: map[string]*nats.Conn{}}
	t.Cleanup(func() {
		om.mu.Lock()
		defer om.mu.Unlock()
		for id, s := range om.subs {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = s.Stop(ctx)
			cancel()
			om.conn[id].Close()
		}
	})
	return om
}

// start adds member id.
func (om *orderedMembers) start(id string) *semantics.Subscription {
	om.t.Helper()
	nc, err := nats.Connect(om.url(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		om.t.Fatal(err)
	}
	opts := append([]semantics.SubscribeOption{semantics.Ordered(), semantics.WithMember(id)}, om.opts...)
	sub, err := semantics.Subscribe(context.Background(), nc, om.topic, om.group, checkedHandler(om.c, id, om.work), opts...)
	if err != nil {
		nc.Close()
		om.t.Fatalf("subscribe %s: %v", id, err)
	}
	om.mu.Lock()
	om.subs[id], om.conn[id] = sub, nc
	om.mu.Unlock()
	return sub
}

// stop stops member id gracefully.
func (om *orderedMembers) stop(id string) {
	om.t.Helper()
	om.mu.Lock()
	sub, nc := om.subs[id], om.conn[id]
	delete(om.subs, id)
	delete(om.conn, id)
	om.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sub.Stop(ctx); err != nil {
		om.t.Errorf("stop %s: %v", id, err)
	}
	nc.Close()
}

// kill closes member id's connection without a goodbye: its heartbeats,
// acks and pulls stop at once, like a process killed with -9.
func (om *orderedMembers) kill(id string) {
	om.mu.Lock()
	sub, nc := om.subs[id], om.conn[id]
	delete(om.subs, id)
	delete(om.conn, id)
	om.mu.Unlock()
	nc.Close()
	go func() { _ = sub.Stop(context.Background()) }() // reap its goroutines
}

func (om *orderedMembers) sub(id string) *semantics.Subscription {
	om.mu.Lock()
	defer om.mu.Unlock()
	return om.subs[id]
}

// waitDone waits until every published message was handled (or
// dead-lettered) and checks the run.
func waitChecked(t *testing.T, c *ordercheck.Checker, want int, timeout time.Duration) ordercheck.Report {
	t.Helper()
	testutil.CheckFor(t, timeout, 50*time.Millisecond, func() error {
		if n := c.Handled(); n < want {
			return fmt.Errorf("handled %d of %d", n, want)
		}
		return nil
	})
	r := c.Check()
	t.Logf("order check: %s", r)
	if !r.OK() {
		t.Fatalf("ordered run broke a guarantee: %s", r)
	}
	return r
}

// waitOwners waits until the live members own all partitions evenly.
func waitBalanced(t *testing.T, om *orderedMembers, partitions int, ids ...string) {
	t.Helper()
	testutil.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		lo, hi, sum := partitions, 0, 0
		counts := map[string]int{}
		for _, id := range ids {
			n := len(om.sub(id).OrderedPartitions())
			counts[id] = n
			lo, hi, sum = min(lo, n), max(hi, n), sum+n
		}
		if sum != partitions || hi-lo > 1 {
			return fmt.Errorf("ownership %v", counts)
		}
		return nil
	})
}
