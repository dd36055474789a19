package tests

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/ordercheck"
	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Two clustering members, each in its own OS process, consume a replicas-3
// topic on a 3-node cluster. Mid-run one member is killed with SIGKILL and,
// while its unacknowledged messages wait for redelivery, the node the other
// member is connected to is stopped; that node leads the topic's stream
// and the group's consumer. The survivor reconnects to another node and
// handles everything the victim had not acknowledged: every published
// message is handled, and a message is handled twice only when an
// acknowledgement can have been lost — by the victim's death (a message the
// broker did not see acknowledged at the kill) or by the node's (the
// survivor's first handling ended before the group's consumer answered
// from a live leader again, and the second began after the stop).
func TestGroupProcessMembersSurviveNodeAndMemberKill(t *testing.T) {
	const topic, group, work = "jobs", "workers", 3 * time.Millisecond
	n := 2000
	if fullSize() {
		n = 20000
	}
	cl := testutil.StartCluster(t, 3)
	createUntilAccepted(t, cl, semantics.APIPrefix+"TOPIC.CREATE."+topic, `{"partitions":4,"replicas":3}`)
	createUntilAccepted(t, cl, semantics.GroupAPIPrefix+"CREATE."+topic+"."+group, `{"mode":"clustering","session_timeout":"1s"}`)
	victim := startMemberProcess(t, cl.URLs(), topic, group, "victim", false, work)
	survivor := startMemberProcess(t, cl.URLs(), topic, group, "survivor", false, work)
	doomed := memberNode(t, cl, "survivor")
	pubURL := cl.Servers[(doomed+1)%len(cl.Servers)].ClientURL() // stays up
	nc := testutil.Connect(t, pubURL)
	js := testutil.JetStream(t, nc)
	// The doomed node also leads the topic's stream and the group's
	// consumer, so that its death interrupts storing, delivering and acking.
	leadOn(t, nc, cl.Servers[doomed].Name(), "STREAM.LEADER.STEPDOWN."+topic, func() string { return streamLeader(t, js, topic) })
	leadOn(t, nc, cl.Servers[doomed].Name(), "CONSUMER.LEADER.STEPDOWN."+topic+"."+group, func() string { return consumerInfo(t, js, topic, group).Cluster.Leader })
	c := ordercheck.New()
	published := chaosPublisher(t, pubURL, c, topic, n, 500)

	waitCount(t, "victim handled", 60*time.Second, victim.out.handledCount, n/40)
	victim.kill9()
	atKill := consumerInfo(t, js, topic, group)
	victimHandled, unfinished := victimRecords(t, victim, n)
	// Acks the broker had counted at the kill are committed in the
	// consumer's raft log well before the survivor gets this much further.
	waitCount(t, "survivor handled after the kill", 60*time.Second, survivor.out.handledCount, survivor.out.handledCount()+n/40)
	atStop := survivor.out.handledCount()
	t.Logf("stopping %s: the survivor's node, leading stream %s (%s) and consumer %s (%s); %d of %d published",
		cl.Servers[doomed].Name(), topic, streamLeader(t, js, topic), group, consumerInfo(t, js, topic, group).Cluster.Leader, len(c.PublishedList()), n)
	stopping := time.Now()
	cl.Stop(doomed)
	stopped := time.Now()
	leaderBack := waitConsumerLeader(t, js, topic, group)
	t.Logf("node stopped in %s; consumer leader %s answering %s after that",
		stopped.Sub(stopping).Round(time.Millisecond), consumerInfo(t, js, topic, group).Cluster.Leader, leaderBack.Sub(stopped).Round(time.Millisecond))

	select {
	case <-published:
	case <-time.After(120 * time.Second):
		t.Fatalf("publisher: %d of %d acknowledged after 120s", len(c.PublishedList()), n)
	}
	if got := len(c.PublishedList()); got != n {
		t.Fatalf("publisher: %d of %d acknowledged", got, n)
	}
	survivorHandled := func() map[uint64]int { return finished(t, survivor.out) }
	waitCount(t, "handled by victim or survivor", 120*time.Second, func() int { return n - len(missing(c, victimHandled, survivorHandled())) }, n)
	waitSettled(t, js, topic, group)

	dups := crashDuplicates(t, victimHandled, survivorHandled(), func(handling) uint64 { return atKill.AckFloor.Stream })
	if len(dups) > atKill.NumAckPending {
		t.Errorf("%d messages handled by both, but only %d were unacknowledged at the kill", len(dups), atKill.NumAckPending)
	}
	again := survivorRepeats(t, survivor.out, stopping, leaderBack)
	t.Logf("the survivor is connected to %s now", cl.Servers[memberNode(t, cl, "survivor")].Name())
	waitMemberLive(t, nc, topic, group, "survivor")
	t.Logf("%d messages; victim handled %d (%d more in its handlers) before SIGKILL, broker saw %d unacknowledged; "+
		"survivor handled %d, %d after its node stopped; victim and survivor share %d: %v; survivor handled %d twice across the node stop: %v",
		n, len(victimHandled), len(unfinished), atKill.NumAckPending, survivor.out.handledCount(), survivor.out.handledCount()-atStop,
		len(dups), dups, len(again), again)
}

