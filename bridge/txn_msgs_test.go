package bridge

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
)

var txnNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// wantHeaders fails unless h has exactly the single values in want.
func wantHeaders(t *testing.T, what string, h nats.Header, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	for k, v := range h {
		got[k] = strings.Join(v, ",")
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s headers:\nwant %v\ngot  %v", what, want, got)
	}
}

func TestUserHeaders(t *testing.T) {
	h := nats.Header{"App": {"a", "b"}, "Nats-Msg-Id": {"x"}, "NATS-Expected-Stream": {"T"}, "Status": {"100"},
		"Description": {"d"}, "Mq-Key": {"k"}, "Natsy": {"kept"}}
	got := userHeaders(h, wire.HeaderKey)
	want := nats.Header{"App": {"a", "b"}, "Natsy": {"kept"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("userHeaders: want %v, got %v", want, got)
	}
	got["App"][0] = "changed"
	if h["App"][0] != "a" {
		t.Fatalf("userHeaders shares value slices with its input")
	}
}

func TestHalfMsg(t *testing.T) {
	in := &nats.Msg{Header: nats.Header{"App": {"v"}, "Nats-Msg-Id": {"id1"}}, Data: []byte("body")}
	cases := []struct {
		name     string
		req      wire.PrepareRequest
		key, tag string
		timer    string
	}{
		{"keyed and tagged", wire.PrepareRequest{Topic: "T", Key: "k", Tag: "red", TxnID: "X", Group: "pg", Part: "p1"}, "k", "red", "@every 5s"},
		{"keyless", wire.PrepareRequest{Topic: "T", TxnID: "X", Group: "pg", Part: "p1"}, "", "", "@every 5s"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := halfMsg(tc.req, in, txnNow, 4500*time.Millisecond)
			if m.Subject != "$MQ.INT.T.H.X.p1" || string(m.Data) != "body" {
				t.Errorf("subject/data: want $MQ.INT.T.H.X.p1/body, got %q/%q", m.Subject, m.Data)
			}
			want := map[string]string{"App": "v", wire.HeaderTopic: "T", wire.HeaderTxnID: "X", wire.HeaderProducerGroup: "pg",
				wire.HeaderTxnPreparedAt: "2026-01-02T03:04:05Z", wire.HeaderTxnChecks: "0",
				hdrSchedule: tc.timer, hdrScheduleTarget: "$MQ.INT.T.C.X", hdrScheduleSource: "$MQ.INT.T.N"}
			if tc.key != "" {
				want[wire.HeaderKey] = tc.key
			}
			if tc.tag != "" {
				want[wire.HeaderTag] = tc.tag
			}
			wantHeaders(t, "half", m.Header, want) // Nats-Msg-Id is JetStream's: dropped
		})
	}
}

func storedHalf(part string, seq uint64, h map[string]string, data string) txnMsg {
	hd := nats.Header{}
	for k, v := range h {
		hd.Set(k, v)
	}
	return txnMsg{Subject: wire.TxnHalfSubject("T", "X", part), Seq: seq, Header: hd, Data: []byte(data), Time: txnNow}
}

func TestRewrittenHalf(t *testing.T) {
	h := storedHalf("p1", 3, map[string]string{"App": "v", wire.HeaderTxnChecks: "1", wire.HeaderTxnState: core.TxnStateParked,
		hdrSchedule: "@every 5s", "Nats-Sequence": "3"}, "body")
	cases := []struct {
		name   string
		parked bool
		period time.Duration
		want   map[string]string
	}{
		{"counted check", false, 10 * time.Second, map[string]string{"App": "v", wire.HeaderTxnChecks: "2",
			hdrSchedule: "@every 10s", hdrScheduleTarget: "$MQ.INT.T.C.X", hdrScheduleSource: "$MQ.INT.T.N"}},
		{"parked", true, wire.TxnParkPeriod, map[string]string{"App": "v", wire.HeaderTxnChecks: "2", wire.HeaderTxnState: core.TxnStateParked,
			hdrSchedule: "@every 315360000s", hdrScheduleTarget: "$MQ.INT.T.C.X", hdrScheduleSource: "$MQ.INT.T.N"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := rewrittenHalf("T", "X", h, 2, tc.parked, tc.period)
			if m.Subject != h.Subject || string(m.Data) != "body" {
				t.Errorf("subject/data: want %s/body, got %s/%q", h.Subject, m.Subject, m.Data)
			}
			wantHeaders(t, "rewritten half", m.Header, tc.want)
		})
	}
}

