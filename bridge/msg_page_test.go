package bridge

import (
	"bytes"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
)

var stamp = time.Date(2025, 3, 4, 5, 6, 7, 890, time.UTC)

// directReply is a message as a direct get returns it: the stored headers
// and body plus the headers direct get adds.
func directReply(subject string, seq uint64, h nats.Header, data []byte) *nats.Msg {
	m := &nats.Msg{Header: nats.Header{}, Data: data}
	for k, v := range h {
		m.Header[k] = append([]string(nil), v...)
	}
	m.Header.Set("Nats-Stream", "T")
	m.Header.Set("Nats-Subject", subject)
	m.Header.Set("Nats-Sequence", strconv.FormatUint(seq, 10))
	m.Header.Set("Nats-Time-Stamp", stamp.Add(time.Duration(seq)*time.Second).Format(time.RFC3339Nano))
	m.Header.Set("Nats-Num-Pending", "9")
	return m
}

func TestTopicMsg(t *testing.T) {
	cases := []struct {
		name    string
		m       *nats.Msg
		ok      bool
		want    wire.TopicMsg
		headers nats.Header
	}{
		{
			name: "keyed with tag and own headers",
			m:    directReply("T.2.k.red", 7, nats.Header{"App": {"v"}}, []byte("hello")),
			ok:   true,
			want: wire.TopicMsg{Seq: 7, Subject: "T.2.k.red", Partition: 2, Key: "k", Tag: "red", Time: stamp.Add(7 * time.Second),
				Data: []byte("hello"), Size: 5 + headerSize(nats.Header{"App": {"v"}})},
			headers: nats.Header{"App": {"v"}},
		},
		{
			name: "keyless without headers or body",
			m:    directReply("T.0._", 1, nil, nil),
			ok:   true,
			want: wire.TopicMsg{Seq: 1, Subject: "T.0._", Partition: 0, Key: "_", Time: stamp.Add(time.Second), Data: []byte{}, Size: 0},
		},
		{name: "not a stored subject", m: directReply("T.k", 3, nil, []byte("x"))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := topicMsg(tc.m)
			if ok != tc.ok {
				t.Fatalf("ok: want %v, got %v", tc.ok, ok)
			}
			if !ok {
				return
			}
			if !reflect.DeepEqual(got.Headers, map[string][]string(tc.headers)) {
				t.Errorf("headers: want %v (direct-get headers dropped, none at all when empty), got %v", tc.headers, got.Headers)
			}
			if got.Data == nil || !bytes.Equal(got.Data, tc.want.Data) {
				t.Errorf("data: want %q (never nil), got %q", tc.want.Data, got.Data)
			}
			got.Headers, got.Data, tc.want.Data = nil, nil, nil
			if !got.Time.Equal(tc.want.Time) {
				t.Errorf("time: want %v, got %v", tc.want.Time, got.Time)
			}
			got.Time, tc.want.Time = time.Time{}, time.Time{}
			if got.Seq != tc.want.Seq || got.Subject != tc.want.Subject || got.Partition != tc.want.Partition ||
				got.Key != tc.want.Key || got.Tag != tc.want.Tag || got.Size != tc.want.Size || got.DataOmitted {
				t.Errorf("want %+v, got %+v", tc.want, got)
			}
		})
	}
}

func TestMinCut(t *testing.T) {
	cases := []struct{ cut, seq, want uint64 }{{0, 5, 5}, {9, 5, 5}, {5, 9, 5}, {5, 5, 5}}
	for _, tc := range cases {
		if got := minCut(tc.cut, tc.seq); got != tc.want {
			t.Errorf("minCut(%d, %d): want %d, got %d", tc.cut, tc.seq, tc.want, got)
		}
	}
}

func TestEncodedSizeAndFitData(t *testing.T) {
	tm := wire.TopicMsg{Subject: "T.0.k", Size: 300, Data: make([]byte, 300)}
	want := len("T.0.k") + 300 + 100 + 256
	if got := encodedSize(tm); got != want {
		t.Fatalf("encodedSize: want %d, got %d", want, got)
	}
	cases := []struct {
		name    string
		budget  int
		omitted bool
		takes   int
	}{
		{"fits", want, false, want},
		{"body left out", want - 1, true, len("T.0.k") + 300 + 256},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := tm
			takes := fitData(&m, tc.budget)
			if m.DataOmitted != tc.omitted || takes != tc.takes {
				t.Fatalf("fitData(budget %d): want omitted %v taking %d, got %v taking %d", tc.budget, tc.omitted, tc.takes, m.DataOmitted, takes)
			}
			if tc.omitted && (m.Data == nil || len(m.Data) != 0) {
				t.Fatalf("an omitted body: want an empty, non-nil body, got %v", m.Data)
			}
		})
	}
}

