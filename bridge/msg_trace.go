package bridge

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/internal/jsapi"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// traceDLQScan bounds the dead letters of a topic a trace reads, in pages
// of traceDLQPage.
const (
	traceDLQScan = 10000
	traceDLQPage = 500
)

// trace answers MSG.TRACE: the stored message and, for every group of the
// topic, its state read off the group's consumers and DLQ.
func (s *Inspect) trace(ctx context.Context, ti TopicInfo, seq uint64) (wire.MsgTrace, error) {
	tm, err := s.getMsg(ctx, ti.Name, seq)
	if err != nil {
		return wire.MsgTrace{}, err
	}
	tm.Data = nil
	out := wire.MsgTrace{Message: tm, Groups: []wire.GroupTrace{}}
	groups, err := s.groups.listGroups(ctx, ti.Name)
	if err != nil {
		return out, registryErr(err)
	}
	byGroup, err := s.groups.consumersByGroup(ctx, ti.Name)
	if err != nil {
		return out, errUnavailable("list consumers of %q: %v", ti.Name, err)
	}
	dlq, err := s.scanDLQ(ctx, ti.Name, seq)
	if err != nil {
		return out, errUnavailable("read the DLQ of %q: %v", ti.Name, err)
	}
	for _, g := range groups {
		gt := wire.GroupTrace{Group: g.Name, Mode: g.Mode, Ordered: g.Ordered, Consumers: []wire.ConsumerTrace{}}
		for _, ci := range byGroup[g.Name] {
			if g.Ordered && g.Mode == core.ModeClustering && ci.Name != wire.OrderedConsumer(g.Name, tm.Partition) {
				continue // another partition's consumer
			}
			ct, err := s.consumerTrace(ctx, ti.Name, ci, tm)
			if err != nil {
				return out, errUnavailable("read stream %q: %v", ti.Name, err)
			}
			gt.Consumers = append(gt.Consumers, ct)
		}
		dlq.deadLetter(&gt)
		out.Groups = append(out.Groups, gt)
	}
	return out, nil
}

// consumersByGroup lists topic's consumers once, by the group they carry
// in their metadata.
func (s *GroupService) consumersByGroup(ctx context.Context, topic string) (map[string][]*jetstream.ConsumerInfo, error) {
	out := map[string][]*jetstream.ConsumerInfo{}
	st, err := s.js.Stream(ctx, topic)
	if err != nil {
		return nil, err
	}
	l := st.ListConsumers(ctx)
	for ci := range l.Info() {
		if g := ci.Config.Metadata[wire.MetaGroup]; g != "" {
			out[g] = append(out[g], ci)
		}
	}
	return out, l.Err()
}

// consumerTrace reads the message's state off one consumer's positions.
// Between the ack floor and the last delivered sequence a message is
// either waiting for its ack or acked out of order; when the consumer's
// ack-pending count equals the number of its messages in that window,
// every one of them is waiting, this one too.
func (s *Inspect) consumerTrace(ctx context.Context, topic string, ci *jetstream.ConsumerInfo, tm wire.TopicMsg) (wire.ConsumerTrace, error) {
	ct := wire.ConsumerTrace{Consumer: ci.Name, Member: ci.Config.Metadata[wire.MetaMember],
		AckFloor: ci.AckFloor.Stream, DeliveredSeq: ci.Delivered.Stream, AckPending: ci.NumAckPending,
		Redeliveries: ci.NumRedelivered, LastDelivered: ci.Delivered.Last, LastAck: ci.AckFloor.Last}
	filters := consumerFilters(ci.Config)
	switch {
	case !matchesAny(filters, tm.Subject):
		ct.State = wire.TraceFiltered
	case tm.Seq <= ct.AckFloor:
		ct.State = wire.TraceAcked
	case tm.Seq > ct.DeliveredSeq:
		ct.State = wire.TracePending
	default:
		inWindow, err := s.countWindow(ctx, topic, filters, ct.AckFloor+1, ct.DeliveredSeq+1)
		if err != nil {
			return ct, err
		}
		ct.State = wire.TraceDelivered
		if inWindow == uint64(ct.AckPending) {
			ct.State = wire.TraceAckPending
			redelivered := ct.Redeliveries == ct.AckPending
			if redelivered || ct.Redeliveries == 0 {
				ct.Redelivered = &redelivered
			}
		}
	}
	return ct, nil
}

