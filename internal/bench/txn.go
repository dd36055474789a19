package bench

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// txnWorkers is how many transactions the txn scenario keeps in flight.
const txnWorkers = 512

// txnOnce prepares one message in transaction txid and commits it,
// returning when the commit is acknowledged.
func txnOnce(ctx context.Context, nc *nats.Conn, topic, txid, key string, payload []byte) error {
	m := nats.NewMsg(wire.TxnPrepareSubject(topic, key, ""))
	m.Header.Set(wire.HeaderTxnID, txid)
	m.Header.Set(wire.HeaderProducerGroup, "bench")
	m.Data = payload
	resp, err := nc.RequestMsgWithContext(ctx, m)
	if err == nil {
		err = wire.DecodeReply(resp.Data, nil)
	}
	if err != nil {
		return fmt.Errorf("prepare %s: %w", txid, err)
	}
	resp, err = nc.RequestWithContext(ctx, wire.TxnCommitSubject(topic, txid), nil)
	if err == nil {
		err = wire.DecodeReply(resp.Data, nil)
	}
	if err != nil {
		return fmt.Errorf("commit %s: %w", txid, err)
	}
	return nil
}

// runTxn measures transactions of one message each, prepare then commit,
// txnWorkers of them in flight; msgs/s counts committed transactions.
func runTxn(ctx context.Context, env *Env) (Result, error) {
	return runTxnWith(ctx, env, env.Msgs, txnWorkers)
}

// runTxnLatency measures one transaction in flight (msgs/4 of them); p50
// and p99 are prepare-sent to commit-acknowledged.
func runTxnLatency(ctx context.Context, env *Env) (Result, error) {
	return runTxnWith(ctx, env, max(env.Msgs/SyncScale, 1), 1)
}

func runTxnWith(ctx context.Context, env *Env, n, workers int) (Result, error) {
	s, err := openTopic(ctx, env, benchPartitions)
	if err != nil {
		return Result{}, err
	}
	defer s.close()
	nc, topic := s.nc, s.name
	payload := env.Payload()
	lat, elapsed, err := runRequests(env, n, workers, func(i int) error {
		return txnOnce(ctx, nc, topic, "tx"+strconv.Itoa(i), "user-"+strconv.Itoa(i%benchKeys), payload)
	})
	if err != nil {
		return Result{}, err
	}
	if err := checkCommitted(ctx, nc, topic, lat.Len()); err != nil {
		return Result{}, err
	}
	floor, err := runNullBridge(ctx, env, nc, n, workers)
	if err != nil {
		return Result{}, err
	}
	r := NewResult(lat.Len(), elapsed, lat)
	if workers == 1 {
		r.Notes = fmt.Sprintf("%d transactions (msgs/%d), one in flight; latency = prepare sent to commit acknowledged; null bridge p99 %.0fµs",
			lat.Len(), SyncScale, floor.P99Micros)
	} else {
		r.P50Micros, r.P99Micros = 0, 0
		r.Notes = fmt.Sprintf("1-message transactions, prepare + commit, %d in flight", workers)
	}
	r.Reference = newReference("null-bridge", nullBridgeDescription, workers == 1, floor)
	return r, nil
}

// nullBridgeDescription is how the notes describe the null bridge.
const nullBridgeDescription = "two requests, each one plain JetStream write, no logic"

// checkCommitted verifies that topic.> holds exactly want messages: every
// acknowledged commit stored its message once. A commit is acknowledged
// once it is durable in the topic's outbox; the topic stream sources it a
// moment later, so this waits (up to sourceWait) for the count to settle.
func checkCommitted(ctx context.Context, nc *nats.Conn, topic string, want int) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(sourceWait)
	for {
		s, err := js.Stream(ctx, topic)
		if err != nil {
			return err
		}
		got := s.CachedInfo().State.Msgs
		switch {
		case got > uint64(want):
			return fmt.Errorf("topic %s holds %d committed messages, only %d commits were acknowledged", topic, got, want)
		case got == uint64(want):
			return nil
		case time.Now().After(deadline):
			return fmt.Errorf("topic %s holds %d committed messages %s after %d commits were acknowledged", topic, got, sourceWait, want)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// sourceWait bounds how long committed messages may take to be sourced
// from the outbox into the topic.
const sourceWait = 10 * time.Second
