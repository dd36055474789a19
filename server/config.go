package server

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jetmq/jetmq/core"
)

// Defaults of the embedded server, in one place.
const (
	DefaultHost     = "127.0.0.1"
	DefaultPort     = 4222
	DefaultHTTP     = "127.0.0.1:8222"
	DefaultStoreDir = "./data"
	SyncDefault     = "default"
	SyncAlways      = "always"
)

// Config is everything jetmq reads from its config file, environment and
// flags. Zero values mean "default"; SetDefaults fills them in.
type Config struct {
	NATS         NATSConfig         `mapstructure:"nats"`
	HTTP         *string            `mapstructure:"http"`
	Topics       []core.TopicConfig `mapstructure:"topics"`
	Transactions core.TxnConfig     `mapstructure:"transactions"`
	Groups       []core.GroupConfig `mapstructure:"groups"`
	Log          LogConfig          `mapstructure:"log"`
	RocketMQ     RocketMQConfig     `mapstructure:"rocketmq"`
}

// NATSConfig configures the embedded nats-server.
type NATSConfig struct {
	ConfigFile string `mapstructure:"config_file"`
	// Account is the one account jetmq serves; Accounts the set (see
	// AccountConfig). Neither: every account with JetStream.
	Account    string          `mapstructure:"account"`
	Accounts   []AccountConfig `mapstructure:"accounts"`
	Host       string          `mapstructure:"host"`
	Port       int             `mapstructure:"port"`
	ServerName string          `mapstructure:"server_name"`
	StoreDir   string          `mapstructure:"store_dir"`
	Sync       string          `mapstructure:"sync"`
	Cluster    ClusterConfig   `mapstructure:"cluster"`
	// NodeTTL is how long a jetmq node may stay silent before the others
	// consider it gone and take over its singleton services.
	NodeTTL time.Duration `mapstructure:"node_ttl"`
	// Unguarded leaves jetmq's internal state reachable by application
	// users (guard.go): for a break-glass repair with the nats CLI, or a
	// test that inspects it.
	Unguarded bool `mapstructure:"unguarded"`
}

// ClusterConfig makes the node part of a NATS (and JetStream) cluster.
type ClusterConfig struct {
	Name   string   `mapstructure:"name"`
	Listen string   `mapstructure:"listen"`
	Routes []string `mapstructure:"routes"`
}

// LogConfig sets the log verbosity.
type LogConfig struct {
	Level string `mapstructure:"level"` // debug | info | warn | error
	Trace bool   `mapstructure:"trace"` // NATS protocol tracing
}

// DefaultNodeTTL bounds how long a dead node keeps its singletons.
const DefaultNodeTTL = 1500 * time.Millisecond

// Enabled reports whether the node is configured to join a cluster.
func (c ClusterConfig) Enabled() bool { return c.Name != "" || c.Listen != "" || len(c.Routes) > 0 }

// HTTPAddr returns the HTTP listen address; "" means disabled.
func (c *Config) HTTPAddr() string {
	if c.HTTP == nil {
		return DefaultHTTP
	}
	return *c.HTTP
}

