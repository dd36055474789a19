package tests

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/server"
	"github.com/nats-io/nats.go"
)

// syncLog is a log sink a test can read while the server writes to it.
type syncLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *syncLog) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// tenantConfig is conf/tenants/nats.conf (accounts A and B, password
// users, no JetStream, no jetmq keys) on free ports with fast checks.
func tenantConfig(t *testing.T) *server.Config {
	t.Helper()
	cfg := testutil.Config(t.TempDir())
	cfg.NATS.Host = ""
	cfg.NATS.ConfigFile = confPath(t, "tenants/nats.conf")
	cfg.Transactions = fastTxn()
	return cfg
}

// TestTenantDropInAccounts: the native config with accounts A and B starts
// unchanged; jetmq serves both, says once that it enabled JetStream for
// them, refuses wrong credentials, and A's and B's `orders` are two topics
// with their own partitions, messages, groups and transactions.
func TestTenantDropInAccounts(t *testing.T) {
	log := &syncLog{}
	s := testutil.StartConfig(t, tenantConfig(t), server.WithLogger(log.logger()))
	if got := s.Tenants(); strings.Join(got, ",") != "A,B" {
		t.Fatalf("tenants %v, want [A B]", got)
	}
	if n := strings.Count(log.String(), "no account of the nats config has JetStream"); n != 1 || !strings.Contains(log.String(), "accounts=\"[A B]\"") {
		t.Fatalf("the log says %d times that JetStream was enabled, naming A and B:\n%s", n, log)
	}
	url := s.ClientURL()
	if nc, err := nats.Connect(url, nats.UserInfo("alice", "wrong")); err == nil {
		nc.Close()
		t.Fatal("a wrong password was accepted")
	}
	alice := testutil.Connect(t, url, nats.UserInfo("alice", "alice-secret"))
	bob := testutil.Connect(t, url, nats.UserInfo("bob", "bob-secret"))
	runTenant(t, alice, "A", 4)
	runTenant(t, bob, "B", 2)

	// Each sees its own topic only: its partitions, its messages.
	for _, tc := range []struct {
		nc         *nats.Conn
		partitions int
	}{{alice, 4}, {bob, 2}} {
		var list struct {
			Topics []struct {
				Config   struct{ Partitions int }
				Messages uint64
			}
		}
		if err := apiRequest(t, tc.nc, semantics.APIPrefix+"TOPIC.LIST", nil, &list); err != nil {
			t.Fatal(err)
		}
		if len(list.Topics) != 1 || list.Topics[0].Config.Partitions != tc.partitions || list.Topics[0].Messages != 11 {
			t.Fatalf("topic list %+v, want one topic of %d partitions with 11 messages", list.Topics, tc.partitions)
		}
	}
	// Every tenant's series carry its account.
	testutil.CheckFor(t, 10*time.Second, 100*time.Millisecond, func() error {
		_, metrics := getHTTP(t, s.HTTPAddr(), "/metrics")
		for _, want := range []string{`jetmq_topic_messages{account="A",topic="orders"} 11`, `jetmq_topic_messages{account="B",topic="orders"} 11`,
			`jetmq_topic_partitions{account="A",topic="orders"} 4`} {
			if !strings.Contains(metrics, want) {
				return fmt.Errorf("/metrics lacks %s", want)
			}
		}
		return nil
	})
}

// TestTenantConfExample starts conf/tenants/jetmq.yaml: A and B, each
// with the orders topic and email group the file declares.
func TestTenantConfExample(t *testing.T) {
	s := testutil.StartConfig(t, loadExampleConf(t, "tenants/jetmq.yaml"))
	for user, pass := range map[string]string{"alice": "alice-secret", "bob": "bob-secret"} {
		nc := testutil.Connect(t, s.ClientURL(), nats.UserInfo(user, pass))
		if st := groupInfo(t, nc, "orders", "email"); st.Config.Topic != "orders" {
			t.Fatalf("%s: group %+v", user, st)
		}
	}
}

// runTenant, as a user of account acc: creates orders, publishes by key,
// consumes in the clustering group email and commits a transaction
// through its check-back; every message seen is acc's.
func runTenant(t *testing.T, nc *nats.Conn, acc string, partitions int) {
	t.Helper()
	if err := apiRequest(t, nc, semantics.APIPrefix+"TOPIC.CREATE.orders", map[string]any{"partitions": partitions}, nil); err != nil {
		t.Fatalf("%s: create orders: %v", acc, err)
	}
	if err := apiRequest(t, nc, semantics.GroupAPIPrefix+"CREATE.orders.email", map[string]any{"start": "all"}, nil); err != nil {
		t.Fatalf("%s: create group: %v", acc, err)
	}
	seen := newTally()
	var mu sync.Mutex
	var foreign []string
	subscribe(t, nc, "orders", "email", func(_ context.Context, d *semantics.Delivery) error {
		if !strings.HasPrefix(string(d.Data), acc+"-") {
			mu.Lock()
			foreign = append(foreign, string(d.Data))
			mu.Unlock()
		}
		seen.add(string(d.Data), d.Member)
		return nil
	})
	sendN(t, newProducer(t, nc), "orders", 10, func(i int) *semantics.Message {
		return &semantics.Message{Key: fmt.Sprintf("k%d", i%3), Data: fmt.Appendf(nil, "%s-%d", acc, i)}
	})
	// A transaction left open: only acc's check responder is asked, and
	// its COMMIT releases the message.
	checkResponder(t, nc, "pg", func(m *nats.Msg) string { return semantics.TxnStateCommit })
	m := prepareMsg(acc+"-tx", "pg", "k1", "", acc+"-txn")
	if err := request(nc, m, nil); err != nil {
		t.Fatalf("%s: prepare: %v", acc, err)
	}
	waitCount(t, acc+" deliveries", 30*time.Second, seen.distinct, 11)
	mu.Lock()
	defer mu.Unlock()
	if len(foreign) > 0 {
		t.Fatalf("%s's group received another tenant's messages: %v", acc, foreign)
	}
}

