package tests

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/server"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go/jetstream"
)

// delivery is one message a member was handed.
type delivery struct {
	data    string
	attempt int
}

// deliveryLog records what a member is handed, in order.
type deliveryLog struct {
	mu  sync.Mutex
	got []delivery
}

func (l *deliveryLog) handler(ctx context.Context, d *semantics.Delivery) error {
	l.mu.Lock()
	l.got = append(l.got, delivery{string(d.Data), d.Attempt})
	l.mu.Unlock()
	return nil
}

func (l *deliveryLog) snapshot() []delivery {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]delivery(nil), l.got...)
}

func (l *deliveryLog) len() int { return len(l.snapshot()) }

// A broadcasting member whose process died holding unacked messages gets
// them back first and at once when it joins again with its id, not after
// ack_wait (30 s here); what it acked never comes back, and each
// redelivery counts as its second attempt.
func TestBroadcastRejoinRedeliversUnackedAtOnce(t *testing.T) {
	s := startGroupServer(t, t.TempDir(), withTopics(semantics.TopicConfig{Name: "feed", Partitions: 1}),
		withGroups(semantics.GroupConfig{Name: "tail", Topic: "feed", Mode: semantics.ModeBroadcasting, Start: semantics.StartAll, SessionTimeout: 30 * time.Second}))
	nc := testutil.Connect(t, s.ClientURL())
	sendN(t, newProducer(t, nc), "feed", 20, func(i int) *semantics.Message {
		return &semantics.Message{Key: "k", Data: []byte(fmt.Sprint(i))}
	})

	dieHolding(t, s.ClientURL(), "feed", "tail", "m1", 10, 3)
	expectRedeliveredFirst(t, s.ClientURL(), "feed", "tail", "m1", 3, 10, 17)
}

