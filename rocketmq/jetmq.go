package rocketmq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// topicCache remembers topics' partition counts for a few seconds.
type topicCache struct {
	nc *nats.Conn
	mu sync.Mutex
	m  map[string]topicEntry
}

type topicEntry struct {
	partitions int
	at         time.Time
}

const cacheTTL = 5 * time.Second

func newTopicCache(nc *nats.Conn) *topicCache { return &topicCache{nc: nc, m: map[string]topicEntry{}} }

// partitions returns the topic's partition count, or a status when the
// topic is unknown or jetmq cannot be asked.
func (c *topicCache) partitions(ctx context.Context, topic string) (int, *v2.Status) {
	if err := core.ValidateTopicName(topic); err != nil {
		return 0, status(v2.Code_ILLEGAL_TOPIC, fmt.Sprintf("topic %q: %v", topic, err))
	}
	c.mu.Lock()
	e, ok := c.m[topic]
	c.mu.Unlock()
	if ok && time.Since(e.at) < cacheTTL {
		return e.partitions, nil
	}
	var info struct {
		Config core.TopicConfig `json:"config"`
	}
	if err := request(ctx, c.nc, wire.APIPrefix+"TOPIC.INFO."+topic, nil, &info); err != nil {
		return 0, statusOf(err, v2.Code_TOPIC_NOT_FOUND, fmt.Sprintf("topic %q", topic))
	}
	c.mu.Lock()
	c.m[topic] = topicEntry{partitions: info.Config.Partitions, at: time.Now()}
	c.mu.Unlock()
	return info.Config.Partitions, nil
}

// groupCache remembers groups' configs for a few seconds.
type groupCache struct {
	e  *Endpoint
	mu sync.Mutex
	m  map[string]groupEntry
}

type groupEntry struct {
	cfg core.GroupConfig
	at  time.Time
}

func newGroupCache(e *Endpoint) *groupCache { return &groupCache{e: e, m: map[string]groupEntry{}} }

// config returns the group's config, creating a clustering group with the
// filter's tags when it does not exist (as RocketMQ creates subscription
// groups on first use).
func (c *groupCache) config(ctx context.Context, topic, group string, tags []string) (core.GroupConfig, *v2.Status) {
	if err := core.ValidateGroupName(group); err != nil {
		return core.GroupConfig{}, status(v2.Code_ILLEGAL_CONSUMER_GROUP, fmt.Sprintf("group %q: %v", group, err))
	}
	id := wire.GroupID(topic, group)
	c.mu.Lock()
	e, ok := c.m[id]
	c.mu.Unlock()
	if ok && time.Since(e.at) < cacheTTL {
		return e.cfg, nil
	}
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
	c.mu.Lock()
	c.m[id] = groupEntry{cfg: gs.Config, at: time.Now()}
	c.mu.Unlock()
	return gs.Config, nil
}
