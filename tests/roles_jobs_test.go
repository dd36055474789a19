package tests

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The role jobs of TestRoles: each uses only its own user's connection,
// except to feed a consumer (as producer) or to look (as operator).

// producerJob: keyed, tagged, keyless, asynchronous and delayed sends with
// acks, and a malformed subject answered 400 rather than dropped.
func producerJob(t *testing.T, e *rolesEnv, rc *roleConn) {
	ctx := rolesCtx(t)
	p, err := semantics.NewProducer(rc.Conn)
	if err != nil {
		t.Fatal(err)
	}
	r, err := p.Send(ctx, &semantics.Message{Topic: rolesTopic, Key: "alice", Tag: "vip", Data: []byte("p-keyed")})
	if err != nil || r.Seq == 0 || r.Partition != semantics.Partition("alice", 4) {
		t.Fatalf("keyed send: %+v, %v", r, err)
	}
	if r, err = p.Send(ctx, &semantics.Message{Topic: rolesTopic, Data: []byte("p-keyless")}); err != nil || r.Partition < 0 || r.Partition > 3 {
		t.Fatalf("keyless send: %+v, %v", r, err)
	}
	for i := range 20 {
		if _, err := p.SendAsync(&semantics.Message{Topic: rolesTopic, Key: fmt.Sprintf("k%d", i), Data: []byte("p-async")}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatalf("async sends: %v", err)
	}
	if r, err = p.Send(ctx, &semantics.Message{Topic: rolesTopic, Key: "bob", Data: []byte("p-delayed"), Delay: 200 * time.Millisecond}); err != nil || r.Seq == 0 {
		t.Fatalf("delayed send: %+v, %v", r, err)
	}
	var apiErr *jetstream.APIError
	if _, err := testutil.JetStream(t, rc.Conn).Publish(ctx, rolesTopic+".a.b.c", nil); !errors.As(err, &apiErr) || apiErr.Code != 400 {
		t.Fatalf("malformed subject: %v, want a 400", err)
	}
	testutil.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		var st struct {
			Delayed int `json:"delayed"`
		}
		if err := apiRequest(t, e.op.Conn, "$MQ.API.TOPIC.INFO."+rolesTopic, nil, &st); err != nil || st.Delayed != 0 {
			return fmt.Errorf("delayed %d, %v", st.Delayed, err)
		}
		return nil
	})
}

// txnProducerJob: commit, rollback, and a transaction left to check-back
// that this producer's own Checker commits.
func txnProducerJob(t *testing.T, e *rolesEnv, rc *roleConn) {
	ctx := rolesCtx(t)
	checked := make(chan string, 4)
	tp, err := semantics.NewTransactionProducer(rc.Conn, rolesPG, semantics.CheckerFunc(
		func(_ context.Context, r *semantics.CheckRequest) semantics.LocalTxState {
			checked <- r.TxnID
			return semantics.LocalCommit
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tp.Close() }()
	msg := func(body string) []*semantics.Message {
		return []*semantics.Message{{Topic: rolesTopic, Key: "carol", Data: []byte(body),
			Headers: nats.Header{semantics.HeaderCheckImmunity: {"0.5"}}}}
	}
	if res, err := tp.SendInTransaction(ctx, msg("t-commit"), func(context.Context) error { return nil }); err != nil || res.State != semantics.TxnStateCommit {
		t.Fatalf("commit: %+v, %v", res, err)
	}
	res, err := tp.SendInTransaction(ctx, msg("t-rollback"), func(context.Context) error { return semantics.ErrRollback })
	if !errors.Is(err, semantics.ErrRollback) || res.State != semantics.TxnStateRollback {
		t.Fatalf("rollback: %+v, %v", res, err)
	}
	res, err = tp.SendInTransaction(ctx, msg("t-checked"), func(context.Context) error { return errors.New("crashed") })
	if !errors.Is(err, semantics.ErrTxnUnresolved) {
		t.Fatalf("unresolved: %+v, %v", res, err)
	}
	waitCheckOf(t, checked, res.TxnID)
	waitTxnState(t, e.op, res.TxnID, semantics.TxnStateCommit)
}

// checkerJob: a transaction nobody ends is decided by the checker's answer.
func checkerJob(t *testing.T, e *rolesEnv, rc *roleConn) {
	checked := make(chan string, 4)
	cp, err := semantics.NewTransactionProducer(rc.Conn, rolesPG, semantics.CheckerFunc(
		func(_ context.Context, r *semantics.CheckRequest) semantics.LocalTxState {
			checked <- r.TxnID
			return semantics.LocalRollback
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cp.Close() }()
	if err := rc.Flush(); err != nil { // the subscription is in place
		t.Fatal(err)
	}
	m := &semantics.Message{Topic: rolesTopic, Key: "dave", Data: []byte("c-checked"),
		Headers: nats.Header{semantics.HeaderCheckImmunity: {"0.5"}}}
	if err := e.txn.Prepare(rolesCtx(t), "roles-checked", m); err != nil {
		t.Fatal(err)
	}
	waitCheckOf(t, checked, "roles-checked")
	waitTxnState(t, e.op, "roles-checked", semantics.TxnStateRollback)
}

func waitCheckOf(t *testing.T, checked <-chan string, txid string) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case id := <-checked:
			if id == txid {
				return
			}
		case <-timeout:
			t.Fatalf("transaction %s was never checked", txid)
		}
	}
}

func waitTxnState(t *testing.T, op *roleConn, txid, want string) {
	t.Helper()
	testutil.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		if got := txnStateVia(t, op, txid); got != want {
			return fmt.Errorf("transaction %s is %s, want %s", txid, got, want)
		}
		return nil
	})
}

func txnStateVia(t *testing.T, op *roleConn, txid string) string {
	t.Helper()
	var ti struct {
		State string `json:"state"`
	}
	if err := apiRequest(t, op.Conn, "$MQ.API.TXN.INFO."+rolesTopic+"."+txid, nil, &ti); err != nil {
		t.Fatalf("transaction %s: %v", txid, err)
	}
	return ti.State
}

// feed sends n keyed messages with bodies "<prefix>-<key>-<i>" as user
// producer (n per key, in order) and returns the bodies.
func feed(t *testing.T, e *rolesEnv, prefix string, keys, n int) []string {
	t.Helper()
	var bodies []string
	for i := range n {
		for k := range keys {
			key := fmt.Sprintf("%s%d", prefix, k)
			body := fmt.Sprintf("%s-%d", key, i)
			if _, err := e.producer.Send(rolesCtx(t), &semantics.Message{Topic: rolesTopic, Key: key, Data: []byte(body)}); err != nil {
				t.Fatal(err)
			}
			bodies = append(bodies, body)
		}
	}
	return bodies
}

// seenSet collects the bodies with a prefix a handler got, in order.
type seenSet struct {
	mu     sync.Mutex
	prefix string
	got    []string
}

func (s *seenSet) add(body string) {
	if !strings.HasPrefix(body, s.prefix) {
		return // a message of an earlier role's job
	}
	s.mu.Lock()
	s.got = append(s.got, body)
	s.mu.Unlock()
}

// waitAll waits until every body of want was seen at least once.
func (s *seenSet) waitAll(t *testing.T, want []string) []string {
	t.Helper()
	testutil.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, w := range want {
			if !slices.Contains(s.got, w) {
				return fmt.Errorf("%s not received (%d of %d)", w, len(s.got), len(want))
			}
		}
		return nil
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}
