package server

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jetmq/jetmq/core"
	"go.yaml.in/yaml/v3"
)

// configLeaf is one key of Config with its Go type; list elements of
// topics and groups are keyed by their first entry, topics[0].name.
type configLeaf struct {
	key string
	typ reflect.Type
}

// configLeaves walks Config the way the decoder does, so a key added to
// the struct is in the table below without anyone writing it down.
func configLeaves(t reflect.Type, prefix string) []configLeaf {
	var out []configLeaf
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("mapstructure")
		if tag == "" || tag == "-" {
			continue
		}
		key, ft := prefix+tag, f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case ft.Kind() == reflect.Struct && ft != durationType:
			out = append(out, configLeaves(ft, key+".")...)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			out = append(out, configLeaves(ft.Elem(), key+"[0].")...)
		default:
			out = append(out, configLeaf{key, ft})
		}
	}
	return out
}

// wrongValues are values of the wrong type for a key of type typ, as a
// YAML file writes them: another type, a duration without a unit, a
// float where an integer belongs, a boolean where it does not.
func wrongValues(typ reflect.Type) []any {
	switch {
	case typ == durationType:
		return []any{5, "5", "0", 1.5, true, []any{"1s"}}
	case typ.Kind() == reflect.Bool:
		return []any{"yes", "true", 1, 1.5, []any{true}}
	case typ.Kind() == reflect.Int || typ.Kind() == reflect.Int64:
		return []any{"5", "5s", 8.5, 1.5, true, []any{1}}
	case typ.Kind() == reflect.String:
		return []any{5, 1.5, true, []any{"a"}, map[string]any{"a": 1}}
	case typ.Kind() == reflect.Slice && typ.Elem() == durationType:
		return []any{[]any{1, 2}, []any{"5"}, []any{1.5}, []any{true}}
	case typ.Kind() == reflect.Slice && typ.Elem().Kind() == reflect.String:
		return []any{[]any{1}, []any{1.5}, []any{true}, []any{map[string]any{"a": 1}}}
	}
	panic(fmt.Sprintf("no wrong values for %s: extend wrongValues", typ))
}

// wrongEnvValues are environment strings that are not of typ.
func wrongEnvValues(typ reflect.Type) []string {
	switch {
	case typ == durationType:
		return []string{"5", "0", "1.5", "true", "2"}
	case typ.Kind() == reflect.Bool:
		return []string{"yes", "2", "1.5", "on"}
	case typ.Kind() == reflect.Int || typ.Kind() == reflect.Int64:
		return []string{"1.5", "true", "5s", "0x10", "25600.7"}
	}
	return nil // any string is a string
}

// docWith is a YAML document that is valid except for key = value.
func docWith(key string, value any) []byte {
	doc := map[string]any{}
	path := strings.Split(key, ".")
	switch path[0] {
	case "groups[0]":
		doc["topics"] = []any{map[string]any{"name": "o"}}
		doc["groups"] = []any{map[string]any{"name": "g", "topic": "o", path[1]: value}}
	case "topics[0]":
		doc["topics"] = []any{map[string]any{"name": "o", path[1]: value}}
	case "rocketmq":
		if len(path) == 3 && path[1] == "credentials[0]" {
			doc["rocketmq"] = map[string]any{"credentials": []any{map[string]any{"access_key": "ak", path[2]: value}}}
			break
		}
		fallthrough
	case "nats":
		if len(path) == 3 && path[1] == "accounts[0]" {
			doc["nats"] = map[string]any{"accounts": []any{map[string]any{"account": "A", path[2]: value}}}
			break
		}
		fallthrough
	default:
		m := doc
		for _, p := range path[:len(path)-1] {
			next := map[string]any{}
			m[p] = next
			m = next
		}
		m[path[len(path)-1]] = value
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return out
}

func assertConfigError(t *testing.T, err error, key string) {
	t.Helper()
	var ce *core.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want a ConfigError naming %s", err, key)
	}
	if ce.Key != key {
		t.Fatalf("error names %q, want %q: %v", ce.Key, key, err)
	}
	assertOneLine(t, err)
}

