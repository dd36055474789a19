package tests

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/server"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The bulk listings, the DLQ export and the resend, spoken from plain
// NATS as docs/PROTOCOL.md describes them, and through the jetmq CLI.
func TestSummaryExportAndResendAPIs(t *testing.T) {
	// No check before the test ends: tx-1 must still be PENDING when the
	// CLI lists it, seconds later on a loaded machine (fastTxn parks it
	// after about 4 s).
	s := txnServer(t, func(c *server.Config) { c.Transactions.CheckImmunity = 10 * time.Minute })
	nc := testutil.Connect(t, s.ClientURL())
	js := testutil.JetStream(t, nc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mustAPI(t, nc, "$MQ.API.TOPIC.CREATE.audit", `{"partitions":1}`)
	mustAPI(t, nc, "$MQ.API.GROUP.CREATE.orders.email", `{"max_reconsume":3}`)
	for _, k := range []string{"alice", "bob"} {
		if _, err := js.Publish(ctx, "orders."+k, []byte("order of "+k)); err != nil {
			t.Fatal(err)
		}
	}
	delayWithID(t, nc, "$MQ.DELAY.orders.carol", "later", time.Hour)
	if err := request(nc, prepareMsg("tx-1", "pg", "dave", "", "half"), nil); err != nil {
		t.Fatal(err)
	}
	// A dead letter as a member writes it (docs: copy, then terminate).
	d, err := wire.NewDeadLetter("email", "", "orders.0.bob", 2, 4, "boom", nats.Header{}, []byte(`{"n":1}`), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.PublishMsg(ctx, d.Msg(), jetstream.WithMsgID(d.MsgID())); err != nil {
		t.Fatal(err)
	}

	var o struct {
		Totals struct {
			Topics, Groups, Delayed, Messages int
			TxnOpen                           int `json:"txn_open"`
			DLQ                               int `json:"dlq"`
		}
		Cluster struct {
			MetaLeader string `json:"meta_leader"`
			Nodes      []struct{ Healthy bool }
		}
		TopicLeaders []struct{ Topic, Leader string } `json:"topic_leaders"`
		Leaders      map[string]int
	}
	if err := rawAPI(t, nc, "$MQ.API.SUMMARY", `{"fresh":true}`, &o); err != nil {
		t.Fatal(err)
	}
	tot := o.Totals
	if tot.Topics != 2 || tot.Groups != 1 || tot.Delayed != 1 || tot.TxnOpen != 1 || tot.Messages != 2 || tot.DLQ != 1 {
		t.Fatalf("totals %+v", tot)
	}
	if o.Cluster.MetaLeader != s.Name() || len(o.Cluster.Nodes) != 1 || !o.Cluster.Nodes[0].Healthy || len(o.TopicLeaders) != 2 {
		t.Fatalf("cluster %+v, leaders %+v", o.Cluster, o.TopicLeaders)
	}
	for _, l := range o.TopicLeaders {
		if l.Leader != s.Name() {
			t.Fatalf("topic %s led by %q on a lone node, want %q", l.Topic, l.Leader, s.Name())
		}
	}
	if o.Leaders[s.Name()] != 2 {
		t.Fatalf("leaders per node %v, want %s leading both topics", o.Leaders, s.Name())
	}
	var groups struct {
		Total  int
		Groups []struct {
			Group string
			Lag   uint64
			DLQ   uint64 `json:"dlq"`
		}
	}
	if err := rawAPI(t, nc, "$MQ.API.SUMMARY.GROUPS", `{"topic":"orders"}`, &groups); err != nil {
		t.Fatal(err)
	}
	if groups.Total != 1 || groups.Groups[0].Group != "email" || groups.Groups[0].Lag != 2 || groups.Groups[0].DLQ != 1 {
		t.Fatalf("groups %+v", groups)
	}
	var txns struct {
		Transactions []struct {
			Topic, Txid, State, Group string
			AgeMS                     int64 `json:"age_ms"`
		}
	}
	if err := rawAPI(t, nc, "$MQ.API.SUMMARY.TXNS", ``, &txns); err != nil {
		t.Fatal(err)
	}
	if len(txns.Transactions) != 1 || txns.Transactions[0].Txid != "tx-1" || txns.Transactions[0].Group != "pg" || txns.Transactions[0].AgeMS < 0 {
		t.Fatalf("txns %+v", txns)
	}
	if err := rawAPI(t, nc, "$MQ.API.SUMMARY.NOPE", ``, nil); !isCode(err, 400) {
		t.Fatalf("unknown summary: %v", err)
	}
	if err := rawAPI(t, nc, "$MQ.API.SUMMARY.TOPICS", `{"limt":1}`, nil); !isCode(err, 400) || !strings.Contains(err.Error(), "limt") {
		t.Fatalf("bad key: %v", err)
	}

	var exp struct {
		Messages []semantics.DeadLetter
		Next     uint64
	}
	if err := rawAPI(t, nc, "$MQ.API.DLQ.EXPORT.orders.email", `{}`, &exp); err != nil {
		t.Fatal(err)
	}
	if len(exp.Messages) != 1 || string(exp.Messages[0].Data) != `{"n":1}` || exp.Messages[0].Error != "boom" || exp.Next != 0 {
		t.Fatalf("export %+v", exp)
	}

	var rs struct {
		Seq      uint64
		ResendOf uint64 `json:"resend_of"`
	}
	if err := rawAPI(t, nc, "$MQ.API.MSG.RESEND.orders", `{"seq":1,"group":"email"}`, &rs); err != nil {
		t.Fatal(err)
	}
	var m semantics.TopicMsg
	if err := rawAPI(t, nc, "$MQ.API.MSG.GET.orders", `{"seq":`+itoa(rs.Seq)+`}`, &m); err != nil {
		t.Fatal(err)
	}
	if rs.ResendOf != 1 || m.Key != "alice" || string(m.Data) != "order of alice" || m.Headers["Mq-Resend-Of"][0] != "1" || m.Headers["Mq-Resend-For"][0] != "email" {
		t.Fatalf("resend %+v stored %+v", rs, m)
	}
	if err := rawAPI(t, nc, "$MQ.API.MSG.RESEND.orders", `{"seq":1,"group":"nope"}`, nil); !isCode(err, 404) {
		t.Fatalf("resend for an unknown group: %v", err)
	}

	r := testutil.RunCLI(t, "-s", s.ClientURL(), "summary", "topics")
	if r.Code != 0 || !containsAll(r.Stdout, "audit", "orders") {
		t.Fatalf("summary topics: %+v", r)
	}
	r = testutil.RunCLI(t, "-s", s.ClientURL(), "summary", "txns")
	if r.Code != 0 || !containsAll(r.Stdout, "tx-1", "PENDING") {
		t.Fatalf("summary txns: %+v", r)
	}
	r = testutil.RunCLI(t, "-s", s.ClientURL(), "dlq", "export", "orders", "email")
	var line semantics.DeadLetter
	if r.Code != 0 || json.Unmarshal([]byte(strings.TrimSpace(r.Stdout)), &line) != nil || line.Error != "boom" {
		t.Fatalf("dlq export: %+v", r)
	}
	r = testutil.RunCLI(t, "-s", s.ClientURL(), "msg", "resend", "orders", "2")
	if r.Code != 0 || !strings.Contains(r.Stdout, "resent message 2 of orders") {
		t.Fatalf("msg resend: %+v", r)
	}
}

// isCode reports whether err is a jetmq error reply with code.
func isCode(err error, code int) bool {
	var ae *semantics.APIError
	return errors.As(err, &ae) && ae.Code == code
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
