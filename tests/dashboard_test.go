package tests

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
)

// Every page renders real data from a server with topics, groups, a
// delayed message, an open transaction and a dead letter.
func TestDashboardPagesRender(t *testing.T) {
	s := testutil.StartServer(t)
	nc := testutil.Connect(t, s.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mustAPI(t, nc, "$MQ.API.TOPIC.CREATE.orders", `{"partitions":4}`)
	mustAPI(t, nc, "$MQ.API.GROUP.CREATE.orders.email", `{}`)
	p, err := semantics.NewProducer(nc)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"alice", "bob", "carol"} {
		if _, err := p.Send(ctx, &semantics.Message{Topic: "orders", Key: k, Data: []byte("hello " + k)}); err != nil {
			t.Fatal(err)
		}
	}
	b := newBrowser(t)
	base := dashboardURL(s)
	b.login(base, "anyone", "x", "")
	b.waitText("#tiles", "Topics")
	b.waitText("#nodes-table", "meta leader")
	b.waitText("#leaders-table", "orders")
	// A lone node leads every topic, and its 56-character id is cut in
	// the meta leader tile, whole in the tooltip.
	b.waitText("#leaders-table", s.Name())
	if title := b.attr("#tile-meta-leader .v", "title"); title != s.Name() {
		t.Fatalf("meta leader tile title %q, want %q", title, s.Name())
	}
	want := "4 partitions · 3 messages"
	if path := os.Getenv("JETMQ_DASHBOARD_SCREENSHOT"); path != "" {
		want = "4 partitions · "
		// The README's picture: go test -run TestDashboardPagesRender with
		// JETMQ_DASHBOARD_SCREENSHOT=$PWD/docs/dashboard-overview.jpg.
		screenshotOverview(t, b, nc, p, path)
	}
	b.open(base, "#/topics")
	b.waitText("#topics-table", "orders")
	b.open(base, "#/topics/orders")
	b.waitText("#partitions-table", "Partition")
	b.waitText("#topic-info", want)
	b.open(base, "#/groups")
	b.waitText("#groups-table", "email")
	b.open(base, "#/groups/orders/email")
	b.waitText("#lag-table", "Partition")
	b.open(base, "#/txns")
	b.waitText("#txns-table", "Transaction")
	b.open(base, "#/dlq")
	b.waitText("#dlq-groups-table", "Dead letters")
	b.open(base, "#/messages/orders")
	b.fill("#msg-key", "bob")
	b.click("#msg-find")
	b.waitText("#msg-table", "orders.")
	b.open(base, "#/delayed")
	b.waitText("#delayed-topics-table", "Waiting")
}
