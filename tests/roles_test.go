package tests

// conf/roles: every role connects as its user, does its job end to end,
// and is refused everything on its deny list (docs/PROTOCOL.md,
// "Permissions").

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/wire"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// forgedKey is the key of the outbox message the forgers try to write.
const forgedKey = "forged"

// rolesEnv is what the role jobs share: connections of other roles that
// feed them, and a transaction kept open for the whole test.
type rolesEnv struct {
	producer *semantics.Producer            // as user producer
	txn      *semantics.TransactionProducer // as user txn_producer, answering no checks
	op       *roleConn                      // as user operator
	openTxn  string
}

func newRolesEnv(t *testing.T, url string) *rolesEnv {
	t.Helper()
	e := &rolesEnv{op: dialRole(t, url, "operator"), openTxn: "roles-open"}
	var err error
	if e.producer, err = semantics.NewProducer(dialRole(t, url, "producer").Conn); err != nil {
		t.Fatal(err)
	}
	if e.txn, err = semantics.NewTransactionProducer(dialRole(t, url, "txn_producer").Conn, rolesPG, nil); err != nil {
		t.Fatal(err)
	}
	open := &semantics.Message{Topic: rolesTopic, Key: "open", Data: []byte("never committed"),
		Headers: nats.Header{semantics.HeaderCheckImmunity: {"3600"}}}
	if err := e.txn.Prepare(rolesCtx(t), e.openTxn, open); err != nil {
		t.Fatal(err)
	}
	return e
}

func rolesCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// commonDenied is refused to every role, operator included: nobody but
// jetmq writes its internal state, changes streams or consumers through
// the JetStream API, reads the internal stream, or listens on jetmq's
// service subjects.
func commonDenied(openTxn string) []attempt {
	return append([]attempt{
		pubA("$MQ.INT." + rolesTopic + ".O.x.y.0." + forgedKey),   // a forged committed message
		pubA("$MQ.INT." + rolesTopic + ".E." + openTxn + ".end"),  // a forged rollback
		pubA("$MQ.INT." + rolesTopic + ".H." + openTxn + ".part"), // a forged half message
		pubA("$MQ.GROUP.ASSIGN." + rolesTopic + "." + rolesOrdered + ".om-1"),
		pubA("$JS.API.STREAM.DELETE." + rolesTopic),
		pubA("$JS.API.STREAM.PURGE." + rolesTopic),
		pubA("$JS.API.STREAM.UPDATE." + rolesTopic),
		pubA("$JS.API.STREAM.MSG.DELETE." + rolesTopic),
		pubA("$JS.API.STREAM.DELETE.%INT%" + rolesTopic),
		pubA("$JS.API.STREAM.PURGE.%INT%" + rolesTopic),
		pubA("$JS.API.STREAM.UPDATE.%INT%" + rolesTopic),
		pubA("$JS.API.DIRECT.GET.%INT%" + rolesTopic),
		pubA("$JS.API.STREAM.MSG.GET.%INT%" + rolesTopic),
		pubA("$JS.API.CONSUMER.CREATE.%INT%" + rolesTopic),
		pubA("$JS.API.CONSUMER.MSG.NEXT.%INT%" + rolesTopic + ".jetmq_txn_check"),
		pubA("$JS.API.CONSUMER.CREATE." + rolesTopic),
		pubA("$JS.API.CONSUMER.DELETE." + rolesTopic + "." + rolesCluster),
		pubA("$JS.API.CONSUMER.DURABLE.CREATE." + rolesTopic + "." + rolesCluster),
		pubA("$MQ.SYS.RMQ.SETTLE.n1"),
		subA("$MQ.INT.>"),
		subA("$MQ.SYS.>"),
		subA("$MQ.TXN.PREPARE.>"),
		subA("$MQ.DELAY.>"),
		qsubA("$MQ.API.>", semantics.ServiceQueue),
		qsubA("$MQ.TXN.COMMIT.>", semantics.ServiceQueue),
		qsubA(wire.TxnCheckSubject("other"), "other"),
	}, kvDenied()...)
}

// jetmqBuckets are jetmq's KV buckets: ordered-group leases and the
// member-token secret, the group registry, the member registry, and the
// RocketMQ receipt-handle secret.
var jetmqBuckets = []string{"jetmq_ordered", "jetmq_groups", "jetmq_members", "jetmq_rocketmq"}

