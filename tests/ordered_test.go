package tests

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/ordercheck"
	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
)

// TestOrderedBalancedStrictOrder: four members share 16 partitions evenly
// and handle 1,000 keys strictly in order; a fifth member is a hot
// standby that takes over the partitions of a member that stops.
func TestOrderedBalancedStrictOrder(t *testing.T) {
	s := testutil.StartServer(t)
	nc := testutil.Connect(t, s.ClientURL())
	orderedTopic(t, nc, "orders", 16, 1)
	c := ordercheck.New()
	om := newOrderedMembers(t, s.ClientURL, c, "orders", "ship", jitter(200*time.Microsecond))
	ids := []string{"m1", "m2", "m3", "m4"}
	for _, id := range ids {
		om.start(id)
	}
	waitBalanced(t, om, 16, ids...)
	p := newProducer(t, nc)
	publishKeyed(t, p, c, "orders", 0, 3000, 1000)
	waitChecked(t, c, 3000, 60*time.Second)

	om.start("m5")
	om.start("m6")
	waitBalanced(t, om, 16, "m1", "m2", "m3", "m4", "m5", "m6")
	om.stop("m2")
	waitBalanced(t, om, 16, "m1", "m3", "m4", "m5", "m6")
	publishKeyed(t, p, c, "orders", 3000, 2000, 1000)
	r := waitChecked(t, c, 5000, 60*time.Second)
	if r.Duplicates != 0 {
		t.Fatalf("graceful handovers duplicated %d messages", r.Duplicates)
	}
}

// TestOrderedRegistrationEvents is the seed scenario: each user's
// created, updated and deleted events are handled in that order.
func TestOrderedRegistrationEvents(t *testing.T) {
	s := testutil.StartServer(t)
	nc := testutil.Connect(t, s.ClientURL())
	orderedTopic(t, nc, "registrations", 8, 1)
	var mu sync.Mutex
	state := map[string]string{} // user -> last event
	var wrong []string
	handler := func(member string) semantics.Handler {
		return func(_ context.Context, d *semantics.Delivery) error {
			ev := d.Tag
			mu.Lock()
			defer mu.Unlock()
			want := map[string]string{"created": "", "updated": "created", "deleted": "updated"}[ev]
			if state[d.Key] != want {
				wrong = append(wrong, fmt.Sprintf("%s: %s after %q (member %s)", d.Key, ev, state[d.Key], member))
			}
			state[d.Key] = ev
			return nil
		}
	}
	for _, id := range []string{"a", "b", "c"} {
		subscribe(t, testutil.Connect(t, s.ClientURL()), "registrations", "accounts", handler(id), semantics.Ordered(), semantics.WithMember(id))
	}
	p := newProducer(t, nc)
	const users = 300
	var futures []*semantics.SendFuture
	for _, ev := range []string{"created", "updated", "deleted"} {
		for u := 0; u < users; u++ {
			f, err := p.SendAsync(&semantics.Message{Topic: "registrations", Key: fmt.Sprintf("user-%d", u), Tag: ev})
			if err != nil {
				t.Fatal(err)
			}
			futures = append(futures, f)
		}
	}
	for _, f := range futures {
		if _, err := f.Result(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	testutil.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		mu.Lock()
		defer mu.Unlock()
		deleted := 0
		for _, s := range state {
			if s == "deleted" {
				deleted++
			}
		}
		if deleted < users {
			return fmt.Errorf("%d of %d users deleted", deleted, users)
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	if len(wrong) > 0 {
		t.Fatalf("%d events out of order, e.g. %v", len(wrong), wrong[:min(5, len(wrong))])
	}
}

// TestOrderedSuspendRetryInPlaceAndDLQ: a failing message suspends its
// partition alone, is retried in place after the suspend pause, and is
// dead-lettered after max_reconsume attempts; the partition then moves on
// in order while the other partitions never stopped.
func TestOrderedSuspendRetryInPlaceAndDLQ(t *testing.T) {
	s := testutil.StartServer(t)
	nc := testutil.Connect(t, s.ClientURL())
	orderedTopic(t, nc, "pay", 4, 1)
	c := ordercheck.New()
	var mu sync.Mutex
	attempts := map[uint64][]int{}
	poison := "key-7"
	work := func(d *semantics.Delivery) error {
		mu.Lock()
		attempts[d.Seq] = append(attempts[d.Seq], d.Attempt)
		mu.Unlock()
		if d.Key == poison && string(d.Data) == "7" {
			if d.Attempt == 3 {
				c.Dead(d.Seq, time.Now()) // dead-lettered right after this attempt
			}
			return errors.New("poison")
		}
		return nil
	}
	om := newOrderedMembers(t, s.ClientURL, c, "pay", "ledger", work, semantics.WithRetry(3, time.Second), semantics.WithSuspend(200*time.Millisecond))
	sub := om.start("m1")
	p := newProducer(t, nc)
	publishKeyed(t, p, c, "pay", 0, 400, 20)
	poisonPart := semantics.Partition(poison, 4)
	testutil.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if got := sub.OrderedSuspended(); len(got) != 1 || got[0] != poisonPart {
			return fmt.Errorf("suspended %v, want [%d]", got, poisonPart)
		}
		return nil
	})
	r := waitChecked(t, c, 400, 30*time.Second)
	if r.Duplicates != 0 {
		t.Fatalf("%d duplicates", r.Duplicates)
	}
	var dl semantics.DLQList
	testutil.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		if err := apiRequest(t, nc, semantics.DLQAPIPrefix+"LIST.pay.ledger", nil, &dl); err != nil {
			return err
		}
		if dl.Total != 1 || len(dl.Messages) != 1 || dl.Messages[0].Key != poison || dl.Messages[0].Attempts != 3 || dl.Messages[0].Error != "poison" {
			return fmt.Errorf("DLQ %+v", dl)
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	if got := attempts[dl.Messages[0].Seq]; fmt.Sprint(got) != "[1 2 3]" {
		t.Fatalf("poison attempts %v, want [1 2 3]", got)
	}
	if len(sub.OrderedSuspended()) != 0 {
		t.Fatalf("still suspended: %v", sub.OrderedSuspended())
	}
}
