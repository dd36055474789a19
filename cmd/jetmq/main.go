// Command jetmq runs the jetmq broker (`jetmq` or `jetmq serve`) and
// administers a running one (the other subcommands).
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/jetmq/jetmq/server"
)

// exitError carries a process exit status out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func main() {
	os.Exit(runTo(os.Args[1:], os.Stderr))
}

func run(args []string) int { return runTo(args, os.Stderr) }

// runTo runs the command line and returns the exit status, writing the
// error, if any, to stderr as one line.
func runTo(args []string, stderr io.Writer) int {
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
			printError(stderr, "", ee.err)
		}
		return ee.code
	case server.IsConfigError(err):
		printError(stderr, "config: ", err)
		return 2
	default:
		printError(stderr, "", err)
		return 1
	}
}

// printError writes "jetmq: <kind><err>" once: errors of the semantics
// package already start with "jetmq: ", which is not repeated.
func printError(w io.Writer, kind string, err error) {
	fmt.Fprintln(w, "jetmq: "+kind+strings.TrimPrefix(err.Error(), "jetmq: "))
}
