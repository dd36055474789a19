package bridge

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/jetmq/jetmq/internal/jsapi"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go/jetstream"
)

// Watching a topic's outbox source. The topic stream copies committed and
// fired delayed messages from its internal stream; if that copy stops, a
// commit answered COMMIT is never seen by consumers. nats-server restarts a
// source it has not heard from for 10 s on its own, but only while the
// same node stays the stream leader; after leader moves a source was seen
// stalled until the whole cluster restarted. The watcher runs on one node
// (a singleton) and repairs what it finds.
const (
	// sourceWatchEvery is how often the watcher looks at every topic while
	// one looks wrong (suspect, stalled or just repaired); sourceWatchIdle
	// while all are well: an idle tenant's watcher lists its streams four
	// times a minute, not twelve.
	sourceWatchEvery = 5 * time.Second
	sourceWatchIdle  = 15 * time.Second
	// sourceStallAfter is how long a source may stay silent before the
	// watcher calls it stalled: beyond nats-server's own 10 s health check
	// and the heartbeats a live source receives every few seconds.
	sourceStallAfter = 20 * time.Second
)

// sourceWatch is the watcher's state, shared with topic info, /metrics and
// /healthz on the node that runs it.
type sourceWatch struct {
	mu     sync.Mutex
	topics map[string]*sourceState
}

// sourceState is a topic's public source state plus the watcher's own
// bookkeeping.
type sourceState struct {
	wire.SourceState
	repaired time.Time // last repair, to let one take effect before the next
	suspect  time.Time // when a problem was first seen, since the last good look
	// held says the internal stream held messages at the last look. It
	// always holds the check driver's notice source ($MQ.INT.<topic>.N),
	// which jetmq never removes, so none at all after some means a purge
	// from outside.
	held bool
}

func (w *sourceWatch) state(topic string) *sourceState {
	if w.topics == nil {
		w.topics = map[string]*sourceState{}
	}
	st, ok := w.topics[topic]
	if !ok {
		st = &sourceState{}
		w.topics[topic] = st
	}
	return st
}

// get returns a copy of topic's state.
func (w *sourceWatch) get(topic string) wire.SourceState {
	w.mu.Lock()
	defer w.mu.Unlock()
	if st, ok := w.topics[topic]; ok {
		return st.SourceState
	}
	return wire.SourceState{}
}

// details lists the topics that cannot serve now, for /healthz.
func (w *sourceWatch) details(service string) []HealthDetail {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []HealthDetail
	for name, st := range w.topics {
		if st.Stalled {
			out = append(out, HealthDetail{Service: service, Topic: name,
				Problem: fmt.Sprintf("%s since %s", st.Problem, st.Since.UTC().Format(time.RFC3339))})
		}
		if !st.PurgedAt.IsZero() && time.Since(st.PurgedAt) < wire.PurgeReportFor {
			out = append(out, HealthDetail{Service: service, Topic: name,
				Problem: fmt.Sprintf("internal stream purged from outside jetmq at %s: its open transactions and waiting delayed messages are lost", st.PurgedAt.UTC().Format(time.RFC3339))})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Topic < out[j].Topic })
	return out
}

// watchSources is the singleton loop. Each round reads every stream of
// the account in one paged list (256 a request) rather than two stream
// infos a topic, so a round costs a few requests however many topics
// there are; a topic the list leaves out (a stream without a leader during
// an election) is read on its own.
func (t *Topics) watchSources(ctx context.Context) {
	every(ctx, t.watch.period, func(ctx context.Context) {
		listed := map[string]*jetstream.StreamInfo{}
		lister := t.js.ListStreams(ctx)
		for si := range lister.Info() {
			listed[si.Config.Name] = si
		}
		if lister.Err() != nil {
			listed = nil // read each topic on its own
		}
		for _, ti := range t.List() {
			t.checkSource(ctx, ti, listed)
		}
	})
}

// every calls fn every period() until ctx ends; each call's context ends
// after that period, so that one slow round cannot hold up the next.
func every(ctx context.Context, period func() time.Duration, fn func(ctx context.Context)) {
	for {
		d := period()
		wait := time.NewTimer(d)
		select {
		case <-ctx.Done():
			wait.Stop()
			return
		case <-wait.C:
		}
		rctx, cancel := context.WithTimeout(ctx, d)
		fn(rctx)
		cancel()
	}
}

// constant is a fixed period, for every.
func constant(d time.Duration) func() time.Duration { return func() time.Duration { return d } }

// period is how long the watcher waits before its next look.
func (w *sourceWatch) period() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, st := range w.topics {
		if !st.suspect.IsZero() || st.Stalled || time.Since(st.repaired) < 2*sourceStallAfter {
			return sourceWatchEvery
		}
	}
	return sourceWatchIdle
}

