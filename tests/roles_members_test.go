package tests

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// memberJob: the Go helper consumes and acks group email and dead-letters
// a poison message; then a plain pull consumer bound to the durable email
// (no JOIN) consumes and acks.
func memberJob(t *testing.T, e *rolesEnv, rc *roleConn) {
	ctx := rolesCtx(t)
	seen := &seenSet{prefix: "mem"}
	sub, err := semantics.Subscribe(ctx, rc.Conn, rolesTopic, rolesCluster, func(_ context.Context, d *semantics.Delivery) error {
		if string(d.Data) == "poison" {
			return errors.New("poison")
		}
		seen.add(string(d.Data))
		return nil
	}, semantics.WithoutCreate())
	if err != nil {
		t.Fatal(err)
	}
	want := feed(t, e, "mem", 2, 5)
	if _, err := e.producer.Send(ctx, &semantics.Message{Topic: rolesTopic, Key: "p", Data: []byte("poison")}); err != nil {
		t.Fatal(err)
	}
	seen.waitAll(t, want)
	testutil.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		var l struct {
			Total int `json:"total"`
		}
		if err := apiRequest(t, e.op.Conn, "$MQ.API.DLQ.LIST."+rolesTopic+"."+rolesCluster, nil, &l); err != nil || l.Total != 1 {
			return fmt.Errorf("dead letters %d, %v", l.Total, err)
		}
		return nil
	})
	if err := sub.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	plain := &seenSet{prefix: "raw"}
	want = feed(t, e, "raw", 1, 3)
	cons, err := testutil.JetStream(t, rc.Conn).Consumer(ctx, rolesTopic, rolesCluster)
	if err != nil {
		t.Fatal(err)
	}
	testutil.CheckFor(t, 20*time.Second, time.Millisecond, func() error {
		batch, err := cons.Fetch(10, jetstream.FetchMaxWait(500*time.Millisecond))
		if err != nil {
			return err
		}
		for m := range batch.Messages() {
			plain.add(string(m.Data()))
			if err := m.DoubleAck(ctx); err != nil {
				return err
			}
		}
		if n := len(plain.got); n < len(want) {
			return fmt.Errorf("plain consumer got %d of %d", n, len(want))
		}
		return nil
	})
}

// orderedMemberJob: member om-1 of the ordered group gets every message of
// each key in order.
func orderedMemberJob(t *testing.T, e *rolesEnv, rc *roleConn) {
	ctx := rolesCtx(t)
	seen := &seenSet{prefix: "ord"}
	sub, err := semantics.Subscribe(ctx, rc.Conn, rolesTopic, rolesOrdered, func(_ context.Context, d *semantics.Delivery) error {
		seen.add(string(d.Data))
		return nil
	}, semantics.Ordered(), semantics.WithMember("om-1"), semantics.WithoutCreate())
	if err != nil {
		t.Fatal(err)
	}
	got := seen.waitAll(t, feed(t, e, "ord", 4, 10))
	last := map[string]int{}
	for _, body := range got {
		key, n, _ := strings.Cut(body, "-")
		i, _ := strconv.Atoi(n)
		if prev, ok := last[key]; ok && i <= prev {
			t.Fatalf("key %s: %d after %d", key, i, prev)
		}
		last[key] = i
	}
	if err := sub.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// broadcasterJob: member bc-1 of the broadcasting group gets every message.
func broadcasterJob(t *testing.T, e *rolesEnv, rc *roleConn) {
	ctx := rolesCtx(t)
	seen := &seenSet{prefix: "bc"}
	sub, err := semantics.Subscribe(ctx, rc.Conn, rolesTopic, rolesBcast, func(_ context.Context, d *semantics.Delivery) error {
		seen.add(string(d.Data))
		return nil
	}, semantics.WithBroadcasting(), semantics.WithMember("bc-1"), semantics.WithoutCreate())
	if err != nil {
		t.Fatal(err)
	}
	seen.waitAll(t, feed(t, e, "bc", 2, 3))
	if err := sub.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// operatorJob: topics created, listed, inspected and deleted through
// $MQ.API (as the jetmq CLI does), groups and transactions inspected,
// JetStream looked at, and the open transaction rolled back as operator.
func operatorJob(t *testing.T, e *rolesEnv, rc *roleConn) {
	ctx := rolesCtx(t)
	var created struct {
		Created bool `json:"created"`
	}
	if err := apiRequest(t, rc.Conn, "$MQ.API.TOPIC.CREATE.scratch", map[string]any{"partitions": 2}, &created); err != nil || !created.Created {
		t.Fatalf("topic create: %+v, %v", created, err)
	}
	var list struct {
		Topics []struct {
			Config semantics.TopicConfig `json:"config"`
		} `json:"topics"`
	}
	if err := apiRequest(t, rc.Conn, "$MQ.API.TOPIC.LIST", nil, &list); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tp := range list.Topics {
		names = append(names, tp.Config.Name)
	}
	if !slices.Contains(names, "scratch") || !slices.Contains(names, rolesTopic) {
		t.Fatalf("topic list %v", names)
	}
	for _, subj := range []string{"$MQ.API.TOPIC.INFO." + rolesTopic, "$MQ.API.GROUP.INFO." + rolesTopic + "." + rolesCluster,
		"$MQ.API.GROUP.LIST." + rolesTopic, "$MQ.API.TXN.LIST." + rolesTopic, "$MQ.API.DLQ.LIST." + rolesTopic + "." + rolesCluster} {
		if err := apiRequest(t, rc.Conn, subj, nil, nil); err != nil {
			t.Fatalf("%s: %v", subj, err)
		}
	}
	js := testutil.JetStream(t, rc.Conn)
	if _, err := js.Stream(ctx, rolesTopic); err != nil {
		t.Fatalf("stream info: %v", err)
	}
	if err := apiRequest(t, rc.Conn, "$MQ.API.TOPIC.DELETE.scratch", nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Stream(ctx, "scratch"); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("deleted topic: %v", err)
	}
	m := nats.NewMsg(wire.TxnRollbackSubject(rolesTopic, e.openTxn))
	m.Header.Set(semantics.HeaderTxnBy, semantics.TxnByOperator)
	if err := request(rc.Conn, m, nil); err != nil {
		t.Fatalf("operator rollback: %v", err)
	}
	if got := txnStateVia(t, rc, e.openTxn); got != semantics.TxnStateRollback {
		t.Fatalf("open transaction after the operator's rollback: %s", got)
	}
}
