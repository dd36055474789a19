package semantics

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/internal/jsapi"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Typed errors of the producer; they wrap the cause.
var (
	ErrTopicNotFound = errors.New("jetmq: topic not found")
	ErrInvalidKey    = errors.New("jetmq: invalid key")
	ErrInvalidTag    = errors.New("jetmq: invalid tag")
	ErrTimeout       = errors.New("jetmq: timeout")
)

// Message is what a producer sends.
type Message struct {
	Topic   string
	Key     string // "" = keyless: spread evenly over partitions
	Tag     string
	Headers nats.Header
	Data    []byte
	// MsgID deduplicates: the broker stores a message once per MsgID within
	// the topic's duplicate window (Nats-Msg-Id).
	MsgID string
	// Delay or DeliverAt (not both) make the message a delayed one.
	Delay     time.Duration
	DeliverAt time.Time
}

// SendResult tells where a message was stored.
type SendResult struct {
	Topic     string
	Partition int
	Seq       uint64
	Duplicate bool
	// DeliverAt is set for delayed messages; Seq is then the sequence of
	// the waiting schedule, not of the delivered message.
	DeliverAt time.Time
	// DelayID names a delayed message for $MQ.API.DELAY.CANCEL.
	DelayID string
}

// ProducerOption configures a Producer.
type ProducerOption func(*Producer)

// WithMaxInFlight bounds SendAsync's unacknowledged messages (default 4096).
func WithMaxInFlight(n int) ProducerOption { return func(p *Producer) { p.maxInFlight = n } }

// WithTopicCacheTTL sets how long topic metadata (the partition count used to
// report partitions) is cached (default 10s).
func WithTopicCacheTTL(d time.Duration) ProducerOption { return func(p *Producer) { p.cacheTTL = d } }

// Producer sends messages to jetmq topics over a NATS connection.
type Producer struct {
	nc          *nats.Conn
	js          jetstream.JetStream
	maxInFlight int
	cacheTTL    time.Duration

	mu     sync.Mutex
	topics map[string]cachedTopic
}

type cachedTopic struct {
	partitions int
	at         time.Time
}

// NewProducer returns a producer on nc.
func NewProducer(nc *nats.Conn, opts ...ProducerOption) (*Producer, error) {
	p := &Producer{nc: nc, maxInFlight: 4096, cacheTTL: 10 * time.Second, topics: map[string]cachedTopic{}}
	for _, o := range opts {
		o(p)
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(p.maxInFlight))
	if err != nil {
		return nil, err
	}
	p.js = js
	return p, nil
}

// validate checks a message before anything is sent.
func (m *Message) validate() error {
	if err := core.ValidateTopicName(m.Topic); err != nil {
		return fmt.Errorf("%w: %v", ErrTopicNotFound, err)
	}
	if m.Key != "" {
		if m.Key == wire.KeylessKey {
			return fmt.Errorf("%w: %q is reserved for keyless messages; leave Key empty instead", ErrInvalidKey, wire.KeylessKey)
		}
		if err := core.ValidateToken("key", m.Key); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidKey, err)
		}
	}
	if m.Tag != "" {
		if m.Key == "" {
			return fmt.Errorf("%w: a tag needs a key", ErrInvalidTag)
		}
		if err := core.ValidateToken("tag", m.Tag); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidTag, err)
		}
	}
	if m.Delay != 0 && !m.DeliverAt.IsZero() {
		return fmt.Errorf("jetmq: set Delay or DeliverAt, not both")
	}
	if m.Delay < 0 {
		return fmt.Errorf("jetmq: negative Delay %s", m.Delay)
	}
	return nil
}

func (m *Message) delayed() bool { return m.Delay != 0 || !m.DeliverAt.IsZero() }

func (m *Message) natsMsg(subject string) *nats.Msg {
	out := nats.NewMsg(subject)
	for k, v := range m.Headers {
		out.Header[k] = v
	}
	if m.MsgID != "" {
		out.Header.Set(wire.HeaderNatsMsgID, m.MsgID)
	}
	out.Data = m.Data
	return out
}

