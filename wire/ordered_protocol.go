package wire

import (
	"strconv"
	"time"

	"github.com/jetmq/jetmq/core"
)

// Ordered-group protocol subjects and shapes (docs/PROTOCOL.md, "Ordered
// groups").
const (
	// GroupAssignPrefix: the coordinator publishes a member's assignment
	// on $MQ.GROUP.ASSIGN.<topic>.<group>.<member> whenever it changes.
	GroupAssignPrefix = GroupPrefix + "ASSIGN."
	// GroupReleasePrefix: a member requests
	// $MQ.GROUP.RELEASE.<topic>.<group>.<member> to hand a partition back.
	GroupReleasePrefix = GroupPrefix + "RELEASE."
	// GroupOrderedStatusPrefix: request $MQ.GROUP.STATUS.<topic>.<group>.x
	// for the partition leases of an ordered group (served by its
	// coordinator; group info uses it).
	GroupOrderedStatusPrefix = GroupPrefix + "STATUS."
	// MetaPartition is the consumer metadata key naming the partition an
	// ordered group's partition consumer reads.
	MetaPartition = "jetmq.partition"
	// orderedSep joins group and partition in a partition consumer's name;
	// '~' never occurs in a group name, so the name collides with nothing.
	orderedSep = "~p"
	// LeaseStateOwned and LeaseStateRevoking are the states of a lease in
	// an Assignment.
	LeaseStateOwned    = "owned"
	LeaseStateRevoking = "revoking"
)

// OrderedConsumer is the durable consumer of partition p of an ordered
// clustering group: <group>~p<p>, filtered on <topic>.<p>.>.
func OrderedConsumer(group string, p int) string { return group + orderedSep + strconv.Itoa(p) }

// OrderedPartitionFilters are the filter subjects of partition p's
// consumer: the partition, or the partition's messages of each tag.
func OrderedPartitionFilters(topic string, p int, tags []string) []string {
	if len(tags) == 0 {
		return []string{PartitionFilter(topic, p)}
	}
	out := make([]string, len(tags))
	for i, t := range tags {
		out[i] = topic + "." + strconv.Itoa(p) + ".*." + t
	}
	return out
}

// OrderedAckWait is the ack wait of an ordered group's consumers. A
// failed or dead owner's messages come back through the coordinator's
// fence, not through the ack wait, so it is long: it only bounds how long
// a member may hold a prefetched message without a progress ack.
func OrderedAckWait(g core.GroupConfig) time.Duration {
	return max(30*time.Second, 10*g.SessionTimeout)
}

// OrderedMaxAckPending bounds the messages an owner holds per partition.
const OrderedMaxAckPending = 1024

// OrderedJoinReply is the JOIN reply for a member speaking "ordered".
type OrderedJoinReply struct {
	JoinReply
	// Partitions is the topic's partition count; Consumers[p] is the
	// consumer of partition p (clustering). Broadcasting members consume
	// JoinReply.Consumer, their own durable.
	Partitions int      `json:"partitions"`
	Consumers  []string `json:"consumers,omitempty"`
	// SessionTimeoutMs: a lease lasts this long after the member sent the
	// heartbeat that renewed it; SuspendMs: the pause before a failed
	// message is retried in place.
	SessionTimeoutMs int64 `json:"session_timeout_ms"`
	SuspendMs        int64 `json:"suspend_ms"`
	// AssignSubject: subscribe to it before the first heartbeat;
	// ReleaseSubject: request it to hand a partition back.
	AssignSubject  string `json:"assign_subject"`
	ReleaseSubject string `json:"release_subject"`
	// MemberToken (clustering) proves on every heartbeat, release and
	// leave that the sender is the member that joined.
	MemberToken string `json:"member_token,omitempty"`
}

// MemberLease is one partition in an Assignment.
type MemberLease struct {
	Partition int    `json:"partition"`
	Epoch     uint64 `json:"epoch"`
	State     string `json:"state"` // owned | revoking
}

// Assignment is what the coordinator tells a member, as the reply to its
// heartbeat request and pushed on the assign subject: every partition the
// member owns or must release. Rev orders assignments: ignore one whose
// Rev is lower than one already applied.
type Assignment struct {
	Member string        `json:"member"`
	Rev    uint64        `json:"rev"`
	Leases []MemberLease `json:"leases"`
	// Standby: the member owns nothing and the coordinator's target gives
	// it nothing (more members than partitions, leaving, or moved off
	// after a stall). A member that owns nothing yet but is due partitions
	// still being released by others is not standby.
	Standby bool `json:"standby,omitempty"`
}

// ReleaseRequest hands a partition back ($MQ.GROUP.RELEASE…). NextSeq,
// when set, is the stream sequence after the last message the member
// acked or dead-lettered, so the next owner starts exactly there even if
// the last acks are still on their way. Refence asks for the partition
// to be fenced and granted again (the member saw a delivery gap).
type ReleaseRequest struct {
	Token     string `json:"token"`
	Partition int    `json:"partition"`
	Epoch     uint64 `json:"epoch"`
	NextSeq   uint64 `json:"next_seq,omitempty"`
	Refence   bool   `json:"refence,omitempty"`
}

// OrderedHeartbeat is the body of an ordered member's heartbeat request:
// its token and the partitions whose head message waits for a retry.
type OrderedHeartbeat struct {
	Token     string `json:"token"`
	Suspended []int  `json:"suspended,omitempty"`
	// Leaving: the member is stopping; it gets no new partitions and each
	// one it releases goes to another member at once.
	Leaving bool `json:"leaving,omitempty"`
}

// OrderedLeave is the body of an ordered member's LEAVE.
type OrderedLeave struct {
	Token string `json:"token"`
}

// ReleaseReply confirms a release.
type ReleaseReply struct {
	Released bool `json:"released"`
}

// OrderedPartitionStatus is one partition of an ordered group in group
// info: owner, lease, lag and whether its head message is being retried.
type OrderedPartitionStatus struct {
	Partition  int    `json:"partition"`
	Owner      string `json:"owner,omitempty"`
	Epoch      uint64 `json:"epoch"`
	Revoking   bool   `json:"revoking,omitempty"`
	Pending    uint64 `json:"pending"`
	AckPending int    `json:"ack_pending"`
	Suspended  bool   `json:"suspended,omitempty"`
	// Waiting is the partition consumer's num_waiting (pull requests
	// waiting); Stalled: the coordinator found the owner holding the
	// partition without consuming it (unfinished messages, no waiting
	// pull, no progress for StallAfter) and is moving it.
	Waiting int  `json:"waiting"`
	Stalled bool `json:"stalled,omitempty"`
}
