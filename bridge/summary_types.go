package bridge

import (
	"sort"
	"time"
)

// ClusterReporter is a Host that can describe its NATS cluster (the jetmq
// server is one); Summary reports no nodes on a Host that is not.
type ClusterReporter interface {
	ClusterView() ClusterView
}

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

// summarySnapshot is everything one rebuild read.
type summarySnapshot struct {
	Began   time.Time
	At      time.Time
	Cluster ClusterView
	Storage *SummaryStorage
	Topics  []SummaryTopic // by name
	Groups  []SummaryGroup // by topic, group
	Txns    []SummaryTxn   // by topic, prepared_at
	// TxnsTruncated: more open transactions than summaryTxnMax.
	TxnsTruncated bool
	Problems      []string
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

const summaryTopLag = 10

func (s *summarySnapshot) overview() SummaryOverview {
	o := SummaryOverview{At: s.At, TookMS: s.At.Sub(s.Began).Milliseconds(), Cluster: s.Cluster, Storage: s.Storage,
		Leaders: map[string]int{}, TopicLeaders: []TopicLeader{}, TopLag: []SummaryGroup{}, Problems: s.Problems}
	for _, n := range s.Cluster.Nodes {
		o.Leaders[n.Name] = 0
	}
	for _, t := range s.Topics {
		o.Totals.Topics++
		o.Totals.Messages += t.Messages
		o.Totals.Bytes += t.Bytes
		o.Totals.Published += t.LastSeq
		o.Totals.Delayed += t.Delayed
		o.Totals.TxnOpen += t.TxnOpen
		o.Totals.TxnParked += t.TxnParked
		o.Totals.DLQ += t.DLQ
		if t.Leader != "" {
			o.Leaders[t.Leader]++
		}
		o.TopicLeaders = append(o.TopicLeaders, TopicLeader{Topic: t.Name, Leader: t.Leader, Replicas: t.Replicas, ReplicasCurrent: t.ReplicasCurrent})
	}
	for _, g := range s.Groups {
		o.Totals.Groups++
		o.Totals.Acked += g.Acked
		o.Totals.Lag += g.Lag
	}
	o.Imbalanced = imbalanced(o.Leaders)
	top := append([]SummaryGroup(nil), s.Groups...)
	sort.SliceStable(top, func(i, j int) bool { return top[i].Lag > top[j].Lag })
	for _, g := range top {
		if len(o.TopLag) == summaryTopLag || g.Lag == 0 {
			break
		}
		o.TopLag = append(o.TopLag, g)
	}
	return o
}

// imbalanced: with two nodes or more, the busiest node leads at least two
// topics more than the least busy one and more than 1.5 times its even
// share.
func imbalanced(leaders map[string]int) bool {
	if len(leaders) < 2 {
		return false
	}
	total, most, least := 0, 0, -1
	for _, n := range leaders {
		total += n
		most = max(most, n)
		if least < 0 || n < least {
			least = n
		}
	}
	share := float64(total) / float64(len(leaders))
	return most-least >= 2 && float64(most) > 1.5*share
}

func (s *summarySnapshot) topicPage(req SummaryRequest) SummaryTopicPage {
	rows := s.Topics
	if req.Topic != "" {
		rows = filterRows(rows, func(t SummaryTopic) bool { return t.Name == req.Topic })
	}
	return SummaryTopicPage{At: s.At, Total: len(rows), Offset: req.Offset, Topics: pageRows(rows, req.Offset, req.Limit)}
}

func (s *summarySnapshot) groupPage(req SummaryRequest) SummaryGroupPage {
	rows := s.Groups
	if req.Topic != "" {
		rows = filterRows(rows, func(g SummaryGroup) bool { return g.Topic == req.Topic })
	}
	return SummaryGroupPage{At: s.At, Total: len(rows), Offset: req.Offset, Groups: pageRows(rows, req.Offset, req.Limit)}
}

func (s *summarySnapshot) txnList(topic string) SummaryTxnList {
	rows := s.Txns
	if topic != "" {
		rows = filterRows(rows, func(t SummaryTxn) bool { return t.Topic == topic })
	}
	out := SummaryTxnList{At: s.At, Total: len(rows), Truncated: s.TxnsTruncated, Transactions: []SummaryTxn{}}
	for _, t := range rows {
		t.AgeMS = s.At.Sub(t.PreparedAt).Milliseconds()
		out.Transactions = append(out.Transactions, t)
	}
	return out
}

func filterRows[T any](rows []T, keep func(T) bool) []T {
	var out []T
	for _, r := range rows {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

func pageRows[T any](rows []T, offset, limit int) []T {
	if offset >= len(rows) {
		return []T{}
	}
	rows = rows[offset:]
	if len(rows) > limit {
		rows = rows[:limit]
	}
	return rows
}
