package semantics

// The contract names applications use, re-exported so that one import,
// github.com/jetmq/jetmq/semantics, serves an application. They are
// aliases: the wire contract lives in package wire and the pure decisions
// (configuration, retry policy, partitioning) in package core, which the
// broker, the CLI and the RocketMQ endpoint import directly.

import (
	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
)

// Request, reply and configuration types.
type (
	APIError         = wire.APIError
	DLQList          = wire.DLQList
	DLQListRequest   = wire.DLQListRequest
	DLQPurgeReply    = wire.DLQPurgeReply
	DLQReplayReply   = wire.DLQReplayReply
	DLQReplayRequest = wire.DLQReplayRequest
	DLQShowRequest   = wire.DLQShowRequest
	DeadLetter       = wire.DeadLetter
	DelayCancelReply = wire.DelayCancelReply
	DelayList        = wire.DelayList
	DeleteReply      = wire.DeleteReply
	GroupConfig      = core.GroupConfig
	GroupInfoRequest = wire.GroupInfoRequest
	GroupLag         = wire.GroupLag
	GroupList        = wire.GroupList
	GroupStatus      = wire.GroupStatus
	JoinReply        = wire.JoinReply
	JoinRequest      = wire.JoinRequest
	MsgList          = wire.MsgList
	MsgTrace         = wire.MsgTrace
	PartitionLag     = wire.PartitionLag
	ResetReply       = wire.ResetReply
	ResetRequest     = wire.ResetRequest
	TopicConfig      = core.TopicConfig
	TopicMsg         = wire.TopicMsg
	TxnConfig        = core.TxnConfig
)

// Subjects, headers, stream metadata keys and configuration values.
const (
	APIPrefix            = wire.APIPrefix
	DLQAPIPrefix         = wire.DLQAPIPrefix
	DefaultMaxDelay      = core.DefaultMaxDelay
	DelayAPIPrefix       = wire.DelayAPIPrefix
	DelayPrefix          = wire.DelayPrefix
	GroupAPIPrefix       = wire.GroupAPIPrefix
	GroupHeartbeatPrefix = wire.GroupHeartbeatPrefix
	GroupJoinPrefix      = wire.GroupJoinPrefix
	GroupMaxAckPending   = wire.GroupMaxAckPending
	HeaderAttempt        = wire.HeaderAttempt
	HeaderCheckImmunity  = wire.HeaderCheckImmunity
	HeaderDelay          = wire.HeaderDelay
	HeaderDeliverAt      = wire.HeaderDeliverAt
	HeaderError          = wire.HeaderError
	HeaderKey            = wire.HeaderKey
	HeaderNatsMsgID      = wire.HeaderNatsMsgID
	HeaderProducerGroup  = wire.HeaderProducerGroup
	HeaderTag            = wire.HeaderTag
	HeaderTxnBy          = wire.HeaderTxnBy
	HeaderTxnID          = wire.HeaderTxnID
	HeaderTxnPreparedAt  = wire.HeaderTxnPreparedAt
	HeaderTxnState       = wire.HeaderTxnState
	InternalPrefix       = wire.InternalPrefix
	KeylessKey           = wire.KeylessKey
	ListMemberPage       = wire.ListMemberPage
	MetaGroup            = wire.MetaGroup
	MetaMaxDelay         = wire.MetaMaxDelay
	MetaMode             = wire.MetaMode
	MetaOrdered          = wire.MetaOrdered
	MetaPartitions       = wire.MetaPartitions
	MetaVersion          = wire.MetaVersion
	ModeBroadcasting     = core.ModeBroadcasting
	ModeClustering       = core.ModeClustering
	MsgAPIPrefix         = wire.MsgAPIPrefix
	OrderedMaxAckPending = wire.OrderedMaxAckPending
	ServiceQueue         = wire.ServiceQueue
	StartAll             = core.StartAll
	StartLastPerKey      = core.StartLastPerKey
	StartNew             = core.StartNew
	TxnAPIPrefix         = wire.TxnAPIPrefix
	TxnByCheck           = wire.TxnByCheck
	TxnByOperator        = wire.TxnByOperator
	TxnByProducer        = wire.TxnByProducer
	TxnKindNotice        = wire.TxnKindNotice
	TxnPrefix            = wire.TxnPrefix
	TxnStateCommit       = core.TxnStateCommit
	TxnStateParked       = core.TxnStateParked
	TxnStateRollback     = core.TxnStateRollback
	TxnStateUnknown      = core.TxnStateUnknown
)

// The broker's error codes, for errors.Is on replies DecodeReply decoded.
var (
	ErrBadRequest = wire.ErrBadRequest
	ErrConflict   = wire.ErrConflict
	ErrNotFound   = wire.ErrNotFound
)

// DecodeReply decodes a jetmq API reply into v, or returns its error as an
// *APIError (see wire.DecodeReply).
func DecodeReply(data []byte, v any) error { return wire.DecodeReply(data, v) }

// Partition is the partition of key among n (see core.Partition).
func Partition(key string, n int) int { return core.Partition(key, n) }