// TestLoadConfigRefusesWrongTypes: every key of the config, given a value
// of the wrong type in the file or in its JETMQ_* variable, is refused
// with one line naming it; nothing is truncated, coerced or read as
// nanoseconds.
func TestLoadConfigRefusesWrongTypes(t *testing.T) {
	leaves := configLeaves(reflect.TypeOf(Config{}), "")
	envKeys := map[string]bool{}
	for _, k := range configKeys(reflect.TypeOf(Config{}), "") {
		envKeys[k] = true
	}
	if len(leaves) < 30 {
		t.Fatalf("only %d keys found", len(leaves))
	}
	for _, leaf := range leaves {
		want := leaf.key
		if leaf.typ.Kind() == reflect.Slice {
			want += "[0]" // the wrong entry
		}
		for _, v := range wrongValues(leaf.typ) {
			t.Run(fmt.Sprintf("file %s=%#v", leaf.key, v), func(t *testing.T) {
				t.Setenv("JETMQ_NATS_STORE_DIR", t.TempDir())
				doc := docWith(leaf.key, v)
				_, err := LoadConfig(writeFile(t, "c.yaml", string(doc)), nil)
				assertConfigError(t, err, want)
			})
		}
		if !envKeys[leaf.key] {
			continue
		}
		for _, v := range wrongEnvValues(leaf.typ) {
			env := EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(leaf.key, ".", "_"))
			t.Run(fmt.Sprintf("env %s=%s", env, v), func(t *testing.T) {
				t.Setenv("JETMQ_NATS_STORE_DIR", t.TempDir())
				t.Setenv(env, v)
				_, err := LoadConfig("", nil)
				assertConfigError(t, err, leaf.key)
			})
		}
	}
}

// TestLoadConfigDurationsNeverZero: a duration that drives a ticker or a
// timer has a minimum, so a tiny value is a config error, not a panic or a
// busy loop.
func TestLoadConfigDurationsNeverZero(t *testing.T) {
	t.Setenv("JETMQ_NATS_STORE_DIR", t.TempDir())
	for key, doc := range map[string]string{
		"nats.node_ttl":               "nats: {node_ttl: 2ns}",
		"transactions.check_interval": "transactions: {check_interval: 1ns}",
		"transactions.check_timeout":  "transactions: {check_timeout: 1ns}",
		"topics[0].max_age":           "topics: [{name: o, max_age: 5ns}]",
		"groups[0].member_ttl":        "topics: [{name: o}]\ngroups: [{name: g, topic: o, member_ttl: 1ms}]",
		"groups[0].suspend":           "topics: [{name: o}]\ngroups: [{name: g, topic: o, suspend: 500us}]",
		"groups[0].session_timeout":   "topics: [{name: o}]\ngroups: [{name: g, topic: o, session_timeout: 1ns}]",
	} {
		_, err := LoadConfig(writeFile(t, "c.yaml", doc), nil)
		assertConfigError(t, err, key)
	}
	t.Setenv("JETMQ_NATS_NODE_TTL", "2ns")
	_, err := LoadConfig("", nil)
	assertConfigError(t, err, "nats.node_ttl")
}

// TestLoadConfigKeepsRightTypes: the strict decoding still reads what is
// right, in the file (JSON numbers are floats) and in the environment.
func TestLoadConfigKeepsRightTypes(t *testing.T) {
	t.Setenv("JETMQ_NATS_STORE_DIR", t.TempDir())
	cfg, err := LoadConfig(writeFile(t, "c.json", `{"nats": {"port": 4333, "node_ttl": "2s"},
		"topics": [{"name": "o", "partitions": 4, "max_bytes": 1048576}],
		"groups": [{"name": "g", "topic": "o", "ordered": true, "retry_backoff": ["1s", "2s"]}]}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NATS.Port != 4333 || cfg.NATS.NodeTTL != 2*time.Second || cfg.Topics[0].Partitions != 4 ||
		cfg.Topics[0].MaxBytes != 1<<20 || !cfg.Groups[0].Ordered || cfg.Groups[0].RetryBackoff[1] != 2*time.Second {
		t.Fatalf("decoded %+v", cfg)
	}
	t.Setenv("JETMQ_NATS_PORT", "4334")
	t.Setenv("JETMQ_LOG_TRACE", "true")
	t.Setenv("JETMQ_TRANSACTIONS_CHECK_INTERVAL", "2s")
	t.Setenv("JETMQ_TRANSACTIONS_MAX_CHECKS", "3")
	if cfg, err = LoadConfig("", nil); err != nil {
		t.Fatal(err)
	}
	if cfg.NATS.Port != 4334 || !cfg.Log.Trace || cfg.Transactions.CheckInterval != 2*time.Second || cfg.Transactions.MaxChecks != 3 {
		t.Fatalf("from env: %+v", cfg)
	}
}
