package wire

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jetmq/jetmq/core"
)

// Group membership subjects (see docs/PROTOCOL.md, "Consumer groups").
const (
	// GroupJoinPrefix: request on $MQ.GROUP.JOIN.<topic>.<group>.
	GroupJoinPrefix = GroupPrefix + "JOIN."
	// GroupHeartbeatPrefix: members publish $MQ.GROUP.HB.<topic>.<group>.<member>.
	GroupHeartbeatPrefix = GroupPrefix + "HB."
	// GroupLeavePrefix: publish or request $MQ.GROUP.LEAVE.<topic>.<group>.<member>.
	GroupLeavePrefix = GroupPrefix + "LEAVE."
	// GroupAPIPrefix: $MQ.API.GROUP.CREATE|INFO|LIST|DELETE|RESET.<topic>[.<group>].
	GroupAPIPrefix = APIPrefix + "GROUP."
	// DLQAPIPrefix: $MQ.API.DLQ.LIST|SHOW|REPLAY|PURGE.<topic>.<group>.
	DLQAPIPrefix = APIPrefix + "DLQ."

	// ProtocolPull: bind a pull consumer to the consumer the JOIN reply
	// names and pull, ack, nak with delay and dead-letter as documented.
	ProtocolPull = "pull"
	// ProtocolOrdered is the ordered-group protocol (partition ownership
	// with fencing); a member that speaks it lists it in its JOIN request.
	ProtocolOrdered = "ordered"

	// MetaMember is the consumer metadata key naming a broadcasting member.
	MetaMember = "jetmq.member"
	// broadcastSep joins group and member in a broadcasting member's
	// durable name; the consumer's metadata is the authority.
	broadcastSep = "__"
)

// ClusteringConsumer is the durable a clustering (not ordered) group is.
func ClusteringConsumer(group string) string { return group }

// BroadcastConsumer is the durable that holds one broadcasting member's
// position: <group>__<member>.
func BroadcastConsumer(group, member string) string { return group + broadcastSep + member }

// GroupFilters are the filter subjects of a group's consumers: none for
// the whole topic (an unfiltered consumer, which JetStream serves on its
// fast path), or one filter per tag. Several tags make a multi-filter
// consumer, which JetStream serves far more slowly. A whole-topic group
// that starts at the last message per key needs a filter all the same
// (JetStream's rule for DeliverLastPerSubject): LastPerKeyFilter.
func GroupFilters(topic string, tags []string) []string {
	if len(tags) == 0 {
		return nil
	}
	out := make([]string, len(tags))
	for i, t := range tags {
		out[i] = TagFilter(topic, t)
	}
	return out
}

// LastPerKeyFilter is the filter of a whole-topic group that starts at the
// last message of every key: every stored subject. JetStream serves a
// filtered consumer more slowly than an unfiltered one (docs/NOTES.md).
func LastPerKeyFilter(topic string) string { return topic + ".>" }

// GroupID is "<topic>.<group>", the key of a group in the registry.
func GroupID(topic, group string) string { return topic + "." + group }

// SplitGroupID splits a GroupID.
func SplitGroupID(id string) (topic, group string, ok bool) {
	return strings.Cut(id, ".")
}

// HeartbeatInterval is how often a member of g announces itself.
func HeartbeatInterval(g core.GroupConfig) time.Duration {
	d := g.SessionTimeout / 3
	if g.Mode == core.ModeBroadcasting && g.MemberTTL > 0 && g.MemberTTL/3 < d {
		d = g.MemberTTL / 3
	}
	if d < 100*time.Millisecond {
		d = 100 * time.Millisecond
	}
	return d
}

// GroupAckWait is how long a delivered message may stay unacknowledged
// before JetStream gives it to another member: the group's
// session_timeout, so a member that dies without a goodbye loses its
// messages to the others that quickly. Live members keep the messages they
// hold with progress acks (the Go helper sends one every third of it).
func GroupAckWait(g core.GroupConfig) time.Duration { return g.SessionTimeout }

// GroupMaxAckPending is how many messages a group's consumer may have
// delivered and not yet acknowledged, over all its members. Members bound
// it themselves by what they pull (the Go helper: its prefetch, 500 by
// default), so this only has to stay out of their way: at JetStream's
// default of 1,000, a clustering group of three or more members with the
// default prefetch would be capped by the server rather than by its
// members.
const GroupMaxAckPending = 20000

