package tests

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
)

// TestMsgResendReachesOneGroupsHandler: a message resent for group
// "email" is handled once more by email's member and never by the other
// groups of the topic (a plain group and an ordered one), whose members
// ack the copy unhandled, so that their consumers keep nothing pending.
// A resend without a group reaches every group.
func TestMsgResendReachesOneGroupsHandler(t *testing.T) {
	s := testutil.StartServer(t, withTopics(semantics.TopicConfig{Name: "orders", Partitions: 2}),
		withGroups(semantics.GroupConfig{Name: "email", Topic: "orders"}, semantics.GroupConfig{Name: "sms", Topic: "orders"},
			semantics.GroupConfig{Name: "audit", Topic: "orders", Ordered: true}))
	nc := testutil.Connect(t, s.ClientURL())
	var mu sync.Mutex
	handled := map[string][]string{} // group -> bodies, in handling order
	record := func(group string) semantics.Handler {
		return func(_ context.Context, d *semantics.Delivery) error {
			mu.Lock()
			defer mu.Unlock()
			handled[group] = append(handled[group], string(d.Data))
			return nil
		}
	}
	subscribe(t, nc, "orders", "email", record("email"))
	subscribe(t, nc, "orders", "sms", record("sms"))
	subscribe(t, nc, "orders", "audit", record("audit"), semantics.Ordered())
	res, err := newProducer(t, nc).Send(context.Background(), &semantics.Message{Topic: "orders", Key: "alice", Data: []byte("order 1")})
	if err != nil {
		t.Fatal(err)
	}
	counts := func() (email, sms, audit int) {
		mu.Lock()
		defer mu.Unlock()
		return len(handled["email"]), len(handled["sms"]), len(handled["audit"])
	}
	waitCounts := func(want [3]int) {
		t.Helper()
		testutil.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
			if e, sm, a := counts(); [3]int{e, sm, a} != want {
				return fmt.Errorf("handled email %d, sms %d, audit %d; want %v", e, sm, a, want)
			}
			return nil
		})
	}
	waitCounts([3]int{1, 1, 1})

	// For email only: email handles it again; sms and audit ack it unhandled.
	if err := rawAPI(t, nc, "$MQ.API.MSG.RESEND.orders", fmt.Sprintf(`{"seq":%d,"group":"email"}`, res.Seq), nil); err != nil {
		t.Fatal(err)
	}
	waitCounts([3]int{2, 1, 1})
	js := testutil.JetStream(t, nc)
	// Every group's consumer has delivered and acked the copy: nothing is
	// left for sms or audit to handle later.
	testutil.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		for _, c := range []string{"sms", "audit~p0", "audit~p1"} {
			cons, err := js.Consumer(context.Background(), "orders", c)
			if err != nil {
				return err
			}
			info, err := cons.Info(context.Background())
			if err != nil {
				return err
			}
			if info.NumPending != 0 || info.NumAckPending != 0 {
				return fmt.Errorf("consumer %s: %d pending, %d unacked", c, info.NumPending, info.NumAckPending)
			}
		}
		return nil
	})
	if e, sm, a := counts(); e != 2 || sm != 1 || a != 1 {
		t.Fatalf("after the copy was acked everywhere: email %d, sms %d, audit %d; want 2, 1, 1", e, sm, a)
	}

	// Without a group the copy is every group's.
	if err := rawAPI(t, nc, "$MQ.API.MSG.RESEND.orders", fmt.Sprintf(`{"seq":%d}`, res.Seq), nil); err != nil {
		t.Fatal(err)
	}
	waitCounts([3]int{3, 2, 2})
}
