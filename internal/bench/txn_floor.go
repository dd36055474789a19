package bench

import (
	"context"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// nullBridge is the reference the transaction scenarios compare with: a
// service that does the least any broker-side coordinator must do for a
// transaction step — take a request, store one message in JetStream, wait
// for the acknowledgement and reply — and nothing else (no parsing, no
// bookkeeping, no guards, no timers). It connects the way jetmq's bridge
// does: in-process when the harness runs the server, otherwise over the
// network. A transaction is two such steps (prepare, commit), so the
// scenarios' ratio to it shows what jetmq's own work costs and what any
// design with a coordinator hop costs anyway.
type nullBridge struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	sub     *nats.Subscription
	stream  string
	subject string // requests: <subject>.<step>.<i>
}

func startNullBridge(ctx context.Context, env *Env) (*nullBridge, error) {
	var opts []nats.Option
	if env.Server != nil {
		opts = append(opts, nats.InProcessServer(env.Server.NATS()))
	}
	nc, err := env.Connect(opts...)
	if err != nil {
		return nil, err
	}
	b := &nullBridge{nc: nc, stream: env.Name("floor"), subject: env.Name("floor", "req")}
	if b.js, err = jetstream.New(nc); err != nil {
		nc.Close()
		return nil, err
	}
	if _, err := createRawStream(ctx, b.js, b.stream); err != nil {
		nc.Close()
		return nil, err
	}
	sem := make(chan struct{}, txnWorkers*2)
	b.sub, err = nc.QueueSubscribe(b.subject+".>", "floor", func(m *nats.Msg) {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			if _, err := b.js.PublishMsg(ctx, &nats.Msg{Subject: b.stream + ".msgs", Data: m.Data}); err != nil {
				_ = m.Respond([]byte(`{"error":{"code":503,"description":"store"}}`))
				return
			}
			_ = m.Respond([]byte(`{"ok":true}`))
		}()
	})
	if err == nil {
		err = b.sub.SetPendingLimits(-1, -1)
	}
	if err == nil {
		// The server must know the subscription before the first
		// request comes in on another connection (else: no responders).
		err = nc.Flush()
	}
	if err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

// txn is one reference transaction: two requests, each stored once.
func (b *nullBridge) txn(ctx context.Context, nc *nats.Conn, i int, payload []byte) error {
	id := strconv.Itoa(i)
	if _, err := nc.RequestWithContext(ctx, b.subject+".prepare."+id, payload); err != nil {
		return fmt.Errorf("null bridge prepare: %w", err)
	}
	if _, err := nc.RequestWithContext(ctx, b.subject+".commit."+id, nil); err != nil {
		return fmt.Errorf("null bridge commit: %w", err)
	}
	return nil
}

func (b *nullBridge) close() {
	if b.sub != nil {
		_ = b.sub.Unsubscribe()
	}
	_ = deleteStream(b.js, b.stream)
	b.nc.Close()
}

// runNullBridge runs n reference transactions with workers in flight on
// nc and returns their result.
func runNullBridge(ctx context.Context, env *Env, nc *nats.Conn, n, workers int) (Result, error) {
	b, err := startNullBridge(ctx, env)
	if err != nil {
		return Result{}, err
	}
	defer b.close()
	payload := env.Payload()
	lat, elapsed, err := runRequests(env, n, workers, func(i int) error { return b.txn(ctx, nc, i, payload) })
	if err != nil {
		return Result{}, err
	}
	return NewResult(lat.Len(), elapsed, lat), nil
}
