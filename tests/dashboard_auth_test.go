package tests

import (
	"strings"
	"testing"
)

// On a server with users (conf/roles): a wrong password is refused by the
// NATS server, the operator sees the overview, and a producer (no
// $MQ.API rights) sees the permission error instead of figures, also when
// it tries an action.
func TestDashboardAuthAndPermissions(t *testing.T) {
	s := startRolesServer(t)
	base := dashboardURL(s)
	b := newBrowser(t)

	b.open(base, "#/overview")
	b.fill("#login-user", "operator")
	b.fill("#login-password", "wrong")
	b.click("#login-submit")
	b.waitText("#login-error", "login refused")
	if !b.visible("#login") || b.visible("#nav") {
		t.Fatal("a wrong password got past the login")
	}

	b.login(base, "operator", "operator-secret", "")
	b.waitText("#leaders-table", rolesTopic)
	b.click("#logout")
	b.waitJS("logged out", `!document.getElementById("login").hidden`)

	b.login(base, "producer", "producer-secret", "_INBOX_producer")
	b.waitText(`#view .errorbox[data-kind="permission"]`, "Permission denied")
	msg := b.text(`#view .errorbox[data-kind="permission"]`)
	if !strings.Contains(msg, "$MQ.API.SUMMARY") {
		t.Fatalf("the permission error does not name the subject: %s", msg)
	}
	b.open(base, "#/topics/"+rolesTopic)
	b.fill("#update-max-age", "1h")
	b.click("#update-topic")
	b.waitText(`#update-out .errorbox[data-kind="permission"]`, "$MQ.API.TOPIC.UPDATE."+rolesTopic)
}
