package exampleutil

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"
)

// Env is what an example runs against: a connection to jetmq and a
// place to print.
type Env struct {
	NC *nats.Conn

	out   io.Writer
	outMu sync.Mutex
	url   string
	where string // url, and the store of an in-process server
	// run makes the names of this run's topics unique, so an example can
	// run again and again against the same server.
	run   string
	srv   *server.Server
	dir   string
	undo  []func(context.Context) error
	conns []*nats.Conn
}

// open starts an in-process jetmq (or uses o.Server) and connects.
func open(ctx context.Context, o Options, configure func(*server.Config)) (*Env, error) {
	env := &Env{out: o.Out, run: strings.ToLower(nuid.Next()[16:])}
	url := o.Server
	if url == "" {
		if err := env.startServer(ctx, o, configure); err != nil {
			return nil, err
		}
		url = env.srv.ClientURL()
		env.where = url + " (in-process, store " + env.dir + ")"
	} else {
		env.where = url
	}
	env.url = url
	nc, err := env.Connect("example")
	if err != nil {
		_ = env.close()
		return nil, err
	}
	env.NC = nc
	return env, nil
}

// startServer runs one jetmq node on loopback with free ports, no HTTP
// listener and a temporary store directory.
func (e *Env) startServer(ctx context.Context, o Options, configure func(*server.Config)) error {
	dir, err := os.MkdirTemp("", "jetmq-example-")
	if err != nil {
		return err
	}
	e.dir = dir
	noHTTP, noRocketMQ := "", ""
	cfg := &server.Config{NATS: server.NATSConfig{Host: "127.0.0.1", Port: -1, StoreDir: dir}, HTTP: &noHTTP,
		RocketMQ: server.RocketMQConfig{Listen: &noRocketMQ}}
	if configure != nil {
		configure(cfg)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if o.ServerLog {
		log = server.NewLogger("info")
	}
	srv, err := server.New(cfg, server.WithLogger(log))
	if err != nil {
		os.RemoveAll(dir)
		return fmt.Errorf("in-process jetmq: %w", err)
	}
	if err := srv.Start(ctx); err != nil {
		os.RemoveAll(dir)
		return fmt.Errorf("in-process jetmq: %w", err)
	}
	e.srv = srv
	return nil
}

// Connect opens another connection to the same server (an example uses
// one per simulated process). It is closed with the environment.
func (e *Env) Connect(name string) (*nats.Conn, error) {
	nc, err := nats.Connect(e.url, nats.Name("jetmq-example-"+name), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", e.url, err)
	}
	e.conns = append(e.conns, nc)
	return nc, nil
}

// close undoes what the example created (groups, topics), closes the
// connections and stops the in-process server.
func (e *Env) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	for i := len(e.undo) - 1; i >= 0; i-- {
		errs = append(errs, e.undo[i](ctx))
	}
	for _, nc := range e.conns {
		nc.Close()
	}
	if e.srv != nil {
		errs = append(errs, e.srv.Shutdown(ctx))
		errs = append(errs, os.RemoveAll(e.dir))
	}
	return errors.Join(errs...)
}

// Printf prints one line of the example's report.
func (e *Env) Printf(format string, args ...any) {
	e.outMu.Lock()
	defer e.outMu.Unlock()
	fmt.Fprintf(e.out, format+"\n", args...)
}

// CreateTopic creates a topic named base-<run id> with the given
// partitions and deletes it (with its groups) when the example ends.
func (e *Env) CreateTopic(ctx context.Context, base string, partitions int) (string, error) {
	name := base + "-" + e.run
	body := map[string]any{"partitions": partitions}
	if err := Request(ctx, e.NC, semantics.APIPrefix+"TOPIC.CREATE."+name, body, nil); err != nil {
		return "", fmt.Errorf("create topic %s: %w", name, err)
	}
	e.undo = append(e.undo, func(ctx context.Context) error {
		return Request(ctx, e.NC, semantics.APIPrefix+"TOPIC.DELETE."+name, nil, nil)
	})
	return name, nil
}

// ForgetGroup deletes the group when the example ends (before its topic).
func (e *Env) ForgetGroup(topic, group string) {
	e.undo = append(e.undo, func(ctx context.Context) error {
		err := Request(ctx, e.NC, semantics.GroupAPIPrefix+"DELETE."+topic+"."+group, nil, nil)
		if errors.Is(err, semantics.ErrNotFound) {
			return nil
		}
		return err
	})
}

// GroupStatus asks $MQ.API.GROUP.INFO.<topic>.<group> for the group's lag.
func (e *Env) GroupStatus(ctx context.Context, topic, group string) (semantics.GroupStatus, error) {
	var st semantics.GroupStatus
	err := Request(ctx, e.NC, semantics.GroupAPIPrefix+"INFO."+topic+"."+group, nil, &st)
	return st, err
}

// Request sends a JSON request (body nil: empty) and decodes the reply
// into out (nil: only check for an error reply).
func Request(ctx context.Context, nc *nats.Conn, subject string, body, out any) error {
	var data []byte
	if body != nil {
		var err error
		if data, err = json.Marshal(body); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := nc.RequestWithContext(ctx, subject, data)
	if err != nil {
		return fmt.Errorf("%s: %w", subject, err)
	}
	return semantics.DecodeReply(resp.Data, out)
}

// WaitFor polls cond every 20 ms until it returns true, or fails with
// what after timeout (or when ctx ends).
func WaitFor(ctx context.Context, timeout time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", timeout, what)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// StopAll stops the group members at once (each may wait up to a second
// for its pull in progress) and returns their errors.
func StopAll(subs ...*semantics.Subscription) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	errs := make([]error, len(subs))
	var wg sync.WaitGroup
	for i, s := range subs {
		if s == nil {
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = s.Stop(ctx) }()
	}
	wg.Wait()
	return errors.Join(errs...)
}
