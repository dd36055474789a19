package bridge

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const (
	// TxnCheckConsumer is the durable consumer on each topic's stream that
	// the check driver reads check notices with (a reserved name).
	TxnCheckConsumer = "jetmq_txn_check"
	// txnChecksInFlight bounds the checks one driver runs at once.
	txnChecksInFlight = 512
	// txnTrimEvery is how often a driver that has handled notices since
	// its last trim removes them; an idle driver does no periodic work.
	txnTrimEvery = 2 * time.Second
	// noticeSourceRecheck is how often a driver looks again for the notice
	// source it already found (it is gone only if the internal stream was
	// purged or recreated).
	noticeSourceRecheck = time.Minute
)

// checkDriver drives the check-back of one topic on the one node that owns
// the topic's singleton. Timers are the half messages' schedules: each
// firing stores a notice on $MQ.INT.<topic>.C.<txid>, which the driver
// reads from a durable consumer, so a notice outlives the driver that was
// meant to handle it and the next owner picks it up.
type checkDriver struct {
	t     *TxnService
	topic string
	log   interface {
		Warn(string, ...any)
		Info(string, ...any)
	}

	mu       sync.Mutex
	inFlight map[string]bool
	sem      chan struct{}
	wg       sync.WaitGroup
	handled  atomic.Uint64 // notices acked, for trimNotices
}

// drive runs the check driver of topic until ctx ends.
func (t *TxnService) drive(ctx context.Context, topic string) {
	d := &checkDriver{t: t, topic: topic, log: t.log.With("topic", topic), inFlight: map[string]bool{}, sem: make(chan struct{}, txnChecksInFlight)}
	t.gauges.drive(topic)
	defer t.gauges.stop(topic)
	var (
		cons jetstream.Consumer
		cc   jetstream.ConsumeContext
	)
	for cc == nil {
		var err error
		if cons, cc, err = d.consume(ctx); err != nil {
			d.log.Warn("cannot read check notices yet; retrying", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}
	d.log.Info("driving transaction checks")
	tick := time.NewTicker(txnTrimEvery)
	defer tick.Stop()
	var (
		trimmed, handled uint64
		sourceSeen       time.Time
	)
	for {
		if time.Since(sourceSeen) > noticeSourceRecheck && d.ensureNoticeSource(ctx) {
			sourceSeen = time.Now()
		}
		// An ack reaches the consumer's floor a moment after it is sent:
		// a trim that found nothing new is tried again next tick.
		if n := d.handled.Load(); n != handled {
			if next := d.trimNotices(ctx, cons, trimmed); next != trimmed {
				handled, trimmed = n, next
			}
		}
		select {
		case <-ctx.Done():
			cc.Stop()
			<-cc.Closed()
			d.wg.Wait()
			return
		case <-tick.C:
		}
	}
}

func (d *checkDriver) consume(ctx context.Context) (jetstream.Consumer, jetstream.ConsumeContext, error) {
	cfg := d.t.cfg
	cctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	cons, err := d.t.h.JetStream().CreateOrUpdateConsumer(cctx, wire.InternalStream(d.topic), jetstream.ConsumerConfig{
		Durable:       TxnCheckConsumer,
		Description:   "jetmq: check-back notices of half messages",
		FilterSubject: wire.TxnKindFilter(d.topic, wire.TxnKindNotice),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       checkAckWait(cfg),
		MaxAckPending: 4 * txnChecksInFlight,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		Metadata:      map[string]string{"jetmq.service": "transactions"},
	})
	if err != nil {
		return nil, nil, err
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		d.sem <- struct{}{}
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			defer func() { <-d.sem }()
			d.handle(ctx, m)
		}()
	}, jetstream.PullMaxMessages(txnChecksInFlight))
	return cons, cc, err
}

// trimNotices removes the handled check notices, those below the check
// consumer's ack floor, in one purge, and returns the floor it trimmed to.
// One purge every few seconds costs far less than deleting each notice:
// JetStream treats deleting a message that a consumer holds pending as a
// termination (with an advisory), and every purge rewrites the consumer's
// state.
func (d *checkDriver) trimNotices(ctx context.Context, cons jetstream.Consumer, trimmed uint64) uint64 {
	ictx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	info, err := cons.Info(ictx)
	if err != nil || info.AckFloor.Stream <= trimmed {
		return trimmed
	}
	floor := info.AckFloor.Stream
	if err := d.t.store.purgeBelow(ictx, d.topic, wire.TxnKindFilter(d.topic, wire.TxnKindNotice), floor+1); err != nil {
		d.log.Warn("removing handled check notices failed; trying again later", "err", err)
		return trimmed
	}
	return floor
}

// checkAckWait is how long a notice may stay unacknowledged before the
// check consumer hands it out again: long enough for one check.
func checkAckWait(cfg core.TxnConfig) time.Duration { return 2*cfg.CheckTimeout + 5*time.Second }

