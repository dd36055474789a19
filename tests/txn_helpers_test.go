package tests

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/server"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const txnTopic = "orders"

// fastTxn is a transaction config with short timings for tests.
func fastTxn() semantics.TxnConfig {
	return semantics.TxnConfig{CheckImmunity: time.Second, CheckInterval: time.Second, CheckTimeout: 500 * time.Millisecond, MaxChecks: 3}
}

// txnServer starts a node with topic "orders" (4 partitions) and fast
// transaction timings.
func txnServer(t *testing.T, mutate ...func(*server.Config)) *server.Server {
	t.Helper()
	return testutil.StartServer(t, append([]func(*server.Config){func(c *server.Config) {
		c.Topics = []semantics.TopicConfig{{Name: txnTopic, Partitions: 4}}
		c.Transactions = fastTxn()
	}}, mutate...)...)
}

// prepareMsg is a prepare request for key in transaction txid.
func prepareMsg(txid, group, key, tag, body string) *nats.Msg {
	m := nats.NewMsg(wire.TxnPrepareSubject(txnTopic, key, tag))
	m.Header.Set(semantics.HeaderTxnID, txid)
	m.Header.Set(semantics.HeaderProducerGroup, group)
	m.Data = []byte(body)
	return m
}

// request sends m and decodes the jetmq reply into v (or returns its
// *semantics.APIError).
func request(nc *nats.Conn, m *nats.Msg, v any) error {
	resp, err := nc.RequestMsg(m, 10*time.Second)
	if err != nil {
		return err
	}
	return semantics.DecodeReply(resp.Data, v)
}

func prepare(t *testing.T, nc *nats.Conn, txid, key, body string) {
	t.Helper()
	if err := request(nc, prepareMsg(txid, "reg", key, "", body), nil); err != nil {
		t.Fatalf("prepare %s: %v", txid, err)
	}
}

func endTxn(nc *nats.Conn, state, txid string) error {
	subj := wire.TxnCommitSubject(txnTopic, txid)
	if state == semantics.TxnStateRollback {
		subj = wire.TxnRollbackSubject(txnTopic, txid)
	}
	return request(nc, nats.NewMsg(subj), nil)
}

func wantCode(t *testing.T, err error, code int) {
	t.Helper()
	var ae *semantics.APIError
	if !errors.As(err, &ae) || ae.Code != code {
		t.Fatalf("want error %d, got %v", code, err)
	}
}

// recorder is a plain JetStream consumer filtered on <topic>.> — what any
// consumer group sees — that records every message it receives.
type recorder struct {
	mu   sync.Mutex
	msgs []jetstream.Msg
	byID map[string]int
	cc   jetstream.ConsumeContext
}

func newRecorder(t *testing.T, js jetstream.JetStream, filter string) *recorder {
	t.Helper()
	ctx := context.Background()
	c, err := js.CreateOrUpdateConsumer(ctx, txnTopic, jetstream.ConsumerConfig{Durable: "email", FilterSubject: filter, AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{byID: map[string]int{}}
	r.cc, err = c.Consume(func(m jetstream.Msg) {
		r.mu.Lock()
		r.msgs = append(r.msgs, m)
		r.byID[m.Headers().Get(semantics.HeaderTxnID)+"/"+string(m.Data())]++
		r.mu.Unlock()
		_ = m.Ack()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.cc.Stop)
	return r
}

func (r *recorder) count(txid, body string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byID[txid+"/"+body]
}

func (r *recorder) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

// waitCount waits until the recorder has seen txid's body n times.
func (r *recorder) waitCount(t *testing.T, txid, body string, n int, within time.Duration) {
	t.Helper()
	testutil.CheckFor(t, within, 20*time.Millisecond, func() error {
		if c := r.count(txid, body); c != n {
			return fmt.Errorf("%s delivered %d times, want %d", txid, c, n)
		}
		return nil
	})
}

// txnInfo asks the broker about a transaction.
func txnInfo(nc *nats.Conn, txid string) (map[string]any, error) {
	return txnInfoOn(nc, txnTopic, txid)
}

// txnInfoOn asks for transaction txid of topic.
func txnInfoOn(nc *nats.Conn, topic, txid string) (map[string]any, error) {
	var v map[string]any
	err := request(nc, nats.NewMsg(semantics.TxnAPIPrefix+"INFO."+topic+"."+txid), &v)
	return v, err
}

func txnStateOf(t *testing.T, nc *nats.Conn, txid string) string {
	t.Helper()
	v, err := txnInfo(nc, txid)
	if err != nil {
		t.Fatalf("info %s: %v", txid, err)
	}
	return v["state"].(string)
}

// checkResponder answers the check requests of group with answer(txid).
func checkResponder(t *testing.T, nc *nats.Conn, group string, answer func(m *nats.Msg) string) *nats.Subscription {
	t.Helper()
	sub, err := nc.QueueSubscribe(wire.TxnCheckSubject(group), group, func(m *nats.Msg) {
		a := answer(m)
		if a == "" {
			return // silence
		}
		out := nats.NewMsg(m.Reply)
		out.Header.Set(semantics.HeaderTxnState, a)
		_ = m.RespondMsg(out)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return sub
}

func decodeJSON(b []byte) map[string]any {
	var v map[string]any
	_ = json.Unmarshal(b, &v)
	return v
}
