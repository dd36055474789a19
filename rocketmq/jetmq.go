package rocketmq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
)

// requestTimeout bounds one jetmq request made for a client.
const requestTimeout = 5 * time.Second

// request sends a jetmq request and decodes its JSON reply into out.
func request(ctx context.Context, nc *nats.Conn, subject string, body []byte, out any) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	msg, err := requestWatched(ctx, nc, &nats.Msg{Subject: subject, Data: body})
	if err != nil {
		return err
	}
	return wire.DecodeReply(msg.Data, out)
}

// statusOf maps a jetmq failure to a RocketMQ status; notFound is the code
// a 404 means for this request (topic, group, message).
func statusOf(err error, notFound v2.Code, what string) *v2.Status {
	var api *wire.APIError
	var forbidden *ErrForbidden
	switch {
	case errors.As(err, &forbidden):
		return status(v2.Code_FORBIDDEN, what+": "+forbidden.Error())
	case errors.As(err, &api):
		switch api.Code {
		case 400:
			return status(v2.Code_BAD_REQUEST, what+": "+api.Description)
		case 403:
			return status(v2.Code_FORBIDDEN, what+": "+api.Description)
		case 404:
			return status(notFound, what+": "+api.Description)
		case 409:
			return status(v2.Code_PRECONDITION_FAILED, what+": "+api.Description)
		case 413:
			return status(v2.Code_MESSAGE_BODY_TOO_LARGE, what+": "+api.Description)
		case 503:
			return status(v2.Code_HA_NOT_AVAILABLE, what+": "+api.Description)
		}
		return status(v2.Code_INTERNAL_SERVER_ERROR, what+": "+api.Description)
	case errors.Is(err, nats.ErrNoResponders):
		return status(v2.Code_HA_NOT_AVAILABLE, what+": jetmq is not serving (no responders); retry")
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return status(v2.Code_PROXY_TIMEOUT, what+": jetmq did not answer in time")
	case errors.Is(err, context.Canceled):
		return status(v2.Code_REQUEST_TIMEOUT, what+": request cancelled")
	}
	return status(v2.Code_INTERNAL_SERVER_ERROR, fmt.Sprintf("%s: %v", what, err))
}

// cacheTTL is how long a looked-up topic or group config is used before
// it is looked up again; cacheMaxStale is how long a stale one keeps
// serving while the look-up fails (for example while a JetStream leader
// is being elected after a node died).
const (
	cacheTTL      = 5 * time.Second
	cacheMaxStale = time.Minute
)

// staleCache remembers looked-up values. A stale value is served at once
// while one background look-up refreshes it, so that a send or receive
// never waits on jetmq's metadata (a look-up reads stream infos, whose
// leaders may be on a node that just died) when it has an answer that
// was right seconds ago. Only a missing value is looked up inline.
type staleCache[V any] struct {
	mu sync.Mutex
	m  map[string]*staleEntry[V]
}

type staleEntry[V any] struct {
	v          V
	at         time.Time
	refreshing bool
}

func newStaleCache[V any]() *staleCache[V] { return &staleCache[V]{m: map[string]*staleEntry[V]{}} }

// get returns key's value, calling load inline when there is none (or it
// is older than cacheMaxStale) and in the background when it is older
// than cacheTTL. A background load that finds the value gone (gone says
// which statuses mean that) drops it; any other failure keeps the stale
// value until cacheMaxStale.
func (c *staleCache[V]) get(ctx context.Context, key string, load func(context.Context) (V, *v2.Status), gone func(*v2.Status) bool) (V, *v2.Status) {
	c.mu.Lock()
	e, ok := c.m[key]
	if ok && time.Since(e.at) < cacheTTL {
		c.mu.Unlock()
		return e.v, nil
	}
	if ok && time.Since(e.at) < cacheMaxStale {
		if !e.refreshing {
			e.refreshing = true
			go c.refresh(key, e, load, gone)
		}
		c.mu.Unlock()
		return e.v, nil
	}
	c.mu.Unlock()
	v, st := load(ctx)
	if st == nil {
		c.put(key, v)
	}
	return v, st
}

func (c *staleCache[V]) refresh(key string, e *staleEntry[V], load func(context.Context) (V, *v2.Status), gone func(*v2.Status) bool) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	v, st := load(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	e.refreshing = false
	if c.m[key] != e { // replaced or dropped meanwhile
		return
	}
	switch {
	case st == nil:
		c.m[key] = &staleEntry[V]{v: v, at: time.Now()}
	case gone(st):
		delete(c.m, key)
	}
}

