package bridge

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go/jetstream"
)

const (
	// presenceProbeWait bounds the probe of a member's presence subject. A
	// process that is gone has no subscription, which NATS answers at once
	// (no responders); a live one answers at once too, so this is only
	// spent on a connection that is dead but not yet closed.
	presenceProbeWait = time.Second
	// maxRedeliverScan bounds the stream sequences a re-join naks (the
	// span between the member's ack floor and its last delivery); beyond
	// it the rest come back after ack_wait as before.
	maxRedeliverScan = 100_000
)

// joinBroadcasting gives a broadcasting member its durable. An id that
// another live connection holds is refused (409), since two processes on
// one durable would split the member's messages between them. A member
// coming back after its previous process died gets the messages that
// process held unacked again at once, ahead of new ones.
func (s *GroupService) joinBroadcasting(ctx context.Context, g core.GroupConfig, req wire.JoinRequest) (string, error) {
	name, err := s.ensureConsumer(ctx, g, req.Member)
	if err != nil {
		return "", errUnavailable("consumer for member %q: %v", req.Member, err)
	}
	prev, _ := s.members.presence(wire.GroupID(g.Topic, g.Name), req.Member)
	if req.Presence != "" && prev == req.Presence {
		return name, nil // the same process joining again (its durable was recreated)
	}
	c, err := s.js.Consumer(ctx, g.Topic, name)
	if err != nil {
		return "", errUnavailable("consumer for member %q: %v", req.Member, err)
	}
	ci := c.CachedInfo()
	if ci.NumWaiting > 0 {
		return "", errConflict("member %q of group %q is in use: another live connection is pulling its durable %q; stop that member or join with another id", req.Member, g.Name, name)
	}
	if prev != "" && s.answers(ctx, prev) {
		return "", errConflict("member %q of group %q is in use: a live process answers its presence subject; stop that member or join with another id", req.Member, g.Name)
	}
	if ci.NumAckPending > 0 {
		if err := s.redeliverNow(ctx, ci); err != nil {
			s.log.Warn("re-joining member's unacked messages not redelivered at once; they come back after ack_wait", "group", g.Name, "member", req.Member, "err", err)
		}
	}
	return name, nil
}

// validPresence accepts a literal subject outside $JS, $MQ, $SYS and the
// like, so a JOIN cannot make the broker send requests into them.
func validPresence(subj string) bool {
	if strings.HasPrefix(subj, "$") || len(subj) > 255 || strings.ContainsAny(subj, " \t\r\n*>") {
		return false
	}
	for _, tok := range strings.Split(subj, ".") {
		if tok == "" {
			return false
		}
	}
	return true
}

// answers reports whether a live subscriber answers on subj. Only an
// answer counts: a connection that died without the server noticing yet
// (a host that crashed) still holds the subscription but cannot answer,
// and must not keep its successor out until the server's ping timeout.
func (s *GroupService) answers(ctx context.Context, subj string) bool {
	ctx, cancel := context.WithTimeout(ctx, presenceProbeWait)
	defer cancel()
	_, err := s.nc.RequestWithContext(ctx, subj, nil)
	return err == nil
}

// redeliverNow naks every message the consumer delivered and has not had
// acked, so JetStream hands them out again at once (its redelivery queue
// goes before new messages) instead of after ack_wait. A nak needs no
// more of the ack subject than the stream sequence and a consumer
// sequence within the delivered range; sequences that are acked already
// (or outside the consumer's filter) are ignored by JetStream. Each such
// redelivery counts as an attempt, as an ack_wait expiry would.
func (s *GroupService) redeliverNow(ctx context.Context, ci *jetstream.ConsumerInfo) error {
	from, to := ci.AckFloor.Stream+1, ci.Delivered.Stream
	if to >= from+maxRedeliverScan {
		s.log.Warn("re-join: too many sequences between ack floor and last delivery; the rest come back after ack_wait",
			"stream", ci.Stream, "consumer", ci.Name, "from", from, "to", to)
		to = from + maxRedeliverScan - 1
	}
	nak := []byte("-NAK")
	for seq := from; seq <= to; seq++ {
		subj := fmt.Sprintf("$JS.ACK.%s.%s.1.%d.%d.0.0", ci.Stream, ci.Name, seq, ci.Delivered.Consumer)
		if err := s.nc.Publish(subj, nak); err != nil {
			return err
		}
	}
	return s.nc.FlushWithContext(ctx)
}
