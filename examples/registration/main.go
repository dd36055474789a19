// Command registration shows asynchronous decoupling: a registration
// handler stores the user and hands the welcome email and SMS to jetmq
// instead of doing them itself. Every step is simulated as 50 ms of work;
// the user's wait is measured live for three designs:
//
//	serial:   store, email, SMS one after the other   ≈ 150 ms
//	parallel: store, then email and SMS at once       ≈ 100 ms
//	jetmq:    store, publish one message, return      ≈  50 ms + the publish
//
// The groups "email" and "sms" each receive every registration.
//
//	go run ./examples/registration [-s nats://127.0.0.1:4222]
package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jetmq/jetmq/examples/internal/exampleutil"
	"github.com/jetmq/jetmq/semantics"
)

var example = exampleutil.Example{
	Name:  "registration",
	About: "asynchronous decoupling: the user waits for the database only",
	Run:   run,
}

func main() { example.Main() }

const (
	step  = 50 * time.Millisecond // each simulated step: store, email, SMS
	users = 10                    // registrations per design
)

// work stands for a database write, an email or an SMS.
func work() { time.Sleep(step) }

func run(ctx context.Context, env *exampleutil.Env) error {
	topic, err := env.CreateTopic(ctx, "user-registered", 4)
	if err != nil {
		return err
	}
	// The email and SMS services are consumer groups: each group gets every
	// registration, handled by however many members it runs.
	email, sms := newInbox(), newInbox()
	var subs []*semantics.Subscription
	defer func() { _ = exampleutil.StopAll(subs...) }()
	for _, g := range []struct {
		name  string
		inbox *inbox
	}{{"email", email}, {"sms", sms}} {
		sub, err := semantics.Subscribe(ctx, env.NC, topic, g.name, func(ctx context.Context, d *semantics.Delivery) error {
			work() // send the email / the SMS
			g.inbox.add(d.Key)
			return nil
		}, semantics.WithStart(semantics.StartAll), semantics.WithConcurrency(4))
		if err != nil {
			return err
		}
		env.ForgetGroup(topic, g.name)
		subs = append(subs, sub)
	}
	producer, err := semantics.NewProducer(env.NC)
	if err != nil {
		return err
	}

	designs := []struct {
		name     string
		register func(user string) error
	}{
		{"serial", func(string) error { work(); work(); work(); return nil }},
		{"parallel", func(string) error {
			work()
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); work() }()
			go func() { defer wg.Done(); work() }()
			wg.Wait()
			return nil
		}},
		{"jetmq", func(user string) error {
			work() // store the user
			_, err := producer.Send(ctx, &semantics.Message{Topic: topic, Key: user, Data: []byte(`{"user":"` + user + `"}`)})
			return err
		}},
	}
	medians := map[string]time.Duration{}
	env.Printf("user's wait per registration (%d registrations each, every step %s):", users, step)
	for _, d := range designs {
		waits := make([]time.Duration, 0, users)
		for i := range users {
			start := time.Now()
			if err := d.register(fmt.Sprintf("%s-user-%02d", d.name, i)); err != nil {
				return fmt.Errorf("%s registration: %w", d.name, err)
			}
			waits = append(waits, time.Since(start))
		}
		slices.Sort(waits)
		medians[d.name] = waits[len(waits)/2]
		env.Printf("  %-8s median %6.1f ms   (min %.1f, max %.1f)", d.name, ms(medians[d.name]), ms(waits[0]), ms(waits[len(waits)-1]))
	}
	env.Printf("  publish to jetmq added %.1f ms to the 50 ms store", ms(medians["jetmq"]-step))

	if err := exampleutil.WaitFor(ctx, 30*time.Second, "email and SMS for every registration", func() bool {
		return email.len() >= users && sms.len() >= users
	}); err != nil {
		return err
	}
	for _, g := range []struct {
		name  string
		inbox *inbox
	}{{"email", email}, {"sms", sms}} {
		if err := g.inbox.exactlyOnce(users, "jetmq-user-%02d"); err != nil {
			return fmt.Errorf("group %s: %w", g.name, err)
		}
		env.Printf("group %-5s received all %d registrations, each once", g.name, users)
	}
	if !(medians["jetmq"] < medians["parallel"] && medians["parallel"] < medians["serial"]) {
		return fmt.Errorf("expected jetmq < parallel < serial, measured %v / %v / %v", medians["jetmq"], medians["parallel"], medians["serial"])
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// inbox records which users a notification service handled.
type inbox struct {
	mu   sync.Mutex
	seen map[string]int
}

func newInbox() *inbox { return &inbox{seen: map[string]int{}} }

func (b *inbox) add(user string) { b.mu.Lock(); b.seen[user]++; b.mu.Unlock() }

func (b *inbox) len() int { b.mu.Lock(); defer b.mu.Unlock(); return len(b.seen) }

// exactlyOnce checks that users 0..n-1 (named by format) arrived once each
// and nobody else did.
func (b *inbox) exactlyOnce(n int, format string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range n {
		if u := fmt.Sprintf(format, i); b.seen[u] != 1 {
			return fmt.Errorf("%s handled %d times, want once", u, b.seen[u])
		}
	}
	if len(b.seen) != n {
		return fmt.Errorf("handled %d distinct users, want %d", len(b.seen), n)
	}
	return nil
}
