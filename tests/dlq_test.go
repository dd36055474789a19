package tests

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// attempts records when each attempt of each key happened.
type attempts struct {
	mu sync.Mutex
	at map[string][]time.Time
	n  map[string][]int
}

func (a *attempts) add(key string, attempt int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.at[key] = append(a.at[key], time.Now())
	a.n[key] = append(a.n[key], attempt)
}

func (a *attempts) get(key string) ([]time.Time, []int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]time.Time(nil), a.at[key]...), append([]int(nil), a.n[key]...)
}

// A failing handler is retried after the backoff ladder with the attempt
// visible, and after max_reconsume attempts the message is in the DLQ with
// everything needed to understand and replay it.
func TestGroupRetryBackoffAndDLQ(t *testing.T) {
	backoff := []time.Duration{200 * time.Millisecond, 600 * time.Millisecond}
	s := startGroupServer(t, t.TempDir(), withTopics(semantics.TopicConfig{Name: "orders", Partitions: 4}),
		withGroups(semantics.GroupConfig{Name: "email", Topic: "orders", MaxReconsume: 3, RetryBackoff: backoff}))
	nc := testutil.Connect(t, s.ClientURL())
	rec := &attempts{at: map[string][]time.Time{}, n: map[string][]int{}}
	subscribe(t, nc, "orders", "email", func(ctx context.Context, d *semantics.Delivery) error {
		rec.add(d.Key, d.Attempt)
		switch {
		case d.Key == "bad":
			return fmt.Errorf("smtp refused %s (attempt %d)", d.Key, d.Attempt)
		case d.Key == "flaky" && d.Attempt == 1:
			return errors.New("temporary")
		}
		return nil
	}, semantics.WithoutCreate())
	p := newProducer(t, nc)
	if _, err := p.Send(context.Background(), &semantics.Message{Topic: "orders", Key: "bad", Tag: "signup", Data: []byte("payload"),
		Headers: nats.Header{"X-Trace": []string{"t-1"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Send(context.Background(), &semantics.Message{Topic: "orders", Key: "flaky"}); err != nil {
		t.Fatal(err)
	}
	var list semantics.DLQList
	testutil.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		if err := apiRequest(t, nc, semantics.DLQAPIPrefix+"LIST.orders.email", nil, &list); err != nil {
			return err
		}
		if len(list.Messages) != 1 {
			return fmt.Errorf("%d dead letters", len(list.Messages))
		}
		return nil
	})
	times, ns := rec.get("bad")
	if fmt.Sprint(ns) != "[1 2 3]" {
		t.Fatalf("attempts %v, want [1 2 3]", ns)
	}
	for i := 1; i < len(times); i++ {
		if gap := times[i].Sub(times[i-1]); gap < backoff[i-1] {
			t.Fatalf("attempt %d came %s after the one before, backoff is %s", i+1, gap, backoff[i-1])
		}
	}
	if _, ns := rec.get("flaky"); fmt.Sprint(ns) != "[1 2]" {
		t.Fatalf("flaky attempts %v, want [1 2] (then acked)", ns)
	}
	d := list.Messages[0]
	if d.Key != "bad" || d.Tag != "signup" || d.Attempts != 3 || d.Group != "email" || d.Subject != wire.StoredSubject("orders", semantics.Partition("bad", 4), "bad", "signup") ||
		d.Error != "smtp refused bad (attempt 3)" || time.Since(d.DeadAt) > time.Minute {
		t.Fatalf("dead letter %+v", d)
	}
	var full semantics.DeadLetter
	if err := apiRequest(t, nc, semantics.DLQAPIPrefix+"SHOW.orders.email", semantics.DLQShowRequest{Seq: d.DLQSeq}, &full); err != nil {
		t.Fatal(err)
	}
	if string(full.Data) != "payload" || full.Headers.Get("X-Trace") != "t-1" {
		t.Fatalf("shown dead letter lost body or headers: %+v", full)
	}
	// A standard client reads the DLQ stream directly.
	js := testutil.JetStream(t, nc)
	raw, err := js.Stream(context.Background(), wire.DLQStream("orders"))
	if err != nil {
		t.Fatal(err)
	}
	rm, err := raw.GetMsg(context.Background(), d.DLQSeq)
	if err != nil {
		t.Fatal(err)
	}
	if rm.Subject != "$MQ.DLQ.orders.email" || rm.Header.Get(semantics.HeaderError) == "" || rm.Header.Get(semantics.HeaderKey) != "bad" {
		t.Fatalf("raw DLQ message %s %v", rm.Subject, rm.Header)
	}
	testutil.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		st := groupInfo(t, nc, "orders", "email")
		if st.DLQ != 1 || st.AckPending != 0 || st.Pending != 0 {
			return fmt.Errorf("info %+v", st)
		}
		return nil
	})
}

