package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func newBenchCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "bench",
		Short: "Benchmark jetmq scenarios against raw JetStream in the same run",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return errors.New("bench: not built yet")
		},
	}
}
