package bridge

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
)

func stored(subject string, seq uint64, at time.Time, h map[string]string, data string) txnMsg {
	hd := nats.Header{}
	for k, v := range h {
		hd.Set(k, v)
	}
	return txnMsg{Subject: subject, Seq: seq, Header: hd, Data: []byte(data), Time: at}
}

func TestNewTxnRecord(t *testing.T) {
	t1, t2 := txnNow, txnNow.Add(time.Second)
	msgs := []txnMsg{
		stored("$MQ.INT.T.H.X.p2", 4, t1, map[string]string{wire.HeaderTxnChecks: "1"}, "new"),
		stored("$MQ.INT.T.H.X.p2", 2, t1, map[string]string{wire.HeaderTxnChecks: "0"}, "old"), // an older version
		stored("$MQ.INT.T.H.X.p1", 3, t1, nil, ""),
		stored("$MQ.INT.T.O.X.p3.0.k", 6, t2, map[string]string{wire.HeaderProducerGroup: "pg", wire.HeaderTxnBy: "check"}, ""),
		stored("$MQ.INT.T.O.X.p4.1.k", 5, t1, map[string]string{wire.HeaderProducerGroup: "old", wire.HeaderTxnBy: "producer"}, ""),
		stored("$MQ.INT.T.TD.X.p5", 7, t1, nil, ""),
		stored("$MQ.INT.T.E.X.end", 8, t1, map[string]string{wire.HeaderTxnState: core.TxnStateRollback}, ""),
		stored("$MQ.INT.T.Z", 9, t1, nil, ""), // not a transaction subject: counted for Last only
	}
	r := newTxnRecord("T", "X", msgs)
	subjects := func(ms []txnMsg) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.Subject)
		}
		return out
	}
	if want := []string{"$MQ.INT.T.H.X.p1", "$MQ.INT.T.H.X.p2"}; !slices.Equal(subjects(r.Halves), want) {
		t.Errorf("halves by sequence: want %q, got %q", want, subjects(r.Halves))
	}
	if string(r.Halves[1].Data) != "new" {
		t.Errorf("a rewritten half: want its last version, got %q", r.Halves[1].Data)
	}
	if want := []string{"$MQ.INT.T.O.X.p4.1.k", "$MQ.INT.T.O.X.p3.0.k", "$MQ.INT.T.TD.X.p5"}; !slices.Equal(subjects(r.Parts), want) {
		t.Errorf("parts by sequence: want %q, got %q", want, subjects(r.Parts))
	}
	if r.End == nil || r.End.Seq != 8 || r.Committed != 2 || r.Delayed != 1 || r.Last != 9 {
		t.Errorf("want end at 8, 2 committed, 1 delayed, last 9; got end %v, %d, %d, %d", r.End, r.Committed, r.Delayed, r.Last)
	}
	if !r.EndedAt.Equal(t2) || r.Group != "pg" || r.EndedBy != "check" {
		t.Errorf("ended: want at %v by check for pg (the latest part), got %v by %q for %q", t2, r.EndedAt, r.EndedBy, r.Group)
	}
	if !r.committed() {
		t.Errorf("committed: want true with outbox parts")
	}
	if h, ok := r.half("p2"); !ok || h.Seq != 4 {
		t.Errorf("half(p2): want seq 4, got %v %v", h.Seq, ok)
	}
	if _, ok := r.half("p9"); ok {
		t.Errorf("half(p9): want none")
	}
	if empty := newTxnRecord("T", "X", nil); empty.Last != 0 || empty.Halves != nil || empty.End != nil || empty.committed() {
		t.Errorf("no messages: want an empty record, got %+v", empty)
	}
}

func TestTxnRecordView(t *testing.T) {
	cfg := core.TxnConfig{CheckImmunity: 6 * time.Second}
	half := func(h map[string]string) []txnMsg { return []txnMsg{stored("$MQ.INT.T.H.X.p1", 1, txnNow, h, "")} }
	prepared := "2026-01-02T03:04:05.5Z"
	at, _ := time.Parse(time.RFC3339Nano, prepared)
	cases := []struct {
		name string
		rec  txnRecord
		want core.TxnView
	}{
		{"open", txnRecord{Halves: half(map[string]string{wire.HeaderTxnChecks: "2", wire.HeaderTxnPreparedAt: prepared})},
			core.TxnView{Halves: 1, Checks: 2, PreparedAt: at, Immunity: 6 * time.Second}},
		{"own immunity, parked", txnRecord{Halves: half(map[string]string{wire.HeaderCheckImmunity: "1.5", wire.HeaderTxnState: core.TxnStateParked})},
			core.TxnView{Halves: 1, Parked: true, Immunity: 1500 * time.Millisecond}},
		{"bad immunity falls back to the config", txnRecord{Halves: half(map[string]string{wire.HeaderCheckImmunity: "soon"})},
			core.TxnView{Halves: 1, Immunity: 6 * time.Second}},
		{"rolled back", txnRecord{End: &txnMsg{Header: nats.Header{wire.HeaderTxnState: {core.TxnStateRollback}}}},
			core.TxnView{End: core.TxnStateRollback}},
		{"committed by its outbox", txnRecord{Committed: 1}, core.TxnView{End: core.TxnStateCommit}},
		{"committed, delayed", txnRecord{Delayed: 1}, core.TxnView{End: core.TxnStateCommit}},
		{"nothing", txnRecord{}, core.TxnView{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.rec.view(cfg); got != tc.want {
				t.Fatalf("view: want %+v, got %+v", tc.want, got)
			}
		})
	}
}

