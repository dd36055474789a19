package bridge

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// apiTimeout bounds the JetStream work behind one admin request.
const apiTimeout = 10 * time.Second

// applyOpts says what apply may do.
type applyOpts struct {
	create bool // create the topic if it does not exist
	update bool // change an existing topic to the given config
	force  bool // raise partitions even while ordered groups have pending messages
}

// apply creates or updates a topic and installs its mappings on this node
// (the other nodes follow the stream advisory). Errors are *APIError.
func (t *Topics) apply(ctx context.Context, c core.TopicConfig, o applyOpts) (created bool, err error) {
	c.SetDefaults()
	if err := c.Validate("topic"); err != nil {
		return false, errBadRequest("%v", err)
	}
	s, err := t.js.Stream(ctx, c.Name)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		if !o.create {
			return false, errTopicNotFound(c.Name)
		}
		if err := t.ensureInternal(ctx, c); err != nil {
			return false, err
		}
		if _, err = t.js.CreateStream(ctx, topicStreamConfig(c)); err != nil {
			t.dropOrphanInternal(ctx, c.Name)
			return false, streamAdminError("create stream "+c.Name, err)
		}
		t.install(c)
		return true, nil
	case err != nil:
		return false, errUnavailable("read stream %q: %v", c.Name, err)
	}
	cur, ok := topicFromStream(s.CachedInfo().Config)
	if v, legacy := legacyTopic(s.CachedInfo().Config); legacy {
		return false, legacyTopicError(c.Name, v)
	}
	if err := badMetadata(s.CachedInfo().Config); err != nil {
		return false, err
	}
	if !ok {
		return false, errConflict("stream %q exists and is not a jetmq topic", c.Name)
	}
	if needsMigration(s.CachedInfo().Config) {
		if err := t.migrate(ctx, s.CachedInfo().Config, cur); err != nil {
			return false, errUnavailable("bring topic %q to the current layout: %v", c.Name, err)
		}
	}
	if cur == c {
		if err := t.ensureInternal(ctx, c); err != nil {
			return false, err
		}
		t.install(cur)
		return false, nil
	}
	if !o.update {
		return false, errConflict("topic %q exists with a different config (%s); update it instead", c.Name, configDiff(cur, c))
	}
	if err := t.checkChange(ctx, cur, c, o.force); err != nil {
		return false, err
	}
	if err := t.ensureInternal(ctx, c); err != nil {
		return false, err
	}
	sc := s.CachedInfo().Config
	if c.Partitions > cur.Partitions {
		if err := t.raisePartitions(ctx, sc, c); err != nil {
			return false, err
		}
	}
	next := topicStreamConfig(c)
	sc.Replicas, sc.MaxAge, sc.MaxBytes, sc.Metadata = next.Replicas, next.MaxAge, next.MaxBytes, next.Metadata
	sc.Subjects, sc.SubjectTransform, sc.Sources = next.Subjects, next.SubjectTransform, next.Sources
	if _, err := t.js.UpdateStream(ctx, sc); err != nil {
		return false, streamAdminError("update stream "+c.Name, err)
	}
	t.install(c)
	return false, nil
}

// ensureInternal creates or updates the topic's internal stream (it must
// exist before the topic stream that sources it).
func (t *Topics) ensureInternal(ctx context.Context, c core.TopicConfig) error {
	if _, err := t.js.CreateOrUpdateStream(ctx, internalStreamConfig(c)); err != nil {
		return streamAdminError("create or update stream "+wire.InternalStream(c.Name), err)
	}
	return nil
}

// dropOrphanInternal deletes the internal stream of a topic whose stream
// could not be created, so that a refused CREATE leaves nothing behind
// (and a later CREATE with other settings is not refused by it). When
// another node created the topic stream meanwhile, it keeps its internal
// stream.
func (t *Topics) dropOrphanInternal(ctx context.Context, name string) {
	if _, err := t.js.Stream(ctx, name); errors.Is(err, jetstream.ErrStreamNotFound) {
		_ = t.js.DeleteStream(ctx, wire.InternalStream(name))
	}
}

// JetStream errors that refuse a topic's settings on this server.
const (
	errCodeReplicasNotSupported     jetstream.ErrorCode = 10074
	errCodeStorageResourcesExceeded jetstream.ErrorCode = 10047
	errCodeMemoryResourcesExceeded  jetstream.ErrorCode = 10028
	errCodeSubjectOverlap           jetstream.ErrorCode = 10065
)

