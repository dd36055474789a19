package wire

import (
	"strings"
	"testing"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/nats-io/nats.go"
)

func hdr(kv ...string) nats.Header {
	h := nats.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func TestParsePrepare(t *testing.T) {
	ok := hdr(HeaderTxnID, "tx-1", HeaderProducerGroup, "reg")
	cases := []struct {
		name, subject string
		h             nats.Header
		code          int
		key, tag      string
	}{
		{"keyed", "$MQ.TXN.PREPARE.orders.alice", ok, 0, "alice", ""},
		{"tagged", "$MQ.TXN.PREPARE.orders.alice.vip", ok, 0, "alice", "vip"},
		{"keyless", "$MQ.TXN.PREPARE.orders", ok, 0, "", ""},
		{"too many tokens", "$MQ.TXN.PREPARE.orders.a.b.c", ok, 400, "", ""},
		{"bad topic", "$MQ.TXN.PREPARE.or$ders.a", ok, 400, "", ""},
		{"no id", "$MQ.TXN.PREPARE.orders.a", hdr(HeaderProducerGroup, "reg"), 400, "", ""},
		{"bad id", "$MQ.TXN.PREPARE.orders.a", hdr(HeaderTxnID, "tx 1", HeaderProducerGroup, "reg"), 400, "", ""},
		{"long id", "$MQ.TXN.PREPARE.orders.a", hdr(HeaderTxnID, strings.Repeat("x", 129), HeaderProducerGroup, "reg"), 400, "", ""},
		{"no group", "$MQ.TXN.PREPARE.orders.a", hdr(HeaderTxnID, "tx"), 400, "", ""},
		{"bad group", "$MQ.TXN.PREPARE.orders.a", hdr(HeaderTxnID, "tx", HeaderProducerGroup, "a.b"), 400, "", ""},
		{"immunity", "$MQ.TXN.PREPARE.orders.a", hdr(HeaderTxnID, "tx", HeaderProducerGroup, "g", HeaderCheckImmunity, "2.5"), 0, "a", ""},
		{"bad immunity", "$MQ.TXN.PREPARE.orders.a", hdr(HeaderTxnID, "tx", HeaderProducerGroup, "g", HeaderCheckImmunity, "soon"), 400, "", ""},
		{"negative immunity", "$MQ.TXN.PREPARE.orders.a", hdr(HeaderTxnID, "tx", HeaderProducerGroup, "g", HeaderCheckImmunity, "-1"), 400, "", ""},
		{"reserved header", "$MQ.TXN.PREPARE.orders.a", hdr(HeaderTxnID, "tx", HeaderProducerGroup, "g", "Nats-Rollup", "all"), 400, "", ""},
		{"broker header", "$MQ.TXN.PREPARE.orders.a", hdr(HeaderTxnID, "tx", HeaderProducerGroup, "g", HeaderTxnChecks, "9"), 400, "", ""},
		{"msg id allowed", "$MQ.TXN.PREPARE.orders.a", hdr(HeaderTxnID, "tx", HeaderProducerGroup, "g", HeaderNatsMsgID, "m1"), 0, "a", ""},
		{"wrong prefix", "$MQ.TXN.COMMIT.orders.a", ok, 400, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := ParsePrepare(c.subject, c.h, []byte("x"))
			if c.code != 0 {
				if err == nil || err.Code != c.code {
					t.Fatalf("want %d, got %v", c.code, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected %v", err)
			}
			if r.Key != c.key || r.Tag != c.tag || r.Topic != "orders" || len(r.Part) != 16 {
				t.Fatalf("got %+v", r)
			}
		})
	}
	r, _ := ParsePrepare("$MQ.TXN.PREPARE.orders.a", hdr(HeaderTxnID, "tx", HeaderProducerGroup, "g", HeaderCheckImmunity, "2.5"), nil)
	if !r.HasImmunity || r.Immunity != 2500*time.Millisecond {
		t.Fatalf("immunity %+v", r)
	}
}

func TestTxnPartIdentity(t *testing.T) {
	h := hdr("A", "1")
	a := TxnPart("orders.k", h, []byte("x"))
	if a != TxnPart("orders.k", hdr("A", "1"), []byte("x")) {
		t.Fatal("same message, different part")
	}
	if a == TxnPart("orders.k", h, []byte("y")) || a == TxnPart("orders.j", h, []byte("x")) || a == TxnPart("orders.k", hdr("A", "2"), []byte("x")) {
		t.Fatal("different messages, same part")
	}
	if TxnPart("orders.k", hdr(HeaderCheckImmunity, "3"), nil) != TxnPart("orders.k", nil, nil) {
		t.Fatal("immunity must not change the part")
	}
	if TxnPart("orders.k", hdr(HeaderNatsMsgID, "m"), []byte("x")) != TxnPart("orders.j", hdr(HeaderNatsMsgID, "m"), []byte("y")) {
		t.Fatal("Nats-Msg-Id names the part")
	}
}

func TestParseEnd(t *testing.T) {
	cases := []struct {
		subject string
		h       nats.Header
		code    int
		state   string
		by      string
	}{
		{"$MQ.TXN.COMMIT.orders.tx1", nil, 0, core.TxnStateCommit, TxnByProducer},
		{"$MQ.TXN.ROLLBACK.orders.tx1", hdr(HeaderTxnBy, "operator"), 0, core.TxnStateRollback, TxnByOperator},
		{"$MQ.TXN.ROLLBACK.orders.tx1", hdr(HeaderTxnBy, "me"), 400, "", ""},
		{"$MQ.TXN.ABORT.orders.tx1", nil, 400, "", ""},
		{"$MQ.TXN.COMMIT.orders", nil, 400, "", ""},
		{"$MQ.TXN.COMMIT.orders.a.b", nil, 400, "", ""},
		{"$MQ.TXN.COMMIT.or%ders.tx", nil, 400, "", ""},
		{"$MQ.TXN.COMMIT.orders.t+x", nil, 400, "", ""},
	}
	for _, c := range cases {
		r, err := ParseEnd(c.subject, c.h)
		if c.code != 0 {
			if err == nil || err.Code != c.code {
				t.Errorf("%s: want %d, got %v", c.subject, c.code, err)
			}
			continue
		}
		if err != nil || r.State != c.state || r.By != c.by || r.TxnID != "tx1" {
			t.Errorf("%s: got %+v %v", c.subject, r, err)
		}
	}
}

func TestParseCheckAnswer(t *testing.T) {
	cases := []struct {
		h     nats.Header
		body  string
		state string
		ok    bool
	}{
		{hdr(HeaderTxnState, "COMMIT"), "", core.TxnStateCommit, true},
		{hdr(HeaderTxnState, "rollback"), "ignored", core.TxnStateRollback, true},
		{nil, " commit\n", core.TxnStateCommit, true},
		{nil, "UNKNOWN", core.TxnStateUnknown, true},
		{nil, "maybe", core.TxnStateUnknown, false},
		{nil, "", core.TxnStateUnknown, false},
		{hdr(HeaderTxnState, "YES"), "COMMIT", core.TxnStateUnknown, false},
		{nil, strings.Repeat("COMMIT", 20), core.TxnStateUnknown, false},
	}
	for _, c := range cases {
		s, ok := ParseCheckAnswer(c.h, []byte(c.body))
		if s != c.state || ok != c.ok {
			t.Errorf("%v %q: got %s %v", c.h, c.body, s, ok)
		}
	}
}

func TestDecideEnd(t *testing.T) {
	cases := []struct {
		v    core.TxnView
		want string
		d    core.EndDecision
	}{
		{core.TxnView{Halves: 1}, core.TxnStateCommit, core.EndWrite},
		{core.TxnView{Halves: 2, Parked: true}, core.TxnStateRollback, core.EndWrite},
		{core.TxnView{}, core.TxnStateCommit, core.EndNotFound},
		{core.TxnView{End: core.TxnStateCommit}, core.TxnStateCommit, core.EndAlready},
		{core.TxnView{End: core.TxnStateCommit, Halves: 1}, core.TxnStateCommit, core.EndAlready},
		{core.TxnView{End: core.TxnStateCommit}, core.TxnStateRollback, core.EndConflict},
		{core.TxnView{End: core.TxnStateRollback}, core.TxnStateCommit, core.EndConflict},
		{core.TxnView{End: core.TxnStateRollback}, core.TxnStateRollback, core.EndAlready},
	}
	for _, c := range cases {
		if d := core.DecideEnd(c.v, c.want); d != c.d {
			t.Errorf("%+v %s: got %d want %d", c.v, c.want, d, c.d)
		}
	}
}

func TestPlanCheck(t *testing.T) {
	cfg := core.TxnConfig{CheckImmunity: 6 * time.Second, CheckInterval: 30 * time.Second, CheckTimeout: 3 * time.Second, MaxChecks: 3}
	t0 := time.Unix(1000, 0)
	cases := []struct {
		name string
		v    core.TxnView
		now  time.Time
		want core.CheckPlan
	}{
		{"gone", core.TxnView{}, t0, core.CheckPlan{Action: core.CheckSkip}},
		{"ended", core.TxnView{End: core.TxnStateRollback}, t0, core.CheckPlan{Action: core.CheckSkip}},
		{"ended, work left", core.TxnView{End: core.TxnStateCommit, Halves: 1}, t0, core.CheckPlan{Action: core.CheckFinish}},
		{"parked", core.TxnView{Halves: 1, Parked: true, Checks: 3}, t0.Add(time.Hour), core.CheckPlan{Action: core.CheckSkip}},
		{"immune", core.TxnView{Halves: 1, PreparedAt: t0, Immunity: 6 * time.Second}, t0.Add(5500 * time.Millisecond), core.CheckPlan{Action: core.CheckWait, Wait: 500 * time.Millisecond}},
		{"per-message immunity", core.TxnView{Halves: 1, PreparedAt: t0, Immunity: 60 * time.Second}, t0.Add(30 * time.Second), core.CheckPlan{Action: core.CheckWait, Wait: 30 * time.Second}},
		{"first", core.TxnView{Halves: 1, PreparedAt: t0, Immunity: 6 * time.Second}, t0.Add(6 * time.Second), core.CheckPlan{Action: core.CheckSend, Attempt: 1}},
		{"third", core.TxnView{Halves: 1, PreparedAt: t0, Checks: 2}, t0.Add(time.Minute), core.CheckPlan{Action: core.CheckSend, Attempt: 3}},
		{"exhausted", core.TxnView{Halves: 1, PreparedAt: t0, Checks: 3}, t0.Add(time.Minute), core.CheckPlan{Action: core.CheckPark}},
	}
	for _, c := range cases {
		if got := core.PlanCheck(c.v, c.now, cfg); got != c.want {
			t.Errorf("%s: got %+v want %+v", c.name, got, c.want)
		}
	}
}

func TestAfterCheck(t *testing.T) {
	cfg := core.TxnConfig{MaxChecks: 2}
	cases := []struct {
		answer  string
		attempt int
		want    core.CheckOutcome
	}{
		{core.TxnStateCommit, 1, core.OutcomeCommit},
		{core.TxnStateRollback, 2, core.OutcomeRollback},
		{core.TxnStateUnknown, 1, core.OutcomeRetry},
		{"", 1, core.OutcomeRetry},
		{core.TxnStateUnknown, 2, core.OutcomePark},
		{"timeout", 3, core.OutcomePark},
	}
	for _, c := range cases {
		if got := core.AfterCheck(c.answer, c.attempt, cfg); got != c.want {
			t.Errorf("%s/%d: got %d want %d", c.answer, c.attempt, got, c.want)
		}
	}
	if core.NextCheckIn(0, 2*time.Second, core.TxnConfig{CheckInterval: time.Minute}) != 2*time.Second || core.NextCheckIn(1, 2*time.Second, core.TxnConfig{CheckInterval: time.Minute}) != time.Minute {
		t.Fatal("NextCheckIn")
	}
}

func TestTxnSubjects(t *testing.T) {
	if TxnHalfSubject("o", "x", "p") != "$MQ.INT.o.H.x.p" || TxnEndSubject("o", "x") != "$MQ.INT.o.E.x.end" || TxnFilter("o", "x") != "$MQ.INT.o.*.x.>" {
		t.Fatal("subjects")
	}
	k, id, part, ok := ParseTxnSubject("o", "$MQ.INT.o.H.x.p")
	if !ok || k != "H" || id != "x" || part != "p" {
		t.Fatal("parse half")
	}
	if _, id, _, ok := ParseTxnSubject("o", TxnNoticeSubject("o", "x")); !ok || id != "x" {
		t.Fatal("parse notice")
	}
	if _, _, _, ok := ParseTxnSubject("o", "$MQ.INT.p.H.x.p"); ok {
		t.Fatal("other topic")
	}
	committed := TxnOutboxSubject("o", "x", "p", 3, "k", "t")
	if committed != "$MQ.INT.o.O.x.p.3.k.t" || OutboxSubject("o", 3, "k", "") != "$MQ.INT.o.O.~.~.3.k" || OutboxFilter("o") != "$MQ.INT.o.O.*.*.>" {
		t.Fatal("outbox subjects", committed)
	}
	if k, id, part, ok := ParseTxnSubject("o", committed); !ok || k != TxnKindOutbox || id != "x" || part != "p" {
		t.Fatal("parse committed part")
	}
	if _, _, _, ok := ParseTxnSubject("o", OutboxSubject("o", 3, "k", "")); ok {
		t.Fatal("a delayed message's outbox subject is no transaction's")
	}
	if _, _, _, ok := ParseTxnSubject("o", "$MQ.INT.o.H.x.p.extra"); ok {
		t.Fatal("half subject with extra tokens")
	}
	for d, want := range map[time.Duration]string{0: "@every 1s", 1500 * time.Millisecond: "@every 2s", 30 * time.Second: "@every 30s"} {
		if got := TimerPattern(d); got != want {
			t.Errorf("%s: %s", d, got)
		}
	}
}

// FuzzTxnParsing feeds arbitrary subjects, headers and bodies to every
// parser of the transaction protocol: none may panic, and a prepare they
// accept must be well-formed.
func FuzzTxnParsing(f *testing.F) {
	f.Add("$MQ.TXN.PREPARE.orders.alice.vip", "tx-1", "reg", "6", "COMMIT", []byte("body"))
	f.Add("$MQ.TXN.COMMIT.orders.tx-1", "", "", "", "rollback", []byte(""))
	f.Add("$MQ.TXN.PREPARE.orders", "a b", "g.h", "1e400", "", []byte("COMMIT"))
	f.Add("$MQ.TXN.PREPARE..", "x", "y", "NaN", "\x00", []byte{0xff})
	f.Fuzz(func(t *testing.T, subject, id, group, immunity, state string, body []byte) {
		h := nats.Header{}
		h.Set(HeaderTxnID, id)
		h.Set(HeaderProducerGroup, group)
		if immunity != "" {
			h.Set(HeaderCheckImmunity, immunity)
		}
		if r, err := ParsePrepare(subject, h, body); err == nil {
			if core.ValidateTopicName(r.Topic) != nil || core.ValidateTxnID(r.TxnID) != nil || core.ValidateGroupName(r.Group) != nil || len(r.Part) != 16 || r.Immunity < 0 {
				t.Fatalf("accepted a malformed prepare: %+v", r)
			}
		} else if err.Code != 400 {
			t.Fatalf("code %d", err.Code)
		}
		if r, err := ParseEnd(subject, h); err == nil && (core.ValidateTxnID(r.TxnID) != nil || core.ValidateTopicName(r.Topic) != nil) {
			t.Fatalf("accepted a malformed end: %+v", r)
		}
		ah := nats.Header{}
		if state != "" {
			ah.Set(HeaderTxnState, state)
		}
		if s, _ := ParseCheckAnswer(ah, body); s != core.TxnStateCommit && s != core.TxnStateRollback && s != core.TxnStateUnknown {
			t.Fatalf("answer %q", s)
		}
		ParseTxnSubject("orders", subject)
	})
}
