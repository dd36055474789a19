package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/internal/jsapi"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go/jetstream"
)

const (
	// summaryWorkers bounds the JetStream requests one rebuild has in
	// flight (a few per topic).
	summaryWorkers = 8
	// summaryTxnMax bounds the open transactions a snapshot lists.
	summaryTxnMax = 1000
)

// streamSet is the account's streams a rebuild found, by kind.
type streamSet struct {
	topics   []*jetstream.StreamInfo
	internal map[string]*jetstream.StreamInfo // by topic
	dlq      map[string]*jetstream.StreamInfo // by topic
}

// build reads one snapshot. Costs, with T topics: the stream list (pages
// of 256 streams), the group registry (one watch), the account info, and
// per topic a consumer list (topics with consumers), a DLQ subject count
// (topics with dead letters), two internal-stream subject counts and a
// transaction listing (topics with open transactions).
func (s *Summary) build(ctx context.Context) (*summarySnapshot, error) {
	snap := &summarySnapshot{Began: time.Now()}
	set, err := s.listStreams(ctx)
	if err != nil {
		return nil, fmt.Errorf("list streams: %w", err)
	}
	groups, err := s.readRegistry(ctx)
	if err != nil {
		return nil, fmt.Errorf("read group registry: %w", err)
	}
	if cr, ok := s.h.(ClusterReporter); ok {
		snap.Cluster = cr.ClusterView()
	}
	if ai, err := s.h.JetStream().AccountInfo(ctx); err == nil {
		snap.Storage = &wire.SummaryStorage{Memory: ai.Memory, Store: ai.Store, Streams: ai.Streams, Consumers: ai.Consumers,
			MaxMemory: ai.Limits.MaxMemory, MaxStore: ai.Limits.MaxStore, MaxStreams: ai.Limits.MaxStreams, MaxConsumer: ai.Limits.MaxConsumers}
	}
	byTopic := map[string][]core.GroupConfig{}
	for _, g := range groups {
		byTopic[g.Topic] = append(byTopic[g.Topic], g)
	}
	snap.Topics = make([]wire.SummaryTopic, len(set.topics))
	rows := make([][]wire.SummaryGroup, len(set.topics))
	txns := make([][]wire.SummaryTxn, len(set.topics))
	problems := make([]string, len(set.topics))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range summaryWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				si := set.topics[i]
				t, gs, tx, err := s.readTopic(ctx, si, set, byTopic[si.Config.Name])
				if err != nil {
					t.Problem, problems[i] = err.Error(), si.Config.Name+": "+err.Error()
				}
				snap.Topics[i], rows[i], txns[i] = t, gs, tx
			}
		}()
	}
	for i := range set.topics {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	for i := range set.topics {
		snap.Groups = append(snap.Groups, rows[i]...)
		snap.Txns = append(snap.Txns, txns[i]...)
		if problems[i] != "" {
			snap.Problems = append(snap.Problems, problems[i])
		}
	}
	if len(snap.Txns) > summaryTxnMax {
		snap.Txns, snap.TxnsTruncated = snap.Txns[:summaryTxnMax], true
	}
	snap.At = time.Now()
	return snap, ctx.Err()
}

// listStreams reads every stream's info (no subject detail) and sorts out
// the topics, their internal streams and their DLQs.
func (s *Summary) listStreams(ctx context.Context) (streamSet, error) {
	set := streamSet{internal: map[string]*jetstream.StreamInfo{}, dlq: map[string]*jetstream.StreamInfo{}}
	l := s.h.JetStream().ListStreams(ctx)
	for si := range l.Info() {
		name := si.Config.Name
		switch {
		case strings.HasPrefix(name, wire.InternalStreamPrefix):
			set.internal[strings.TrimPrefix(name, wire.InternalStreamPrefix)] = si
		case strings.HasPrefix(name, wire.DLQStreamPrefix):
			set.dlq[strings.TrimPrefix(name, wire.DLQStreamPrefix)] = si
		default:
			if _, ok := topicFromStream(si.Config); ok && badMetadata(si.Config) == nil {
				set.topics = append(set.topics, si)
			}
		}
	}
	sort.Slice(set.topics, func(i, j int) bool { return set.topics[i].Config.Name < set.topics[j].Config.Name })
	return set, l.Err()
}

