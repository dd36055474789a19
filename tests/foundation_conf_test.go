package tests

// Every example under conf/ is loaded and run by a test here, with only
// ports and storage overridden (through flags or JETMQ_* variables).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.yaml.in/yaml/v3"
)

func confPath(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "conf", rel))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// loadExampleConf loads conf/<rel> as a user would start it, with a free
// client port, a free HTTP port and a fresh store dir (through the JETMQ_
// variables, which override the file).
func loadExampleConf(t *testing.T, rel string) *server.Config {
	t.Helper()
	t.Setenv("JETMQ_NATS_STORE_DIR", t.TempDir())
	t.Setenv("JETMQ_NATS_PORT", "-1")
	t.Setenv("JETMQ_HTTP", "127.0.0.1:0")
	cfg, err := server.LoadConfig(confPath(t, rel), nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestConfExamplesLoad: every example passes server.LoadConfig.
func TestConfExamplesLoad(t *testing.T) {
	for _, f := range []string{"jetmq.yaml", "cluster/n1.yaml", "cluster/n2.yaml", "cluster/n3.yaml", "dropin/jetmq.yaml", "tenants/jetmq.yaml", "operator/jetmq.yaml", "rocketmq/jetmq.yaml"} {
		t.Run(f, func(t *testing.T) {
			t.Setenv("JETMQ_NATS_STORE_DIR", t.TempDir())
			cfg, err := server.LoadConfig(confPath(t, f), nil)
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(f, "cluster/") {
				if !cfg.NATS.Cluster.Enabled() || len(cfg.NATS.Cluster.Routes) != 3 {
					t.Fatalf("not a three-node cluster: %+v", cfg.NATS.Cluster)
				}
				for _, tp := range cfg.Topics {
					if tp.Replicas != 3 {
						t.Fatalf("topic %s has %d replicas, want 3", tp.Name, tp.Replicas)
					}
				}
			}
		})
	}
}

// TestConfJetmqYAMLDocumentsEveryKey: conf/jetmq.yaml sets every key the
// Config struct has, so it is the complete, commented reference.
func TestConfJetmqYAMLDocumentsEveryKey(t *testing.T) {
	v := readYAML(t, confPath(t, "jetmq.yaml"))
	var got []string
	flattenYAML("", v, &got)
	want := structKeys(reflect.TypeOf(server.Config{}), "")
	have := map[string]bool{}
	for _, k := range got {
		have[k] = true
	}
	for _, k := range want {
		if !have[k] {
			t.Errorf("conf/jetmq.yaml does not show key %s", k)
		}
	}
}

func readYAML(t *testing.T, path string) any {
	t.Helper()
	var v any
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// flattenYAML lists the dotted keys of a YAML document; list elements
// count as "[]".
func flattenYAML(prefix string, v any, out *[]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			key := k
			if prefix != "" {
				key = prefix + "." + k
			}
			*out = append(*out, key)
			flattenYAML(key, e, out)
		}
	case []any:
		for _, e := range v {
			if _, ok := e.(map[string]any); ok {
				flattenYAML(prefix+"[]", e, out)
			}
		}
	}
}

// structKeys lists the dotted mapstructure keys of t, as flattenYAML does.
func structKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("mapstructure")
		if tag == "" || tag == "-" {
			continue
		}
		key := prefix + tag
		keys = append(keys, key)
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case ft.Kind() == reflect.Struct && ft != reflect.TypeOf(time.Duration(0)):
			keys = append(keys, structKeys(ft, key+".")...)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			keys = append(keys, structKeys(ft.Elem(), key+"[].")...)
		}
	}
	sort.Strings(keys)
	return keys
}

// TestConfSingleNode runs conf/jetmq.yaml with the binary, overriding
// port, HTTP address and storage through JETMQ_* variables.
func TestConfSingleNode(t *testing.T) {
	dir := t.TempDir()
	env := []string{"JETMQ_NATS_PORT=-1", "JETMQ_HTTP=127.0.0.1:0", "JETMQ_NATS_STORE_DIR=" + filepath.Join(dir, "data")}
	p := testutil.StartProcessEnv(t, dir, env, "-c", confPath(t, "jetmq.yaml"))
	clientURL, httpAddr := p.WaitReady(t, procTimeout)
	if !strings.HasPrefix(clientURL, "nats://127.0.0.1:") || !strings.HasPrefix(httpAddr, "127.0.0.1:") {
		t.Fatalf("listens on %s, http %s", clientURL, httpAddr)
	}
	publishAndConsume(t, testutil.JetStream(t, testutil.Connect(t, clientURL)), "SINGLE", 5)
	if code, _ := getHTTP(t, httpAddr, "/healthz"); code != 200 {
		t.Fatalf("/healthz %d", code)
	}
	stopBinary(t, p)
}

