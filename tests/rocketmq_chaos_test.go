package tests

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	rmq "github.com/apache/rocketmq-clients/golang/v5"
	"github.com/jetmq/jetmq/internal/testutil"
)

// rmqChaosYAML adds the RocketMQ consumers' group and a short long poll
// to every node of the chaos cluster.
const rmqChaosYAML = `groups:
  - name: rmqworkers
    topic: orders
    mode: clustering
    start: all
rocketmq:
  long_polling: 500ms
`

// rmqAddrLine is where the ready line names the RocketMQ endpoint.
var rmqAddrLine = regexp.MustCompile(`msg="jetmq ready" .*rocketmq=(\S+)`)

// rmqAddrOf reads the RocketMQ endpoint a ready process logged.
func rmqAddrOf(t *testing.T, p *testutil.Process) string {
	t.Helper()
	m := rmqAddrLine.FindStringSubmatch(p.Stderr.String())
	if m == nil {
		t.Fatalf("no RocketMQ endpoint in the ready line:\n%s", p.Stderr)
	}
	return strings.Trim(m[1], `"`)
}

// TestRocketMQChaosKill9: a RocketMQ producer (each send retried until
// acknowledged) and a push consumer, both given all three nodes of a
// cluster of real jetmq processes, run while one node is killed with -9
// and restarted. Every acknowledged message reaches the consumer's group;
// the longest pause in acknowledgements around the kill is logged.
func TestRocketMQChaosKill9(t *testing.T) {
	n, kills := 600, 1
	if fullSize() {
		n, kills = 6000, 3
	}
	c := newProcessCluster(t, 3, rmqChaosYAML)
	var addrs []string
	for i := 0; i < 3; i++ {
		addrs = append(addrs, rmqAddrOf(t, c.procs[i]))
	}
	endpoint := strings.Join(addrs, ";")
	got := newBodyTally()
	rmqPushConsumer(t, endpoint, "rmqworkers", "orders", rmq.SUB_ALL, func(mv *rmq.MessageView) rmq.ConsumerResult {
		got.add(string(mv.GetBody()))
		return rmq.SUCCESS
	})
	p := rmqProducerNoStop(t, endpoint, rmq.WithTopics("orders"))
	acked := newBodyTally()
	var want []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			body := "rmq-" + strconv.Itoa(i)
			if err := rmqSendUntilAcked(p, body, "key-"+strconv.Itoa(i%50), t.Logf); err != nil {
				t.Errorf("send %s: %v", body, err)
				return
			}
			want = append(want, body)
			acked.add(body)
		}
	}()
	for k := 0; k < kills; k++ {
		waitCount(t, "acks before the kill", 60*time.Second, acked.distinct, (k+1)*n/(kills+2))
		victim := k % 3
		t.Logf("kill -9 n%d", victim+1)
		killedAt := time.Now()
		before := acked.distinct()
		c.procs[victim].Kill9()
		// The node comes back on its RocketMQ port, as a node with a
		// configured port does: clients still list its address.
		c.procs[victim] = testutil.StartProcessEnv(t, c.dir, []string{"JETMQ_ROCKETMQ_LISTEN=" + addrs[victim]}, "serve", "-c", c.cfgs[victim])
		c.procs[victim].WaitReady(t, 90*time.Second)
		t.Logf("n%d back after %s, %d acks meanwhile; longest pause in acks since the kill %s", victim+1, time.Since(killedAt).Round(time.Millisecond),
			acked.distinct()-before,
			longestPause(acked.deliveries(), killedAt, time.Now()).Round(time.Millisecond))
	}
	<-done
	if t.Failed() {
		return
	}
	testutil.CheckFor(t, 60*time.Second, 50*time.Millisecond, func() error {
		if m := got.missing(want); len(m) > 0 {
			return fmt.Errorf("%d of %d acknowledged messages not consumed (first %s)", len(m), len(want), m[0])
		}
		return nil
	})
	t.Logf("%d acknowledged, %d distinct consumed, %d redeliveries", len(want), got.distinct(), got.dups())
}

// rmqSendUntilAcked sends one keyed message, retrying for up to a minute
// until the producer returns a receipt.
func rmqSendUntilAcked(p rmq.Producer, body, key string, logf func(string, ...any)) error {
	deadline := time.Now().Add(time.Minute)
	for {
		msg := &rmq.Message{Topic: "orders", Body: []byte(body)}
		msg.SetKeys(key)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := p.Send(ctx, msg)
		cancel()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		logf("retry %s: %v", body, err)
		time.Sleep(100 * time.Millisecond) // back off before the retry
	}
}