// checkSource looks at one topic's streams and outbox source, records what
// it finds and repairs what can be: a missing internal stream is
// recreated, a stalled source is restarted. A topic stream that cannot be
// read (no leader during an election) is reported while it lasts.
func (t *Topics) checkSource(ctx context.Context, ti TopicInfo, listed map[string]*jetstream.StreamInfo) {
	f := t.sourceProblem(ctx, ti, listed)
	t.watch.mu.Lock()
	st := t.watch.state(ti.Name)
	st.Lag = f.lag
	if f.problem == errNoInternal.Error() {
		st.held = false // recreated empty: not a purge
	}
	if f.internalMsgs >= 0 {
		if st.held && f.internalMsgs == 0 {
			st.PurgedAt = time.Now()
			t.log.Error("the topic's internal stream was purged from outside jetmq: its open transactions and waiting delayed messages are lost", "topic", ti.Name)
		}
		st.held = f.internalMsgs > 0
	}
	if f.problem == "" {
		st.Stalled, st.Problem, st.Since, st.suspect = false, "", time.Time{}, time.Time{}
		t.watch.mu.Unlock()
		return
	}
	if st.suspect.IsZero() {
		st.suspect = time.Now()
	}
	// A source that is still being set up (a new topic, a leader that just
	// moved) looks silent for a moment: only one that stays so is stalled.
	if !f.confirmed && time.Since(st.suspect) < sourceStallAfter {
		t.watch.mu.Unlock()
		return
	}
	if !st.Stalled || st.Problem != f.problem {
		t.log.Warn("topic cannot serve", "topic", ti.Name, "problem", f.problem, "lag", f.lag)
	}
	if !st.Stalled {
		st.Stalled, st.Since = true, time.Now()
	}
	st.Problem = f.problem
	due := f.repairable && time.Since(st.repaired) > sourceStallAfter
	if due {
		st.repaired = time.Now()
		st.Repairs++
	}
	t.watch.mu.Unlock()
	if due {
		if err := t.repairSource(ctx, ti, f.problem); err != nil {
			t.log.Warn("repairing the topic's outbox source failed; retrying later", "topic", ti.Name, "err", err)
		}
	}
}

// errNoInternal marks a topic whose internal stream is gone.
var errNoInternal = errors.New("internal stream missing")

// sourceFinding is what sourceProblem found.
type sourceFinding struct {
	problem    string // "" when all is well
	lag        uint64
	repairable bool // repairSource can fix it (an election cannot be)
	confirmed  bool // true at once (a stream gone or unreadable), not a source settling
	// internalMsgs is the internal stream's message count, -1 if unknown.
	internalMsgs int64
}

// sourceProblem says what is wrong with ti's streams and outbox source,
// from the round's stream list where it has both streams, else from
// reading them.
func (t *Topics) sourceProblem(ctx context.Context, ti TopicInfo, listed map[string]*jetstream.StreamInfo) sourceFinding {
	internal, hasInternal := listed[wire.InternalStream(ti.Name)]
	info, hasTopic := listed[ti.Name]
	if !hasInternal || !hasTopic {
		is, err := t.js.Stream(ctx, wire.InternalStream(ti.Name))
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return sourceFinding{problem: errNoInternal.Error(), repairable: true, confirmed: true, internalMsgs: -1}
		} else if err != nil {
			return sourceFinding{problem: "internal stream cannot be read: " + err.Error(), confirmed: true, internalMsgs: -1}
		}
		s, err := t.js.Stream(ctx, ti.Name)
		if err != nil {
			return sourceFinding{problem: "topic stream cannot be read: " + err.Error(), confirmed: true, internalMsgs: -1}
		}
		internal, info = is.CachedInfo(), s.CachedInfo()
	}
	f := outboxFinding(ti, info)
	f.internalMsgs = int64(internal.State.Msgs)
	return f
}

// outboxFinding judges a topic stream's info: its leader and its outbox
// source.
func outboxFinding(ti TopicInfo, info *jetstream.StreamInfo) sourceFinding {
	if info.Cluster != nil && info.Cluster.Leader == "" {
		return sourceFinding{problem: "topic stream has no leader", confirmed: true}
	}
	for _, src := range info.Sources {
		if src.Name != wire.InternalStream(ti.Name) {
			continue
		}
		switch {
		case src.Error != nil:
			return sourceFinding{problem: "outbox source error: " + src.Error.Description, lag: src.Lag, repairable: true}
		case src.Active < 0 || src.Active > sourceStallAfter:
			return sourceFinding{problem: fmt.Sprintf("outbox source silent for %s", src.Active.Round(time.Second)), lag: src.Lag, repairable: true}
		}
		return sourceFinding{lag: src.Lag}
	}
	return sourceFinding{problem: "outbox source missing from the topic stream", repairable: true}
}

// repairSource fixes what sourceProblem found. A missing internal stream
// is recreated (its content, open transactions and waiting delayed
// messages, is gone: that is logged as an error). A silent source is
// restarted: a replicated stream moves its leader, whose new source
// consumer resumes after the last message it copied; a single-replica one
// has the source taken out and put back by two updates, and nats-server
// resumes it from the last copied message recorded in the stream.
func (t *Topics) repairSource(ctx context.Context, ti TopicInfo, problem string) error {
	if problem == errNoInternal.Error() {
		if err := t.recreateInternal(ctx, ti); err != nil {
			return err
		}
	}
	s, err := t.js.Stream(ctx, ti.Name)
	if err != nil {
		return err
	}
	sc := s.CachedInfo().Config
	if sc.Replicas > 1 {
		return t.stepDown(ctx, ti.Name)
	}
	sc.Sources = nil
	if _, err := t.js.UpdateStream(ctx, sc); err != nil {
		return err
	}
	sc.Sources = topicStreamConfig(ti).Sources
	_, err = t.js.UpdateStream(ctx, sc)
	return err
}

// stepDown asks a replicated stream's leader to step down.
func (t *Topics) stepDown(ctx context.Context, stream string) error {
	return jsapi.StepDown(ctx, t.h.Conn(), stream)
}

// recreateInternal makes a deleted internal stream anew; the watcher then
// restarts the topic's source on it (repairSource).
func (t *Topics) recreateInternal(ctx context.Context, ti TopicInfo) error {
	t.log.Error("the topic's internal stream was deleted from outside jetmq: recreating it; its open transactions and waiting delayed messages are lost", "topic", ti.Name)
	if _, err := t.js.CreateStream(ctx, internalStreamConfig(ti)); err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return err
	}
	return nil
}
