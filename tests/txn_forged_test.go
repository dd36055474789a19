package tests

import (
	"context"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
)

// TestTxnCommitForgedHalfIs4xx: a "half message" written straight into
// the internal stream by a client (not by PREPARE) cannot be committed,
// and the commit is answered as the client's mistake, not a 500.
func TestTxnCommitForgedHalfIs4xx(t *testing.T) {
	s := txnServer(t)
	nc := testutil.Connect(t, s.ClientURL())
	js := testutil.JetStream(t, nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m := nats.NewMsg(wire.TxnHalfSubject(txnTopic, "forged-1", "p1"))
	m.Header.Set(semantics.HeaderDelay, "not-a-duration")
	m.Header.Set(semantics.HeaderProducerGroup, "reg")
	m.Data = []byte("forged")
	if _, err := js.PublishMsg(ctx, m); err != nil {
		t.Fatal(err)
	}
	err := endTxn(nc, semantics.TxnStateCommit, "forged-1")
	wantCodeNaming(t, "commit of a forged half message", err, 409, "forged-1")
	// A forged tag of several tokens would land on a junk topic subject.
	m = nats.NewMsg(wire.TxnHalfSubject(txnTopic, "forged-2", "p1"))
	m.Header.Set(semantics.HeaderTag, "a.b")
	if _, err := js.PublishMsg(ctx, m); err != nil {
		t.Fatal(err)
	}
	err = endTxn(nc, semantics.TxnStateCommit, "forged-2")
	wantCodeNaming(t, "commit of a half message with a forged tag", err, 409, "tag")
}

// TestTxnInfoOfEndedTransaction: TXN.INFO of a committed and of a
// rolled-back transaction still names its messages and when it was
// prepared.
func TestTxnInfoOfEndedTransaction(t *testing.T) {
	s := txnServer(t)
	nc := testutil.Connect(t, s.ClientURL())
	for _, state := range []string{semantics.TxnStateCommit, semantics.TxnStateRollback} {
		txid := "ended-" + state
		m := prepareMsg(txid, "reg", "alice", "vip", "hello")
		m.Header.Set("X-Trace", "t1")
		if err := request(nc, m, nil); err != nil {
			t.Fatal(err)
		}
		prepare(t, nc, txid, "bob", "hi")
		if err := endTxn(nc, state, txid); err != nil {
			t.Fatal(err)
		}
		var info struct {
			State      string     `json:"state"`
			PreparedAt *time.Time `json:"prepared_at"`
			Messages   []struct {
				Part    string      `json:"part"`
				Key     string      `json:"key"`
				Tag     string      `json:"tag"`
				Size    int         `json:"size"`
				Headers nats.Header `json:"headers"`
			} `json:"messages"`
		}
		testutil.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
			return request(nc, nats.NewMsg(semantics.TxnAPIPrefix+"INFO."+txnTopic+"."+txid), &info)
		})
		if info.State != state {
			t.Fatalf("%s: state %q", txid, info.State)
		}
		if info.PreparedAt == nil || time.Since(*info.PreparedAt) > time.Minute {
			t.Fatalf("%s: prepared_at %v", txid, info.PreparedAt)
		}
		keys := map[string]int{}
		for _, msg := range info.Messages {
			if msg.Part == "" {
				t.Fatalf("%s: message without part: %+v", txid, info.Messages)
			}
			keys[msg.Key+"/"+msg.Tag] = msg.Size
			if state == semantics.TxnStateCommit && msg.Key == "alice" && (msg.Headers.Get("X-Trace") != "t1" || msg.Headers.Get(semantics.HeaderTxnID) != "") {
				t.Fatalf("%s: headers %v, want the producer's only", txid, msg.Headers)
			}
		}
		if len(keys) != 2 || keys["alice/vip"] != len("hello") || keys["bob/"] != len("hi") {
			t.Fatalf("%s: messages %+v", txid, info.Messages)
		}
	}
}
