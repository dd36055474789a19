package semantics

import (
	"fmt"
	"time"

	"github.com/jetmq/jetmq/core"
)

// Ordered makes the member part of an ordered group (creating the group
// with ordered: true if Subscribe creates it; an existing group must be
// ordered). In a clustering group every partition is owned by one member
// at a time and its messages reach the handler strictly one after the
// other, in publish order; a handler error suspends that partition alone
// and retries the same message after the group's suspend pause (default
// 1 s), up to max_reconsume attempts, then dead-letters it. In a
// broadcasting group every member processes every message, each
// partition in order. WithConcurrency does not apply (each partition is
// sequential; partitions run in parallel); WithPrefetch is per partition.
func Ordered() SubscribeOption {
	return func(c *subscribeConfig) error {
		c.ordered = true
		c.want.Ordered = true
		return nil
	}
}

// OrderedSuspended lists the partitions of an Ordered() member whose head
// message is waiting to be retried (nil for other members).
func (s *Subscription) OrderedSuspended() []int {
	if s.ordered == nil {
		return nil
	}
	s.ordered.mu.Lock()
	defer s.ordered.mu.Unlock()
	return sortedTrue(s.ordered.suspended)
}

// OrderedPartitions lists the partitions an Ordered() clustering member
// owns now (nil for other members).
func (s *Subscription) OrderedPartitions() []int {
	if s.ordered == nil {
		return nil
	}
	s.ordered.mu.Lock()
	defer s.ordered.mu.Unlock()
	set := map[int]bool{}
	for p, r := range s.ordered.runners {
		if !r.revoked {
			set[p] = true
		}
	}
	return sortedTrue(set)
}

// WithSessionTimeout sets session_timeout for a group Subscribe creates:
// how long a member may be silent before its partitions move (at least
// 1 s).
func WithSessionTimeout(d time.Duration) SubscribeOption {
	return func(c *subscribeConfig) error {
		if d < core.MinSessionTimeout {
			return fmt.Errorf("session timeout %s is below the minimum %s", d, core.MinSessionTimeout)
		}
		c.want.SessionTimeout = d
		return nil
	}
}

// WithSuspend sets the pause before an ordered group retries a failed
// message in place, for a group Subscribe creates.
func WithSuspend(d time.Duration) SubscribeOption {
	return func(c *subscribeConfig) error {
		if d <= 0 {
			return fmt.Errorf("suspend %s is not positive", d)
		}
		c.want.Suspend = d
		return nil
	}
}
