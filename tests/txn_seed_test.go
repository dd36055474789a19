package tests

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/server"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
)

// registrations is the registration system's own database: the local
// transaction writes to it, the Checker reads it.
type registrations struct {
	mu    sync.Mutex
	users map[string]string // txid -> user
}

func (r *registrations) add(txid, user string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.users[txid] = user
}

// checker answers from the database: registered means COMMIT, otherwise
// the registration never happened (ROLLBACK).
func (r *registrations) checker() semantics.Checker {
	return semantics.CheckerFunc(func(_ context.Context, req *semantics.CheckRequest) semantics.LocalTxState {
		r.mu.Lock()
		defer r.mu.Unlock()
		if _, ok := r.users[req.TxnID]; ok {
			return semantics.LocalCommit
		}
		return semantics.LocalRollback
	})
}

func welcome(user string) []*semantics.Message {
	return []*semantics.Message{{Topic: txnTopic, Key: user, Tag: "welcome", Data: []byte("welcome " + user)}}
}

// TestTxnSeedScenario: the registration system never emails a user whose
// registration failed and never fails to email one whose registration
// succeeded — whatever happens to the producer.
func TestTxnSeedScenario(t *testing.T) {
	s := txnServer(t)
	nc := testutil.Connect(t, s.ClientURL())
	email := newRecorder(t, testutil.JetStream(t, nc), txnTopic+".>")
	db := &registrations{users: map[string]string{}}
	ctx := context.Background()

	p, err := semantics.NewTransactionProducer(nc, "registration", db.checker())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	// 1. Registration succeeds: the email goes out once.
	res, err := p.SendInTransaction(ctx, welcome("alice"), func(ctx context.Context) error {
		db.add(semantics.TxnIDFrom(ctx), "alice")
		return nil
	})
	if err != nil || res.State != semantics.TxnStateCommit {
		t.Fatalf("alice: %+v %v", res, err)
	}
	email.waitCount(t, res.TxnID, "welcome alice", 1, 5*time.Second)

	// 2. Registration fails: rolled back, never delivered.
	res2, err := p.SendInTransaction(ctx, welcome("bob"), func(context.Context) error {
		return fmt.Errorf("email taken: %w", semantics.ErrRollback)
	})
	if !errors.Is(err, semantics.ErrRollback) || res2.State != semantics.TxnStateRollback {
		t.Fatalf("bob: %+v %v", res2, err)
	}

	// 3. A failure that leaves the outcome open (the local change did
	// commit before the error): check-back asks and commits.
	res3, err := p.SendInTransaction(ctx, welcome("carol"), func(ctx context.Context) error {
		db.add(semantics.TxnIDFrom(ctx), "carol")
		panic("crash after the local commit")
	})
	if !errors.Is(err, semantics.ErrTxnUnresolved) || res3.State != "" {
		t.Fatalf("carol: %+v %v", res3, err)
	}

	// 4. The producer dies after its local commit, before COMMIT: another
	// instance of the group answers the check.
	dead, err := semantics.NewTransactionProducer(nc, "registration", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := dead.Prepare(ctx, "dave-tx", welcome("dave")...); err != nil {
		t.Fatal(err)
	}
	db.add("dave-tx", "dave")
	// 5. ... and dies before its local commit: check-back rolls back.
	if err := dead.Prepare(ctx, "erin-tx", welcome("erin")...); err != nil {
		t.Fatal(err)
	}

	email.waitCount(t, res3.TxnID, "welcome carol", 1, 10*time.Second)
	email.waitCount(t, "dave-tx", "welcome dave", 1, 10*time.Second)
	testutil.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		if st := txnStateOf(t, nc, "erin-tx"); st != semantics.TxnStateRollback {
			return fmt.Errorf("erin is %s", st)
		}
		return nil
	})
	for _, id := range []string{res.TxnID, res3.TxnID, "dave-tx"} {
		if st := txnStateOf(t, nc, id); st != semantics.TxnStateCommit {
			t.Fatalf("%s is %s", id, st)
		}
	}
	if email.total() != 3 {
		t.Fatalf("%d emails, want 3 (alice, carol, dave)", email.total())
	}
}

