package wire

import "time"

// States of a message for one consumer of a group (MSG.TRACE). JetStream
// keeps no per-message delivery history: each state is read off the
// consumer's positions (docs/PROTOCOL.md, "Message trace").
const (
	// TraceFiltered: the consumer's filter (the group's tags) does not
	// select the message; the group never gets it.
	TraceFiltered = "filtered"
	// TracePending: after the consumer's last delivered sequence: not
	// delivered yet.
	TracePending = "pending"
	// TraceAckPending: delivered and certainly not acknowledged yet: every
	// message between the ack floor and the last delivered one is pending.
	TraceAckPending = "ack_pending"
	// TraceDelivered: delivered, after the ack floor; it may or may not
	// have been acknowledged out of order.
	TraceDelivered = "delivered"
	// TraceAcked: at or below the ack floor: acknowledged, terminated, or
	// before the position the consumer started at.
	TraceAcked = "acked"
)

// MsgTrace is the reply of MSG.TRACE: the stored message (without data)
// and its state in every group of the topic.
type MsgTrace struct {
	Message TopicMsg     `json:"message"`
	Groups  []GroupTrace `json:"groups"`
}

// GroupTrace is the message's state in one group: one entry per consumer
// that could deliver it (the clustering durable, the ordered partition's
// consumer, each broadcasting member's durable), and its dead letter.
type GroupTrace struct {
	Group     string          `json:"group"`
	Mode      string          `json:"mode"`
	Ordered   bool            `json:"ordered,omitempty"`
	Consumers []ConsumerTrace `json:"consumers"`
	// DeadLettered: the group's DLQ holds a copy of it (Mq-Orig-Seq).
	DeadLettered bool      `json:"dead_lettered"`
	DLQSeq       uint64    `json:"dlq_seq,omitempty"`
	DeadAt       time.Time `json:"dead_at,omitempty"`
	Attempts     int       `json:"attempts,omitempty"`
	// DLQScanned dead letters of the topic (all its groups) were read;
	// DLQComplete is false when it has more than a trace reads
	// (dead_lettered false then means "not among the ones read").
	DLQScanned  int  `json:"dlq_scanned"`
	DLQComplete bool `json:"dlq_complete"`
}

// ConsumerTrace is the message's state in one consumer, with the
// consumer's positions it was read from.
type ConsumerTrace struct {
	Consumer string `json:"consumer"`
	Member   string `json:"member,omitempty"`
	State    string `json:"state"`
	// Redelivered is set when it can be told: true when every pending
	// message of the consumer was delivered more than once, false when
	// none was; absent otherwise, and for acked messages.
	Redelivered   *bool      `json:"redelivered,omitempty"`
	AckFloor      uint64     `json:"ack_floor"`
	DeliveredSeq  uint64     `json:"delivered_seq"`
	AckPending    int        `json:"ack_pending"`
	Redeliveries  int        `json:"redelivered_pending"`
	LastDelivered *time.Time `json:"last_delivered,omitempty"`
	LastAck       *time.Time `json:"last_ack,omitempty"`
}

// GroupLag is the reply of GROUP.LAG: what the group has not acknowledged
// yet, per partition (per member and partition for broadcasting groups).
type GroupLag struct {
	Topic   string         `json:"topic"`
	Group   string         `json:"group"`
	Mode    string         `json:"mode"`
	Ordered bool           `json:"ordered,omitempty"`
	Total   uint64         `json:"total"`
	Members []MemberLag    `json:"members,omitempty"`
	Lag     []PartitionLag `json:"partitions"`
}

// MemberLag is one broadcasting member's lag.
type MemberLag struct {
	Member   string         `json:"member"`
	Consumer string         `json:"consumer"`
	Total    uint64         `json:"total"`
	Lag      []PartitionLag `json:"partitions"`
}

// PartitionLag is the lag of one partition. Exact: Lag is the partition
// consumer's num_pending + num_ack_pending (ordered groups). Otherwise Lag
// counts the partition's messages after the consumer's ack floor, some of
// which may have been acknowledged out of order.
type PartitionLag struct {
	Partition  int    `json:"partition"`
	Lag        uint64 `json:"lag"`
	Exact      bool   `json:"exact"`
	Consumer   string `json:"consumer,omitempty"`
	Pending    uint64 `json:"pending,omitempty"`
	AckPending int    `json:"ack_pending,omitempty"`
	AckFloor   uint64 `json:"ack_floor"`
}
