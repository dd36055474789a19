package bridge

import "github.com/jetmq/jetmq/semantics"

// Settings is the part of the server configuration the services read.
type Settings struct {
	Topics       []semantics.TopicConfig
	Groups       []semantics.GroupConfig
	Transactions semantics.TxnConfig
}

// DefaultServices lists the services a jetmq server runs, in start order.
func DefaultServices(s Settings) []Service {
	topics := NewTopics(s.Topics)
	groups := NewGroupService(s.Groups, topics)
	ordered := NewOrderedService(groups)
	groups.SetOrdered(ordered)
	return []Service{topics, NewDelay(topics), NewTxnService(s.Transactions, topics), groups, ordered, NewInspect(topics, groups), NewSummary(topics, groups)}
}
