package tests

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/server"
	"github.com/nats-io/nats.go"
)

// TestTxnClusterCheckTakeover: on 3 nodes exactly one drives the checks of
// a topic, each transaction is checked once in steady state, and when the
// driving node dies another takes over within 5 s.
func TestTxnClusterCheckTakeover(t *testing.T) {
	c := testutil.StartCluster(t, 3, func(_ int, cfg *server.Config) {
		cfg.Topics = []semantics.TopicConfig{{Name: txnTopic, Partitions: 4, Replicas: 3}}
		cfg.Transactions = fastTxn()
	})
	singleton := "txn." + txnTopic
	owner := -1
	testutil.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		n := 0
		for i, s := range c.Servers {
			if s.SingletonActive(singleton) {
				n, owner = n+1, i
			}
		}
		if n != 1 {
			return fmt.Errorf("%d nodes drive the checks", n)
		}
		return nil
	})
	client := (owner + 1) % 3
	nc := testutil.Connect(t, c.Servers[client].ClientURL())
	email := newRecorder(t, testutil.JetStream(t, nc), txnTopic+".>")
	var mu sync.Mutex
	checks := map[string]int{}
	checkResponder(t, nc, "reg", func(m *nats.Msg) string {
		mu.Lock()
		checks[m.Header.Get(semantics.HeaderTxnID)]++
		mu.Unlock()
		return semantics.TxnStateCommit
	})
	checksOf := func(id string) int {
		mu.Lock()
		defer mu.Unlock()
		return checks[id]
	}

	for i := range 5 {
		prepare(t, nc, fmt.Sprintf("steady%d", i), fmt.Sprintf("k%d", i), "steady")
	}
	testutil.CheckFor(t, 15*time.Second, 50*time.Millisecond, func() error {
		if n := email.count(fmt.Sprintf("steady%d", 4), "steady"); n != 1 {
			return fmt.Errorf("not committed by check-back yet")
		}
		return nil
	})
	time.Sleep(1500 * time.Millisecond) // longer than check_interval
	for i := range 5 {
		id := fmt.Sprintf("steady%d", i)
		if n := checksOf(id); n != 1 {
			t.Errorf("%s checked %d times in steady state, want 1", id, n)
		}
		if n := email.count(id, "steady"); n != 1 {
			t.Errorf("%s delivered %d times", id, n)
		}
	}

	prepare(t, nc, "inflight", "kx", "takeover")
	died := time.Now()
	c.Stop(owner)
	prepare(t, nc, "after", "ky", "takeover")
	testutil.CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		for _, s := range c.Servers {
			if s != nil && s.SingletonActive(singleton) {
				return nil
			}
		}
		return fmt.Errorf("no node drives the checks")
	})
	t.Logf("checks taken over %s after the driver died", time.Since(died).Round(time.Millisecond))
	// The driver moves within 5 s (asserted above); the commit itself also
	// waits for the topic's streams to elect new leaders if the dead node
	// led them, which JetStream's RAFT does in 4-9 s.
	const electionBound = 15 * time.Second
	email.waitCount(t, "inflight", "takeover", 1, fastTxn().CheckImmunity+electionBound)
	email.waitCount(t, "after", "takeover", 1, fastTxn().CheckImmunity+electionBound)
	t.Logf("transactions checked and committed %s after the driver died", time.Since(died).Round(time.Millisecond))
}
