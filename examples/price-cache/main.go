// Command price-cache shows broadcasting: three cache servers keep a
// price table from a broadcasting group, so every one of them applies
// every price change. A fourth server starts late and warms itself with
// start: last_per_key: it receives only the latest price of each product
// (not the whole history) and then follows the live changes. The example
// checks that all four tables end up identical to the latest prices.
//
//	go run ./examples/price-cache [-s nats://127.0.0.1:4222]
package main

import (
	"context"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/jetmq/jetmq/examples/internal/exampleutil"
	"github.com/jetmq/jetmq/semantics"
)

var example = exampleutil.Example{
	Name:  "price-cache",
	About: "broadcasting: four cache servers hold identical price tables; the late one warms itself with last_per_key",
	Run:   run,
}

func main() { example.Main() }

const (
	products = 50
	group    = "price-cache"
)

func run(ctx context.Context, env *exampleutil.Env) error {
	topic, err := env.CreateTopic(ctx, "prices", 4)
	if err != nil {
		return err
	}
	caches := make([]*cache, 4)
	subs := make([]*semantics.Subscription, 4)
	defer func() { _ = exampleutil.StopAll(subs...) }()
	join := func(i int) error {
		caches[i] = newCache(fmt.Sprintf("cache-%d", i+1))
		// Every member of a broadcasting group gets every message; with
		// last_per_key a member that joins later starts from the latest
		// message of every key, then continues live.
		subs[i], err = semantics.Subscribe(ctx, env.NC, topic, group, caches[i].apply,
			semantics.WithBroadcasting(), semantics.WithMember(caches[i].name),
			semantics.WithStart(semantics.StartLastPerKey))
		return err
	}
	for i := range 3 {
		if err := join(i); err != nil {
			return err
		}
	}
	env.ForgetGroup(topic, group)

	producer, err := semantics.NewProducer(env.NC)
	if err != nil {
		return err
	}
	latest := map[string]int{} // what the price service last published
	changes := 0
	publish := func(n int) error {
		for range n {
			sku := fmt.Sprintf("sku-%02d", changes*7%products)
			price := 1000 + (changes*37)%900
			latest[sku] = price
			changes++
			if _, err := producer.SendAsync(&semantics.Message{Topic: topic, Key: sku, Data: []byte(strconv.Itoa(price))}); err != nil {
				return err
			}
		}
		return producer.Flush(ctx)
	}

	if err := publish(600); err != nil {
		return err
	}
	if err := waitInSync(ctx, caches[:3], latest); err != nil {
		return err
	}
	env.Printf("600 price changes for %d products: cache-1..3 applied %s messages", products, received(caches[:3]))

	if err := join(3); err != nil {
		return err
	}
	if err := waitInSync(ctx, caches[3:], latest); err != nil {
		return err
	}
	warm := caches[3].received()
	env.Printf("cache-4 started late and warmed itself from %d messages (the latest price of each product)", warm)
	if warm != products {
		return fmt.Errorf("cache-4 warmed from %d messages, want one per product (%d)", warm, products)
	}

	if err := publish(400); err != nil {
		return err
	}
	if err := waitInSync(ctx, caches, latest); err != nil {
		return err
	}
	env.Printf("400 more changes: cache-1..4 applied %s messages in total", received(caches))
	for i, c := range caches {
		want := changes // every change, once
		if i == 3 {
			want = products + 400
		}
		if c.received() != want {
			return fmt.Errorf("%s applied %d messages, want %d", c.name, c.received(), want)
		}
	}
	for _, c := range caches {
		env.Printf("  %s: %d products, sku-00=%d sku-49=%d, table checksum %08x", c.name, c.size(), c.price("sku-00"), c.price("sku-49"), c.checksum())
	}
	env.Printf("all four tables are identical and hold the latest of %d price changes", changes)
	return nil
}

// waitInSync waits until every cache's table equals want.
func waitInSync(ctx context.Context, caches []*cache, want map[string]int) error {
	return exampleutil.WaitFor(ctx, 30*time.Second, "the caches to hold the latest prices", func() bool {
		for _, c := range caches {
			if !c.equals(want) {
				return false
			}
		}
		return true
	})
}

func received(caches []*cache) string {
	out := ""
	for i, c := range caches {
		if i > 0 {
			out += "/"
		}
		out += strconv.Itoa(c.received())
	}
	return out
}

// cache is one cache server's price table.
type cache struct {
	name  string
	mu    sync.Mutex
	table map[string]int
	msgs  int
}

func newCache(name string) *cache { return &cache{name: name, table: map[string]int{}} }

// apply is the group handler: set the product's price.
func (c *cache) apply(_ context.Context, d *semantics.Delivery) error {
	price, err := strconv.Atoi(string(d.Data))
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.table[d.Key] = price
	c.msgs++
	c.mu.Unlock()
	return nil
}

func (c *cache) equals(want map[string]int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Equal(c.table, want)
}

func (c *cache) received() int { c.mu.Lock(); defer c.mu.Unlock(); return c.msgs }

func (c *cache) size() int { c.mu.Lock(); defer c.mu.Unlock(); return len(c.table) }

func (c *cache) price(sku string) int { c.mu.Lock(); defer c.mu.Unlock(); return c.table[sku] }

// checksum hashes the table in key order, to show the tables are equal.
func (c *cache) checksum() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := fnv.New32a()
	for _, k := range slices.Sorted(maps.Keys(c.table)) {
		fmt.Fprintf(h, "%s=%d;", k, c.table[k])
	}
	return h.Sum32()
}
