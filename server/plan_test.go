package server

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/jetmq/jetmq/core"
	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

const twoAccounts = `accounts: {
  A: { users: [ { user: a, password: a } ] }
  B: { jetstream: enabled, users: [ { user: b, password: b } ] }
  C: { users: [ { user: c, password: c } ] }
}
`

func planFor(t *testing.T, natsConf string, mutate func(*NATSConfig)) (*accountPlan, error) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(file, []byte(natsConf), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := &Config{NATS: NATSConfig{ConfigFile: file, StoreDir: t.TempDir()}}
	if mutate != nil {
		mutate(&cfg.NATS)
	}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	_, plan, err := natsOptions(cfg, nil, &internalUsers{}, nil)
	return plan, err
}

// TestPlanPicksTenants: by default the accounts with JetStream; if none
// has, all of them with JetStream enabled; nats.accounts restricts.
func TestPlanPicksTenants(t *testing.T) {
	for _, tc := range []struct {
		name, conf      string
		mutate          func(*NATSConfig)
		tenants, enable []string
	}{
		{"default: with JetStream", twoAccounts, nil, []string{"B"}, nil},
		{"default: none has JetStream", `accounts: { A: { users: [ {user: a, password: a} ] }, B: { users: [ {user: b, password: b} ] } }`, nil, []string{"A", "B"}, []string{"A", "B"}},
		{"no accounts", `port: 4222`, nil, []string{"$G"}, nil},
		{"nats.accounts", twoAccounts, func(n *NATSConfig) { n.Accounts = []AccountConfig{{Account: "C"}, {Account: "B"}} }, []string{"C", "B"}, []string{"C"}},
		{"nats.account", twoAccounts, func(n *NATSConfig) { n.Account = "A" }, []string{"A"}, []string{"A"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := planFor(t, tc.conf, tc.mutate)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(plan.names(), tc.tenants) || !slices.Equal(plan.enabled, tc.enable) {
				t.Fatalf("tenants %v enabled %v, want %v and %v", plan.names(), plan.enabled, tc.tenants, tc.enable)
			}
		})
	}
}

func TestPlanErrorsNameTheKey(t *testing.T) {
	creds := filepath.Join(t.TempDir(), "x.creds")
	if err := os.WriteFile(creds, []byte("not a creds file"), 0o600); err != nil {
		t.Fatal(err)
	}
	kp, _ := nkeys.CreateOperator()
	pub, _ := kp.PublicKey()
	opJWT, err := jwt.NewOperatorClaims(pub).Encode(kp)
	if err != nil {
		t.Fatal(err)
	}
	operator := "operator: " + opJWT + "\nresolver: MEMORY\n"
	for _, tc := range []struct {
		key, conf string
		mutate    func(*NATSConfig)
	}{
		{"nats.accounts[1].account", twoAccounts, func(n *NATSConfig) { n.Accounts = []AccountConfig{{Account: "A"}, {Account: "X"}} }},
		{"nats.account", twoAccounts, func(n *NATSConfig) { n.Account = "X" }},
		{"nats.accounts[0].creds", twoAccounts, func(n *NATSConfig) { n.Accounts = []AccountConfig{{Account: "A", Creds: creds}} }},
		{"nats.accounts[0].creds", operator, func(n *NATSConfig) { n.Accounts = []AccountConfig{{Account: "A"}} }},
		{"nats.accounts[0].creds", operator, func(n *NATSConfig) { n.Accounts = []AccountConfig{{Account: "A", Creds: creds}} }},
	} {
		t.Run(tc.key, func(t *testing.T) {
			_, err := planFor(t, tc.conf, tc.mutate)
			var ce *core.ConfigError
			if !errors.As(err, &ce) || ce.Key != tc.key {
				t.Fatalf("got %v, want an error naming %s", err, tc.key)
			}
			t.Log(err)
		})
	}
}
