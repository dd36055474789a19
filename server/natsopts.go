package server

import (
	"log/slog"
	"net"
	"strconv"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nuid"
)

// natsOptions builds the nats-server options: the native config file (if
// any) parsed by nats-server itself is the base, and jetmq keys override only
// what they name. It also returns the credentials jetmq's own in-process
// connection uses and notes for the log.
func natsOptions(cfg *Config, log *slog.Logger) (*natsserver.Options, internalAuth, error) {
	opts := &natsserver.Options{}
	n := cfg.NATS
	if n.ConfigFile != "" {
		o, err := natsserver.ProcessConfigFile(n.ConfigFile)
		if err != nil {
			return nil, internalAuth{}, cfgErr("nats.config_file", "%s", oneLine(err.Error()))
		}
		opts = o
	}
	if n.Host != "" {
		opts.Host = n.Host
	}
	if n.Port != 0 {
		opts.Port = n.Port
	}
	if n.ServerName != "" {
		opts.ServerName = n.ServerName
	}
	if !opts.JetStream {
		if n.ConfigFile != "" {
			log.Info("JetStream was not enabled in the nats config; jetmq enables it", "config_file", n.ConfigFile)
		}
		opts.JetStream = true
	}
	switch {
	case n.StoreDir != "":
		opts.StoreDir = absStoreDir(n.StoreDir)
	case opts.StoreDir == "":
		opts.StoreDir = absStoreDir(DefaultStoreDir)
		if err := checkWritableDir(opts.StoreDir); err != nil {
			return nil, internalAuth{}, cfgErr("nats.store_dir", "%v", err)
		}
	}
	if n.Sync == SyncAlways {
		opts.SyncAlways = true
	}
	if err := applyCluster(opts, n.Cluster); err != nil {
		return nil, internalAuth{}, err
	}
	if opts.Cluster.Port != 0 && opts.ServerName == "" {
		return nil, internalAuth{}, cfgErr("nats.server_name", "required in a cluster: every node needs a unique name")
	}
	// jetmq serves HTTP itself, with the NATS monitoring handlers mounted
	// on its own mux; a monitoring port in the native file becomes jetmq's
	// HTTP address unless the jetmq config names one.
	if cfg.HTTP == nil && n.ConfigFile != "" && (opts.HTTPPort != 0) {
		host := opts.HTTPHost
		if host == "" {
			host = opts.Host
		}
		addr := net.JoinHostPort(host, strconv.Itoa(opts.HTTPPort))
		cfg.HTTP = &addr
	}
	opts.HTTPPort, opts.HTTPSPort, opts.HTTPHost = 0, 0, ""
	opts.NoSigs = true
	if cfg.Log.Trace {
		opts.Trace = true
	}
	opts.Debug = cfg.Log.Level == "debug"

	if opts.TrustedOperators != nil || len(opts.TrustedKeys) > 0 {
		return nil, internalAuth{}, cfgErr("nats.config_file", "operator (JWT) mode is not supported by jetmq yet")
	}
	acc, err := resolveAccount(opts, n.Account)
	if err != nil {
		return nil, internalAuth{}, err
	}
	if acc != "" && len(opts.Users) == 0 && len(opts.Nkeys) == 0 {
		return nil, internalAuth{}, cfgErr("nats.account", "account %q has no users or nkeys in the nats config, so no client can reach it", acc)
	}
	return opts, addInternalUser(opts, acc), nil
}

func applyCluster(opts *natsserver.Options, cl ClusterConfig) error {
	if cl.Name != "" {
		opts.Cluster.Name = cl.Name
	}
	if cl.Listen != "" {
		host, port, err := splitHostPort(cl.Listen)
		if err != nil {
			return cfgErr("nats.cluster.listen", "%v", err)
		}
		opts.Cluster.Host, opts.Cluster.Port = host, port
	}
	if len(cl.Routes) > 0 {
		opts.Routes = natsserver.RoutesFromStr(joinComma(cl.Routes))
	}
	return nil
}

func joinComma(ss []string) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += ","
		}
		out += s
	}
	return out
}

// resolveAccount returns the name of the account jetmq lives in ("" for
// the global account).
func resolveAccount(opts *natsserver.Options, name string) (string, error) {
	var defined []string
	for _, a := range opts.Accounts {
		if a.Name != natsserver.DEFAULT_SYSTEM_ACCOUNT && a.Name != opts.SystemAccount {
			defined = append(defined, a.Name)
		}
	}
	if name == "" {
		if len(defined) > 0 {
			return "", cfgErr("nats.account", "required when the nats config defines accounts (one of %v)", defined)
		}
		return "", nil
	}
	if name == natsserver.DEFAULT_GLOBAL_ACCOUNT {
		return "", nil
	}
	for _, a := range defined {
		if a == name {
			return name, nil
		}
	}
	return "", cfgErr("nats.account", "account %q is not defined in the nats config (defined: %v)", name, defined)
}

// internalAuth holds how jetmq's own in-process connection authenticates.
type internalAuth struct {
	Account  string // "" = global account
	User     string
	Password string
	Token    string
}

// addInternalUser makes sure jetmq can connect in-process to its account
// whatever authentication the native config sets up: with users, it adds a
// user of its own with a random password that never leaves the process.
func addInternalUser(opts *natsserver.Options, account string) internalAuth {
	auth := internalAuth{Account: account}
	switch {
	case opts.Username != "":
		auth.User, auth.Password = opts.Username, opts.Password
	case opts.Authorization != "":
		auth.Token = opts.Authorization
	case len(opts.Users) > 0 || len(opts.Nkeys) > 0:
		var acc *natsserver.Account
		for _, a := range opts.Accounts {
			if a.Name == account {
				acc = a
			}
		}
		auth.User, auth.Password = "_jetmq_"+nuid.Next(), nuid.Next()+nuid.Next()
		opts.Users = append(opts.Users, &natsserver.User{Username: auth.User, Password: auth.Password, Account: acc})
	}
	return auth
}
