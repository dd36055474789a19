package server

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/spf13/pflag"
)

func TestSetDefaults(t *testing.T) {
	var c Config
	c.SetDefaults()
	if c.NATS.Host != "127.0.0.1" || c.NATS.Port != 4222 {
		t.Fatalf("client address %s:%d, want 127.0.0.1:4222", c.NATS.Host, c.NATS.Port)
	}
	if c.NATS.StoreDir != "./data" {
		t.Fatalf("store dir %q, want ./data", c.NATS.StoreDir)
	}
	if c.HTTPAddr() != "127.0.0.1:8222" {
		t.Fatalf("http %q, want 127.0.0.1:8222", c.HTTPAddr())
	}
	if c.NATS.Sync != SyncDefault || c.NATS.NodeTTL != DefaultNodeTTL || c.Log.Level != "info" {
		t.Fatalf("sync %q, node_ttl %s, log level %q", c.NATS.Sync, c.NATS.NodeTTL, c.Log.Level)
	}
	if c.Transactions.CheckImmunity != 6*time.Second || c.Transactions.MaxChecks != 15 {
		t.Fatalf("transactions defaults: %+v", c.Transactions)
	}
}

// With a native config file the file decides the listen address.
func TestSetDefaultsLeavesNativeConfigAlone(t *testing.T) {
	c := Config{NATS: NATSConfig{ConfigFile: "nats.conf"}}
	c.SetDefaults()
	if c.NATS.Host != "" || c.NATS.Port != 0 || c.NATS.StoreDir != "" {
		t.Fatalf("jetmq defaults override the native file: %+v", c.NATS)
	}
}

func TestHTTPEmptyDisables(t *testing.T) {
	off := ""
	c := Config{HTTP: &off}
	if c.HTTPAddr() != "" {
		t.Fatalf("http %q, want disabled", c.HTTPAddr())
	}
}

// validConfig is a config that passes Validate; cases break one thing.
func validConfig(t *testing.T) *Config {
	c := &Config{
		NATS:   NATSConfig{StoreDir: t.TempDir()},
		Topics: []core.TopicConfig{{Name: "orders"}},
		Groups: []core.GroupConfig{{Name: "email", Topic: "orders"}},
	}
	c.SetDefaults()
	return c
}

