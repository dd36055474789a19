package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/jetmq/jetmq/internal/bench"
	"github.com/jetmq/jetmq/internal/testutil"
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
	if err != nil {
		t.Fatalf("bench --json: %v\n%s", err, out)
	}
	var doc struct {
		Scenarios []map[string]any `json:"scenarios"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("bench --json output is not JSON: %v\n%s", err, out)
	}
	if len(doc.Scenarios) != 1 {
		t.Fatalf("scenarios: want 1 row, got %d: %v", len(doc.Scenarios), doc.Scenarios)
	}
	if got := doc.Scenarios[0]["name"]; got != bench.RawPublishSync {
		t.Errorf("name: want %q, got %v", bench.RawPublishSync, got)
	}
	if rate, ok := doc.Scenarios[0]["msgs_per_sec"].(float64); !ok || rate <= 0 {
		t.Errorf("msgs_per_sec: want a positive number, got %v", doc.Scenarios[0]["msgs_per_sec"])
	}
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatalf("read temporary dir: %v", err)
	}
	if len(left) != 0 {
		t.Errorf("temporary store left behind: want an empty %s, got %v", tmp, left)
	}
}

func TestBenchTargetsServerFlag(t *testing.T) {
	srv := testutil.StartServer(t)
	out, err := runCLI(t, "bench", "-s", srv.ClientURL(), "--scenario", bench.RawConsume, "--msgs", "300")
	if err != nil {
		t.Fatalf("bench -s: %v\n%s", err, out)
	}
	for _, want := range []string{"SCENARIO", bench.RawConsume} {
		if !strings.Contains(out, want) {
			t.Errorf("bench output: want it to contain %q, got:\n%s", want, out)
		}
	}
}

func TestBenchListAndHelpNameEveryScenario(t *testing.T) {
	list, err := runCLI(t, "bench", "--list")
	if err != nil {
		t.Fatalf("bench --list: %v\n%s", err, list)
	}
	help, err := runCLI(t, "bench", "--help")
	if err != nil {
		t.Fatalf("bench --help: %v\n%s", err, help)
	}
	for _, s := range bench.Scenarios() {
		if !strings.Contains(list, s.Name) {
			t.Errorf("bench --list: want it to name %q, got:\n%s", s.Name, list)
		}
		if !strings.Contains(help, s.Name) {
			t.Errorf("bench --help: want it to name %q, got:\n%s", s.Name, help)
		}
	}
}

func TestBenchRejectsBadInput(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"unknown scenario", []string{"bench", "--scenario", "no-such", "--msgs", "10"}, `unknown scenario "no-such"`},
		{"zero msgs", []string{"bench", "--msgs", "0"}, "--msgs"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runCLI(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("%v: want an error containing %q, got %v", tc.args, tc.wantErr, err)
			}
		})
	}
}
