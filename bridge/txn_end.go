package bridge

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jetmq/jetmq/semantics"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"
)

// EndReply answers a commit or rollback.
type EndReply struct {
	Topic    string `json:"topic"`
	TxnID    string `json:"txid"`
	State    string `json:"state"`
	Messages int    `json:"messages"`
	// Duplicate: the transaction had already ended this way.
	Duplicate bool `json:"duplicate,omitempty"`
}

func (t *TxnService) onEnd(m *nats.Msg) {
	req, aerr := semantics.ParseEnd(m.Subject, m.Header)
	if aerr != nil {
		respondError(m, aerr.Code, "%s", aerr.Description)
		return
	}
	ti, ok := t.topics.Lookup(req.Topic)
	if !ok {
		respondError(m, 404, "topic %q not found", req.Topic)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	defer cancel()
	reply, err := t.end(ctx, ti, req.TxnID, req.State, req.By, t.cache.get(req.Topic, req.TxnID))
	if err != nil {
		respondAPIError(m, err)
		return
	}
	respondJSON(m, reply)
}

// end ends transaction txid with state (first writer wins) and finishes
// the work the end implies. rec is what the caller knows of the
// transaction (nil: read it); a stale rec only costs a read.
func (t *TxnService) end(ctx context.Context, ti TopicInfo, txid, state, by string, rec *txnRecord) (EndReply, error) {
	reply := EndReply{Topic: ti.Name, TxnID: txid, State: state}
	for range casRetries {
		if rec == nil {
			var err error
			if rec, err = t.store.read(ctx, ti.Name, txid); err != nil {
				return reply, storeError("read transaction", err)
			}
		}
		v := rec.view(t.cfg)
		switch semantics.DecideEnd(v, state) {
		case semantics.EndNotFound:
			return reply, apiErr(404, "transaction %q of topic %q not found", txid, ti.Name)
		case semantics.EndConflict:
			return reply, apiErr(409, "transaction %q of topic %q is already %s", txid, ti.Name, v.End)
		case semantics.EndAlready:
			reply.Duplicate = true
			reply.Messages = endedMessages(rec)
			return reply, t.finish(ctx, ti, rec, v.Parked)
		}
		ack, err := t.store.publish(ctx, endMsg(rec, state, by, t.now()))
		if isWrongLast(err) {
			rec = nil
			continue
		}
		if err != nil {
			return reply, storeError("record the end", err)
		}
		t.countEnd(ti.Name, state)
		ended := *rec
		ended.End = &txnMsg{Subject: semantics.TxnEndSubject(ti.Name, txid), Seq: ack.Sequence, Header: nats.Header{semantics.HeaderTxnState: {state}}}
		if state == semantics.TxnStateRollback {
			ended.Halves = ended.Halves[1:] // the end record purged the first
		}
		reply.Messages = len(rec.Halves)
		if err := t.finish(ctx, ti, &ended, v.Parked); err != nil {
			// The end is recorded; the half messages' timers still run and
			// the check driver finishes the work (CheckFinish).
			t.log.Warn("transaction ended, finishing it failed; check-back will finish it", "topic", ti.Name, "txid", txid, "state", state, "err", err)
		}
		return reply, nil
	}
	return reply, apiErr(503, "transaction %q changed %d times while ending it; try again", txid, casRetries)
}

func endedMessages(rec *txnRecord) int {
	var e txnEnd
	if rec.End != nil && json.Unmarshal(rec.End.Data, &e) == nil {
		return e.Messages
	}
	return len(rec.Halves)
}

func (t *TxnService) countEnd(topic, state string) {
	if state == semantics.TxnStateCommit {
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
		if err := t.store.purgeSubject(ctx, ti.Name, semantics.TxnParkedSubject(ti.Name, rec.ID)); err != nil {
			return err
		}
	}
	if len(rec.Halves) == 0 {
		return nil
	}
	if rec.End.Header.Get(semantics.HeaderTxnState) == semantics.TxnStateRollback {
		return t.store.purgeSubject(ctx, ti.Name, semantics.TxnKindFilter(ti.Name, semantics.TxnKindHalf+"."+rec.ID))
	}
	now := t.now()
	msgs := make([]*nats.Msg, 0, len(rec.Halves))
	for _, h := range rec.Halves {
		m, err := realMsg(ti, rec.ID, h, now)
		if err != nil {
			return fmt.Errorf("half message %s: %w", h.Subject, err)
		}
		msgs = append(msgs, m)
	}
	var err error
	if len(msgs) == 1 {
		_, err = t.store.publish(ctx, msgs[0])
	} else {
		err = t.store.publishBatch(ctx, nuid.Next(), msgs)
	}
	if isWrongLast(err) {
		return nil // published before: the half message is gone
	}
	return err
}
