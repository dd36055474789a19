package tests

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/server"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go/jetstream"
)

// TestTopicStalledSourceIsShownAndRepaired stalls a topic's outbox source
// while its internal stream stays: the topic stream's source is taken out
// with a raw stream update, so committed and fired delayed messages stay
// in the outbox. The source watcher must call it stalled in /metrics,
// /healthz and jetmq topic info while it lasts, put the source back, and
// the messages made during the stall must then arrive, each once.
//
// To see the stalled state for longer than one watch round, the test takes
// the source out again each time the watcher puts it back, until every
// place has shown it; the watcher repairs at most once per stall period,
// so the state stays up meanwhile.
func TestTopicStalledSourceIsShownAndRepaired(t *testing.T) {
	s := txnServer(t, func(c *server.Config) { c.Topics[0].MaxDelay = time.Hour })
	nc := testutil.Connect(t, s.ClientURL())
	js := testutil.JetStream(t, nc)
	ctx := context.Background()
	rec := newRecorder(t, js, txnTopic+".>")

	// The source works before the stall.
	if _, err := delayRequest(t, nc, "$MQ.DELAY."+txnTopic+".alice", map[string]string{semantics.HeaderDelay: "10ms"}, "before"); err != nil {
		t.Fatal(err)
	}
	rec.waitCount(t, "", "before", 1, 15*time.Second)

	// removeSource takes the outbox source out of the topic stream, as an
	// outside hand would; it reports whether there was one to take out.
	removeSource := func() bool {
		t.Helper()
		st, err := js.Stream(ctx, txnTopic)
		if err != nil {
			t.Fatal(err)
		}
		sc := st.CachedInfo().Config
		if len(sc.Sources) == 0 {
			return false
		}
		sc.Sources = nil
		if _, err := js.UpdateStream(ctx, sc); err != nil {
			t.Fatal(err)
		}
		return true
	}
	if !removeSource() {
		t.Fatal("the topic stream has no outbox source to begin with")
	}
	stallStart := time.Now()

	// A delayed message and a committed transaction during the stall.
	if _, err := delayRequest(t, nc, "$MQ.DELAY."+txnTopic+".bob", map[string]string{semantics.HeaderDelay: "10ms"}, "delayed-in-stall"); err != nil {
		t.Fatal(err)
	}
	prepare(t, nc, "tx-stall", "carol", "committed-in-stall")
	if err := endTxn(nc, semantics.TxnStateCommit, "tx-stall"); err != nil {
		t.Fatalf("commit during the stall: %v", err)
	}
	stalledMetric := fmt.Sprintf(`jetmq_topic_source_stalled{account="$G",topic="%s"} 1`, txnTopic)

	var sawMetric, sawHealth, sawCLI bool
	var firstRepair time.Duration
	var removals int
	testutil.CheckFor(t, 90*time.Second, 50*time.Millisecond, func() error {
		// Counted before the state is read: the watcher counts a repair
		// before it makes it, so messages seen here with no repair counted
		// yet came through a source that was not there.
		arrived := rec.count("", "delayed-in-stall") + rec.count("tx-stall", "committed-in-stall")
		var st wire.TopicStatus
		if err := apiRequest(t, nc, semantics.APIPrefix+"TOPIC.INFO."+txnTopic, nil, &st); err != nil {
			return err
		}
		if st.Source != nil && st.Source.Repairs > 0 && firstRepair == 0 {
			firstRepair = time.Since(stallStart)
		}
		if firstRepair == 0 && arrived != 0 {
			t.Fatalf("%d messages of the stall arrived before any repair", arrived)
		}
		if st.Source != nil && st.Source.Stalled {
			if !sawMetric && strings.Contains(scrape(t, s), stalledMetric) {
				sawMetric = true
			}
			if code, body := getHTTP(t, s.HTTPAddr(), "/healthz"); !sawHealth && code == 200 &&
				strings.Contains(body, `"degraded"`) && strings.Contains(body, `"topic":"`+txnTopic+`"`) {
				sawHealth = true
			}
			if !sawCLI {
				out := testutil.RunCLI(t, "topic", "info", txnTopic, "-s", s.ClientURL())
				sawCLI = strings.Contains(out.Stdout, "Outbox source stalled since") && strings.Contains(out.Stdout, "outbox source missing")
			}
		}
		done := sawMetric && sawHealth && sawCLI
		if !done && firstRepair > 0 && removeSource() {
			removals++
		}
		if !done {
			return fmt.Errorf("stalled state shown: metrics %v, healthz %v, topic info %v; repaired after %s", sawMetric, sawHealth, sawCLI, firstRepair)
		}
		return nil
	})
	if firstRepair < 15*time.Second {
		t.Errorf("the source was repaired %s into the stall, before it stayed silent for the stall period", firstRepair)
	}
	t.Logf("first repair %s into the stall; the source was taken out again %d times", firstRepair.Round(time.Second), removals)

	// Left alone now, the watcher repairs it for good and the stall clears.
	var st wire.TopicStatus
	testutil.CheckFor(t, 60*time.Second, 100*time.Millisecond, func() error {
		st = wire.TopicStatus{}
		if err := apiRequest(t, nc, semantics.APIPrefix+"TOPIC.INFO."+txnTopic, nil, &st); err != nil {
			return err
		}
		if st.Source == nil || st.Source.Stalled {
			return fmt.Errorf("source state %+v, want repaired and not stalled", st.Source)
		}
		return nil
	})
	rec.waitCount(t, "", "delayed-in-stall", 1, 15*time.Second)
	rec.waitCount(t, "tx-stall", "committed-in-stall", 1, 15*time.Second)
	if _, err := delayRequest(t, nc, "$MQ.DELAY."+txnTopic+".alice", map[string]string{semantics.HeaderDelay: "10ms"}, "after"); err != nil {
		t.Fatal(err)
	}
	rec.waitCount(t, "", "after", 1, 15*time.Second)

	testutil.CheckFor(t, 20*time.Second, 100*time.Millisecond, func() error {
		metrics := scrape(t, s)
		if !strings.Contains(metrics, fmt.Sprintf(`jetmq_topic_source_stalled{account="$G",topic="%s"} 0`, txnTopic)) {
			return fmt.Errorf("/metrics still shows the source stalled")
		}
		if !strings.Contains(metrics, fmt.Sprintf(`jetmq_topic_source_repairs_total{account="$G",topic="%s"} %d`, txnTopic, st.Source.Repairs)) {
			return fmt.Errorf("/metrics does not count the %d repairs", st.Source.Repairs)
		}
		if code, body := getHTTP(t, s.HTTPAddr(), "/healthz"); code != 200 || !strings.Contains(body, `"ok"`) || strings.Contains(body, "details") {
			return fmt.Errorf("/healthz after the repair: %d %s", code, body)
		}
		return nil
	})
	if st.Source.Repairs < 1 || st.Source.Repairs > uint64(removals)+1 {
		t.Errorf("%d repairs for %d removals of the source", st.Source.Repairs, removals+1)
	}
	if out := testutil.RunCLI(t, "topic", "info", txnTopic, "-s", s.ClientURL()); strings.Contains(out.Stdout, "Outbox source stalled") {
		t.Errorf("jetmq topic info still shows the stall:\n%s", out.Stdout)
	}
	// Every message once: the source resumed after the last one it copied.
	if n := rec.total(); n != 4 {
		t.Errorf("the topic's consumer got %d messages, want 4 (before, two in the stall, after)", n)
	}
	var sourced *jetstream.StreamSourceInfo
	if si, err := js.Stream(ctx, txnTopic); err == nil {
		for _, src := range si.CachedInfo().Sources {
			if src.Name == wire.InternalStream(txnTopic) {
				sourced = src
			}
		}
	}
	if sourced == nil {
		t.Fatalf("the topic stream has no outbox source after the repair")
	}
}
