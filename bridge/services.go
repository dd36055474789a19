package bridge

import "github.com/jetmq/jetmq/core"

// Settings is the part of the server configuration the services read.
type Settings struct {
	Topics       []core.TopicConfig
	Groups       []core.GroupConfig
	Transactions core.TxnConfig
}

// DefaultServices lists the services a jetmq server runs, in start order.
func DefaultServices(s Settings) []Service {
	topics := NewTopics(s.Topics)
	groups := NewGroupService(s.Groups, topics)
	return []Service{topics, NewDelay(topics), NewTxnService(s.Transactions, topics), groups, NewInspect(topics, groups), NewSummary(topics, groups)}
}
