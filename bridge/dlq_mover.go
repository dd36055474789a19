package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go/jetstream"
)

// moverConsumer is the dead-letter mover's durable on the advisory stream.
const moverConsumer = "dlq-mover"

// maxDeliveriesAdvisory is the part of JetStream's max-deliveries advisory
// the mover reads.
type maxDeliveriesAdvisory struct {
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
}

// runMover is the dead-letter mover, run on one node at a time. Members
// copy their own dead letters (with the handler's error); the mover is
// the safety net for messages JetStream gave up on without a copy: a
// member that died during the extra last delivery, or a plain client that
// bound to a group consumer and never dead-letters. It acks an advisory
// only after the copy is stored, so a mover that dies or moves to another
// node resumes where it was, and the DLQ's de-duplication absorbs copies
// made twice.
func (s *GroupService) runMover(ctx context.Context) {
	for ctx.Err() == nil {
		if err := s.moveOnce(ctx); err != nil && ctx.Err() == nil {
			s.log.Debug("dead-letter mover: retrying", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// moveOnce consumes the advisory stream until ctx ends or it fails.
func (s *GroupService) moveOnce(ctx context.Context) error {
	st, err := s.js.Stream(ctx, advisoryStream)
	if err != nil {
		return err // no group yet: nothing to capture
	}
	c, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: moverConsumer, AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: 30 * time.Second, Description: "jetmq dead-letter mover"})
	if err != nil {
		return err
	}
	// One long pull (the server sends heartbeats while it waits), not a
	// fetch every few seconds: an idle tenant's mover costs next to
	// nothing. Stop ends it when the singleton moves.
	it, err := c.Messages(jetstream.PullMaxMessages(64), jetstream.PullExpiry(30*time.Second))
	if err != nil {
		return err
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if err := s.moveAdvisory(ctx, m.Data()); err != nil {
			s.log.Warn("dead-letter mover: will retry an advisory", "err", err)
			_ = m.NakWithDelay(5 * time.Second)
			continue
		}
		_ = m.Ack()
	}
}

// moveAdvisory copies the message an advisory names to its group's DLQ.
func (s *GroupService) moveAdvisory(ctx context.Context, data []byte) error {
	var a maxDeliveriesAdvisory
	if err := json.Unmarshal(data, &a); err != nil {
		return nil // not an advisory we understand: drop it
	}
	group, member, ok := s.consumerGroup(ctx, a.Stream, a.Consumer)
	if !ok {
		return nil // not a group consumer
	}
	topic, err := s.js.Stream(ctx, a.Stream)
	if err != nil {
		return fmt.Errorf("open %s: %w", a.Stream, err)
	}
	raw, err := topic.GetMsg(ctx, a.StreamSeq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		s.log.Warn("dead-letter mover: message already gone from the topic (max_age?)", "topic", a.Stream, "seq", a.StreamSeq, "group", group)
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s seq %d: %w", a.Stream, a.StreamSeq, err)
	}
	reason := fmt.Sprintf("JetStream gave up after %d deliveries without an ack or a dead-letter copy (member died, ack wait expired, or a client without DLQ support)", a.Deliveries)
	d, err := wire.NewDeadLetter(group, member, raw.Subject, raw.Sequence, int(a.Deliveries), reason, raw.Header, raw.Data, time.Now())
	if err != nil {
		return nil // not a topic subject
	}
	if _, err := s.js.PublishMsg(ctx, d.Msg()); err != nil {
		return fmt.Errorf("copy to DLQ: %w", err)
	}
	return nil
}

// consumerGroup names the group (and broadcasting member) of a consumer,
// from its metadata, or from its name if it is gone already.
func (s *GroupService) consumerGroup(ctx context.Context, stream, consumer string) (group, member string, ok bool) {
	c, err := s.js.Consumer(ctx, stream, consumer)
	if err == nil {
		md := c.CachedInfo().Config.Metadata
		return md[wire.MetaGroup], md[wire.MetaMember], md[wire.MetaGroup] != ""
	}
	if g, m, found := strings.Cut(consumer, "__"); found {
		return g, m, true
	}
	return consumer, "", true
}