func (d *checkDriver) begin(txid string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.inFlight[txid] {
		return false
	}
	d.inFlight[txid] = true
	return true
}

func (d *checkDriver) done(txid string) {
	d.mu.Lock()
	delete(d.inFlight, txid)
	d.mu.Unlock()
}

// handle processes one check notice: decide (core.PlanCheck), act,
// then acknowledge the notice.
func (d *checkDriver) handle(ctx context.Context, m jetstream.Msg) {
	_, txid, _, ok := wire.ParseTxnSubject(d.topic, m.Subject())
	md, err := m.Metadata()
	if !ok || err != nil || !d.begin(txid) {
		d.discard(m)
		return
	}
	defer d.done(txid)
	t := d.t
	if err := d.pace(ctx, m); err != nil {
		return // the driver stops; the notice comes back to the next one
	}
	ti, ok := t.topics.Lookup(d.topic)
	if !ok {
		_ = m.Nak()
		return
	}
	rec, err := t.store.read(ctx, d.topic, txid)
	if err != nil {
		d.log.Warn("reading transaction for its check failed", "txid", txid, "err", err)
		_ = m.NakWithDelay(time.Second)
		return
	}
	if md.Sequence.Stream < rec.Last {
		// Fired before the transaction's latest write (a check counted,
		// an end, another part): a stale notice that queued behind
		// others. The timers as they are now fire again when due, so
		// acting on it would only ask again too early.
		d.discard(m)
		return
	}
	if !d.act(ctx, ti, rec, m) {
		return
	}
	d.discard(m)
}

// act does what core.PlanCheck decides for rec. It returns false when
// it has already settled the notice (a nak: look again later).
func (d *checkDriver) act(ctx context.Context, ti TopicInfo, rec *txnRecord, m jetstream.Msg) bool {
	t := d.t
	v := rec.view(t.cfg)
	plan := core.PlanCheck(v, t.now(), t.cfg)
	switch plan.Action {
	case core.CheckWait:
		if plan.Wait > time.Second {
			// Another part's shorter timer fired (or clocks differ): the
			// first part's own timer fires when it is due, so this
			// notice need not stay pending (and hold back the trim).
			return true
		}
		_ = m.NakWithDelay(plan.Wait)
		return false
	case core.CheckSkip:
		if v.Parked && v.End == "" && v.Halves > 0 {
			// A timer of a parked transaction fired: parking it was cut
			// short (only some halves rewritten, or no marker). Finish it.
			if err := d.park(ctx, rec, v.Checks); err != nil && !isWrongLast(err) {
				_ = m.NakWithDelay(time.Second)
				return false
			}
		}
	case core.CheckFinish:
		if err := t.finish(ctx, ti, rec, v.Parked); err != nil {
			d.log.Warn("finishing ended transaction failed", "txid", rec.ID, "err", err)
			_ = m.NakWithDelay(time.Second)
			return false
		}
	case core.CheckPark:
		if err := d.park(ctx, rec, v.Checks); err != nil && !isWrongLast(err) {
			_ = m.NakWithDelay(time.Second)
			return false
		}
	case core.CheckSend:
		if !d.check(ctx, ti, rec, plan.Attempt) {
			_ = m.NakWithDelay(time.Second)
			return false
		}
	}
	return true
}

// pace waits for the node's check rate (transactions.check_rate) to allow
// one more transaction to be looked at, keeping notice m from being
// redelivered meanwhile.
func (d *checkDriver) pace(ctx context.Context, m jetstream.Msg) error {
	r := d.t.checkLimit.Reserve()
	wait := r.Delay()
	keep := checkAckWait(d.t.cfg) / 3
	for wait > 0 {
		step := min(wait, keep)
		select {
		case <-ctx.Done():
			r.Cancel()
			return ctx.Err()
		case <-time.After(step):
		}
		if wait -= step; wait > 0 {
			_ = m.InProgress()
		}
	}
	return nil
}

// discard acknowledges a handled notice; trimNotices removes it from the
// stream later.
func (d *checkDriver) discard(m jetstream.Msg) {
	_ = m.Ack()
	d.handled.Add(1)
}