// Send stores m and waits for the broker's acknowledgement.
func (p *Producer) Send(ctx context.Context, m *Message) (SendResult, error) {
	if err := m.validate(); err != nil {
		return SendResult{}, err
	}
	if m.delayed() {
		return p.sendDelayed(ctx, m)
	}
	ack, err := p.js.PublishMsg(ctx, m.natsMsg(wire.InputSubject(m.Topic, m.Key, m.Tag)))
	if err != nil {
		return SendResult{}, p.publishError(m.Topic, err)
	}
	return p.result(ctx, m, ack)
}

// result fills in the partition: computed from the key (the same function
// the broker's mapping uses) or, for a keyless message, read back.
func (p *Producer) result(ctx context.Context, m *Message, ack *jetstream.PubAck) (SendResult, error) {
	r := SendResult{Topic: ack.Stream, Seq: ack.Sequence, Duplicate: ack.Duplicate, Partition: -1}
	if m.Key != "" {
		n, err := p.partitions(ctx, m.Topic)
		if err != nil {
			return r, err
		}
		r.Partition = core.Partition(m.Key, n)
		return r, nil
	}
	if subj, err := p.storedSubjectOf(ctx, m.Topic, ack.Sequence); err == nil {
		if sm, perr := wire.ParseStoredSubject(subj); perr == nil {
			r.Partition = sm.Partition
		}
	}
	return r, nil
}

// storedSubjectOf asks the stream leader (not a direct get, which any
// replica may answer before it has the message) for the subject of seq.
func (p *Producer) storedSubjectOf(ctx context.Context, topic string, seq uint64) (string, error) {
	m, err := jsapi.MsgGet(ctx, p.nc, topic, jsapi.MsgGetRequest{Seq: seq})
	if err != nil {
		return "", err
	}
	if m == nil {
		return "", fmt.Errorf("jetmq: no message %d in %s", seq, topic)
	}
	return m.Subject, nil
}

// partitions returns the topic's partition count from a short-lived cache.
func (p *Producer) partitions(ctx context.Context, topic string) (int, error) {
	p.mu.Lock()
	c, ok := p.topics[topic]
	p.mu.Unlock()
	if ok && time.Since(c.at) < p.cacheTTL {
		return c.partitions, nil
	}
	s, err := p.js.Stream(ctx, topic)
	if err != nil {
		return 0, p.publishError(topic, err)
	}
	n, err := strconv.Atoi(s.CachedInfo().Config.Metadata[wire.MetaPartitions])
	if err != nil {
		return 0, fmt.Errorf("%w: stream %q is not a jetmq topic", ErrTopicNotFound, topic)
	}
	p.mu.Lock()
	p.topics[topic] = cachedTopic{partitions: n, at: time.Now()}
	p.mu.Unlock()
	return n, nil
}

func (p *Producer) sendDelayed(ctx context.Context, m *Message) (SendResult, error) {
	if m.Key == "" {
		return SendResult{}, fmt.Errorf("%w: a delayed message needs a key", ErrInvalidKey)
	}
	out := m.natsMsg(wire.DelayPrefix + wire.InputSubject(m.Topic, m.Key, m.Tag))
	if m.Delay != 0 {
		out.Header.Set(wire.HeaderDelay, m.Delay.String())
	} else {
		out.Header.Set(wire.HeaderDeliverAt, m.DeliverAt.UTC().Format(time.RFC3339Nano))
	}
	resp, err := p.nc.RequestMsgWithContext(ctx, out)
	if err != nil {
		return SendResult{}, requestError(err)
	}
	var reply wire.DelayReply
	if err := wire.DecodeReply(resp.Data, &reply); err != nil {
		if errors.Is(err, wire.ErrNotFound) {
			return SendResult{}, fmt.Errorf("%w: %v", ErrTopicNotFound, err)
		}
		return SendResult{}, err
	}
	return SendResult{Topic: reply.Stream, Seq: reply.Seq, Partition: reply.Partition, DeliverAt: reply.DeliverAt, Duplicate: reply.Duplicate, DelayID: reply.ID}, nil
}

