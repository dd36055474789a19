package wire

import (
	"fmt"
	"strconv"
	"strings"
)

// StoredSubject is the subject a message with key (and optional tag) is
// stored on in topic: <topic>.<partition>.<key>[.<tag>].
func StoredSubject(topic string, partition int, key, tag string) string {
	s := topic + "." + strconv.Itoa(partition) + "." + key
	if tag != "" {
		s += "." + tag
	}
	return s
}

// InputSubject is the subject a producer publishes to: <topic>.<key>[.<tag>]
// (or <topic> alone for a keyless message); the broker's mapping turns it
// into the stored subject.
func InputSubject(topic, key, tag string) string {
	if key == "" {
		return topic
	}
	if tag == "" {
		return topic + "." + key
	}
	return topic + "." + key + "." + tag
}

// PartitionFilter is the one consumer filter subject that selects every
// message of partition p of topic.
func PartitionFilter(topic string, p int) string {
	return topic + "." + strconv.Itoa(p) + ".>"
}

// TagFilter is the consumer filter subject that selects tag in topic.
func TagFilter(topic, tag string) string { return topic + ".*.*." + tag }

// StoredMessage is a stored subject taken apart.
type StoredMessage struct {
	Topic     string
	Partition int
	Key       string // KeylessKey for keyless messages
	Tag       string
}

// ParseStoredSubject splits <topic>.<partition>.<key>[.<tag>].
// It runs once per delivery, so it cuts in place instead of allocating a
// slice of tokens.
func ParseStoredSubject(subject string) (StoredMessage, error) {
	var toks [4]string
	n, rest, more := 0, subject, true
	for more && n < len(toks) {
		toks[n], rest, more = strings.Cut(rest, ".")
		n++
	}
	if more || n < 3 {
		return StoredMessage{}, fmt.Errorf("subject %q is not <topic>.<partition>.<key>[.<tag>]", subject)
	}
	p, err := strconv.Atoi(toks[1])
	if err != nil || p < 0 {
		return StoredMessage{}, fmt.Errorf("subject %q: partition %q is not a number", subject, toks[1])
	}
	return StoredMessage{Topic: toks[0], Partition: p, Key: toks[2], Tag: toks[3]}, nil
}

// InternalStream is the name of topic's internal stream.
func InternalStream(topic string) string { return InternalStreamPrefix + topic }

// OutboxSubject is where a message bound for partition p of topic is
// written inside the topic's internal stream when it belongs to no
// transaction (a delayed message firing). See TxnOutboxSubject.
func OutboxSubject(topic string, partition int, key, tag string) string {
	return TxnOutboxSubject(topic, outboxNoTxn, outboxNoTxn, partition, key, tag)
}

// RepairOutboxSubject is where TOPIC.REPAIR writes the misfiled message
// that was stored at seq, bound for partition p: the tokens ~r.<seq> make
// one subject per moved message, so a repeated repair can see that it was
// moved already (~ is never part of a transaction id).
func RepairOutboxSubject(topic string, seq uint64, partition int, key, tag string) string {
	return TxnOutboxSubject(topic, outboxRepair, strconv.FormatUint(seq, 10), partition, key, tag)
}

// outboxRepair fills the transaction token of a repaired message.
const outboxRepair = "~r"

// outboxNoTxn fills the transaction tokens of an outbox subject outside a
// transaction; it is never a legal transaction id.
const outboxNoTxn = "~"

// TxnOutboxSubject is where part of transaction txid is written when it is
// committed: $MQ.INT.<topic>.O.<txid>.<part>.<p>.<key>[.<tag>]. The topic
// stream sources $MQ.INT.<topic>.O.*.*.> into <topic>.>, exactly once, so
// the message appears on <topic>.<p>.<key>[.<tag>]; the copy left in the
// internal stream is the durable proof that txid was committed.
func TxnOutboxSubject(topic, txid, part string, partition int, key, tag string) string {
	return InternalPrefix + topic + ".O." + txid + "." + part + "." + StoredSubject(topic, partition, key, tag)[len(topic)+1:]
}

// OutboxFilter selects topic's outbox in its internal stream; the tokens
// after the two wildcards are the stored subject without the topic.
func OutboxFilter(topic string) string { return InternalPrefix + topic + ".O.*.*.>" }
