package wire

import (
	"slices"
	"strings"

	"github.com/jetmq/jetmq/core"
	"github.com/nats-io/nats.go"
)

// brokerHeaders are the Mq-* headers jetmq writes itself on the messages
// it stores, sends to check responders and moves to dead-letter queues.
// Consumers and operators trust them (Mq-Txn-By: operator says an operator
// committed), so a client may not set them.
var brokerHeaders = []string{
	HeaderTxnID, HeaderProducerGroup, HeaderTxnState, HeaderTxnBy, HeaderTxnChecks, HeaderTxnPreparedAt,
	HeaderTopic, HeaderKey, HeaderTag, HeaderPartition, HeaderAttempt,
	HeaderOrigSubject, HeaderOrigSeq, HeaderError, HeaderGroup, HeaderMember, HeaderDeadAt,
}

// reservedNATSHeader reports a JetStream header a client may not set on a
// message jetmq stores for it: JetStream acts on every Nats-* header
// (schedules and their sources, batches, expected sequences, rollups,
// TTLs), which would let a client reach past jetmq into the topic's
// internal stream. Nats-Msg-Id only deduplicates, and stays allowed.
func reservedNATSHeader(k string) bool {
	return len(k) >= 5 && strings.EqualFold(k[:5], "nats-") && !strings.EqualFold(k, HeaderNatsMsgID)
}

// CheckClientHeaders refuses the headers a client may not set on a message
// that jetmq stores for it (DELAY, PREPARE): any Nats-* header but
// Nats-Msg-Id, and the Mq-* headers jetmq sets itself except those in takes
// (the ones this request takes as input). The error names the header.
func CheckClientHeaders(h nats.Header, takes ...string) *APIError {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if reservedNATSHeader(k) {
			return badRequest("header %s is reserved: jetmq stores messages with no Nats-* header other than %s", k, HeaderNatsMsgID)
		}
		if isOneOf(k, brokerHeaders) && !isOneOf(k, takes) {
			return badRequest("header %s is set by jetmq, never by a client", k)
		}
	}
	return nil
}

func isOneOf(k string, names []string) bool {
	return slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(k, n) })
}

// parseInput reads the input form "<topic>[.<key>[.<tag>]]" of a request
// subject (after its prefix); want describes the subject for errors.
func parseInput(rest, want string) (topic, key, tag string, err *APIError) {
	toks := strings.Split(rest, ".")
	if len(toks) > 3 {
		return "", "", "", badRequest("subject has %d tokens after the prefix: want %s", len(toks), want)
	}
	topic = toks[0]
	if err := core.ValidateTopicName(topic); err != nil {
		return "", "", "", badRequest("%v", err)
	}
	if len(toks) > 1 {
		key = toks[1]
		if err := core.ValidateToken("key", key); err != nil {
			return "", "", "", badRequest("%v", err)
		}
	}
	if len(toks) > 2 {
		tag = toks[2]
		if err := core.ValidateToken("tag", tag); err != nil {
			return "", "", "", badRequest("%v", err)
		}
	}
	return topic, key, tag, nil
}
