package tests

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
)

// A group's tags filter on the server: members never receive other tags.
func TestGroupTagsFilterOnServer(t *testing.T) {
	s := startGroupServer(t, t.TempDir(), withTopics(semantics.TopicConfig{Name: "orders", Partitions: 4}))
	nc := testutil.Connect(t, s.ClientURL())
	got := newTally()
	sub := subscribe(t, nc, "orders", "vip", func(ctx context.Context, d *semantics.Delivery) error {
		got.add(d.Tag+":"+d.Key, d.Member)
		return nil
	}, semantics.WithTags("gold"))
	if f := sub.JoinReply().FilterSubjects; len(f) != 1 || f[0] != "orders.*.*.gold" {
		t.Fatalf("filter %v", f)
	}
	sendN(t, newProducer(t, nc), "orders", 30, func(i int) *semantics.Message {
		tags := []string{"gold", "silver", ""}
		return &semantics.Message{Key: fmt.Sprintf("u%d", i), Tag: tags[i%3]}
	})
	waitCount(t, "gold", 10*time.Second, got.distinct, 10)
	testutil.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		if st := groupInfo(t, nc, "orders", "vip"); st.Pending != 0 || st.AckPending != 0 {
			return fmt.Errorf("%+v", st)
		}
		return nil
	})
	for id := range got.count {
		if id[:5] != "gold:" {
			t.Fatalf("member received %q", id)
		}
	}
	if got.distinct() != 10 {
		t.Fatalf("%d gold messages, want 10", got.distinct())
	}
	// Joining with other tags is a conflict.
	_, err := semantics.Subscribe(context.Background(), nc, "orders", "vip", func(context.Context, *semantics.Delivery) error { return nil }, semantics.WithTags("silver"))
	if !isAPIError(err, 409) {
		t.Fatalf("join with other tags: %v, want 409", err)
	}
}

// Reset rewinds a clustering group, or one broadcasting member, to a
// sequence or a time.
func TestGroupReset(t *testing.T) {
	s := startGroupServer(t, t.TempDir(), withTopics(semantics.TopicConfig{Name: "orders", Partitions: 2}),
		withGroups(semantics.GroupConfig{Name: "audit", Topic: "orders"},
			semantics.GroupConfig{Name: "bc", Topic: "orders", Mode: semantics.ModeBroadcasting, Start: semantics.StartAll}))
	nc := testutil.Connect(t, s.ClientURL())
	p := newProducer(t, nc)
	sendN(t, p, "orders", 5, func(i int) *semantics.Message { return &semantics.Message{Key: fmt.Sprint(i)} })
	mid := time.Now()
	sendN(t, p, "orders", 5, func(i int) *semantics.Message { return &semantics.Message{Key: fmt.Sprint(5 + i)} })
	audit, b1, b2 := newTally(), newTally(), newTally()
	count := func(tl *tally) semantics.Handler {
		return func(ctx context.Context, d *semantics.Delivery) error {
			tl.add(fmt.Sprint(d.Seq), d.Member)
			return nil
		}
	}
	subscribe(t, nc, "orders", "audit", count(audit), semantics.WithoutCreate())
	subscribe(t, nc, "orders", "bc", count(b1), semantics.WithMember("m1"), semantics.WithoutCreate())
	subscribe(t, nc, "orders", "bc", count(b2), semantics.WithMember("m2"), semantics.WithoutCreate())
	total := func(tl *tally) func() int {
		return func() int {
			tl.mu.Lock()
			defer tl.mu.Unlock()
			n := 0
			for _, c := range tl.count {
				n += c
			}
			return n
		}
	}
	for _, tl := range []*tally{audit, b1, b2} {
		waitCount(t, "first pass", 10*time.Second, total(tl), 10)
	}
	var rr semantics.ResetReply
	if err := apiRequest(t, nc, semantics.GroupAPIPrefix+"RESET.orders.audit", semantics.ResetRequest{Seq: 3}, &rr); err != nil {
		t.Fatal(err)
	}
	waitCount(t, "audit after reset to seq 3", 10*time.Second, total(audit), 18)
	if err := apiRequest(t, nc, semantics.GroupAPIPrefix+"RESET.orders.bc", semantics.ResetRequest{Time: mid, Member: "m2"}, &rr); err != nil {
		t.Fatal(err)
	}
	if rr.Seq != 6 || len(rr.Consumers) != 1 {
		t.Fatalf("reset by time: %+v, want seq 6 on one consumer", rr)
	}
	waitCount(t, "m2 after reset by time", 10*time.Second, total(b2), 15)
	if n := total(b1)(); n != 10 {
		t.Fatalf("member m1 got %d, the reset of m2 must not move it", n)
	}
	err := apiRequest(t, nc, semantics.GroupAPIPrefix+"RESET.orders.audit", semantics.ResetRequest{Seq: 1, Member: "m1"}, nil)
	if !isAPIError(err, 400) {
		t.Fatalf("member reset of a clustering group: %v, want 400", err)
	}
}

// Bad input gets clear errors.
func TestGroupBadInput(t *testing.T) {
	s := startGroupServer(t, t.TempDir(), withTopics(semantics.TopicConfig{Name: "orders", Partitions: 2}))
	nc := testutil.Connect(t, s.ClientURL())
	for _, c := range []struct {
		subject string
		body    any
		code    int
		want    string
	}{
		{semantics.GroupAPIPrefix + "INFO.nosuch.g", nil, 404, `topic "nosuch" not found`},
		{semantics.GroupAPIPrefix + "INFO.orders.nosuch", nil, 404, `group "nosuch" of topic "orders" not found`},
		{semantics.GroupAPIPrefix + "CREATE.nosuch.g", nil, 404, `topic "nosuch" not found`},
		{semantics.GroupAPIPrefix + "CREATE.orders.g", map[string]any{"mode": "fanout"}, 400, "group.mode"},
		{semantics.GroupAPIPrefix + "CREATE.orders.g", map[string]any{"retry_backoff": []string{"2s", "1s"}}, 400, "group.retry_backoff[1]"},
		{semantics.GroupAPIPrefix + "CREATE.orders.g", map[string]any{"retry_backoff": []string{}}, 400, "group.retry_backoff"},
		{semantics.GroupAPIPrefix + "CREATE.orders.g", map[string]any{"retry_backoff": []string{"soon"}}, 400, "retry_backoff[0]"},
		{semantics.GroupAPIPrefix + "DELETE.orders.nosuch", nil, 404, "not found"},
		{semantics.GroupAPIPrefix + "RESET.orders.nosuch", semantics.ResetRequest{Seq: 1}, 404, "not found"},
		{semantics.GroupJoinPrefix + "orders.nosuch", nil, 404, `group "nosuch" of topic "orders" not found`},
		{semantics.DLQAPIPrefix + "LIST.orders.nosuch", nil, 404, "not found"},
		{semantics.GroupJoinPrefix + "orders.g", semantics.JoinRequest{Presence: "$JS.API.STREAM.DELETE.orders"}, 400, "presence"},
		{semantics.GroupAPIPrefix + "INFO.orders.nosuch", map[string]int{"offset": -1}, 400, "negative"},
		{semantics.GroupAPIPrefix + "LIST.*", nil, 400, "topic"},
	} {
		err := apiRequest(t, nc, c.subject, c.body, nil)
		if !isAPIError(err, c.code) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v: %v, want %d naming %q", c.subject, c.body, err, c.code, c.want)
		}
	}
}
