package wire

import (
	"time"

	"github.com/jetmq/jetmq/core"
)

// GroupStatus is the reply of $MQ.API.GROUP.INFO and one entry of LIST:
// the group's config and its lag.
type GroupStatus struct {
	Config core.GroupConfig `json:"config"`
	// Consumer is the clustering durable (empty for broadcasting groups).
	Consumer string `json:"consumer,omitempty"`
	// Pending: messages not yet delivered; AckPending: delivered, not yet
	// acked; Redelivered: delivered more than once and not yet acked.
	// For broadcasting groups these are summed over the members.
	Pending     uint64 `json:"pending"`
	AckPending  int    `json:"ack_pending"`
	Redelivered int    `json:"redelivered"`
	// WaitingPulls counts open pull requests on the clustering durable,
	// which includes members that bound to it without joining.
	WaitingPulls int `json:"waiting_pulls,omitempty"`
	// DLQ is the number of the group's messages in the dead-letter queue.
	DLQ uint64 `json:"dlq"`
	// Members is one page of the members, sorted by id: MembersOffset is
	// the index of its first member, MembersTotal how many there are and
	// MembersLive how many of them are live (over all pages).
	Members       []MemberStatus `json:"members"`
	MembersTotal  int            `json:"members_total"`
	MembersOffset int            `json:"members_offset"`
	MembersLive   int            `json:"members_live"`
	// Partitions (ordered clustering groups): owner, epoch, lag and
	// suspension of every partition.
	Partitions []OrderedPartitionStatus `json:"partitions,omitempty"`
}

// MemberStatus is one member of a group. Clustering members are the ones
// that joined and sent heartbeats; broadcasting members are their durables
// with their own lag.
type MemberStatus struct {
	Member      string    `json:"member"`
	Consumer    string    `json:"consumer,omitempty"`
	Live        bool      `json:"live"`
	LastSeen    time.Time `json:"last_seen,omitempty"`
	Pending     uint64    `json:"pending"`
	AckPending  int       `json:"ack_pending"`
	Redelivered int       `json:"redelivered"`
	// AckFloor is the stream sequence up to which the member acked all.
	AckFloor uint64 `json:"ack_floor"`
}

// GroupInfoRequest is the (optional) body of $MQ.API.GROUP.INFO.<topic>.<group>:
// which page of the members to return. Limit 0 means DefaultMemberPage,
// shrunk as far as needed for the reply to fit the server's max_payload.
type GroupInfoRequest struct {
	Offset int `json:"offset,omitempty"`
	Limit  int `json:"limit,omitempty"`
}

// DefaultMemberPage is how many members GROUP.INFO carries unless asked
// otherwise (about 100 kB at most).
const DefaultMemberPage = 500

// ListMemberPage is how many members each GROUP.LIST entry carries (the
// first ones; GROUP.INFO pages through the rest).
const ListMemberPage = 20

// GroupList is the reply of $MQ.API.GROUP.LIST[.<topic>].
type GroupList struct {
	Groups []GroupStatus `json:"groups"`
}

// ResetRequest is the body of $MQ.API.GROUP.RESET.<topic>.<group>: move
// the group (or one broadcasting member) to a stream sequence or to the
// first message at or after a time. Exactly one of Seq and Time.
type ResetRequest struct {
	Seq    uint64    `json:"seq,omitempty"`
	Time   time.Time `json:"time,omitempty"`
	Member string    `json:"member,omitempty"`
}

// ResetReply says where consumers now start.
type ResetReply struct {
	Seq       uint64   `json:"seq"`
	Consumers []string `json:"consumers"`
}

// DeleteReply is the reply of $MQ.API.GROUP.DELETE.
type DeleteReply struct {
	Deleted   bool     `json:"deleted"`
	Consumers []string `json:"consumers"`
}

// DLQListRequest pages through a group's dead letters: from DLQ sequence
// From (0 = the first), at most Limit (default 100).
type DLQListRequest struct {
	From  uint64 `json:"from,omitempty"`
	Limit int    `json:"limit,omitempty"`
}

// DLQList is the reply of $MQ.API.DLQ.LIST: dead letters without bodies.
type DLQList struct {
	Total    uint64       `json:"total"`
	Messages []DeadLetter `json:"messages"`
	// Next is the DLQ sequence to continue from; 0 when done.
	Next uint64 `json:"next,omitempty"`
}

// DLQShowRequest selects one dead letter by its DLQ sequence.
type DLQShowRequest struct {
	Seq uint64 `json:"seq"`
}

// DLQReplayRequest replays up to Limit (default 1000) of a group's dead
// letters, oldest first, or only the one at Seq.
type DLQReplayRequest struct {
	Seq   uint64 `json:"seq,omitempty"`
	Limit int    `json:"limit,omitempty"`
}

// DLQReplayReply says how many were replayed and how many remain.
type DLQReplayReply struct {
	Replayed  int    `json:"replayed"`
	Remaining uint64 `json:"remaining"`
}

// DLQPurgeReply says how many dead letters were removed.
type DLQPurgeReply struct {
	Purged uint64 `json:"purged"`
}
