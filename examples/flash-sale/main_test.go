package main

import (
	"context"
	"testing"

	"github.com/jetmq/jetmq/examples/internal/exampleutil"
)

// TestExample runs the example against an in-process jetmq, as
// `go run ./examples/flash-sale` does.
func TestExample(t *testing.T) {
	if err := example.Execute(context.Background(), exampleutil.Options{Out: exampleutil.LogWriter(t)}); err != nil {
		t.Fatal(err)
	}
}
