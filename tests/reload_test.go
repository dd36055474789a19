package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
)

// reloadNATSConf is a native config with accounts A and B and the given
// users of A ("name" with password "name-secret").
func reloadNATSConf(dir string, usersOfA ...string) string {
	var users []string
	for _, u := range usersOfA {
		users = append(users, fmt.Sprintf("{ user: %s, password: %s-secret }", u, u))
	}
	return fmt.Sprintf(`pid_file: %q
accounts: {
  A: { users: [ %s ] }
  B: { users: [ { user: bob, password: bob-secret } ] }
}
`, filepath.Join(dir, "jetmq.pid"), strings.Join(users, ", "))
}

func reloadYAML(dir, extra string) string {
	return fmt.Sprintf(`nats:
  config_file: nats.conf
  port: -1
  store_dir: %s
http: 127.0.0.1:0
topics:
  - name: orders
    partitions: 2
%s`, filepath.Join(dir, "data"), extra)
}

func writeConf(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestReloadSIGHUP runs the real binary: a reload adds a user, revokes
// another (whose connection is closed), adds a topic and a group to every
// tenant; `jetmq reload <pid file>` does the same as SIGHUP; a broken file
// changes nothing and the process still exits 0 on SIGTERM.
func TestReloadSIGHUP(t *testing.T) {
	dir := t.TempDir()
	natsConf, yaml := filepath.Join(dir, "nats.conf"), filepath.Join(dir, "jetmq.yaml")
	writeConf(t, natsConf, reloadNATSConf(dir, "alice", "carol"))
	writeConf(t, yaml, reloadYAML(dir, ""))
	p := testutil.StartProcess(t, dir, "-c", yaml)
	url, _ := p.WaitReady(t, procTimeout)

	alice := testutil.Connect(t, url, nats.UserInfo("alice", "alice-secret"))
	closed := make(chan struct{})
	carol := testutil.Connect(t, url, nats.UserInfo("carol", "carol-secret"), nats.MaxReconnects(0),
		nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
	if _, err := nats.Connect(url, nats.UserInfo("dave", "dave-secret")); err == nil {
		t.Fatal("dave connected before he was added")
	}

	writeConf(t, natsConf, reloadNATSConf(dir, "alice", "dave"))
	writeConf(t, yaml, reloadYAML(dir, `  - name: payments
    partitions: 3
groups:
  - name: billing
    topic: payments
`))
	if err := p.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	select {
	case <-closed:
	case <-time.After(procTimeout):
		t.Fatalf("carol, revoked, is still connected (status %v)\n%s", carol.Status(), p.Stderr)
	}
	testutil.CheckFor(t, procTimeout, 50*time.Millisecond, func() error {
		nc, err := nats.Connect(url, nats.UserInfo("dave", "dave-secret"))
		if err != nil {
			return err
		}
		nc.Close()
		return nil
	})
	bob := testutil.Connect(t, url, nats.UserInfo("bob", "bob-secret"))
	for _, nc := range []*nats.Conn{alice, bob} {
		testutil.CheckFor(t, procTimeout, 100*time.Millisecond, func() error {
			return tryAPI(nc, semantics.GroupAPIPrefix+"INFO.payments.billing", nil)
		})
		var topic struct{ Config struct{ Partitions int } }
		if err := apiRequest(t, nc, semantics.APIPrefix+"TOPIC.INFO.payments", nil, &topic); err != nil || topic.Config.Partitions != 3 {
			t.Fatalf("payments after reload: %+v, %v", topic, err)
		}
	}
	// A keyed publish still lands in its partition: the topic mappings
	// survived nats-server's reload of the accounts.
	ack, err := testutil.JetStream(t, alice).Publish(t.Context(), "orders.k1", []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := storedSubject(t, testutil.JetStream(t, alice), "orders", ack.Sequence), wire.StoredSubject("orders", semantics.Partition("k1", 2), "k1", ""); got != want {
		t.Fatalf("keyed publish after reload stored on %s, want %s", got, want)
	}

	// A broken jetmq file, then a broken nats file: nothing changes.
	writeConf(t, yaml, reloadYAML(dir, "  - name: a.b\n"))
	if res := testutil.RunCLI(t, "reload", filepath.Join(dir, "jetmq.pid")); res.Code != 0 {
		t.Fatalf("jetmq reload: %d %s", res.Code, res.Stderr)
	}
	waitLog(t, p, "topics[1].name", 1)
	writeConf(t, yaml, reloadYAML(dir, ""))
	writeConf(t, natsConf, "accounts: { A: { users: [ { user: alice password: } ] }")
	if err := p.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(t, p, "config reload failed", 2)
	waitLog(t, p, "nats.config_file", 1)
	for _, line := range strings.Split(p.Stderr.String(), "\n") {
		if strings.Contains(line, "reload") {
			t.Log(line)
		}
	}
	if nc, err := nats.Connect(url, nats.UserInfo("dave", "dave-secret")); err != nil {
		t.Fatalf("dave after a failed reload: %v", err)
	} else {
		nc.Close()
	}
	if err := apiRequest(t, alice, semantics.APIPrefix+"TOPIC.INFO.payments", nil, nil); err != nil {
		t.Fatalf("payments after a failed reload: %v", err)
	}
	stopBinary(t, p)
}

// waitLog waits until the process's log holds n lines containing s.
func waitLog(t *testing.T, p *testutil.Process, s string, n int) {
	t.Helper()
	testutil.CheckFor(t, procTimeout, 50*time.Millisecond, func() error {
		if got := strings.Count(p.Stderr.String(), s); got < n {
			return fmt.Errorf("%d log lines with %q, want %d:\n%s", got, s, n, p.Stderr)
		}
		return nil
	})
}

// tryAPI is an $MQ.API request whose failure (no responders while a
// tenant restarts) is returned, not fatal.
func tryAPI(nc *nats.Conn, subject string, out any) error {
	resp, err := nc.Request(subject, nil, 5*time.Second)
	if err != nil {
		return err
	}
	return semantics.DecodeReply(resp.Data, out)
}
