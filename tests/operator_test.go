package tests

import (
	"context"
	"errors"
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
	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
)

// TestOperatorMemoryResolver: in operator mode with preloaded account
// JWTs, jetmq acts in A and B with the user credentials the config lists
// (A by name, B by public key); both get semantics; C, which has
// JetStream but no credentials, is reported as served without them; a
// user denied $MQ.API.> gets NATS's permission error, not jetmq's.
func TestOperatorMemoryResolver(t *testing.T) {
	o := newOpSetup(t)
	a, b, c := o.account("A", true), o.account("B", true), o.account("C", true)
	cfg := testutil.Config(t.TempDir())
	cfg.NATS.ConfigFile = o.natsConf("MEMORY", "SYS", "A", "B", "C")
	cfg.NATS.Accounts = []server.AccountConfig{
		{Account: "A", Creds: o.creds("A", "jetmq-a", nil)},
		{Account: b.pub, Creds: o.creds("B", "jetmq-b", nil)},
	}
	cfg.Transactions = fastTxn()
	s := testutil.StartConfig(t, cfg)
	if got, want := strings.Join(s.Tenants(), ","), strings.Join(sortedStrings(a.pub, b.pub), ","); got != want {
		t.Fatalf("tenants %s, want %s", got, want)
	}
	url := s.ClientURL()
	runTenant(t, testutil.Connect(t, url, nats.UserCredentials(o.creds("A", "alice", nil))), "A", 4)
	runTenant(t, testutil.Connect(t, url, nats.UserCredentials(o.creds("B", "bob", nil))), "B", 2)

	var unserved bool
	for _, d := range s.HealthDetails() {
		if d.Account == c.pub && strings.Contains(d.Problem, "served without jetmq semantics") {
			unserved = true
		}
	}
	if !unserved {
		t.Fatalf("/healthz details do not list C as served without semantics: %+v", s.HealthDetails())
	}

	// A user denied $MQ.API.> meets NATS's permission error.
	denied := make(chan error, 1)
	limited := testutil.Connect(t, url, nats.UserCredentials(o.creds("A", "limited", func(p *jwt.UserPermissionLimits) {
		p.Pub.Deny.Add("$MQ.API.>")
	})), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case denied <- err:
		default:
		}
	}))
	_, err := limited.Request(semantics.APIPrefix+"TOPIC.LIST", nil, 2*time.Second)
	var apiErr *semantics.APIError
	if err == nil || errors.As(err, &apiErr) {
		t.Fatalf("denied $MQ.API request: %v, want a NATS error", err)
	}
	select {
	case err := <-denied:
		if !strings.Contains(strings.ToLower(err.Error()), "permissions violation") {
			t.Fatalf("denied request: %v", err)
		}
	case <-time.After(10 * time.Second):
		if !strings.Contains(strings.ToLower(err.Error()), "permissions violation") {
			t.Fatalf("no permissions violation reported; request error %v", err)
		}
	}
	// Credentials of an operator the server does not trust are refused.
	other := newOpSetup(t)
	other.account("A", true)
	if nc, err := nats.Connect(url, nats.UserCredentials(other.creds("A", "mallory", nil))); err == nil {
		nc.Close()
		t.Fatal("a user of an untrusted operator connected")
	}
}

