package semantics

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"
)

// Typed errors of transactions; each wraps its cause (a *APIError from the
// broker, a NATS error, or the local transaction's error).
var (
	// ErrRollback is what a local transaction returns (or wraps) to have
	// SendInTransaction roll the transaction back explicitly.
	ErrRollback = errors.New("jetmq: roll back the transaction")
	// ErrTxnPrepare: a message could not be prepared; nothing was
	// committed (prepared messages are rolled back).
	ErrTxnPrepare = errors.New("jetmq: prepare failed")
	// ErrTxnEnd: the commit or rollback request failed; the broker will
	// settle the transaction by asking the Checker.
	ErrTxnEnd = errors.New("jetmq: ending the transaction failed")
	// ErrTxnUnresolved: the local transaction failed (other than with
	// ErrRollback) or panicked; nothing was sent, and the broker will ask
	// the Checker after the check immunity.
	ErrTxnUnresolved = errors.New("jetmq: transaction left to check-back")
)

// LocalTxState is a Checker's answer: the state of the local transaction.
type LocalTxState int

const (
	// LocalUnknown: not decided yet (ask again later).
	LocalUnknown LocalTxState = iota
	// LocalCommit: the local transaction committed: deliver the messages.
	LocalCommit
	// LocalRollback: it did not and never will: drop the messages.
	LocalRollback
)

func (s LocalTxState) String() string {
	switch s {
	case LocalCommit:
		return core.TxnStateCommit
	case LocalRollback:
		return core.TxnStateRollback
	}
	return core.TxnStateUnknown
}

// CheckRequest is the broker asking about a transaction it has not seen
// end: the first half message of the transaction as the producer sent it.
type CheckRequest struct {
	Topic   string
	TxnID   string
	Attempt int
	Headers nats.Header
	Data    []byte
}

// Checker tells the broker the state of a local transaction, looked up by
// its transaction id (which the local transaction should have recorded:
// see TxnIDFrom). It answers for the whole producer group, so any instance
// can answer for a transaction another instance started.
type Checker interface {
	Check(ctx context.Context, req *CheckRequest) LocalTxState
}

// CheckerFunc adapts a function to Checker.
type CheckerFunc func(ctx context.Context, req *CheckRequest) LocalTxState

// Check implements Checker.
func (f CheckerFunc) Check(ctx context.Context, req *CheckRequest) LocalTxState { return f(ctx, req) }

// TxnResult tells how SendInTransaction ended.
type TxnResult struct {
	Topic string
	TxnID string
	// State is COMMIT or ROLLBACK when the transaction was ended, "" when
	// it was left to check-back.
	State string
}

// TransactionProducer sends messages in transactions for one producer
// group, and answers the broker's checks for the group with its Checker.
type TransactionProducer struct {
	nc      *nats.Conn
	group   string
	checker Checker
	sub     *nats.Subscription
}

// txnRequestTimeout bounds a prepare, commit or rollback whose context has
// no deadline.
const txnRequestTimeout = 10 * time.Second

type txnIDKey struct{}

// TxnIDFrom returns the transaction id SendInTransaction gave the local
// transaction's context; store it with the local change so the Checker can
// find it.
func TxnIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(txnIDKey{}).(string)
	return id
}

// NewTransactionProducer starts a producer of group; checker (nil: answer
// nothing, so checks go to other instances or the transaction is parked)
// answers check requests on $MQ.TXN.CHECK.<group> in queue group <group>.
func NewTransactionProducer(nc *nats.Conn, group string, checker Checker) (*TransactionProducer, error) {
	if err := core.ValidateGroupName(group); err != nil {
		return nil, err
	}
	p := &TransactionProducer{nc: nc, group: group, checker: checker}
	if checker != nil {
		sub, err := nc.QueueSubscribe(wire.TxnCheckSubject(group), group, p.onCheck)
		if err != nil {
			return nil, err
		}
		p.sub = sub
	}
	return p, nil
}

// Close stops answering checks.
func (p *TransactionProducer) Close() error {
	if p.sub != nil {
		return p.sub.Drain()
	}
	return nil
}

func (p *TransactionProducer) onCheck(m *nats.Msg) {
	attempt, _ := strconv.Atoi(m.Header.Get(wire.HeaderAttempt))
	req := &CheckRequest{Topic: m.Header.Get(wire.HeaderTopic), TxnID: m.Header.Get(wire.HeaderTxnID), Attempt: attempt, Headers: m.Header, Data: m.Data}
	state := p.safeCheck(req)
	out := nats.NewMsg(m.Reply)
	out.Header.Set(wire.HeaderTxnState, state.String())
	out.Data = []byte(state.String())
	_ = m.RespondMsg(out)
}

// safeCheck runs the Checker; a panic answers UNKNOWN.
func (p *TransactionProducer) safeCheck(req *CheckRequest) (s LocalTxState) {
	defer func() {
		if recover() != nil {
			s = LocalUnknown
		}
	}()
	return p.checker.Check(context.Background(), req)
}

