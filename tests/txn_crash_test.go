package tests

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Outcomes a crash-test transaction is given by its producer.
const (
	planCommit         = iota // commit right away
	planRollback              // roll back right away
	planSilentCommit          // say nothing; answer COMMIT when checked
	planSilentRollback        // say nothing; answer ROLLBACK when checked
)

// txnLedger is the producer's own record of what each transaction must end
// as.
type txnLedger struct {
	mu   sync.Mutex
	plan map[string]int
}

func (l *txnLedger) set(id string, p int) {
	l.mu.Lock()
	l.plan[id] = p
	l.mu.Unlock()
}

func (l *txnLedger) get(id string) (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p, ok := l.plan[id]
	return p, ok
}

func (l *txnLedger) committed(id string) bool {
	p, _ := l.get(id)
	return p == planCommit || p == planSilentCommit
}

// startTxnBinary runs the real jetmq binary on dir with a fixed client port
// (so clients reconnect to the same address after a restart).
func startTxnBinary(t *testing.T, dir string, port int) *testutil.Process {
	t.Helper()
	cfg := filepath.Join(dir, "jetmq.yaml")
	yaml := fmt.Sprintf(`nats:
  store_dir: %s
  port: %d
http: ""
topics:
  - name: %s
    partitions: 4
transactions:
  check_immunity: 1s
  check_interval: 1s
  check_timeout: 1s
  max_checks: 1000
`, filepath.Join(dir, "data"), port, txnTopic)
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	p := testutil.StartProcess(t, dir, "serve", "-c", cfg)
	p.WaitReady(t, 60*time.Second)
	return p
}

// retry repeats op until it succeeds or fails with a jetmq error (which is
// an answer, not a crash), for as long as the broker may be down.
func retry(op func() error) error {
	deadline := time.Now().Add(90 * time.Second)
	for {
		err := op()
		var ae *semantics.APIError
		if err == nil || (errors.As(err, &ae) && ae.Code < 500) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTxnCrashKill9 runs transactions with random outcomes while the broker
// process is killed with SIGKILL at random moments, then checks the stream
// against the producer's ledger: every committed transaction's message
// exactly once, no rolled-back one, every silent one resolved by
// check-back. JETMQ_FULL=1 runs 10,000 transactions.
func TestTxnCrashKill9(t *testing.T) {
	n, kills := 150, 3
	if os.Getenv("JETMQ_FULL") != "" {
		n, kills = 10000, 5
	}
	dir := t.TempDir()
	port := testutil.FreePort(t)
	proc := startTxnBinary(t, dir, port)
	url := "nats://127.0.0.1:" + strconv.Itoa(port)
	nc := testutil.Connect(t, url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond), nats.RetryOnFailedConnect(true))
	ledger := &txnLedger{plan: map[string]int{}}
	checker := semantics.CheckerFunc(func(_ context.Context, req *semantics.CheckRequest) semantics.LocalTxState {
		p, ok := ledger.get(req.TxnID)
		switch {
		case !ok:
			return semantics.LocalUnknown
		case p == planCommit || p == planSilentCommit:
			return semantics.LocalCommit
		}
		return semantics.LocalRollback
	})
	prod, err := semantics.NewTransactionProducer(nc, "crash", checker)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()

	var procMu sync.Mutex
	var done atomic.Bool
	killerDone := make(chan int)
	go func() {
		killed := 0
		for killed < kills && !done.Load() {
			time.Sleep(time.Duration(200+rand.IntN(500)) * time.Millisecond)
			procMu.Lock()
			proc.Kill9()
			killed++
			time.Sleep(time.Duration(rand.IntN(300)) * time.Millisecond)
			proc = startTxnBinary(t, dir, port)
			procMu.Unlock()
		}
		killerDone <- killed
	}()

	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	ids := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ids {
				id := fmt.Sprintf("tx%05d", i)
				plan := rand.IntN(4)
				msg := &semantics.Message{Topic: txnTopic, Key: "k" + strconv.Itoa(i%97), Data: []byte(id)}
				if err := retry(func() error { return prod.Prepare(ctx, id, msg) }); err != nil {
					errs <- fmt.Errorf("prepare %s: %w", id, err)
					continue
				}
				ledger.set(id, plan)
				var err error
				switch plan {
				case planCommit:
					err = retry(func() error { return prod.Commit(ctx, txnTopic, id) })
				case planRollback:
					err = retry(func() error { return prod.Rollback(ctx, txnTopic, id) })
				}
				if err != nil {
					errs <- fmt.Errorf("end %s: %w", id, err)
				}
			}
		}()
	}
	// Pace the producers so that the kills land while transactions are
	// being prepared and ended.
	pace := time.Duration(kills) * 800 * time.Millisecond / time.Duration(n)
	for i := range n {
		ids <- i
		time.Sleep(pace)
	}
	close(ids)
	wg.Wait()
	done.Store(true)
	killedDuring := <-killerDone
	t.Logf("%d of %d kills happened while transactions were running", killedDuring, kills)
	for killed := killedDuring; killed < kills; killed++ {
		procMu.Lock()
		proc.Kill9()
		proc = startTxnBinary(t, dir, port)
		procMu.Unlock()
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	// Every transaction settles as the ledger says.
	testutil.CheckFor(t, 120*time.Second, 500*time.Millisecond, func() error {
		open := 0
		for i := range n {
			id := fmt.Sprintf("tx%05d", i)
			v, err := txnInfo(nc, id)
			if err != nil {
				return fmt.Errorf("%s: %w", id, err)
			}
			want := semantics.TxnStateRollback
			if ledger.committed(id) {
				want = semantics.TxnStateCommit
			}
			if st := v["state"]; st != want {
				if st == semantics.TxnStateCommit || st == semantics.TxnStateRollback {
					t.Fatalf("%s ended %s, the producer wanted %s", id, st, want)
				}
				open++
			}
		}
		if open > 0 {
			return fmt.Errorf("%d transactions still open", open)
		}
		return nil
	})

	// The stream holds each committed message exactly once, nothing else.
	got := readTopic(t, testutil.JetStream(t, nc))
	for i := range n {
		id := fmt.Sprintf("tx%05d", i)
		want := 0
		if ledger.committed(id) {
			want = 1
		}
		if got[id] != want {
			t.Errorf("%s stored %d times in %s.>, want %d", id, got[id], txnTopic, want)
		}
	}
	t.Logf("%d transactions, %d kills", n, kills)
}

// readTopic counts the messages on <topic>.> by body.
func readTopic(t *testing.T, js jetstream.JetStream) map[string]int {
	t.Helper()
	return readTopicOf(t, js, txnTopic)
}

// readTopicOf counts the messages on <topic>.> by body.
func readTopicOf(t *testing.T, js jetstream.JetStream, topic string) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	c, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{topic + ".>"}})
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	if info.State.Msgs == 0 {
		return out
	}
	for {
		batch, err := c.FetchNoWait(1000)
		if err != nil {
			t.Fatal(err)
		}
		k := 0
		for m := range batch.Messages() {
			out[string(m.Data())]++
			k++
		}
		if k == 0 {
			ci, err := c.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if ci.NumPending == 0 {
				return out
			}
		}
	}
}
