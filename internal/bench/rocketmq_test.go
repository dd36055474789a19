package bench

import (
	"context"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/server"
)

// TestRocketMQScenarios runs rmq-send and rmq-receive, with their
// baselines, against a real in-process server with its RocketMQ endpoint
// on a free loopback port, and checks that each moved every message and
// removed its streams.
func TestRocketMQScenarios(t *testing.T) {
	// The push consumer's GracefulStop waits out its long poll.
	srv := testutil.StartServer(t, func(c *server.Config) { c.RocketMQ.LongPolling = time.Second })
	plan, err := Select(Scenarios(), []string{"rmq-send", "rmq-receive"})
	if err != nil {
		t.Fatalf("Select: %v", err)
	}
	rows, err := Run(context.Background(), plan, Options{URL: srv.ClientURL(), Server: srv, Msgs: testMsgs})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	byName := map[string]Row{}
	for _, r := range rows {
		byName[r.Name] = r
	}
	for _, s := range plan {
		r, ok := byName[s.Name]
		if !ok {
			t.Fatalf("no row for %s", s.Name)
		}
		checkScenarioRow(t, s, r, byName)
		if s.Baseline != "" {
			requireReference(t, r, "plain-proxy")
		}
		if r.Msgs != testMsgs {
			t.Errorf("%s: msgs: want %d, got %d", s.Name, testMsgs, r.Msgs)
		}
	}
	requireNoBenchStreams(t, srv.ClientURL())
}

// TestRocketMQScenarioNeedsAnEndpoint: against a server given by URL
// only, with no RocketMQ endpoint named, the rmq scenarios fail with an
// error that says what to give.
func TestRocketMQScenarioNeedsAnEndpoint(t *testing.T) {
	srv := testutil.StartServer(t)
	plan, err := Select(Scenarios(), []string{"rmq-send"})
	if err != nil {
		t.Fatalf("Select: %v", err)
	}
	_, err = Run(context.Background(), plan, Options{URL: srv.ClientURL(), Msgs: 10})
	requireErrorContains(t, err, "--rocketmq")
}
