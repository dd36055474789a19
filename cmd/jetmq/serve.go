package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jetmq/jetmq/server"
	"github.com/spf13/cobra"
)

type serveFlags struct {
	configFile string
}

// addServeFlags adds the server flags; the ones in server.FlagKeys are
// bound to config keys by server.LoadConfig.
func addServeFlags(cmd *cobra.Command, o *serveFlags) {
	f := cmd.Flags()
	f.StringVarP(&o.configFile, "config", "c", "", "config file (YAML, TOML or JSON)")
	f.String("nats-config", "", "native nats-server config file used as the base (drop-in)")
	f.String("host", server.DefaultHost, "client listen host")
	f.IntP("port", "p", server.DefaultPort, "client listen port (-1: any free port)")
	f.String("store-dir", server.DefaultStoreDir, "JetStream storage directory")
	f.String("http", server.DefaultHTTP, `HTTP address for monitoring, /healthz and /metrics ("" disables)`)
	f.String("server-name", "", "server name (unique in a cluster)")
	f.String("cluster-name", "", "cluster name")
	f.String("cluster-listen", "", "cluster route listen address, host:port")
	f.StringSlice("routes", nil, "cluster routes, e.g. nats-route://127.0.0.1:6222")
	f.String("rocketmq-listen", server.DefaultRocketMQ, `RocketMQ 5 gRPC endpoint, host:port ("" disables)`)
}

func newServeCmd() *cobra.Command {
	o := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the jetmq server (the default command)",
		Long: `Run the jetmq server. Configuration comes from flags, JETMQ_* environment
variables (e.g. JETMQ_NATS_PORT) and the config file, in that precedence.
SIGINT or SIGTERM shuts down gracefully; a second signal forces an exit.
SIGHUP (or jetmq reload) re-reads the configuration.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runServe(cmd, o) },
	}
	addServeFlags(cmd, o)
	return cmd
}

func runServe(cmd *cobra.Command, o *serveFlags) error {
	cfg, err := server.LoadConfig(o.configFile, cmd.Flags())
	if err != nil {
		return err
	}
	srv, err := server.New(cfg)
	if err != nil {
		return err
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	// A SIGHUP during start-up waits (it would end the process otherwise)
	// and is applied once the server serves.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	startErr := make(chan error, 1)
	go func() { startErr <- srv.Start(ctx) }()
	select {
	case err := <-startErr:
		if err != nil {
			return err
		}
	case sig := <-sigs:
		cancel()
		<-startErr
		fmt.Fprintf(os.Stderr, "jetmq: %s during start-up, stopping\n", sig)
		return shutdown(srv.Shutdown, sigs)
	}
	for {
		select {
		case <-hup:
			// Re-read exactly as at start: the same file, environment and
			// flags. A failure is logged by the server, which keeps serving.
			_ = srv.ReloadWith(ctx, func() (*server.Config, error) { return server.LoadConfig(o.configFile, cmd.Flags()) })
		case sig := <-sigs:
			fmt.Fprintf(os.Stderr, "jetmq: %s: shutting down gracefully (signal again to force)\n", sig)
			return shutdown(srv.Shutdown, sigs)
		}
	}
}

// shutdownTimeout bounds a graceful shutdown.
const shutdownTimeout = 30 * time.Second

// shutdown runs stop (the server's graceful Shutdown); a second signal
// forces exit status 1 without waiting for it.
func shutdown(stop func(context.Context) error, sigs <-chan os.Signal) error {
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		done <- stop(ctx)
	}()
	select {
	case err := <-done:
		return err
	case <-sigs:
		return &exitError{code: 1, err: fmt.Errorf("second signal: forced exit")}
	}
}
