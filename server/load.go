package server

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/jetmq/jetmq/core"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// EnvPrefix prefixes every environment variable jetmq reads.
const EnvPrefix = "JETMQ"

// FlagKeys maps the server's command-line flags to the config keys they set.
var FlagKeys = map[string]string{
	"nats-config":     "nats.config_file",
	"host":            "nats.host",
	"port":            "nats.port",
	"store-dir":       "nats.store_dir",
	"http":            "http",
	"server-name":     "nats.server_name",
	"cluster-name":    "nats.cluster.name",
	"cluster-listen":  "nats.cluster.listen",
	"routes":          "nats.cluster.routes",
	"rocketmq-listen": "rocketmq.listen",
}

// LoadConfig reads configFile (YAML, TOML or JSON; "" for none), the
// JETMQ_* environment and the changed flags of fs (may be nil), in the
// precedence flag > env > file > default, then sets defaults and validates.
// Every error is a one-line *core.ConfigError naming the key.
func LoadConfig(configFile string, fs *pflag.FlagSet) (*Config, error) {
	v := viper.New()
	if configFile != "" {
		v.SetConfigFile(configFile)
		if err := v.ReadInConfig(); err != nil {
			return nil, configFileError(configFile, err)
		}
		// Decode the file on its own first: once environment variables
		// are bound, viper builds maps from them that would hide a file
		// value of the wrong shape (nats: [1, 2]).
		if err := decodeExact(v, &Config{}, false); err != nil {
			return nil, err
		}
	}
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	for _, key := range configKeys(reflect.TypeOf(Config{}), "") {
		if err := v.BindEnv(key); err != nil {
			return nil, err
		}
	}
	if fs != nil {
		for flag, key := range FlagKeys {
			if f := fs.Lookup(flag); f != nil && f.Changed {
				if err := v.BindPFlag(key, f); err != nil {
					return nil, err
				}
			}
		}
	}
	// Environment variables are strings: this pass parses them (strictly)
	// into numbers and booleans; the file's own values passed above.
	var cfg Config
	if err := decodeExact(v, &cfg, true); err != nil {
		return nil, err
	}
	if configFile != "" && v.InConfig("nats.config_file") && cfg.NATS.ConfigFile == v.GetString("nats.config_file") {
		cfg.NATS.ConfigFile = relativeTo(configFile, cfg.NATS.ConfigFile)
	}
	if configFile != "" {
		for i := range cfg.NATS.Accounts {
			cfg.NATS.Accounts[i].Creds = relativeTo(configFile, cfg.NATS.Accounts[i].Creds)
		}
	}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// relativeTo resolves a relative path written in configFile against the
// directory of configFile, as nats-server does for its includes, so that a
// jetmq.yaml next to its nats.conf works from any working directory.
func relativeTo(configFile, path string) string {
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(filepath.Dir(configFile), path)
}

// configFileError explains a config file that cannot be read or parsed.
func configFileError(file string, err error) error {
	var pe *os.PathError
	var unsupported viper.UnsupportedConfigError
	switch {
	case errors.As(err, &pe):
		err = pe.Err
	case errors.As(err, &unsupported):
		err = fmt.Errorf("unsupported file type %q: use .yaml, .yml, .toml or .json", filepath.Ext(file))
	}
	return &core.ConfigError{Key: "--config " + file, Problem: oneLine(err.Error())}
}

// decodeExact decodes v into cfg, refusing unknown keys and values of the
// wrong type (see strictScalars); parseStrings lets strings stand for
// numbers and booleans, as environment variables must.
func decodeExact(v *viper.Viper, cfg *Config, parseStrings bool) error {
	err := v.UnmarshalExact(cfg, viper.DecodeHook(mapstructure.ComposeDecodeHookFunc(
		mapstructure.StringToSliceHookFunc(","),
		accountNameHook(),
		strictScalars(parseStrings),
	)))
	if err != nil {
		return decodeError(err)
	}
	return nil
}

// configKeys lists the dotted keys of the scalar (and scalar-list) fields of
// t, the keys an environment variable can set.
func configKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("mapstructure")
		if tag == "" || tag == "-" {
			continue
		}
		key := prefix + tag
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case ft.Kind() == reflect.Struct && ft.String() != "time.Duration":
			keys = append(keys, configKeys(ft, key+".")...)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			// lists of topics or groups come from the file only
		default:
			keys = append(keys, key)
		}
	}
	return keys
}

var (
	unusedKeysRE = regexp.MustCompile(`has invalid keys: (.*)`)
	fieldErrRE   = regexp.MustCompile(`'([^']*)' (.*)`)
)

// decodeError turns mapstructure's multi-line report into one line that
// names the first bad key.
func decodeError(err error) error {
	msg := err.Error()
	for _, line := range strings.Split(msg, "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "*"))
		if line == "" || strings.HasPrefix(line, "decoding failed") || strings.HasSuffix(line, "error(s):") {
			continue
		}
		if m := unusedKeysRE.FindStringSubmatch(line); m != nil {
			owner := ""
			if fm := fieldErrRE.FindStringSubmatch(line); fm != nil && !strings.HasPrefix(fm[2], "has invalid keys") {
				owner = fm[1]
			} else if fm != nil {
				owner = fm[1]
			}
			bad := strings.Split(m[1], ",")[0]
			key := strings.TrimSpace(bad)
			if owner != "" {
				key = owner + "." + key
			}
			return &core.ConfigError{Key: normalizeKey(key), Problem: "unknown key"}
		}
		if fm := fieldErrRE.FindStringSubmatch(line); fm != nil {
			return &core.ConfigError{Key: normalizeKey(fm[1]), Problem: fm[2]}
		}
		return &core.ConfigError{Key: "config", Problem: line}
	}
	return &core.ConfigError{Key: "config", Problem: oneLine(msg)}
}

func normalizeKey(k string) string { return strings.TrimPrefix(strings.ToLower(k), ".") }

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// parseRouteURL checks a cluster route such as nats-route://127.0.0.1:6222.
func parseRouteURL(r string) (*url.URL, error) {
	u, err := url.Parse(r)
	if err != nil {
		return nil, err
	}
	if u.Host == "" || u.Port() == "" {
		return nil, errors.New("want scheme://host:port, e.g. nats-route://127.0.0.1:6222")
	}
	if err := checkHost(u.Hostname()); err != nil {
		return nil, err
	}
	return u, nil
}

// IsConfigError reports whether err is a configuration problem (exit 2).
func IsConfigError(err error) bool {
	var ce *core.ConfigError
	return errors.As(err, &ce)
}
