package tests

import (
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

// delayReply sends a raw delayed publish and returns the raw reply fields.
func delayReply(t *testing.T, nc *nats.Conn, subject string, hdr nats.Header, body []byte) (map[string]any, error) {
	t.Helper()
	m := nats.NewMsg(subject)
	for k, v := range hdr {
		m.Header[k] = v
	}
	m.Data = body
	var v map[string]any
	err := request(nc, m, &v)
	return v, err
}

// wantCodeNaming fails unless err is the API error code whose description
// names word (case-insensitively).
func wantCodeNaming(t *testing.T, what string, err error, code int, word string) {
	t.Helper()
	var ae *semantics.APIError
	if !errors.As(err, &ae) || ae.Code != code {
		t.Fatalf("%s: %v, want error %d", what, err, code)
	}
	if !strings.Contains(strings.ToLower(ae.Description), strings.ToLower(word)) {
		t.Fatalf("%s: %q does not name %q", what, ae.Description, word)
	}
}

// delayTopicStatus reads TOPIC.INFO of the transaction tests' topic.
func delayTopicStatus(t *testing.T, nc *nats.Conn) wire.TopicStatus {
	t.Helper()
	var st wire.TopicStatus
	if err := apiRequest(t, nc, semantics.APIPrefix+"TOPIC.INFO."+txnTopic, nil, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestDelayRefusesReservedHeaders: DELAY refuses what PREPARE refuses: a
// Nats-* header other than Nats-Msg-Id (a schedule source pointing at an
// open transaction's half message would publish it uncommitted; batch
// headers would make JetStream treat the store as a batch) and the headers
// jetmq sets itself (Mq-Txn-Id, Mq-Txn-By: operator would pose as an
// operator's commit).
func TestDelayRefusesReservedHeaders(t *testing.T) {
	s := txnServer(t)
	nc := testutil.Connect(t, s.ClientURL())
	prepare(t, nc, "open-1", "alice", "uncommitted")
	info, err := txnInfo(nc, "open-1")
	if err != nil {
		t.Fatal(err)
	}
	part := info["messages"].([]any)[0].(map[string]any)["part"].(string)
	before := delayTopicStatus(t, nc)
	for _, h := range []struct{ key, value string }{
		{"Nats-Schedule-Source", wire.TxnHalfSubject(txnTopic, "open-1", part)},
		{"Nats-Schedule", "@at 2020-01-01T00:00:00Z"},
		{"Nats-Batch-Id", "b1"},
		{"Nats-Batch-Sequence", "1"},
		{"Nats-Expected-Last-Sequence", "0"},
		{"Nats-Rollup", "sub"},
		{"Nats-TTL", "1s"},
		{semantics.HeaderTxnID, "open-1"},
		{semantics.HeaderTxnBy, semantics.TxnByOperator},
		{semantics.HeaderTxnState, semantics.TxnStateCommit},
		{semantics.HeaderProducerGroup, "reg"},
		{semantics.HeaderTxnPreparedAt, time.Now().Format(time.RFC3339)},
		{semantics.HeaderAttempt, "3"},
	} {
		hdr := nats.Header{}
		hdr.Set(semantics.HeaderDelay, "0s")
		hdr.Set(h.key, h.value)
		_, err := delayReply(t, nc, "$MQ.DELAY.orders.evil", hdr, []byte("x"))
		wantCodeNaming(t, "delay with "+h.key, err, 400, h.key)
	}
	// Nats-Msg-Id stays allowed: it deduplicates the request.
	hdr := nats.Header{}
	hdr.Set(semantics.HeaderDelay, "0s")
	hdr.Set(semantics.HeaderNatsMsgID, "once")
	r, err := delayReply(t, nc, "$MQ.DELAY.orders.alice", hdr, []byte("x"))
	if err != nil {
		t.Fatalf("delay with Nats-Msg-Id: %v", err)
	}
	if r["stream"] != txnTopic {
		t.Fatalf("delay reply names stream %v, want the topic %q", r["stream"], txnTopic)
	}
	// The refusals stored nothing: the outbox is sourced in order, so once
	// the accepted message is in the topic, anything a refusal had written
	// before it would be too.
	var after wire.TopicStatus
	testutil.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		after = delayTopicStatus(t, nc)
		if after.Messages < before.Messages+1 {
			return fmt.Errorf("topic holds %d messages, want %d", after.Messages, before.Messages+1)
		}
		return nil
	})
	if after.Messages != before.Messages+1 || after.Delayed != before.Delayed {
		t.Fatalf("after the refusals and one accepted delay: %d messages, %d delayed; want %d and %d",
			after.Messages, after.Delayed, before.Messages+1, before.Delayed)
	}
	// PREPARE refuses the same jetmq headers it does not take itself.
	for _, k := range []string{semantics.HeaderTxnBy, semantics.HeaderKey, "Nats-Schedule-Source"} {
		m := prepareMsg("open-2", "reg", "bob", "", "b")
		m.Header.Set(k, "x")
		wantCodeNaming(t, "prepare with "+k, request(nc, m, nil), 400, k)
	}
	var pr map[string]any
	if err := request(nc, prepareMsg("open-3", "reg", "bob", "", "b"), &pr); err != nil {
		t.Fatal(err)
	}
	if pr["stream"] != txnTopic {
		t.Fatalf("prepare reply names stream %v, want the topic %q", pr["stream"], txnTopic)
	}
}

// TestDelayClientMistakesAre4xx: a wildcard key or tag, a bad topic name
// and a message too large to store with the broker's headers are the
// client's mistakes: 400 and 413, never 503.
func TestDelayClientMistakesAre4xx(t *testing.T) {
	s := txnServer(t)
	nc := testutil.Connect(t, s.ClientURL())
	hdr := nats.Header{}
	hdr.Set(semantics.HeaderDelay, "1s")
	for _, subj := range []string{"$MQ.DELAY.orders.*", "$MQ.DELAY.orders.k.*", "$MQ.DELAY.orders.k.>", "$MQ.DELAY.*.k"} {
		_, err := delayReply(t, nc, subj, hdr, nil)
		wantCode(t, err, 400)
	}
	big := make([]byte, int(nc.MaxPayload())-600)
	_, err := delayReply(t, nc, "$MQ.DELAY.orders.k", hdr, big)
	wantCodeNaming(t, "oversized delay", err, 413, "max_payload")
}
