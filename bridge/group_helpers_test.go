package bridge

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go/jetstream"
)

func TestDecodeInfoRequest(t *testing.T) {
	cases := []struct {
		name string
		body string
		want wire.GroupInfoRequest
		code int
	}{
		{"empty", "", wire.GroupInfoRequest{}, 0},
		{"blank", " \n", wire.GroupInfoRequest{}, 0},
		{"offset and limit", `{"offset":10,"limit":5}`, wire.GroupInfoRequest{Offset: 10, Limit: 5}, 0},
		{"unknown key", `{"page":1}`, wire.GroupInfoRequest{}, wire.CodeBadRequest},
		{"not JSON", `offset=1`, wire.GroupInfoRequest{}, wire.CodeBadRequest},
		{"negative offset", `{"offset":-1}`, wire.GroupInfoRequest{Offset: -1}, wire.CodeBadRequest},
		{"negative limit", `{"limit":-2}`, wire.GroupInfoRequest{Limit: -2}, wire.CodeBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeInfoRequest([]byte(tc.body))
			wantCode(t, err, tc.code)
			if tc.code == 0 && got != tc.want {
				t.Fatalf("want %+v, got %+v", tc.want, got)
			}
		})
	}
}

func statusOf(n int) wire.GroupStatus {
	st := wire.GroupStatus{Members: []wire.MemberStatus{}}
	for i := range n {
		st.Members = append(st.Members, wire.MemberStatus{Member: fmt.Sprintf("m%03d", i)})
	}
	return st
}

func memberIDs(st wire.GroupStatus) []string {
	ids := []string{}
	for _, m := range st.Members {
		ids = append(ids, m.Member)
	}
	return ids
}

func TestPageMembers(t *testing.T) {
	cases := []struct {
		name          string
		n             int
		offset, limit int
		want          []string
	}{
		{"first page", 5, 0, 2, []string{"m000", "m001"}},
		{"last, short page", 5, 4, 2, []string{"m004"}},
		{"past the end", 5, 5, 2, []string{}},
		{"far past the end", 5, 50, 2, []string{}},
		{"zero limit", 5, 0, 0, []string{}},
		{"no members", 0, 0, 10, []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := pageMembers(statusOf(tc.n), tc.offset, tc.limit)
			if ids := memberIDs(got); !slices.Equal(ids, tc.want) || got.Members == nil {
				t.Errorf("members: want %v, got %v (nil: %v)", tc.want, ids, got.Members == nil)
			}
			if got.MembersTotal != tc.n || got.MembersOffset != tc.offset {
				t.Errorf("total/offset: want %d/%d, got %d/%d", tc.n, tc.offset, got.MembersTotal, got.MembersOffset)
			}
		})
	}
}

func TestFitPage(t *testing.T) {
	st := statusOf(600)
	whole, _ := json.Marshal(pageMembers(st, 0, wire.DefaultMemberPage))
	cases := []struct {
		name       string
		req        wire.GroupInfoRequest
		maxPayload int
		wantN      int // members in the page; -1: shrunk below the default
		code       int
	}{
		{"default page fits", wire.GroupInfoRequest{}, 1 << 20, wire.DefaultMemberPage, 0},
		{"asked page fits", wire.GroupInfoRequest{Offset: 590, Limit: 20}, 1 << 20, 10, 0},
		{"default page shrinks to fit", wire.GroupInfoRequest{}, len(whole)/2 + replyHeadroom, -1, 0},
		{"asked page too large", wire.GroupInfoRequest{Limit: 500}, len(whole)/2 + replyHeadroom, 0, wire.CodeTooLarge},
		{"not even one member fits", wire.GroupInfoRequest{}, replyHeadroom + 10, 0, wire.CodeTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := fitPage(st, tc.req, tc.maxPayload)
			wantCode(t, err, tc.code)
			if err != nil {
				return
			}
			if len(b) > tc.maxPayload-replyHeadroom {
				t.Fatalf("page of %d bytes: want at most %d", len(b), tc.maxPayload-replyHeadroom)
			}
			var got wire.GroupStatus
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("page is not a group status: %v", err)
			}
			if got.MembersTotal != 600 || got.MembersOffset != tc.req.Offset {
				t.Errorf("total/offset: want 600/%d, got %d/%d", tc.req.Offset, got.MembersTotal, got.MembersOffset)
			}
			n := len(got.Members)
			if tc.wantN >= 0 && n != tc.wantN || tc.wantN < 0 && (n == 0 || n >= wire.DefaultMemberPage) {
				t.Errorf("members: want %d (-1: fewer than %d, at least 1), got %d", tc.wantN, wire.DefaultMemberPage, n)
			}
		})
	}
}

