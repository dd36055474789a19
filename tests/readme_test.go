package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeInstallsJetmqBeforeUsingIt: a newcomer following the README
// from the top has the jetmq binary before the first `jetmq ...` command
// of a code block, and the two set-up lines stay as they are.
func TestReadmeInstallsJetmqBeforeUsingIt(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	for _, line := range []string{
		"go run ./cmd/jetmq                      # one node",
		"go test -race -timeout 20m ./...        # the whole test suite",
	} {
		if !strings.Contains(readme, "\n"+line) {
			t.Errorf("README lost the set-up line %q", line)
		}
	}
	installed, inBlock := false, false
	for i, line := range strings.Split(readme, "\n") {
		if strings.HasPrefix(line, "```") {
			inBlock = !inBlock
			continue
		}
		if !inBlock {
			continue
		}
		if strings.HasPrefix(line, "go install ./cmd/jetmq") {
			installed = true
		}
		if strings.HasPrefix(line, "jetmq ") && !installed {
			t.Fatalf("README line %d runs %q before any `go install ./cmd/jetmq`", i+1, line)
		}
	}
}
