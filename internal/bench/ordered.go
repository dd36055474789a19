package bench

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jetmq/jetmq/internal/ordercheck"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
)

// Ordered scenarios: 16 partitions, 1,000 keys.
const (
	orderedPartitions = 16
	orderedMembers    = 4
	orderedKeys       = 1000
)

// createOrderedGroup creates an ordered clustering group that starts at
// the beginning of the topic.
func createOrderedGroup(ctx context.Context, nc *nats.Conn, topic, group, session string) error {
	return apiCall(ctx, nc, wire.GroupAPIPrefix+"CREATE."+topic+"."+group,
		fmt.Sprintf(`{"mode":"clustering","ordered":true,"start":"all","session_timeout":%q}`, session))
}

// prefillChecked publishes n messages over orderedKeys keys with the Go
// producer (untimed) and records each stored message with c.
func prefillChecked(ctx context.Context, nc *nats.Conn, c *ordercheck.Checker, topic string, n int) error {
	p, err := semantics.NewProducer(nc)
	if err != nil {
		return err
	}
	futures := make([]*semantics.SendFuture, n)
	for i := range futures {
		if futures[i], err = p.SendAsync(&semantics.Message{Topic: topic, Key: "user-" + strconv.Itoa(i%orderedKeys)}); err != nil {
			return err
		}
	}
	for i, f := range futures {
		r, err := f.Result(ctx)
		if err != nil {
			return fmt.Errorf("prefill %d: %w", i, err)
		}
		c.Publish(ordercheck.Published{Partition: r.Partition, Key: "user-" + strconv.Itoa(i%orderedKeys), Seq: r.Seq})
	}
	return nil
}

// orderedPrefetch is what each partition pull asks for ahead of its
// handler, for the helper's members (their default) and the plain
// reference alike.
const orderedPrefetch = 500

// runOrderedConsume times four Ordered() members draining a pre-filled
// 16-partition topic, every handling recorded by the order checker,
// which must find no violation. In the same run, before the group
// exists, its reference drains the same messages with plain
// per-partition durables (runPlainPartitions).
func runOrderedConsume(ctx context.Context, env *Env) (Result, error) {
	nc, err := env.Connect()
	if err != nil {
		return Result{}, err
	}
	defer nc.Close()
	topic := env.Name()
	if err := createTopic(ctx, nc, topic, orderedPartitions); err != nil {
		return Result{}, err
	}
	defer deleteTopic(nc, topic)
	c := ordercheck.New()
	if err := prefillChecked(ctx, nc, c, topic, env.Msgs); err != nil {
		return Result{}, err
	}
	ref, err := runPlainPartitions(ctx, env, topic, c.PublishedList())
	if err != nil {
		return Result{}, fmt.Errorf("reference: %w", err)
	}
	if err := createOrderedGroup(ctx, nc, topic, "ordered", "3s"); err != nil {
		return Result{}, err
	}
	t := newOrderedTally(env, env.Msgs)
	handler := func(member string) semantics.Handler {
		return func(_ context.Context, d *semantics.Delivery) error {
			t.handled(d.Partition, d.Key, d.Seq, member)
			return nil
		}
	}
	ms, err := startMembers(ctx, env, topic, "ordered", orderedMembers, handler, semantics.Ordered(), semantics.WithPrefetch(orderedPrefetch))
	defer ms.stop()
	if err != nil {
		return Result{}, err
	}
	r, rep, err := t.result(ctx, c)
	if err != nil {
		return Result{}, err
	}
	r.Notes = fmt.Sprintf("%d partitions, %d members, %d keys, timed from the first message handled (joins and grants excluded); order check: %s",
		orderedPartitions, orderedMembers, orderedKeys, orderSummary(rep))
	r.Reference = newReference("plain-partitions", fmt.Sprintf("the same drain in order by %d plain per-partition durables over the same %d connections, no ownership protocol", orderedPartitions, orderedMembers), false, ref)
	return r, nil
}

func orderSummary(rep ordercheck.Report) string {
	return fmt.Sprintf("%d violations, %d overlaps, %d missing, %d duplicates",
		len(rep.Violations)+len(rep.KeyOrder), len(rep.Overlaps), len(rep.Missing), rep.Duplicates)
}

// orderedTally counts and records the handlings of one ordered drain:
// the same work per message for the helper's members and for the plain
// reference, so that the two compare.
type orderedTally struct {
	env        *Env
	want       int
	got        atomic.Int64
	done       chan struct{}
	once       sync.Once
	first      sync.Once
	start      time.Time  // set by first
	progressMu sync.Mutex // Progress wants one caller at a time
	// Each partition records into its own log (one handler at a time per
	// partition): the checker's lock stays off the hot path.
	logs []partitionLog
}

func newOrderedTally(env *Env, want int) *orderedTally {
	return &orderedTally{env: env, want: want, done: make(chan struct{}), logs: make([]partitionLog, orderedPartitions)}
}

// handled records one handling by member and counts it.
func (t *orderedTally) handled(partition int, key string, seq uint64, member string) {
	at := time.Now()
	t.first.Do(func() { t.start = at })
	t.logs[partition].add(ordercheck.Event{Partition: partition, Key: key, Seq: seq, Member: member, Start: at, End: time.Now(), OK: true})
	n := int(t.got.Add(1))
	if n%512 == 0 || n == t.want {
		t.progressMu.Lock()
		t.env.Progress(n, t.want)
		t.progressMu.Unlock()
	}
	if n >= t.want || t.env.Expired(t.start) {
		t.once.Do(func() { close(t.done) })
	}
}

