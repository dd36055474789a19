package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/internal/jsapi"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Every node learns of topic changes from JetStream's stream advisories;
// these two periods are its backstop for an advisory it missed. Each costs
// a few requests however many topics there are: every message of an
// account with mappings is matched against all of them (docs/NOTES.md), so
// periodic requests per topic would make an idle node's load grow with the
// square of its topics.
const (
	// topicNamesEvery is how often a node compares the account's stream
	// names (one request per 1,024 streams) with the topics it knows, to
	// catch a created or deleted topic.
	topicNamesEvery = 5 * time.Second
	// topicResync is how often it re-reads every stream's config, to catch
	// a changed topic (raised partitions).
	topicResync = time.Minute
)

// streamAdvisories announce stream changes in the account; the last token
// is the stream name.
const streamAdvisories = jsapi.AdvisoryStreamAll

// Topics is the topic registry of one node. The truth lives in JetStream
// (each topic is a stream carrying jetmq metadata, replicated like any
// stream); every node derives the same account mappings from it, so a
// publish on any node lands in the right partition. It also serves the
// topic admin API and rejects publishes that fit no topic form.
type Topics struct {
	cfg []core.TopicConfig
	h   Host
	js  jetstream.JetStream
	log *slog.Logger

	mu        sync.RWMutex
	known     map[string]TopicInfo
	installed map[string]int  // topic -> partitions of the mappings in place
	legacy    map[string]bool // older jetmq's topics already reported
	others    map[string]bool // streams read and found not to be topics
	subs      []*nats.Subscription
	watch     sourceWatch
	cancel    context.CancelFunc
	wg        sync.WaitGroup
}

// NewTopics returns the registry; cfg are the topics of the config file,
// created or updated at start.
func NewTopics(cfg []core.TopicConfig) *Topics {
	return &Topics{cfg: cfg, known: map[string]TopicInfo{}, installed: map[string]int{}, legacy: map[string]bool{}, others: map[string]bool{}}
}

// Name implements Service.
func (t *Topics) Name() string { return "topics" }

// Start creates or updates the configured topics, installs the mappings of
// every topic and starts serving the admin API.
func (t *Topics) Start(ctx context.Context, h Host) error {
	t.h, t.js, t.log = h, h.JetStream(), h.Logger().With("service", "topics")
	for i := range t.cfg {
		if err := t.applyConfigured(ctx, t.cfg[i]); err != nil {
			return fmt.Errorf("topics[%d] %q: %w", i, t.cfg[i].Name, err)
		}
	}
	// A node restarting into a cluster that is electing leaders may not get
	// the stream list at once; it waits (not ready) instead of exiting.
	if err := retryStartup(ctx, t.log, "topic list", t.resync); err != nil {
		return err
	}
	if err := h.Registerer().Register(&topicCollector{t: t}); err != nil {
		return err
	}
	nc := h.Conn()
	for subj, cb := range map[string]nats.MsgHandler{
		streamAdvisories:           t.onAdvisory,
		wire.APIPrefix + "TOPIC.>": serveNow(t.onAPI),
		wire.RejectPrefix + ">":    t.onReject,
		mappedSubject("*"):         t.onMapped,
	} {
		var sub *nats.Subscription
		var err error
		if subj == streamAdvisories || subj == mappedSubject("*") {
			sub, err = nc.Subscribe(subj, cb) // every node reacts
		} else {
			sub, err = nc.QueueSubscribe(subj, wire.ServiceQueue, cb)
		}
		if err != nil {
			return err
		}
		t.subs = append(t.subs, sub)
	}
	lctx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	t.wg.Add(1)
	go t.resyncLoop(lctx)
	h.RunSingleton(lctx, "topic-sources", t.watchSources)
	return nil
}

// HealthDetails implements HealthDetailer: the topics that cannot serve
// now, as the source watcher on this node last saw them.
func (t *Topics) HealthDetails() []HealthDetail { return t.watch.details(t.Name()) }

// applyConfigured creates or updates a topic of the config file, retrying
// while JetStream is not available yet (a cluster that is still forming).
func (t *Topics) applyConfigured(ctx context.Context, c core.TopicConfig) error {
	return retryStartup(ctx, t.log, "topic "+c.Name, func(ctx context.Context) error {
		_, err := t.apply(ctx, c, applyOpts{create: true, update: true})
		return err
	})
}

// Stop implements Service.
func (t *Topics) Stop(ctx context.Context) error {
	for _, s := range t.subs {
		_ = drainSub(ctx, s)
	}
	if t.cancel != nil {
		t.cancel()
	}
	t.wg.Wait()
	return nil
}

// Lookup returns a topic known to this node.
func (t *Topics) Lookup(name string) (TopicInfo, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	ti, ok := t.known[name]
	return ti, ok
}

// List returns the topics known to this node, sorted by name.
func (t *Topics) List() []TopicInfo {
	t.mu.RLock()
	out := make([]TopicInfo, 0, len(t.known))
	for _, ti := range t.known {
		out = append(out, ti)
	}
	t.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (t *Topics) resyncLoop(ctx context.Context) {
	defer t.wg.Done()
	last := time.Now()
	every(ctx, constant(topicNamesEvery), func(rctx context.Context) {
		pass := t.syncNames
		if time.Since(last) >= topicResync {
			last, pass = time.Now(), t.resync
		}
		if err := pass(rctx); err != nil && ctx.Err() == nil {
			t.log.Warn("topic resync failed", "err", err)
		}
	})
}

// syncNames reads the account's stream names only, and reads on its own
// each stream it has not seen yet and each known topic missing from the
// list. Like resync, it never removes a topic on the list's word alone.
func (t *Topics) syncNames(ctx context.Context) error {
	seen := map[string]bool{}
	lister := t.js.StreamNames(ctx)
	for name := range lister.Name() {
		seen[name] = true
		if !t.seenBefore(name) {
			t.syncOne(ctx, name)
		}
	}
	if err := lister.Err(); err != nil {
		return err
	}
	for _, ti := range t.List() {
		if !seen[ti.Name] {
			t.syncOne(ctx, ti.Name)
		}
	}
	t.mu.Lock()
	for name := range t.others {
		if !seen[name] {
			delete(t.others, name)
		}
	}
	t.mu.Unlock()
	return nil
}

// seenBefore reports a stream this node has read: a topic it serves, or a
// stream that is not a topic.
func (t *Topics) seenBefore(name string) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	_, topic := t.known[name]
	return topic || t.others[name]
}

