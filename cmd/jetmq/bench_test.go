package main

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/jetmq/jetmq/internal/bench"
	"github.com/jetmq/jetmq/internal/testutil"
	"github.com/stretchr/testify/require"
)

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

// TestBenchEmbeddedJSON runs the real command on its own embedded server
// and checks that it removes the server's temporary store afterwards.
func TestBenchEmbeddedJSON(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	out, err := runCLI(t, "bench", "--scenario", bench.RawPublishSync, "--msgs", "400", "--json")
	require.NoError(t, err)
	var doc struct {
		Scenarios []map[string]any `json:"scenarios"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &doc), out)
	require.Len(t, doc.Scenarios, 1)
	require.Equal(t, bench.RawPublishSync, doc.Scenarios[0]["name"])
	require.Positive(t, doc.Scenarios[0]["msgs_per_sec"])
	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	require.Empty(t, left, "temporary store left behind")
}

func TestBenchTargetsServerFlag(t *testing.T) {
	srv := testutil.StartServer(t)
	out, err := runCLI(t, "bench", "-s", srv.ClientURL(), "--scenario", bench.RawConsume, "--msgs", "300")
	require.NoError(t, err)
	require.Contains(t, out, "SCENARIO")
	require.Contains(t, out, bench.RawConsume)
}

func TestBenchListAndHelpNameEveryScenario(t *testing.T) {
	list, err := runCLI(t, "bench", "--list")
	require.NoError(t, err)
	help, err := runCLI(t, "bench", "--help")
	require.NoError(t, err)
	for _, s := range bench.Scenarios() {
		require.Contains(t, list, s.Name)
		require.Contains(t, help, s.Name)
	}
}

func TestBenchRejectsBadInput(t *testing.T) {
	_, err := runCLI(t, "bench", "--scenario", "no-such", "--msgs", "10")
	require.ErrorContains(t, err, `unknown scenario "no-such"`)
	_, err = runCLI(t, "bench", "--msgs", "0")
	require.ErrorContains(t, err, "--msgs")
}