// result waits for the drain to end, checks its order with c (which
// knows what was published) and returns the throughput from the first
// handling.
func (t *orderedTally) result(ctx context.Context, c *ordercheck.Checker) (Result, ordercheck.Report, error) {
	select {
	case <-t.done:
	case <-ctx.Done():
		return Result{}, ordercheck.Report{}, ctx.Err()
	}
	elapsed := time.Since(t.start)
	got := int(t.got.Load())
	for i := range t.logs {
		t.logs[i].into(c)
	}
	rep := c.Check()
	if len(rep.Violations)+len(rep.KeyOrder)+len(rep.Overlaps) > 0 || (got >= t.want && len(rep.Missing) > 0) {
		return Result{}, rep, fmt.Errorf("order check failed: %s", rep)
	}
	return NewResult(got, elapsed, nil), rep, nil
}

// partitionLog is one partition's handlings.
type partitionLog struct {
	mu     sync.Mutex
	events []ordercheck.Event
}

func (l *partitionLog) add(e ordercheck.Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (l *partitionLog) into(c *ordercheck.Checker) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.events {
		c.Record(e)
	}
}

// failoverRounds is how often ordered-failover kills an owner per
// session timeout.
const failoverRounds = 3

// runOrderedFailover measures the time from cutting the owner of a
// one-partition topic off (its connection closed, as after kill -9) to
// the first message handled by the hot standby that succeeds it, at the
// default session_timeout (p50/p99) and at 1s (notes).
func runOrderedFailover(ctx context.Context, env *Env) (Result, error) {
	def, err := failoverTimes(ctx, env, "3s")
	if err != nil {
		return Result{}, err
	}
	fast, err := failoverTimes(ctx, env, "1s")
	if err != nil {
		return Result{}, err
	}
	lat := NewLatencies(len(def))
	var total time.Duration
	for _, d := range def {
		lat.Record(d)
		total += d
	}
	r := NewResult(len(def), total, lat)
	r.Notes = fmt.Sprintf("owner killed -> first message handled by its successor; session_timeout 3s: %s; session_timeout 1s: %s (p50/p99 columns: 3s)",
		describe(def), describe(fast))
	return r, nil
}

func describe(ds []time.Duration) string {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return fmt.Sprintf("median %s, max %s over %d kills", s[len(s)/2].Round(time.Millisecond), s[len(s)-1].Round(time.Millisecond), len(s))
}

// failoverTimes runs failoverRounds kills on a fresh one-partition topic
// whose ordered group has the given session timeout.
func failoverTimes(ctx context.Context, env *Env, session string) ([]time.Duration, error) {
	nc, err := env.Connect()
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	topic := env.Name("failover", session)
	if err := createTopic(ctx, nc, topic, 1); err != nil {
		return nil, err
	}
	defer deleteTopic(nc, topic)
	if err := createOrderedGroup(ctx, nc, topic, "ordered", session); err != nil {
		return nil, err
	}
	f := &failover{handled: make(chan string, 1024)}
	pubCtx, stopPub := context.WithCancel(ctx)
	defer stopPub()
	go f.publish(pubCtx, nc, topic)
	var out []time.Duration
	for round := 0; round <= failoverRounds; round++ {
		id := fmt.Sprintf("m%d", round)
		conn, err := env.Connect()
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		s, err := semantics.Subscribe(ctx, conn, topic, "ordered", f.handler(id), semantics.Ordered(), semantics.WithoutCreate(), semantics.WithMember(id))
		if err != nil {
			return nil, err
		}
		defer func() { go func() { _ = s.Stop(context.Background()) }() }()
		if round > 0 {
			// The previous member owns the partition, this one stands
			// by: cut the owner off and time its successor's first
			// message.
			f.owner.Close()
			killed := time.Now()
			f.drain()
			if err := f.waitFor(ctx, id, 30*time.Second); err != nil {
				return nil, err
			}
			out = append(out, time.Since(killed))
		} else if err := f.waitFor(ctx, id, 30*time.Second); err != nil {
			return nil, err
		}
		f.owner = conn
	}
	return out, nil
}

type failover struct {
	handled chan string
	owner   *nats.Conn
}

func (f *failover) publish(ctx context.Context, nc *nats.Conn, topic string) {
	p, err := semantics.NewProducer(nc)
	if err != nil {
		return
	}
	for i := 0; ctx.Err() == nil; i++ {
		_, _ = p.SendAsync(&semantics.Message{Topic: topic, Key: "k" + strconv.Itoa(i%10)})
		time.Sleep(2 * time.Millisecond)
	}
}

func (f *failover) handler(member string) semantics.Handler {
	return func(context.Context, *semantics.Delivery) error {
		select {
		case f.handled <- member:
		default:
		}
		return nil
	}
}

// drain forgets the handlings reported so far.
func (f *failover) drain() {
	for {
		select {
		case <-f.handled:
		default:
			return
		}
	}
}

// waitFor waits until member handles a message (dropping other members'
// reports) and makes it the owner to kill next.
func (f *failover) waitFor(ctx context.Context, member string, timeout time.Duration) error {
	deadline := time.After(timeout)
	for {
		select {
		case m := <-f.handled:
			if m == member {
				return nil
			}
		case <-deadline:
			return errors.New("ordered-failover: " + member + " never took over")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