func TestFillPage(t *testing.T) {
	msgs := func(seqs ...uint64) []*nats.Msg {
		out := make([]*nats.Msg, len(seqs))
		for i, s := range seqs {
			out[i] = directReply("T.0.k", s, nil, []byte("0123456789"))
		}
		return out
	}
	each := encodedSize(wire.TopicMsg{Subject: "T.0.k", Size: 10, Data: make([]byte, 10)})
	end := stamp.Add(2 * time.Second)
	cases := []struct {
		name     string
		msgs     []*nats.Msg
		limit    int
		budget   int
		end      *time.Time
		more     bool
		wantSeqs []uint64
		wantNext uint64
	}{
		{"all fit, nothing more", msgs(1, 2, 3), 10, 1 << 20, nil, false, []uint64{1, 2, 3}, 0},
		{"all fit, more follow", msgs(1, 2, 3), 10, 1 << 20, nil, true, []uint64{1, 2, 3}, 4},
		{"cut by limit", msgs(1, 2, 3), 2, 1 << 20, nil, true, []uint64{1, 2}, 3},
		{"cut by budget", msgs(4, 5, 6), 10, 2 * each, nil, false, []uint64{4, 5}, 6},
		{"first always fits", msgs(4, 5), 10, 1, nil, false, []uint64{4}, 5},
		{"end time stops without a cursor", msgs(1, 2, 3), 10, 1 << 20, &end, true, []uint64{1, 2}, 0},
		{"skips what is not a stored subject", append(msgs(1), directReply("T.k", 2, nil, nil), msgs(3)[0]), 10, 1 << 20, nil, false, []uint64{1, 3}, 0},
		{"a misfiled last message still moves the cursor", append(msgs(1), directReply("T.k", 2, nil, nil)), 10, 1 << 20, nil, true, []uint64{1}, 3},
		{"empty", nil, 10, 1 << 20, nil, true, nil, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			page := fillPage(tc.msgs, tc.limit, tc.budget, tc.end, tc.more)
			var seqs []uint64
			for _, m := range page.Messages {
				seqs = append(seqs, m.Seq)
			}
			if page.Messages == nil || !slices.Equal(seqs, tc.wantSeqs) || page.Next != tc.wantNext {
				t.Fatalf("want seqs %v next %d, got %v next %d (messages nil: %v)", tc.wantSeqs, tc.wantNext, seqs, page.Next, page.Messages == nil)
			}
		})
	}
}

func TestScheduledMsgReadBackByDelayedMsg(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 600, time.FixedZone("X", 3600))
	cases := []struct {
		name     string
		req      wire.DelayRequest
		p        int
		subject  string
		target   string
		key, tag string
	}{
		{"keyed", wire.DelayRequest{Topic: "T", Key: "k"}, 3, "T.3.k", "$MQ.INT.T.O.~.~.3.k", "k", ""},
		{"tagged", wire.DelayRequest{Topic: "T", Key: "k", Tag: "red"}, 0, "T.0.k.red", "$MQ.INT.T.O.~.~.0.k.red", "k", "red"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := &nats.Msg{Header: nats.Header{wire.HeaderDelay: {"1h"}, "App": {"v"}}, Data: []byte("body")}
			out := scheduledMsg(tc.req, in, "ID1", tc.p, at)
			if out.Subject != "$MQ.INT.T.D.ID1" {
				t.Errorf("subject: want $MQ.INT.T.D.ID1, got %q", out.Subject)
			}
			wantH := map[string]string{
				wire.HeaderDeliverAt: "2030-01-02T02:04:05.0000006Z", hdrSchedule: "@at 2030-01-02T02:04:05.0000006Z",
				hdrScheduleTarget: tc.target, "App": "v", wire.HeaderDelay: "",
			}
			for k, v := range wantH {
				if got := out.Header.Get(k); got != v {
					t.Errorf("header %s: want %q, got %q", k, v, got)
				}
			}
			if string(out.Data) != "body" {
				t.Errorf("data: want %q, got %q", "body", out.Data)
			}

			d := delayedMsg("T", directReply(out.Subject, 42, out.Header, out.Data))
			if d.ID != "ID1" || d.Seq != 42 || d.Subject != tc.subject || d.Partition != tc.p || d.Key != tc.key || d.Tag != tc.tag {
				t.Errorf("delayedMsg: want id ID1 seq 42 %s (p %d key %q tag %q), got %+v", tc.subject, tc.p, tc.key, tc.tag, d)
			}
			if !d.DeliverAt.Equal(at) {
				t.Errorf("deliver at: want %v, got %v", at, d.DeliverAt)
			}
			if want := len("body") + headerSize(out.Header); d.Size != want {
				t.Errorf("size: want %d (body and stored headers, not direct get's), got %d", want, d.Size)
			}
		})
	}
}

func TestDelayedMsgWithoutTarget(t *testing.T) {
	d := delayedMsg("T", directReply("$MQ.INT.T.D.X", 5, nil, nil))
	if d.ID != "X" || d.Seq != 5 || d.Subject != "" || d.Key != "" || !d.DeliverAt.IsZero() {
		t.Fatalf("want id X seq 5 and nothing else, got %+v", d)
	}
}