// TestConfDropIn runs conf/dropin/jetmq.yaml (which points at the native
// nats.conf): JetStream is enabled by jetmq and says so, unauthenticated
// clients are refused, users authenticate as nats.conf says, permissions
// apply and the two accounts are isolated.
func TestConfDropIn(t *testing.T) {
	dir := t.TempDir()
	p := testutil.StartProcess(t, dir, "-c", confPath(t, "dropin/jetmq.yaml"),
		"-p", "-1", "--http", "127.0.0.1:0", "--store-dir", filepath.Join(dir, "data"))
	clientURL, _ := p.WaitReady(t, procTimeout)
	if !strings.Contains(p.Stderr.String(), "JetStream was not enabled in the nats config; jetmq enables it") {
		t.Errorf("the log does not say jetmq enabled JetStream")
	}

	if nc, err := nats.Connect(clientURL); err == nil {
		nc.Close()
		t.Fatal("an unauthenticated client was served")
	} else if !strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
		t.Fatalf("unauthenticated: %v", err)
	}
	if nc, err := nats.Connect(clientURL, nats.UserInfo("alice", "wrong")); err == nil {
		nc.Close()
		t.Fatal("a wrong password was accepted")
	}

	alice := testutil.Connect(t, clientURL, nats.UserInfo("alice", "alice-secret"))
	publishAndConsume(t, testutil.JetStream(t, alice), "SHOPPING", 5)

	// OTHER is a separate account: no JetStream (the file gives it none),
	// and it does not see SHOP's messages.
	carol := testutil.Connect(t, clientURL, nats.UserInfo("carol", "carol-secret"))
	if _, err := testutil.JetStream(t, carol).AccountInfo(context.Background()); !errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
		t.Errorf("OTHER account JetStream: %v, want not enabled", err)
	}
	carolSub, err := carol.SubscribeSync("news")
	if err != nil {
		t.Fatal(err)
	}
	aliceSub, err := alice.SubscribeSync("news")
	if err != nil {
		t.Fatal(err)
	}
	if err := carol.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := alice.Publish("news", []byte("for SHOP only")); err != nil {
		t.Fatal(err)
	}
	if _, err := aliceSub.NextMsg(5 * time.Second); err != nil {
		t.Fatalf("SHOP subscriber: %v", err)
	}
	if err := carol.Flush(); err != nil {
		t.Fatal(err)
	}
	if m, err := carolSub.NextMsg(100 * time.Millisecond); err == nil {
		t.Fatalf("OTHER received SHOP's message %q", m.Data)
	}

	// bob may publish only to orders: anything else is a permissions
	// violation, as under nats-server.
	denied := make(chan error, 1)
	bob := testutil.Connect(t, clientURL, nats.UserInfo("bob", "bob-secret"),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			select {
			case denied <- err:
			default:
			}
		}))
	if err := bob.Publish("secret", []byte("x")); err != nil {
		t.Fatal(err)
	}
	_ = bob.Flush()
	select {
	case err := <-denied:
		if !strings.Contains(strings.ToLower(err.Error()), "permissions violation") {
			t.Fatalf("bob: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("bob's forbidden publish was not refused")
	}
	stopBinary(t, p)
}

var liveRE = regexp.MustCompile(`(?m)^jetmq_nodes_live (\d+)$`)

func nodesLive(t *testing.T, httpAddr string) (string, error) {
	t.Helper()
	_, body := getHTTP(t, httpAddr, "/metrics")
	m := liveRE.FindStringSubmatch(body)
	if m == nil {
		return "", errors.New("no jetmq_nodes_live in /metrics")
	}
	return m[1], nil
}

// checkSystemUser: the system account user of conf/cluster/nats.conf gets
// a JetStream report from every node, as `nats server report jetstream`
// asks for it (and runs that command too when the nats CLI is installed).
func checkSystemUser(t *testing.T, url string, servers []string) {
	t.Helper()
	sys := testutil.Connect(t, url, nats.UserInfo("sys", "sys-secret"))
	inbox := sys.NewRespInbox()
	sub, err := sys.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	if err := sys.PublishRequest("$SYS.REQ.SERVER.PING.JSZ", inbox, nil); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for len(seen) < len(servers) {
		m, err := sub.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatalf("JSZ replies from %v, want %v: %v", seen, servers, err)
		}
		var reply struct {
			Server struct{ Name string } `json:"server"`
			Data   *struct{}             `json:"data"`
		}
		if err := json.Unmarshal(m.Data, &reply); err != nil || reply.Data == nil {
			t.Fatalf("JSZ reply %s: %v", m.Data, err)
		}
		seen[reply.Server.Name] = true
	}
	for _, name := range servers {
		if !seen[name] {
			t.Fatalf("JSZ replies from %v, want %v", seen, servers)
		}
	}
	if _, err := exec.LookPath("nats"); err != nil {
		t.Log("nats CLI not on PATH; `nats server report jetstream` not run")
		return
	}
	out, err := exec.Command("nats", "-s", url, "--user", "sys", "--password", "sys-secret", "server", "report", "jetstream").CombinedOutput()
	if err != nil {
		t.Fatalf("nats server report jetstream: %v\n%s", err, out)
	}
	for _, name := range servers {
		if !strings.Contains(string(out), name) {
			t.Fatalf("nats server report jetstream does not list %s:\n%s", name, out)
		}
	}
}

