package tests

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
)

// TestTopicsLiveInTheJetmqAccount runs the drop-in pair: topics and $MQ
// services are in SHOP (nats.account); OTHER reaches none of it, and NATS
// permissions decide who may administer.
func TestTopicsLiveInTheJetmqAccount(t *testing.T) {
	cfg := loadExampleConf(t, "dropin/jetmq.yaml")
	s := testutil.StartConfig(t, cfg)
	url := s.ClientURL()

	alice := testutil.Connect(t, url, nats.UserInfo("alice", "alice-secret"))
	js := testutil.JetStream(t, alice)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ack, err := js.Publish(ctx, "orders.k1", []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if got := storedSubject(t, js, "orders", ack.Sequence); got != wire.StoredSubject("orders", semantics.Partition("k1", 4), "k1", "") {
		t.Fatalf("stored on %s", got)
	}
	if err := apiRequest(t, alice, "$MQ.API.TOPIC.INFO.orders", nil, nil); err != nil {
		t.Fatalf("alice (SHOP) topic info: %v", err)
	}

	// bob may publish to orders but not administer: $MQ.API is denied.
	bob := testutil.Connect(t, url, nats.UserInfo("bob", "bob-secret"), nats.CustomInboxPrefix("_INBOX_bob"))
	if _, err := testutil.JetStream(t, bob).Publish(ctx, "orders.k2", nil); err != nil {
		t.Fatalf("bob publish: %v", err)
	}
	if _, err := bob.Request("$MQ.API.TOPIC.DELETE.orders", nil, time.Second); err == nil {
		t.Fatal("bob administered a topic without permission")
	}
	if _, err := js.Stream(ctx, "orders"); err != nil {
		t.Fatalf("topic gone after bob's denied delete: %v", err)
	}

	// carol (OTHER) reaches neither the topic nor the services.
	carol := testutil.Connect(t, url, nats.UserInfo("carol", "carol-secret"))
	if _, err := carol.Request("$MQ.API.TOPIC.LIST", nil, time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("carol $MQ.API: %v, want no responders", err)
	}
	if _, err := testutil.JetStream(t, carol).Publish(ctx, "orders.k3", nil); err == nil {
		t.Fatal("carol's publish reached the SHOP topic")
	}
	st, err := js.Stream(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	if n := st.CachedInfo().State.Msgs; n != 2 {
		t.Fatalf("topic holds %d messages, want alice's and bob's 2", n)
	}
}
