package main

import (
	"bufio"
	"encoding/json"
	"fmt"

	"github.com/jetmq/jetmq/wire"
	"github.com/spf13/cobra"
)

// newDLQExportCmd writes a group's dead letters as NDJSON, walking
// $MQ.API.DLQ.EXPORT pages.
func newDLQExportCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "export TOPIC GROUP",
		Short: "Write a group's dead letters as NDJSON (one JSON object a line, headers and base64 body included)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			nc, err := g.connect()
			if err != nil {
				return fmt.Errorf("connect %s: %w", g.server, err)
			}
			defer nc.Close()
			w := bufio.NewWriter(cmd.OutOrStdout())
			defer w.Flush()
			limit := wire.MaxMsgPage
			req := wire.DLQExportRequest{Limit: &limit}
			for {
				var p wire.DLQExport
				if err := requestOn(nc, wire.DLQAPIPrefix+"EXPORT."+args[0]+"."+args[1], req, &p); err != nil {
					return err
				}
				for _, d := range p.Messages {
					b, err := json.Marshal(d)
					if err != nil {
						return err
					}
					_, _ = w.Write(append(b, '\n'))
				}
				if p.Next == 0 {
					return nil
				}
				req.From = p.Next
			}
		},
	}
}

// newMsgResendCmd publishes a copy of a stored message ($MQ.API.MSG.RESEND).
func newMsgResendCmd(g *globalFlags) *cobra.Command {
	var group string
	cmd := &cobra.Command{
		Use:   "resend TOPIC SEQ",
		Short: "Publish a copy of a stored message to its key again (every group whose tags select it receives it)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			seq, err := parseSeq("SEQ", args[1])
			if err != nil {
				return err
			}
			var r wire.MsgResendReply
			if err := g.request(msgSubject("RESEND", args[0]), wire.MsgResendRequest{Seq: seq, Group: group}, &r); err != nil {
				return err
			}
			if g.json {
				return printJSON(cmd.OutOrStdout(), r)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "resent message %d of %s as %d\n", r.ResendOf, args[0], r.Seq)
			return nil
		},
	}
	cmd.Flags().StringVar(&group, "group", "", "the group it is resent for (recorded in Mq-Resend-For)")
	return cmd
}
