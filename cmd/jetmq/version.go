package main

import (
	"fmt"
	"runtime"

	"github.com/jetmq/jetmq/server"
	"github.com/spf13/cobra"
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the jetmq version and the embedded nats-server version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "jetmq %s (nats-server %s, %s)\n", server.Version, server.NATSVersion, runtime.Version())
		},
	}
}
