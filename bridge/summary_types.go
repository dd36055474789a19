package bridge

import (
	"sort"
	"time"

	"github.com/jetmq/jetmq/wire"
)

// ClusterReporter is a Host that can describe its NATS cluster (the jetmq
// server is one); Summary reports no nodes on a Host that is not.
type ClusterReporter interface {
	ClusterView() wire.ClusterView
}

// summarySnapshot is everything one rebuild read.
type summarySnapshot struct {
	Began   time.Time
	At      time.Time
	Cluster wire.ClusterView
	Storage *wire.SummaryStorage
	Topics  []wire.SummaryTopic // by name
	Groups  []wire.SummaryGroup // by topic, group
	Txns    []wire.SummaryTxn   // by topic, prepared_at
	// TxnsTruncated: more open transactions than summaryTxnMax.
	TxnsTruncated bool
	Problems      []string
}

const summaryTopLag = 10

func (s *summarySnapshot) overview() wire.SummaryOverview {
	o := wire.SummaryOverview{At: s.At, TookMS: s.At.Sub(s.Began).Milliseconds(), Cluster: s.Cluster, Storage: s.Storage,
		Leaders: map[string]int{}, TopicLeaders: []wire.TopicLeader{}, TopLag: []wire.SummaryGroup{}, Problems: s.Problems}
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
		o.TopicLeaders = append(o.TopicLeaders, wire.TopicLeader{Topic: t.Name, Leader: t.Leader, Replicas: t.Replicas, ReplicasCurrent: t.ReplicasCurrent})
	}
	for _, g := range s.Groups {
		o.Totals.Groups++
		o.Totals.Acked += g.Acked
		o.Totals.Lag += g.Lag
	}
	o.Imbalanced = imbalanced(o.Leaders)
	top := append([]wire.SummaryGroup(nil), s.Groups...)
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

func (s *summarySnapshot) topicPage(req wire.SummaryRequest) wire.SummaryTopicPage {
	rows := s.Topics
	if req.Topic != "" {
		rows = filterRows(rows, func(t wire.SummaryTopic) bool { return t.Name == req.Topic })
	}
	return wire.SummaryTopicPage{At: s.At, Total: len(rows), Offset: req.Offset, Topics: pageRows(rows, req.Offset, req.Limit)}
}

func (s *summarySnapshot) groupPage(req wire.SummaryRequest) wire.SummaryGroupPage {
	rows := s.Groups
	if req.Topic != "" {
		rows = filterRows(rows, func(g wire.SummaryGroup) bool { return g.Topic == req.Topic })
	}
	return wire.SummaryGroupPage{At: s.At, Total: len(rows), Offset: req.Offset, Groups: pageRows(rows, req.Offset, req.Limit)}
}

func (s *summarySnapshot) txnList(topic string) wire.SummaryTxnList {
	rows := s.Txns
	if topic != "" {
		rows = filterRows(rows, func(t wire.SummaryTxn) bool { return t.Topic == topic })
	}
	out := wire.SummaryTxnList{At: s.At, Total: len(rows), Truncated: s.TxnsTruncated, Transactions: []wire.SummaryTxn{}}
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
