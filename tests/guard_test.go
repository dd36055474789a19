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

// guardDenied is what jetmq denies every application user by itself,
// whatever the native config grants (server/guard.go): forging internal
// writes, pushing assignments, touching its buckets, and listening on the
// subjects it serves.
func guardDenied(openTxn string) []attempt {
	return []attempt{
		pubA("$MQ.INT." + rolesTopic + ".O.x.y.0." + forgedKey),  // a forged committed message
		pubA("$MQ.INT." + rolesTopic + ".E." + openTxn + ".end"), // a forged rollback
		pubA("$MQ.GROUP.ASSIGN." + rolesTopic + "." + rolesOrdered + ".om-1"),
		pubA("$MQ.SYS.NODE.HB"), // a forged node heartbeat
		pubA("$KV.jetmq_ordered.member-token-secret"),
		pubA("$JS.API.STREAM.DELETE.KV_jetmq_ordered"),
		pubA("$JS.API.STREAM.MSG.GET.KV_jetmq_ordered"),
		pubA("$JS.API.DIRECT.GET.KV_jetmq_ordered.$KV.jetmq_ordered.member-token-secret"),
		pubA("$JS.API.STREAM.PURGE.KV_jetmq_groups"),
		pubA("$JS.API.CONSUMER.CREATE.KV_jetmq_members.x.>"),
		pubA("$JS.API.CONSUMER.DURABLE.CREATE.KV_jetmq_members.x"),
		subA("$MQ.INT.>"),
		subA("$MQ.SYS.>"),
		subA("$MQ.TXN.PREPARE.>"),
		qsubA("$MQ.API.>", semantics.ServiceQueue),
		qsubA("$MQ.GROUP.HB.>", semantics.ServiceQueue),
	}
}

// TestGuardFullRightsUser: conf/dropin's alice has no permissions at all
// in the native config, unchanged. jetmq's guard still keeps her from
// forging its state, and she does her work as before.
func TestGuardFullRightsUser(t *testing.T) {
	cfg := loadExampleConf(t, "dropin/jetmq.yaml")
	url := testutil.StartConfig(t, cfg).ClientURL()
	alice := dialAs(t, url, "alice", "")
	const open = "guard-open"
	m := prepareMsg(open, "reg", "k", "", "half")
	m.Header.Set(semantics.HeaderCheckImmunity, "3600")
	if err := request(alice.Conn, m, nil); err != nil {
		t.Fatal(err)
	}

	before := readRolesState(t, alice, open)
	for _, a := range guardDenied(open) {
		alice.expectDenied(t, a)
	}
	before.unchangedBy(t, "alice", readRolesState(t, alice, open))

	// Her own work is untouched: a send, and the transaction commits.
	p, err := semantics.NewProducer(alice.Conn)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if r, err := p.Send(ctx, &semantics.Message{Topic: rolesTopic, Key: "k1", Data: []byte("keyed")}); err != nil || r.Seq == 0 {
		t.Fatalf("alice sends: %+v, %v", r, err)
	}
	if err := request(alice.Conn, nats.NewMsg(wire.TxnCommitSubject(rolesTopic, open)), nil); err != nil {
		t.Fatalf("alice commits her transaction: %v", err)
	}
}

// TestGuardAnonymousClients: on the embedded default (no authentication)
// a client connects without credentials exactly as before and works, and
// is guarded like any user.
func TestGuardAnonymousClients(t *testing.T) {
	s := testutil.StartServer(t)
	nc := testutil.Connect(t, s.ClientURL())
	mustAPI(t, nc, "$MQ.API.TOPIC.CREATE."+rolesTopic, `{"partitions":4}`)
	mustAPI(t, nc, "$MQ.API.GROUP.CREATE."+rolesTopic+"."+rolesCluster, `{"start":"all"}`)
	p, err := semantics.NewProducer(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if r, err := p.Send(ctx, &semantics.Message{Topic: rolesTopic, Key: "k1", Data: []byte("keyed")}); err != nil || r.Seq == 0 {
		t.Fatalf("anonymous send: %+v, %v", r, err)
	}
	got := make(chan string, 1)
	sub, err := semantics.Subscribe(ctx, nc, rolesTopic, rolesCluster, func(_ context.Context, d *semantics.Delivery) error {
		select {
		case got <- string(d.Data):
		default:
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Stop(context.Background()) }()
	select {
	case v := <-got:
		if v != "keyed" {
			t.Fatalf("delivered %q", v)
		}
	case <-ctx.Done():
		t.Fatal("the group never got the message")
	}

	anon := &roleConn{user: "anonymous", perms: make(chan error, 64)}
	anon.Conn = testutil.Connect(t, s.ClientURL(), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case anon.perms <- err:
		default:
		}
	}))
	for _, a := range guardDenied("none") {
		anon.expectDenied(t, a)
	}
}
