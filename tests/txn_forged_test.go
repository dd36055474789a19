package tests

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestTxnCommitForgedHalfIs4xx: a "half message" written straight into
// the internal stream by a client (not by PREPARE) cannot be committed,
// and the commit is answered as the client's mistake, not a 500. The
// guard refuses such a write (TestGuardFullRightsUser); this is the
// coordinator's own check, for servers the guard cannot cover (token
// authentication, operator mode, nats.unguarded).
func TestTxnCommitForgedHalfIs4xx(t *testing.T) {
	s := txnServer(t, unguarded)
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

// TestTxnHeadersOnPlainPublishAreNoProof: JetStream stores a client's
// headers as they are, so a plain publish to the topic carrying
// Mq-Txn-By: operator and Mq-Txn-Id reaches consumers with them. What
// tells a committed message apart is the Nats-Stream-Source header
// JetStream sets on what the topic sources from the outbox (naming
// %INT%<topic> first), which JetStream refuses from a client.
func TestTxnHeadersOnPlainPublishAreNoProof(t *testing.T) {
	s := txnServer(t)
	nc := testutil.Connect(t, s.ClientURL())
	js := testutil.JetStream(t, nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	prepare(t, nc, "real-1", "k", "committed")
	if err := endTxn(nc, semantics.TxnStateCommit, "real-1"); err != nil {
		t.Fatal(err)
	}
	forged := nats.NewMsg(txnTopic + ".k")
	forged.Header.Set(semantics.HeaderTxnID, "real-1")
	forged.Header.Set(semantics.HeaderTxnBy, semantics.TxnByOperator)
	forged.Data = []byte("forged")
	if _, err := js.PublishMsg(ctx, forged); err != nil {
		t.Fatal(err)
	}
	// Nats-Stream-Source from a client: refused with an ack (400,
	// err_code 10227), dropped without one.
	spoof := nats.NewMsg(txnTopic + ".k")
	spoof.Header.Set(semantics.HeaderTxnID, "real-1")
	spoof.Header.Set("Nats-Stream-Source", wire.InternalStream(txnTopic)+" 1")
	spoof.Data = []byte("spoof")
	var apiErr *jetstream.APIError
	if _, err := js.PublishMsg(ctx, spoof); !errors.As(err, &apiErr) || apiErr.ErrorCode != 10227 {
		t.Fatalf("a client's Nats-Stream-Source: %v, want JetStream error 10227", err)
	}
	if err := nc.PublishMsg(spoof); err != nil {
		t.Fatal(err)
	}
	marker := nats.NewMsg(txnTopic + ".k")
	marker.Data = []byte("marker")
	if _, err := js.PublishMsg(ctx, marker); err != nil {
		t.Fatal(err)
	}

	rec := newRecorder(t, js, "")
	rec.waitCount(t, "", "marker", 1, 10*time.Second) // after the dropped spoof
	rec.waitCount(t, "real-1", "committed", 1, 10*time.Second)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	sourced := map[string]string{}
	for _, m := range rec.msgs {
		sourced[string(m.Data())] = m.Headers().Get("Nats-Stream-Source")
	}
	if len(rec.msgs) != 3 {
		t.Fatalf("topic delivered %d messages (%v), want committed, forged and marker", len(rec.msgs), sourced)
	}
	if src := sourced["committed"]; !strings.HasPrefix(src, wire.InternalStream(txnTopic)+" ") {
		t.Errorf("committed message: Nats-Stream-Source %q, want it to name %s", src, wire.InternalStream(txnTopic))
	}
	if src, ok := sourced["forged"]; !ok || src != "" {
		t.Errorf("plain publish forging Mq-Txn-*: delivered %v with Nats-Stream-Source %q, want delivered without it", ok, src)
	}
}