// streamAdminError classifies JetStream's refusal of a topic's streams:
// another stream on the topic's subjects is a 409; settings this server
// cannot meet (replicas without a cluster, more bytes than it may store)
// are the client's 400; what may pass by waiting (a cluster still
// forming, no answer) is 503, as retryStartup expects; the rest is 500.
func streamAdminError(what string, err error) error {
	var ae *jetstream.APIError
	if errors.As(err, &ae) {
		switch {
		case ae.ErrorCode == errCodeSubjectOverlap:
			return errConflict("%s: %s (another stream captures the topic's subjects)", what, ae.Description)
		case ae.ErrorCode == errCodeReplicasNotSupported, ae.ErrorCode == errCodeStorageResourcesExceeded,
			ae.ErrorCode == errCodeMemoryResourcesExceeded, ae.Code == 400:
			return errBadRequest("%s: %s", what, ae.Description)
		}
	}
	if retryable(err) {
		return errUnavailable("%s: %v", what, err)
	}
	return errInternal("%s: %v", what, err)
}

// checkChange refuses the changes that would lose order or data.
func (t *Topics) checkChange(ctx context.Context, cur, next TopicInfo, force bool) error {
	if next.Storage != cur.Storage {
		return errConflict("topic %q: storage cannot change from %s to %s", cur.Name, cur.Storage, next.Storage)
	}
	if next.Partitions < cur.Partitions {
		return errConflict("topic %q: lowering partitions from %d to %d is refused: it would remap keys and strand messages; create a new topic and move consumers instead (docs/TOPICS.md)", cur.Name, cur.Partitions, next.Partitions)
	}
	if next.Partitions == cur.Partitions || force {
		return nil
	}
	pending, err := t.orderedPending(ctx, cur.Name)
	if err != nil {
		return errUnavailable("topic %q: cannot check ordered groups before resizing: %v", cur.Name, err)
	}
	if len(pending) == 0 {
		return nil
	}
	var parts []string
	for _, g := range sortedKeys(pending) {
		parts = append(parts, fmt.Sprintf("%s (%d pending)", g, pending[g]))
	}
	return errConflict("topic %q: raising partitions from %d to %d remaps keys and would break per-key order while ordered groups have pending messages: %s; drain them first or force the change",
		cur.Name, cur.Partitions, next.Partitions, strings.Join(parts, ", "))
}

