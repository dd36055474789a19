package server

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/nats-io/nats-server/v2/conf"
	natsserver "github.com/nats-io/nats-server/v2/server"
)

// nativeConf is a native nats-server config file as nats-server's own
// parser reads it: the options, and the parsed tree for what the options
// do not expose (which accounts have JetStream, the preloaded account
// JWTs of a memory resolver).
type nativeConf struct {
	file string
	tree map[string]any // conf.ParseFileWithChecks: values are tokens
}

// confToken is what conf's parser wraps every value in.
type confToken interface {
	Value() any
	IsUsedVariable() bool
}

func readNativeConf(file string) (*natsserver.Options, *nativeConf, error) {
	opts, err := natsserver.ProcessConfigFile(file)
	if err != nil {
		return nil, nil, cfgErr("nats.config_file", "%s", oneLine(err.Error()))
	}
	tree, err := conf.ParseFileWithChecks(file)
	if err != nil {
		return nil, nil, cfgErr("nats.config_file", "%s", oneLine(err.Error()))
	}
	return opts, &nativeConf{file: file, tree: tree}, nil
}

func unwrapToken(v any) any {
	if t, ok := v.(confToken); ok {
		return t.Value()
	}
	return v
}

// block returns the map under key of m ("" for none).
func block(m map[string]any, key string) map[string]any {
	for k, v := range m {
		if strings.EqualFold(k, key) {
			if b, ok := unwrapToken(v).(map[string]any); ok {
				return b
			}
		}
	}
	return nil
}

// accountJetStream reports which accounts of the accounts block turn
// JetStream on (`jetstream: enabled`, true, or a block of limits), as
// nats-server reads that key.
func (c *nativeConf) accountJetStream() map[string]bool {
	out := map[string]bool{}
	if c == nil {
		return out
	}
	for name, v := range block(c.tree, "accounts") {
		acc, _ := unwrapToken(v).(map[string]any)
		js, ok := acc["jetstream"]
		if !ok {
			continue
		}
		switch v := unwrapToken(js).(type) {
		case bool:
			out[name] = v
		case string:
			out[name] = strings.EqualFold(v, "enabled") || strings.EqualFold(v, "true")
		case map[string]any:
			out[name] = true
		}
	}
	return out
}

// preloads returns the account JWTs of `resolver_preload` (memory
// resolver), by public key.
func (c *nativeConf) preloads() map[string]string {
	out := map[string]string{}
	if c == nil {
		return out
	}
	for k, v := range block(c.tree, "resolver_preload") {
		if s, ok := unwrapToken(v).(string); ok {
			out[k] = s
		}
	}
	return out
}

// withJetStream returns the options of the file with `jetstream: enabled`
// added to the named accounts, exactly as if the file said so: the tree is
// written out as JSON (a syntax nats-server's parser reads) and parsed
// again. Variables were substituted by the first parse and are dropped.
// Enabling JetStream in the options, rather than on the running account,
// keeps it enabled across a reload, which re-applies the options.
func (c *nativeConf) withJetStream(accounts []string) (*natsserver.Options, error) {
	tree, _ := plainTree(c.tree).(map[string]any)
	accs := block(tree, "accounts")
	for _, name := range accounts {
		acc, ok := accs[name].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("account %q has no block in the accounts of %s", name, c.file)
		}
		acc["jetstream"] = "enabled"
	}
	// No HTML escaping: nats-server's parser knows no \u escapes, and
	// subjects are full of '>'.
	var data strings.Builder
	enc := json.NewEncoder(&data)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(tree); err != nil {
		return nil, err
	}
	opts := &natsserver.Options{}
	if err := opts.ProcessConfigString(data.String()); err != nil {
		return nil, cfgErr("nats.config_file", "%s with JetStream enabled for %v: %s", c.file, accounts, oneLine(err.Error()))
	}
	opts.ConfigFile = c.file
	return opts, nil
}

// plainTree unwraps the parser's tokens, dropping the variables that were
// used (they are substituted already, and nats-server refuses them as
// unknown fields when they stand on their own).
func plainTree(v any) any {
	switch x := unwrapToken(v).(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if t, ok := e.(confToken); ok && t.IsUsedVariable() {
				continue
			}
			out[k] = plainTree(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plainTree(e)
		}
		return out
	default:
		return x
	}
}
