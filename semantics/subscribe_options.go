package semantics

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/jetmq/jetmq/core"
)

// SubscribeOption configures Subscribe.
type SubscribeOption func(*subscribeConfig) error

type subscribeConfig struct {
	member      string
	create      bool
	want        core.GroupConfig
	concurrency int
	prefetch    int
	joinTimeout time.Duration
	logger      *slog.Logger
	ordered     bool
	presence    string // the member's presence inbox (set by Subscribe)
}

func defaultSubscribeConfig() subscribeConfig {
	return subscribeConfig{create: true, concurrency: 1, prefetch: 500, joinTimeout: 10 * time.Second, logger: slog.Default()}
}

// WithMember sets the member id. A broadcasting member that restarts with
// the same id resumes right after its last ack (within the group's
// member_ttl), getting first and at once what its previous process held
// unacked; while a process with that id still runs, Subscribe fails with
// a 409 *APIError. Without an id the broker picks a fresh one.
func WithMember(id string) SubscribeOption {
	return func(c *subscribeConfig) error {
		if err := core.ValidateMemberID(id); err != nil {
			return err
		}
		c.member = id
		return nil
	}
}

// WithBroadcasting asks for a broadcasting group: every member gets every
// message. If the group exists it must be broadcasting.
func WithBroadcasting() SubscribeOption {
	return func(c *subscribeConfig) error { c.want.Mode = core.ModeBroadcasting; return nil }
}

// WithClustering asks for a clustering group (the default when Subscribe
// creates one): each message goes to one member.
func WithClustering() SubscribeOption {
	return func(c *subscribeConfig) error { c.want.Mode = core.ModeClustering; return nil }
}

// WithTags restricts a group Subscribe creates to these tags (filtered on
// the server); if the group exists its tags must be these. One tag (or
// none) is one filter subject; several make a slower multi-filter consumer.
func WithTags(tags ...string) SubscribeOption {
	return func(c *subscribeConfig) error {
		for _, t := range tags {
			if err := core.ValidateToken("tag", t); err != nil {
				return err
			}
		}
		c.want.Tags = append([]string{}, tags...)
		return nil
	}
}

// WithRetry sets the attempts before a message is dead-lettered and the
// backoff ladder between attempts, for a group Subscribe creates; if the
// group exists they must match.
func WithRetry(maxReconsume int, backoff ...time.Duration) SubscribeOption {
	return func(c *subscribeConfig) error {
		g := core.GroupConfig{Name: "x", Topic: "x", MaxReconsume: maxReconsume, RetryBackoff: backoff}
		g.SetDefaults()
		if err := g.Validate("retry"); err != nil {
			return err
		}
		c.want.MaxReconsume, c.want.RetryBackoff = maxReconsume, append([]time.Duration{}, backoff...)
		return nil
	}
}

// WithStart sets where a new member (broadcasting) or a new group
// (clustering) starts: StartNew, StartAll or StartLastPerKey.
func WithStart(start string) SubscribeOption {
	return func(c *subscribeConfig) error {
		if start != core.StartNew && start != core.StartAll && start != core.StartLastPerKey {
			return fmt.Errorf("start %q is not one of new, all, last_per_key", start)
		}
		c.want.Start = start
		return nil
	}
}

// WithMemberTTL sets member_ttl for a broadcasting group Subscribe creates.
func WithMemberTTL(d time.Duration) SubscribeOption {
	return func(c *subscribeConfig) error {
		if d <= 0 {
			return fmt.Errorf("member ttl %s is not positive", d)
		}
		c.want.MemberTTL = d
		return nil
	}
}

// WithConcurrency runs up to n handlers at a time (default 1).
func WithConcurrency(n int) SubscribeOption {
	return func(c *subscribeConfig) error {
		if n < 1 {
			return fmt.Errorf("concurrency %d must be at least 1", n)
		}
		c.concurrency = n
		return nil
	}
}

// WithPrefetch sets how many messages a member asks for ahead of its
// handlers (default 500). A member that dies holds at most this many
// unacked messages until their ack wait expires.
func WithPrefetch(n int) SubscribeOption {
	return func(c *subscribeConfig) error {
		if n < 1 {
			return fmt.Errorf("prefetch %d must be at least 1", n)
		}
		c.prefetch = n
		return nil
	}
}

// WithoutCreate joins only a group that exists (404 otherwise).
func WithoutCreate() SubscribeOption {
	return func(c *subscribeConfig) error { c.create = false; return nil }
}

// WithSubscribeLogger sets where the subscription logs problems it
// handles itself (default slog.Default()).
func WithSubscribeLogger(l *slog.Logger) SubscribeOption {
	return func(c *subscribeConfig) error { c.logger = l; return nil }
}
