package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/internal/jsapi"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// JetStream headers the transaction coordinator writes.
const (
	hdrExpectedLastSubjSeq     = "Nats-Expected-Last-Subject-Sequence"
	hdrExpectedLastSubjSeqSubj = "Nats-Expected-Last-Subject-Sequence-Subject"
	hdrScheduler               = "Nats-Scheduler"
	hdrScheduleSource          = "Nats-Schedule-Source"
	hdrScheduleNext            = "Nats-Schedule-Next"
	hdrRollup                  = "Nats-Rollup"
	hdrBatchID                 = "Nats-Batch-Id"
	hdrBatchSeq                = "Nats-Batch-Sequence"
	hdrBatchCommit             = "Nats-Batch-Commit"
)

// txnMsg is one stored message of a transaction.
type txnMsg = jsapi.StoredMsg

// txnRecord is a transaction as read from (or, for the cache, written to)
// its topic's stream.
type txnRecord struct {
	Topic, ID string
	Halves    []txnMsg // by sequence
	End       *txnMsg
	Parts     []txnMsg  // committed parts (outbox or delayed), for TXN.INFO
	Committed int       // parts written to the outbox
	Delayed   int       // committed parts still waiting for their delay
	EndedAt   time.Time // when the last committed part was written
	Group     string    // producer group, as a committed part records it
	EndedBy   string    // who committed it, as a committed part records it
	Last      uint64    // last sequence over wire.TxnFilter
}

// committed reports proof of a commit without an end record: a producer's
// commit is the outbox write itself.
func (r *txnRecord) committed() bool { return r.Committed > 0 || r.Delayed > 0 }

// view reduces the record to what the state machine needs.
func (r *txnRecord) view(cfg core.TxnConfig) core.TxnView {
	v := core.TxnView{Halves: len(r.Halves)}
	switch {
	case r.End != nil:
		v.End = r.End.Header.Get(wire.HeaderTxnState)
	case r.committed():
		v.End = core.TxnStateCommit
	}
	if len(r.Halves) > 0 {
		h := r.Halves[0].Header
		v.Parked = h.Get(wire.HeaderTxnState) == core.TxnStateParked
		v.Checks, _ = strconv.Atoi(h.Get(wire.HeaderTxnChecks))
		v.PreparedAt, _ = time.Parse(time.RFC3339Nano, h.Get(wire.HeaderTxnPreparedAt))
		v.Immunity = halfImmunity(h, cfg)
	}
	return v
}

func halfImmunity(h nats.Header, cfg core.TxnConfig) time.Duration {
	if v := h.Get(wire.HeaderCheckImmunity); v != "" {
		if d, err := wire.ParseCheckImmunity(v); err == nil {
			return d
		}
	}
	return cfg.CheckImmunity
}

func (r *txnRecord) half(part string) (txnMsg, bool) {
	for _, h := range r.Halves {
		if strings.HasSuffix(h.Subject, "."+part) {
			return h, true
		}
	}
	return txnMsg{}, false
}

// txnStore reads and writes transactions in the topics' internal streams.
type txnStore struct {
	nc *nats.Conn
	js jetstream.JetStream
}

// read loads every half, outbox, end and delayed message of txid with one
// direct multi-last get. A stream replica may lag behind its leader, so an
// empty answer is confirmed with the leader before it is believed.
func (s *txnStore) read(ctx context.Context, topic, txid string) (*txnRecord, error) {
	filter := wire.TxnFilter(topic, txid)
	msgs, err := s.directLast(ctx, topic, filter)
	if err != nil {
		return nil, err
	}
	if len(msgs) == 0 {
		if last, err := s.leaderLast(ctx, topic, filter); err != nil {
			return nil, err
		} else if last != nil {
			return s.readLeader(ctx, topic, txid)
		}
	}
	return newTxnRecord(topic, txid, msgs), nil
}

// readLeader loads txid from the stream leader, never a replica: after a
// guarded write failed, a lagging replica would only repeat the stale view
// that made it fail.
func (s *txnStore) readLeader(ctx context.Context, topic, txid string) (*txnRecord, error) {
	msgs, err := s.leaderAll(ctx, topic, wire.TxnFilter(topic, txid))
	if err != nil {
		return nil, err
	}
	return newTxnRecord(topic, txid, msgs), nil
}

// newTxnRecord builds the record of txid from its stored messages, keeping
// the last message of each subject (a rewritten half message leaves its
// older versions in the stream until the transaction ends).
func newTxnRecord(topic, txid string, msgs []txnMsg) *txnRecord {
	last := map[string]txnMsg{}
	for _, m := range msgs {
		if cur, ok := last[m.Subject]; !ok || m.Seq > cur.Seq {
			last[m.Subject] = m
		}
	}
	r := &txnRecord{Topic: topic, ID: txid}
	for _, m := range last {
		r.Last = max(r.Last, m.Seq)
		kind, _, _, ok := wire.ParseTxnSubject(topic, m.Subject)
		if !ok {
			continue
		}
		switch kind {
		case wire.TxnKindHalf:
			r.Halves = append(r.Halves, m)
		case wire.TxnKindEnd:
			e := m
			r.End = &e
		case wire.TxnKindOutbox:
			r.Committed++
			r.Parts = append(r.Parts, m)
		case wire.TxnKindDelayed:
			r.Delayed++
			r.Parts = append(r.Parts, m)
		}
		if (kind == wire.TxnKindOutbox || kind == wire.TxnKindDelayed) && m.Time.After(r.EndedAt) {
			r.EndedAt, r.Group, r.EndedBy = m.Time, m.Header.Get(wire.HeaderProducerGroup), m.Header.Get(wire.HeaderTxnBy)
		}
	}
	sort.Slice(r.Halves, func(i, j int) bool { return r.Halves[i].Seq < r.Halves[j].Seq })
	sort.Slice(r.Parts, func(i, j int) bool { return r.Parts[i].Seq < r.Parts[j].Seq })
	return r
}

