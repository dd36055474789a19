package testutil

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jetmq/jetmq/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// CheckFor calls f every interval until it returns nil, failing the test
// with f's last error when timeout passes.
func CheckFor(t testing.TB, timeout, interval time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %s: %v", timeout, err)
		}
		time.Sleep(interval)
	}
}

// Config returns a single-node config on loopback with a free client port,
// a free HTTP port, a free RocketMQ port and storage under dir.
func Config(dir string) *server.Config {
	http, rmq := "127.0.0.1:0", "127.0.0.1:0"
	return &server.Config{
		NATS:     server.NATSConfig{Host: "127.0.0.1", Port: -1, StoreDir: dir},
		HTTP:     &http,
		RocketMQ: server.RocketMQConfig{Listen: &rmq},
	}
}

// Logger is where test servers log: quiet unless JETMQ_TEST_LOG is set.
func Logger() *slog.Logger {
	if os.Getenv("JETMQ_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// StartServer starts a single jetmq node with Config(t.TempDir()), after
// mutate changed the config, and shuts it down when the test ends.
func StartServer(t testing.TB, mutate ...func(*server.Config)) *server.Server {
	t.Helper()
	cfg := Config(t.TempDir())
	for _, m := range mutate {
		m(cfg)
	}
	return StartConfig(t, cfg)
}

// StartConfig starts a jetmq node with cfg and shuts it down with the test.
func StartConfig(t testing.TB, cfg *server.Config, opts ...server.Option) *server.Server {
	t.Helper()
	if cfg.RocketMQ.Listen == nil {
		// A config file that leaves rocketmq.listen out gets the Proxy's
		// fixed port; a test takes a free one, so that tests (and anything
		// else on the machine) never race for 127.0.0.1:8081.
		free := "127.0.0.1:0"
		cfg.RocketMQ.Listen = &free
	}
	s, err := server.New(cfg, append([]server.Option{server.WithLogger(Logger())}, opts...)...)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatalf("server.Start: %v", err)
	}
	t.Cleanup(func() { Shutdown(t, s) })
	return s
}

// Shutdown stops s (idempotent).
func Shutdown(t testing.TB, s *server.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Logf("shutdown %s: %v", s.Name(), err)
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ClusterConfigs returns n node configs that form one cluster on loopback:
// node i is named n<i+1>, stores under dirs[i] and routes to every node.
func ClusterConfigs(t testing.TB, n int, dirs []string) []*server.Config {
	t.Helper()
	ports := make([]int, n)
	routes := make([]string, n)
	for i := range ports {
		ports[i] = FreePort(t)
		routes[i] = "nats-route://127.0.0.1:" + strconv.Itoa(ports[i])
	}
	cfgs := make([]*server.Config, n)
	for i := range cfgs {
		c := Config(dirs[i])
		c.NATS.ServerName = fmt.Sprintf("n%d", i+1)
		c.NATS.Cluster = server.ClusterConfig{Name: "jetmq-test", Listen: "127.0.0.1:" + strconv.Itoa(ports[i]), Routes: routes}
		cfgs[i] = c
	}
	return cfgs
}

// Cluster is a set of jetmq nodes started by StartCluster.
type Cluster struct {
	t       testing.TB
	Configs []*server.Config
	Servers []*server.Server
}

// StartCluster starts an n-node cluster on loopback and stops it with the
// test; mutate may change each node's config before start.
func StartCluster(t testing.TB, n int, mutate ...func(i int, c *server.Config)) *Cluster {
	t.Helper()
	dirs := make([]string, n)
	for i := range dirs {
		dirs[i] = filepath.Join(t.TempDir(), fmt.Sprintf("n%d", i+1))
	}
	c := &Cluster{t: t, Configs: ClusterConfigs(t, n, dirs), Servers: make([]*server.Server, n)}
	for i, cfg := range c.Configs {
		for _, m := range mutate {
			m(i, cfg)
		}
	}
	// Nodes start concurrently: each waits for a JetStream meta leader,
	// which needs a quorum of them up.
	errs := make(chan error, n)
	for i := range c.Configs {
		go func(i int) { errs <- c.start(i) }(i)
	}
	for range c.Configs {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(c.Shutdown)
	return c
}

func (c *Cluster) start(i int) error {
	cfg := *c.Configs[i]
	s, err := server.New(&cfg, server.WithLogger(Logger()))
	if err != nil {
		return fmt.Errorf("node %d: %w", i+1, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		return fmt.Errorf("node %d start: %w", i+1, err)
	}
	c.Servers[i] = s
	return nil
}

// Restart starts node i again (after Stop), on the same storage and ports.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	if err := c.start(i); err != nil {
		c.t.Fatal(err)
	}
}

// Stop shuts node i down.
func (c *Cluster) Stop(i int) {
	if s := c.Servers[i]; s != nil {
		Shutdown(c.t, s)
		c.Servers[i] = nil
	}
}

// Shutdown stops every node that is still running.
func (c *Cluster) Shutdown() {
	for i := range c.Servers {
		c.Stop(i)
	}
}

// URLs lists the client URLs of the running nodes, comma-separated.
func (c *Cluster) URLs() string {
	out := ""
	for _, s := range c.Servers {
		if s == nil {
			continue
		}
		if out != "" {
			out += ","
		}
		out += s.ClientURL()
	}
	return out
}

// Connect opens a client connection to url, closed with the test.
func Connect(t testing.TB, url string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// JetStream returns a JetStream context on nc.
func JetStream(t testing.TB, nc *nats.Conn) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}
