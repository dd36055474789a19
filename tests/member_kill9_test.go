package tests

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/ordercheck"
	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go/jetstream"
)

// survivorLog records the handlings of the in-process member.
type survivorLog struct {
	mu   sync.Mutex
	list []handling
}

func (l *survivorLog) add(d *semantics.Delivery, start time.Time) {
	l.mu.Lock()
	l.list = append(l.list, handling{Partition: d.Partition, Key: d.Key, Seq: d.Seq, Start: start, End: time.Now()})
	l.mu.Unlock()
}

func (l *survivorLog) counts() map[uint64]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[uint64]int{}
	for _, h := range l.list {
		out[h.Seq]++
	}
	return out
}

func (l *survivorLog) handlings() []handling {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]handling(nil), l.list...)
}

// consumerInfo reads a consumer's state.
func consumerInfo(t *testing.T, js jetstream.JetStream, stream, consumer string) *jetstream.ConsumerInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := js.Consumer(ctx, stream, consumer)
	if err != nil {
		t.Fatalf("consumer %s on %s: %v", consumer, stream, err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatalf("consumer %s on %s: %v", consumer, stream, err)
	}
	return info
}

// waitSettled waits until the consumers have nothing left to deliver and
// nothing unacknowledged, so that every redelivery has been handled.
func waitSettled(t *testing.T, js jetstream.JetStream, stream string, consumers ...string) {
	t.Helper()
	testutil.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		for _, c := range consumers {
			if info := consumerInfo(t, js, stream, c); info.NumPending != 0 || info.NumAckPending != 0 {
				return fmt.Errorf("consumer %s: %d pending, %d unacked", c, info.NumPending, info.NumAckPending)
			}
		}
		return nil
	})
}

// victimRecords returns what the killed process reported, failing on
// lines that did not parse, and checks that it was killed mid-batch.
func victimRecords(t *testing.T, victim *memberProcess, total int) (handled map[uint64]handling, unfinished []handling) {
	t.Helper()
	all, bad := victim.out.all()
	if len(bad) > 0 {
		t.Fatalf("member process printed %d bad lines, e.g. %q", len(bad), bad[0])
	}
	if again := victim.out.repeated(); len(again) > 0 { // no node died under it: no ack could be lost
		t.Fatalf("member process handled %d messages twice by itself, e.g. seq %d", len(again), again[0].Seq)
	}
	handled = map[uint64]handling{}
	for seq, h := range all {
		if h.End.IsZero() {
			unfinished = append(unfinished, h)
		} else {
			handled[seq] = h
		}
	}
	if len(handled) == 0 || len(handled) >= total {
		t.Fatalf("the victim handled %d of %d messages when it was killed: not mid-batch", len(handled), total)
	}
	return handled, unfinished
}

// crashDuplicates lists the messages handled both by the victim and by the
// survivor, failing the test if the survivor handled one twice or handled
// one the broker had seen acknowledged (at or below ackFloor) before the
// kill.
func crashDuplicates(t *testing.T, victim map[uint64]handling, survivor map[uint64]int, ackFloor func(handling) uint64) []uint64 {
	t.Helper()
	var dups []uint64
	for seq, n := range survivor {
		if n > 1 {
			t.Errorf("the survivor handled seq %d %d times", seq, n)
		}
		h, ok := victim[seq]
		if !ok {
			continue
		}
		dups = append(dups, seq)
		if floor := ackFloor(h); seq <= floor {
			t.Errorf("seq %d (p%d) was acknowledged before the kill (ack floor %d) and handled again", seq, h.Partition, floor)
		}
	}
	sort.Slice(dups, func(i, j int) bool { return dups[i] < dups[j] })
	return dups
}

// missing lists published messages that nobody handled.
func missing(c *ordercheck.Checker, victim map[uint64]handling, survivor map[uint64]int) []uint64 {
	var out []uint64
	for _, p := range c.PublishedList() {
		if _, ok := victim[p.Seq]; !ok && survivor[p.Seq] == 0 {
			out = append(out, p.Seq)
		}
	}
	return out
}

// A clustering member running in its own process is killed with SIGKILL
// while it holds a batch: another member handles everything it had not
// acknowledged, and only those messages are handled twice.
func TestGroupMemberProcessKill9HandsOverUnacked(t *testing.T) {
	const n = 2000
	s := startGroupServer(t, t.TempDir(), withTopics(semantics.TopicConfig{Name: "jobs", Partitions: 4}),
		withGroups(semantics.GroupConfig{Name: "workers", Topic: "jobs", SessionTimeout: time.Second}))
	nc := testutil.Connect(t, s.ClientURL())
	js := testutil.JetStream(t, nc)
	victim := startMemberProcess(t, s.ClientURL(), "jobs", "workers", "victim", false, 2*time.Millisecond)
	c := ordercheck.New()
	publishKeyed(t, newProducer(t, nc), c, "jobs", 0, n, 500)
	waitCount(t, "victim handled", 30*time.Second, victim.out.handledCount, n/4)
	victim.kill9()
	atKill := consumerInfo(t, js, "jobs", "workers") // only the victim ever pulled
	handled, unfinished := victimRecords(t, victim, n)
	if atKill.NumAckPending == 0 {
		t.Fatalf("the victim held no unacknowledged message when it was killed")
	}

	got := &survivorLog{}
	subscribe(t, testutil.Connect(t, s.ClientURL()), "jobs", "workers", func(_ context.Context, d *semantics.Delivery) error {
		got.add(d, time.Now())
		return nil
	}, semantics.WithoutCreate(), semantics.WithMember("survivor"))
	waitCount(t, "handled by victim or survivor", 30*time.Second, func() int { return n - len(missing(c, handled, got.counts())) }, n)
	waitSettled(t, js, "jobs", "workers")

	dups := crashDuplicates(t, handled, got.counts(), func(handling) uint64 { return atKill.AckFloor.Stream })
	if len(dups) > atKill.NumAckPending {
		t.Errorf("%d duplicates, but only %d messages were unacknowledged at the kill", len(dups), atKill.NumAckPending)
	}
	t.Logf("victim handled %d (%d more in its handlers) of %d before SIGKILL; broker saw %d unacknowledged, ack floor %d; survivor handled %d; duplicates %d: %v",
		len(handled), len(unfinished), n, atKill.NumAckPending, atKill.AckFloor.Stream, len(got.handlings()), len(dups), dups)
}

