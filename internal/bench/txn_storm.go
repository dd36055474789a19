package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The check-storm scenario: many orphaned transactions (prepared, never
// ended by their producer) all come due for check-back at once, while a
// plain publisher keeps publishing to another stream.
const (
	// stormImmunity is the per-message check immunity (Mq-Check-Immunity)
	// of the orphans, so the scenario needs no server configuration.
	stormImmunity = 2 * time.Second
	// stormTarget is the bound: every orphan resolved within
	// immunity + stormTarget after the last prepare.
	stormTarget = 5 * time.Second
	// stormGiveUp bounds the wait for the storm beyond the immunity: past
	// it the scenario fails instead of reporting a miss.
	stormGiveUp = 90 * time.Second
	// stormMaxTxns caps the orphans (msgs/10) at the 10,000.
	stormMaxTxns = 10000
	// stormPreparers is how many prepares are in flight while preparing.
	stormPreparers = 512
	// stormTxnPrefix starts every orphan's transaction id: <prefix><index>.
	stormTxnPrefix = "orphan-"
	// stormIdleFor is how long the publisher runs alone before the storm;
	// during the storm it runs from the first check to the last
	// resolution, so the ratio covers the whole storm, not its first
	// moments.
	stormIdleFor = 2 * time.Second
)

// stormTxns is how many orphans a run of msgs messages prepares.
func stormTxns(msgs int) int { return min(max(msgs/10, 1), stormMaxTxns) }

// runCheckStorm prepares stormTxns orphaned 1-message transactions whose
// producer group answers every check with COMMIT and measures how long
// check-back takes to resolve them all (p50/p99: each transaction's
// resolution, its committed message arriving in the topic, measured from
// its prepare acknowledged). Meanwhile an async publisher publishes to a
// plain stream on its own connection; msgs/s is its rate during the whole
// storm (first check to last resolution), and the notes compare it with
// its rate alone, for stormIdleFor, just before.
func runCheckStorm(ctx context.Context, env *Env) (Result, error) {
	n := stormTxns(env.Msgs)
	pnc, js, err := env.JetStream()
	if err != nil {
		return Result{}, err
	}
	defer pnc.Close()
	tnc, err := env.Connect()
	if err != nil {
		return Result{}, err
	}
	defer tnc.Close()
	topic := env.Name()
	if err := createTopic(ctx, tnc, topic, benchPartitions); err != nil {
		return Result{}, err
	}
	defer deleteTopic(tnc, topic)
	pubStream := env.Name("pub")
	subj, err := createRawStream(ctx, js, pubStream)
	if err != nil {
		return Result{}, err
	}
	defer deleteStream(js, pubStream)

	storm := newCheckStorm(n)
	producer, err := semantics.NewTransactionProducer(tnc, env.Name("checkers"), semantics.CheckerFunc(storm.check))
	if err != nil {
		return Result{}, err
	}
	defer producer.Close()
	stopWatch, err := storm.watch(ctx, tnc, topic)
	if err != nil {
		return Result{}, err
	}
	defer stopWatch()
	return storm.run(ctx, env, js, subj, producer, topic, tnc)
}

// run is the measured part of check-storm: idle publish, prepare, storm
// publish, wait for the storm, verify.
func (s *checkStorm) run(ctx context.Context, env *Env, js jetstream.JetStream, subj string, producer *semantics.TransactionProducer, topic string, nc *nats.Conn) (Result, error) {
	idleStop := make(chan struct{})
	time.AfterFunc(stormIdleFor, func() { close(idleStop) })
	idle, err := publishUntil(ctx, env, js, subj, math.MaxInt32, idleStop)
	if err != nil {
		return Result{}, fmt.Errorf("idle publisher: %w", err)
	}
	prepStart := time.Now()
	if err := s.prepareAll(ctx, producer, topic, env.Payload()); err != nil {
		return Result{}, err
	}
	prepEnd := time.Now()
	if err := s.awaitFirstCheck(ctx); err != nil {
		return Result{}, err
	}
	under, err := publishUntil(ctx, env, js, subj, math.MaxInt32, s.done)
	if err != nil {
		return Result{}, fmt.Errorf("publisher under storm: %w", err)
	}
	if err := s.awaitResolved(ctx); err != nil {
		return Result{}, err
	}
	if err := checkCommitted(ctx, nc, topic, s.n); err != nil {
		return Result{}, err
	}
	if err := s.verify(); err != nil {
		return Result{}, err
	}
	lat := s.latencies()
	r := NewResult(under.acked, under.elapsed, lat)
	r.Notes = joinNotes(joinNotes(s.stormNote(prepStart, prepEnd), s.phaseNote()), publisherNote(idle, under, s.checking()))
	return r, nil
}

// checkStorm is the state of one storm: per orphan, when its prepare was
// acknowledged, how often it was checked and how often its committed
// message arrived in the topic.
type checkStorm struct {
	n          int
	firstCheck chan struct{} // closed by the first check request
	done       chan struct{} // closed when every orphan has arrived

	mu         sync.Mutex
	prepared   []time.Time
	checks     []int
	checkedAt  []time.Time // first check request of each orphan
	arrivals   []int
	resolvedAt []time.Time
	resolved   int
	strays     []string
	firstOnce  sync.Once
	firstAt    time.Time // when the first check request arrived
}

func newCheckStorm(n int) *checkStorm {
	return &checkStorm{
		n:          n,
		firstCheck: make(chan struct{}),
		done:       make(chan struct{}),
		prepared:   make([]time.Time, n),
		checks:     make([]int, n),
		checkedAt:  make([]time.Time, n),
		arrivals:   make([]int, n),
		resolvedAt: make([]time.Time, n),
	}
}

// index returns the orphan a transaction id names.
func (s *checkStorm) index(txid string) (int, bool) {
	rest, ok := strings.CutPrefix(txid, stormTxnPrefix)
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(rest)
	return i, err == nil && i >= 0 && i < s.n
}

// check is the producer group's Checker: it counts the check and answers
// COMMIT (UNKNOWN for an id that is not one of this storm's).
func (s *checkStorm) check(_ context.Context, req *semantics.CheckRequest) semantics.LocalTxState {
	i, ok := s.index(req.TxnID)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.firstOnce.Do(func() {
		s.firstAt = time.Now()
		close(s.firstCheck)
	})
	if !ok {
		s.strays = append(s.strays, "checked "+req.TxnID)
		return semantics.LocalUnknown
	}
	s.checks[i]++
	if s.checks[i] == 1 {
		s.checkedAt[i] = time.Now()
	}
	return semantics.LocalCommit
}

// arrived records one committed message seen in the topic.
func (s *checkStorm) arrived(m jetstream.Msg) {
	now := time.Now()
	_ = m.Ack()
	txid := m.Headers().Get(wire.HeaderTxnID)
	i, ok := s.index(txid)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !ok {
		s.strays = append(s.strays, "committed "+txid)
		return
	}
	s.arrivals[i]++
	if s.arrivals[i] > 1 {
		return
	}
	s.resolvedAt[i] = now
	s.resolved++
	if s.resolved == s.n {
		close(s.done)
	}
}

// watch reads the topic stream from the start with an ordered consumer and
// records every committed message; the returned func stops it.
func (s *checkStorm) watch(ctx context.Context, nc *nats.Conn, topic string) (func(), error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	cons, err := js.OrderedConsumer(ctx, topic, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, fmt.Errorf("watch topic %s: %w", topic, err)
	}
	cc, err := cons.Consume(s.arrived)
	if err != nil {
		return nil, fmt.Errorf("watch topic %s: %w", topic, err)
	}
	return func() {
		cc.Stop()
		<-cc.Closed()
	}, nil
}

// prepareAll prepares every orphan, stormPreparers at a time, and records
// when each prepare was acknowledged. Nobody commits them: check-back
// must.
func (s *checkStorm) prepareAll(ctx context.Context, p *semantics.TransactionProducer, topic string, payload []byte) error {
	immunity := strconv.FormatFloat(stormImmunity.Seconds(), 'f', -1, 64)
	next := make(chan int)
	errs := make(chan error, stormPreparers)
	var wg sync.WaitGroup
	for range stormPreparers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				m := &semantics.Message{Topic: topic, Key: "user-" + strconv.Itoa(i%benchKeys), Data: payload, Headers: nats.Header{}}
				m.Headers.Set(wire.HeaderCheckImmunity, immunity)
				if err := p.Prepare(ctx, stormTxnPrefix+strconv.Itoa(i), m); err != nil {
					errs <- err
					return
				}
				s.mu.Lock()
				s.prepared[i] = time.Now()
				s.mu.Unlock()
			}
		}()
	}
	var err error