// readRegistry reads every group config with one watch of the registry
// (one request per entry would be a thousand requests for a thousand
// groups).
func (s *Summary) readRegistry(ctx context.Context) ([]core.GroupConfig, error) {
	kv, err := s.h.JetStream().KeyValue(ctx, groupBucket)
	if err != nil {
		return nil, err
	}
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, err
	}
	defer func() { _ = w.Stop() }()
	var out []core.GroupConfig
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return out, ctx.Err()
			}
			if e == nil {
				return out, nil
			}
			t, g, ok := wire.SplitGroupID(e.Key())
			if !ok {
				continue
			}
			if cfg, err := decodeRegistryEntry(t, g, e.Value()); err == nil {
				out = append(out, cfg)
			}
		case <-ctx.Done():
			return out, ctx.Err()
		}
	}
}

// readTopic reads one topic's row, its groups' rows and its open
// transactions.
func (s *Summary) readTopic(ctx context.Context, si *jetstream.StreamInfo, set streamSet, groups []core.GroupConfig) (wire.SummaryTopic, []wire.SummaryGroup, []wire.SummaryTxn, error) {
	ti, _ := topicFromStream(si.Config)
	t := wire.SummaryTopic{Name: ti.Name, Partitions: ti.Partitions, Replicas: ti.Replicas, Storage: ti.Storage,
		MaxAge: ti.MaxAge.String(), MaxBytes: ti.MaxBytes, MaxDelay: ti.MaxDelay.String(),
		Messages: si.State.Msgs, Bytes: si.State.Bytes, FirstSeq: si.State.FirstSeq, LastSeq: si.State.LastSeq,
		Groups: len(groups), ReplicasCurrent: 1}
	if si.Config.Storage == jetstream.MemoryStorage {
		t.Storage = core.StorageMemory
	}
	if !s.h.Clustered() {
		// A lone node leads every stream; the stream list says so in
		// clustered mode only (it carries no cluster info otherwise).
		t.Leader = s.h.NodeName()
	}
	if c := si.Cluster; c != nil {
		t.Leader = c.Leader
		for _, p := range c.Replicas {
			if p.Current && !p.Offline {
				t.ReplicasCurrent++
			}
		}
	}
	var dlq map[string]uint64
	var err error
	if d := set.dlq[ti.Name]; d != nil && d.State.Msgs > 0 {
		if dlq, err = s.subjectCounts(ctx, d.Config.Name, wire.DLQPrefix+ti.Name+".*"); err != nil {
			return t, nil, nil, fmt.Errorf("count dead letters: %w", err)
		}
		for _, n := range dlq {
			t.DLQ += n
		}
	}
	rows, err := s.groupRows(ctx, si, groups, dlq)
	if err != nil {
		return t, nil, nil, err
	}
	var txns []wire.SummaryTxn
	if set.internal[ti.Name] != nil {
		if txns, err = s.readInternal(ctx, &t); err != nil {
			return t, rows, nil, err
		}
	}
	return t, rows, txns, nil
}

// groupRows sums each group's consumers, read with one consumer listing
// of the topic's stream.
func (s *Summary) groupRows(ctx context.Context, si *jetstream.StreamInfo, groups []core.GroupConfig, dlq map[string]uint64) ([]wire.SummaryGroup, error) {
	if len(groups) == 0 {
		return nil, nil
	}
	byGroup := map[string][]*jetstream.ConsumerInfo{}
	if si.State.Consumers > 0 {
		cis, err := s.listConsumers(ctx, si.Config.Name)
		if err != nil {
			return nil, fmt.Errorf("list consumers: %w", err)
		}
		for _, ci := range cis {
			if g := ci.Config.Metadata[wire.MetaGroup]; g != "" {
				byGroup[g] = append(byGroup[g], ci)
			}
		}
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i].Name < groups[j].Name })
	rows := make([]wire.SummaryGroup, 0, len(groups))
	for _, g := range groups {
		r := wire.SummaryGroup{Topic: g.Topic, Group: g.Name, Mode: g.Mode, Ordered: g.Ordered, Tags: g.Tags,
			MaxReconsume: g.MaxReconsume, RetryBackoff: []string{}, DLQ: dlq[wire.DLQSubject(g.Topic, g.Name)]}
		for _, d := range g.RetryBackoff {
			r.RetryBackoff = append(r.RetryBackoff, d.String())
		}
		live := 0
		for _, ci := range byGroup[g.Name] {
			r.Consumers++
			r.Pending += ci.NumPending
			r.AckPending += ci.NumAckPending
			r.Redelivered += ci.NumRedelivered
			r.Waiting += ci.NumWaiting
			r.Acked += ci.AckFloor.Consumer
			if ci.Config.Metadata[wire.MetaMember] != "" && ci.NumWaiting > 0 {
				live++
			}
		}
		r.Lag = r.Pending + uint64(r.AckPending)
		r.MembersLive = max(live, s.heardMembers(g))
		rows = append(rows, r)
	}
	return rows, nil
}

