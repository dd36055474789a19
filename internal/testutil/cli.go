package testutil

import (
	"bytes"
	"context"
	"os/exec"
	"testing"
	"time"
)

// CLIResult is what one run of the jetmq binary printed and returned.
type CLIResult struct {
	Stdout, Stderr string
	Code           int
}

// RunCLI runs the jetmq binary with args to completion (at most a minute)
// and returns its output and exit code; it fails the test only if the
// binary could not run at all.
func RunCLI(t testing.TB, args ...string) CLIResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, Binary(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	res := CLIResult{Stdout: out.String(), Stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.Code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run jetmq %v: %v", args, err)
	}
	return res
}
