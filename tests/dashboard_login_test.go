package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/server"
	"github.com/nats-io/nats.go"
)

// loginWith logs in through the form with the method the select names
// ("token", "creds"), after fill has filled that method's fields.
func (b *browser) loginWith(base, method string, fill func()) {
	b.t.Helper()
	b.open(base, "#/overview")
	b.waitJS("login form", `!document.getElementById("login").hidden`)
	b.choose("#login-method", method)
	fill()
	b.click("#login-submit")
}

// loggedIn waits until the page shows the navigation instead of the form.
func (b *browser) loggedIn() {
	b.t.Helper()
	b.waitJS("logged in", `document.getElementById("login").hidden && !document.getElementById("nav").hidden`)
}

// refused waits for the login error and checks the form is still shown.
func (b *browser) refused(want string) {
	b.t.Helper()
	b.waitText("#login-error", want)
	if !b.visible("#login") || b.visible("#nav") {
		b.t.Fatalf("a refused login got past the form: %s", b.pageText())
	}
}

// On a server with `authorization { token: … }`: a wrong token is refused
// by the NATS server with the error shown; the right one, typed in the
// form's token field, logs in and sees the topic.
func TestDashboardTokenLogin(t *testing.T) {
	const token = "dashboard-t0ken"
	conf := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(conf, []byte("authorization { token: \""+token+"\" }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := testutil.StartServer(t, func(c *server.Config) { c.NATS.ConfigFile = conf })
	nc := testutil.Connect(t, s.ClientURL(), nats.Token(token))
	mustAPI(t, nc, "$MQ.API.TOPIC.CREATE.tokened", `{"partitions":3}`)

	b := newBrowser(t)
	base := dashboardURL(s)
	b.loginWith(base, "token", func() { b.fill("#login-token", "wrong-token") })
	b.refused("login refused by the NATS server")
	if msg := b.text("#login-error"); !strings.Contains(strings.ToLower(msg), "authorization violation") {
		t.Fatalf("the refusal does not carry the server's reason: %q", msg)
	}

	b.loginWith(base, "token", func() { b.fill("#login-token", token) })
	b.loggedIn()
	if who := b.text("#who"); !strings.HasPrefix(who, "token user @ ") {
		t.Fatalf("header says %q, want the token user", who)
	}
	b.open(base, "#/topics")
	b.waitText("#topics-table", "tokened")
	b.open(base, "#/topics/tokened")
	b.waitText("#topic-info", "3 partitions")
}

// In operator mode with accounts A and B (both served): a user of A,
// whose creds file is chosen in the form's file input, sees A's topic and
// not B's; a creds file of an operator the server does not trust is
// refused by the server, and pasted text that holds no seed is refused by
// the dashboard, each with its error shown.
func TestDashboardCredsLogin(t *testing.T) {
	o := newOpSetup(t)
	o.account("A", true)
	o.account("B", true)
	cfg := testutil.Config(t.TempDir())
	cfg.NATS.ConfigFile = o.natsConf("MEMORY", "SYS", "A", "B")
	cfg.NATS.Accounts = []server.AccountConfig{
		{Account: "A", Creds: o.creds("A", "jetmq-a", nil)},
		{Account: "B", Creds: o.creds("B", "jetmq-b", nil)},
	}
	s := testutil.StartConfig(t, cfg)
	alice := o.creds("A", "alice", nil)
	mustAPI(t, testutil.Connect(t, s.ClientURL(), nats.UserCredentials(alice)), "$MQ.API.TOPIC.CREATE.a-orders", `{"partitions":2}`)
	mustAPI(t, testutil.Connect(t, s.ClientURL(), nats.UserCredentials(o.creds("B", "bob", nil))), "$MQ.API.TOPIC.CREATE.b-ledger", `{"partitions":5}`)

	b := newBrowser(t)
	base := dashboardURL(s)
	untrusted := newOpSetup(t)
	untrusted.account("A", true)
	// The paste first: a chosen file wins over the pasted text.
	b.loginWith(base, "creds", func() { b.fill("#login-creds", "not a creds file") })
	b.refused("creds: no nkey seed found")

	b.loginWith(base, "creds", func() { b.upload("#login-creds-file", untrusted.creds("A", "mallory", nil)) })
	b.refused("login refused by the NATS server")

	b.loginWith(base, "creds", func() { b.upload("#login-creds-file", alice) })
	b.loggedIn()
	if who := b.text("#who"); !strings.HasPrefix(who, "creds user @ ") {
		t.Fatalf("header says %q, want the creds user", who)
	}
	b.waitText("#leaders-table", "a-orders")
	b.open(base, "#/topics")
	b.waitText("#topics-table", "a-orders")
	if list := b.text("#topics-table"); strings.Contains(list, "b-ledger") {
		t.Fatalf("a user of A sees B's topic:\n%s", list)
	}
	b.open(base, "#/topics/b-ledger")
	b.waitText("#topic-info .errorbox", "jetmq error 404")
}