// check asks the producer group (check number attempt) and acts on the
// answer: it ends the transaction, or counts the check in the half
// messages, which re-arms their timers for check_interval, or parks it. It
// returns false when the notice should come back. The check is counted
// after the answer, so an answered check costs no write; a driver that
// dies while asking leaves it uncounted, and the next owner asks again.
func (d *checkDriver) check(ctx context.Context, ti TopicInfo, rec *txnRecord, attempt int) bool {
	t := d.t
	answer, result := d.ask(ctx, rec, attempt)
	t.metrics.checks.WithLabelValues(d.topic, result).Inc()
	switch core.AfterCheck(answer, attempt, t.cfg) {
	case core.OutcomeCommit, core.OutcomeRollback:
		_, err := t.end(ctx, ti, rec.ID, answer, wire.TxnByCheck, rec)
		if err == nil || errors.Is(err, wire.ErrConflict) {
			return true // ended, by this answer or by someone first
		}
		// Count the check and re-arm the timer for check_interval, so
		// that a transaction whose end keeps failing is asked again at
		// that pace, and parked after max_checks, not asked every
		// immunity forever.
		d.log.Warn("ending transaction after its check failed; asking again after check_interval", "txid", rec.ID, "answer", answer, "err", err)
		if _, err := d.rewrite(ctx, rec, attempt, false, t.cfg.CheckInterval); err != nil && !isWrongLast(err) {
			return false
		}
	case core.OutcomePark:
		if err := d.park(ctx, rec, attempt); err != nil && !isWrongLast(err) {
			d.log.Warn("parking transaction failed", "txid", rec.ID, "err", err)
			return false
		}
	default:
		_, err := d.rewrite(ctx, rec, attempt, false, t.cfg.CheckInterval)
		if err != nil && !isWrongLast(err) {
			// The timer still fires at its old period; the check is
			// asked again then.
			d.log.Warn("counting a check failed", "txid", rec.ID, "err", err)
			return false
		}
	}
	return true
}

// ask sends the check request and returns the answer (COMMIT, ROLLBACK or
// UNKNOWN) and the result label for metrics.
func (d *checkDriver) ask(ctx context.Context, rec *txnRecord, attempt int) (string, string) {
	actx, cancel := context.WithTimeout(ctx, d.t.cfg.CheckTimeout)
	defer cancel()
	resp, err := d.t.nc.RequestMsgWithContext(actx, checkMsg(rec, attempt))
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return core.TxnStateUnknown, "no_responders"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return core.TxnStateUnknown, "timeout"
	case err != nil:
		return core.TxnStateUnknown, "error"
	}
	state, ok := wire.ParseCheckAnswer(resp.Header, resp.Data)
	if !ok {
		d.log.Warn("malformed check answer treated as UNKNOWN", "txid", rec.ID, "header", resp.Header.Get(wire.HeaderTxnState), "body", truncateBytes(resp.Data, 64))
		return state, "malformed"
	}
	return state, strings.ToLower(state)
}

// park stops checking rec: its half messages keep waiting (their timers
// set beyond any topic's retention) until an operator ends it.
func (d *checkDriver) park(ctx context.Context, rec *txnRecord, checks int) error {
	rec, err := d.rewrite(ctx, rec, checks, true, wire.TxnParkPeriod)
	if err != nil {
		return err
	}
	marker := nats.NewMsg(wire.TxnParkedSubject(d.topic, rec.ID))
	marker.Header.Set(wire.HeaderTxnID, rec.ID)
	marker.Header.Set(wire.HeaderProducerGroup, rec.Halves[0].Header.Get(wire.HeaderProducerGroup))
	marker.Header.Set(hdrRollup, "sub")
	if _, err := d.t.store.publish(ctx, marker); err != nil {
		return err
	}
	d.log.Warn("transaction parked: no answer after max_checks checks; end it with jetmq txn commit|rollback", "txid", rec.ID, "checks", checks)
	return nil
}

// rewrite stores every half message of rec again with new bookkeeping,
// each write guarded by the transaction's last sequence, and returns the
// record as it now is.
func (d *checkDriver) rewrite(ctx context.Context, rec *txnRecord, checks int, parked bool, period time.Duration) (*txnRecord, error) {
	out := *rec
	out.Halves = make([]txnMsg, 0, len(rec.Halves))
	last := rec.Last
	for _, h := range rec.Halves {
		m := rewrittenHalf(d.topic, rec.ID, h, checks, parked, period)
		guard(m, d.topic, rec.ID, last)
		ack, err := d.t.store.publish(ctx, m)
		if err != nil {
			return rec, err
		}
		last = ack.Sequence
		out.Halves = append(out.Halves, txnMsg{Subject: m.Subject, Seq: ack.Sequence, Header: m.Header, Data: m.Data})
	}
	out.Last = last
	return &out, nil
}

// ensureNoticeSource writes the topic's empty notice source message
// (wire.TxnNoticeSource) when it is missing: at first, and again after
// the topic's max_age removed it.
// It reports whether the source is in place.
func (d *checkDriver) ensureNoticeSource(ctx context.Context) bool {
	sctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	subject := wire.TxnNoticeSource(d.topic)
	if m, err := d.t.store.leaderLast(sctx, d.topic, subject); err != nil || m != nil {
		return err == nil
	}
	src := nats.NewMsg(subject)
	src.Header.Set(hdrExpectedLastSubjSeq, "0") // once, however many drivers race
	if _, err := d.t.store.publish(sctx, src); err != nil && !isWrongLast(err) {
		d.log.Warn("writing the check notice source failed; notices copy their half messages meanwhile", "err", err)
		return false
	}
	return true
}

func truncateBytes(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
