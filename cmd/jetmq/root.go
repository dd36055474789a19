package main

import (
	"github.com/spf13/cobra"
)

// globalFlags are the connection flags every admin subcommand shares, named
// as in the nats CLI.
type globalFlags struct {
	server   string
	creds    string
	user     string
	password string
	json     bool
}

func newRootCmd() *cobra.Command {
	g := &globalFlags{}
	serveOpts := &serveFlags{}
	root := &cobra.Command{
		Use:   "jetmq",
		Short: "A NATS server with RocketMQ semantics: half messages, ordered partitions, consumer groups",
		Long: `jetmq is a drop-in NATS server (with JetStream) that adds transactional half
messages with check-back, sharding-key ordered partitions, clustering and
broadcasting consumer groups, retries with backoff, dead-letter queues and
delayed delivery. Any NATS client can use it.

Run with no subcommand (or "serve") to start a server; the other
subcommands administer a running server given by -s/--server.

Configuration comes from flags, JETMQ_* environment variables (the config
key path in upper case with "_": JETMQ_NATS_PORT=4333) and the -c file
(YAML, TOML or JSON), in that precedence. A bad value exits with status 2
and one line naming the key. --nats-config takes a native nats-server
config file as the base (drop-in).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd, serveOpts)
		},
	}
	pf := root.PersistentFlags()
	pf.StringVarP(&g.server, "server", "s", "nats://127.0.0.1:4222", "NATS URL of the jetmq server to administer")
	pf.StringVar(&g.creds, "creds", "", "user credentials file")
	pf.StringVar(&g.user, "user", "", "user name")
	pf.StringVar(&g.password, "password", "", "password")
	pf.BoolVar(&g.json, "json", false, "print JSON instead of tables")
	addServeFlags(root, serveOpts)
	// A flag that does not parse (--port abc) is a configuration error:
	// exit status 2 like every other one.
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &exitError{code: 2, err: err}
	})
	root.AddCommand(newServeCmd(), newVersionCmd(), newBenchCmd(g), newReloadCmd())
	for _, c := range adminCommands(g) {
		root.AddCommand(c)
	}
	return root
}
