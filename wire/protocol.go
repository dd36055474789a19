package wire

// Subjects, headers and stream conventions that brokers and clients share.
// docs/PROTOCOL.md explains each of them; any NATS client can use them.
const (
	// MQPrefix starts every jetmq service subject.
	MQPrefix = "$MQ."

	// Admin API: $MQ.API.TOPIC.CREATE.<topic> and friends.
	APIPrefix = "$MQ.API."

	// DelayPrefix: request on $MQ.DELAY.<topic>.<key>[.<tag>].
	DelayPrefix = "$MQ.DELAY."

	// Transactions: $MQ.TXN.PREPARE.<topic>.<key>[.<tag>],
	// $MQ.TXN.COMMIT.<topic>.<txid>, $MQ.TXN.ROLLBACK.<topic>.<txid>,
	// check-back requests on $MQ.TXN.CHECK.<producerGroup>.
	TxnPrefix = "$MQ.TXN."

	// Group membership: $MQ.GROUP.JOIN.<topic>.<group> and the rest.
	GroupPrefix = "$MQ.GROUP."

	// InternalPrefix starts the subjects jetmq keeps inside a topic's
	// stream but outside <topic>.>: $MQ.INT.<topic>.<kind>.<id>... Consumers
	// that filter on <topic>.> never see them.
	InternalPrefix = "$MQ.INT."

	// InternalStreamPrefix names a topic's internal stream, %INT%<topic>:
	// it holds the topic's $MQ.INT.<topic>.> subjects (delayed messages
	// waiting, half messages, the outbox). '%' cannot occur in a topic name.
	InternalStreamPrefix = "%INT%"

	// RejectPrefix receives publishes under <topic>. that fit no topic
	// form; the broker answers them with a 400 error.
	RejectPrefix = "$MQ.REJECT."

	// KeylessKey is the key token of messages published without a key.
	KeylessKey = "_"

	// ServiceQueue is the queue group jetmq's request handlers use, so that
	// one node answers each request.
	ServiceQueue = "jetmq"
)

// Headers.
const (
	HeaderTxnID         = "Mq-Txn-Id"
	HeaderProducerGroup = "Mq-Producer-Group"
	HeaderCheckImmunity = "Mq-Check-Immunity"
	HeaderTxnState      = "Mq-Txn-State"
	HeaderTopic         = "Mq-Topic"
	HeaderDeliverAt     = "Mq-Deliver-At"
	HeaderDelay         = "Mq-Delay"
	HeaderKey           = "Mq-Key"
	HeaderTag           = "Mq-Tag"
	HeaderPartition     = "Mq-Partition"
	HeaderAttempt       = "Mq-Attempt"
	HeaderOrigSubject   = "Mq-Orig-Subject"
	HeaderOrigSeq       = "Mq-Orig-Seq"
	HeaderError         = "Mq-Error"
	HeaderGroup         = "Mq-Group"
	HeaderMember        = "Mq-Member"
	HeaderDeadAt        = "Mq-Dead-At"
	HeaderNatsMsgID     = "Nats-Msg-Id"
	HeaderRepairedFrom  = "Mq-Repaired-From"
)

// Resend headers (docs/PROTOCOL.md, "Resend: MSG.RESEND"). JetStream
// cannot deliver a stored message to one consumer only, so a copy resent
// for group G reaches every group that selects it; every other group's
// member acks it without handling it (ResentForAnother).
const (
	// HeaderResendOf is the stream sequence of the message resent.
	HeaderResendOf = "Mq-Resend-Of"
	// HeaderResendFor names the group the operator resent it for.
	HeaderResendFor = "Mq-Resend-For"
)

// ResentForAnother reports whether a delivery with headers h is a resend
// meant for a group other than group: its member acks it unhandled.
func ResentForAnother(h map[string][]string, group string) bool {
	for _, v := range h[HeaderResendFor] {
		return v != group
	}
	return false
}

// Transaction headers (docs/PROTOCOL.md, "Transactions"): bookkeeping the
// broker keeps on half messages, and who ended a transaction.
const (
	HeaderTxnChecks     = "Mq-Txn-Checks"
	HeaderTxnPreparedAt = "Mq-Txn-Prepared-At"
	HeaderTxnBy         = "Mq-Txn-By"
)

// Metadata keys jetmq sets on the JetStream streams and consumers it
// manages. A stream is a jetmq topic when it carries MetaPartitions.
const (
	MetaPartitions = "jetmq.partitions"
	MetaMaxDelay   = "jetmq.max_delay"
	MetaVersion    = "jetmq.version"
	// Every consumer that belongs to a group carries MetaGroup (the group
	// name); ordered groups also MetaOrdered = "true". The topic resize
	// check reads them.
	MetaGroup   = "jetmq.group"
	MetaOrdered = "jetmq.ordered"
	MetaMode    = "jetmq.mode"
)