// Prepare stores msgs (all of one topic) as half messages of transaction
// txid: invisible until the transaction commits.
func (p *TransactionProducer) Prepare(ctx context.Context, txid string, msgs ...*Message) error {
	for _, m := range msgs {
		if err := m.validate(); err != nil {
			return fmt.Errorf("%w: %w", ErrTxnPrepare, err)
		}
		out := m.natsMsg(wire.TxnPrepareSubject(m.Topic, m.Key, m.Tag))
		out.Header.Set(wire.HeaderTxnID, txid)
		out.Header.Set(wire.HeaderProducerGroup, p.group)
		if m.Delay != 0 {
			out.Header.Set(wire.HeaderDelay, m.Delay.String())
		}
		if !m.DeliverAt.IsZero() {
			out.Header.Set(wire.HeaderDeliverAt, m.DeliverAt.UTC().Format(time.RFC3339Nano))
		}
		if err := p.request(ctx, out); err != nil {
			return fmt.Errorf("%w: %s on %s: %w", ErrTxnPrepare, txid, m.Topic, err)
		}
	}
	return nil
}

// Commit ends transaction txid of topic: its messages become visible.
func (p *TransactionProducer) Commit(ctx context.Context, topic, txid string) error {
	if err := p.request(ctx, nats.NewMsg(wire.TxnCommitSubject(topic, txid))); err != nil {
		return fmt.Errorf("%w: commit %s: %w", ErrTxnEnd, txid, err)
	}
	return nil
}

// Rollback ends transaction txid of topic: its messages are dropped.
func (p *TransactionProducer) Rollback(ctx context.Context, topic, txid string) error {
	if err := p.request(ctx, nats.NewMsg(wire.TxnRollbackSubject(topic, txid))); err != nil {
		return fmt.Errorf("%w: rollback %s: %w", ErrTxnEnd, txid, err)
	}
	return nil
}

func (p *TransactionProducer) request(ctx context.Context, m *nats.Msg) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, txnRequestTimeout)
		defer cancel()
	}
	resp, err := p.nc.RequestMsgWithContext(ctx, m)
	if err != nil {
		// The same errors as Producer's: ErrUnavailable when no jetmq
		// service answered, ErrTimeout when none answered in time.
		return requestError(err)
	}
	return wire.DecodeReply(resp.Data, nil)
}

// SendInTransaction sends msgs (all of one topic) in a new transaction
// around localTx:
//
//  1. it prepares every message (if one fails, the prepared ones are rolled
//     back and an error wrapping ErrTxnPrepare is returned; localTx does
//     not run);
//  2. it runs localTx with a context that carries the transaction id
//     (TxnIDFrom), which localTx should store with its change;
//  3. localTx returns nil: it commits. A failed commit returns an error
//     wrapping ErrTxnEnd; the broker then asks the Checker, which should
//     answer COMMIT.
//     localTx returns ErrRollback (or an error wrapping it): it rolls back
//     and returns that error.
//     localTx returns any other error, or panics: it sends nothing and
//     returns an error wrapping ErrTxnUnresolved and the cause (the panic
//     is recovered). The outcome is left to check-back: after the check
//     immunity the broker asks the Checker, which decides from the local
//     state. Return ErrRollback for failures you know rolled the local
//     change back.
func (p *TransactionProducer) SendInTransaction(ctx context.Context, msgs []*Message, localTx func(ctx context.Context) error) (TxnResult, error) {
	if len(msgs) == 0 {
		return TxnResult{}, fmt.Errorf("%w: no messages", ErrTxnPrepare)
	}
	topic := msgs[0].Topic
	for _, m := range msgs[1:] {
		if m.Topic != topic {
			return TxnResult{}, fmt.Errorf("%w: a transaction belongs to one topic, got %q and %q", ErrTxnPrepare, topic, m.Topic)
		}
	}
	res := TxnResult{Topic: topic, TxnID: nuid.Next()}
	if err := p.Prepare(ctx, res.TxnID, msgs...); err != nil {
		if rerr := p.Rollback(ctx, topic, res.TxnID); rerr == nil {
			res.State = core.TxnStateRollback
		}
		return res, err
	}
	lerr := runLocal(context.WithValue(ctx, txnIDKey{}, res.TxnID), localTx)
	switch {
	case lerr == nil:
		if err := p.Commit(ctx, topic, res.TxnID); err != nil {
			return res, err
		}
		res.State = core.TxnStateCommit
		return res, nil
	case errors.Is(lerr, ErrRollback):
		if err := p.Rollback(ctx, topic, res.TxnID); err != nil {
			return res, errors.Join(lerr, err)
		}
		res.State = core.TxnStateRollback
		return res, lerr
	}
	return res, fmt.Errorf("%w: %w", ErrTxnUnresolved, lerr)
}

// runLocal runs localTx, turning a panic into an error.
func runLocal(ctx context.Context, localTx func(ctx context.Context) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("local transaction panicked: %v", r)
		}
	}()
	return localTx(ctx)
}