func TestCommittedMsg(t *testing.T) {
	ti := core.TopicConfig{Name: "T", Partitions: 4, MaxDelay: time.Hour}
	base := map[string]string{"App": "v", wire.HeaderTopic: "T", wire.HeaderTxnID: "X", wire.HeaderProducerGroup: "pg",
		wire.HeaderTxnPreparedAt: "2026-01-01T00:00:00Z", wire.HeaderTxnChecks: "2", wire.HeaderTxnState: core.TxnStateParked,
		wire.HeaderCheckImmunity: "5"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	p := strconv.Itoa(core.Partition("k", 4))
	cases := []struct {
		name    string
		h       map[string]string
		subject string
		extra   map[string]string
		errHas  string
	}{
		{name: "keyed, tagged", h: with(wire.HeaderKey, "k", wire.HeaderTag, "red"), subject: "$MQ.INT.T.O.X.p1." + p + ".k.red"},
		{name: "delayed from the commit", h: with(wire.HeaderKey, "k", wire.HeaderDelay, "90s"), subject: "$MQ.INT.T.TD.X.p1",
			extra: map[string]string{wire.HeaderDeliverAt: "2026-01-02T03:05:35Z", hdrSchedule: "@at 2026-01-02T03:05:35Z",
				hdrScheduleTarget: "$MQ.INT.T.O.X.p1." + p + ".k"}},
		{name: "delay over the topic's max", h: with(wire.HeaderKey, "k", wire.HeaderDelay, "2h"), errHas: "beyond the topic's max_delay 1h0m0s"},
		{name: "junk key", h: with(wire.HeaderKey, "a.b"), errHas: "key"},
		{name: "junk tag", h: with(wire.HeaderKey, "k", wire.HeaderTag, "r*d"), errHas: "tag"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := storedHalf("p1", 9, tc.h, "body")
			m, err := committedMsg(ti, "X", h, txnNow)
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("want an error about %s, got %v", tc.errHas, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Subject != tc.subject || string(m.Data) != "body" {
				t.Errorf("subject/data: want %s/body, got %s/%q", tc.subject, m.Subject, m.Data)
			}
			want := map[string]string{"App": "v", wire.HeaderTxnID: "X", wire.HeaderProducerGroup: "pg",
				wire.HeaderTxnPreparedAt: "2026-01-01T00:00:00Z", hdrExpectedLastSubjSeq: "9",
				hdrExpectedLastSubjSeqSubj: h.Subject, hdrScheduler: h.Subject, hdrScheduleNext: "purge"}
			for k, v := range tc.extra {
				want[k] = v
			}
			wantHeaders(t, "committed", m.Header, want)
		})
	}
}

func TestCommittedMsgKeyless(t *testing.T) {
	ti := core.TopicConfig{Name: "T", Partitions: 3}
	m, err := committedMsg(ti, "X", storedHalf("p1", 1, nil, ""), txnNow)
	if err != nil {
		t.Fatal(err)
	}
	rest, ok := strings.CutPrefix(m.Subject, "$MQ.INT.T.O.X.p1.")
	sm, perr := wire.ParseStoredSubject("T." + rest)
	if !ok || perr != nil || sm.Key != wire.KeylessKey || sm.Partition < 0 || sm.Partition >= 3 || sm.Tag != "" {
		t.Fatalf("want $MQ.INT.T.O.X.p1.<0-2>._, got %q", m.Subject)
	}
}

func TestCommitMsgs(t *testing.T) {
	ti := core.TopicConfig{Name: "T", Partitions: 2}
	rec := &txnRecord{Topic: "T", ID: "X", Last: 12, Halves: []txnMsg{
		storedHalf("p1", 10, map[string]string{wire.HeaderKey: "a"}, "1"),
		storedHalf("p2", 11, map[string]string{wire.HeaderKey: "b"}, "2"),
	}}
	cases := []struct {
		by     string
		wantBy string
	}{{wire.TxnByProducer, ""}, {"", ""}, {wire.TxnByCheck, wire.TxnByCheck}, {wire.TxnByOperator, wire.TxnByOperator}}
	for _, tc := range cases {
		t.Run("by "+tc.by, func(t *testing.T) {
			msgs, err := commitMsgs(ti, rec, tc.by, txnNow)
			if err != nil || len(msgs) != 2 {
				t.Fatalf("want 2 messages, got %d (%v)", len(msgs), err)
			}
			// The first is guarded by the transaction's last sequence, the
			// second by its own half message.
			if got := msgs[0].Header.Get(hdrExpectedLastSubjSeq) + " " + msgs[0].Header.Get(hdrExpectedLastSubjSeqSubj); got != "12 $MQ.INT.T.*.X.>" {
				t.Errorf("first guard: want %q, got %q", "12 $MQ.INT.T.*.X.>", got)
			}
			if got := msgs[1].Header.Get(hdrExpectedLastSubjSeq) + " " + msgs[1].Header.Get(hdrExpectedLastSubjSeqSubj); got != "11 $MQ.INT.T.H.X.p2" {
				t.Errorf("second guard: want %q, got %q", "11 $MQ.INT.T.H.X.p2", got)
			}
			for _, m := range msgs {
				if got := m.Header.Get(wire.HeaderTxnBy); got != tc.wantBy {
					t.Errorf("%s Mq-Txn-By: want %q, got %q", m.Subject, tc.wantBy, got)
				}
			}
		})
	}
	bad := &txnRecord{Topic: "T", ID: "X", Halves: []txnMsg{storedHalf("p1", 1, map[string]string{wire.HeaderKey: "a b"}, "")}}
	if _, err := commitMsgs(ti, bad, "", txnNow); err == nil || !strings.Contains(err.Error(), "$MQ.INT.T.H.X.p1") {
		t.Errorf("a junk half message: want an error naming it, got %v", err)
	}
	if msgs, err := commitMsgs(ti, &txnRecord{Topic: "T", ID: "X"}, "", txnNow); err != nil || len(msgs) != 0 {
		t.Errorf("no halves: want no messages, got %d (%v)", len(msgs), err)
	}
}

func TestEndMsg(t *testing.T) {
	rec := &txnRecord{Topic: "T", ID: "X", Last: 7, Halves: []txnMsg{
		storedHalf("p1", 5, map[string]string{wire.HeaderProducerGroup: "pg", wire.HeaderKey: "k", wire.HeaderTxnPreparedAt: "2026-01-01T00:00:02Z", "App": "v"}, "abc"),
		storedHalf("p2", 6, map[string]string{wire.HeaderProducerGroup: "pg", wire.HeaderTxnPreparedAt: "2026-01-01T00:00:01Z"}, ""),
	}}
	m := endMsg(rec, core.TxnStateRollback, wire.TxnByCheck, txnNow)
	if m.Subject != "$MQ.INT.T.E.X.end" {
		t.Errorf("subject: want $MQ.INT.T.E.X.end, got %q", m.Subject)
	}
	wantHeaders(t, "end", m.Header, map[string]string{wire.HeaderTopic: "T", wire.HeaderTxnID: "X", wire.HeaderTxnState: core.TxnStateRollback,
		wire.HeaderTxnBy: wire.TxnByCheck, wire.HeaderProducerGroup: "pg", hdrScheduler: "$MQ.INT.T.H.X.p1", hdrScheduleNext: "purge",
		hdrExpectedLastSubjSeq: "7", hdrExpectedLastSubjSeqSubj: "$MQ.INT.T.*.X.>"})
	var e txnEnd
	if err := json.Unmarshal(m.Data, &e); err != nil {
		t.Fatalf("end record body: %v", err)
	}
	first := time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC)
	wantParts := []wire.TxnMessageInfo{{Part: "p1", Key: "k", Size: 3}, {Part: "p2", Size: 0}}
	if e.State != core.TxnStateRollback || e.By != wire.TxnByCheck || !e.At.Equal(txnNow) || e.Messages != 2 ||
		e.PreparedAt == nil || !e.PreparedAt.Equal(first) || !reflect.DeepEqual(e.Parts, wantParts) {
		t.Errorf("end record: want rollback by check at %v, 2 messages prepared at %v, parts %+v; got %+v", txnNow, first, wantParts, e)
	}
	if n := endedMessages(&txnRecord{End: &txnMsg{Data: m.Data}}); n != 2 {
		t.Errorf("endedMessages of the end record: want 2, got %d", n)
	}
	parts, at := endedParts("T", &txnRecord{End: &txnMsg{Data: m.Data}})
	if !reflect.DeepEqual(parts, wantParts) || at == nil || !at.Equal(first) {
		t.Errorf("endedParts of the end record: want %+v at %v, got %+v at %v", wantParts, first, parts, at)
	}
}

func TestCheckMsg(t *testing.T) {
	rec := &txnRecord{Topic: "T", ID: "X", Halves: []txnMsg{storedHalf("p1", 5, map[string]string{wire.HeaderProducerGroup: "pg", "App": "v",
		wire.HeaderTxnChecks: "3", wire.HeaderTxnPreparedAt: "2026-01-01T00:00:00Z", wire.HeaderTxnState: core.TxnStateParked,
		wire.HeaderKey: "k", hdrSchedule: "@every 5s"}, "body")}}
	m := checkMsg(rec, 4)
	if m.Subject != "$MQ.TXN.CHECK.pg" || string(m.Data) != "body" {
		t.Errorf("subject/data: want $MQ.TXN.CHECK.pg/body, got %q/%q", m.Subject, m.Data)
	}
	// The half's bookkeeping and JetStream's headers (its timer) stay behind.
	wantHeaders(t, "check", m.Header, map[string]string{wire.HeaderProducerGroup: "pg", "App": "v", wire.HeaderKey: "k",
		wire.HeaderTxnID: "X", wire.HeaderTopic: "T", wire.HeaderAttempt: "4"})
}
