package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jetmq/jetmq/bridge"
	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/server"
	"github.com/nats-io/nats.go/jetstream"
)

// gateService is a real bridge.Service whose Start waits until the test
// opens the gate, so the server can be watched while it is not ready.
type gateService struct{ open chan struct{} }

func (g *gateService) Name() string { return "gate" }
func (g *gateService) Start(ctx context.Context, _ bridge.Host) error {
	select {
	case <-g.open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
func (g *gateService) Stop(context.Context) error { return nil }

func httpGet(url string) (int, string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// TestHealthzFollowsReadiness: /healthz is 503 with a JSON reason while a
// service is still starting, 200 once Start has returned, and Health says
// "starting" before Start and "shutting down" after Shutdown.
func TestHealthzFollowsReadiness(t *testing.T) {
	gate := &gateService{open: make(chan struct{})}
	s, err := server.New(testutil.Config(t.TempDir()), server.WithLogger(testutil.Logger()), server.WithServices(gate))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Health(); err == nil || !strings.Contains(err.Error(), "starting") {
		t.Fatalf("Health before Start = %v, want starting", err)
	}
	started := make(chan error, 1)
	go func() { started <- s.Start(context.Background()) }()
	defer testutil.Shutdown(t, s)

	var reason string
	testutil.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		addr := s.HTTPAddr()
		if addr == "" {
			return errors.New("no HTTP listener yet")
		}
		code, body, err := httpGet("http://" + addr + "/healthz")
		if err != nil {
			return err
		}
		if code != http.StatusServiceUnavailable {
			return fmt.Errorf("status %d", code)
		}
		var r struct{ Status, Reason string }
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			return fmt.Errorf("not JSON: %q", body)
		}
		if !strings.Contains(r.Reason, "gate") {
			return fmt.Errorf("reason %q does not name the gate service yet", r.Reason)
		}
		reason = r.Reason
		return nil
	})
	t.Logf("not ready: %s", reason)
	if _, body, _ := httpGet("http://" + s.HTTPAddr() + "/metrics"); !strings.Contains(body, "jetmq_ready 0") {
		t.Fatalf("jetmq_ready is not 0 while starting")
	}

	close(gate.open)
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	code, body, err := httpGet("http://" + s.HTTPAddr() + "/healthz")
	if err != nil || code != http.StatusOK || !strings.Contains(body, `"ok"`) {
		t.Fatalf("after Start: %d %q %v", code, body, err)
	}
	testutil.Shutdown(t, s)
	if err := s.Health(); err == nil || !strings.Contains(err.Error(), "shutting down") {
		t.Fatalf("Health after Shutdown = %v", err)
	}
}

// TestHTTPEndpoints checks the one listener: NATS monitoring, /metrics with
// jetmq_, go_ and process_ metrics, /healthz.
func TestHTTPEndpoints(t *testing.T) {
	s := testutil.StartServer(t)
	nc := testutil.Connect(t, s.ClientURL())
	base := "http://" + s.HTTPAddr()
	for path, want := range map[string]string{
		"/varz":    `"server_id"`,
		"/jsz":     `"config"`,
		"/connz":   `"num_connections"`,
		"/healthz": `"ok"`,
	} {
		code, body, err := httpGet(base + path)
		if err != nil || code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("%s: status %d err %v, body lacks %s: %.200s", path, code, err, want, body)
		}
	}
	_, body, err := httpGet(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		fmt.Sprintf(`jetmq_build_info{nats_version=%q,version=%q} 1`, server.NATSVersion, server.Version),
		"jetmq_nodes_live 1",
		"jetmq_ready 1",
		"go_goroutines ",
		"process_resident_memory_bytes ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	_ = nc
}

