package tests

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestTxnCommitRollbackProtocol runs transactions with plain NATS requests:
// prepare is invisible, commit delivers exactly once however often it is
// retried, ends are first-writer-wins.
func TestTxnCommitRollbackProtocol(t *testing.T) {
	s := txnServer(t)
	nc := testutil.Connect(t, s.ClientURL())
	js := testutil.JetStream(t, nc)
	rec := newRecorder(t, js, txnTopic+".>")

	prepare(t, nc, "t1", "alice", "welcome alice")
	prepare(t, nc, "t1", "alice", "welcome alice") // a repeated prepare is harmless
	prepare(t, nc, "t2", "bob", "welcome bob")
	if err := endTxn(nc, semantics.TxnStateCommit, "t1"); err != nil {
		t.Fatal(err)
	}
	for range 3 { // retried commits
		if err := endTxn(nc, semantics.TxnStateCommit, "t1"); err != nil {
			t.Fatalf("repeated commit: %v", err)
		}
	}
	rec.waitCount(t, "t1", "welcome alice", 1, 5*time.Second)
	wantCode(t, endTxn(nc, semantics.TxnStateRollback, "t1"), 409)

	if err := endTxn(nc, semantics.TxnStateRollback, "t2"); err != nil {
		t.Fatal(err)
	}
	if err := endTxn(nc, semantics.TxnStateRollback, "t2"); err != nil {
		t.Fatalf("repeated rollback: %v", err)
	}
	wantCode(t, endTxn(nc, semantics.TxnStateCommit, "t2"), 409)
	wantCode(t, endTxn(nc, semantics.TxnStateCommit, "never"), 404)
	// A prepare after the end changes nothing.
	wantCode(t, request(nc, prepareMsg("t2", "reg", "bob", "", "late"), nil), 409)

	if st := txnStateOf(t, nc, "t1"); st != semantics.TxnStateCommit {
		t.Fatalf("t1 is %s", st)
	}
	if st := txnStateOf(t, nc, "t2"); st != semantics.TxnStateRollback {
		t.Fatalf("t2 is %s", st)
	}
	// The committed message sits on its partition subject, once.
	st, _ := js.Stream(context.Background(), txnTopic)
	m, err := st.GetLastMsgForSubject(context.Background(), wire.StoredSubject(txnTopic, semantics.Partition("alice", 4), "alice", ""))
	if err != nil || string(m.Data) != "welcome alice" || m.Header.Get(semantics.HeaderTxnID) != "t1" {
		t.Fatalf("stored message: %v %v", m, err)
	}
	// No check for an ended transaction: a probe prepared after the ends,
	// with the same immunity, is checked only after t1's and t2's timers
	// would have fired, so once the probe has been asked, any check of
	// t1 or t2 has happened too. The probe is rolled back: nothing else
	// shows up in the topic.
	var mu sync.Mutex
	asked := map[string]int{}
	checkResponder(t, nc, "reg", func(m *nats.Msg) string {
		mu.Lock()
		defer mu.Unlock()
		asked[m.Header.Get(semantics.HeaderTxnID)]++
		return semantics.TxnStateRollback
	})
	prepare(t, nc, "probe", "carol", "probe")
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if st := txnStateOf(t, nc, "probe"); st != semantics.TxnStateRollback {
			return fmt.Errorf("probe is %s", st)
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	if rec.total() != 1 || asked["t1"] != 0 || asked["t2"] != 0 {
		t.Fatalf("delivered %d, checks %v", rec.total(), asked)
	}
}

// TestTxnMultiMessageAndDelay: several messages of one transaction become
// visible together; a delayed one counts its delay from the commit.
func TestTxnMultiMessageAndDelay(t *testing.T) {
	s := txnServer(t)
	nc := testutil.Connect(t, s.ClientURL())
	js := testutil.JetStream(t, nc)
	rec := newRecorder(t, js, txnTopic+".>")
	for i, key := range []string{"a", "b", "c"} {
		prepare(t, nc, "multi", key, fmt.Sprintf("part %d", i))
	}
	d := prepareMsg("multi", "reg", "d", "late", "delayed part")
	d.Header.Set(semantics.HeaderDelay, "1500ms")
	if err := request(nc, d, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // longer than the delay: counted from commit, not prepare
	if rec.total() != 0 {
		t.Fatalf("%d messages visible before commit", rec.total())
	}
	committed := time.Now()
	if err := endTxn(nc, semantics.TxnStateCommit, "multi"); err != nil {
		t.Fatal(err)
	}
	testutil.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if rec.total() < 3 {
			return fmt.Errorf("%d visible", rec.total())
		}
		return nil
	})
	if rec.count("multi", "delayed part") != 0 {
		t.Fatal("delayed part visible at once")
	}
	rec.waitCount(t, "multi", "delayed part", 1, 5*time.Second)
	if since := time.Since(committed); since < 1400*time.Millisecond {
		t.Fatalf("delayed part after %s", since)
	}
	for i := range 3 {
		if n := rec.count("multi", fmt.Sprintf("part %d", i)); n != 1 {
			t.Fatalf("part %d delivered %d times", i, n)
		}
	}
	if err := endTxn(nc, semantics.TxnStateCommit, "multi"); err != nil {
		t.Fatal(err)
	}
	// A marker committed after the repeated commit reaches the topic after
	// anything that commit could have written (the outbox is sourced in
	// order), so once the marker is in, a duplicate would be too.
	prepare(t, nc, "marker", "a", "marker")
	if err := endTxn(nc, semantics.TxnStateCommit, "marker"); err != nil {
		t.Fatal(err)
	}
	rec.waitCount(t, "marker", "marker", 1, 5*time.Second)
	if rec.total() != 5 {
		t.Fatalf("%d delivered after a repeated commit and a marker, want 4 + 1", rec.total())
	}
}