func TestValidateNamesTheKey(t *testing.T) {
	file := filepath.Join(t.TempDir(), "regular-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key    string
		mutate func(c *Config)
	}{
		{"nats.port", func(c *Config) { c.NATS.Port = 70000 }},
		{"nats.port", func(c *Config) { c.NATS.Port = -2 }},
		{"nats.host", func(c *Config) { c.NATS.Host = "no such host!" }},
		{"nats.host", func(c *Config) { c.NATS.Host = "256.1.1.1" }},
		{"nats.host", func(c *Config) { c.NATS.Host = "-bad.example" }},
		{"nats.node_ttl", func(c *Config) { c.NATS.NodeTTL = 2 * time.Nanosecond }},
		{"http", func(c *Config) { h := "300.0.0.1:8222"; c.HTTP = &h }},
		{"nats.cluster.listen", func(c *Config) {
			c.NATS.Cluster = ClusterConfig{Name: "c", Listen: "1.2.3.256:6222", Routes: []string{"nats-route://127.0.0.1:6222"}}
		}},
		{"nats.cluster.routes[0]", func(c *Config) {
			c.NATS.Cluster = ClusterConfig{Name: "c", Listen: "127.0.0.1:6222", Routes: []string{"nats-route://256.1.1.1:6222"}}
		}},
		{"nats.sync", func(c *Config) { c.NATS.Sync = "sometimes" }},
		{"nats.node_ttl", func(c *Config) { c.NATS.NodeTTL = -time.Second }},
		// Root can write anywhere, but not below a regular file.
		{"nats.store_dir", func(c *Config) { c.NATS.StoreDir = filepath.Join(file, "data") }},
		{"nats.config_file", func(c *Config) { c.NATS.ConfigFile = filepath.Join(t.TempDir(), "missing.conf") }},
		{"nats.account", func(c *Config) { c.NATS.Account = "A.B" }},
		{"nats.accounts", func(c *Config) { c.NATS.Account, c.NATS.Accounts = "A", []AccountConfig{{Account: "B"}} }},
		{"nats.accounts[0].account", func(c *Config) { c.NATS.Accounts = []AccountConfig{{Creds: file}} }},
		{"nats.accounts[1].account", func(c *Config) { c.NATS.Accounts = []AccountConfig{{Account: "A"}, {Account: "A"}} }},
		{"nats.accounts[0].creds", func(c *Config) {
			c.NATS.Accounts = []AccountConfig{{Account: "A", Creds: filepath.Join(t.TempDir(), "missing.creds")}}
		}},
		{"nats.cluster.name", func(c *Config) { c.NATS.Cluster.Listen = "127.0.0.1:6222"; c.NATS.ServerName = "n1" }},
		{"nats.cluster.listen", func(c *Config) { c.NATS.Cluster.Name = "c" }},
		{"nats.cluster.listen", func(c *Config) { c.NATS.Cluster.Name, c.NATS.Cluster.Listen = "c", "6222" }},
		{"nats.server_name", func(c *Config) { c.NATS.Cluster.Name, c.NATS.Cluster.Listen = "c", "127.0.0.1:6222" }},
		{"nats.cluster.routes", func(c *Config) {
			c.NATS.ServerName = "n1"
			c.NATS.Cluster.Name, c.NATS.Cluster.Listen = "c", "127.0.0.1:6222"
		}},
		{"nats.cluster.routes[1]", func(c *Config) {
			c.NATS.Cluster = ClusterConfig{Name: "c", Listen: "127.0.0.1:6222", Routes: []string{"nats-route://127.0.0.1:6222", "127.0.0.1"}}
		}},
		{"http", func(c *Config) { h := "8222"; c.HTTP = &h }},
		{"http", func(c *Config) { h := "127.0.0.1:abc"; c.HTTP = &h }},
		{"log.level", func(c *Config) { c.Log.Level = "loud" }},
		{"topics[0].name", func(c *Config) { c.Topics[0].Name = "a.b" }},
		{"topics[0].partitions", func(c *Config) { c.Topics[0].Partitions = -1 }},
		{"topics[0].max_age", func(c *Config) { c.Topics[0].MaxAge = -time.Hour }},
		{"topics[1].name", func(c *Config) { c.Topics = append(c.Topics, c.Topics[0]) }},
		{"transactions.check_interval", func(c *Config) { c.Transactions.CheckInterval = -time.Second }},
		{"transactions.max_checks", func(c *Config) { c.Transactions.MaxChecks = -1 }},
		{"transactions.check_rate", func(c *Config) { c.Transactions.CheckRate = -1 }},
		{"groups[0].mode", func(c *Config) { c.Groups[0].Mode = "sideways" }},
		{"groups[0].start", func(c *Config) { c.Groups[0].Start = "middle" }},
		{"groups[0].topic", func(c *Config) { c.Groups[0].Topic = "payments" }},
		{"groups[0].retry_backoff[1]", func(c *Config) { c.Groups[0].RetryBackoff = []time.Duration{time.Minute, time.Second} }},
		{"groups[0].retry_backoff[0]", func(c *Config) { c.Groups[0].RetryBackoff = []time.Duration{-time.Second} }},
		{"groups[0].max_reconsume", func(c *Config) { c.Groups[0].MaxReconsume = -3 }},
		{"rocketmq.credentials[0].access_key", func(c *Config) { c.RocketMQ.Credentials = []RocketMQCredential{{SecretKey: "s", Account: "A"}} }},
		{"rocketmq.credentials[0].access_key", func(c *Config) {
			c.RocketMQ.Credentials = []RocketMQCredential{{AccessKey: "a/b", SecretKey: "s", Account: "A"}}
		}},
		{"rocketmq.credentials[1].access_key", func(c *Config) {
			c.RocketMQ.Credentials = []RocketMQCredential{{AccessKey: "k", SecretKey: "s", Account: "A"}, {AccessKey: "k", SecretKey: "t", Account: "B"}}
		}},
		{"rocketmq.credentials[0].secret_key", func(c *Config) { c.RocketMQ.Credentials = []RocketMQCredential{{AccessKey: "k", Account: "A"}} }},
		{"rocketmq.credentials[0]", func(c *Config) { c.RocketMQ.Credentials = []RocketMQCredential{{AccessKey: "k", SecretKey: "s"}} }},
		{"rocketmq.credentials[0]", func(c *Config) {
			c.RocketMQ.Credentials = []RocketMQCredential{{AccessKey: "k", SecretKey: "s", User: "u", Creds: file}}
		}},
		{"rocketmq.credentials[0].password", func(c *Config) {
			c.RocketMQ.Credentials = []RocketMQCredential{{AccessKey: "k", SecretKey: "s", Account: "A", Password: "p"}}
		}},
		{"rocketmq.credentials[0].nkey", func(c *Config) {
			c.RocketMQ.Credentials = []RocketMQCredential{{AccessKey: "k", SecretKey: "s", Nkey: filepath.Join(t.TempDir(), "missing.nk")}}
		}},
	} {
		t.Run(tc.key, func(t *testing.T) {
			c := validConfig(t)
			if err := c.Validate(); err != nil {
				t.Fatalf("valid config refused: %v", err)
			}
			tc.mutate(c)
			err := c.Validate()
			var ce *core.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a ConfigError", err)
			}
			if ce.Key != tc.key {
				t.Fatalf("error names %q, want %q (%v)", ce.Key, tc.key, err)
			}
			assertOneLine(t, err)
		})
	}
}