func (c *staleCache[V]) put(key string, v V) {
	c.mu.Lock()
	c.m[key] = &staleEntry[V]{v: v, at: time.Now()}
	c.mu.Unlock()
}

// topicCache remembers topics' partition counts.
type topicCache struct {
	nc    *nats.Conn
	cache *staleCache[int]
}

func newTopicCache(nc *nats.Conn) *topicCache {
	return &topicCache{nc: nc, cache: newStaleCache[int]()}
}

// partitions returns the topic's partition count, or a status when the
// topic is unknown or jetmq cannot be asked.
func (c *topicCache) partitions(ctx context.Context, topic string) (int, *v2.Status) {
	if err := core.ValidateTopicName(topic); err != nil {
		return 0, status(v2.Code_ILLEGAL_TOPIC, fmt.Sprintf("topic %q: %v", topic, err))
	}
	return c.cache.get(ctx, topic, func(ctx context.Context) (int, *v2.Status) {
		var info struct {
			Config core.TopicConfig `json:"config"`
		}
		if err := request(ctx, c.nc, wire.APIPrefix+"TOPIC.INFO."+topic, nil, &info); err != nil {
			return 0, statusOf(err, v2.Code_TOPIC_NOT_FOUND, fmt.Sprintf("topic %q", topic))
		}
		return info.Config.Partitions, nil
	}, isCode(v2.Code_TOPIC_NOT_FOUND))
}

// isCode makes a test for status codes.
func isCode(codes ...v2.Code) func(*v2.Status) bool {
	return func(st *v2.Status) bool { return slices.Contains(codes, st.GetCode()) }
}

// groupCache remembers groups' configs.
type groupCache struct {
	e     *Endpoint
	cache *staleCache[core.GroupConfig]
}

func newGroupCache(e *Endpoint) *groupCache {
	return &groupCache{e: e, cache: newStaleCache[core.GroupConfig]()}
}

// config returns the group's config, creating a clustering group with the
// filter's tags when it does not exist (as RocketMQ creates subscription
// groups on first use).
func (c *groupCache) config(ctx context.Context, topic, group string, tags []string) (core.GroupConfig, *v2.Status) {
	if err := core.ValidateGroupName(group); err != nil {
		return core.GroupConfig{}, status(v2.Code_ILLEGAL_CONSUMER_GROUP, fmt.Sprintf("group %q: %v", group, err))
	}
	return c.cache.get(ctx, wire.GroupID(topic, group), func(ctx context.Context) (core.GroupConfig, *v2.Status) {
		return c.lookup(ctx, topic, group, tags)
	}, isCode(v2.Code_CONSUMER_GROUP_NOT_FOUND, v2.Code_TOPIC_NOT_FOUND, v2.Code_UNSUPPORTED))
}

// lookup asks jetmq for the group's config, creating it when missing.
func (c *groupCache) lookup(ctx context.Context, topic, group string, tags []string) (core.GroupConfig, *v2.Status) {
	if _, st := c.e.topics.partitions(ctx, topic); st != nil {
		return core.GroupConfig{}, st
	}
	var gs wire.GroupStatus
	err := request(ctx, c.e.nc, wire.APIPrefix+"GROUP.INFO."+topic+"."+group, []byte(`{"limit":1}`), &gs)
	if errors.Is(err, wire.ErrNotFound) {
		body, _ := json.Marshal(core.GroupConfig{Name: group, Topic: topic, Mode: "clustering", Tags: tags})
		err = request(ctx, c.e.nc, wire.APIPrefix+"GROUP.CREATE."+topic+"."+group, body, &gs)
	}
	if err != nil {
		return core.GroupConfig{}, statusOf(err, v2.Code_CONSUMER_GROUP_NOT_FOUND, fmt.Sprintf("group %q of topic %q", group, topic))
	}
	if gs.Config.Mode == "broadcasting" {
		return core.GroupConfig{}, status(v2.Code_UNSUPPORTED, fmt.Sprintf("group %q of topic %q is a broadcasting group; RocketMQ 5 clients consume clustering groups", group, topic))
	}
	return gs.Config, nil
}
