package bridge

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Raising a topic's partitions. Tagged and keyless publishes are placed by
// account mappings that each node installs from the partition count it
// knows. If the stream took the new count while another node still maps
// with the old one, that node would place T.<key>.<tag> on
// T.<hash mod old>.…, a listed subject of the wrong partition for the new
// count: acked, and misfiled for good. So a raise has two steps:
//
//  1. The stream takes the new count, its keyed transform, and no tagged
//     or keyless stored subjects at all: from then on, on every node, a
//     tagged or keyless publish matches nothing and fails (no responders;
//     clients retry), and a keyed one is placed by the stream itself.
//  2. Once every live jetmq node says it maps with the new count (or after
//     resizeAckWait, naming the nodes that did not), the stream lists the
//     stored subjects of every partition again.
//
// A node that starts in between reads the new count from the stream.
const (
	// resizeAckWait bounds how long step 2 waits for the nodes.
	resizeAckWait = 10 * time.Second
	// resizeAskEvery is how often the nodes are asked during that wait.
	resizeAskEvery = 100 * time.Millisecond
)

// mappedSubject is where every node of the account answers which partition
// count it maps topic with. The token % cannot start a topic name, so no
// topic's internal stream captures it; the guard keeps applications off.
func mappedSubject(topic string) string { return wire.InternalPrefix + "%MAPPED." + topic }

// mappedReply is a node's answer on mappedSubject.
type mappedReply struct {
	Node       string `json:"node"`
	Partitions int    `json:"partitions"`
}

// onMapped answers for this node.
func (t *Topics) onMapped(m *nats.Msg) {
	topic := strings.TrimPrefix(m.Subject, wire.InternalPrefix+"%MAPPED.")
	t.mu.RLock()
	n := t.installed[topic]
	t.mu.RUnlock()
	b, _ := json.Marshal(mappedReply{Node: t.h.NodeName(), Partitions: n})
	_ = m.Respond(b)
}

// raisePartitions is step 1 and the wait of step 2; the caller's update,
// which lists every subject again, is the rest of step 2.
func (t *Topics) raisePartitions(ctx context.Context, sc jetstream.StreamConfig, next TopicInfo) error {
	nextSC := topicStreamConfig(next)
	sc.Metadata, sc.SubjectTransform = nextSC.Metadata, nextSC.SubjectTransform
	sc.Subjects = nextSC.Subjects[:1] // the keyed input only
	if _, err := t.js.UpdateStream(ctx, sc); err != nil {
		return streamAdminError("update stream "+next.Name, err)
	}
	t.install(next)
	if missing := t.awaitMapped(ctx, next.Name, next.Partitions); len(missing) > 0 {
		t.log.Warn("raising partitions: some nodes did not confirm the new mappings in time; their tagged and keyless publishes may land on the old partitions", "topic", next.Name, "partitions", next.Partitions, "nodes", missing)
	}
	return nil
}

// awaitMapped asks the nodes until every live one maps topic with n
// partitions, and returns those that did not within resizeAckWait.
func (t *Topics) awaitMapped(ctx context.Context, topic string, n int) []string {
	nc := t.h.Conn()
	inbox := nc.NewRespInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return t.h.LiveNodes()
	}
	defer func() { _ = sub.Unsubscribe() }()
	ctx, cancel := context.WithTimeout(ctx, resizeAckWait)
	defer cancel()
	confirmed := map[string]bool{}
	missing := func() []string {
		var out []string
		for _, node := range t.h.LiveNodes() {
			if !confirmed[node] {
				out = append(out, node)
			}
		}
		slices.Sort(out)
		return out
	}
	for {
		if err := nc.PublishRequest(mappedSubject(topic), inbox, nil); err != nil {
			return missing()
		}
		round, done := context.WithTimeout(ctx, resizeAskEvery)
		for {
			m, err := sub.NextMsgWithContext(round)
			if err != nil {
				break
			}
			var r mappedReply
			if json.Unmarshal(m.Data, &r) == nil && r.Partitions == n {
				confirmed[r.Node] = true
			}
		}
		done()
		left := missing()
		if len(left) == 0 || ctx.Err() != nil {
			return left
		}
	}
}