// resync reads every stream and installs the mappings of every topic. It
// never removes one: a stream missing from the list (a stream without a
// leader, a partial list during an election) is looked up on its own, and
// only a confirmed delete takes its mappings away (syncOne).
func (t *Topics) resync(ctx context.Context) error {
	seen := map[string]bool{}
	lister := t.js.ListStreams(ctx)
	for si := range lister.Info() {
		seen[si.Config.Name] = true
		t.observe(ctx, si)
	}
	if err := lister.Err(); err != nil {
		return err
	}
	for _, ti := range t.List() {
		if !seen[ti.Name] {
			t.syncOne(ctx, ti.Name)
		}
	}
	return nil
}

// observe takes in what one stream says: a topic to install (brought up to
// date first if it has the older layout), a source to watch, or an older
// jetmq's topic to report.
func (t *Topics) observe(ctx context.Context, si *jetstream.StreamInfo) {
	ti, ok := topicFromStream(si.Config)
	t.mu.Lock()
	if ok {
		delete(t.others, si.Config.Name)
	} else {
		t.others[si.Config.Name] = true
	}
	t.mu.Unlock()
	if !ok {
		if v, legacy := legacyTopic(si.Config); legacy {
			t.warnLegacy(si.Config.Name, v)
		} else if err := badMetadata(si.Config); err != nil {
			t.notServed(si.Config.Name, err)
		}
		return
	}
	if needsMigration(si.Config) {
		if err := t.migrate(ctx, si.Config, ti); err != nil {
			t.log.Warn("bringing topic to the current layout failed; the next resync retries", "topic", ti.Name, "err", err)
		}
	}
	t.install(ti)
}

// migrate updates a topic stream of the older layout in place: its
// subjects and input transform change, its messages and consumers stay.
func (t *Topics) migrate(ctx context.Context, sc jetstream.StreamConfig, ti TopicInfo) error {
	next := topicStreamConfig(ti)
	sc.Subjects, sc.SubjectTransform, sc.Metadata = next.Subjects, next.SubjectTransform, next.Metadata
	if _, err := t.js.UpdateStream(ctx, sc); err != nil {
		return err
	}
	t.log.Info("topic brought to the current layout", "topic", ti.Name, "version", layoutVersion)
	return nil
}

// syncOne re-reads one stream after an advisory or a change of ours. Only
// "stream not found", which JetStream's meta leader answers for a stream
// that has no assignment, removes a topic; any other failure keeps it.
func (t *Topics) syncOne(ctx context.Context, name string) {
	s, err := t.js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		t.mu.Lock()
		delete(t.others, name)
		t.mu.Unlock()
		t.uninstall(name)
		return
	}
	if err != nil {
		t.log.Warn("reading stream failed; the periodic resync will retry", "stream", name, "err", err)
		return
	}
	t.observe(ctx, s.CachedInfo())
}

// warnLegacy logs, once per stream, that an older jetmq's topic is not
// served.
func (t *Topics) warnLegacy(name, version string) {
	t.notServed(name, legacyTopicError(name, version))
}

// notServed stops serving a stream that is no longer a topic of this
// layout (its metadata was changed from outside) and logs why, once.
func (t *Topics) notServed(name string, why error) {
	t.mu.Lock()
	seen := t.legacy[name]
	t.legacy[name] = true
	t.mu.Unlock()
	t.uninstall(name)
	if !seen {
		t.log.Error("topic not served", "topic", name, "err", why)
	}
}

// install records ti and puts its mappings in place on this node.
func (t *Topics) install(ti TopicInfo) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.known[ti.Name] = ti
	if t.installed[ti.Name] == ti.Partitions {
		return
	}
	for src, dst := range topicMappings(ti.Name, ti.Partitions) {
		if err := t.h.Mappings().AddMapping(src, dst); err != nil {
			t.log.Error("installing topic mapping failed", "topic", ti.Name, "src", src, "dst", dst, "err", err)
			return
		}
	}
	t.installed[ti.Name] = ti.Partitions
	t.log.Info("topic mappings installed", "topic", ti.Name, "partitions", ti.Partitions)
}

func (t *Topics) uninstall(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.known, name)
	if _, ok := t.installed[name]; !ok {
		return
	}
	for src := range topicMappings(name, 1) {
		t.h.Mappings().RemoveMapping(src)
	}
	delete(t.installed, name)
	t.log.Info("topic mappings removed", "topic", name)
}

func (t *Topics) onAdvisory(m *nats.Msg) {
	i := strings.LastIndexByte(m.Subject, '.')
	name := m.Subject[i+1:]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	t.syncOne(ctx, name)
}

func (t *Topics) onReject(m *nats.Msg) {
	orig := strings.TrimPrefix(m.Subject, wire.RejectPrefix)
	respondAPIError(m, errBadRequest("subject %q fits no topic form: publish to <topic>, <topic>.<key> or <topic>.<key>.<tag>", orig))
}