// TestTxnBadInput: every malformed request gets a clear error.
func TestTxnBadInput(t *testing.T) {
	s := txnServer(t)
	nc := testutil.Connect(t, s.ClientURL())
	noID := prepareMsg("x", "reg", "k", "", "b")
	noID.Header.Del(semantics.HeaderTxnID)
	wantCode(t, request(nc, noID, nil), 400)
	noGroup := prepareMsg("x", "reg", "k", "", "b")
	noGroup.Header.Del(semantics.HeaderProducerGroup)
	wantCode(t, request(nc, noGroup, nil), 400)
	wantCode(t, request(nc, prepareMsg("bad id!", "reg", "k", "", "b"), nil), 400)
	wantCode(t, request(nc, prepareMsg(strings.Repeat("x", 129), "reg", "k", "", "b"), nil), 400)
	unknown := prepareMsg("x", "reg", "k", "", "b")
	unknown.Subject = wire.TxnPrepareSubject("nosuch", "k", "")
	wantCode(t, request(nc, unknown, nil), 404)
	badDelay := prepareMsg("x", "reg", "k", "", "b")
	badDelay.Header.Set(semantics.HeaderDelay, "soon")
	wantCode(t, request(nc, badDelay, nil), 400)
	reserved := prepareMsg("x", "reg", "k", "", "b")
	reserved.Header.Set("Nats-Rollup", "all")
	wantCode(t, request(nc, reserved, nil), 400)
	big := prepareMsg("x", "reg", "k", "", strings.Repeat("x", int(nc.MaxPayload())-600))
	wantCode(t, request(nc, big, nil), 413)
	wantCode(t, request(nc, nats.NewMsg(semantics.TxnPrefix+"COMMIT.orders"), nil), 400)
	wantCode(t, request(nc, nats.NewMsg(wire.TxnCommitSubject("nosuch", "x")), nil), 404)
	wantCode(t, endTxn(nc, semantics.TxnStateCommit, "x"), 404)
	prepare(t, nc, "g1", "k", "b")
	wantCode(t, request(nc, prepareMsg("g1", "other", "k2", "", "b"), nil), 409)
	_, err := txnInfo(nc, "nosuch")
	wantCode(t, err, 404)
}

// TestTxnInvisibleToConsumers: a consumer on <topic>.> never receives a
// half message, a rolled-back one, or any bookkeeping, even across checks
// and parking.
func TestTxnInvisibleToConsumers(t *testing.T) {
	s := txnServer(t)
	nc := testutil.Connect(t, s.ClientURL())
	js := testutil.JetStream(t, nc)
	rec := newRecorder(t, js, txnTopic+".>")
	checkResponder(t, nc, "reg", func(m *nats.Msg) string {
		if m.Header.Get(semantics.HeaderTxnID) == "checked-rollback" {
			return semantics.TxnStateRollback
		}
		return semantics.TxnStateUnknown
	})
	prepare(t, nc, "rolled-back", "k1", "no")
	prepare(t, nc, "checked-rollback", "k2", "no")
	prepare(t, nc, "parked", "k3", "no")
	if err := endTxn(nc, semantics.TxnStateRollback, "rolled-back"); err != nil {
		t.Fatal(err)
	}
	testutil.CheckFor(t, 20*time.Second, 100*time.Millisecond, func() error {
		if st := txnStateOf(t, nc, "parked"); st != semantics.TxnStateParked {
			return fmt.Errorf("parked is %s", st)
		}
		if st := txnStateOf(t, nc, "checked-rollback"); st != semantics.TxnStateRollback {
			return fmt.Errorf("checked-rollback is %s", st)
		}
		return nil
	})
	if rec.total() != 0 {
		t.Fatalf("consumer on %s.> received %d messages", txnTopic, rec.total())
	}
	// The stream holds the bookkeeping, all of it outside orders.>.
	st, _ := js.Stream(context.Background(), txnTopic)
	info, err := st.Info(context.Background(), jetstream.WithSubjectFilter(">"))
	if err != nil {
		t.Fatal(err)
	}
	for subj := range info.State.Subjects {
		if strings.HasPrefix(subj, txnTopic+".") {
			t.Fatalf("bookkeeping on %s", subj)
		}
	}
}
