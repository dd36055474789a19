package bridge

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// openBucket opens jetmq's KV bucket name, creating it (replicated as
// createReplicated says) when it does not exist yet; several nodes may race
// to create it.
func openBucket(ctx context.Context, h Host, name, description string) (jetstream.KeyValue, error) {
	return openBucketTTL(ctx, h, name, description, 0)
}

// openBucketTTL is openBucket for a bucket whose entries expire after ttl
// (0: never).
func openBucketTTL(ctx context.Context, h Host, name, description string, ttl time.Duration) (jetstream.KeyValue, error) {
	js := h.JetStream()
	for {
		kv, err := js.KeyValue(ctx, name)
		if err == nil {
			return kv, nil
		}
		if !errors.Is(err, jetstream.ErrBucketNotFound) {
			return nil, err
		}
		kv, err = createReplicated(h, func(r int) (jetstream.KeyValue, error) {
			return js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: name, Description: description, Replicas: r, History: 1, TTL: ttl})
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			continue // another node created it meanwhile
		}
		return kv, err
	}
}

// waitCtx waits for wg, or returns ctx's error when ctx ends first.
func waitCtx(ctx context.Context, wg *sync.WaitGroup) error {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
