package bridge

import (
	"context"
	"errors"
	"strings"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/internal/jsapi"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// streamDeletedAdvisories is where JetStream announces every deleted
// stream of the account, whoever deleted it ($MQ.API.TOPIC.DELETE, the
// nats CLI, the JetStream API).
const streamDeletedAdvisories = jsapi.AdvisoryStreamDeleted

// onStreamDeleted forgets the groups of a deleted topic. Every node
// hears the advisory and forgets the topic's members; the registry
// deletes are idempotent.
func (s *GroupService) onStreamDeleted(m *nats.Msg) {
	topic := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
	if core.ValidateTopicName(topic) != nil {
		return // a jetmq-internal stream (%INT%T, %DLQ%T, …) or not a topic
	}
	s.background(func(ctx context.Context) {
		// Only a confirmed absence: the topic may have been created again.
		if _, err := s.js.Stream(ctx, topic); !errors.Is(err, jetstream.ErrStreamNotFound) {
			return
		}
		s.forgetLogged(ctx, topic)
	})
}

func (s *GroupService) forgetLogged(ctx context.Context, topic string) {
	if err := s.ForgetTopic(ctx, topic); err != nil {
		s.log.Warn("groups of a deleted topic not forgotten; GROUP.DELETE them", "topic", topic, "err", err)
	}
}

// ForgetTopic removes every group of topic from the registry and this
// node's member table, with their member records; the consumers went with
// the topic's stream.
func (s *GroupService) ForgetTopic(ctx context.Context, topic string) error {
	s.members.forget(topic + ".")
	if err := deleteKeys(ctx, s.kv, topic+".*"); err != nil {
		return err
	}
	if err := s.deleteMembers(ctx, topic+".*.*"); err != nil {
		return err
	}
	s.log.Info("topic deleted: its groups are forgotten", "topic", topic)
	return nil
}

// forgetMembers drops the members of a deleted group, here and in the
// member registry, so that their heartbeats no longer count.
func (s *GroupService) forgetMembers(ctx context.Context, gid string) error {
	s.members.forget(gid + ".")
	return s.deleteMembers(ctx, gid+".*")
}

// deleteMembers deletes the member records matching filter; with no
// registry there are none.
func (s *GroupService) deleteMembers(ctx context.Context, filter string) error {
	kv, err := s.memberRegistry(ctx, false)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return deleteKeys(ctx, kv, filter)
}

// deleteKeys deletes every key of kv matching filter.
func deleteKeys(ctx context.Context, kv jetstream.KeyValue, filter string) error {
	keys, err := kv.ListKeysFiltered(ctx, filter)
	if err != nil {
		return err
	}
	for k := range keys.Keys() {
		if err := kv.Delete(ctx, k); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			_ = keys.Stop()
			return err
		}
	}
	return nil
}

// forgetIfGone reports whether topic's stream is confirmed deleted (memo
// caches the answer for one listing), and then forgets its groups: the
// backstop for a stream-deleted advisory that was never sent (a stream
// deleted while it had no leader) or lost with the node acting on it.
func (s *GroupService) forgetIfGone(ctx context.Context, topic string, memo map[string]bool) bool {
	gone, ok := memo[topic]
	if !ok {
		if s.topics != nil {
			if _, found := s.topics.Lookup(topic); found {
				memo[topic] = false
				return false
			}
		}
		_, err := s.js.Stream(ctx, topic)
		gone = errors.Is(err, jetstream.ErrStreamNotFound)
		memo[topic] = gone
		if gone {
			s.background(func(ctx context.Context) { s.forgetLogged(ctx, topic) })
		}
	}
	return gone
}
