package tests

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/ordercheck"
	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/nats-io/nats.go"
)

// chaosSize is the message count of the chaos runs: 100,000 with
// JETMQ_FULL=1 (go test ./tests -run TestOrderedChaos -timeout 30m), a
// CI-sized run otherwise through the same code.
func chaosSize() int {
	if fullSize() {
		return 100000
	}
	return 4000
}

// chaosPublisher publishes n keyed messages in the background, retrying
// each one through broker restarts (Nats-Msg-Id keeps retries from being
// stored twice), and records them with the checker (and calls onAck, if
// given, on each acknowledgement).
func chaosPublisher(t *testing.T, url string, c *ordercheck.Checker, topic string, n, keys int, onAck ...func()) (done <-chan struct{}) {
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	p := newProducer(t, nc)
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		const window = 256
		for from := 0; from < n; from += window {
			var wg sync.WaitGroup
			for i := from; i < min(from+window, n); i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					sendKeyedUntilAcked(nc, p, c, topic, i, keys, onAck)
				}(i)
			}
			wg.Wait()
		}
	}()
	return ch
}

// sendKeyedUntilAcked sends keyed message i (body "<i>", key i%keys),
// retrying until it is acknowledged or nc is closed, and records the ack.
func sendKeyedUntilAcked(nc *nats.Conn, p *semantics.Producer, c *ordercheck.Checker, topic string, i, keys int, onAck []func()) {
	key := fmt.Sprintf("key-%d", i%keys)
	m := &semantics.Message{Topic: topic, Key: key, Data: []byte(fmt.Sprint(i)), MsgID: fmt.Sprintf("chaos-%d", i)}
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		r, err := p.Send(ctx, m)
		cancel()
		if err == nil {
			c.Publish(ordercheck.Published{Partition: r.Partition, Key: key, Seq: r.Seq})
			for _, f := range onAck {
				f()
			}
			return
		}
		if nc.IsClosed() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitHandled waits until at least n messages were handled.
func waitHandled(t *testing.T, c *ordercheck.Checker, n int) {
	t.Helper()
	waitCount(t, "handled", 120*time.Second, c.Handled, n)
}

// TestOrderedChaos: 16 partitions, 4 members, messages over 1,000 keys;
// during the run one member dies without a goodbye (its connection is
// cut: no heartbeat, ack or pull gets out, as after kill -9), two
// members join, one stops gracefully and the broker restarts. Nothing is
// out of order, no partition is processed by two members at once,
// nothing is missing; duplicates are counted.
func TestOrderedChaos(t *testing.T) {
	dir := t.TempDir()
	cfg := testutil.Config(dir)
	cfg.NATS.Port = testutil.FreePort(t)
	s := testutil.StartConfig(t, cfg)
	url := s.ClientURL()
	nc := testutil.Connect(t, url)
	orderedTopic(t, nc, "chaos", 16, 1)

	n := chaosSize()
	c := ordercheck.New()
	om := newOrderedMembers(t, func() string { return url }, c, "chaos", "audit", jitter(300*time.Microsecond),
		semantics.WithSessionTimeout(time.Second), semantics.WithSuspend(100*time.Millisecond))
	for _, id := range []string{"m1", "m2", "m3", "m4"} {
		om.start(id)
	}
	published := chaosPublisher(t, url, c, "chaos", n, 1000)

	waitHandled(t, c, n/5)
	t.Log("killing m1")
	om.kill("m1")
	waitHandled(t, c, n*35/100)
	t.Log("adding m5, m6")
	om.start("m5")
	om.start("m6")
	waitHandled(t, c, n/2)
	t.Log("stopping m3")
	om.stop("m3")
	waitHandled(t, c, n*65/100)
	t.Log("restarting the broker")
	testutil.Shutdown(t, s)
	s = testutil.StartConfig(t, cfg)
	<-published
	r := waitChecked(t, c, n, 180*time.Second)
	t.Logf("chaos: %d messages, %d duplicates", n, r.Duplicates)
}

// TestOrderedChaosCluster: the same on a 3-node cluster with replicas 3,
// with one node killed mid-run.
func TestOrderedChaosCluster(t *testing.T) {
	cl := testutil.StartCluster(t, 3)
	urls := cl.URLs()
	nc := testutil.Connect(t, urls)
	testutil.CheckFor(t, 30*time.Second, 200*time.Millisecond, func() error {
		var out any
		resp, err := nc.Request(semantics.APIPrefix+"TOPIC.CREATE.chaos", []byte(`{"partitions":16,"replicas":3}`), 10*time.Second)
		if err != nil {
			return err
		}
		return semantics.DecodeReply(resp.Data, &out)
	})
	n := chaosSize() / 2
	c := ordercheck.New()
	om := newOrderedMembers(t, func() string { return urls }, c, "chaos", "audit", jitter(300*time.Microsecond),
		semantics.WithSessionTimeout(time.Second), semantics.WithSuspend(100*time.Millisecond))
	for _, id := range []string{"m1", "m2", "m3", "m4"} {
		om.start(id)
	}
	published := chaosPublisher(t, urls, c, "chaos", n, 1000)
	waitHandled(t, c, n/4)
	t.Log("killing m1")
	om.kill("m1")
	waitHandled(t, c, n/2)
	t.Log("stopping node n2")
	cl.Stop(1)
	<-published
	r := waitChecked(t, c, n, 180*time.Second)
	t.Logf("cluster chaos: %d messages, %d duplicates", n, r.Duplicates)
}