// heardMembers counts the members this node heard within three
// heartbeats (the member table every node keeps from heartbeats).
func (s *Summary) heardMembers(g core.GroupConfig) int {
	if s.groups == nil || s.groups.members == nil {
		return 0
	}
	return len(s.groups.members.list(wire.GroupID(g.Topic, g.Name), time.Now().Add(-3*wire.HeartbeatInterval(g))))
}

// consumerList is a $JS.API.CONSUMER.LIST reply.
type consumerList struct {
	Total     int                       `json:"total"`
	Offset    int                       `json:"offset"`
	Limit     int                       `json:"limit"`
	Consumers []*jetstream.ConsumerInfo `json:"consumers"`
}

// listConsumers reads every consumer of stream, page by page, without
// the stream info a jetstream.Stream handle would cost first.
func (s *Summary) listConsumers(ctx context.Context, stream string) ([]*jetstream.ConsumerInfo, error) {
	var out []*jetstream.ConsumerInfo
	for {
		var page consumerList
		if err := jsapi.Request(ctx, s.nc, "CONSUMER.LIST."+stream, map[string]int{"offset": len(out)}, &page); err != nil {
			return nil, err
		}
		out = append(out, page.Consumers...)
		if len(page.Consumers) == 0 || len(out) >= page.Total {
			return out, nil
		}
	}
}

// subjectCounts is a stream's message count per subject on filter.
func (s *Summary) subjectCounts(ctx context.Context, stream, filter string) (map[string]uint64, error) {
	var info struct {
		State struct {
			Subjects map[string]uint64 `json:"subjects"`
		} `json:"state"`
	}
	if err := jsapi.Request(ctx, s.nc, "STREAM.INFO."+stream, map[string]string{"subjects_filter": filter}, &info); err != nil {
		return nil, err
	}
	return info.State.Subjects, nil
}

// readInternal counts a topic's delayed messages, open and parked
// transactions from its internal stream, and lists the open ones (from
// the transaction service, which knows their checks and ages).
func (s *Summary) readInternal(ctx context.Context, t *wire.SummaryTopic) ([]wire.SummaryTxn, error) {
	stream := wire.InternalStream(t.Name)
	two, err := s.subjectCounts(ctx, stream, wire.InternalPrefix+t.Name+".*.*")
	if err != nil {
		return nil, fmt.Errorf("count delayed and parked: %w", err)
	}
	for subj := range two {
		switch kind, _, _ := strings.Cut(strings.TrimPrefix(subj, wire.InternalPrefix+t.Name+"."), "."); kind {
		case "D":
			t.Delayed++
		case wire.TxnKindParked:
			t.TxnParked++
		}
	}
	halves, err := s.subjectCounts(ctx, stream, wire.TxnKindFilter(t.Name, wire.TxnKindHalf))
	if err != nil {
		return nil, fmt.Errorf("count open transactions: %w", err)
	}
	open := map[string]bool{}
	for subj := range halves {
		if _, id, _, ok := wire.ParseTxnSubject(t.Name, subj); ok {
			open[id] = true
		}
	}
	t.TxnOpen = len(open)
	if t.TxnOpen == 0 {
		return nil, nil
	}
	return s.listTxns(ctx, t.Name)
}

// listTxns asks the transaction service for a topic's open transactions.
func (s *Summary) listTxns(ctx context.Context, topic string) ([]wire.SummaryTxn, error) {
	body, _ := json.Marshal(wire.TxnListRequest{Limit: summaryTxnMax})
	m, err := s.nc.RequestWithContext(ctx, wire.TxnAPIPrefix+"LIST."+topic, body)
	if err != nil {
		return nil, fmt.Errorf("list transactions: %w", err)
	}
	var l wire.TxnListReply
	if err := wire.DecodeReply(m.Data, &l); err != nil {
		return nil, fmt.Errorf("list transactions: %w", err)
	}
	out := make([]wire.SummaryTxn, 0, len(l.Transactions))
	for _, tx := range l.Transactions {
		out = append(out, wire.SummaryTxn{Topic: topic, TxnSummary: tx})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PreparedAt.Before(out[j].PreparedAt) })
	return out, nil
}