// TestTxnParkedThenOperator: with every producer of the group down past
// max_checks, the transaction is parked — listed, never dropped — and an
// operator resolves it with the CLI.
func TestTxnParkedThenOperator(t *testing.T) {
	s := txnServer(t)
	nc := testutil.Connect(t, s.ClientURL())
	email := newRecorder(t, testutil.JetStream(t, nc), txnTopic+".>")
	checks := map[string]int{}
	var mu sync.Mutex
	// A producer that is up but never knows (UNKNOWN), and one that
	// answers garbage: both count as unanswered checks.
	checkResponder(t, nc, "lost", func(m *nats.Msg) string {
		mu.Lock()
		checks[m.Header.Get(semantics.HeaderTxnID)]++
		mu.Unlock()
		return semantics.TxnStateUnknown
	})
	garbage, _ := nc.QueueSubscribe(wire.TxnCheckSubject("garbled"), "garbled", func(m *nats.Msg) { _ = m.Respond([]byte("PERHAPS")) })
	defer garbage.Unsubscribe()
	for _, tx := range []struct{ id, group string }{{"p1", "lost"}, {"p2", "lost"}, {"p3", "garbled"}, {"p4", "nobody"}} {
		if err := request(nc, prepareMsg(tx.id, tx.group, "k"+tx.id, "", "parked "+tx.id), nil); err != nil {
			t.Fatal(err)
		}
	}
	bin := testutil.Binary(t)
	jetmq := func(args ...string) (string, error) {
		out, err := exec.Command(bin, append([]string{"-s", s.ClientURL()}, args...)...).CombinedOutput()
		return string(out), err
	}
	testutil.CheckFor(t, 20*time.Second, 200*time.Millisecond, func() error {
		out, err := jetmq("txn", "ls", "--parked", txnTopic)
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		for _, id := range []string{"p1", "p2", "p3", "p4"} {
			if !strings.Contains(out, id) {
				return fmt.Errorf("%s not parked yet:\n%s", id, out)
			}
		}
		return nil
	})
	mu.Lock()
	if checks["p1"] != fastTxn().MaxChecks {
		t.Fatalf("p1 checked %d times, want max_checks=%d", checks["p1"], fastTxn().MaxChecks)
	}
	mu.Unlock()
	if out, err := jetmq("txn", "ls", txnTopic); err != nil || !strings.Contains(out, "PARKED") {
		t.Fatalf("ls: %v\n%s", err, out)
	}
	if out, err := jetmq("txn", "info", txnTopic, "p1"); err != nil || !strings.Contains(out, "PARKED") || !strings.Contains(out, "kp1") {
		t.Fatalf("info: %v\n%s", err, out)
	}
	if out, err := jetmq("txn", "commit", txnTopic, "p1"); err != nil || !strings.Contains(out, "COMMIT") {
		t.Fatalf("commit: %v\n%s", err, out)
	}
	if out, err := jetmq("txn", "rollback", txnTopic, "p2"); err != nil {
		t.Fatalf("rollback: %v\n%s", err, out)
	}
	if out, err := jetmq("txn", "rollback", txnTopic, "p1"); err == nil || !strings.Contains(out, "COMMIT") {
		t.Fatalf("conflicting rollback: %v\n%s", err, out)
	}
	if out, err := jetmq("--json", "txn", "info", txnTopic, "p1"); err != nil || !strings.Contains(out, `"ended_by": "operator"`) {
		t.Fatalf("info json: %v\n%s", err, out)
	}
	email.waitCount(t, "p1", "parked p1", 1, 5*time.Second)
	testutil.CheckFor(t, 5*time.Second, 100*time.Millisecond, func() error {
		out, err := jetmq("--json", "txn", "ls", "--parked", txnTopic)
		if err != nil {
			return err
		}
		if strings.Contains(out, `"p1"`) || strings.Contains(out, `"p2"`) || !strings.Contains(out, `"p3"`) {
			return fmt.Errorf("after resolving:\n%s", out)
		}
		return nil
	})
	if email.total() != 1 {
		t.Fatalf("%d delivered", email.total())
	}
	testutil.CheckFor(t, 5*time.Second, 100*time.Millisecond, func() error {
		got := txnMetrics(t, s)
		for name, min := range map[string]float64{
			`jetmq_txn_parked{account="$G",topic="orders"}`:                              2, // p3, p4
			`jetmq_txn_pending{account="$G",topic="orders"}`:                             2,
			`jetmq_txn_committed_total{account="$G",topic="orders"}`:                     1,
			`jetmq_txn_rolled_back_total{account="$G",topic="orders"}`:                   1,
			`jetmq_txn_checks_total{account="$G",result="unknown",topic="orders"}`:       6,
			`jetmq_txn_checks_total{account="$G",result="malformed",topic="orders"}`:     3,
			`jetmq_txn_checks_total{account="$G",result="no_responders",topic="orders"}`: 3,
		} {
			if got[name] != min {
				return fmt.Errorf("%s = %v, want %v", name, got[name], min)
			}
		}
		return nil
	})
}

// txnMetrics gathers the jetmq_txn_* series of s as name{labels} -> value.
func txnMetrics(t *testing.T, s *server.Server) map[string]float64 {
	t.Helper()
	mfs, err := s.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "jetmq_txn_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
			out[mf.GetName()+"{"+strings.Join(labels, ",")+"}"] = v
		}
	}
	return out
}
