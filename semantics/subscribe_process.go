package semantics

import (
	"context"
	"fmt"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go/jetstream"
)

// dlqPublishTimeout bounds one dead-letter copy.
const dlqPublishTimeout = 10 * time.Second

func (s *Subscription) worker(int) {
	defer s.workers.Done()
	for m := range s.queue {
		s.process(m)
		s.held.done(m)
	}
}

// process runs the retry policy around the handler for one delivery.
func (s *Subscription) process(m jetstream.Msg) {
	md, err := m.Metadata()
	if err != nil {
		s.log.Warn("jetmq: delivery without metadata, leaving it for redelivery", "subject", m.Subject(), "err", err)
		return
	}
	s.mu.Lock()
	jr, pol := s.join, s.policy
	s.mu.Unlock()
	attempt := int(md.NumDelivered)
	if dec := pol.OnDelivery(attempt); dec.Action == core.ActionDeadLetter {
		s.deadLetter(m, md, jr, attempt, dec.Reason)
		return
	}
	d := &Delivery{Topic: s.topic, Group: s.group, Member: jr.Member, Subject: m.Subject(), Attempt: attempt,
		Seq: md.Sequence.Stream, Published: md.Timestamp, Headers: m.Headers(), Data: m.Data(), Partition: -1}
	if sm, err := wire.ParseStoredSubject(d.Subject); err == nil {
		d.Key, d.Tag, d.Partition = sm.Key, sm.Tag, sm.Partition
	}
	herr := s.call(d)
	errText := ""
	if herr != nil {
		errText = herr.Error()
	}
	switch dec := pol.OnResult(attempt, herr != nil, errText); dec.Action {
	case core.ActionAck:
		_ = m.Ack()
	case core.ActionRetry:
		_ = m.NakWithDelay(dec.Delay)
	case core.ActionDeadLetter:
		s.deadLetter(m, md, jr, attempt, dec.Reason)
	}
}

// call runs the handler, turning a panic into an error.
func (s *Subscription) call(d *Delivery) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panic: %v", r)
		}
	}()
	return s.handler(s.hctx, d)
}

// deadLetter copies the message to the group's DLQ and only then
// terminates it; if the copy fails the message is retried later, so it
// leaves the group only when it is safely stored elsewhere.
func (s *Subscription) deadLetter(m jetstream.Msg, md *jetstream.MsgMetadata, jr wire.JoinReply, attempts int, reason string) {
	member := ""
	if jr.Mode == core.ModeBroadcasting {
		member = jr.Member
	}
	dl, err := wire.NewDeadLetter(s.group, member, m.Subject(), md.Sequence.Stream, attempts, reason, m.Headers(), m.Data(), time.Now())
	if err != nil {
		s.log.Error("jetmq: cannot dead-letter a message outside the topic layout; terminating it", "subject", m.Subject(), "err", err)
		_ = m.TermWithReason("not a topic subject")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), dlqPublishTimeout)
	defer cancel()
	if _, err := s.js.PublishMsg(ctx, dl.Msg()); err != nil {
		s.log.Warn("jetmq: dead-letter copy failed; the message will come back", "subject", m.Subject(), "seq", md.Sequence.Stream, "err", err)
		_ = m.NakWithDelay(time.Second)
		return
	}
	_ = m.TermWithReason("dead-lettered to " + jr.DLQStream)
}