// directLast returns the last message of every subject matching filter.
func (s *txnStore) directLast(ctx context.Context, topic, filter string) ([]txnMsg, error) {
	page, err := jsapi.DirectGet(ctx, s.nc, wire.InternalStream(topic), jsapi.MsgGetRequest{MultiLast: []string{filter}, Batch: wire.MaxTxnMessages * 3})
	if err != nil {
		return nil, fmt.Errorf("read transaction: %w", err)
	}
	out := make([]txnMsg, 0, len(page.Msgs))
	for _, m := range page.Msgs {
		ts, _ := time.Parse(time.RFC3339Nano, m.Header.Get("Nats-Time-Stamp"))
		out = append(out, txnMsg{Subject: m.Header.Get("Nats-Subject"), Seq: jsapi.Seq(m), Header: m.Header, Data: m.Data, Time: ts})
	}
	return out, nil
}

// leaderGet asks the stream leader (not a replica) for one message.
func (s *txnStore) leaderGet(ctx context.Context, topic string, req jsapi.MsgGetRequest) (*txnMsg, error) {
	m, err := jsapi.MsgGet(ctx, s.nc, wire.InternalStream(topic), req)
	if err != nil {
		return nil, fmt.Errorf("read transaction: %w", err)
	}
	return m, nil
}

func (s *txnStore) leaderLast(ctx context.Context, topic, filter string) (*txnMsg, error) {
	return s.leaderGet(ctx, topic, jsapi.MsgGetRequest{LastBySubj: filter})
}

// leaderAllLimit bounds the messages leaderAll walks: every version of
// every subject of one transaction (each counted check rewrites the half
// messages), far more than a transaction holds.
const leaderAllLimit = 100000

// leaderAll walks every message matching filter on the leader, older
// versions of a subject included.
func (s *txnStore) leaderAll(ctx context.Context, topic, filter string) ([]txnMsg, error) {
	var out []txnMsg
	seq := uint64(1)
	for range leaderAllLimit {
		m, err := s.leaderGet(ctx, topic, jsapi.MsgGetRequest{NextBySubj: filter, Seq: seq})
		if err != nil || m == nil {
			return out, err
		}
		out = append(out, *m)
		seq = m.Seq + 1
	}
	return out, nil
}

// guard makes m conditional on the transaction's last sequence being last.
func guard(m *nats.Msg, topic, txid string, last uint64) {
	m.Header.Set(hdrExpectedLastSubjSeq, strconv.FormatUint(last, 10))
	m.Header.Set(hdrExpectedLastSubjSeqSubj, wire.TxnFilter(topic, txid))
}

// isWrongLast reports a failed expected-last-sequence guard: someone else
// wrote to the transaction (or the half message is gone) in between. A
// replicated stream answers a guard that races another with its
// "constant" variant.
func isWrongLast(err error) bool {
	var ae *jetstream.APIError
	return errors.As(err, &ae) && (ae.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || ae.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// publish stores m and waits for the acknowledgement.
func (s *txnStore) publish(ctx context.Context, m *nats.Msg) (*jetstream.PubAck, error) {
	return s.js.PublishMsg(ctx, m)
}

// publishBatch stores msgs atomically (JetStream atomic batch publish):
// all of them or none.
func (s *txnStore) publishBatch(ctx context.Context, id string, msgs []*nats.Msg) error {
	for i, m := range msgs {
		m.Header.Set(hdrBatchID, id)
		m.Header.Set(hdrBatchSeq, strconv.Itoa(i+1))
		if i < len(msgs)-1 {
			if err := s.nc.PublishMsg(m); err != nil {
				return err
			}
		}
	}
	last := msgs[len(msgs)-1]
	last.Header.Set(hdrBatchCommit, "1")
	resp, err := s.nc.RequestMsgWithContext(ctx, last)
	if err != nil {
		return err
	}
	var ack struct {
		Error *jetstream.APIError `json:"error"`
	}
	if err := json.Unmarshal(resp.Data, &ack); err != nil {
		return fmt.Errorf("batch ack: %w", err)
	}
	if ack.Error != nil {
		return ack.Error
	}
	return nil
}

// purgeSubject removes every message on subject.
func (s *txnStore) purgeSubject(ctx context.Context, topic, subject string) error {
	return s.purge(ctx, topic, jsapi.PurgeRequest{Filter: subject})
}

// purgeBelow removes the messages on subject below sequence seq.
func (s *txnStore) purgeBelow(ctx context.Context, topic, subject string, seq uint64) error {
	return s.purge(ctx, topic, jsapi.PurgeRequest{Filter: subject, Seq: seq})
}

func (s *txnStore) purge(ctx context.Context, topic string, req jsapi.PurgeRequest) error {
	_, err := jsapi.Purge(ctx, s.nc, wire.InternalStream(topic), req)
	return err
}

// txnIDs lists the transactions that have a subject of kind (half
// messages: open transactions; parked markers: parked ones), sorted.
func (s *txnStore) txnIDs(ctx context.Context, topic, kind string) ([]string, error) {
	st, err := s.js.Stream(ctx, wire.InternalStream(topic))
	if err != nil {
		return nil, err
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(wire.TxnKindFilter(topic, kind)))
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for subj := range info.State.Subjects {
		if _, id, _, ok := wire.ParseTxnSubject(topic, subj); ok {
			seen[id] = true
		}
	}
	ids := make([]string, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids, nil
}

func (s *txnStore) countTxns(ctx context.Context, topic, kind string) (int, error) {
	ids, err := s.txnIDs(ctx, topic, kind)
	return len(ids), err
}
