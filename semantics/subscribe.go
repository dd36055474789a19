package semantics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Handler processes one delivered message. Returning nil acks it;
// returning an error retries it after the group's backoff, and after
// max_reconsume attempts moves it to the group's dead-letter queue with
// the error's text. ctx is cancelled when Stop gives up waiting.
type Handler func(ctx context.Context, d *Delivery) error

// Delivery is a message handed to a group member.
type Delivery struct {
	Topic     string
	Group     string
	Member    string
	Subject   string // stored subject <topic>.<partition>.<key>[.<tag>]
	Key       string // KeylessKey for keyless messages
	Tag       string
	Partition int
	// Attempt counts deliveries to this group (member), from 1.
	Attempt   int
	Seq       uint64 // stream sequence
	Published time.Time
	Headers   nats.Header
	Data      []byte
}

// fetchWait bounds one pull: an idle member asks again this often, and
// Stop waits at most this long for the pull in progress.
const fetchWait = time.Second

// Subscription is a running group member; Stop ends it.
type Subscription struct {
	ordered *orderedMember // set for Ordered() members
	nc      *nats.Conn
	js      jetstream.JetStream
	topic   string
	group   string
	handler Handler
	cfg     subscribeConfig
	log     *slog.Logger

	mu     sync.Mutex
	join   wire.JoinReply
	policy core.RetryPolicy
	cons   jetstream.Consumer
	// presence answers the broker's "are you alive?" probes (see
	// JoinRequest.Presence); it lives exactly as long as the member.
	presence *nats.Subscription

	held    *heldSet // every message received and not yet acked/nak'd
	queue   chan jetstream.Msg
	hctx    context.Context // handed to handlers
	hcancel context.CancelFunc

	stopping chan struct{}
	loops    sync.WaitGroup // fetch and heartbeat loops
	workers  sync.WaitGroup
	drained  chan struct{}
	stopOnce sync.Once
	stopErr  error
}

// Subscribe makes the caller a member of group on topic and hands every
// message the group gives it to h until Stop. It joins through
// $MQ.GROUP.JOIN.<topic>.<group> (creating the group from the options if
// it does not exist, unless WithoutCreate), binds to the consumer the
// broker names and pulls with explicit acks, retries and dead letters as
// docs/PROTOCOL.md describes. It returns once the member has joined.
//
// The member holds at most the prefetch count of messages (queued or in a
// handler) and keeps every one of them alive with progress acks, so slow
// handlers never cause redeliveries; a member that dies loses its
// messages to the others after the group's session_timeout.
func Subscribe(ctx context.Context, nc *nats.Conn, topic, group string, h Handler, opts ...SubscribeOption) (*Subscription, error) {
	if err := core.ValidateTopicName(topic); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTopicNotFound, err)
	}
	if err := core.ValidateGroupName(group); err != nil {
		return nil, err
	}
	if h == nil {
		return nil, errors.New("jetmq: nil handler")
	}
	cfg := defaultSubscribeConfig()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("jetmq: subscribe option: %w", err)
		}
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	if cfg.ordered {
		return subscribeOrderedGroup(ctx, nc, js, topic, group, h, cfg)
	}
	s := &Subscription{nc: nc, js: js, topic: topic, group: group, handler: h, cfg: cfg, log: cfg.logger,
		held: newHeldSet(), queue: make(chan jetstream.Msg, cfg.prefetch),
		stopping: make(chan struct{}), drained: make(chan struct{})}
	s.hctx, s.hcancel = context.WithCancel(context.Background())
	if err := s.answerPresence(); err != nil {
		s.hcancel()
		return nil, err
	}
	if err := s.bind(ctx); err != nil {
		s.hcancel()
		_ = s.presence.Unsubscribe()
		return nil, err
	}
	for i := range cfg.concurrency {
		s.workers.Add(1)
		go s.worker(i)
	}
	s.loops.Add(2)
	go s.fetchLoop()
	go s.heartbeatLoop()
	go s.held.keepAlive(s.JoinReply().AckWaitMs, s.drained)
	return s, nil
}

// Member is the member id (chosen by the broker if not given).
func (s *Subscription) Member() string { return s.JoinReply().Member }

// JoinReply is what the broker answered the last JOIN with.
func (s *Subscription) JoinReply() wire.JoinReply {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.join
}

// sendJoin sends the JOIN request of a member speaking protocol (creating
// the group as cfg wants, when allowed) and decodes the reply into out.
func sendJoin(ctx context.Context, nc *nats.Conn, topic, group string, cfg subscribeConfig, member, protocol string, out any) error {
	req := wire.JoinRequest{Member: member, Protocols: []string{protocol}, Presence: cfg.presence}
	if cfg.create {
		want := cfg.want
		req.Create = &want
	}
	body, _ := json.Marshal(req)
	ctx, cancel := context.WithTimeout(ctx, cfg.joinTimeout)
	defer cancel()
	msg, err := nc.RequestWithContext(ctx, wire.GroupJoinPrefix+topic+"."+group, body)
	if err != nil {
		return fmt.Errorf("jetmq: join %s/%s: %w", topic, group, err)
	}
	return wire.DecodeReply(msg.Data, out)
}

