package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/server"
	"github.com/jetmq/jetmq/wire"
)

// TestTxnCLIListsParkedOfEveryTopic: `jetmq txn ls --parked` without a
// topic lists the parked transactions of every topic, naming the topic.
func TestTxnCLIListsParkedOfEveryTopic(t *testing.T) {
	s := txnServer(t, withTopics(semantics.TopicConfig{Name: "billing", Partitions: 2}))
	nc := testutil.Connect(t, s.ClientURL())
	prepare(t, nc, "lost-orders", "k", "b") // group "reg": nobody answers
	m := prepareMsg("lost-billing", "reg", "k", "", "b")
	m.Subject = wire.TxnPrepareSubject("billing", "k", "")
	if err := request(nc, m, nil); err != nil {
		t.Fatal(err)
	}
	testutil.CheckFor(t, 30*time.Second, 250*time.Millisecond, func() error {
		r := testutil.RunCLI(t, "-s", s.ClientURL(), "txn", "ls", "--parked")
		if r.Code != 0 {
			return fmt.Errorf("exit %d: %s%s", r.Code, r.Stdout, r.Stderr)
		}
		for _, want := range []string{"TOPIC", "orders", "lost-orders", "billing", "lost-billing"} {
			if !strings.Contains(r.Stdout, want) {
				return fmt.Errorf("listing lacks %q:\n%s", want, r.Stdout)
			}
		}
		return nil
	})
}

// TestTopicCLIPermissionDenied: an admin call by a user whose permissions
// deny $MQ.API.> says "permission denied" at once instead of timing out.
func TestTopicCLIPermissionDenied(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(conf, []byte(`
accounts: {
  SHOP: {
    users: [
      { user: admin, password: admin-secret }
      { user: app, password: app-secret, permissions: { publish: { deny: ["$MQ.API.>", "$MQ.TXN.>"] } } }
    ]
  }
}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	s := testutil.StartServer(t, func(c *server.Config) {
		c.NATS.ConfigFile, c.NATS.Account = conf, "SHOP"
		c.Topics = []semantics.TopicConfig{{Name: "orders", Partitions: 4, MaxBytes: 1 << 20}}
	})
	admin := []string{"-s", s.ClientURL(), "--user", "admin", "--password", "admin-secret"}
	if r := testutil.RunCLI(t, append(admin, "topic", "info", "orders")...); r.Code != 0 || !strings.Contains(r.Stdout, "max bytes 1048576") {
		t.Fatalf("admin topic info: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	app := []string{"-s", s.ClientURL(), "--user", "app", "--password", "app-secret"}
	for _, args := range [][]string{{"topic", "ls"}, {"txn", "commit", "orders", "t1"}} {
		start := time.Now()
		r := testutil.RunCLI(t, append(app, args...)...)
		if took := time.Since(start); took > 5*time.Second {
			t.Fatalf("jetmq %v took %s to fail", args, took)
		}
		if r.Code == 0 || !strings.Contains(r.Stderr, "permission denied") {
			t.Fatalf("jetmq %v as a denied user: exit %d\nstdout: %s\nstderr: %s", args, r.Code, r.Stdout, r.Stderr)
		}
	}
}
