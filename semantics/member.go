package semantics

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go/jetstream"
)

// What both kinds of member (the pull member of subscribe*.go and the
// ordered member of ordered_*.go) do alike with one message: build the
// Delivery, run the handler, dead-letter.

// newDelivery builds the Delivery of msg for the handler; partition is the
// member's own idea of it (-1: unknown), overridden by the stored subject.
func newDelivery(topic, group, member string, msg jetstream.Msg, md *jetstream.MsgMetadata, attempt, partition int) *Delivery {
	d := &Delivery{Topic: topic, Group: group, Member: member, Subject: msg.Subject(), Attempt: attempt,
		Seq: md.Sequence.Stream, Published: md.Timestamp, Headers: msg.Headers(), Data: msg.Data(), Partition: partition}
	if sm, err := wire.ParseStoredSubject(d.Subject); err == nil {
		d.Key, d.Tag, d.Partition = sm.Key, sm.Tag, sm.Partition
	}
	return d
}

// callHandler runs h, turning a panic into an error.
func callHandler(ctx context.Context, h Handler, d *Delivery) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panic: %v", r)
		}
	}()
	return h(ctx, d)
}

// deadLetter copies msg to the group's DLQ and only then terminates it, so
// a message leaves the group only once it is safely stored elsewhere. It
// reports false when the copy failed: the caller retries the message (the
// pull member later, the ordered member in place, keeping order).
func deadLetter(js jetstream.JetStream, log *slog.Logger, jr wire.JoinReply, group string, msg jetstream.Msg, md *jetstream.MsgMetadata, attempts int, reason string) bool {
	member := ""
	if jr.Mode == core.ModeBroadcasting {
		member = jr.Member
	}
	dl, err := wire.NewDeadLetter(group, member, msg.Subject(), md.Sequence.Stream, attempts, reason, msg.Headers(), msg.Data(), time.Now())
	if err != nil {
		log.Error("jetmq: cannot dead-letter a message outside the topic layout; terminating it", "subject", msg.Subject(), "err", err)
		_ = msg.TermWithReason("not a topic subject")
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), dlqPublishTimeout)
	defer cancel()
	if _, err := js.PublishMsg(ctx, dl.Msg()); err != nil {
		log.Warn("jetmq: dead-letter copy failed; the message will be retried", "subject", msg.Subject(), "seq", md.Sequence.Stream, "err", err)
		return false
	}
	_ = msg.TermWithReason("dead-lettered to " + jr.DLQStream)
	return true
}
