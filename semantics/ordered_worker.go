package semantics

import (
	"context"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go/jetstream"
)

// partitionWorker hands one partition's messages to the handler strictly
// one after the other: the next message only after the previous one was
// acked or dead-lettered. A handler error suspends the partition and
// retries the same message in place; after max_reconsume attempts it is
// dead-lettered and the partition moves on.
type partitionWorker struct {
	m         *orderedMember
	partition int
	// allowed reports whether the worker may hand a message to the
	// handler now (clustering: the lease is held at the worker's epoch).
	allowed func() bool
	// lastSeq is the stream sequence of the last message acked or
	// dead-lettered; a redelivery at or below it is acked and skipped.
	lastSeq uint64
	// suspended is set while the head message waits to be retried.
	suspended func(bool)
}

// outcome of processing one message.
type outcome int

const (
	outcomeDone outcome = iota // acked or dead-lettered
	outcomeStop                // the worker must stop; the message stays unacked
)

// process runs one message to its end. quit ends it early (unacked).
func (w *partitionWorker) process(hctx context.Context, msg jetstream.Msg, md *jetstream.MsgMetadata, quit <-chan struct{}) outcome {
	if md.Sequence.Stream <= w.lastSeq {
		_ = msg.Ack() // handled already: a redelivery of the acked tail
		return outcomeDone
	}
	if wire.ResentForAnother(msg.Headers(), w.m.group) {
		_ = msg.Ack()
		w.lastSeq = md.Sequence.Stream
		return outcomeDone
	}
	jr := w.m.join
	pol := jr.Policy()
	attempt := int(md.NumDelivered)
	for {
		if !w.allowed() {
			return outcomeStop
		}
		if dec := pol.OnDelivery(attempt); dec.Action == core.ActionDeadLetter {
			if !w.m.deadLetter(msg, md, attempt-1, dec.Reason) {
				if !w.pause(quit, msg) {
					return outcomeStop
				}
				continue
			}
			w.lastSeq = md.Sequence.Stream
			return outcomeDone
		}
		herr := callHandler(hctx, w.m.handler, newDelivery(w.m.topic, w.m.group, w.m.join.Member, msg, md, attempt, w.partition))
		errText := ""
		if herr != nil {
			errText = herr.Error()
		}
		switch dec := pol.OnResult(attempt, herr != nil, errText); dec.Action {
		case core.ActionAck:
			_ = msg.Ack()
			w.lastSeq = md.Sequence.Stream
			w.suspended(false)
			return outcomeDone
		case core.ActionDeadLetter:
			if w.m.deadLetter(msg, md, attempt, dec.Reason) {
				w.lastSeq = md.Sequence.Stream
				w.suspended(false)
				return outcomeDone
			}
		}
		// Retry in place after the suspend pause; nothing behind this
		// message of the partition moves meanwhile.
		w.suspended(true)
		if !w.pause(quit, msg) {
			return outcomeStop
		}
		attempt++
	}
}

// pause waits the suspend time, keeping msg from being redelivered. It
// returns false when the worker must stop.
func (w *partitionWorker) pause(quit <-chan struct{}, msg jetstream.Msg) bool {
	_ = msg.InProgress()
	select {
	case <-quit:
		return false
	case <-time.After(w.m.suspend):
		return true
	}
}
