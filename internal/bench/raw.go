package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// AsyncWindow is how many async publishes the raw async baseline keeps
// outstanding at most.
const AsyncWindow = 4096

// SyncScale divides env.Msgs for raw-publish-sync: one publish in flight is
// 5-10x slower than async, and a quarter of the messages still gives stable
// percentiles.
const SyncScale = 4

// runRawPublishAsync measures JetStream async publish with at most
// AsyncWindow acks outstanding. Latency is not reported: publish-to-ack
// time under a full window is just window ÷ rate (Little's law), tens of
// milliseconds that say nothing about the server.
func runRawPublishAsync(ctx context.Context, env *Env) (Result, error) {
	s, err := openRawStream(ctx, env)
	if err != nil {
		return Result{}, err
	}
	defer s.close()
	js, stream, subj := s.js, s.name, s.subj
	start := time.Now()
	acked, err := publishAsync(ctx, env, js, fixedSubject(subj), env.Msgs, nil, nil)
	elapsed := time.Since(start)
	if err != nil {
		return Result{}, err
	}
	if err := checkStored(ctx, js, stream, acked); err != nil {
		return Result{}, err
	}
	r := NewResult(acked, elapsed, nil)
	r.Notes = fmt.Sprintf("up to %d in flight", AsyncWindow)
	return r, nil
}

// pending is one async publish waiting for its ack.
type pending struct {
	ack jetstream.PubAckFuture
	at  time.Time
}

// fixedSubject publishes every message to subj.
func fixedSubject(subj string) func(int) string { return func(int) string { return subj } }

// stopCheckEvery is how often (in messages) publishAsync looks at ctx and
// its stop channel.
const stopCheckEvery = 256

// publishAsync publishes up to n messages to subjectOf(i) with at most AsyncWindow
// outstanding, stopping early when env's duration bound ends the phase or
// stop (nil: never) closes. It
// returns how many were acknowledged; lat (optional) gets publish-to-ack
// latencies. The buffered channel is the window: the publisher blocks on it
// while AsyncWindow acks are outstanding.
func publishAsync(ctx context.Context, env *Env, js jetstream.JetStream, subjectOf func(i int) string, n int, lat *Latencies, stop <-chan struct{}) (int, error) {
	window := make(chan pending, AsyncWindow)
	type outcome struct {
		acked int
		err   error
	}
	done := make(chan outcome, 1)
	go func() {
		acked, err := awaitAcks(ctx, env, window, n, lat)
		done <- outcome{acked, err}
	}()
	payload := env.Payload()
	start := time.Now()
	var pubErr error
	for i := 0; i < n && !env.Expired(start); i++ {
		if i > 0 && i%stopCheckEvery == 0 && (stopped(stop) || ctx.Err() != nil) {
			pubErr = ctx.Err()
			break
		}
		at := time.Now()
		f, err := js.PublishAsync(subjectOf(i), payload)
		if err != nil {
			pubErr = fmt.Errorf("publish %d: %w", i+1, err)
			break
		}
		window <- pending{f, at}
	}
	close(window)
	out := <-done
	return out.acked, errors.Join(pubErr, out.err)
}

// awaitAcks waits for the acks in publish order (an R1 stream acks in that
// order) and records each latency. After the first failure it only drains
// the window so that the publisher never blocks.
func awaitAcks(ctx context.Context, env *Env, window <-chan pending, n int, lat *Latencies) (int, error) {
	acked := 0
	var firstErr error
	for p := range window {
		if firstErr != nil {
			continue
		}
		select {
		case <-p.ack.Ok():
			acked++
			if lat != nil {
				lat.Record(time.Since(p.at))
			}
			env.Progress(acked, n)
		case err := <-p.ack.Err():
			firstErr = fmt.Errorf("ack %d: %w", acked+1, err)
		case <-ctx.Done():
			firstErr = ctx.Err()
		}
	}
	return acked, firstErr
}

// runRawPublishSync measures JetStream publish with one in flight:
// env.Msgs/SyncScale publishes, each waiting for its ack; p50/p99 are per
// publish.
func runRawPublishSync(ctx context.Context, env *Env) (Result, error) {
	s, err := openRawStream(ctx, env)
	if err != nil {
		return Result{}, err
	}
	defer s.close()
	js, stream, subj := s.js, s.name, s.subj
	n := max(env.Msgs/SyncScale, 1)
	lat := NewLatencies(n)
	payload := env.Payload()
	start := time.Now()
	for i := 0; i < n && !env.Expired(start); i++ {
		at := time.Now()
		if _, err := js.Publish(ctx, subj, payload); err != nil {
			return Result{}, fmt.Errorf("publish %d: %w", i+1, err)
		}
		lat.Record(time.Since(at))
		env.Progress(i+1, n)
	}
	elapsed := time.Since(start)
	if err := checkStored(ctx, js, stream, lat.Len()); err != nil {
		return Result{}, err
	}
	r := NewResult(lat.Len(), elapsed, lat)
	r.Notes = fmt.Sprintf("%d publishes (msgs/%d), one in flight", lat.Len(), SyncScale)
	return r, nil
}