// TestConfClusterKill9 runs conf/cluster/n1..n3.yaml as three processes
// (ports and storage overridden by flags), kills the leader of a replicated
// stream with kill -9 and checks that the others notice within 5 s, keep
// the stream writable and that the node rejoins after a restart.
func TestConfClusterKill9(t *testing.T) {
	dir := t.TempDir()
	routePorts := []int{testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t)}
	var routes []string
	for _, p := range routePorts {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
	}
	args := func(i int) []string {
		return []string{"-c", confPath(t, fmt.Sprintf("cluster/n%d.yaml", i+1)),
			"-p", "-1", "--http", "127.0.0.1:0", "--store-dir", filepath.Join(dir, fmt.Sprintf("n%d", i+1)),
			"--cluster-listen", fmt.Sprintf("127.0.0.1:%d", routePorts[i]), "--routes", strings.Join(routes, ",")}
	}
	procs := make([]*testutil.Process, 3)
	urls := make([]string, 3)
	https := make([]string, 3)
	for i := range procs {
		procs[i] = testutil.StartProcess(t, dir, args(i)...)
	}
	for i, p := range procs {
		urls[i], https[i] = p.WaitReady(t, 2*procTimeout)
	}
	for i := range procs {
		testutil.CheckFor(t, 10*time.Second, 100*time.Millisecond, func() error {
			if n, err := nodesLive(t, https[i]); err != nil || n != "3" {
				return fmt.Errorf("n%d hears %s nodes (%v)", i+1, n, err)
			}
			return nil
		})
	}

	checkSystemUser(t, urls[0], []string{"n1", "n2", "n3"})

	nc := testutil.Connect(t, strings.Join(urls, ","), nats.MaxReconnects(-1))
	js := testutil.JetStream(t, nc)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "R3", Subjects: []string{"r3.>"}, Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := js.Publish(ctx, "r3.k", fmt.Appendf(nil, "m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	leader := int(info.Cluster.Leader[1] - '1') // "n2" -> 1
	procs[leader].Kill9()
	killed := time.Now()

	for i := range procs {
		if i == leader {
			continue
		}
		testutil.CheckFor(t, 5*time.Second, 50*time.Millisecond, func() error {
			if n, err := nodesLive(t, https[i]); err != nil || n != "2" {
				return fmt.Errorf("n%d hears %s nodes (%v)", i+1, n, err)
			}
			return nil
		})
	}
	t.Logf("n%d killed; the others noticed after %s", leader+1, time.Since(killed).Round(time.Millisecond))

	testutil.CheckFor(t, 30*time.Second, 200*time.Millisecond, func() error {
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		defer pcancel()
		_, err := js.Publish(pctx, "r3.k", []byte("after kill"))
		return err
	})
	if info, err = st.Info(ctx); err != nil || info.State.Msgs != 6 {
		t.Fatalf("after kill -9: %v messages, err %v; want 6", info.State.Msgs, err)
	}

	procs[leader] = testutil.StartProcess(t, dir, args(leader)...)
	_, https[leader] = procs[leader].WaitReady(t, 2*procTimeout)
	testutil.CheckFor(t, 10*time.Second, 100*time.Millisecond, func() error {
		if n, err := nodesLive(t, https[leader]); err != nil || n != "3" {
			return fmt.Errorf("restarted n%d hears %s nodes (%v)", leader+1, n, err)
		}
		return nil
	})
	nc.Close()
	for _, p := range procs {
		_ = p.Signal(syscall.SIGTERM)
	}
	for i, p := range procs {
		if code := p.Wait(procTimeout); code != 0 {
			t.Errorf("n%d: SIGTERM exit %d", i+1, code)
		}
	}
}
