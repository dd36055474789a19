package tests

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
)

func msgTrace(t *testing.T, nc *nats.Conn, topic string, seq uint64) semantics.MsgTrace {
	t.Helper()
	var tr semantics.MsgTrace
	if err := apiRequest(t, nc, semantics.MsgAPIPrefix+"TRACE."+topic, map[string]any{"seq": seq}, &tr); err != nil {
		t.Fatalf("MSG.TRACE %d: %v", seq, err)
	}
	return tr
}

// traceStates is "group=state[,state...][+dead]" for every group, sorted
// as the reply is.
func traceStates(tr semantics.MsgTrace) map[string]string {
	out := map[string]string{}
	for _, g := range tr.Groups {
		var st []string
		for _, c := range g.Consumers {
			st = append(st, c.State)
		}
		s := strings.Join(st, ",")
		if g.DeadLettered {
			s += "+dead"
		}
		out[g.Group] = s
	}
	return out
}

// TestMsgTraceStates: one message, six groups, each in another state:
// acked, dead-lettered, waiting for its ack, not delivered yet (a
// clustering group and an ordered one without members), and filtered out
// by tags. The CLI prints the same.
func TestMsgTraceStates(t *testing.T) {
	s := startGroupServer(t, t.TempDir(), withTopics(semantics.TopicConfig{Name: "trace", Partitions: 2}),
		withGroups(
			semantics.GroupConfig{Name: "fast", Topic: "trace"},
			semantics.GroupConfig{Name: "dead", Topic: "trace", MaxReconsume: 1, RetryBackoff: []time.Duration{50 * time.Millisecond}},
			semantics.GroupConfig{Name: "hold", Topic: "trace", SessionTimeout: 30 * time.Second},
			semantics.GroupConfig{Name: "idle", Topic: "trace"},
			semantics.GroupConfig{Name: "ord", Topic: "trace", Ordered: true},
			semantics.GroupConfig{Name: "vip", Topic: "trace", Tags: []string{"vip"}},
		))
	nc := testutil.Connect(t, s.ClientURL())
	seq := publishTopic(t, testutil.JetStream(t, nc), "trace.k", "hello")
	held := make(chan struct{})
	t.Cleanup(func() { close(held) })
	subscribe(t, nc, "trace", "fast", func(context.Context, *semantics.Delivery) error { return nil }, semantics.WithoutCreate())
	subscribe(t, nc, "trace", "dead", func(context.Context, *semantics.Delivery) error { return errors.New("bug") }, semantics.WithoutCreate())
	subscribe(t, nc, "trace", "hold", func(ctx context.Context, _ *semantics.Delivery) error {
		select {
		case <-held:
		case <-ctx.Done():
		}
		return nil
	}, semantics.WithoutCreate())
	want := map[string]string{"fast": "acked", "dead": "acked+dead", "hold": "ack_pending", "idle": "pending", "ord": "pending", "vip": "filtered"}
	var tr semantics.MsgTrace
	testutil.CheckFor(t, 20*time.Second, 100*time.Millisecond, func() error {
		tr = msgTrace(t, nc, "trace", seq)
		if got := traceStates(tr); fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("states %v, want %v", got, want)
		}
		return nil
	})
	if tr.Message.Seq != seq || tr.Message.Key != "k" || tr.Message.Headers["X-Body"][0] != "hello" || len(tr.Message.Data) != 0 {
		t.Fatalf("traced message: %+v", tr.Message)
	}
	for _, g := range tr.Groups {
		switch g.Group {
		case "ord":
			if len(g.Consumers) != 1 || g.Consumers[0].Consumer != wire.OrderedConsumer("ord", tr.Message.Partition) {
				t.Fatalf("ordered group traced on %+v, want the partition's consumer", g.Consumers)
			}
		case "hold":
			if c := g.Consumers[0]; c.Redelivered == nil || *c.Redelivered || c.AckPending != 1 || c.LastDelivered == nil {
				t.Fatalf("held message: %+v", c)
			}
		case "dead":
			if g.DLQSeq == 0 || g.DeadAt.IsZero() || !g.DLQComplete {
				t.Fatalf("dead letter: %+v", g)
			}
		}
	}
	r := testutil.RunCLI(t, "-s", s.ClientURL(), "msg", "trace", "trace", fmt.Sprint(seq))
	for _, w := range []string{"key k", "ack_pending", "filtered", "yes (DLQ seq", "ord~p"} {
		if r.Code != 0 || !strings.Contains(r.Stdout, w) {
			t.Fatalf("msg trace lacks %q: exit %d\n%s%s", w, r.Code, r.Stdout, r.Stderr)
		}
	}
}