// TestRestartKeepsStreamData stops a node and starts a new one on the same
// storage: the stream and its messages are still there.
func TestRestartKeepsStreamData(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s := testutil.StartConfig(t, testutil.Config(dir))
	nc := testutil.Connect(t, s.ClientURL())
	js := testutil.JetStream(t, nc)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "KEEP", Subjects: []string{"keep.>"}}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := js.Publish(ctx, "keep.a", fmt.Appendf(nil, "m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	nc.Close()
	testutil.Shutdown(t, s)

	s = testutil.StartConfig(t, testutil.Config(dir))
	js = testutil.JetStream(t, testutil.Connect(t, s.ClientURL()))
	st, err := js.Stream(ctx, "KEEP")
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 3 {
		t.Fatalf("after restart %d messages, want 3", info.State.Msgs)
	}
	msg, err := st.GetMsg(ctx, 3)
	if err != nil || string(msg.Data) != "m2" {
		t.Fatalf("message 3 = %v %v", msg, err)
	}
}

// TestPortInUse: Start fails at once with one line naming the key, and
// leaves nothing running.
func TestPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	for _, tc := range []struct {
		key    string
		mutate func(c *server.Config)
	}{
		{"nats.port", func(c *server.Config) { c.NATS.Port = port }},
		{"http", func(c *server.Config) { h := ln.Addr().String(); c.HTTP = &h }},
		{"nats.cluster.listen", func(c *server.Config) {
			c.NATS.ServerName = "n1"
			c.NATS.Cluster = server.ClusterConfig{Name: "c", Listen: ln.Addr().String(), Routes: []string{"nats-route://" + ln.Addr().String()}}
		}},
	} {
		t.Run(tc.key, func(t *testing.T) {
			cfg := testutil.Config(t.TempDir())
			tc.mutate(cfg)
			s, err := server.New(cfg, server.WithLogger(testutil.Logger()))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err = s.Start(ctx)
			if err == nil {
				testutil.Shutdown(t, s)
				t.Fatal("Start succeeded on a port in use")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, tc.key+": ") || !strings.Contains(msg, "address already in use") || strings.Contains(msg, "\n") {
				t.Fatalf("error %q: want one line naming %s and the cause", msg, tc.key)
			}
			if server.IsConfigError(err) {
				t.Fatalf("a busy port is not a config error (exit 1, not 2): %v", err)
			}
		})
	}
}

// TestClusterSingletonMoves: three nodes elect exactly one owner of a
// singleton; when the owner's node stops, another takes over within 5 s and
// there is still exactly one. A restarted node does not make two.
func TestClusterSingletonMoves(t *testing.T) {
	c := testutil.StartCluster(t, 3)
	ctx := context.Background()
	for _, s := range c.Servers {
		s.RunSingleton(ctx, "probe", func(ctx context.Context) { <-ctx.Done() })
	}
	owner := exactlyOneActive(t, c, 10*time.Second)
	for _, s := range c.Servers {
		if n := len(s.LiveNodes()); n != 3 {
			t.Fatalf("%s hears %d nodes, want 3", s.Name(), n)
		}
	}

	stopped := time.Now()
	c.Stop(owner)
	next := exactlyOneActive(t, c, 5*time.Second)
	t.Logf("singleton moved from n%d to n%d in %s", owner+1, next+1, time.Since(stopped).Round(time.Millisecond))

	c.Restart(owner)
	c.Servers[owner].RunSingleton(ctx, "probe", func(ctx context.Context) { <-ctx.Done() })
	testutil.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		if n := len(c.Servers[owner].LiveNodes()); n != 3 {
			return fmt.Errorf("restarted node hears %d nodes", n)
		}
		return nil
	})
	exactlyOneActive(t, c, 10*time.Second)
}

// exactlyOneActive waits until exactly one running node runs "probe" and
// returns its index.
func exactlyOneActive(t *testing.T, c *testutil.Cluster, timeout time.Duration) int {
	t.Helper()
	owner := -1
	testutil.CheckFor(t, timeout, 20*time.Millisecond, func() error {
		var active []int
		for i, s := range c.Servers {
			if s != nil && s.SingletonActive("probe") {
				active = append(active, i)
			}
		}
		if len(active) != 1 {
			return fmt.Errorf("singleton active on nodes %v, want exactly one", active)
		}
		owner = active[0]
		return nil
	})
	return owner
}
