package tests

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/nats-io/nats.go"
)

// rmqTxnCrashYAML gives every node of the cluster quick check-back and a
// NATS consumer group that sees what the transactions commit.
const rmqTxnCrashYAML = `transactions:
  check_immunity: 1s
  check_interval: 1s
  check_timeout: 1s
  max_checks: 1000
groups:
  - name: txnaudit
    topic: orders
    mode: clustering
    start: all
rocketmq:
  long_polling: 500ms
`

// TestRocketMQTxnCrashKill9: an official-client transactional producer
// (in an internal/rmqdriver process, rmqDriver) runs transactions with random outcomes (commit, roll back, or say
// nothing and answer COMMIT or ROLLBACK when checked; its
// TransactionChecker answers from the test's ledger) on a cluster of
// three real jetmq processes while nodes are killed with -9: the one
// driving the topic's transaction checks, then the topic stream's leader
// (and at full size on, round robin). A send that fails is abandoned:
// the ledger says roll it back if it was stored after all, and the
// transaction is tried again under a new body. Afterwards (with a second
// producer of the topic answering checks too, see below) every
// transaction whose send was acknowledged ended as the ledger says; the
// topic stream holds every committed body exactly once and no other
// transactional body; the NATS group delivered every committed body and
// none of the others (redeliveries are counted and logged: a group is
// at least once).
func TestRocketMQTxnCrashKill9(t *testing.T) {
	least, kills := 150, 2
	if fullSize() {
		least, kills = 1500, 5
	}
	const (
		workers = 4
		rate    = 10 // transactions a second per worker
	)
	c := newProcessCluster(t, 3, rmqTxnCrashYAML)
	var addrs []string
	for i := 0; i < 3; i++ {
		addrs = append(addrs, rmqAddrOf(t, c.procs[i]))
	}
	nc := testutil.Connect(t, c.urls(3), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	js := testutil.JetStream(t, nc)
	delivered := newBodyTally()
	subscribe(t, nc, "orders", "txnaudit", func(_ context.Context, d *semantics.Delivery) error {
		delivered.add(string(d.Data))
		return nil
	})

	ledger := &txnLedger{plan: map[string]int{}} // by body
	var checks atomic.Int64
	var mu sync.Mutex
	txids := map[string]string{} // body -> jetmq transaction id, for every acknowledged send
	// Abandoned sends and retried ends, by error.
	abandoned, endRetries := newErrorCounts(), newErrorCounts()
	// The official client runs in a driver process (see rmqDriver); its
	// workers do what the doc comment says and report it here.
	d := startRMQDriver(t, strings.Join(addrs, ";"), func(e rmqEvent) {
		switch e.Ev {
		case "txn":
			ledger.set(e.Body, e.Plan)
			mu.Lock()
			txids[e.Body] = e.TxID
			mu.Unlock()
		case "abandoned":
			// Stored or not, this body is given up: rolled back if it
			// ever comes to a check.
			ledger.set(e.Body, planSilentRollback)
			abandoned.noteText(e.Err)
		case "endretry":
			endRetries.noteText(e.Err)
		case "check":
			checks.Add(1)
		}
	})
	d.do(rmqCommand{Op: "txn", Workers: workers, Rate: rate, Least: least / workers})
	acked := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(txids)
	}

	defer func() { // also when a wait below fails
		t.Logf("transactional sends abandoned on:\n%s\nends retried on:\n%s", abandoned, endRetries)
	}()
	for k := 0; k < kills; k++ {
		waitCount(t, "transactions before the kill", 60*time.Second, acked, acked()+30)
		victim, held := c.singletonNode(t, "txn.orders"), "check driver"
		if k%2 == 1 {
			victim, held = streamLeaderIndex(t, js, "orders"), "stream leader"
		}
		t.Logf("kill -9 n%d (%s)", victim+1, held)
		killedAt := time.Now()
		c.procs[victim].Kill9()
		// 30 take 0.75 s at the workers' pace; the rest is the pause.
		waitCount(t, "transactions with a node down", 90*time.Second, acked, acked()+30)
		t.Logf("30 more transactions acknowledged %s after the kill", time.Since(killedAt).Round(10*time.Millisecond))
		// It comes back on its RocketMQ port, as a configured node does
		// (TestRocketMQChaosKill9 covers one that comes back elsewhere).
		c.procs[victim] = testutil.StartProcessEnv(t, c.dir, []string{"JETMQ_ROCKETMQ_LISTEN=" + addrs[victim]}, "serve", "-c", c.cfgs[victim])
		c.procs[victim].WaitReady(t, 90*time.Second)
	}
	waitCount(t, "transactions after the last restart", 60*time.Second, acked, acked()+30)
	d.stopSends()

	// Every acknowledged transaction ends as the ledger says. A silent one
	// waits for a check, which reaches a producer only over a telemetry
	// stream: the Go client v5.1.4 does not reopen a stream it lost to a
	// killed node (client.go:118-139 releases it, and only a publish
	// opens one again) until its settings sync, every 5 minutes
	// (client_manager.go:80). Its streams are one per broker, each dialled
	// to the first node of that broker's shuffled addresses that answers
	// (rocketmq/routes.go brokers), so two kills take them all in some
	// runs: with this producer alone the transactions settled 2 s, 33 s,
	// 4 min 40 s and 4 min 43 s after the producers stopped. So a second
	// producer of the topic starts now, as the application restarted
	// elsewhere would, with the same checker: checks go to any live
	// producer of the topic (RocketMQ 5's producer group), and the
	// first one answers too once its streams are back.
	d.do(rmqCommand{Op: "producer"})
	settleFrom := time.Now()
	defer func() {
		t.Logf("%d checks answered by the producers; transactions settled %s after the producers stopped", checks.Load(), time.Since(settleFrom).Round(time.Second))
	}()
	testutil.CheckFor(t, 2*time.Minute, 500*time.Millisecond, func() error {
		open := 0
		var first []string // a few open ones, as TXN.INFO shows them
		for body, txid := range txids {
			v, err := txnInfoOn(nc, "orders", txid)
			if err != nil {
				return fmt.Errorf("%s (%s): %w", body, txid, err)
			}
			want := semantics.TxnStateRollback
			if ledger.committed(body) {
				want = semantics.TxnStateCommit
			}
			if st := v["state"]; st != want {
				if st == semantics.TxnStateCommit || st == semantics.TxnStateRollback {
					t.Fatalf("%s (%s) ended %s, the producer wanted %s", body, txid, st, want)
				}
				open++
				if len(first) < 3 {
					plan, _ := ledger.get(body)
					first = append(first, fmt.Sprintf("%s (plan %d): %v", body, plan, v))
				}
			}
		}
		if open > 0 {
			return fmt.Errorf("%d of %d transactions still open, e.g.\n%s", open, len(txids), strings.Join(first, "\n"))
		}
		return nil
	})
	var committed []string
	for body := range txids {
		if ledger.committed(body) {
			committed = append(committed, body)
		}
	}
	// The group gets every committed body (then nothing more can come).
	testutil.CheckFor(t, 60*time.Second, 100*time.Millisecond, func() error {
		if m := delivered.missing(committed); len(m) > 0 {
			return fmt.Errorf("%d of %d committed transactions not delivered to the group (first %s)", len(m), len(committed), m[0])
		}
		return nil
	})

	stored := readTopicOf(t, js, "orders")
	ledger.mu.Lock()
	defer ledger.mu.Unlock()
	var storedWrong, deliveredWrong int
	for body, plan := range ledger.plan { // every body ever sent
		want := 0
		if (plan == planCommit || plan == planSilentCommit) && txids[body] != "" {
			want = 1
		}
		if stored[body] != want {
			storedWrong++
			t.Errorf("%s (plan %d) stored %d times, want %d", body, plan, stored[body], want)
		}
		if want == 0 && delivered.missing([]string{body}) == nil {
			deliveredWrong++
			t.Errorf("%s (plan %d, send acknowledged %v) was delivered", body, plan, txids[body] != "")
		}
	}
	var redelivered int
	for _, body := range committed {
		delivered.mu.Lock()
		redelivered += delivered.count[body] - 1
		delivered.mu.Unlock()
	}
	t.Logf("%d transactions acknowledged (%d committed), %d sends abandoned, %d end retries, %d checks answered; stored wrongly %d, delivered wrongly %d; group redeliveries of committed ones %d",
		len(txids), len(committed), abandoned.total(), endRetries.total(), checks.Load(), storedWrong, deliveredWrong, redelivered)
}
