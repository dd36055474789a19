package tests

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go/jetstream"
)

// TestTopicRaiseNeverMisfilesTaggedPublishes: partitions are raised 4 -> 8
// through node 1 of 3 while a tagged publisher on node 3 keeps going.
// Every acknowledged message is stored exactly once, on the partition of
// its key for 4 or for 8 partitions, and every one stored after the raise
// answered is on its partition for 8: no node placed a tagged publish with
// the old count once the stream listed the new partitions.
func TestTopicRaiseNeverMisfilesTaggedPublishes(t *testing.T) {
	const topic = "resize"
	c := testutil.StartCluster(t, 3)
	admin := testutil.Connect(t, c.Servers[0].ClientURL())
	mustAPI(t, admin, "$MQ.API.TOPIC.CREATE."+topic, `{"partitions":4,"replicas":3}`)
	pub := testutil.Connect(t, c.Servers[2].ClientURL())
	pjs := testutil.JetStream(t, pub)

	type ack struct {
		key string
		seq uint64
	}
	var (
		mu      sync.Mutex
		acked   []ack
		refused int
	)
	var stopped atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Each message is retried until acknowledged, as a client does,
		// with a message id so that a retry of one already stored is not
		// stored twice; the publisher stops between messages.
		for i := 0; !stopped.Load(); i++ {
			key := fmt.Sprintf("k%d", i%500)
			for {
				pctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				pa, err := pjs.Publish(pctx, topic+"."+key+".vip", []byte(key), jetstream.WithMsgID(fmt.Sprint("m", i)))
				cancel()
				if err == nil {
					mu.Lock()
					acked = append(acked, ack{key, pa.Sequence})
					mu.Unlock()
					break
				}
				mu.Lock()
				refused++
				mu.Unlock()
			}
		}
	}()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	testutil.CheckFor(t, 20*time.Second, 10*time.Millisecond, func() error {
		if count() < 300 {
			return errors.New("publisher warming up")
		}
		return nil
	})
	mustAPI(t, admin, "$MQ.API.TOPIC.UPDATE."+topic, `{"partitions":8,"replicas":3}`)
	js := testutil.JetStream(t, admin)
	st, err := js.Stream(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	raisedAt := st.CachedInfo().State.LastSeq
	after := count()
	testutil.CheckFor(t, 30*time.Second, 10*time.Millisecond, func() error {
		if count() < after+300 {
			return errors.New("publisher not through the raise yet")
		}
		return nil
	})
	stopped.Store(true)
	wg.Wait()

	var wrong, stale int
	for _, a := range acked {
		m, err := st.GetMsg(context.Background(), a.seq)
		if err != nil {
			t.Fatalf("acked seq %d: %v", a.seq, err)
		}
		sm, err := wire.ParseStoredSubject(m.Subject)
		if err != nil || sm.Key != a.key || sm.Tag != "vip" {
			t.Fatalf("acked seq %d stored on %q (%v)", a.seq, m.Subject, err)
		}
		old, cur := semantics.Partition(a.key, 4), semantics.Partition(a.key, 8)
		switch {
		case sm.Partition != old && sm.Partition != cur:
			wrong++
		case a.seq > raisedAt && sm.Partition != cur:
			stale++
		}
	}
	if wrong+stale > 0 {
		t.Fatalf("of %d acknowledged: %d on neither partition, %d placed with the old count after the raise", len(acked), wrong, stale)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != uint64(len(acked)) {
		t.Fatalf("%d acknowledged, %d stored", len(acked), info.State.Msgs)
	}
	t.Logf("raise 4 -> 8 under a tagged publisher on another node: %d acknowledged, all stored once, 0 misfiled; %d publishes refused during the raise and retried", len(acked), refused)
}
