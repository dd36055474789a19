package wire

import (
	"time"

	"github.com/jetmq/jetmq/core"
)

// Replies of the topic API ($MQ.API.TOPIC.*), see docs/PROTOCOL.md.

// TopicStatus is the reply of TOPIC.INFO: the config plus live figures.
type TopicStatus struct {
	Config        core.TopicConfig `json:"config"`
	Messages      uint64           `json:"messages"` // visible messages, in <topic>.>
	Bytes         uint64           `json:"bytes"`
	FirstSeq      uint64           `json:"first_seq"`
	LastSeq       uint64           `json:"last_seq"`
	Consumers     int              `json:"consumers"`
	Delayed       uint64           `json:"delayed"`
	PartitionMsgs []PartitionCount `json:"partition_messages"`
	// Misfiled counts messages on a subject of the topic stream that is
	// not a stored form (left by an older jetmq; TOPIC.REPAIR moves them).
	Misfiled uint64 `json:"misfiled"`
	// Source is the outbox source as the watcher last saw it, on the node
	// that runs the watcher (absent elsewhere).
	Source  *SourceState `json:"source,omitempty"`
	Created bool         `json:"created,omitempty"`
}

// PartitionCount is the number of stored messages of one partition.
type PartitionCount struct {
	Partition int    `json:"partition"`
	Messages  uint64 `json:"messages"`
}

// TopicList is the reply of TOPIC.LIST.
type TopicList struct {
	Topics []TopicSummary `json:"topics"`
}

// TopicSummary is one line of TOPIC.LIST.
type TopicSummary struct {
	Config   core.TopicConfig `json:"config"`
	Messages uint64           `json:"messages"`
	Bytes    uint64           `json:"bytes"`
}

// RepairReply is the reply of TOPIC.REPAIR.
type RepairReply struct {
	Topic     string `json:"topic"`
	Moved     int    `json:"moved"`     // placed on their partition and removed from where they were
	Unplaced  int    `json:"unplaced"`  // junk that fits no input form; left where it is
	Remaining uint64 `json:"remaining"` // misfiled messages still left after this batch
}

// SourceState is what the source watcher last saw of one topic's outbox
// source (TOPIC.INFO "source").
type SourceState struct {
	Stalled bool      `json:"stalled"`
	Since   time.Time `json:"since,omitzero"`
	Lag     uint64    `json:"lag"`
	Problem string    `json:"problem,omitempty"`
	Repairs uint64    `json:"repairs"`
	// PurgedAt is when the watcher found the topic's internal stream
	// emptied from outside jetmq (its open transactions and waiting
	// delayed messages are lost); reported for PurgeReportFor.
	PurgedAt time.Time `json:"purged_at,omitzero"`
}

// PurgeReportFor is how long /healthz and topic info report a purge of a
// topic's internal stream.
const PurgeReportFor = 10 * time.Minute
