package wire

import "time"

// The bulk listings behind the dashboard ($MQ.API.SUMMARY[.TOPICS|GROUPS|TXNS]),
// the dead-letter export and the message resend, see docs/PROTOCOL.md.

// ClusterView is the JetStream meta group as this node sees it.
type ClusterView struct {
	Name       string     `json:"name,omitempty"`
	MetaLeader string     `json:"meta_leader,omitempty"`
	Nodes      []NodeView `json:"nodes"`
}

// NodeView is one JetStream peer: healthy when it is current and online
// (for the answering node itself: ready, as /healthz says).
type NodeView struct {
	Name     string `json:"name"`
	Self     bool   `json:"self,omitempty"`
	Leader   bool   `json:"leader,omitempty"`
	Healthy  bool   `json:"healthy"`
	Current  bool   `json:"current"`
	Offline  bool   `json:"offline,omitempty"`
	ActiveMS int64  `json:"active_ms"`
	Lag      uint64 `json:"lag,omitempty"`
	Problem  string `json:"problem,omitempty"`
}

// SummaryTopic is one topic row of SUMMARY.TOPICS.
type SummaryTopic struct {
	Name       string `json:"name"`
	Partitions int    `json:"partitions"`
	Replicas   int    `json:"replicas"`
	Storage    string `json:"storage"`
	MaxAge     string `json:"max_age"`
	MaxBytes   int64  `json:"max_bytes"`
	MaxDelay   string `json:"max_delay"`
	Messages   uint64 `json:"messages"`
	Bytes      uint64 `json:"bytes"`
	FirstSeq   uint64 `json:"first_seq"`
	LastSeq    uint64 `json:"last_seq"`
	Groups     int    `json:"groups"`
	Delayed    int    `json:"delayed"`
	TxnOpen    int    `json:"txn_open"`
	TxnParked  int    `json:"txn_parked"`
	DLQ        uint64 `json:"dlq"`
	Leader     string `json:"leader,omitempty"`
	// ReplicasCurrent counts the replicas (leader included) that are
	// current and online.
	ReplicasCurrent int    `json:"replicas_current"`
	Problem         string `json:"problem,omitempty"`
}

// SummaryGroup is one group row of SUMMARY.GROUPS: its config essentials
// and its consumers' figures summed.
type SummaryGroup struct {
	Topic        string   `json:"topic"`
	Group        string   `json:"group"`
	Mode         string   `json:"mode"`
	Ordered      bool     `json:"ordered"`
	Tags         []string `json:"tags,omitempty"`
	MaxReconsume int      `json:"max_reconsume"`
	RetryBackoff []string `json:"retry_backoff"`
	Consumers    int      `json:"consumers"`
	// Lag is Pending + AckPending: the messages not yet acknowledged.
	Lag         uint64 `json:"lag"`
	Pending     uint64 `json:"pending"`
	AckPending  int    `json:"ack_pending"`
	Redelivered int    `json:"redelivered"`
	Waiting     int    `json:"waiting"`
	// Acked sums the consumers' acknowledged consumer sequences: its
	// growth between two snapshots is the consume rate.
	Acked       uint64 `json:"acked"`
	DLQ         uint64 `json:"dlq"`
	MembersLive int    `json:"members_live"`
}

// SummaryTxn is one open transaction of SUMMARY.TXNS.
type SummaryTxn struct {
	Topic string `json:"topic"`
	TxnSummary
	AgeMS int64 `json:"age_ms"`
}

// SummaryTotals adds up the topics and groups.
type SummaryTotals struct {
	Topics    int    `json:"topics"`
	Groups    int    `json:"groups"`
	Messages  uint64 `json:"messages"`
	Bytes     uint64 `json:"bytes"`
	Published uint64 `json:"published"` // Σ last_seq: its growth is the publish rate
	Acked     uint64 `json:"acked"`     // Σ group acked
	Lag       uint64 `json:"lag"`
	Delayed   int    `json:"delayed"`
	TxnOpen   int    `json:"txn_open"`
	TxnParked int    `json:"txn_parked"`
	DLQ       uint64 `json:"dlq"`
}

