package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/server"
)

// tenantSingletons are the singletons of a tenant with topic orders and
// the ordered group ledger.
var tenantSingletons = []string{"topic-sources", "dlq-mover", "txn.orders", "ordered.orders.ledger"}

// TestTenantClusterSingletonsMove: on 3 nodes serving tenants A and B,
// every singleton of each tenant runs on exactly one node, and when a
// node is stopped each tenant's singletons that it ran are running again
// elsewhere within 5 s.
func TestTenantClusterSingletonsMove(t *testing.T) {
	natsConf := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(natsConf, []byte(`accounts: {
  A: { users: [ { user: alice, password: alice-secret } ] }
  B: { users: [ { user: bob, password: bob-secret } ] }
}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	c := testutil.StartCluster(t, 3, func(_ int, cfg *server.Config) {
		cfg.NATS.ConfigFile = natsConf
		cfg.Topics = []semantics.TopicConfig{{Name: "orders", Partitions: 2, Replicas: 3}}
		cfg.Groups = []semantics.GroupConfig{{Name: "ledger", Topic: "orders", Ordered: true}}
		cfg.Transactions = fastTxn()
	})
	owners := tenantOwners(t, c, 30*time.Second)
	victim := owners["A/txn.orders"]
	stopped := time.Now()
	c.Stop(victim)
	after := tenantOwners(t, c, 5*time.Second)
	t.Logf("stopped n%d; every singleton of both tenants ran again in %s", victim+1, time.Since(stopped).Round(time.Millisecond))
	moved := 0
	for name, was := range owners {
		if was == victim {
			moved++
			if after[name] == victim {
				t.Fatalf("%s still on the stopped node", name)
			}
		}
	}
	if moved == 0 {
		t.Fatal("the stopped node ran no singleton")
	}
}

// tenantOwners waits until every singleton of tenants A and B runs on
// exactly one running node and returns the node of each ("A/txn.orders").
func tenantOwners(t *testing.T, c *testutil.Cluster, timeout time.Duration) map[string]int {
	t.Helper()
	var owners map[string]int
	testutil.CheckFor(t, timeout, 20*time.Millisecond, func() error {
		owners = map[string]int{}
		for _, acc := range []string{"A", "B"} {
			for _, name := range tenantSingletons {
				var on []int
				for i, s := range c.Servers {
					if s != nil && s.TenantSingletonActive(acc, name) {
						on = append(on, i)
					}
				}
				if len(on) != 1 {
					return fmt.Errorf("%s/%s runs on nodes %v, want exactly one", acc, name, on)
				}
				owners[acc+"/"+name] = on[0]
			}
		}
		return nil
	})
	return owners
}
