package tests

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/jetmq/jetmq/semantics"
	"github.com/jetmq/jetmq/server"
	"github.com/nats-io/nats.go"
)

// startGroupCluster starts three nodes with the group coordinator.
func startGroupCluster(t *testing.T, mutate func(c *server.Config)) []*server.Server {
	t.Helper()
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	cfgs := testutil.ClusterConfigs(t, 3, dirs)
	srvs := make([]*server.Server, 3)
	errs := make(chan error, 3)
	for i, cfg := range cfgs {
		mutate(cfg)
		go func(i int, cfg *server.Config) {
			s, err := server.New(cfg, server.WithLogger(testutil.Logger()), server.WithServices(groupServices(cfg)...))
			if err == nil {
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				err = s.Start(ctx)
				cancel()
			}
			srvs[i] = s
			errs <- err
		}(i, cfg)
	}
	for range cfgs {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, s := range srvs {
			if s != nil {
				testutil.Shutdown(t, s)
			}
		}
	})
	return srvs
}

// On a 3-node cluster with replicas 3, killing one node does not stop
// consumption and loses nothing.
func TestGroupClusterNodeLossKeepsConsuming(t *testing.T) {
	srvs := startGroupCluster(t, func(c *server.Config) {
		c.Topics = []semantics.TopicConfig{{Name: "jobs", Partitions: 4, Replicas: 3}}
		c.Groups = []semantics.GroupConfig{{Name: "workers", Topic: "jobs", SessionTimeout: time.Second}}
	})
	var urls []string
	for _, s := range srvs {
		urls = append(urls, s.ClientURL())
	}
	all := strings.Join(urls, ",")
	opts := []nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(100 * time.Millisecond)}
	nc := testutil.Connect(t, all, opts...)
	got := newTally()
	var handled atomic.Int32
	for i := 0; i < 2; i++ {
		// Each member connects to a node that survives.
		subscribe(t, testutil.Connect(t, urls[1+i], opts...), "jobs", "workers", func(ctx context.Context, d *semantics.Delivery) error {
			handled.Add(1)
			time.Sleep(time.Millisecond)
			got.add(string(d.Data), d.Member)
			return nil
		}, semantics.WithoutCreate(), semantics.WithMember(fmt.Sprintf("w%d", i)))
	}
	const n = 600
	sendN(t, newProducer(t, nc), "jobs", n, func(i int) *semantics.Message {
		return &semantics.Message{Key: fmt.Sprint(i), Data: []byte(fmt.Sprint(i))}
	})
	waitCount(t, "some handled", 30*time.Second, func() int { return int(handled.Load()) }, n/4)
	testutil.Shutdown(t, srvs[0])
	srvs[0] = nil
	t.Logf("node n1 stopped with %d of %d handled", got.distinct(), n)
	waitCount(t, "all handled after losing a node", 90*time.Second, got.distinct, n)
	t.Logf("handled %d deliveries for %d messages", handled.Load(), n)
}
