// Command ordered-events shows ordered messages: create, update and
// delete events for many users are published with the user id as the
// sharding key and consumed by an ordered group of three members, which
// keeps a user table. One member is stopped midway; its partitions move
// to the other two. The example checks that every user's events were
// handled exactly once and in order, whichever member handled them.
//
//	go run ./examples/ordered-events [-s nats://127.0.0.1:4222]
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jetmq/jetmq/examples/internal/exampleutil"
	"github.com/jetmq/jetmq/semantics"
)

var example = exampleutil.Example{
	Name:  "ordered-events",
	About: "ordered messages: every user's create/update/delete events handled in order by an ordered group",
	Run:   run,
}

func main() { example.Main() }

const (
	users      = 200
	partitions = 6
	group      = "projector"
	work       = 3 * time.Millisecond // handling one event
)

// lifecycle is what happens to every user, in this order.
var lifecycle = []string{"created", "updated", "updated", "updated", "deleted"}

// Event is the message body.
type Event struct {
	User string `json:"user"`
	N    int    `json:"n"` // position in the user's lifecycle, from 1
	Type string `json:"type"`
}

func run(ctx context.Context, env *exampleutil.Env) error {
	topic, err := env.CreateTopic(ctx, "user-events", partitions)
	if err != nil {
		return err
	}
	table := newProjection()
	members := make([]*semantics.Subscription, 3)
	defer func() { _ = exampleutil.StopAll(members...) }()
	for i := range members {
		name := fmt.Sprintf("projector-%d", i+1)
		members[i], err = semantics.Subscribe(ctx, env.NC, topic, group, func(ctx context.Context, d *semantics.Delivery) error {
			var ev Event
			if err := json.Unmarshal(d.Data, &ev); err != nil {
				return err
			}
			time.Sleep(work)
			table.apply(ev, d.Member, d.Partition)
			return nil
		}, semantics.Ordered(), semantics.WithMember(name), semantics.WithStart(semantics.StartAll))
		if err != nil {
			return err
		}
	}
	env.ForgetGroup(topic, group)
	if err := exampleutil.WaitFor(ctx, 30*time.Second, "the three members to share the partitions", func() bool {
		n := 0
		for _, m := range members {
			if len(m.OrderedPartitions()) == 0 {
				return false
			}
			n += len(m.OrderedPartitions())
		}
		return n == partitions
	}); err != nil {
		return err
	}
	printOwners(env, "partitions owned:", members)

	// Publish every user's lifecycle, users interleaved: all creates, then
	// all first updates, ... Each user's events share one partition.
	producer, err := semantics.NewProducer(env.NC)
	if err != nil {
		return err
	}
	start := time.Now()
	for n, typ := range lifecycle {
		for u := range users {
			ev := Event{User: fmt.Sprintf("user-%03d", u), N: n + 1, Type: typ}
			body, _ := json.Marshal(ev)
			if _, err := producer.SendAsync(&semantics.Message{Topic: topic, Key: ev.User, Data: body}); err != nil {
				return err
			}
		}
	}
	if err := producer.Flush(ctx); err != nil {
		return err
	}
	total := users * len(lifecycle)
	env.Printf("published %d events for %d users in %s", total, users, time.Since(start).Round(time.Millisecond))

	// Stop projector-2 once 40% of the events are handled.
	if err := exampleutil.WaitFor(ctx, 60*time.Second, "40% of the events", func() bool { return table.handled() >= total*4/10 }); err != nil {
		return err
	}
	stopped := table.handled()
	if err := members[1].Stop(ctx); err != nil {
		return fmt.Errorf("stop projector-2: %w", err)
	}
	env.Printf("stopped projector-2 after %d of %d events were handled", stopped, total)
	if err := exampleutil.WaitFor(ctx, 60*time.Second, "every event", func() bool { return table.handled() >= total }); err != nil {
		return err
	}
	printOwners(env, "partitions owned now:", []*semantics.Subscription{members[0], members[2]})
	env.Printf("handled %d events in %s; per member: %s", table.handled(), time.Since(start).Round(time.Millisecond), table.perMember())

	if stopped >= total {
		return fmt.Errorf("projector-2 was stopped only after every event was handled")
	}
	return table.verify(env)
}

func printOwners(env *exampleutil.Env, title string, members []*semantics.Subscription) {
	var parts []string
	for _, m := range members {
		parts = append(parts, fmt.Sprintf("%s %v", m.Member(), m.OrderedPartitions()))
	}
	env.Printf("%s %s", title, strings.Join(parts, ", "))
}

// handling is one event as the projector handled it.
type handling struct {
	Event
	member    string
	partition int
}

// projection is the user table the group keeps, plus a record of every
// handling for the check.
type projection struct {
	mu         sync.Mutex
	users      map[string]int // user -> events applied
	log        map[string][]handling
	violations []string
}

func newProjection() *projection {
	return &projection{users: map[string]int{}, log: map[string][]handling{}}
}

// apply applies one event as a real projection would, noting anything
// that arrives out of order (an update before the create, an event after
// the delete, a gap or a repeat).
func (p *projection) apply(ev Event, member string, partition int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.log[ev.User] = append(p.log[ev.User], handling{ev, member, partition})
	if prev, exists := p.users[ev.User]; ev.N != prev+1 || (ev.Type == "created") == exists {
		p.violations = append(p.violations, fmt.Sprintf("%s: %s #%d after #%d", ev.User, ev.Type, ev.N, prev))
	}
	if ev.Type == "deleted" {
		p.users[ev.User] = -1 << 30 // anything after a delete is a violation
		return
	}
	p.users[ev.User] = ev.N
}

func (p *projection) handled() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, l := range p.log {
		n += len(l)
	}
	return n
}

func (p *projection) perMember() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	count := map[string]int{}
	for _, l := range p.log {
		for _, h := range l {
			count[h.member]++
		}
	}
	var out []string
	for m, n := range count {
		out = append(out, fmt.Sprintf("%s %d", m, n))
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// verify checks every user's handled lifecycle and prints a few users
// whose events were handled by two members.
func (p *projection) verify(env *exampleutil.Env) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.violations) > 0 {
		return fmt.Errorf("%d events out of order, first: %s", len(p.violations), p.violations[0])
	}
	moved := 0
	for u := range users {
		user := fmt.Sprintf("user-%03d", u)
		l := p.log[user]
		if len(l) != len(lifecycle) {
			return fmt.Errorf("%s: %d events handled, want %d", user, len(l), len(lifecycle))
		}
		var steps []string
		for i, h := range l {
			if h.N != i+1 || h.Type != lifecycle[i] {
				return fmt.Errorf("%s: event %d handled was #%d %s", user, i+1, h.N, h.Type)
			}
			steps = append(steps, h.Type+"@"+h.member)
		}
		if l[0].member != l[len(l)-1].member {
			if moved < 3 {
				env.Printf("  %s (partition %d): %s", user, l[0].partition, strings.Join(steps, " → "))
			}
			moved++
		}
	}
	env.Printf("%d users' events were handled by two members across the stop", moved)
	env.Printf("every one of %d users: created → updated ×3 → deleted, each event once, in order; user table empty: %v",
		users, p.remaining() == 0)
	if p.remaining() != 0 {
		return fmt.Errorf("%d users left in the table", p.remaining())
	}
	return nil
}

// remaining counts users that were created and not deleted.
func (p *projection) remaining() int {
	n := 0
	for _, v := range p.users {
		if v > 0 {
			n++
		}
	}
	return n
}
