package tests

import (
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
)

// TestRolesDropInPublishOnlyUser: conf/dropin's bob publishes to orders
// with acks and delayed sends, and can do none of what issue 12 found a
// user with "$JS.API.>" and "_INBOX.>" could: delete the topic stream,
// purge transactions, read half messages, pull a group's durable, answer
// another producer group's checks.
func TestRolesDropInPublishOnlyUser(t *testing.T) {
	cfg := loadExampleConf(t, "dropin/jetmq.yaml")
	url := testutil.StartConfig(t, cfg).ClientURL()
	alice := dialAs(t, url, "alice", "") // SHOP's unrestricted user
	const open = "dropin-open"
	m := prepareMsg(open, "reg", "k", "", "half")
	m.Header.Set(semantics.HeaderCheckImmunity, "3600")
	if err := request(alice.Conn, m, nil); err != nil {
		t.Fatal(err)
	}

	bob := dialAs(t, url, "bob", "_INBOX_bob")
	p, err := semantics.NewProducer(bob.Conn)
	if err != nil {
		t.Fatal(err)
	}
	ctx := rolesCtx(t)
	for _, msg := range []*semantics.Message{{Key: "k1", Data: []byte("keyed")}, {Data: []byte("keyless")},
		{Key: "k2", Data: []byte("later"), Delay: 100 * time.Millisecond}} {
		msg.Topic = rolesTopic
		if r, err := p.Send(ctx, msg); err != nil || r.Seq == 0 {
			t.Fatalf("bob sends %q: %+v, %v", msg.Data, r, err)
		}
	}

	before := readRolesState(t, alice, open)
	denied := append(commonDenied(open), clientDenied()...)
	denied = append(denied, pubA("$JS.API.CONSUMER.MSG.NEXT."+rolesTopic+".email"),
		qsubA(wire.TxnCheckSubject("reg"), "reg"), pubA(nats.InboxPrefix+"someone.else"))
	for _, a := range denied {
		bob.expectDenied(t, a)
	}
	before.unchangedBy(t, "bob", readRolesState(t, alice, open))
}
