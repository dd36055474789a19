package archtest

import (
	"encoding/json"
	"io"
	"os/exec"
	"path"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/jetmq/jetmq/"

// allowed lists, for each jetmq package (or tree, ending in "/..."), the
// jetmq packages it may import (docs/ARCHITECTURE.md, "Imports"). A new
// package fails the test until it is given a rule here and in that page.
var allowed = map[string][]string{
	"core":                          {},
	"wire":                          {"core"},
	"semantics":                     {"core", "wire", "internal/jsapi"},
	"bridge":                        {"core", "wire", "internal/jsapi"},
	"internal/jsapi":                {},
	"rocketmq":                      {"core", "wire", "semantics", "internal/jsapi"},
	"dashboard":                     {"core", "wire"},
	"server":                        {"bridge", "core", "wire", "rocketmq", "dashboard"},
	"cmd/jetmq":                     {"core", "wire", "semantics", "server", "internal/bench"},
	"examples/internal/exampleutil": {"semantics", "server"},
	"examples/...":                  {"semantics", "server", "examples/internal/exampleutil"},
	"internal/bench":                {"core", "wire", "semantics", "server", "dashboard", "rocketmq", "internal/ordercheck"},
	"internal/tenantcost":           {},
	"internal/rmqdriver":            {},
	"internal/ordercheck":           {},
	"internal/testutil":             {"server", "internal/testutil"},
	"internal/archtest":             {},
	"tests":                         nil, // end-to-end tests may use anything
}

// natsServerUsers may import nats-server itself: everything else reaches
// the broker as a client does, over NATS. cmd/jetmq uses only its process
// signalling (jetmq reload, as nats-server --signal reload).
var natsServerUsers = []string{"server", "internal/testutil", "tests", "internal/bench", "cmd/jetmq"}

type listed struct {
	ImportPath string
	Imports    []string
}

func TestImportsFollowTheArchitecture(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p listed
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		checkPackage(t, p)
	}
}

func checkPackage(t *testing.T, p listed) {
	name := strings.TrimPrefix(p.ImportPath, module)
	rule, ok := ruleFor(name)
	if !ok {
		t.Errorf("package %s has no import rule: add it to docs/ARCHITECTURE.md and to allowed", name)
		return
	}
	for _, imp := range p.Imports {
		if imp == "github.com/nats-io/nats-server/v2/server" && !slices.Contains(natsServerUsers, name) {
			t.Errorf("%s imports nats-server: only %v embed it; others talk NATS", name, natsServerUsers)
		}
		dep, ours := strings.CutPrefix(imp, module)
		if !ours || rule == nil {
			continue
		}
		if !slices.Contains(rule, dep) {
			t.Errorf("%s imports %s: docs/ARCHITECTURE.md allows only %v", name, dep, rule)
		}
	}
}

// ruleFor finds the rule of a package: its own, else its tree's.
func ruleFor(name string) ([]string, bool) {
	if r, ok := allowed[name]; ok {
		return r, true
	}
	for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
		if r, ok := allowed[dir+"/..."]; ok {
			return r, true
		}
	}
	return nil, false
}
