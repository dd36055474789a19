package tests

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
)

// TestTopicInternalStreamPurgeIsReported: a purge of a topic's internal
// stream through the JetStream API (which no subject wildcard can deny,
// server/guard.go) loses its open transactions; jetmq says so in /healthz
// (degraded, naming the topic and the loss), and transactions work again
// afterwards.
func TestTopicInternalStreamPurgeIsReported(t *testing.T) {
	s := txnServer(t)
	nc := testutil.Connect(t, s.ClientURL())
	js := testutil.JetStream(t, nc)
	internal := wire.InternalStream(txnTopic)
	var (
		attempt  int
		lost     string
		filledAt time.Time
		purgedAt time.Time
	)
	// The watcher looks every 15 s while all is well; a purge it did not see the stream full
	// before cannot be told from an empty stream. So the poll fills the
	// stream with an open transaction, purges it once a round has passed,
	// and, if a round after the purge did not report it, fills it again.
	testutil.CheckFor(t, 90*time.Second, 100*time.Millisecond, func() error {
		if _, body := getHTTP(t, s.HTTPAddr(), "/healthz"); strings.Contains(body, "purged from outside") {
			return nil
		}
		st, err := js.Stream(context.Background(), internal)
		if err != nil {
			return err
		}
		round := 16 * time.Second // an idle watcher round and some
		switch {
		case st.CachedInfo().State.Msgs == 0 && time.Since(purgedAt) > round:
			attempt++
			lost = fmt.Sprint("purged-", attempt)
			m := prepareMsg(lost, "reg", "k", "", "half")
			m.Header.Set(semantics.HeaderCheckImmunity, "3600")
			if err := request(nc, m, nil); err != nil {
				return err
			}
			filledAt = time.Now()
		case st.CachedInfo().State.Msgs > 0 && time.Since(filledAt) > round:
			if err := st.Purge(context.Background()); err != nil {
				return err
			}
			purgedAt = time.Now()
		}
		return errors.New("no purge reported yet")
	})
	code, body := getHTTP(t, s.HTTPAddr(), "/healthz")
	if code != 200 || !strings.Contains(body, `"degraded"`) || !strings.Contains(body, `"topic":"`+txnTopic+`"`) || !strings.Contains(body, "open transactions and waiting delayed messages are lost") {
		t.Fatalf("healthz after a purge: %d %s", code, body)
	}
	var info struct{}
	if err := request(nc, nats.NewMsg(wire.TxnAPIPrefix+"INFO."+txnTopic+"."+lost), &info); !errors.Is(err, semantics.ErrNotFound) {
		t.Fatalf("the purged transaction: %v, want not found", err)
	}
	prepare(t, nc, "after-purge", "k", "committed")
	if err := endTxn(nc, semantics.TxnStateCommit, "after-purge"); err != nil {
		t.Fatalf("commit after the purge: %v", err)
	}
	msgs := consumeTopic(t, js, txnTopic)
	select {
	case m := <-msgs:
		if string(m.Data()) != "committed" {
			t.Fatalf("got %q", m.Data())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("a transaction committed after the purge never reached the topic")
	}
}