// requestJoin asks the broker for membership.
func (s *Subscription) requestJoin(ctx context.Context) (wire.JoinReply, error) {
	member := s.cfg.member
	if cur := s.JoinReply().Member; cur != "" {
		member = cur // keep the id across re-joins
	}
	var jr wire.JoinReply
	if err := sendJoin(ctx, s.nc, s.topic, s.group, s.cfg, member, wire.ProtocolPull, &jr); err != nil {
		return wire.JoinReply{}, err
	}
	if jr.Protocol != wire.ProtocolPull {
		return wire.JoinReply{}, fmt.Errorf("jetmq: join %s/%s: broker answered protocol %q, this helper speaks %q", s.topic, s.group, jr.Protocol, wire.ProtocolPull)
	}
	return jr, nil
}

// answerPresence subscribes the member's presence inbox, which answers
// every probe at once, so a second process joining with this member's id
// is refused while this one lives.
func (s *Subscription) answerPresence() error {
	inbox := s.nc.NewInbox()
	sub, err := s.nc.Subscribe(inbox, func(m *nats.Msg) { _ = m.Respond(nil) })
	if err != nil {
		return fmt.Errorf("jetmq: presence subscription: %w", err)
	}
	s.presence, s.cfg.presence = sub, inbox
	return nil
}

// bind joins and binds to the consumer the broker names.
func (s *Subscription) bind(ctx context.Context) error {
	jr, err := s.requestJoin(ctx)
	if err != nil {
		return err
	}
	cons, err := s.js.Consumer(ctx, jr.Stream, jr.Consumer)
	if err != nil {
		return fmt.Errorf("jetmq: bind to consumer %s on %s: %w", jr.Consumer, jr.Stream, err)
	}
	s.mu.Lock()
	s.join, s.policy, s.cons = jr, jr.Policy(), cons
	s.mu.Unlock()
	return nil
}

// fetchLoop pulls whenever at least half the prefetch room is free. All
// pulled messages go into the member's own queue at once, so every
// message the member holds is visible to the progress loop.
func (s *Subscription) fetchLoop() {
	defer s.loops.Done()
	defer close(s.queue)
	half := max(1, s.cfg.prefetch/2)
	for {
		room := s.cfg.prefetch - s.held.len()
		if room < half {
			select {
			case <-s.stopping:
				return
			case <-s.held.freed:
				continue
			}
		}
		select {
		case <-s.stopping:
			return
		default:
		}
		s.mu.Lock()
		cons := s.cons
		s.mu.Unlock()
		batch, err := cons.Fetch(room, jetstream.FetchMaxWait(fetchWait))
		if err == nil {
			for m := range batch.Messages() {
				s.held.add(m)
				s.queue <- m // never blocks: the queue holds prefetch
			}
			err = batch.Error()
		}
		if err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
			s.onFetchError(err)
		}
	}
}

// onFetchError re-joins when the consumer is gone (the group was
// recreated, or a broadcasting member was removed after member_ttl) and
// otherwise waits a little (broker restart, no connection).
func (s *Subscription) onFetchError(err error) {
	if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.joinTimeout)
		jerr := s.bind(ctx)
		cancel()
		if jerr == nil {
			return
		}
		err = jerr
	}
	s.log.Debug("jetmq: pull failed, retrying", "topic", s.topic, "group", s.group, "err", err)
	select {
	case <-s.stopping:
	case <-time.After(250 * time.Millisecond):
	}
}

// heartbeatLoop announces the member to the broker: at once (so that
// every node knows its presence, not only the one that served the JOIN),
// then every heartbeat interval.
func (s *Subscription) heartbeatLoop() {
	defer s.loops.Done()
	t := time.NewTicker(time.Duration(max(s.JoinReply().HeartbeatMs, 100)) * time.Millisecond)
	defer t.Stop()
	for {
		_ = s.nc.PublishRequest(s.JoinReply().HeartbeatSubject, s.cfg.presence, nil)
		select {
		case <-s.stopping:
			return
		case <-t.C:
		}
	}
}

// Stop stops pulling, lets the handlers finish every message the member
// holds (acking or retrying them), leaves the group and returns. If ctx
// ends first, handlers' contexts are cancelled and Stop returns ctx's
// error once they have returned.
func (s *Subscription) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() { s.stopErr = s.stop(ctx) })
	return s.stopErr
}

func (s *Subscription) stop(ctx context.Context) error {
	if s.ordered != nil {
		return s.ordered.stop(ctx)
	}
	close(s.stopping)
	done := make(chan struct{})
	go func() {
		s.loops.Wait() // the fetch loop closes the queue
		s.workers.Wait()
		close(s.drained)
		close(done)
	}()
	err := waitDrained(ctx, done, s.hcancel)
	s.hcancel()
	// Unsubscribe presence before the goodbye, which flushes: a process
	// joining with this id next finds no one answering.
	_ = s.presence.Unsubscribe()
	return errors.Join(err, leaveGroup(s.nc, s.JoinReply().LeaveSubject))
}

// waitDrained waits for done; when ctx ends first it cancels the handlers'
// context and still waits, returning ctx's error.
func waitDrained(ctx context.Context, done <-chan struct{}, cancelHandlers func()) error {
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		cancelHandlers()
		<-done
		return ctx.Err()
	}
}

// leaveGroup tells the broker the member is gone and flushes, so that the
// goodbye is on the wire before the caller closes its connection.
func leaveGroup(nc *nats.Conn, leaveSubject string) error {
	_ = nc.Publish(leaveSubject, nil)
	if err := nc.FlushTimeout(5 * time.Second); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		return err
	}
	return nil
}