// createUntilAccepted sends an admin create request until the cluster accepts
// it: right after start, placing replicas may need every peer current.
func createUntilAccepted(t *testing.T, cl *testutil.Cluster, subject, body string) {
	t.Helper()
	nc := testutil.Connect(t, cl.URLs())
	testutil.CheckFor(t, 60*time.Second, 200*time.Millisecond, func() error {
		resp, err := nc.Request(subject, []byte(body), 10*time.Second)
		if err != nil {
			return err
		}
		var out any
		return semantics.DecodeReply(resp.Data, &out)
	})
}

// memberNode is the index of the node member process id is connected to.
func memberNode(t *testing.T, cl *testutil.Cluster, id string) int {
	t.Helper()
	for i, s := range cl.Servers {
		if s == nil { // stopped
			continue
		}
		cz, err := s.NATS().Connz(&natsserver.ConnzOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, ci := range cz.Conns {
			if ci.Name == memberConnName(id) {
				return i
			}
		}
	}
	t.Fatalf("member process %s is connected to no node", id)
	return -1
}

// waitMemberLive waits until group info lists member as live.
func waitMemberLive(t *testing.T, nc *nats.Conn, topic, group, member string) {
	t.Helper()
	testutil.CheckFor(t, 30*time.Second, 100*time.Millisecond, func() error {
		for _, m := range groupInfo(t, nc, topic, group).Members {
			if m.Member == member && m.Live {
				return nil
			}
		}
		return fmt.Errorf("group %s does not list %s as live", group, member)
	})
}

// leadOn moves a raft group's leadership to node: it asks for a step-down
// (subject under $JS.API.) preferring node until leader() names it.
func leadOn(t *testing.T, nc *nats.Conn, node, stepdown string, leader func() string) {
	t.Helper()
	body := []byte(`{"placement":{"preferred":"` + node + `"}}`)
	testutil.CheckFor(t, 60*time.Second, 200*time.Millisecond, func() error {
		if l := leader(); l == node {
			return nil
		}
		// Its reply is not needed: leader() tells whether it worked.
		_, _ = nc.Request("$JS.API."+stepdown, body, 5*time.Second)
		return fmt.Errorf("%s: leader is not %s yet", stepdown, node)
	})
}

func streamLeader(t *testing.T, js jetstream.JetStream, stream string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil || info.Cluster == nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	return info.Cluster.Leader
}

// waitConsumerLeader waits until the group's consumer answers from a
// leader again and returns when it did: until then acks reach no leader.
func waitConsumerLeader(t *testing.T, js jetstream.JetStream, stream, consumer string) time.Time {
	t.Helper()
	testutil.CheckFor(t, 60*time.Second, 20*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c, err := js.Consumer(ctx, stream, consumer)
		if err != nil {
			return err
		}
		info, err := c.Info(ctx)
		if err != nil {
			return err
		}
		if info.Cluster == nil || info.Cluster.Leader == "" {
			return fmt.Errorf("consumer %s has no leader", consumer)
		}
		return nil
	})
	return time.Now()
}

// finished counts a member process's finished handlings by sequence
// (first handlings only; repeats are checked by survivorRepeats).
func finished(t *testing.T, out *handlingLog) map[uint64]int {
	t.Helper()
	all, bad := out.all()
	if len(bad) > 0 {
		t.Fatalf("member process printed %d bad lines, e.g. %q", len(bad), bad[0])
	}
	counts := map[uint64]int{}
	for seq, h := range all {
		if !h.End.IsZero() {
			counts[seq] = 1
		}
	}
	return counts
}

// survivorRepeats checks that every message the survivor handled twice
// was handled again only after the node stop began, and first handled
// before its consumer answered from a live leader again (until then its
// ack may have died with the node), and lists them.
func survivorRepeats(t *testing.T, out *handlingLog, stopping, leaderBack time.Time) []uint64 {
	t.Helper()
	all, _ := out.all()
	var seqs []uint64
	var earliest, latest time.Duration // first handlings' ends, relative to the stop
	for i, r := range out.repeated() {
		seqs = append(seqs, r.Seq)
		first := all[r.Seq]
		if d := first.End.Sub(stopping); i == 0 || d < earliest {
			earliest = d
		}
		if d := first.End.Sub(stopping); i == 0 || d > latest {
			latest = d
		}
		if r.Start.Before(stopping) {
			t.Errorf("the survivor handled seq %d again at %s, before any node stopped", r.Seq, r.Start.Format(time.StampMicro))
		}
		if !first.End.Before(leaderBack) {
			t.Errorf("the survivor handled seq %d again at %s, though its first handling ended at %s, after the consumer had a leader again (%s)",
				r.Seq, r.Start.Format(time.StampMicro), first.End.Format(time.StampMicro), leaderBack.Format(time.StampMicro))
		}
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	if len(seqs) > 0 {
		t.Logf("the survivor's first handlings of what it handled again ended %s to %s after the node stop began (consumer leader back after %s)",
			earliest.Round(time.Millisecond), latest.Round(time.Millisecond), leaderBack.Sub(stopping).Round(time.Millisecond))
	}
	return seqs
}