func TestOrderedLag(t *testing.T) {
	ci := func(name string, pending uint64, ackPending int, floor uint64) *jetstream.ConsumerInfo {
		return &jetstream.ConsumerInfo{Name: name, NumPending: pending, NumAckPending: ackPending, AckFloor: jetstream.SequenceInfo{Stream: floor}}
	}
	cis := []*jetstream.ConsumerInfo{ci("g~p0", 5, 2, 10), ci("g~p2", 0, 1, 30), ci("other~p1", 100, 0, 0)}
	got := orderedLag(3, "g", cis)
	want := []wire.PartitionLag{
		{Partition: 0, Lag: 7, Exact: true, Consumer: "g~p0", Pending: 5, AckPending: 2, AckFloor: 10},
		{Partition: 1, Lag: 0, Exact: true, Consumer: "g~p1"}, // its consumer is missing
		{Partition: 2, Lag: 1, Exact: true, Consumer: "g~p2", AckPending: 1, AckFloor: 30},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("orderedLag:\nwant %+v\ngot  %+v", want, got)
	}
	if n := sumLag(got); n != 8 {
		t.Errorf("sumLag: want 8, got %d", n)
	}
	if n := sumLag(nil); n != 0 {
		t.Errorf("sumLag(nil): want 0, got %d", n)
	}
}

func TestPartitionFilters(t *testing.T) {
	cases := []struct {
		name    string
		filters []string
		want    []string
	}{
		{"unfiltered", []string{">"}, []string{"T.2.>"}},
		{"whole topic", []string{"T.>"}, []string{"T.2.>"}},
		{"tags", []string{"T.*.*.red", "T.*.*.blue"}, []string{"T.2.*.red", "T.2.*.blue"}},
		{"bound to this partition", []string{"T.2.*.red"}, []string{"T.2.*.red"}},
		{"bound to another partition", []string{"T.1.*.red", "T.12.>"}, []string{}},
		{"another topic", []string{"U.>", "U.*.*.red"}, []string{}},
		{"keyed", []string{"T.*.k"}, []string{"T.2.k"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := partitionFilters("T", 2, tc.filters); !slices.Equal(got, tc.want) {
				t.Fatalf("partitionFilters(T, 2, %q): want %q, got %q", tc.filters, tc.want, got)
			}
		})
	}
}

func TestCutTopic(t *testing.T) {
	cases := []struct {
		filter, rest string
		ok           bool
	}{{"T.>", ">", true}, {"T.", "", false}, {"T", "", false}, {"TT.>", "", false}, {"U.T.>", "", false}}
	for _, tc := range cases {
		if rest, ok := cutTopic(tc.filter, "T"); rest != tc.rest || ok != tc.ok {
			t.Errorf("cutTopic(%q, T): want (%q, %v), got (%q, %v)", tc.filter, tc.rest, tc.ok, rest, ok)
		}
	}
}