feed:
	for i := range s.n {
		select {
		case next <- i:
		case err = <-errs:
			break feed
		}
	}
	close(next)
	wg.Wait()
	close(errs)
	return errors.Join(err, <-errs)
}

// awaitFirstCheck waits until the storm has begun: the first check
// request has reached the producer group.
func (s *checkStorm) awaitFirstCheck(ctx context.Context) error {
	select {
	case <-s.firstCheck:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(stormImmunity + stormGiveUp):
		return fmt.Errorf("no check request within %s of preparing %d orphaned transactions", stormImmunity+stormGiveUp, s.n)
	}
}

// awaitResolved waits until every orphan's message is in the topic.
func (s *checkStorm) awaitResolved(ctx context.Context) error {
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(stormGiveUp):
		s.mu.Lock()
		defer s.mu.Unlock()
		return fmt.Errorf("check-back resolved only %d of %d orphaned transactions", s.resolved, s.n)
	}
}

// verify checks that every orphan was checked at least once and committed
// exactly once, and that nothing else was checked or committed.
func (s *checkStorm) verify() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.strays) > 0 {
		return fmt.Errorf("%d unexpected transactions, first: %s", len(s.strays), s.strays[0])
	}
	for i := range s.n {
		if s.checks[i] < 1 {
			return fmt.Errorf("transaction %s%d was committed without a check", stormTxnPrefix, i)
		}
		if s.arrivals[i] != 1 {
			return fmt.Errorf("transaction %s%d arrived %d times in the topic", stormTxnPrefix, i, s.arrivals[i])
		}
	}
	return nil
}

