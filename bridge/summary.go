package bridge

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
)

const (
	// summaryFresh: a snapshot younger than this is served as it is.
	summaryFresh = 2 * time.Second
	// summaryStale: a snapshot older than this is not served at all; the
	// request waits for a new one.
	summaryStale = 30 * time.Second
	// summaryBuildTimeout bounds one rebuild.
	summaryBuildTimeout = 20 * time.Second
	// summaryWait bounds how long a request waits for a rebuild.
	summaryWait = 10 * time.Second
)

// Summary serves the bulk listings: every topic with its figures, every
// group with its lag and dead letters, every open transaction, the nodes
// and which node leads which topic, in one request each. Why a snapshot:
// those figures cost several JetStream requests per topic and per group
// (thousands with 1,000 topics), far more than an operator's page may
// wait. So one node-local snapshot is rebuilt in the background when a
// request finds it older than summaryFresh (never when nobody asks), and
// requests are answered from it at once; each reply says when it was
// taken ("at"). A request with {"fresh":true} waits for a snapshot begun
// after it (an operator's page after an action).
type Summary struct {
	topics *Topics
	groups *GroupService
	h      Host
	nc     *nats.Conn
	subs   []*nats.Subscription

	mu       sync.Mutex
	snap     *summarySnapshot
	building chan struct{} // closed when the running build ends; nil when none runs
	ctx      context.Context
	cancel   context.CancelFunc // ends a running build at Stop
	wg       sync.WaitGroup
	requests requestPool
}

// NewSummary returns the bulk-listing service.
func NewSummary(topics *Topics, groups *GroupService) *Summary {
	s := &Summary{topics: topics, groups: groups}
	s.requests = newRequestPool(inspectSlots, &s.wg)
	return s
}

// Name implements Service.
func (s *Summary) Name() string { return "summary" }

// Start implements Service.
func (s *Summary) Start(ctx context.Context, h Host) error {
	s.h, s.nc = h, h.Conn()
	s.ctx, s.cancel = context.WithCancel(ctx)
	for _, subj := range []string{wire.SummaryAPIPrefix, wire.SummaryAPIPrefix + ".>"} {
		sub, err := s.nc.QueueSubscribe(subj, wire.ServiceQueue, s.requests.serve(s.onRequest))
		if err != nil {
			return err
		}
		s.subs = append(s.subs, sub)
	}
	return nil
}

// Stop implements Service.
func (s *Summary) Stop(ctx context.Context) error {
	for _, sub := range s.subs {
		_ = drainSub(ctx, sub)
	}
	if s.cancel != nil {
		s.cancel()
	}
	return waitCtx(ctx, &s.wg)
}

const (
	summaryPage    = 1000
	summaryPageMax = 5000
)

func (s *Summary) onRequest(_ context.Context, m *nats.Msg) (any, error) {
	var req wire.SummaryRequest
	if err := decodeRequest("request", m.Data, &req); err != nil {
		return nil, err
	}
	if req.Topic != "" {
		if err := core.ValidateTopicName(req.Topic); err != nil {
			return nil, errBadRequest("topic: %v", err)
		}
	}
	if req.Offset < 0 || req.Limit < 0 || req.Limit > summaryPageMax {
		return nil, errBadRequest("offset must be 0 or more and limit 0 to %d", summaryPageMax)
	}
	if req.Limit == 0 {
		req.Limit = summaryPage
	}
	what := strings.TrimPrefix(strings.TrimPrefix(m.Subject, wire.SummaryAPIPrefix), ".")
	if what != "" && what != "TOPICS" && what != "GROUPS" && what != "TXNS" {
		return nil, errBadRequest("unknown summary %q: want %s, %s.TOPICS, %s.GROUPS or %s.TXNS", what, wire.SummaryAPIPrefix, wire.SummaryAPIPrefix, wire.SummaryAPIPrefix, wire.SummaryAPIPrefix)
	}
	snap, err := s.snapshot(req.Fresh)
	if err != nil {
		return nil, err
	}
	switch what {
	case "TOPICS":
		return snap.topicPage(req), nil
	case "GROUPS":
		return snap.groupPage(req), nil
	case "TXNS":
		return snap.txnList(req.Topic), nil
	}
	return snap.overview(), nil
}

// snapshot returns a snapshot fit to serve, starting a rebuild when the
// current one is not fresh; fresh waits for one begun after the call.
func (s *Summary) snapshot(fresh bool) (*summarySnapshot, error) {
	asked := time.Now()
	deadline := time.NewTimer(summaryWait)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		snap, done := s.snap, s.building
		old := snap == nil || time.Since(snap.At) > summaryFresh || (fresh && snap.Began.Before(asked))
		if old && done == nil {
			done = s.startBuild()
		}
		s.mu.Unlock()
		// A stale-enough snapshot is served while the rebuild runs; a
		// fresh request waits for a build begun after it (a build that
		// was running already ends, and the next turn starts another).
		if snap != nil && (!fresh || !snap.Began.Before(asked)) && time.Since(snap.At) <= summaryStale {
			return snap, nil
		}
		if done == nil {
			continue
		}
		select {
		case <-done:
		case <-deadline.C:
			return nil, errUnavailable("the summary is not ready within %s: JetStream is slow to answer", summaryWait)
		}
	}
}

// startBuild starts a rebuild; s.mu is held.
func (s *Summary) startBuild() chan struct{} {
	done := make(chan struct{})
	s.building = done
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(s.ctx, summaryBuildTimeout)
		defer cancel()
		snap, err := s.build(ctx)
		s.mu.Lock()
		if err == nil {
			s.snap = snap
		} else {
			s.h.Logger().Warn("summary: rebuilding the snapshot failed", "err", err)
		}
		s.building = nil
		s.mu.Unlock()
		close(done)
	}()
	return done
}
