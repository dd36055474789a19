package semantics

import (
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
	if wire.ResentForAnother(m.Headers(), s.group) {
		_ = m.Ack()
		return
	}
	attempt := int(md.NumDelivered)
	if dec := pol.OnDelivery(attempt); dec.Action == core.ActionDeadLetter {
		s.deadLetter(m, md, jr, attempt, dec.Reason)
		return
	}
	herr := callHandler(s.hctx, s.handler, newDelivery(s.topic, s.group, jr.Member, m, md, attempt, -1))
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

// deadLetter dead-letters m; a failed copy comes back a second later.
func (s *Subscription) deadLetter(m jetstream.Msg, md *jetstream.MsgMetadata, jr wire.JoinReply, attempts int, reason string) {
	if !deadLetter(s.js, s.log, jr, s.group, m, md, attempts, reason) {
		_ = m.NakWithDelay(time.Second)
	}
}