// kvDenied is every way to read or change a jetmq bucket: a put, delete
// or purge of a key (a publish on $KV.<bucket>.<key>), a read by direct or
// stream get, a watch (a consumer on KV_<bucket>, or a pull from one of
// jetmq's own), changing or dropping the bucket's stream, and listening
// to the values jetmq writes.
func kvDenied() []attempt {
	var out []attempt
	for _, b := range jetmqBuckets {
		key := "$KV." + b + "." + rolesTopic + "." + rolesOrdered
		st := "KV_" + b
		out = append(out, pubA(key),
			pubA("$KV."+b+".member-token-secret"),
			pubA("$JS.API.DIRECT.GET."+st+"."+key),
			pubA("$JS.API.DIRECT.GET."+st),
			pubA("$JS.API.STREAM.MSG.GET."+st),
			pubA("$JS.API.STREAM.PURGE."+st),
			pubA("$JS.API.STREAM.DELETE."+st),
			pubA("$JS.API.STREAM.UPDATE."+st),
			pubA("$JS.API.STREAM.MSG.DELETE."+st),
			pubA("$JS.API.CONSUMER.CREATE."+st),
			pubA("$JS.API.CONSUMER.CREATE."+st+".watch."+key),
			pubA("$JS.API.CONSUMER.MSG.NEXT."+st+".watch"),
			subA("$KV."+b+".>"))
	}
	return out
}

// clientDenied is refused to every role but operator.
func clientDenied() []attempt {
	return []attempt{
		pubA("$MQ.API.TOPIC.DELETE." + rolesTopic),
		pubA("$MQ.API.TXN.LIST." + rolesTopic),
		subA("_INBOX.>"), // everybody else's replies
	}
}

type roleCase struct {
	user   string
	job    func(t *testing.T, e *rolesEnv, rc *roleConn)
	denied []attempt
}

func roleCases(open string) []roleCase {
	other := func(s string) string { return "$JS.API.CONSUMER.MSG.NEXT." + rolesTopic + "." + s }
	return []roleCase{
		{"producer", producerJob, []attempt{pubA("payments.k"), pubA("$MQ.DELAY.payments.k"),
			pubA("$MQ.TXN.PREPARE." + rolesTopic + ".k"), pubA(wire.TxnCommitSubject(rolesTopic, open)),
			pubA("$MQ.GROUP.JOIN." + rolesTopic + "." + rolesCluster), pubA(other(rolesCluster)),
			subA(rolesTopic + ".>"), qsubA(wire.TxnCheckSubject(rolesPG), rolesPG)}},
		{"txn_producer", txnProducerJob, []attempt{pubA("$MQ.TXN.PREPARE.payments.k"),
			pubA(wire.TxnCommitSubject("payments", "x")), topicPubA("k"),
			pubA("$MQ.DELAY." + rolesTopic + ".k"), pubA(other(rolesCluster)), subA("$MQ.TXN.CHECK.>")}},
		{"checker", checkerJob, []attempt{pubA(wire.TxnCommitSubject(rolesTopic, open)),
			pubA(wire.TxnRollbackSubject(rolesTopic, open)), topicPubA("k"),
			pubA("_INBOX.someone.else"), qsubA("$MQ.TXN.CHECK.*", rolesPG), subA("$MQ.TXN.CHECK.>")}},
		{"member", memberJob, []attempt{topicPubA("k"), pubA(other(rolesBcast + "__bc-1")),
			pubA(other(rolesOrdered + "~p0")), pubA("$JS.ACK." + rolesTopic + "." + rolesBcast + "__bc-1.1.1.1.1.1.0"),
			pubA("$MQ.GROUP.JOIN." + rolesTopic + "." + rolesOrdered), pubA("$MQ.DLQ." + rolesTopic + "." + rolesBcast),
			pubA("$MQ.API.DLQ.PURGE." + rolesTopic + "." + rolesCluster), qsubA(wire.TxnCheckSubject(rolesPG), rolesPG)}},
		{"ordered_member", orderedMemberJob, []attempt{pubA("$MQ.GROUP.RELEASE." + rolesTopic + "." + rolesOrdered + ".om-2"),
			pubA("$MQ.GROUP.LEAVE." + rolesTopic + "." + rolesOrdered + ".om-2"),
			pubA("$MQ.GROUP.HB." + rolesTopic + "." + rolesOrdered + ".ghost"),
			subA("$MQ.GROUP.ASSIGN." + rolesTopic + "." + rolesOrdered + ".om-2"), pubA(other(rolesCluster)),
			pubA("$JS.ACK." + rolesTopic + "." + rolesCluster + ".1.1.1.1.1.0")}},
		{"broadcaster", broadcasterJob, []attempt{pubA(other(rolesBcast + "__bc-2")),
			pubA("$MQ.GROUP.HB." + rolesTopic + "." + rolesBcast + ".bc-2"),
			pubA("$MQ.GROUP.LEAVE." + rolesTopic + "." + rolesBcast + ".bc-2"), pubA(other(rolesCluster)), topicPubA("k")}},
		{"operator", operatorJob, []attempt{topicPubA("k"), pubA(other(rolesCluster)),
			pubA("$JS.ACK." + rolesTopic + "." + rolesCluster + ".1.1.1.1.1.0"), pubA("$JS.API.STREAM.CREATE.x"),
			pubA("$MQ.GROUP.HB." + rolesTopic + "." + rolesCluster + ".op"), qsubA(wire.TxnCheckSubject(rolesPG), rolesPG)}},
	}
}

