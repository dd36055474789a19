package bench

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jetmq/jetmq/internal/ordercheck"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Pull timing of the plain partition pulls, as the helper's partition
// runner pulls (semantics' orderedPullExpiry and orderedPullHeartbeat).
const (
	plainPullExpiry    = 5 * time.Second
	plainPullHeartbeat = time.Second
)

// runPlainPartitions is ordered-consume's reference: the pre-filled topic
// drained in order by one plain durable per partition, configured as an
// ordered group's partition durable (filter <topic>.<p>.>, explicit acks,
// at most wire.OrderedMaxAckPending unacknowledged), pulled with the
// helper's prefetch over orderedMembers connections (partition p on
// connection p mod orderedMembers), with no ownership protocol. Each
// pull's callback handles one message at a time and acks it before the
// next, which keeps the partition's order as the helper's worker does;
// every handling is recorded and order-checked like the helper's. The
// durables are deleted before it returns.
func runPlainPartitions(ctx context.Context, env *Env, topic string, published []ordercheck.Published) (Result, error) {
	anc, js, err := env.JetStream()
	if err != nil {
		return Result{}, err
	}
	defer anc.Close()
	durables := make([]string, orderedPartitions)
	for p := range durables {
		durables[p] = "plain_" + strconv.Itoa(p)
		if _, err := js.CreateConsumer(ctx, topic, jetstream.ConsumerConfig{
			Durable: durables[p], FilterSubject: wire.PartitionFilter(topic, p),
			AckPolicy: jetstream.AckExplicitPolicy, DeliverPolicy: jetstream.DeliverAllPolicy,
			MaxDeliver: -1, MaxAckPending: wire.OrderedMaxAckPending,
		}); err != nil {
			return Result{}, fmt.Errorf("create consumer: %w", err)
		}
		defer func() { _ = js.DeleteConsumer(context.Background(), topic, durables[p]) }()
	}
	c := ordercheck.New()
	for _, p := range published {
		c.Publish(p)
	}
	t := newOrderedTally(env, env.Msgs)
	pulls, err := startPlainPulls(ctx, env, topic, durables, t)
	defer pulls.stop()
	if err != nil {
		return Result{}, err
	}
	r, _, err := t.result(ctx, c)
	return r, err
}

// plainPulls are the reference's connections and the pulls on them.
type plainPulls struct {
	conns []*nats.Conn
	ccs   []jetstream.ConsumeContext
}

// startPlainPulls connects orderedMembers connections, then binds
// durables[p] on connection p mod orderedMembers and starts pulling, each
// handling counted by t. Call stop even after an error.
func startPlainPulls(ctx context.Context, env *Env, topic string, durables []string, t *orderedTally) (*plainPulls, error) {
	pp := &plainPulls{}
	var streams []jetstream.JetStream
	for range orderedMembers {
		nc, js, err := env.JetStream()
		if err != nil {
			return pp, err
		}
		pp.conns = append(pp.conns, nc)
		streams = append(streams, js)
	}
	for p, durable := range durables {
		member := "c" + strconv.Itoa(p%orderedMembers)
		cons, err := streams[p%orderedMembers].Consumer(ctx, topic, durable)
		if err != nil {
			return pp, err
		}
		cc, err := cons.Consume(func(m jetstream.Msg) { handlePlain(m, p, member, t) },
			jetstream.PullMaxMessages(orderedPrefetch), jetstream.PullExpiry(plainPullExpiry), jetstream.PullHeartbeat(plainPullHeartbeat),
			jetstream.ConsumeErrHandler(func(jetstream.ConsumeContext, error) {}))
		if err != nil {
			return pp, fmt.Errorf("consume: %w", err)
		}
		pp.ccs = append(pp.ccs, cc)
	}
	return pp, nil
}

// handlePlain handles one message of partition p: what the helper reads
// of a delivery (its metadata and stored subject), the tally, then the
// ack.
func handlePlain(m jetstream.Msg, p int, member string, t *orderedTally) {
	md, err := m.Metadata()
	if err != nil {
		return
	}
	key := ""
	if sm, err := wire.ParseStoredSubject(m.Subject()); err == nil {
		key = sm.Key
	}
	t.handled(p, key, md.Sequence.Stream, member)
	_ = m.Ack()
}

// stop ends the pulls and closes the connections.
func (pp *plainPulls) stop() {
	for _, cc := range pp.ccs {
		cc.Stop()
		<-cc.Closed()
	}
	for _, nc := range pp.conns {
		nc.Close()
	}
}
