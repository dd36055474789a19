package tests

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/nats-io/nats.go/jetstream"
)

// Registration seed: email and sms groups, two instances each; every
// registration is handled once per group, and registering returns without
// waiting for either.
func TestGroupRegistrationSeed(t *testing.T) {
	s := startGroupServer(t, t.TempDir(), withTopics(semantics.TopicConfig{Name: "registrations", Partitions: 4}),
		withGroups(semantics.GroupConfig{Name: "email", Topic: "registrations"}, semantics.GroupConfig{Name: "sms", Topic: "registrations"}))
	nc := testutil.Connect(t, s.ClientURL())
	release := make(chan struct{})
	tallies := map[string]*tally{"email": newTally(), "sms": newTally()}
	for _, g := range []string{"email", "sms"} {
		for i := 0; i < 2; i++ {
			tl := tallies[g]
			subscribe(t, testutil.Connect(t, s.ClientURL()), "registrations", g, func(ctx context.Context, d *semantics.Delivery) error {
				<-release // the workers are slow: registering must not wait for them
				tl.add(string(d.Data), d.Member)
				return nil
			}, semantics.WithMember(fmt.Sprintf("%s-%d", g, i)), semantics.WithoutCreate(), semantics.WithConcurrency(4))
		}
	}
	p := newProducer(t, nc)
	const n = 200
	start := time.Now()
	for i := 0; i < n; i++ {
		if _, err := p.Send(context.Background(), &semantics.Message{Topic: "registrations", Key: fmt.Sprintf("user%d", i), Data: []byte(fmt.Sprintf("user%d", i))}); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d registrations answered in %s while no handler had finished", n, time.Since(start))
	if got := tallies["email"].distinct() + tallies["sms"].distinct(); got != 0 {
		t.Fatalf("%d handled before release: handlers should still be blocked", got)
	}
	close(release)
	for g, tl := range tallies {
		waitCount(t, g, 30*time.Second, tl.distinct, n)
	}
	for g, tl := range tallies {
		if d := tl.dups(); len(d) > 0 {
			t.Fatalf("group %s handled some twice: %v", g, d)
		}
		m := tl.members()
		if len(m) != 2 {
			t.Fatalf("group %s: work went to %v, want both instances", g, m)
		}
	}
}

// A clustering group is a plain durable: a nats.go pull consumer bound to
// it is a full member, and the durable carries jetmq metadata.
func TestGroupClusteringIsPlainDurable(t *testing.T) {
	s := startGroupServer(t, t.TempDir(), withTopics(semantics.TopicConfig{Name: "orders", Partitions: 2}))
	nc := testutil.Connect(t, s.ClientURL())
	var created struct {
		semantics.GroupStatus
		Created bool `json:"created"`
	}
	if err := apiRequest(t, nc, semantics.GroupAPIPrefix+"CREATE.orders.billing", map[string]any{"mode": "clustering"}, &created); err != nil {
		t.Fatal(err)
	}
	if !created.Created || created.Consumer != "billing" {
		t.Fatalf("create reply %+v", created)
	}
	js := testutil.JetStream(t, nc)
	cons, err := js.Consumer(context.Background(), "orders", "billing")
	if err != nil {
		t.Fatal(err)
	}
	ci := cons.CachedInfo()
	if ci.Config.Metadata[semantics.MetaGroup] != "billing" || ci.Config.Metadata[semantics.MetaMode] != "clustering" || ci.Config.FilterSubject != "" || len(ci.Config.FilterSubjects) != 0 {
		t.Fatalf("durable config %+v", ci.Config)
	}
	sendN(t, newProducer(t, nc), "orders", 10, func(i int) *semantics.Message { return &semantics.Message{Key: fmt.Sprint(i)} })
	batch, err := cons.Fetch(10, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var got int32
	for m := range batch.Messages() {
		atomic.AddInt32(&got, 1)
		_ = m.Ack()
	}
	if got != 10 {
		t.Fatalf("raw member got %d of 10", got)
	}
	// Creating it again with another config is a conflict; the same is fine.
	err = apiRequest(t, nc, semantics.GroupAPIPrefix+"CREATE.orders.billing", map[string]any{"mode": "broadcasting"}, nil)
	if !isAPIError(err, 409) {
		t.Fatalf("conflicting create: %v, want 409", err)
	}
}