// TestTenantIsolation: a user of B cannot commit, inspect or delete A's
// transactions and topics; a request made in B changes B only; a check
// for A's transaction never reaches B's responder.
func TestTenantIsolation(t *testing.T) {
	s := testutil.StartConfig(t, tenantConfig(t))
	url := s.ClientURL()
	alice := testutil.Connect(t, url, nats.UserInfo("alice", "alice-secret"))
	bob := testutil.Connect(t, url, nats.UserInfo("bob", "bob-secret"))
	if err := apiRequest(t, alice, semantics.APIPrefix+"TOPIC.CREATE.orders", map[string]any{"partitions": 4}, nil); err != nil {
		t.Fatal(err)
	}
	var aliceChecks sync.WaitGroup
	aliceChecks.Add(1)
	var once sync.Once
	checkResponder(t, alice, "pg", func(*nats.Msg) string { once.Do(aliceChecks.Done); return semantics.TxnStateUnknown })
	var leaked []string
	var mu sync.Mutex
	checkResponder(t, bob, "pg", func(m *nats.Msg) string {
		mu.Lock()
		leaked = append(leaked, string(m.Data))
		mu.Unlock()
		return semantics.TxnStateCommit
	})
	if err := request(alice, prepareMsg("a-1", "pg", "k", "", "secret"), nil); err != nil {
		t.Fatal(err)
	}
	// B knows no topic orders: commit, info and delete of A's answer 404.
	wantCode(t, endTxn(bob, semantics.TxnStateCommit, "a-1"), 404)
	if _, err := txnInfo(bob, "a-1"); err == nil {
		t.Fatal("B read A's transaction")
	}
	if err := apiRequest(t, bob, semantics.APIPrefix+"TOPIC.DELETE.orders", nil, nil); err == nil {
		t.Fatal("B deleted a topic orders it does not have")
	}
	// B's own orders is another topic; deleting it leaves A's alone.
	if err := apiRequest(t, bob, semantics.APIPrefix+"TOPIC.CREATE.orders", map[string]any{"partitions": 1}, nil); err != nil {
		t.Fatal(err)
	}
	if err := apiRequest(t, bob, semantics.APIPrefix+"TOPIC.DELETE.orders", nil, nil); err != nil {
		t.Fatal(err)
	}
	if st := txnStateOf(t, alice, "a-1"); st == "" {
		t.Fatal("A's transaction is gone")
	}
	done := make(chan struct{})
	go func() { aliceChecks.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("A's check responder was never asked")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(leaked) > 0 {
		t.Fatalf("B's responder got A's checks: %v", leaked)
	}
	if err := apiRequest(t, alice, semantics.APIPrefix+"TOPIC.INFO.orders", nil, nil); err != nil {
		t.Fatalf("A's orders after B's delete: %v", err)
	}
	if _, err := bob.Request(semantics.APIPrefix+"TOPIC.INFO.orders", nil, time.Second); errors.Is(err, nats.ErrNoResponders) {
		t.Fatal("B has no jetmq services")
	}
}

// TestTenantFailureStaysInItsAccount: a reload whose topic A cannot take
// (A made it with more partitions) fails in A only: B gets the topic, A
// goes on serving with its previous settings, and /healthz names A and
// the problem.
func TestTenantFailureStaysInItsAccount(t *testing.T) {
	cfg := tenantConfig(t)
	s := testutil.StartConfig(t, cfg)
	url := s.ClientURL()
	alice := testutil.Connect(t, url, nats.UserInfo("alice", "alice-secret"))
	bob := testutil.Connect(t, url, nats.UserInfo("bob", "bob-secret"))
	if err := apiRequest(t, alice, semantics.APIPrefix+"TOPIC.CREATE.payments", map[string]any{"partitions": 4}, nil); err != nil {
		t.Fatal(err)
	}
	next := *cfg
	next.Topics = []semantics.TopicConfig{{Name: "payments", Partitions: 2}}
	err := s.ReloadWith(t.Context(), func() (*server.Config, error) { c := next; return &c, nil })
	if err == nil || !strings.Contains(err.Error(), "account A") {
		t.Fatalf("reload: %v, want A's failure", err)
	}
	var topic struct{ Config struct{ Partitions int } }
	if err := apiRequest(t, bob, semantics.APIPrefix+"TOPIC.INFO.payments", nil, &topic); err != nil || topic.Config.Partitions != 2 {
		t.Fatalf("B's payments: %+v %v", topic, err)
	}
	if err := apiRequest(t, alice, semantics.APIPrefix+"TOPIC.INFO.payments", nil, &topic); err != nil || topic.Config.Partitions != 4 {
		t.Fatalf("A's payments: %+v %v", topic, err)
	}
	found := false
	for _, d := range s.HealthDetails() {
		found = found || d.Account == "A" && d.Service == "tenants" && strings.Contains(d.Problem, "payments")
	}
	if !found {
		t.Fatalf("/healthz details do not name A's failure: %+v", s.HealthDetails())
	}
}