// An Ordered() member running in its own process is killed with SIGKILL
// while its partitions have messages in flight: the survivor takes its
// partitions over, the order checker sees no violation and no two members
// on one partition at once (the victim's last handlings count as lasting
// until the kill), and only messages the victim had not acknowledged are
// handled twice.
func TestOrderedMemberProcessKill9(t *testing.T) {
	const n, partitions = 2000, 8
	s := startGroupServer(t, t.TempDir(), withTopics(semantics.TopicConfig{Name: "events", Partitions: partitions}),
		withGroups(semantics.GroupConfig{Name: "audit", Topic: "events", Ordered: true, SessionTimeout: time.Second, Suspend: 100 * time.Millisecond}))
	nc := testutil.Connect(t, s.ClientURL())
	js := testutil.JetStream(t, nc)
	c := ordercheck.New()
	victim := startMemberProcess(t, s.ClientURL(), "events", "audit", "victim", true, 2*time.Millisecond)

	got := &survivorLog{}
	work := jitter(500 * time.Microsecond)
	record := checkedHandler(c, "survivor", work)
	sub := subscribe(t, testutil.Connect(t, s.ClientURL()), "events", "audit", func(ctx context.Context, d *semantics.Delivery) error {
		start := time.Now()
		err := record(ctx, d)
		got.add(d, start)
		return err
	}, semantics.Ordered(), semantics.WithoutCreate(), semantics.WithMember("survivor"))
	testutil.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		if owned := sub.OrderedPartitions(); len(owned) != partitions/2 {
			return fmt.Errorf("survivor owns %v, want half of %d (the victim the rest)", owned, partitions)
		}
		return nil
	})

	publishKeyed(t, newProducer(t, nc), c, "events", 0, n, 500)
	waitCount(t, "victim handled", 30*time.Second, victim.out.handledCount, n/8)
	victim.kill9()
	floors := map[int]uint64{}
	for p := 0; p < partitions; p++ {
		floors[p] = consumerInfo(t, js, "events", wire.OrderedConsumer("audit", p)).AckFloor.Stream
	}
	measured := time.Now()
	handled, unfinished := victimRecords(t, victim, n)
	for _, h := range handled {
		c.Record(ordercheck.Event{Partition: h.Partition, Key: h.Key, Seq: h.Seq, Member: "victim", Start: h.Start, End: h.End, OK: true})
	}
	for _, h := range unfinished { // in a handler when it died: busy until the kill
		c.Record(ordercheck.Event{Partition: h.Partition, Key: h.Key, Seq: h.Seq, Member: "victim", Start: h.Start, End: victim.killedAt})
	}

	r := waitChecked(t, c, n, 60*time.Second)
	consumers := make([]string, partitions)
	for p := range consumers {
		consumers[p] = wire.OrderedConsumer("audit", p)
	}
	waitSettled(t, js, "events", consumers...)
	r = c.Check()
	if !r.OK() {
		t.Fatalf("after settling: %s", r)
	}

	victimParts := map[int]bool{}
	for _, h := range handled {
		victimParts[h.Partition] = true
	}
	tookOver, early := 0, false
	for _, h := range got.handlings() {
		if victimParts[h.Partition] && h.Start.After(victim.killedAt) {
			tookOver++
			early = early || h.Start.Before(measured)
		}
	}
	if tookOver == 0 {
		t.Fatalf("the survivor handled nothing of the victim's partitions %v after the kill", victimParts)
	}
	floor := func(h handling) uint64 { return floors[h.Partition] }
	if early { // the survivor acked on those partitions before the floors were read: they prove nothing
		t.Logf("ack floors read %s after the kill, after the survivor had started on the victim's partitions; not checked", measured.Sub(victim.killedAt))
		floor = func(handling) uint64 { return 0 }
	}
	dups := crashDuplicates(t, handled, got.counts(), floor)
	if len(dups) != r.Duplicates {
		t.Errorf("checker counts %d duplicates, victim and survivor share %d", r.Duplicates, len(dups))
	}
	t.Logf("victim handled %d (%d more in its handlers) on partitions %v before SIGKILL; survivor handled %d there after it; duplicates %d: %v",
		len(handled), len(unfinished), sortedParts(victimParts), tookOver, len(dups), dups)
}

func sortedParts(set map[int]bool) []int {
	out := make([]int, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Ints(out)
	return out
}
