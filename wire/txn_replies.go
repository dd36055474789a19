package wire

import (
	"time"

	"github.com/nats-io/nats.go"
)

// Replies of PREPARE, COMMIT, ROLLBACK and the transaction API
// ($MQ.API.TXN.*), see docs/PROTOCOL.md.

// TxnListRequest is the optional body of $MQ.API.TXN.LIST.<topic>.
type TxnListRequest struct {
	Parked bool `json:"parked,omitempty"`
	Limit  int  `json:"limit,omitempty"`
}

// TxnSummary is one open transaction in a listing.
type TxnSummary struct {
	TxnID      string    `json:"txid"`
	State      string    `json:"state"`
	Group      string    `json:"group"`
	Messages   int       `json:"messages"`
	Checks     int       `json:"checks"`
	PreparedAt time.Time `json:"prepared_at"`
}

// TxnListReply answers $MQ.API.TXN.LIST.<topic>.
type TxnListReply struct {
	Topic        string       `json:"topic"`
	Total        int          `json:"total"`
	Truncated    bool         `json:"truncated,omitempty"`
	Transactions []TxnSummary `json:"transactions"`
}

// TxnMessageInfo describes one message of a transaction.
type TxnMessageInfo struct {
	Part    string      `json:"part"`
	Key     string      `json:"key,omitempty"`
	Tag     string      `json:"tag,omitempty"`
	Size    int         `json:"size"`
	Headers nats.Header `json:"headers,omitempty"`
}

// TxnInfoReply answers $MQ.API.TXN.INFO.<topic>.<txid>.
type TxnInfoReply struct {
	Topic      string           `json:"topic"`
	TxnID      string           `json:"txid"`
	State      string           `json:"state"`
	Group      string           `json:"group,omitempty"`
	Checks     int              `json:"checks"`
	PreparedAt *time.Time       `json:"prepared_at,omitempty"`
	EndedBy    string           `json:"ended_by,omitempty"`
	EndedAt    *time.Time       `json:"ended_at,omitempty"`
	Messages   []TxnMessageInfo `json:"messages,omitempty"`
}

// EndReply answers a commit or rollback.
type EndReply struct {
	Topic    string `json:"topic"`
	TxnID    string `json:"txid"`
	State    string `json:"state"`
	Messages int    `json:"messages"`
	// Duplicate: the transaction had already ended this way.
	Duplicate bool `json:"duplicate,omitempty"`
}

// PrepareReply answers a prepare: the half message is stored.
type PrepareReply struct {
	Stream    string `json:"stream"`
	Seq       uint64 `json:"seq"`
	TxnID     string `json:"txid"`
	Part      string `json:"part"`
	Duplicate bool   `json:"duplicate,omitempty"`
}