// SetDefaults fills every unset field. Host, port and store dir are left
// empty when a native config file is given, so that the file's values (or
// nats-server's own defaults) apply unless jetmq keys name them; the store
// dir then still defaults to ./data if the file names none either.
func (c *Config) SetDefaults() {
	n := &c.NATS
	if n.ConfigFile == "" {
		if n.Host == "" {
			n.Host = DefaultHost
		}
		if n.Port == 0 {
			n.Port = DefaultPort
		}
		if n.StoreDir == "" {
			n.StoreDir = DefaultStoreDir
		}
	}
	if n.Sync == "" {
		n.Sync = SyncDefault
	}
	if n.NodeTTL == 0 {
		n.NodeTTL = DefaultNodeTTL
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	for i := range c.Topics {
		c.Topics[i].SetDefaults()
	}
	c.Transactions.SetDefaults()
	for i := range c.Groups {
		c.Groups[i].SetDefaults()
	}
}

// Validate checks a config whose defaults are set. The error is a
// *core.ConfigError naming the key.
func (c *Config) Validate() error {
	if err := c.validateNATS(); err != nil {
		return err
	}
	if err := c.validateCluster(); err != nil {
		return err
	}
	if addr := c.HTTPAddr(); addr != "" {
		if err := checkListenAddr(addr); err != nil {
			return cfgErr("http", "%q: %v", addr, err)
		}
	}
	if err := c.validateRocketMQ(); err != nil {
		return err
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return cfgErr("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	return c.validateSemantics()
}

// MinNodeTTL keeps the node heartbeat (a sixth of node_ttl) a real interval.
const MinNodeTTL = 100 * time.Millisecond

func (c *Config) validateNATS() error {
	n := &c.NATS
	if n.ConfigFile != "" {
		if _, err := os.Stat(n.ConfigFile); err != nil {
			return cfgErr("nats.config_file", "%v", unwrapPathError(err))
		}
	}
	if err := n.validateAccounts(); err != nil {
		return err
	}
	if n.Port < -1 || n.Port > 65535 {
		return cfgErr("nats.port", "%d is out of range 0-65535 (-1 picks a free port)", n.Port)
	}
	if n.Host != "" {
		if err := checkHost(n.Host); err != nil {
			return cfgErr("nats.host", "%v", err)
		}
	}
	if n.Sync != SyncDefault && n.Sync != SyncAlways {
		return cfgErr("nats.sync", "%q is not one of default, always", n.Sync)
	}
	if n.NodeTTL < MinNodeTTL {
		return cfgErr("nats.node_ttl", "%s is below the minimum %s", n.NodeTTL, MinNodeTTL)
	}
	if n.StoreDir != "" {
		if err := checkWritableDir(n.StoreDir); err != nil {
			return cfgErr("nats.store_dir", "%v", err)
		}
	}
	return nil
}

func (c *Config) validateCluster() error {
	cl := c.NATS.Cluster
	if !cl.Enabled() {
		return nil
	}
	if cl.Listen != "" {
		if err := checkListenAddr(cl.Listen); err != nil {
			return cfgErr("nats.cluster.listen", "%q: %v", cl.Listen, err)
		}
	}
	for i, r := range cl.Routes {
		if _, err := parseRouteURL(r); err != nil {
			return cfgErr(fmt.Sprintf("nats.cluster.routes[%d]", i), "%q: %v", r, err)
		}
	}
	if c.NATS.ConfigFile == "" {
		if cl.Name == "" {
			return cfgErr("nats.cluster.name", "required when nats.cluster is set")
		}
		if cl.Listen == "" {
			return cfgErr("nats.cluster.listen", "required when nats.cluster is set")
		}
		if c.NATS.ServerName == "" {
			return cfgErr("nats.server_name", "required in a cluster: every node needs a unique name")
		}
		if len(cl.Routes) == 0 {
			return cfgErr("nats.cluster.routes", "required when nats.cluster is set: JetStream in a cluster needs routes to the other nodes")
		}
	}
	return nil
}

func (c *Config) validateSemantics() error {
	topics := map[string]bool{}
	for i := range c.Topics {
		key := fmt.Sprintf("topics[%d]", i)
		if err := c.Topics[i].Validate(key); err != nil {
			return err
		}
		if topics[c.Topics[i].Name] {
			return cfgErr(key+".name", "topic %q is defined twice", c.Topics[i].Name)
		}
		topics[c.Topics[i].Name] = true
	}
	if err := c.Transactions.Validate("transactions"); err != nil {
		return err
	}
	groups := map[string]bool{}
	for i := range c.Groups {
		g := &c.Groups[i]
		key := fmt.Sprintf("groups[%d]", i)
		if err := g.Validate(key); err != nil {
			return err
		}
		if !topics[g.Topic] {
			return cfgErr(key+".topic", "topic %q is not defined under topics", g.Topic)
		}
		id := g.Topic + "/" + g.Name
		if groups[id] {
			return cfgErr(key+".name", "group %q of topic %q is defined twice", g.Name, g.Topic)
		}
		groups[id] = true
	}
	return nil
}

func cfgErr(key, format string, args ...any) error {
	return &core.ConfigError{Key: key, Problem: fmt.Sprintf(format, args...)}
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %v", pe.Path, pe.Err)
	}
	return err
}

// checkWritableDir creates dir if needed and proves it is writable.
func checkWritableDir(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return unwrapPathError(err)
	}
	f, err := os.CreateTemp(dir, ".jetmq-write-check-*")
	if err != nil {
		return fmt.Errorf("%s is not writable: %v", dir, unwrapPathError(err))
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

func splitHostPort(addr string) (string, int, error) {
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	p, err := strconv.Atoi(ps)
	if err != nil || p < -1 || p > 65535 {
		return "", 0, fmt.Errorf("port %q is not a number in 0-65535", ps)
	}
	return host, p, nil
}

// checkListenAddr checks host:port; an empty host listens everywhere.
func checkListenAddr(addr string) error {
	host, _, err := splitHostPort(addr)
	if err != nil || host == "" {
		return err
	}
	return checkHost(host)
}

// checkHost accepts an IP address or a DNS host name (RFC 1123 labels
// whose last one is not all digits, so 256.1.1.1 is neither).
func checkHost(h string) error {
	if _, err := netip.ParseAddr(h); err == nil || isHostname(h) {
		return nil
	}
	return fmt.Errorf("%q is not an IP address or host name", h)
}

func isHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if len(h) == 0 || len(h) > 253 {
		return false
	}
	labels := strings.Split(h, ".")
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
				return false
			}
		}
	}
	_, err := strconv.Atoi(labels[len(labels)-1])
	return err != nil
}

func validateAccountName(a string) error {
	for _, r := range a {
		if r <= ' ' || r == '.' || r == '*' || r == '>' {
			return fmt.Errorf("%q is not a valid account name", a)
		}
	}
	return nil
}

// absStoreDir resolves the store dir so logs and nats-server agree on it.
func absStoreDir(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}
