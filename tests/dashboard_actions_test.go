package tests

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/server"
	"github.com/nats-io/nats.go"
)

// A transaction nobody answers checks for is parked; an operator commits
// it in the browser and its message appears in the topic.
func TestDashboardCommitParkedTransaction(t *testing.T) {
	s := txnServer(t, func(c *server.Config) {
		c.Transactions = semantics.TxnConfig{CheckImmunity: 200 * time.Millisecond, CheckInterval: 200 * time.Millisecond, CheckTimeout: 100 * time.Millisecond, MaxChecks: 1}
	})
	nc := testutil.Connect(t, s.ClientURL())
	if err := request(nc, prepareMsg("reg-1", "nobody", "alice", "", "welcome alice"), nil); err != nil {
		t.Fatal(err)
	}
	testutil.CheckFor(t, 15*time.Second, 100*time.Millisecond, func() error {
		var info struct{ State string }
		if err := rawAPI(t, nc, "$MQ.API.TXN.INFO.orders.reg-1", "", &info); err != nil || info.State != "PARKED" {
			return fmt.Errorf("state %q, %v", info.State, err)
		}
		return nil
	})
	b := newBrowser(t)
	base := dashboardURL(s)
	b.login(base, "op", "x", "")
	b.waitText("#alert-parked", "1")
	b.open(base, "#/txns")
	b.waitText("#txns-table", "PARKED")
	b.waitText("#txns-table", "nobody")
	b.click(`button[data-action="commit-reg-1"]`)
	b.click(`button[data-action="commit-reg-1"]`) // confirm
	b.waitText("#txn-action-out", "reg-1: COMMIT")
	testutil.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		var l semantics.MsgList
		if err := rawAPI(t, nc, "$MQ.API.MSG.LIST.orders", `{"key":"alice"}`, &l); err != nil {
			return err
		}
		if len(l.Messages) != 1 || string(l.Messages[0].Data) != "welcome alice" || l.Messages[0].Headers["Mq-Txn-By"][0] != "operator" {
			return fmt.Errorf("messages of alice: %+v", l.Messages)
		}
		return nil
	})
}