// SummaryStorage is the account's JetStream use and limits (-1: none).
type SummaryStorage struct {
	Memory      uint64 `json:"memory"`
	Store       uint64 `json:"store"`
	Streams     int    `json:"streams"`
	Consumers   int    `json:"consumers"`
	MaxMemory   int64  `json:"max_memory"`
	MaxStore    int64  `json:"max_store"`
	MaxStreams  int    `json:"max_streams"`
	MaxConsumer int    `json:"max_consumers"`
}

// SummaryOverview answers $MQ.API.SUMMARY.
type SummaryOverview struct {
	At      time.Time       `json:"at"`
	TookMS  int64           `json:"took_ms"`
	Cluster ClusterView     `json:"cluster"`
	Storage *SummaryStorage `json:"storage,omitempty"`
	Totals  SummaryTotals   `json:"totals"`
	// Leaders counts the topics whose stream each node leads; Imbalanced
	// is set when one node leads clearly more than its share.
	Leaders      map[string]int `json:"leaders"`
	Imbalanced   bool           `json:"imbalanced"`
	TopicLeaders []TopicLeader  `json:"topic_leaders"`
	// TopLag lists the groups with the most lag (at most summaryTopLag).
	TopLag   []SummaryGroup `json:"top_lag"`
	Problems []string       `json:"problems,omitempty"`
}

// TopicLeader says which node leads a topic's stream.
type TopicLeader struct {
	Topic           string `json:"topic"`
	Leader          string `json:"leader"`
	Replicas        int    `json:"replicas"`
	ReplicasCurrent int    `json:"replicas_current"`
}

// SummaryTopicPage answers $MQ.API.SUMMARY.TOPICS.
type SummaryTopicPage struct {
	At     time.Time      `json:"at"`
	Total  int            `json:"total"`
	Offset int            `json:"offset"`
	Topics []SummaryTopic `json:"topics"`
}

// SummaryGroupPage answers $MQ.API.SUMMARY.GROUPS.
type SummaryGroupPage struct {
	At     time.Time      `json:"at"`
	Total  int            `json:"total"`
	Offset int            `json:"offset"`
	Groups []SummaryGroup `json:"groups"`
}

// SummaryTxnList answers $MQ.API.SUMMARY.TXNS.
type SummaryTxnList struct {
	At           time.Time    `json:"at"`
	Total        int          `json:"total"`
	Truncated    bool         `json:"truncated,omitempty"`
	Transactions []SummaryTxn `json:"transactions"`
}

// SummaryAPIPrefix is where the bulk listings behind an operator's
// overview are served: $MQ.API.SUMMARY (nodes, totals, alerts),
// $MQ.API.SUMMARY.TOPICS, $MQ.API.SUMMARY.GROUPS, $MQ.API.SUMMARY.TXNS.
const SummaryAPIPrefix = APIPrefix + "SUMMARY"

// SummaryRequest is the optional body of every SUMMARY request.
type SummaryRequest struct {
	// Fresh waits for a snapshot taken after the request.
	Fresh bool `json:"fresh,omitempty"`
	// Topic keeps only one topic's rows (TOPICS, GROUPS, TXNS).
	Topic string `json:"topic,omitempty"`
	// Offset and Limit page the rows of TOPICS and GROUPS (default limit
	// summaryPage, at most summaryPageMax).
	Offset int `json:"offset,omitempty"`
	Limit  int `json:"limit,omitempty"`
}

// DLQExportRequest is the body of $MQ.API.DLQ.EXPORT.<topic>.<group>.
type DLQExportRequest struct {
	From  uint64 `json:"from,omitempty"`
	Limit *int   `json:"limit,omitempty"`
}

// DLQExport is one page of dead letters with their headers and bodies.
type DLQExport struct {
	Messages []DeadLetter `json:"messages"`
	// Next is the "from" of the next page; 0 when this page is the last.
	Next uint64 `json:"next,omitempty"`
}

// MsgResendRequest is the body of $MQ.API.MSG.RESEND.<topic>.
type MsgResendRequest struct {
	Seq   uint64 `json:"seq"`
	Group string `json:"group,omitempty"`
}

// MsgResendReply says where the copy was stored.
type MsgResendReply struct {
	Stream    string `json:"stream"`
	Seq       uint64 `json:"seq"`
	ResendOf  uint64 `json:"resend_of"`
	Group     string `json:"group,omitempty"`
	Duplicate bool   `json:"duplicate,omitempty"`
}