func TestWithHalfAndGuard(t *testing.T) {
	prev := &txnRecord{Topic: "T", ID: "X", Halves: []txnMsg{{Subject: "$MQ.INT.T.H.X.p1", Seq: 3}}, Last: 3, Committed: 1}
	half := nats.NewMsg("$MQ.INT.T.H.X.p2")
	half.Data = []byte("d")
	req := wire.PrepareRequest{Topic: "T", TxnID: "X"}
	got := withHalf(prev, req, half, 9)
	if got.Topic != "T" || got.ID != "X" || got.Last != 9 || len(got.Halves) != 2 || got.Halves[1].Seq != 9 || got.Halves[1].Subject != half.Subject {
		t.Errorf("withHalf: want both halves and last 9, got %+v", got)
	}
	if len(prev.Halves) != 1 {
		t.Errorf("withHalf changed the record it was given: %d halves", len(prev.Halves))
	}
	if fresh := withHalf(nil, req, half, 1); len(fresh.Halves) != 1 || fresh.Last != 1 {
		t.Errorf("withHalf(nil): want one half, last 1, got %+v", fresh)
	}
	m := nats.NewMsg("s")
	guard(m, "T", "X", 42)
	if m.Header.Get(hdrExpectedLastSubjSeq) != "42" || m.Header.Get(hdrExpectedLastSubjSeqSubj) != "$MQ.INT.T.*.X.>" {
		t.Errorf("guard: want 42 over $MQ.INT.T.*.X.>, got %v", m.Header)
	}
}

func TestCommittedInfoAndEndedParts(t *testing.T) {
	rec := &txnRecord{Topic: "T", ID: "X", Committed: 2, Delayed: 1, Parts: []txnMsg{
		stored("$MQ.INT.T.O.X.p1.2.k.red", 4, txnNow, map[string]string{wire.HeaderTxnID: "X", wire.HeaderProducerGroup: "pg",
			wire.HeaderTxnPreparedAt: "2026-01-01T00:00:05Z", "App": "v", "Nats-Msg-Id": "m"}, "abc"),
		stored("$MQ.INT.T.O.X.p2.0._", 5, txnNow, map[string]string{wire.HeaderTxnPreparedAt: "2026-01-01T00:00:03Z"}, ""),
		stored("$MQ.INT.T.TD.X.p3", 6, txnNow, map[string]string{hdrScheduleTarget: "$MQ.INT.T.O.X.p3.1.q", wire.HeaderDeliverAt: "2030-01-01T00:00:00Z"}, "zz"),
	}}
	want := []wire.TxnMessageInfo{
		{Part: "p1", Key: "k", Tag: "red", Size: 3, Headers: nats.Header{"App": {"v"}}},
		{Part: "p2", Size: 0, Headers: nats.Header{}}, // keyless: no key
		{Part: "p3", Key: "q", Size: 2, Headers: nats.Header{}},
	}
	parts, at := endedParts("T", rec)
	if !reflect.DeepEqual(parts, want) {
		t.Errorf("endedParts:\nwant %+v\ngot  %+v", want, parts)
	}
	if first := time.Date(2026, 1, 1, 0, 0, 3, 0, time.UTC); at == nil || !at.Equal(first) {
		t.Errorf("prepared at: want the earliest, %v, got %v", first, at)
	}
	if n := endedMessages(rec); n != 3 {
		t.Errorf("endedMessages: want 3, got %d", n)
	}
	if n := endedMessages(&txnRecord{Halves: make([]txnMsg, 2), Committed: 1}); n != 3 {
		t.Errorf("endedMessages without an end record: want committed + delayed + halves = 3, got %d", n)
	}
	if at := earliestPrepare([]txnMsg{stored("s", 1, txnNow, map[string]string{wire.HeaderTxnPreparedAt: "yesterday"}, "")}); at != nil {
		t.Errorf("earliestPrepare of unparsable times: want nil, got %v", at)
	}
}

func TestHalfInfo(t *testing.T) {
	h := stored("$MQ.INT.T.H.X.p1", 1, txnNow, map[string]string{wire.HeaderKey: "k", wire.HeaderTag: "red", "App": "v",
		wire.HeaderTxnID: "X", wire.HeaderTxnChecks: "1", wire.HeaderTopic: "T", hdrSchedule: "@every 5s"}, "abcd")
	want := wire.TxnMessageInfo{Part: "p1", Key: "k", Tag: "red", Size: 4, Headers: nats.Header{"App": {"v"}, wire.HeaderTxnID: {"X"}}}
	if got := halfInfo("T", h); !reflect.DeepEqual(got, want) {
		t.Fatalf("halfInfo:\nwant %+v\ngot  %+v", want, got)
	}
}

func TestTxnDurations(t *testing.T) {
	cases := []struct {
		immunity, want time.Duration
	}{{0, time.Second}, {200 * time.Millisecond, time.Second}, {5 * time.Second, 5 * time.Second}, {time.Hour, time.Minute}}
	for _, tc := range cases {
		if got := cacheTTL(core.TxnConfig{CheckImmunity: tc.immunity}); got != tc.want {
			t.Errorf("cacheTTL(immunity %v): want %v, got %v", tc.immunity, tc.want, got)
		}
	}
	if got := checkAckWait(core.TxnConfig{CheckTimeout: 3 * time.Second}); got != 11*time.Second {
		t.Errorf("checkAckWait(timeout 3s): want 11s, got %v", got)
	}
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{{"hello", 10, "hello"}, {"hello", 5, "hello"}, {"hello", 3, "hel…"}, {"", 0, ""}} {
		if got := truncateBytes([]byte(tc.in), tc.n); got != tc.want {
			t.Errorf("truncateBytes(%q, %d): want %q, got %q", tc.in, tc.n, tc.want, got)
		}
	}
}