// A dead letter replayed from the browser is handled by the group.
func TestDashboardReplayDeadLetter(t *testing.T) {
	s := testutil.StartServer(t)
	nc := testutil.Connect(t, s.ClientURL())
	mustAPI(t, nc, "$MQ.API.TOPIC.CREATE.orders", `{"partitions":2}`)
	mustAPI(t, nc, "$MQ.API.GROUP.CREATE.orders.email", `{"max_reconsume":1,"retry_backoff":["50ms"]}`)
	var failing atomic.Bool
	failing.Store(true)
	handled := make(chan string, 10)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sub, err := semantics.Subscribe(ctx, nc, "orders", "email", func(_ context.Context, d *semantics.Delivery) error {
		if failing.Load() {
			return errors.New("mail server down")
		}
		handled <- string(d.Data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Stop(context.Background())
	p, err := semantics.NewProducer(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Send(ctx, &semantics.Message{Topic: "orders", Key: "bob", Data: []byte(`{"to":"bob"}`)}); err != nil {
		t.Fatal(err)
	}
	testutil.CheckFor(t, 15*time.Second, 100*time.Millisecond, func() error {
		var l semantics.DLQList
		if err := rawAPI(t, nc, "$MQ.API.DLQ.LIST.orders.email", `{}`, &l); err != nil || l.Total != 1 {
			return fmt.Errorf("dlq %d, %v", l.Total, err)
		}
		return nil
	})
	failing.Store(false)
	b := newBrowser(t)
	base := dashboardURL(s)
	b.login(base, "op", "x", "")
	b.open(base, "#/dlq")
	b.waitText("#dlq-groups-table", "email")
	b.open(base, "#/dlq/orders/email")
	b.waitText("#dlq-table", "mail server down")
	b.click("a[data-show]")
	b.waitText("#dlq-show", "1 attempts")
	b.waitText("#dlq-show", "mail server down")
	b.click(`button[data-view="json"]`)
	b.waitText("pre.body", `"to": "bob"`)
	b.click(`input[data-seq]`)
	b.click("#replay-selected")
	b.waitText("#dlq-out", "replayed 1")
	select {
	case got := <-handled:
		if got != `{"to":"bob"}` {
			t.Fatalf("handled %q", got)
		}
	case <-ctx.Done():
		t.Fatal("the replayed message was never handled")
	}
}

// A delayed message cancelled in the browser never arrives; one due later
// that was not cancelled does (so the first one's time has passed).
func TestDashboardCancelDelayed(t *testing.T) {
	s := testutil.StartServer(t)
	nc := testutil.Connect(t, s.ClientURL())
	mustAPI(t, nc, "$MQ.API.TOPIC.CREATE.orders", `{"partitions":2}`)
	// The browser is up and logged in before the clock starts.
	b := newBrowser(t)
	base := dashboardURL(s)
	b.login(base, "op", "x", "")
	due := time.Now().Add(3 * time.Second)
	send := func(key string, at time.Time) string {
		m := nats.NewMsg("$MQ.DELAY.orders." + key)
		m.Header.Set("Mq-Deliver-At", at.UTC().Format(time.RFC3339Nano))
		m.Data = []byte("later " + key)
		var r struct{ ID string }
		if err := request(nc, m, &r); err != nil {
			t.Fatal(err)
		}
		return r.ID
	}
	cancelled := send("carol", due)
	send("dave", due.Add(300*time.Millisecond))
	b.open(base, "#/delayed/orders")
	b.waitText("#delayed-table", cancelled)
	b.click(`button[data-action="cancel-` + cancelled + `"]`)
	b.click(`button[data-action="cancel-` + cancelled + `"]`)
	b.waitText("#delayed-out", "cancelled "+cancelled)
	if time.Now().After(due) {
		t.Fatal("the cancel came after the due time: the test is too slow to prove anything")
	}
	testutil.CheckFor(t, 15*time.Second, 100*time.Millisecond, func() error {
		var l semantics.MsgList
		if err := rawAPI(t, nc, "$MQ.API.MSG.LIST.orders", `{"start_seq":1}`, &l); err != nil {
			return err
		}
		var got []string
		for _, m := range l.Messages {
			got = append(got, string(m.Data))
		}
		if len(got) == 0 {
			return errors.New("dave's message has not arrived yet")
		}
		if len(got) != 1 || got[0] != "later dave" {
			t.Fatalf("stored %q: the cancelled message arrived", got)
		}
		return nil
	})
}

// Looking up a key shows its messages; one message shows its trace per
// group.
func TestDashboardLookupKeyAndTrace(t *testing.T) {
	s := testutil.StartServer(t)
	nc := testutil.Connect(t, s.ClientURL())
	mustAPI(t, nc, "$MQ.API.TOPIC.CREATE.orders", `{"partitions":4}`)
	mustAPI(t, nc, "$MQ.API.GROUP.CREATE.orders.email", `{}`)
	mustAPI(t, nc, "$MQ.API.GROUP.CREATE.orders.vip", `{"tags":["vip"]}`)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := semantics.NewProducer(nc)
	if err != nil {
		t.Fatal(err)
	}
	var aliceSeq uint64
	for i, k := range []string{"alice", "bob", "alice", "carol"} {
		r, err := p.Send(ctx, &semantics.Message{Topic: "orders", Key: k, Data: []byte(fmt.Sprintf("order %d of %s", i, k))})
		if err != nil {
			t.Fatal(err)
		}
		if k == "alice" && aliceSeq == 0 {
			aliceSeq = r.Seq
		}
	}
	b := newBrowser(t)
	base := dashboardURL(s)
	b.login(base, "op", "x", "")
	b.open(base, "#/messages/orders")
	b.fill("#msg-key", "alice")
	b.click("#msg-find")
	b.waitText("#msg-table", "alice")
	rows := b.text("#msg-table tbody")
	if n := len(strings.Split(strings.TrimSpace(rows), "\n")); n != 2 || strings.Contains(rows, "bob") {
		t.Fatalf("lookup of alice shows:\n%s", rows)
	}
	b.click(fmt.Sprintf(`a[data-seq="%d"]`, aliceSeq))
	b.waitText("#trace-table", "email")
	tr := b.text("#trace-table")
	if !containsAll(tr, "email", "pending", "vip", "filtered") {
		t.Fatalf("trace:\n%s", tr)
	}
	b.waitText("pre.body", "order 0 of alice")
}

// The group page shows an ordered group's owners live: when a member
// stops, the other one owns every partition.
func TestDashboardOrderedOwnersChange(t *testing.T) {
	s := testutil.StartServer(t)
	nc := testutil.Connect(t, s.ClientURL())
	mustAPI(t, nc, "$MQ.API.TOPIC.CREATE.orders", `{"partitions":4}`)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var mu sync.Mutex
	subs := map[string]*semantics.Subscription{}
	for _, m := range []string{"m1", "m2"} {
		sub, err := semantics.Subscribe(ctx, nc, "orders", "ledger", func(context.Context, *semantics.Delivery) error { return nil },
			semantics.Ordered(), semantics.WithMember(m))
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		subs[m] = sub
		mu.Unlock()
	}
	defer subs["m1"].Stop(context.Background())
	b := newBrowser(t)
	base := dashboardURL(s)
	b.login(base, "op", "x", "")
	b.open(base, "#/groups/orders/ledger")
	// The counts are compared with their owners sorted, as mustJSON sorts
	// want's keys: the table lists partitions, so m2 may come first.
	ownersAre := func(want map[string]int) string {
		return fmt.Sprintf(`(() => { const c = {}; for (const r of document.querySelectorAll("#owners-table tbody tr")) { const o = r.children[1].innerText; c[o] = (c[o] || 0) + 1; } const s = {}; for (const o of Object.keys(c).sort()) { s[o] = c[o]; } return JSON.stringify(s) === %s; })()`,
			jsString(mustJSON(want)))
	}
	b.waitJS("two owners, two partitions each", ownersAre(map[string]int{"m1": 2, "m2": 2}))
	if err := subs["m2"].Stop(ctx); err != nil {
		t.Fatal(err)
	}
	b.waitJS("m1 owns all four", ownersAre(map[string]int{"m1": 4}))
}
