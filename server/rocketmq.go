package server

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/jetmq/jetmq/rocketmq"
)

// DefaultRocketMQ is where RocketMQ 5 clients connect by default: the
// RocketMQ proxy's own port.
const DefaultRocketMQ = "127.0.0.1:8081"

// RocketMQConfig configures the RocketMQ 5 gRPC endpoint (docs/ROCKETMQ.md).
type RocketMQConfig struct {
	// Listen is host:port; "" disables the endpoint (default 127.0.0.1:8081).
	Listen *string  `mapstructure:"listen"`
	TLS    TLSFiles `mapstructure:"tls"`
	// Plaintext also accepts clients without TLS, on the same port.
	Plaintext bool `mapstructure:"plaintext"`
	// LongPolling is the longest a receive waits for a message (default
	// 20s; clients ask for up to 30s).
	LongPolling time.Duration `mapstructure:"long_polling"`
}

// TLSFiles names a PEM certificate and its key.
type TLSFiles struct {
	Cert string `mapstructure:"cert"`
	Key  string `mapstructure:"key"`
}

// RocketMQAddr returns the configured listen address; "" means disabled.
func (c *Config) RocketMQAddr() string {
	if c.RocketMQ.Listen == nil {
		return DefaultRocketMQ
	}
	return *c.RocketMQ.Listen
}

func (c *Config) validateRocketMQ() error {
	r := &c.RocketMQ
	addr := c.RocketMQAddr()
	if addr == "" {
		return nil
	}
	if err := checkListenAddr(addr); err != nil {
		return cfgErr("rocketmq.listen", "%q: %v", addr, err)
	}
	if (r.TLS.Cert == "") != (r.TLS.Key == "") {
		return cfgErr("rocketmq.tls", "set both cert and key, or neither (a self-signed certificate is generated)")
	}
	for key, f := range map[string]string{"rocketmq.tls.cert": r.TLS.Cert, "rocketmq.tls.key": r.TLS.Key} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			return cfgErr(key, "%v", unwrapPathError(err))
		}
	}
	if r.LongPolling != 0 && (r.LongPolling < 100*time.Millisecond || r.LongPolling > time.Minute) {
		return cfgErr("rocketmq.long_polling", "%s is not in 100ms-1m", r.LongPolling)
	}
	return nil
}

// startRocketMQ opens the RocketMQ endpoint, a client of this node's
// jetmq services over its own in-process connection.
func (s *Server) startRocketMQ(ctx context.Context) error {
	addr := s.cfg.RocketMQAddr()
	if addr == "" {
		return nil
	}
	s.setNotReady("starting the RocketMQ endpoint")
	// RocketMQ clients act in the first tenant's account (nats.account,
	// or the first of nats.accounts).
	if len(s.plan.tenants) == 0 {
		return &StartError{Key: "rocketmq.listen", Problem: "no account is served: the endpoint needs one"}
	}
	nc, err := connectInProcess(s.ns, s.plan.tenants[0], "jetmq-rocketmq")
	if err != nil {
		return err
	}
	r := s.cfg.RocketMQ
	ep, err := rocketmq.New(nc, rocketmq.Options{Listen: addr, TLSCert: r.TLS.Cert, TLSKey: r.TLS.Key, Plaintext: r.Plaintext,
		LongPolling: r.LongPolling, Node: s.ns.Name(), NodeTTL: s.cfg.NATS.NodeTTL, Clustered: s.isClustered(),
		Log: s.log, Registerer: s.registry})
	if err == nil {
		err = ep.Start(ctx)
	}
	if err != nil {
		nc.Close()
		return &StartError{Key: "rocketmq.listen", Problem: "cannot start: " + oneLine(err.Error())}
	}
	s.mu.Lock()
	s.rmq, s.rmqConn = ep, nc
	s.mu.Unlock()
	return nil
}

func (s *Server) stopRocketMQ(ctx context.Context) error {
	s.mu.Lock()
	ep, nc := s.rmq, s.rmqConn
	s.rmq, s.rmqConn = nil, nil
	s.mu.Unlock()
	if ep == nil {
		return nil
	}
	err := ep.Stop(ctx)
	nc.Close()
	if err != nil {
		return fmt.Errorf("stop rocketmq: %w", err)
	}
	return nil
}

// RocketMQAddr is the address the RocketMQ endpoint is bound to ("" if
// disabled or not started).
func (s *Server) RocketMQAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rmq == nil {
		return ""
	}
	return s.rmq.Addr()
}

func (s *Server) rocketMQHealth() error {
	s.mu.Lock()
	ep := s.rmq
	s.mu.Unlock()
	if ep == nil {
		return nil
	}
	return ep.Health()
}