// publishError maps JetStream publish errors to the producer's typed ones.
func (p *Producer) publishError(topic string, err error) error {
	switch {
	case errors.Is(err, jetstream.ErrNoStreamResponse), errors.Is(err, nats.ErrNoResponders), errors.Is(err, jetstream.ErrStreamNotFound):
		return fmt.Errorf("%w: %q: %v", ErrTopicNotFound, topic, err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return fmt.Errorf("%w: %v", ErrTimeout, err)
	}
	return err
}

// requestError maps a failed request to a jetmq service to the client's
// typed errors, keeping the cause in the chain.
func requestError(err error) error {
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return fmt.Errorf("%w: no jetmq service answered: %w", wire.ErrUnavailable, err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return err
}

// SendFuture is the pending result of SendAsync.
type SendFuture struct {
	p       *Producer
	m       *Message
	paf     jetstream.PubAckFuture
	delayed chan struct{}
	res     SendResult
	err     error
}

// Result waits for the acknowledgement (or ctx) and returns it.
func (f *SendFuture) Result(ctx context.Context) (SendResult, error) {
	if f.delayed != nil {
		select {
		case <-f.delayed:
			return f.res, f.err
		case <-ctx.Done():
			return SendResult{}, fmt.Errorf("%w: %v", ErrTimeout, ctx.Err())
		}
	}
	select {
	case ack := <-f.paf.Ok():
		r := SendResult{Topic: ack.Stream, Seq: ack.Sequence, Duplicate: ack.Duplicate, Partition: -1}
		if f.m.Key != "" {
			n, err := f.p.partitions(ctx, f.m.Topic)
			if err != nil {
				return r, err
			}
			r.Partition = core.Partition(f.m.Key, n)
		}
		return r, nil
	case err := <-f.paf.Err():
		return SendResult{}, f.p.publishError(f.m.Topic, err)
	case <-ctx.Done():
		return SendResult{}, fmt.Errorf("%w: %v", ErrTimeout, ctx.Err())
	}
}

// asyncStallWait bounds how long SendAsync blocks on a full window.
const asyncStallWait = 30 * time.Second

// SendAsync pipelines m: it returns at once (blocking only while
// WithMaxInFlight messages are unacknowledged) with a future for the
// acknowledgement; Flush waits for all of them. Keyless messages report
// Partition -1 here (Send reads it back). Delayed messages are sent
// synchronously in a goroutine of their own.
func (p *Producer) SendAsync(m *Message) (*SendFuture, error) {
	if err := m.validate(); err != nil {
		return nil, err
	}
	f := &SendFuture{p: p, m: m}
	if m.delayed() {
		f.delayed = make(chan struct{})
		go func() {
			defer close(f.delayed)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			f.res, f.err = p.sendDelayed(ctx, m)
		}()
		return f, nil
	}
	// nats.go gives up on a full window after 200 ms by default; SendAsync
	// promises to block instead (a burst on a loaded machine must wait for
	// acks, not fail), up to asyncStallWait.
	paf, err := p.js.PublishMsgAsync(m.natsMsg(wire.InputSubject(m.Topic, m.Key, m.Tag)), jetstream.WithStallWait(asyncStallWait))
	if err != nil {
		return nil, p.publishError(m.Topic, err)
	}
	f.paf = paf
	return f, nil
}

// Flush waits until every SendAsync so far is acknowledged or ctx ends.
func (p *Producer) Flush(ctx context.Context) error {
	select {
	case <-p.js.PublishAsyncComplete():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: %v", ErrTimeout, ctx.Err())
	}
}