// JoinRequest is the body of a request on $MQ.GROUP.JOIN.<topic>.<group>.
type JoinRequest struct {
	// Member identifies the member; required for broadcasting members that
	// want to resume (empty: the broker picks a fresh id).
	Member string `json:"member,omitempty"`
	// Protocols the member speaks; empty means ["pull"].
	Protocols []string `json:"protocols,omitempty"`
	// Create, when set, creates the group if it does not exist; if it
	// exists, its mode, ordered flag and tags must match.
	Create *core.GroupConfig `json:"create,omitempty"`
	// Presence is a subject the member answers any request on while it
	// lives (it also sends its heartbeats with it as the reply subject).
	// A broadcasting JOIN with the id of a member whose presence still
	// answers is refused (409): that member is alive.
	Presence string `json:"presence,omitempty"`
}

// Speaks reports whether the request lists protocol p.
func (r JoinRequest) Speaks(p string) bool {
	if len(r.Protocols) == 0 {
		return p == ProtocolPull
	}
	for _, q := range r.Protocols {
		if q == p {
			return true
		}
	}
	return false
}

// JoinReply tells a member how to consume.
type JoinReply struct {
	Protocol string `json:"protocol"` // "pull" (ordered groups: "ordered")
	Topic    string `json:"topic"`
	Group    string `json:"group"`
	Member   string `json:"member"`
	Mode     string `json:"mode"`
	Ordered  bool   `json:"ordered"`
	// Stream and Consumer name the JetStream consumer to bind to and pull
	// from (protocol "pull").
	Stream         string   `json:"stream"`
	Consumer       string   `json:"consumer"`
	FilterSubjects []string `json:"filter_subjects"`
	AckWaitMs      int64    `json:"ack_wait_ms"`
	MaxReconsume   int      `json:"max_reconsume"`
	MaxDeliver     int      `json:"max_deliver"`
	RetryBackoffMs []int64  `json:"retry_backoff_ms"`
	// DLQStream and DLQSubject: where dead letters go.
	DLQStream  string `json:"dlq_stream"`
	DLQSubject string `json:"dlq_subject"`
	// HeartbeatSubject: publish here every HeartbeatMs (any body) while a
	// member; LeaveSubject: publish here when leaving.
	HeartbeatSubject string `json:"heartbeat_subject"`
	HeartbeatMs      int64  `json:"heartbeat_ms"`
	LeaveSubject     string `json:"leave_subject"`
}

// Policy is the retry policy the reply announces.
func (r JoinReply) Policy() core.RetryPolicy {
	p := core.RetryPolicy{MaxReconsume: r.MaxReconsume}
	for _, ms := range r.RetryBackoffMs {
		p.Backoff = append(p.Backoff, time.Duration(ms)*time.Millisecond)
	}
	return p
}

// NewJoinReply fills the parts of a pull-protocol reply that follow from
// the group config, member and consumer.
func NewJoinReply(g core.GroupConfig, member, consumer string) JoinReply {
	r := JoinReply{Protocol: ProtocolPull, Topic: g.Topic, Group: g.Name, Member: member, Mode: g.Mode, Ordered: g.Ordered,
		Stream: g.Topic, Consumer: consumer, FilterSubjects: GroupFilters(g.Topic, g.Tags),
		AckWaitMs: GroupAckWait(g).Milliseconds(), MaxReconsume: g.MaxReconsume, MaxDeliver: core.PolicyOf(g).MaxDeliver(),
		DLQStream: DLQStream(g.Topic), DLQSubject: DLQSubject(g.Topic, g.Name),
		HeartbeatSubject: GroupHeartbeatPrefix + g.Topic + "." + g.Name + "." + member,
		HeartbeatMs:      HeartbeatInterval(g).Milliseconds(),
		LeaveSubject:     GroupLeavePrefix + g.Topic + "." + g.Name + "." + member}
	for _, d := range g.RetryBackoff {
		r.RetryBackoffMs = append(r.RetryBackoffMs, d.Milliseconds())
	}
	return r
}

// DecodeJoinRequest decodes a JOIN body strictly, its create config too.
func DecodeJoinRequest(b []byte) (JoinRequest, error) {
	var raw struct {
		Member    string          `json:"member"`
		Protocols []string        `json:"protocols"`
		Create    json.RawMessage `json:"create"`
		Presence  string          `json:"presence"`
	}
	if err := core.DecodeStrict(b, &raw); err != nil {
		return JoinRequest{}, err
	}
	req := JoinRequest{Member: raw.Member, Protocols: raw.Protocols, Presence: raw.Presence}
	if len(raw.Create) > 0 && string(raw.Create) != "null" {
		g, err := core.DecodeGroupConfig(raw.Create)
		if err != nil {
			return JoinRequest{}, fmt.Errorf("create: %w", err)
		}
		req.Create = &g
	}
	return req, nil
}
