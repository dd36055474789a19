package rocketmq

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
)

// age makes key's entry look as old as d.
func (c *staleCache[V]) age(key string, d time.Duration) {
	c.mu.Lock()
	c.m[key].at = time.Now().Add(-d)
	c.mu.Unlock()
}

// cached says whether key has an entry and what its value is.
func (c *staleCache[V]) cached(key string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok {
		var zero V
		return zero, false
	}
	return e.v, true
}

// waitFor polls cond until it holds or a few seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestStaleCache(t *testing.T) {
	notFound := status(v2.Code_TOPIC_NOT_FOUND, "gone")
	unavailable := status(v2.Code_HA_NOT_AVAILABLE, "electing")
	gone := isCode(v2.Code_TOPIC_NOT_FOUND)
	var loads atomic.Int32
	answer := func(v int, st *v2.Status) func(context.Context) (int, *v2.Status) {
		return func(context.Context) (int, *v2.Status) { loads.Add(1); return v, st }
	}
	// block holds a load until release closes: a stale value must be
	// served while it runs.
	release := make(chan struct{})
	blocked := func(v int) func(context.Context) (int, *v2.Status) {
		return func(context.Context) (int, *v2.Status) { loads.Add(1); <-release; return v, nil }
	}
	c := newStaleCache[int]()
	ctx := context.Background()

	if v, st := c.get(ctx, "t", answer(8, nil), gone); st != nil || v != 8 || loads.Load() != 1 {
		t.Fatalf("first get = %d, %v after %d loads; want 8 loaded inline", v, st, loads.Load())
	}
	if v, _ := c.get(ctx, "t", answer(9, nil), gone); v != 8 || loads.Load() != 1 {
		t.Fatalf("fresh get = %d after %d loads; want the cached 8 and no load", v, loads.Load())
	}

	c.age("t", cacheTTL+time.Second)
	if v, st := c.get(ctx, "t", blocked(16), gone); st != nil || v != 8 {
		t.Fatalf("stale get = %d, %v; want the stale 8 at once", v, st)
	}
	waitFor(t, "the background refresh to start", func() bool { return loads.Load() == 2 })
	if v, _ := c.get(ctx, "t", answer(32, nil), gone); v != 8 || loads.Load() != 2 {
		t.Fatalf("stale get during a refresh = %d after %d loads; want 8 and no second refresh", v, loads.Load())
	}
	close(release)
	waitFor(t, "the refresh to land", func() bool { v, _ := c.cached("t"); return v == 16 })

	c.age("t", cacheTTL+time.Second)
	c.get(ctx, "t", answer(0, unavailable), gone)
	waitFor(t, "the failed refresh", func() bool { return loads.Load() == 3 })
	if v, ok := c.cached("t"); !ok || v != 16 {
		t.Fatalf("after a refresh that failed with %v: cached %d, %v; want the stale 16 kept", unavailable, v, ok)
	}

	c.age("t", cacheMaxStale+time.Second)
	if _, st := c.get(ctx, "t", answer(0, unavailable), gone); st != unavailable {
		t.Fatalf("get of a value older than cacheMaxStale = %v; want the inline load's %v", st, unavailable)
	}

	c.age("t", cacheTTL+time.Second)
	c.get(ctx, "t", answer(0, notFound), gone)
	waitFor(t, "the value to be dropped", func() bool { _, ok := c.cached("t"); return !ok })
	if _, st := c.get(ctx, "t", answer(0, notFound), gone); st != notFound {
		t.Fatalf("get after the topic went = %v; want %v", st, notFound)
	}
}
