package tests

import (
	"context"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
)

// Raising a topic's partitions in the browser while an ordered group's
// live member owns a partition and holds one of its messages unacked:
// the page shows the bridge's refusal, naming the group and its pending
// count, and $MQ.API.TOPIC.INFO still says 4 partitions.
func TestDashboardRaisePartitionsRefused(t *testing.T) {
	s := testutil.StartServer(t)
	nc := testutil.Connect(t, s.ClientURL())
	mustAPI(t, nc, "$MQ.API.TOPIC.CREATE.orders", `{"partitions":4}`)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	got := make(chan int, 1)
	release := make(chan struct{})
	sub, err := semantics.Subscribe(ctx, nc, "orders", "ledger", func(hctx context.Context, d *semantics.Delivery) error {
		select {
		case got <- d.Partition:
		default:
		}
		select { // hold the message unacked until the browser is done
		case <-release:
		case <-hctx.Done():
		}
		return nil
	}, semantics.Ordered(), semantics.WithMember("m1"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { close(release); _ = sub.Stop(context.Background()) }()
	p, err := semantics.NewProducer(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Send(ctx, &semantics.Message{Topic: "orders", Key: "alice", Data: []byte("debit 10")}); err != nil {
		t.Fatal(err)
	}
	var part int
	select {
	case part = <-got:
	case <-ctx.Done():
		t.Fatal("the ordered member never got the message")
	}
	var st semantics.GroupStatus
	if err := rawAPI(t, nc, "$MQ.API.GROUP.INFO.orders.ledger", "", &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Partitions) != 4 || st.Partitions[part].Owner != "m1" || st.Partitions[part].AckPending != 1 {
		t.Fatalf("partition %d of ledger: %+v, want owned by m1 with 1 ack pending", part, st.Partitions)
	}

	b := newBrowser(t)
	base := dashboardURL(s)
	b.login(base, "op", "x", "")
	b.open(base, "#/topics/orders")
	b.waitText("#topic-info", "4 partitions")
	b.fill("#update-partitions", "8")
	b.click("#update-topic")
	b.waitText(`#update-out .errorbox[data-kind="jetmq"]`, "jetmq error 409")
	msg := b.text("#update-out .errorbox")
	if !containsAll(msg, "raising partitions from 4 to 8", "would break per-key order", "ledger (1 pending)") {
		t.Fatalf("refusal shown: %q", msg)
	}
	var info struct{ Config struct{ Partitions int } }
	if err := rawAPI(t, nc, "$MQ.API.TOPIC.INFO.orders", "", &info); err != nil || info.Config.Partitions != 4 {
		t.Fatalf("after the refused raise: %+v, %v; want 4 partitions", info, err)
	}
}