// dieHolding is a member process that joins topic/group as member, takes
// fetch messages, acks the first acked of them and dies.
func dieHolding(t *testing.T, url, topic, group, member string, fetch, acked int) {
	t.Helper()
	old := testutil.Connect(t, url)
	var jr semantics.JoinReply
	if err := apiRequest(t, old, semantics.GroupJoinPrefix+topic+"."+group, semantics.JoinRequest{Member: member}, &jr); err != nil {
		t.Fatal(err)
	}
	cons, err := testutil.JetStream(t, old).Consumer(context.Background(), jr.Stream, jr.Consumer)
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(fetch, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for m := range batch.Messages() {
		if n < acked {
			if err := m.DoubleAck(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		n++
	}
	if n != fetch {
		t.Fatalf("first process fetched %d, want %d", n, fetch)
	}
	old.Close()
}

// expectRedeliveredFirst joins member again (messages are "0", "1", …)
// and wants messages acked..held-1 first, on their second attempt, then
// the rest up to want in order, all well within ack_wait.
func expectRedeliveredFirst(t *testing.T, url, topic, group, member string, acked, held, want int) {
	t.Helper()
	start := time.Now()
	log := &deliveryLog{}
	subscribe(t, testutil.Connect(t, url), topic, group, log.handler, semantics.WithMember(member), semantics.WithoutCreate())
	waitCount(t, "re-joined member", 5*time.Second, log.len, want)
	t.Logf("%d messages back after %v", want, time.Since(start).Round(time.Millisecond))
	got := log.snapshot()
	for i, d := range got[:want] {
		w := delivery{fmt.Sprint(i + acked), 2}
		if i+acked >= held {
			w.attempt = 1 // never delivered before
		}
		if d != w {
			t.Fatalf("delivery %d is %+v, want %+v (all: %+v)", i, d, w, got)
		}
	}
}

// The same on three nodes with replicas 3: the dead process, the JOIN and
// the new process are on different nodes from the consumer leader (in
// general); a second process with the id is refused on any node; every
// node's GROUP.INFO lists the member as live.
func TestBroadcastRejoinCluster(t *testing.T) {
	srvs := startGroupCluster(t, func(c *server.Config) {
		c.Topics = []semantics.TopicConfig{{Name: "feed", Partitions: 2, Replicas: 3}}
		c.Groups = []semantics.GroupConfig{{Name: "tail", Topic: "feed", Mode: semantics.ModeBroadcasting, Start: semantics.StartAll, SessionTimeout: 30 * time.Second}}
	})
	nc := testutil.Connect(t, srvs[0].ClientURL())
	sendN(t, newProducer(t, nc), "feed", 20, func(i int) *semantics.Message {
		return &semantics.Message{Key: "k", Data: []byte(fmt.Sprint(i))}
	})
	dieHolding(t, srvs[1].ClientURL(), "feed", "tail", "m1", 10, 3)
	expectRedeliveredFirst(t, srvs[2].ClientURL(), "feed", "tail", "m1", 3, 10, 17)
	for i, s := range srvs {
		// The member's first heartbeat (sent on joining) reaches every node.
		c := testutil.Connect(t, s.ClientURL())
		testutil.CheckFor(t, 5*time.Second, 50*time.Millisecond, func() error {
			st := groupInfo(t, c, "feed", "tail")
			if st.MembersLive != 1 || len(st.Members) != 1 || st.Members[0].LastSeen.IsZero() {
				return fmt.Errorf("node %d: members %+v", i, st.Members)
			}
			return nil
		})
		_, err := semantics.Subscribe(context.Background(), c, "feed", "tail",
			func(context.Context, *semantics.Delivery) error { return nil }, semantics.WithMember("m1"), semantics.WithoutCreate())
		if !isAPIError(err, 409) {
			t.Fatalf("second process as m1 on node %d: %v, want 409", i, err)
		}
	}
}

// Two live processes with one broadcasting member id would split that
// member's messages between them; the second JOIN is refused with 409
// naming the member, whether the first is idle (pulling) or busy (not
// pulling, answering its presence subject), and accepted once the first
// has stopped.
func TestBroadcastSameMemberTwiceRefused(t *testing.T) {
	s := startGroupServer(t, t.TempDir(), withTopics(semantics.TopicConfig{Name: "prices", Partitions: 2}),
		withGroups(semantics.GroupConfig{Name: "cache", Topic: "prices", Mode: semantics.ModeBroadcasting}))
	nc := testutil.Connect(t, s.ClientURL())
	url := s.ClientURL()
	idle := &deliveryLog{}
	subscribe(t, testutil.Connect(t, url), "prices", "cache", idle.handler, semantics.WithMember("cache-1"), semantics.WithoutCreate())
	expectInUse(t, url, "cache-1")

	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	busy, err := semantics.Subscribe(context.Background(), testutil.Connect(t, url), "prices", "cache",
		func(ctx context.Context, d *semantics.Delivery) error {
			entered <- struct{}{}
			<-release
			return nil
		}, semantics.WithMember("busy"), semantics.WithPrefetch(1), semantics.WithoutCreate())
	if err != nil {
		t.Fatal(err)
	}
	sendN(t, newProducer(t, nc), "prices", 1, func(int) *semantics.Message { return &semantics.Message{Key: "k", Data: []byte("1")} })
	<-entered
	js := testutil.JetStream(t, nc)
	testutil.CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		c, err := js.Consumer(context.Background(), "prices", wire.BroadcastConsumer("cache", "busy"))
		if err != nil {
			return err
		}
		if w := c.CachedInfo().NumWaiting; w != 0 {
			return fmt.Errorf("busy member still has %d pulls open", w)
		}
		return nil
	})
	expectInUse(t, url, "busy")
	close(release)
	if err := busy.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	subscribe(t, testutil.Connect(t, url), "prices", "cache", idle.handler, semantics.WithMember("busy"), semantics.WithoutCreate())
}

// expectInUse joins member of prices/cache and wants 409 naming it.
func expectInUse(t *testing.T, url, member string) {
	t.Helper()
	sub, err := semantics.Subscribe(context.Background(), testutil.Connect(t, url), "prices", "cache",
		func(context.Context, *semantics.Delivery) error { return nil }, semantics.WithMember(member), semantics.WithoutCreate())
	if err == nil {
		_ = sub.Stop(context.Background())
		t.Fatalf("second process joined as %s while the first lives", member)
	}
	if !isAPIError(err, 409) || !strings.Contains(err.Error(), `"`+member+`"`) {
		t.Fatalf("second join as %s: %v, want 409 naming the member", member, err)
	}
}
