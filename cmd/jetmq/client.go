package main

import (
	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
)

// connect opens a client connection to the server the global flags name.
func (g *globalFlags) connect() (*nats.Conn, error) {
	opts := []nats.Option{nats.Name("jetmq-cli")}
	if g.creds != "" {
		opts = append(opts, nats.UserCredentials(g.creds))
	}
	if g.user != "" {
		opts = append(opts, nats.UserInfo(g.user, g.password))
	}
	return nats.Connect(g.server, opts...)
}

// adminCommands lists the subcommands that administer a running server.
func adminCommands(g *globalFlags) []*cobra.Command {
	return nil
}