// orderedPending sums, per ordered group of topic, the messages not yet
// delivered or not yet acknowledged.
func (t *Topics) orderedPending(ctx context.Context, topic string) (map[string]uint64, error) {
	s, err := t.js.Stream(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	lister := s.ListConsumers(ctx)
	for ci := range lister.Info() {
		if ci.Config.Metadata[wire.MetaOrdered] != "true" {
			continue
		}
		group := ci.Config.Metadata[wire.MetaGroup]
		if group == "" {
			group = ci.Name
		}
		if n := ci.NumPending + uint64(ci.NumAckPending); n > 0 {
			out[group] += n
		}
	}
	return out, lister.Err()
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func configDiff(a, b TopicInfo) string {
	var d []string
	add := func(k string, x, y any) {
		if fmt.Sprint(x) != fmt.Sprint(y) {
			d = append(d, fmt.Sprintf("%s %v -> %v", k, x, y))
		}
	}
	add("partitions", a.Partitions, b.Partitions)
	add("replicas", a.Replicas, b.Replicas)
	add("max_age", a.MaxAge, b.MaxAge)
	add("max_bytes", a.MaxBytes, b.MaxBytes)
	add("storage", a.Storage, b.Storage)
	add("max_delay", a.MaxDelay, b.MaxDelay)
	return strings.Join(d, ", ")
}

// status reads a topic's live figures.
func (t *Topics) status(ctx context.Context, name string) (*wire.TopicStatus, error) {
	s, err := t.js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, errTopicNotFound(name)
	}
	if err != nil {
		return nil, errUnavailable("read stream %q: %v", name, err)
	}
	if err := badMetadata(s.CachedInfo().Config); err != nil {
		return nil, err
	}
	ti, ok := topicFromStream(s.CachedInfo().Config)
	if !ok {
		return nil, errNotFound("topic %q not found (stream %q is not a jetmq topic)", name, name)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(name+".>"))
	if err != nil {
		return nil, errUnavailable("stream info %q: %v", name, err)
	}
	st := &wire.TopicStatus{Config: ti, Bytes: info.State.Bytes, FirstSeq: info.State.FirstSeq,
		LastSeq: info.State.LastSeq, Consumers: info.State.Consumers}
	counts := make([]uint64, ti.Partitions)
	for subj, n := range info.State.Subjects {
		if p, ok := isStoredForm(name, subj, ti.Partitions); ok {
			counts[p] += n
		} else {
			st.Misfiled += n
		}
	}
	if src := t.watch.get(name); src.Stalled || src.Repairs > 0 {
		st.Source = &src
	}
	for p, n := range counts {
		st.Messages += n
		st.PartitionMsgs = append(st.PartitionMsgs, wire.PartitionCount{Partition: p, Messages: n})
	}
	if is, err := t.js.Stream(ctx, wire.InternalStream(name)); err == nil {
		if delayed, err := is.Info(ctx, jetstream.WithSubjectFilter(wire.DelayFilter(name))); err == nil {
			st.Delayed = uint64(len(delayed.State.Subjects))
		}
	}
	return st, nil
}

func (t *Topics) onAPI(ctx context.Context, m *nats.Msg) (any, error) {
	toks := strings.Split(strings.TrimPrefix(m.Subject, wire.APIPrefix+"TOPIC."), ".")
	op, name := toks[0], ""
	if len(toks) == 2 {
		name = toks[1]
	}
	if (op == "LIST") != (len(toks) == 1) || len(toks) > 2 {
		return nil, errBadRequest("unknown topic API subject %q: want $MQ.API.TOPIC.CREATE|UPDATE|INFO|DELETE|REPAIR.<topic> or $MQ.API.TOPIC.LIST", m.Subject)
	}
	if name != "" {
		if err := core.ValidateTopicName(name); err != nil {
			return nil, errBadRequest("%v", err)
		}
	}
	switch op {
	case "CREATE", "UPDATE":
		return t.handleApply(ctx, m, op, name)
	case "INFO":
		st, err := t.status(ctx, name)
		if err != nil {
			return nil, err
		}
		return st, nil
	case "DELETE":
		return t.handleDelete(ctx, m, name)
	case "REPAIR":
		return t.handleRepair(ctx, m, name)
	case "LIST":
		return t.handleList(ctx, m)
	default:
		return nil, errBadRequest("unknown topic operation %q: want CREATE, UPDATE, INFO, DELETE, REPAIR or LIST", op)
	}
}

func (t *Topics) handleApply(ctx context.Context, m *nats.Msg, op, name string) (any, error) {
	var req core.TopicRequest
	if err := decodeRequest("topic request", m.Data, &req); err != nil {
		return nil, err
	}
	if req.Name != nil && *req.Name != name {
		return nil, errBadRequest("name %q in the body differs from %q in the subject", *req.Name, name)
	}
	base := TopicInfo{Name: name}
	base.SetDefaults()
	if op == "UPDATE" {
		cur, err := t.status(ctx, name)
		if err != nil {
			return nil, err
		}
		base = cur.Config
	}
	c, err := req.Overlay(base)
	if err == nil {
		err = c.Validate("topic") // before apply fills zeros with defaults
	}
	if err != nil {
		return nil, errBadRequest("%v", err)
	}
	created, err := t.apply(ctx, c, applyOpts{create: op == "CREATE", update: op == "UPDATE", force: req.Force})
	if err != nil {
		return nil, err
	}
	st, err := t.status(ctx, name)
	if err != nil {
		return nil, err
	}
	st.Created = created
	return st, nil
}

func (t *Topics) handleDelete(ctx context.Context, m *nats.Msg, name string) (any, error) {
	if _, err := t.status(ctx, name); err != nil {
		return nil, err
	}
	// The topic goes with its internal stream and its dead letters.
	for _, stream := range []string{name, wire.InternalStream(name), wire.DLQStream(name)} {
		if err := t.js.DeleteStream(ctx, stream); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, errInternal("delete stream %q: %v", stream, err)
		}
	}
	t.uninstall(name)
	return map[string]any{"deleted": name}, nil
}

func (t *Topics) handleList(ctx context.Context, m *nats.Msg) (any, error) {
	out := wire.TopicList{Topics: []wire.TopicSummary{}}
	lister := t.js.ListStreams(ctx)
	for si := range lister.Info() {
		if ti, ok := topicFromStream(si.Config); ok && badMetadata(si.Config) == nil {
			out.Topics = append(out.Topics, wire.TopicSummary{Config: ti, Messages: si.State.Msgs, Bytes: si.State.Bytes})
		}
	}
	if err := lister.Err(); err != nil {
		return nil, errUnavailable("list streams: %v", err)
	}
	sort.Slice(out.Topics, func(i, j int) bool { return out.Topics[i].Config.Name < out.Topics[j].Config.Name })
	return out, nil
}

// badMetadata reports a topic stream of this layout whose jetmq metadata
// CREATE would refuse (changed through the JetStream API, say
// jetmq.partitions "100000"): such a topic is not served, and its admin
// requests say why.
func badMetadata(sc jetstream.StreamConfig) error {
	if v := sc.Metadata[wire.MetaVersion]; !hasKey(sc.Metadata, wire.MetaPartitions) || v != layoutVersion && v != migratableVersion {
		return nil
	}
	if _, _, err := wire.ParseTopicMetadata(sc.Metadata); err != nil {
		return errConflict("topic %q is not served: its stream's metadata was changed outside jetmq and is invalid: %v; restore the value jetmq wrote or recreate the topic", sc.Name, err)
	}
	return nil
}

func hasKey(m map[string]string, k string) bool { _, ok := m[k]; return ok }
