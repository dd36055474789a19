package rocketmq

import (
	"context"
	"fmt"
	"sync"
	"time"

	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
)

// checkWait is how long a check waits for the producer's EndTransaction;
// it stays below jetmq's default check_timeout (3 s).
const checkWait = 2500 * time.Millisecond

// EndTransaction commits or rolls back through $MQ.TXN.COMMIT|ROLLBACK.
// When it answers a check this node sent, the check is answered too, so
// jetmq records the transaction as ended by check.
func (e *Endpoint) EndTransaction(ctx context.Context, req *v2.EndTransactionRequest) (*v2.EndTransactionResponse, error) {
	e.clients.touch(ctx)
	topic, txid := req.GetTopic().GetName(), req.GetTransactionId()
	if err := core.ValidateTopicName(topic); err != nil {
		return &v2.EndTransactionResponse{Status: status(v2.Code_ILLEGAL_TOPIC, err.Error())}, nil
	}
	if err := core.ValidateTxnID(txid); err != nil {
		return &v2.EndTransactionResponse{Status: status(v2.Code_INVALID_TRANSACTION_ID, fmt.Sprintf("transaction id %q: %v", txid, err))}, nil
	}
	var state string
	switch req.GetResolution() {
	case v2.TransactionResolution_COMMIT:
		state = core.TxnStateCommit
	case v2.TransactionResolution_ROLLBACK:
		state = core.TxnStateRollback
	default:
		e.checks.answer(topic, txid, core.TxnStateUnknown)
		return &v2.EndTransactionResponse{Status: ok()}, nil
	}
	if replied := e.checks.answer(topic, txid, state); replied != nil {
		// The check answers jetmq, which ends the transaction "by check";
		// wait for that, and end it here only if it does not happen.
		select {
		case <-replied:
		case <-ctx.Done():
		}
		if e.waitEnded(ctx, topic, txid, state) {
			return &v2.EndTransactionResponse{Status: ok()}, nil
		}
	}
	subject := wire.TxnCommitSubject(topic, txid)
	if state == core.TxnStateRollback {
		subject = wire.TxnRollbackSubject(topic, txid)
	}
	if err := request(ctx, e.nc, subject, nil, nil); err != nil {
		return &v2.EndTransactionResponse{Status: statusOf(err, v2.Code_NOT_FOUND, fmt.Sprintf("end transaction %q of topic %q", txid, topic))}, nil
	}
	return &v2.EndTransactionResponse{Status: ok()}, nil
}

// waitEnded polls $MQ.API.TXN.INFO until the transaction has state
// (true) or a second passes (false).
func (e *Endpoint) waitEnded(ctx context.Context, topic, txid, state string) bool {
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		var info struct {
			State string `json:"state"`
		}
		if err := request(ctx, e.nc, wire.APIPrefix+"TXN.INFO."+topic+"."+txid, nil, &info); err == nil && info.State == state {
			return true
		}
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
	return false
}

// checks answers jetmq's check-back requests for the topics this node has
// live producers of, by asking one producer over its telemetry stream.
type checks struct {
	e       *Endpoint
	mu      sync.Mutex
	subs    map[string]*nats.Subscription
	pending map[string]*pendingCheck // topic/txid
	turn    int
}

func newChecks(e *Endpoint) *checks {
	return &checks{e: e, subs: map[string]*nats.Subscription{}, pending: map[string]*pendingCheck{}}
}

// watch subscribes to the checks of topic's producer group (the topic).
func (k *checks) watch(topic string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.subs[topic] != nil {
		return
	}
	sub, err := k.e.nc.QueueSubscribe(wire.TxnCheckSubject(topic), "jetmq-rocketmq", func(m *nats.Msg) {
		go k.check(topic, m)
	})
	if err != nil {
		k.e.log.Warn("rocketmq: cannot subscribe to transaction checks", "topic", topic, "err", err)
		return
	}
	k.subs[topic] = sub
}

// prune drops the check subscriptions of topics with no live producer
// here, so that another node's producers get the checks.
func (k *checks) prune() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for topic, sub := range k.subs {
		if c, _ := k.e.clients.producerOf(topic, 0); c == nil {
			_ = sub.Unsubscribe()
			delete(k.subs, topic)
		}
	}
}

func (k *checks) check(topic string, m *nats.Msg) {
	txid := m.Header.Get(wire.HeaderTxnID)
	k.mu.Lock()
	k.turn++
	turn := k.turn
	k.mu.Unlock()
	c, stream := k.e.clients.producerOf(topic, turn)
	msg, err := checkMessage(topic, m)
	if c == nil || err != nil || core.ValidateTxnID(txid) != nil {
		_ = m.Respond([]byte(core.TxnStateUnknown))
		return
	}
	p := &pendingCheck{answer: make(chan string, 1), replied: make(chan struct{})}
	key := topic + "/" + txid
	k.mu.Lock()
	k.pending[key] = p
	k.mu.Unlock()
	defer func() {
		k.mu.Lock()
		if k.pending[key] == p {
			delete(k.pending, key)
		}
		k.mu.Unlock()
	}()
	cmd := &v2.TelemetryCommand{Command: &v2.TelemetryCommand_RecoverOrphanedTransactionCommand{
		RecoverOrphanedTransactionCommand: &v2.RecoverOrphanedTransactionCommand{Message: msg, TransactionId: txid}}}
	state := core.TxnStateUnknown
	if stream.Send(cmd) == nil {
		select {
		case state = <-p.answer:
		case <-time.After(checkWait):
		case <-k.e.ctx.Done():
		}
	}
	_ = m.Respond([]byte(state))
	close(p.replied)
}

// pendingCheck is a check waiting for the producer's EndTransaction.
type pendingCheck struct {
	answer  chan string
	replied chan struct{} // closed once jetmq got the answer
}

// answer hands a producer's resolution to a check waiting for it and
// returns the channel closed once the check has answered jetmq.
func (k *checks) answer(topic, txid, state string) <-chan struct{} {
	k.mu.Lock()
	p := k.pending[topic+"/"+txid]
	delete(k.pending, topic+"/"+txid)
	k.mu.Unlock()
	if p == nil {
		return nil
	}
	p.answer <- state
	return p.replied
}

// checkMessage is the half message of a check as the RocketMQ message the
// producer's checker sees.
func checkMessage(topic string, m *nats.Msg) (*v2.Message, error) {
	key := m.Header.Get(wire.HeaderKey)
	if key == "" {
		key = wire.KeylessKey
	}
	subject := wire.StoredSubject(topic, 0, key, m.Header.Get(wire.HeaderTag))
	msg, err := FromNATS(Incoming{Subject: subject, Header: m.Header, Data: m.Data, Stored: time.Now()})
	if err != nil {
		return nil, err
	}
	msg.SystemProperties.MessageType = v2.MessageType_TRANSACTION
	msg.SystemProperties.QueueOffset = nil
	return msg, nil
}
