package server

import (
	"log/slog"
	"net"
	"strconv"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// natsOptions builds the nats-server options: the native config file (if
// any) parsed by nats-server itself is the base, and jetmq keys override only
// what they name. It also decides which accounts jetmq serves (the plan,
// with the credentials each tenant's in-process connection uses: users
// keeps them stable across reloads; keep names accounts whose internal
// users must survive this reload because their tenants still run).
func natsOptions(cfg *Config, log *slog.Logger, users *internalUsers, keep []string) (*natsserver.Options, *accountPlan, error) {
	opts := &natsserver.Options{}
	var native *nativeConf
	n := cfg.NATS
	if n.ConfigFile != "" {
		o, nc, err := readNativeConf(n.ConfigFile)
		if err != nil {
			return nil, nil, err
		}
		opts, native = o, nc
	}
	plan, err := planAccounts(opts, native, &cfg.NATS)
	if err != nil {
		return nil, nil, err
	}
	plan.preloads = native.preloads()
	if len(plan.enabled) > 0 {
		if opts, err = native.withJetStream(plan.enabled); err != nil {
			return nil, nil, err
		}
	}
	if err := applyOverrides(opts, cfg, log); err != nil {
		return nil, nil, err
	}
	switch {
	case plan.operator && log != nil:
		log.Warn("operator mode: users are signed JWTs jetmq cannot change, so its internal state is guarded only by the permissions the operator issues (docs/PROTOCOL.md, Permissions)")
	case plan.operator:
	default:
		anonymous := false
		if !n.Unguarded {
			anonymous = plan.guardUsers(opts, log)
		}
		plan.addInternalUsers(opts, users, keep, anonymous)
		if anonymous {
			opts.CustomClientAuthentication = newAnonymousGuard(*users)
		}
	}
	return opts, plan, nil
}

// applyOverrides applies the jetmq keys to the options of the native file.
func applyOverrides(opts *natsserver.Options, cfg *Config, log *slog.Logger) error {
	n := cfg.NATS
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
		if n.ConfigFile != "" && log != nil {
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
			return cfgErr("nats.store_dir", "%v", err)
		}
	}
	if n.Sync == SyncAlways {
		opts.SyncAlways = true
	}
	if err := applyCluster(opts, n.Cluster); err != nil {
		return err
	}
	if opts.Cluster.Port != 0 && opts.ServerName == "" {
		return cfgErr("nats.server_name", "required in a cluster: every node needs a unique name")
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
	return nil
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