func assertOneLine(t *testing.T, err error) {
	t.Helper()
	if msg := err.Error(); strings.Contains(msg, "\n") || msg == "" {
		t.Fatalf("error is not one line: %q", msg)
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLoadConfigRejects feeds bad files through the whole loader: unknown
// keys, wrong types and bad values all come back as one line naming the key.
func TestLoadConfigRejects(t *testing.T) {
	notDir := writeFile(t, "regular-file", "")
	for _, tc := range []struct {
		name, file, content, key string
	}{
		{"port abc", "c.yaml", "nats:\n  port: abc\n", "nats.port"},
		{"unknown key", "c.yaml", "nats:\n  portt: 4222\n", "nats.portt"},
		{"unknown top-level key", "c.yaml", "bogus: 1\n", "bogus"},
		{"unknown group key", "c.yaml", "topics: [{name: o}]\ngroups:\n  - {name: g, topic: o, modee: x}\n", "groups[0].modee"},
		{"wrong type map", "c.yaml", "nats: [1, 2]\n", "nats"},
		{"wrong type bool", "c.yaml", "log:\n  trace: maybe\n", "log.trace"},
		{"wrong type list", "c.yaml", "topics: orders\n", "topics[0]"},
		{"negative duration", "c.yaml", "transactions:\n  check_interval: -5s\n", "transactions.check_interval"},
		{"bad duration", "c.yaml", "transactions:\n  check_timeout: soon\n", "transactions.check_timeout"},
		{"store dir below a file", "c.yaml", "nats:\n  store_dir: " + notDir + "/data\n", "nats.store_dir"},
		{"bad mode", "c.yaml", "topics: [{name: o}]\ngroups:\n  - {name: g, topic: o, mode: sideways}\n", "groups[0].mode"},
		{"bad backoff order", "c.yaml", "topics: [{name: o}]\ngroups:\n  - {name: g, topic: o, retry_backoff: [1m, 10s]}\n", "groups[0].retry_backoff[1]"},
		{"bad backoff value", "c.yaml", "topics: [{name: o}]\ngroups:\n  - {name: g, topic: o, retry_backoff: [10s, later]}\n", "groups[0].retry_backoff[1]"},
		{"toml wrong type", "c.toml", "[nats]\nport = \"abc\"\n", "nats.port"},
		{"json unknown key", "c.json", `{"nats": {"prot": 1}}`, "nats.prot"},
		{"yaml syntax", "c.yaml", "nats: {port: 1\n", "--config"},
		{"unsupported type", "c.conf", "port: 4222\n", "--config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.key != "nats.store_dir" {
				// Keep the default ./data out of the source tree.
				t.Setenv("JETMQ_NATS_STORE_DIR", t.TempDir())
			}
			_, err := LoadConfig(writeFile(t, tc.file, tc.content), nil)
			var ce *core.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a ConfigError", err)
			}
			if !strings.HasPrefix(ce.Key, tc.key) {
				t.Fatalf("error names %q, want %q: %v", ce.Key, tc.key, err)
			}
			assertOneLine(t, err)
		})
	}
}

