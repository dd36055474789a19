package tests

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	rmq "github.com/apache/rocketmq-clients/golang/v5"
	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/server"
)

// TestRocketMQTransactions: a RocketMQ transactional producer's commit is
// delivered, its rollback never is, and a transaction it leaves open is
// checked back over its telemetry stream and committed by its checker.
func TestRocketMQTransactions(t *testing.T) {
	s := testutil.StartServer(t, func(c *server.Config) {
		c.Topics = []semantics.TopicConfig{{Name: "orders", Partitions: 2}}
		c.Transactions.CheckImmunity = time.Second
		c.Transactions.CheckInterval = time.Second
		c.RocketMQ.LongPolling = 500 * time.Millisecond
	})
	nc := testutil.Connect(t, s.ClientURL())
	got := natsMember(t, nc, "orders", "audit")

	var checked atomic.Int32
	p := rmqProducerNoStop(t, s.RocketMQAddr(), rmq.WithTopics("orders"), rmq.WithTransactionChecker(&rmq.TransactionChecker{
		Check: func(mv *rmq.MessageView) rmq.TransactionResolution {
			checked.Add(1)
			if string(mv.GetBody()) == "orphan" && mv.GetKeys()[0] == "carol" {
				return rmq.COMMIT
			}
			return rmq.ROLLBACK
		}}))
	send := func(body, key string) rmq.Transaction {
		tx := p.BeginTransaction()
		m := &rmq.Message{Topic: "orders", Body: []byte(body)}
		m.SetKeys(key)
		if _, err := p.SendWithTransaction(context.Background(), m, tx); err != nil {
			t.Fatalf("transactional send %s: %v", body, err)
		}
		return tx
	}
	if err := send("committed", "alice").Commit(); err != nil {
		t.Fatalf("commit: %v", err)
	}
	if err := send("rolled back", "bob").RollBack(); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	send("orphan", "carol") // never ended: the broker asks the checker

	want := map[string]bool{"committed": true, "orphan": true}
	seen := map[string]*semantics.Delivery{}
	deadline := time.After(15 * time.Second)
	for len(seen) < 2 {
		select {
		case d := <-got:
			if !want[string(d.Data)] {
				t.Fatalf("delivered %q", d.Data)
			}
			seen[string(d.Data)] = d
		case <-deadline:
			t.Fatalf("delivered %d of 2 (checks asked: %d)", len(seen), checked.Load())
		}
	}
	if by := seen["orphan"].Headers.Get(semantics.HeaderTxnBy); by != semantics.TxnByCheck {
		t.Fatalf("orphan ended by %q, want check", by)
	}
	if seen["committed"].Key != "alice" || seen["committed"].Headers.Get(semantics.HeaderTxnID) == "" {
		t.Fatalf("committed message: key %q headers %v", seen["committed"].Key, seen["committed"].Headers)
	}
	select {
	case d := <-got:
		t.Fatalf("extra delivery %q", d.Data)
	case <-time.After(1500 * time.Millisecond):
	}
}