func sortedStrings(ss ...string) []string {
	out := append([]string(nil), ss...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// TestOperatorFullResolverPushAndReload: with the full resolver, account
// B is pushed at run time ($SYS.REQ.CLAIMS.UPDATE); once its credentials
// are added to the jetmq config, a reload gives it semantics, no restart.
func TestOperatorFullResolverPushAndReload(t *testing.T) {
	o := newOpSetup(t)
	o.account("A", true)
	b := o.account("B", true)
	natsConf := o.natsConf(fmt.Sprintf("{ type: full, dir: %q }", filepath.Join(o.dir, "jwt")), "SYS", "A")
	yaml := filepath.Join(o.dir, "jetmq.yaml")
	accounts := fmt.Sprintf("  accounts:\n    - { account: A, creds: %s }\n", o.creds("A", "jetmq-a", nil))
	conf := func(accounts string) string {
		return fmt.Sprintf("nats:\n  config_file: %s\n  port: -1\n  store_dir: %s\n%shttp: 127.0.0.1:0\ntransactions: { check_immunity: 1s, check_interval: 1s, check_timeout: 500ms, max_checks: 3 }\n",
			natsConf, filepath.Join(o.dir, "data"), accounts)
	}
	writeConf(t, yaml, conf(accounts))
	cfg, err := server.LoadConfig(yaml, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := testutil.StartConfig(t, cfg)
	url := s.ClientURL()
	runTenant(t, testutil.Connect(t, url, nats.UserCredentials(o.creds("A", "alice", nil))), "A", 4)

	sys := testutil.Connect(t, url, nats.UserCredentials(o.creds("SYS", "sys", nil)))
	resp, err := sys.Request("$SYS.REQ.CLAIMS.UPDATE", []byte(b.jwt), 10*time.Second)
	if err != nil || !strings.Contains(string(resp.Data), `"code":200`) {
		t.Fatalf("push B: %v %s", err, resp.Data)
	}
	bob := testutil.Connect(t, url, nats.UserCredentials(o.creds("B", "bob", nil)))
	if _, err := bob.Request(semantics.APIPrefix+"TOPIC.LIST", nil, time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("B before its credentials are configured: %v, want no responders", err)
	}

	accounts += fmt.Sprintf("    - { account: B, creds: %s }\n", o.creds("B", "jetmq-b", nil))
	writeConf(t, yaml, conf(accounts))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.ReloadWith(ctx, func() (*server.Config, error) { return server.LoadConfig(yaml, nil) }); err != nil {
		t.Fatalf("reload: %v", err)
	}
	runTenant(t, bob, "B", 2)

	// An account JWT pushed again replaces the account's mappings; jetmq
	// puts its topic mappings back, so keyed publishes keep landing.
	ac, err := jwt.DecodeAccountClaims(b.jwt)
	if err != nil {
		t.Fatal(err)
	}
	ac.Description = "updated"
	resp, err = sys.Request("$SYS.REQ.CLAIMS.UPDATE", []byte(must(ac.Encode(o.opKP))), 10*time.Second)
	if err != nil || !strings.Contains(string(resp.Data), `"code":200`) {
		t.Fatalf("push B again: %v %s", err, resp.Data)
	}
	js := testutil.JetStream(t, bob)
	testutil.CheckFor(t, 20*time.Second, 100*time.Millisecond, func() error {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		ack, err := js.Publish(pctx, "orders.k1", []byte("after update"))
		if err != nil {
			return err
		}
		if got, want := storedSubject(t, js, "orders", ack.Sequence), wire.StoredSubject("orders", semantics.Partition("k1", 2), "k1", ""); got != want {
			return fmt.Errorf("stored on %s, want %s", got, want)
		}
		return nil
	})
	if _, err := os.Stat(filepath.Join(o.dir, "jwt", b.pub+".jwt")); err != nil {
		t.Fatalf("the full resolver did not store B: %v", err)
	}
}

// TestOperatorConfExample runs conf/operator/jetmq.yaml: alice (A) and
// bob (B) each see their own orders, with the partitions of the file.
func TestOperatorConfExample(t *testing.T) {
	s := testutil.StartConfig(t, loadExampleConf(t, "operator/jetmq.yaml"))
	if n := len(s.Tenants()); n != 2 {
		t.Fatalf("%d tenants, want A and B", n)
	}
	for _, user := range []string{"alice", "bob"} {
		nc := testutil.Connect(t, s.ClientURL(), nats.UserCredentials(confPath(t, "operator/"+user+".creds")))
		var list struct {
			Topics []struct{ Config struct{ Partitions int } }
		}
		if err := apiRequest(t, nc, semantics.APIPrefix+"TOPIC.LIST", nil, &list); err != nil {
			t.Fatal(err)
		}
		if len(list.Topics) != 1 || list.Topics[0].Config.Partitions != 4 {
			t.Fatalf("%s sees %+v, want its one orders topic", user, list.Topics)
		}
		if err := apiRequest(t, nc, semantics.APIPrefix+"TOPIC.CREATE."+user, nil, nil); err != nil {
			t.Fatal(err)
		}
		if err := apiRequest(t, nc, semantics.GroupAPIPrefix+"CREATE."+user+".g-"+user, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	// The CLI acts in the account of the credentials it is given: each
	// user's `topic ls` and `group ls` show that account's only.
	for user, other := range map[string]string{"alice": "bob", "bob": "alice"} {
		for _, cmd := range [][]string{{"topic", "ls"}, {"group", "ls"}} {
			args := append([]string{"-s", s.ClientURL(), "--creds", confPath(t, "operator/"+user+".creds"), "--json"}, cmd...)
			res := testutil.RunCLI(t, args...)
			if res.Code != 0 || !strings.Contains(res.Stdout, `"`+user+`"`) && !strings.Contains(res.Stdout, `"g-`+user+`"`) {
				t.Fatalf("%s: jetmq %v: %d %s %s", user, cmd, res.Code, res.Stdout, res.Stderr)
			}
			if strings.Contains(res.Stdout, `"`+other+`"`) || strings.Contains(res.Stdout, "g-"+other) {
				t.Fatalf("%s's jetmq %v shows %s's: %s", user, cmd, other, res.Stdout)
			}
		}
	}
}
