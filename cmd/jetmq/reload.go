package main

import (
	"fmt"
	"os"
	"strings"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/spf13/cobra"
)

func newReloadCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "reload [PID | PID_FILE]",
		Short: "Make a running jetmq server re-read its configuration (SIGHUP)",
		Long: `Send SIGHUP to a running jetmq server, as nats-server --signal reload does:
the server re-reads its config file, nats-server's part through nats-server's
own reload (users, permissions, accounts, limits) and jetmq's (topics,
groups, tenants). A config that does not validate changes nothing; the
server logs the key and the problem and goes on serving.

With no argument the one jetmq process running is signalled (found with
pgrep); give its PID, or the pid_file of its nats config, when there are
several.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pid := ""
			if len(args) == 1 {
				pid = args[0]
				if b, err := os.ReadFile(pid); err == nil {
					pid = strings.TrimSpace(string(b))
				}
			}
			natsserver.SetProcessName("jetmq")
			if err := natsserver.ProcessSignal(natsserver.CommandReload, pid); err != nil {
				return fmt.Errorf("reload: %v", err)
			}
			return nil
		},
	}
}