// TestRoles runs conf/roles with one connection per role: each does its
// job, then every attempt on its deny list must get a permission
// violation and leave jetmq's state as it was.
func TestRoles(t *testing.T) {
	s := startRolesServer(t)
	e := newRolesEnv(t, s.ClientURL())
	for _, rcase := range roleCases(e.openTxn) {
		t.Run(rcase.user, func(t *testing.T) {
			rc := dialRole(t, s.ClientURL(), rcase.user)
			rcase.job(t, e, rc)
			before := readRolesState(t, e.op, e.openTxn)
			denied := append(commonDenied(e.openTxn), rcase.denied...)
			if rcase.user != "operator" {
				denied = append(denied, clientDenied()...)
			}
			for _, a := range denied {
				rc.expectDenied(t, a)
			}
			before.unchangedBy(t, rcase.user, readRolesState(t, e.op, e.openTxn))
		})
	}
	// The KV denials guard the buckets jetmq really has (the member
	// registry exists once the roles' members joined).
	if got := readRolesState(t, e.op, e.openTxn).buckets; !slices.Equal(got, jetmqBuckets) {
		t.Fatalf("jetmq's KV buckets %v, want %v", got, jetmqBuckets)
	}
}

// TestRolesConfigPinsEveryAllowList parses conf/roles/nats.conf many
// times: nats-server reads a user's permission keys in map order, and a
// user with allow_responses but no publish allow entry would, on some
// starts, be allowed to publish everything not denied. Every user must
// come out with non-empty publish and subscribe allow lists every time.
func TestRolesConfigPinsEveryAllowList(t *testing.T) {
	for range 50 {
		opts, err := natsserver.ProcessConfigFile(confPath(t, "roles/nats.conf"))
		if err != nil {
			t.Fatal(err)
		}
		if len(opts.Users) != 7 {
			t.Fatalf("%d users, want 7", len(opts.Users))
		}
		for _, u := range opts.Users {
			p := u.Permissions
			if p == nil || p.Publish == nil || len(p.Publish.Allow) == 0 || p.Subscribe == nil || len(p.Subscribe.Allow) == 0 {
				t.Fatalf("user %s: permissions without both allow lists: %+v", u.Username, p)
			}
			if len(p.Publish.Deny) == 0 || len(p.Subscribe.Deny) == 0 {
				t.Fatalf("user %s: no deny lists", u.Username)
			}
		}
	}
}

// TestRolesDenyListsGuardJetmqState: jetmq's KV buckets and node protocol
// must be refused by every user's deny lists themselves, not only by
// allow lists that leave them out, so that they hold when an allow list
// is widened to "$JS.API.>" or ">".
func TestRolesDenyListsGuardJetmqState(t *testing.T) {
	opts, err := natsserver.ProcessConfigFile(confPath(t, "roles/nats.conf"))
	if err != nil {
		t.Fatal(err)
	}
	guarded := append(kvDenied(), pubA("$MQ.SYS.RMQ.SETTLE.n1"), subA("$MQ.SYS.>"))
	for _, u := range opts.Users {
		for _, a := range guarded {
			deny := u.Permissions.Publish.Deny
			if a.sub {
				deny = u.Permissions.Subscribe.Deny
			}
			if !slices.ContainsFunc(deny, func(d string) bool { return natsserver.SubjectMatchesFilter(a.subject, d) }) {
				t.Errorf("user %s: no deny entry refuses %s", u.Username, a)
			}
		}
	}
}
