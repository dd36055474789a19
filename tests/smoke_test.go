package tests

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/nats-io/nats.go/jetstream"
)

func TestSmokeSingleAndCluster(t *testing.T) {
	s := testutil.StartServer(t)
	nc := testutil.Connect(t, s.ClientURL())
	js := testutil.JetStream(t, nc)
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "s.a", []byte("x")); err != nil {
		t.Fatal(err)
	}
	c := testutil.StartCluster(t, 3)
	for _, srv := range c.Servers {
		srv.RunSingleton(ctx, "probe", func(ctx context.Context) { <-ctx.Done() })
	}
	owner := -1
	testutil.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		n := 0
		for i, srv := range c.Servers {
			if srv.SingletonActive("probe") {
				n++
				owner = i
			}
		}
		if n != 1 {
			return fmt.Errorf("%d active", n)
		}
		return nil
	})
	start := time.Now()
	c.Stop(owner)
	testutil.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		for _, srv := range c.Servers {
			if srv != nil && srv.SingletonActive("probe") {
				return nil
			}
		}
		return errors.New("none active")
	})
	t.Logf("moved in %s", time.Since(start))
}
