package core

import (
	"strconv"
	"time"
)

// RetryPolicy is a group's reconsume policy: how often a message is handed
// to the group before it is dead-lettered, and how long to wait before each
// retry. It is pure: Decide turns an attempt and its outcome into what to do.
type RetryPolicy struct {
	// MaxReconsume is the number of attempts a message gets; a failure of
	// attempt MaxReconsume dead-letters it.
	MaxReconsume int
	// Backoff[i] is the wait after failed attempt i+1; attempts beyond the
	// ladder wait its last entry.
	Backoff []time.Duration
}

// PolicyOf returns the retry policy of a group whose defaults are set.
func PolicyOf(g GroupConfig) RetryPolicy {
	return RetryPolicy{MaxReconsume: g.MaxReconsume, Backoff: g.RetryBackoff}
}

// Action is what to do with a delivered message.
type Action int

const (
	// ActionHandle: give the message to the handler.
	ActionHandle Action = iota
	// ActionAck: the handler succeeded.
	ActionAck
	// ActionRetry: nak it so that it comes back after Decision.Delay.
	ActionRetry
	// ActionDeadLetter: copy it to the dead-letter queue, then terminate it.
	ActionDeadLetter
)

func (a Action) String() string {
	switch a {
	case ActionHandle:
		return "handle"
	case ActionAck:
		return "ack"
	case ActionRetry:
		return "retry"
	case ActionDeadLetter:
		return "dead-letter"
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// Decision is an Action with the retry delay and, for dead letters, why.
type Decision struct {
	Action Action
	Delay  time.Duration
	Reason string
}

// MaxDeliver is the JetStream MaxDeliver of a group consumer: one delivery
// more than the handler attempts. The extra delivery exists for a member
// that died during the last attempt (or while copying to the DLQ): the
// next member sees Attempt > MaxReconsume and dead-letters the message
// without handling it again. Only if that delivery also dies does JetStream
// give up, and its max-deliveries advisory (captured in a stream) lets the
// broker's dead-letter mover copy the message: nothing is lost either way.
func (p RetryPolicy) MaxDeliver() int { return p.MaxReconsume + 1 }

// OnDelivery decides what to do with a message on its attempt-th delivery
// (JetStream's NumDelivered, starting at 1) before the handler runs.
func (p RetryPolicy) OnDelivery(attempt int) Decision {
	if attempt > p.MaxReconsume {
		return Decision{Action: ActionDeadLetter, Reason: "attempt " + strconv.Itoa(attempt-1) + " did not finish (member died or its ack wait expired)"}
	}
	return Decision{Action: ActionHandle}
}

// OnResult decides what to do after the handler's attempt-th try; errText
// is the handler's error ("" for success).
func (p RetryPolicy) OnResult(attempt int, failed bool, errText string) Decision {
	if !failed {
		return Decision{Action: ActionAck}
	}
	if attempt >= p.MaxReconsume {
		return Decision{Action: ActionDeadLetter, Reason: errText}
	}
	return Decision{Action: ActionRetry, Delay: p.Delay(attempt)}
}

// Delay is the wait after failed attempt n (1-based).
func (p RetryPolicy) Delay(n int) time.Duration {
	if len(p.Backoff) == 0 {
		return 0
	}
	if n < 1 {
		n = 1
	}
	if n > len(p.Backoff) {
		n = len(p.Backoff)
	}
	return p.Backoff[n-1]
}