func TestLoadConfigMissingFile(t *testing.T) {
	_, err := LoadConfig(filepath.Join(t.TempDir(), "nope.yaml"), nil)
	if !IsConfigError(err) || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("got %v", err)
	}
	assertOneLine(t, err)
}

// serveFlags mirrors the flags cmd/jetmq defines for the keys in FlagKeys.
func serveFlags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("jetmq", pflag.ContinueOnError)
	fs.String("nats-config", "", "")
	fs.String("host", DefaultHost, "")
	fs.IntP("port", "p", DefaultPort, "")
	fs.String("store-dir", DefaultStoreDir, "")
	fs.String("http", DefaultHTTP, "")
	fs.String("server-name", "", "")
	fs.String("cluster-name", "", "")
	fs.String("cluster-listen", "", "")
	fs.StringSlice("routes", nil, "")
	fs.String("rocketmq-listen", DefaultRocketMQ, "")
	if len(FlagKeys) != 10 {
		t.Fatalf("FlagKeys has %d flags; update serveFlags", len(FlagKeys))
	}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

// TestLoadConfigPrecedence: flag > env > file > default, key by key.
func TestLoadConfigPrecedence(t *testing.T) {
	store := t.TempDir()
	file := writeFile(t, "c.yaml", "nats:\n  port: 1111\n  server_name: from-file\n  store_dir: "+store+"\nhttp: 127.0.0.1:1112\n")

	cfg, err := LoadConfig("", serveFlags(t, "--store-dir", store))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NATS.Port != DefaultPort || cfg.HTTPAddr() != DefaultHTTP || cfg.NATS.ServerName != "" {
		t.Fatalf("defaults: port %d http %q name %q", cfg.NATS.Port, cfg.HTTPAddr(), cfg.NATS.ServerName)
	}

	cfg, err = LoadConfig(file, serveFlags(t))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NATS.Port != 1111 || cfg.HTTPAddr() != "127.0.0.1:1112" || cfg.NATS.ServerName != "from-file" {
		t.Fatalf("file: port %d http %q name %q", cfg.NATS.Port, cfg.HTTPAddr(), cfg.NATS.ServerName)
	}

	t.Setenv("JETMQ_NATS_PORT", "2222")
	t.Setenv("JETMQ_HTTP", "127.0.0.1:2223")
	t.Setenv("JETMQ_NATS_CLUSTER_ROUTES", "nats-route://127.0.0.1:1,nats-route://127.0.0.1:2")
	t.Setenv("JETMQ_NATS_CLUSTER_NAME", "env-cluster")
	t.Setenv("JETMQ_NATS_CLUSTER_LISTEN", "127.0.0.1:2224")
	cfg, err = LoadConfig(file, serveFlags(t))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NATS.Port != 2222 || cfg.HTTPAddr() != "127.0.0.1:2223" || cfg.NATS.ServerName != "from-file" {
		t.Fatalf("env over file: port %d http %q name %q", cfg.NATS.Port, cfg.HTTPAddr(), cfg.NATS.ServerName)
	}
	if len(cfg.NATS.Cluster.Routes) != 2 || cfg.NATS.Cluster.Name != "env-cluster" {
		t.Fatalf("env cluster: %+v", cfg.NATS.Cluster)
	}

	cfg, err = LoadConfig(file, serveFlags(t, "-p", "3333", "--http", "", "--server-name", "from-flag"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NATS.Port != 3333 || cfg.HTTPAddr() != "" || cfg.NATS.ServerName != "from-flag" {
		t.Fatalf("flag over env: port %d http %q name %q", cfg.NATS.Port, cfg.HTTPAddr(), cfg.NATS.ServerName)
	}
}

func TestLoadConfigEnvBadValueNamesKey(t *testing.T) {
	t.Setenv("JETMQ_NATS_PORT", "abc")
	t.Setenv("JETMQ_NATS_STORE_DIR", t.TempDir())
	_, err := LoadConfig("", nil)
	var ce *core.ConfigError
	if !errors.As(err, &ce) || ce.Key != "nats.port" {
		t.Fatalf("got %v, want an error naming nats.port", err)
	}
}

// TestLoadConfigEnvHostIsChecked: an address that is neither an IP nor a
// host name is refused from the environment too, naming the key.
func TestLoadConfigEnvHostIsChecked(t *testing.T) {
	t.Setenv("JETMQ_NATS_STORE_DIR", t.TempDir())
	for _, host := range []string{"256.1.1.1", "1.2.3", "a..b", "host_name"} {
		t.Setenv("JETMQ_NATS_HOST", host)
		_, err := LoadConfig("", nil)
		var ce *core.ConfigError
		if !errors.As(err, &ce) || ce.Key != "nats.host" {
			t.Fatalf("JETMQ_NATS_HOST=%s: got %v, want an error naming nats.host", host, err)
		}
	}
	for _, host := range []string{"0.0.0.0", "::1", "localhost", "jetmq-1.example.com"} {
		t.Setenv("JETMQ_NATS_HOST", host)
		if _, err := LoadConfig("", nil); err != nil {
			t.Fatalf("JETMQ_NATS_HOST=%s refused: %v", host, err)
		}
	}
}

// A relative nats.config_file in a jetmq file is relative to that file.
func TestLoadConfigNativeFileRelativeToConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "nats.conf"), []byte("port: 4333\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "jetmq.yaml")
	if err := os.WriteFile(file, []byte("nats:\n  config_file: nats.conf\n  store_dir: "+t.TempDir()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "nats.conf"); cfg.NATS.ConfigFile != want {
		t.Fatalf("config_file %q, want %q", cfg.NATS.ConfigFile, want)
	}
}

func TestListenErrorNamesKey(t *testing.T) {
	for _, tc := range []struct{ fatal, want string }{
		{`Error listening on port: 127.0.0.1:4222, "listen tcp 127.0.0.1:4222: bind: address already in use"`,
			"nats.port: cannot start: listen tcp 127.0.0.1:4222: bind: address already in use"},
		{`Error listening on router port: 6222 - listen tcp 127.0.0.1:6222: bind: address already in use`,
			"nats.cluster.listen: cannot start: listen tcp 127.0.0.1:6222: bind: address already in use"},
		{"something else\nentirely", "nats: cannot start: something else entirely"},
	} {
		if got := listenError(errors.New(tc.fatal)).Error(); got != tc.want {
			t.Errorf("listenError(%q) = %q, want %q", tc.fatal, got, tc.want)
		}
	}
}
