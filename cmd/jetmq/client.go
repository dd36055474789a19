package main

import (
	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
)

// connect opens a client connection to the server the global flags name.
func (g *globalFlags) connect() (*nats.Conn, error) {
	return nats.Connect(g.server, append([]nats.Option{nats.Name("jetmq-cli"), nats.ErrorHandler(asyncError)}, g.authOptions()...)...)
}

// authOptions are the credentials the global flags give.
func (g *globalFlags) authOptions() []nats.Option {
	var opts []nats.Option
	if g.creds != "" {
		opts = append(opts, nats.UserCredentials(g.creds))
	}
	if g.user != "" {
		opts = append(opts, nats.UserInfo(g.user, g.password))
	}
	return opts
}

// adminCommands lists the subcommands that administer a running server.
func adminCommands(g *globalFlags) []*cobra.Command {
	return []*cobra.Command{newTopicCmd(g), newGroupCmd(g), newDLQCmd(g), newTxnCmd(g), newMsgCmd(g), newDelayCmd(g), newSummaryCmd(g)}
}
