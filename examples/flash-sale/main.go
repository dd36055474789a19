// Command flash-sale shows load shifting: a burst of orders far beyond
// what the notification workers can handle is accepted at full speed and
// stored in jetmq; the workers drain the backlog at their own pace. A
// live line shows the backlog from the group's lag figures
// ($MQ.API.GROUP.INFO), and the example checks that every order was
// notified exactly once.
//
//	go run ./examples/flash-sale [-s nats://127.0.0.1:4222]
package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jetmq/jetmq/examples/internal/exampleutil"
	"github.com/jetmq/jetmq/semantics"
)

var example = exampleutil.Example{
	Name:  "flash-sale",
	About: "load shifting: a burst of orders accepted at once, notifications drained at the workers' pace",
	Run:   run,
}

func main() { example.Main() }

const (
	orders  = 8000
	workers = 2                    // notification service instances (group members)
	threads = 4                    // handlers per instance
	notify  = 4 * time.Millisecond // sending one notification
	group   = "notify"
)

func run(ctx context.Context, env *exampleutil.Env) error {
	topic, err := env.CreateTopic(ctx, "orders", 8)
	if err != nil {
		return err
	}
	notified := newTally()
	subs := make([]*semantics.Subscription, workers)
	defer func() { _ = exampleutil.StopAll(subs...) }()
	for i := range subs {
		subs[i], err = semantics.Subscribe(ctx, env.NC, topic, group, func(ctx context.Context, d *semantics.Delivery) error {
			time.Sleep(notify)
			notified.add(string(d.Data))
			return nil
		}, semantics.WithStart(semantics.StartAll), semantics.WithConcurrency(threads))
		if err != nil {
			return err
		}
	}
	env.ForgetGroup(topic, group)
	capacity := float64(workers*threads) / notify.Seconds()
	env.Printf("%d notification workers × %d handlers, %s per notification: at most %.0f notifications/s", workers, threads, notify, capacity)

	// The live line: backlog = not yet delivered + delivered, not yet acked.
	stopWatch, peak := watchBacklog(ctx, env, topic, notified)

	// The sale: every order is accepted as soon as jetmq has stored it.
	producer, err := semantics.NewProducer(env.NC)
	if err != nil {
		stopWatch()
		return err
	}
	start := time.Now()
	for i := range orders {
		id := fmt.Sprintf("order-%05d", i)
		if _, err := producer.SendAsync(&semantics.Message{Topic: topic, Key: fmt.Sprintf("buyer-%d", i%997), Data: []byte(id), MsgID: id}); err != nil {
			stopWatch()
			return err
		}
	}
	if err := producer.Flush(ctx); err != nil {
		stopWatch()
		return err
	}
	accepted := time.Since(start)
	env.Printf("accepted %d orders in %s: %.0f orders/s, %.0f× what the workers handle",
		orders, accepted.Round(time.Millisecond), orders/accepted.Seconds(), orders/accepted.Seconds()/capacity)

	err = exampleutil.WaitFor(ctx, 60*time.Second, "every order notified", func() bool { return notified.distinct() >= orders })
	drained := time.Since(start)
	if err == nil {
		// The last line shows the drained backlog.
		err = exampleutil.WaitFor(ctx, 10*time.Second, "the group's backlog to read 0", func() bool {
			st, err := env.GroupStatus(ctx, topic, group)
			return err == nil && st.Pending == 0 && st.AckPending == 0
		})
	}
	stopWatch()
	top := <-peak
	if err != nil {
		return err
	}
	env.Printf("all %d orders notified %s after the sale started (%.0f/s); highest backlog seen: %d", orders, drained.Round(time.Millisecond), orders/drained.Seconds(), top)
	if dups := notified.duplicates(); dups > 0 {
		return fmt.Errorf("%d orders were notified more than once", dups)
	}
	env.Printf("every order notified exactly once")
	if top < orders/2 {
		return fmt.Errorf("the backlog never rose above %d of %d orders: the burst did not outrun the workers", top, orders)
	}
	return nil
}

// watchBacklog prints the group's backlog every 250 ms, and once more
// when stopped; the channel then yields the highest backlog it saw.
func watchBacklog(ctx context.Context, env *exampleutil.Env, topic string, notified *tally) (stop func(), peak <-chan uint64) {
	quit, out := make(chan struct{}), make(chan uint64, 1)
	go func() {
		var top uint64
		start := time.Now()
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		show := func() {
			if st, err := env.GroupStatus(ctx, topic, group); err == nil {
				backlog := st.Pending + uint64(st.AckPending)
				top = max(top, backlog)
				env.Printf("  t=%5.2fs backlog %5d |%s| notified %5d", time.Since(start).Seconds(), backlog, bar(backlog, orders, 40), notified.distinct())
			}
		}
		for {
			show()
			select {
			case <-quit:
				show()
				out <- top
				return
			case <-tick.C:
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(quit) }) }, out
}

func bar(n, of uint64, width int) string {
	full := int(min(n, of) * uint64(width) / of)
	return strings.Repeat("#", full) + strings.Repeat(".", width-full)
}

// tally counts notifications per order.
type tally struct {
	mu    sync.Mutex
	count map[string]int
}

func newTally() *tally { return &tally{count: map[string]int{}} }

func (t *tally) add(id string) { t.mu.Lock(); t.count[id]++; t.mu.Unlock() }

func (t *tally) distinct() int { t.mu.Lock(); defer t.mu.Unlock(); return len(t.count) }

func (t *tally) duplicates() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, c := range t.count {
		if c > 1 {
			n++
		}
	}
	return n
}