// Replay puts dead letters back on the topic with their key and tag and
// never stores one twice, even when a replay is repeated after a crash.
func TestGroupDLQReplayWithoutDuplicates(t *testing.T) {
	s := startGroupServer(t, t.TempDir(), withTopics(semantics.TopicConfig{Name: "orders", Partitions: 4}),
		withGroups(semantics.GroupConfig{Name: "email", Topic: "orders", MaxReconsume: 1, RetryBackoff: []time.Duration{100 * time.Millisecond}}))
	nc := testutil.Connect(t, s.ClientURL())
	var fixed sync.Map // key -> true once the handler is fixed
	handled := newTally()
	subscribe(t, nc, "orders", "email", func(ctx context.Context, d *semantics.Delivery) error {
		if _, ok := fixed.Load("all"); !ok {
			return errors.New("bug")
		}
		handled.add(d.Key+"/"+d.Tag, d.Member)
		return nil
	}, semantics.WithoutCreate())
	const n = 30
	sendN(t, newProducer(t, nc), "orders", n, func(i int) *semantics.Message {
		return &semantics.Message{Key: fmt.Sprintf("k%d", i), Tag: "t", Data: []byte(fmt.Sprint(i))}
	})
	testutil.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		if st := groupInfo(t, nc, "orders", "email"); st.DLQ != n {
			return fmt.Errorf("dlq %d of %d", st.DLQ, n)
		}
		return nil
	})
	// Simulate a replay that crashed after publishing the first dead letter
	// and before removing it from the DLQ.
	var list semantics.DLQList
	if err := apiRequest(t, nc, semantics.DLQAPIPrefix+"LIST.orders.email", semantics.DLQListRequest{Limit: 1}, &list); err != nil {
		t.Fatal(err)
	}
	fixed.Store("all", true)
	js := testutil.JetStream(t, nc)
	first := list.Messages[0]
	first.Headers = nats.Header{}
	if _, err := js.PublishMsg(context.Background(), first.ReplayMsg()); err != nil {
		t.Fatal(err)
	}
	total := 0
	for {
		var r semantics.DLQReplayReply
		if err := apiRequest(t, nc, semantics.DLQAPIPrefix+"REPLAY.orders.email", semantics.DLQReplayRequest{Limit: 7}, &r); err != nil {
			t.Fatal(err)
		}
		total += r.Replayed
		if r.Remaining == 0 {
			break
		}
	}
	if total != n {
		t.Fatalf("replayed %d, want %d", total, n)
	}
	waitCount(t, "replayed handled", 20*time.Second, handled.distinct, n)
	var again semantics.DLQReplayReply
	if err := apiRequest(t, nc, semantics.DLQAPIPrefix+"REPLAY.orders.email", nil, &again); err != nil {
		t.Fatal(err)
	}
	if again.Replayed != 0 {
		t.Fatalf("second replay replayed %d", again.Replayed)
	}
	// Let any duplicate arrive before judging.
	testutil.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		if st := groupInfo(t, nc, "orders", "email"); st.Pending != 0 || st.AckPending != 0 {
			return fmt.Errorf("group still busy: %+v", st)
		}
		return nil
	})
	if d := handled.dups(); len(d) > 0 {
		t.Fatalf("replay duplicated %v", d)
	}
	for id := range handled.count {
		var k int
		if _, err := fmt.Sscanf(id, "k%d/t", &k); err != nil {
			t.Fatalf("replayed message lost key or tag: %q", id)
		}
	}
	var purge semantics.DLQPurgeReply
	if err := apiRequest(t, nc, semantics.DLQAPIPrefix+"PURGE.orders.email", nil, &purge); err != nil {
		t.Fatal(err)
	}
}

// A plain client that never dead-letters (it naks forever) exhausts
// MaxDeliver; the broker's mover copies the message to the DLQ from the
// captured advisory.
func TestGroupDLQMoverCatchesExhaustedMessages(t *testing.T) {
	s := startGroupServer(t, t.TempDir(), withTopics(semantics.TopicConfig{Name: "orders", Partitions: 2}),
		withGroups(semantics.GroupConfig{Name: "raw", Topic: "orders", MaxReconsume: 2, RetryBackoff: []time.Duration{50 * time.Millisecond}}))
	nc := testutil.Connect(t, s.ClientURL())
	js := testutil.JetStream(t, nc)
	if _, err := newProducer(t, nc).Send(context.Background(), &semantics.Message{Topic: "orders", Key: "x", Data: []byte("lost?")}); err != nil {
		t.Fatal(err)
	}
	cons, err := js.Consumer(context.Background(), "orders", "raw")
	if err != nil {
		t.Fatal(err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) { _ = m.Nak() })
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Stop()
	testutil.CheckFor(t, 20*time.Second, 100*time.Millisecond, func() error {
		var list semantics.DLQList
		if err := apiRequest(t, nc, semantics.DLQAPIPrefix+"LIST.orders.raw", nil, &list); err != nil {
			return err
		}
		if len(list.Messages) != 1 || list.Messages[0].Key != "x" || list.Messages[0].Attempts != 3 {
			return fmt.Errorf("dlq %+v", list.Messages)
		}
		return nil
	})
}