// countWindow counts topic's messages on filters with from <= seq < to.
func (s *Inspect) countWindow(ctx context.Context, topic string, filters []string, from, to uint64) (uint64, error) {
	var n uint64
	for _, f := range filters {
		a, err := countFrom(ctx, s.nc, topic, f, from)
		if err != nil {
			return 0, err
		}
		b, err := countFrom(ctx, s.nc, topic, f, to)
		if err != nil {
			return 0, err
		}
		n += a - min(a, b)
	}
	return n, nil
}

// consumerFilters are the subjects a consumer of a topic selects; an
// unfiltered one selects every stored subject.
func consumerFilters(c jetstream.ConsumerConfig) []string {
	switch {
	case len(c.FilterSubjects) > 0:
		return c.FilterSubjects
	case c.FilterSubject != "":
		return []string{c.FilterSubject}
	}
	return []string{">"}
}

// matchesAny reports whether subject matches one of the filters.
func matchesAny(filters []string, subject string) bool {
	for _, f := range filters {
		if subjectMatches(f, subject) {
			return true
		}
	}
	return false
}

// subjectMatches is NATS subject matching of a literal subject against a
// filter with '*' and '>' wildcards.
func subjectMatches(filter, subject string) bool {
	ft, st := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, f := range ft {
		if f == ">" {
			return len(st) > i
		}
		if i >= len(st) || (f != "*" && f != st[i]) {
			return false
		}
	}
	return len(ft) == len(st)
}

// dlqScan is what one pass over a topic's DLQ found for a sequence: its
// dead letters by group, and how far the pass got.
type dlqScan struct {
	byGroup  map[string]*nats.Msg
	scanned  int
	complete bool
}

// scanDLQ reads the topic's dead letters (every group's, at most
// traceDLQScan, in pages of traceDLQPage) once, for the copies of seq
// (Mq-Orig-Seq).
func (s *Inspect) scanDLQ(ctx context.Context, topic string, seq uint64) (dlqScan, error) {
	out := dlqScan{byGroup: map[string]*nats.Msg{}}
	want, from := strconv.FormatUint(seq, 10), uint64(1)
	for out.scanned < traceDLQScan {
		page, err := jsapi.DirectGet(ctx, s.nc, wire.DLQStream(topic), jsapi.MsgGetRequest{Seq: from,
			NextBySubj: wire.DLQStreamSubjects(topic)[0], Batch: traceDLQPage, MaxBytes: int(s.nc.MaxPayload())})
		if errors.Is(err, jsapi.ErrNoStream) {
			out.complete = true // no DLQ stream yet: no dead letters
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out.scanned += len(page.Msgs)
		for _, m := range page.Msgs {
			if m.Header.Get(wire.HeaderOrigSeq) == want {
				// The subject $MQ.DLQ.<topic>.<group> names the group.
				out.byGroup[strings.TrimPrefix(m.Header.Get("Nats-Subject"), wire.DLQSubject(topic, ""))] = m
			}
		}
		if page.Pending == 0 || len(page.Msgs) == 0 {
			out.complete = true
			return out, nil
		}
		from = jsapi.Seq(page.Msgs[len(page.Msgs)-1]) + 1
	}
	return out, nil
}

// deadLetter fills in what the scan found of gt's group.
func (d dlqScan) deadLetter(gt *wire.GroupTrace) {
	gt.DLQScanned, gt.DLQComplete = d.scanned, d.complete
	m := d.byGroup[gt.Group]
	if m == nil {
		return
	}
	gt.DeadLettered, gt.DLQComplete, gt.DLQSeq = true, true, jsapi.Seq(m)
	gt.DeadAt, _ = time.Parse(time.RFC3339Nano, m.Header.Get(wire.HeaderDeadAt))
	gt.Attempts, _ = strconv.Atoi(m.Header.Get(wire.HeaderAttempt))
}
