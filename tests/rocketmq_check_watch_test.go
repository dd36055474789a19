package tests

import (
	"errors"
	"fmt"
	"testing"
	"time"

	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
)

// TestRocketMQChecksFollowTelemetryStreams drives the Telemetry stream
// the way the official Go client does after a node it had streams to
// died: a producer's stream ends, and later the same client (same client
// id) opens a new one and sends its settings again. While the client has
// no stream on the node, the node stops answering the topic's checks
// (another node's producers should get them); once it has one again, it
// answers them again, and a check reaches the new stream as a
// RecoverOrphanedTransactionCommand. Seen from NATS as the check driver
// sees it: a responder, or none, on $MQ.TXN.CHECK.<topic>.
func TestRocketMQChecksFollowTelemetryStreams(t *testing.T) {
	s := rmqServer(t, []semantics.TopicConfig{{Name: "orders", Partitions: 1}})
	nc := testutil.Connect(t, s.ClientURL())
	raw, ctx := rawRMQ(t, s.RocketMQAddr())
	settings := &v2.TelemetryCommand{Command: &v2.TelemetryCommand_Settings{Settings: &v2.Settings{
		ClientType: v2.ClientType_PRODUCER.Enum(),
		PubSub:     &v2.Settings_Publishing{Publishing: &v2.Publishing{Topics: []*v2.Resource{{Name: "orders"}}}},
	}}}
	// open starts a producer's telemetry stream, sends its settings and
	// waits for the answer, as the client does before it sends.
	open := func() v2.MessagingService_TelemetryClient {
		t.Helper()
		st, err := raw.Telemetry(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Send(settings); err != nil {
			t.Fatal(err)
		}
		if reply, err := st.Recv(); err != nil || reply.GetSettings() == nil {
			t.Fatalf("settings answer %v, %v", reply, err)
		}
		return st
	}
	// check is a check request for txid of orders, as the check driver
	// sends it.
	check := func(txid string) *nats.Msg {
		m := nats.NewMsg(wire.TxnCheckSubject("orders"))
		m.Header.Set(semantics.HeaderTxnID, txid)
		m.Header.Set(semantics.HeaderKey, "k")
		m.Data = []byte("half")
		return m
	}
	waitResponder := func(want bool) {
		t.Helper()
		testutil.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
			// Only whether anyone takes the check matters here, not
			// its answer.
			_, err := nc.RequestMsg(check("probe"), 200*time.Millisecond)
			if has := !errors.Is(err, nats.ErrNoResponders); has != want {
				return fmt.Errorf("a responder to the topic's checks: %v, want %v (%v)", has, want, err)
			}
			return nil
		})
	}

	first := open()
	waitResponder(true)
	if err := first.CloseSend(); err != nil { // as the client's release does
		t.Fatal(err)
	}
	waitResponder(false)

	second := open()
	waitResponder(true)
	got := make(chan *v2.RecoverOrphanedTransactionCommand, 1)
	go func() {
		for {
			cmd, err := second.Recv()
			if err != nil {
				return
			}
			// The probes' checks come first.
			if c := cmd.GetRecoverOrphanedTransactionCommand(); c != nil && c.GetTransactionId() != "probe" {
				got <- c
				return
			}
		}
	}()
	answered := make(chan error, 1)
	go func() { _, err := nc.RequestMsg(check("t-after-reopen"), 5*time.Second); answered <- err }()
	select {
	case c := <-got:
		if c.GetTransactionId() != "t-after-reopen" || string(c.GetMessage().GetBody()) != "half" {
			t.Errorf("check command for %q with body %q", c.GetTransactionId(), c.GetMessage().GetBody())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the check never reached the reopened telemetry stream")
	}
	if err := <-answered; err != nil {
		t.Fatalf("check request: %v", err)
	}
}
