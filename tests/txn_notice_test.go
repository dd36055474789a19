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

// TestTxnNoticesDoNotCopyHalfMessages: a timer firing stores a check notice
// that takes the topic's empty notice source as its content, not a copy of
// the (here 200 KB) half message, and the check it leads to still carries
// the whole message to the producer group.
func TestTxnNoticesDoNotCopyHalfMessages(t *testing.T) {
	s := txnServer(t)
	nc := testutil.Connect(t, s.ClientURL())
	js := testutil.JetStream(t, nc)
	ctx := context.Background()

	var mu sync.Mutex
	var checked []int
	checkResponder(t, nc, "big", func(m *nats.Msg) string {
		mu.Lock()
		checked = append(checked, len(m.Data))
		mu.Unlock()
		return semantics.TxnStateCommit
	})
	body := strings.Repeat("x", 200<<10)
	// The driver writes the notice source when it starts driving the topic.
	testutil.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		st, err := js.Stream(ctx, wire.InternalStream(txnTopic))
		if err != nil {
			return err
		}
		_, err = st.GetLastMsgForSubject(ctx, wire.TxnNoticeSource(txnTopic))
		return err
	})
	notices, err := js.OrderedConsumer(ctx, wire.InternalStream(txnTopic), jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{wire.TxnKindFilter(txnTopic, semantics.TxnKindNotice)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := request(nc, prepareMsg("big-1", "big", "k1", "", body), nil); err != nil {
		t.Fatal(err)
	}
	m, err := notices.Next(jetstream.FetchMaxWait(20 * time.Second))
	if err != nil {
		t.Fatalf("no check notice: %v", err)
	}
	if m.Subject() != wire.TxnNoticeSubject(txnTopic, "big-1") || len(m.Data()) != 0 {
		t.Fatalf("notice %s holds %d bytes, want an empty notice of big-1", m.Subject(), len(m.Data()))
	}
	testutil.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		if st := txnStateOf(t, nc, "big-1"); st != semantics.TxnStateCommit {
			return fmt.Errorf("big-1 is %s", st)
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	if len(checked) == 0 || checked[0] != len(body) {
		t.Fatalf("check requests carried %v bytes, want the whole %d-byte message", checked, len(body))
	}
}
