// Command jetmq runs the jetmq broker (`jetmq` or `jetmq serve`) and
// administers a running one (the other subcommands).
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/jetmq/jetmq/server"
)

// exitError carries a process exit status out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	root := newRootCmd()
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		if ee.err != nil {
			fmt.Fprintln(os.Stderr, "jetmq:", ee.err)
		}
		return ee.code
	case server.IsConfigError(err):
		fmt.Fprintln(os.Stderr, "jetmq: config:", err)
		return 2
	default:
		fmt.Fprintln(os.Stderr, "jetmq:", err)
		return 1
	}
}