func TestSubjectMatchesAndConsumerFilters(t *testing.T) {
	cases := []struct {
		filter, subject string
		want            bool
	}{
		{"T.0.k", "T.0.k", true},
		{"T.*.k", "T.3.k", true},
		{"T.*.k", "T.3.k.red", false},
		{"T.*.*.red", "T.3.k.red", true},
		{"T.>", "T.3.k", true},
		{"T.>", "T", false},
		{">", "T", true},
		{"T.0", "T.0.k", false},
		{"T.0.k.red", "T.0.k", false},
	}
	for _, tc := range cases {
		if got := subjectMatches(tc.filter, tc.subject); got != tc.want {
			t.Errorf("subjectMatches(%q, %q): want %v, got %v", tc.filter, tc.subject, tc.want, got)
		}
	}
	if !matchesAny([]string{"T.*.*.red", "T.*.*.blue"}, "T.1.k.blue") || matchesAny([]string{"T.*.*.red"}, "T.1.k.blue") || matchesAny(nil, "T.1.k") {
		t.Errorf("matchesAny: want a match on any one filter and none without filters")
	}
	filterCases := []struct {
		c    jetstream.ConsumerConfig
		want []string
	}{
		{jetstream.ConsumerConfig{}, []string{">"}},
		{jetstream.ConsumerConfig{FilterSubject: "T.>"}, []string{"T.>"}},
		{jetstream.ConsumerConfig{FilterSubjects: []string{"a", "b"}}, []string{"a", "b"}},
	}
	for _, tc := range filterCases {
		if got := consumerFilters(tc.c); !slices.Equal(got, tc.want) {
			t.Errorf("consumerFilters(%+v): want %q, got %q", tc.c, tc.want, got)
		}
	}
}

func TestValidPresence(t *testing.T) {
	cases := []struct {
		subj string
		want bool
	}{
		{"_INBOX.abc.presence", true},
		{"app.member-1", true},
		{"$JS.API.STREAM.DELETE.T", false},
		{"$MQ.API.TOPIC.DELETE.T", false},
		{"a.*", false},
		{"a.>", false},
		{"a b", false},
		{"a..b", false},
		{".a", false},
		{"", false},
		{strings.Repeat("a", 256), false},
		{strings.Repeat("a", 255), true},
	}
	for _, tc := range cases {
		if got := validPresence(tc.subj); got != tc.want {
			t.Errorf("validPresence(%.20q): want %v, got %v", tc.subj, tc.want, got)
		}
	}
}

func TestDecodeRegistryEntry(t *testing.T) {
	entry := func(g core.GroupConfig) []byte { b, _ := json.Marshal(g); return b }
	cases := []struct {
		name    string
		b       []byte
		wantErr string
	}{
		{"valid, defaults filled", []byte(`{"name":"g","topic":"T"}`), ""},
		{"names another group", entry(core.GroupConfig{Name: "h", Topic: "T"}), `names group "h" of topic "T"`},
		{"names another topic", entry(core.GroupConfig{Name: "g", Topic: "U"}), `names group "g" of topic "U"`},
		{"invalid mode", []byte(`{"name":"g","topic":"T","mode":"fanout"}`), "entry.mode"},
		{"not JSON", []byte(`{`), "unexpected end of JSON input"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g, err := decodeRegistryEntry("T", "g", tc.b)
			if tc.wantErr == "" {
				want := core.GroupConfig{Name: "g", Topic: "T"}
				want.SetDefaults()
				if err != nil || g.Mode != want.Mode || g.MaxReconsume != want.MaxReconsume || g.SessionTimeout != want.SessionTimeout {
					t.Fatalf("want %+v, got %+v (%v)", want, g, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("want an error containing %q, got %v", tc.wantErr, err)
			}
		})
	}
}

func TestDLQConfigAndAdvisorySubject(t *testing.T) {
	sc := dlqConfig(core.TopicConfig{Name: "T", Replicas: 3})
	if sc.Name != "%DLQ%T" || !slices.Equal(sc.Subjects, []string{"$MQ.DLQ.T.*"}) || sc.Replicas != 3 {
		t.Errorf("name/subjects/replicas: want %%DLQ%%T/[$MQ.DLQ.T.*]/3, got %s/%q/%d", sc.Name, sc.Subjects, sc.Replicas)
	}
	if sc.Duplicates != time.Hour || sc.Storage != jetstream.FileStorage || sc.Retention != jetstream.LimitsPolicy || !sc.AllowDirect {
		t.Errorf("want a 1h duplicate window, file storage, limits retention, direct gets; got %v %v %v %v", sc.Duplicates, sc.Storage, sc.Retention, sc.AllowDirect)
	}
	if !maps.Equal(sc.Metadata, map[string]string{"jetmq.dlq": "T"}) {
		t.Errorf("metadata: want jetmq.dlq=T, got %v", sc.Metadata)
	}
	if got, want := maxDeliveriesSubject("T"), "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.T.*"; got != want {
		t.Errorf("maxDeliveriesSubject: want %q, got %q", want, got)
	}
}
