package server_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves goroutines behind: a server
// that was shut down must not leak anything.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