// latencies returns each orphan's resolution time measured from its own
// prepare acknowledged.
func (s *checkStorm) latencies() *Latencies {
	s.mu.Lock()
	defer s.mu.Unlock()
	lat := NewLatencies(s.n)
	for i := range s.n {
		lat.Record(s.resolvedAt[i].Sub(s.prepared[i]))
	}
	return lat
}

// phaseNote splits the resolution latency: how late each first check
// came after the immunity, and how long from that check until the message
// was in the topic.
func (s *checkStorm) phaseNote() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	late, visible := NewLatencies(s.n), NewLatencies(s.n)
	for i := range s.n {
		late.Record(s.checkedAt[i].Sub(s.prepared[i]) - stormImmunity)
		visible.Record(s.resolvedAt[i].Sub(s.checkedAt[i]))
	}
	return fmt.Sprintf("first check after immunity p50/p99 %s/%s late; check to message in topic p50/p99 %s/%s",
		late.Percentile(50).Round(time.Millisecond), late.Percentile(99).Round(time.Millisecond),
		visible.Percentile(50).Round(time.Millisecond), visible.Percentile(99).Round(time.Millisecond))
}

// lastResolved is when the last orphan was resolved.
func (s *checkStorm) lastResolved() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	var last time.Time
	for _, t := range s.resolvedAt {
		if t.After(last) {
			last = t
		}
	}
	return last
}

// checking is how long the checks ran: first check request to last
// orphan resolved.
func (s *checkStorm) checking() time.Duration {
	last := s.lastResolved()
	s.mu.Lock()
	defer s.mu.Unlock()
	return last.Sub(s.firstAt)
}

// stormNote tells how long the storm took against the target.
func (s *checkStorm) stormNote(prepStart, prepEnd time.Time) string {
	s.mu.Lock()
	checks, most := 0, 0
	for _, c := range s.checks {
		checks += c
		most = max(most, c)
	}
	s.mu.Unlock()
	total := s.lastResolved().Sub(prepEnd)
	target := stormImmunity + stormTarget
	verdict := "met"
	if total > target {
		verdict = fmt.Sprintf("missed by %s", (total - target).Round(time.Millisecond))
	}
	return fmt.Sprintf("%d orphaned 1-message transactions (Mq-Check-Immunity %s, prepared in %s, %d in flight), checker answers COMMIT: "+
		"last resolved %s after preparing ended, target immunity+5s (%s): %s; %d checks (at most %d per transaction), each committed exactly once; "+
		"p50/p99 = resolution (message in the topic) from the transaction's own prepare acknowledged",
		s.n, stormImmunity, prepEnd.Sub(prepStart).Round(time.Millisecond), stormPreparers,
		total.Round(time.Millisecond), target, verdict, checks, most)
}

// publisherNote compares the publisher's rate under the storm with its
// rate alone.
func publisherNote(idle, under published, checking time.Duration) string {
	ratio := under.rate() / idle.rate()
	verdict := "met"
	if ratio < 0.9 {
		verdict = "missed"
	}
	return fmt.Sprintf("msgs/s = async publisher (%d in flight, own connection, plain stream) during the storm: %d msgs in %s from the first check to the last resolution (checks ran %s); "+
		"alone just before: %.0f msgs/s (%d msgs); under-storm/idle %.2f, target >= 0.90 (at most 10%% loss): %s",
		AsyncWindow, under.acked, under.elapsed.Round(time.Millisecond), checking.Round(time.Millisecond),
		idle.rate(), idle.acked, ratio, verdict)
}

// published is what one publishUntil phase achieved.
type published struct {
	acked   int
	elapsed time.Duration
}

func (p published) rate() float64 {
	if p.elapsed <= 0 {
		return 0
	}
	return float64(p.acked) / p.elapsed.Seconds()
}

// publishUntil is publishAsync to one subject that also ends when stop
// closes; it returns the acknowledged count and the time from first
// publish to last acknowledgement.
func publishUntil(ctx context.Context, env *Env, js jetstream.JetStream, subj string, n int, stop <-chan struct{}) (published, error) {
	start := time.Now()
	acked, err := publishAsync(ctx, env, js, fixedSubject(subj), n, nil, stop)
	return published{acked: acked, elapsed: time.Since(start)}, err
}

// stopped reports whether stop (nil: never) is closed.
func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}
