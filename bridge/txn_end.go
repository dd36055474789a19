package bridge

import (
	"context"
	"encoding/json"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"
)

func (t *TxnService) onEnd(ctx context.Context, m *nats.Msg) (any, error) {
	req, aerr := wire.ParseEnd(m.Subject, m.Header)
	if aerr != nil {
		return nil, aerr
	}
	ti, ok := t.topics.Lookup(req.Topic)
	if !ok {
		return nil, errTopicNotFound(req.Topic)
	}
	reply, err := t.end(ctx, ti, req.TxnID, req.State, req.By, t.cache.get(req.Topic, req.TxnID))
	if err != nil {
		return nil, err
	}
	return reply, nil
}

// end ends transaction txid with state (first writer wins) and finishes
// the work the end implies. rec is what the caller knows of the
// transaction (nil: read it); a stale rec only costs a read.
func (t *TxnService) end(ctx context.Context, ti TopicInfo, txid, state, by string, rec *txnRecord) (wire.EndReply, error) {
	reply := wire.EndReply{Topic: ti.Name, TxnID: txid, State: state}
	read := t.store.read
	for range casRetries {
		if rec == nil {
			var err error
			if rec, err = read(ctx, ti.Name, txid); err != nil {
				return reply, storeError("read transaction", err)
			}
		}
		v := rec.view(t.cfg)
		switch core.DecideEnd(v, state) {
		case core.EndNotFound:
			return reply, errNotFound("transaction %q of topic %q not found", txid, ti.Name)
		case core.EndConflict:
			return reply, errConflict("transaction %q of topic %q is already %s", txid, ti.Name, v.End)
		case core.EndAlready:
			reply.Duplicate = true
			reply.Messages = endedMessages(rec)
			return reply, t.finish(ctx, ti, rec, v.Parked)
		}
		var err error
		if state == core.TxnStateCommit {
			err = t.commit(ctx, ti, rec, by, v.Parked)
		} else {
			err = t.rollback(ctx, ti, rec, by, v.Parked)
		}
		if isWrongLast(err) {
			rec, read = nil, t.store.readLeader
			continue
		}
		if err != nil {
			return reply, storeError("end the transaction", err)
		}
		t.countEnd(ti.Name, state)
		reply.Messages = len(rec.Halves)
		return reply, nil
	}
	return reply, errUnavailable("transaction %q changed %d times while ending it; try again", txid, casRetries)
}

// commit is its own record: one guarded write (one atomic batch for
// several messages) stores the committed messages, purges the half messages
// and proves the commit. A parked transaction loses its marker after that:
// a marker left behind by a failed purge is harmless (listings skip
// transactions without half messages), a marker purged before a failed
// commit would hide a parked transaction from its operator.
func (t *TxnService) commit(ctx context.Context, ti TopicInfo, rec *txnRecord, by string, parked bool) error {
	if err := t.publishCommitted(ctx, ti, rec, by); err != nil {
		return err
	}
	if parked {
		if err := t.store.purgeSubject(ctx, ti.Name, wire.TxnParkedSubject(ti.Name, rec.ID)); err != nil {
			t.log.Warn("committed a parked transaction, removing its parked marker failed", "topic", ti.Name, "txid", rec.ID, "err", err)
		}
	}
	return nil
}

// rollback writes the end record of a rollback (who ended it, when; it
// purges the first half message), then purges the others. Once the record is written the end is
// decided: a failure to finish is only logged, because the half messages'
// timers still run and the check driver finishes it (CheckFinish).
func (t *TxnService) rollback(ctx context.Context, ti TopicInfo, rec *txnRecord, by string, parked bool) error {
	const state = core.TxnStateRollback
	ack, err := t.store.publish(ctx, endMsg(rec, state, by, t.now()))
	if err != nil {
		return err
	}
	ended := *rec
	ended.End = &txnMsg{Subject: wire.TxnEndSubject(ti.Name, rec.ID), Seq: ack.Sequence, Header: nats.Header{wire.HeaderTxnState: {state}}}
	ended.Last = ack.Sequence
	ended.Halves = ended.Halves[1:] // the end record purged the first
	if err := t.finish(ctx, ti, &ended, parked); err != nil {
		t.log.Warn("transaction ended, finishing it failed; check-back will finish it", "topic", ti.Name, "txid", rec.ID, "state", state, "err", err)
	}
	return nil
}

func endedMessages(rec *txnRecord) int {
	var e txnEnd
	if rec.End != nil && json.Unmarshal(rec.End.Data, &e) == nil {
		return e.Messages
	}
	return rec.Committed + rec.Delayed + len(rec.Halves)
}

func (t *TxnService) countEnd(topic, state string) {
	if state == core.TxnStateCommit {
		t.metrics.committed.WithLabelValues(topic).Inc()
	} else {
		t.metrics.rolledBack.WithLabelValues(topic).Inc()
	}
}

// finish does what an ended transaction still needs: publish the committed
// messages (each guarded by its half message, which it purges) or purge the
// rolled-back half messages, and clear the parked marker. It is idempotent,
// so a retried commit and the check driver may both run it.
func (t *TxnService) finish(ctx context.Context, ti TopicInfo, rec *txnRecord, parked bool) error {
	defer t.cache.drop(ti.Name, rec.ID)
	if parked {
		if err := t.store.purgeSubject(ctx, ti.Name, wire.TxnParkedSubject(ti.Name, rec.ID)); err != nil {
			return err
		}
	}
	for range casRetries {
		if len(rec.Halves) == 0 {
			return nil
		}
		if rec.End != nil && rec.End.Header.Get(wire.HeaderTxnState) == core.TxnStateRollback {
			return t.store.purgeSubject(ctx, ti.Name, wire.TxnKindFilter(ti.Name, wire.TxnKindHalf+"."+rec.ID))
		}
		err := t.publishCommitted(ctx, ti, rec, "")
		if !isWrongLast(err) {
			return err
		}
		// The transaction changed since rec was read (another finisher
		// won, or a check re-armed a timer): look again.
		if rec, err = t.store.readLeader(ctx, ti.Name, rec.ID); err != nil {
			return err
		}
	}
	return errUnavailable("transaction %q changed %d times while finishing it", rec.ID, casRetries)
}

// publishCommitted writes the committed form of every half message of rec
// (commitMsgs): one write, or one atomic batch for several. by (who
// commits) is recorded on each message unless it is the producer or
// unknown ("").
func (t *TxnService) publishCommitted(ctx context.Context, ti TopicInfo, rec *txnRecord, by string) error {
	defer t.cache.drop(ti.Name, rec.ID)
	msgs, err := commitMsgs(ti, rec, by, t.now())
	if err != nil {
		// A half message PREPARE did not write (one a client stored in
		// the internal stream), or a delay beyond a lowered max_delay:
		// the transaction's state refuses the commit.
		return errConflict("transaction %q of topic %q cannot be committed: %v", rec.ID, ti.Name, err)
	}
	if len(msgs) == 1 {
		_, err = t.store.publish(ctx, msgs[0])
		return err
	}
	return t.store.publishBatch(ctx, nuid.Next(), msgs)
}
