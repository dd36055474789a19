package server

import (
	"fmt"
	"slices"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nuid"
)

// tenantSpec is one account jetmq serves and how its in-process
// connection authenticates there.
type tenantSpec struct {
	// Account is the account as nats-server names it: $G, a configured
	// name, or (operator mode) the account's public key.
	Account string
	// Configured is how the jetmq config named it (a JWT name, say); "" if
	// the account was picked by default.
	Configured string
	// Key is the config key of its nats.accounts entry, for errors.
	Key   string
	Creds string // operator mode
	auth  internalAuth
}

// accountPlan is which accounts a config makes tenants of.
type accountPlan struct {
	operator bool
	tenants  []tenantSpec
	// enabled are the accounts jetmq turns JetStream on for (the nats
	// config gives them none); defaulted says that happened because no
	// account had JetStream, which the log says once.
	enabled   []string
	defaulted bool
	// preloads are the account JWTs of a memory resolver.
	preloads map[string]string
}

// internalAuth holds how jetmq's own in-process connection authenticates.
type internalAuth struct {
	User     string
	Password string
	Token    string
}

// internalUsers are the users jetmq adds for itself, one per account,
// kept for the life of the process so that a reload, which re-reads the
// users of the native config, keeps jetmq's connections authorised.
type internalUsers map[string]internalAuth

func planAccounts(opts *natsserver.Options, native *nativeConf, n *NATSConfig) (*accountPlan, error) {
	if opts.TrustedOperators != nil || len(opts.TrustedKeys) > 0 {
		return planOperator(n)
	}
	defined := definedAccounts(opts)
	js := native.accountJetStream()
	plan := &accountPlan{}
	want := n.Tenants()
	if want == nil {
		if len(defined) == 0 {
			plan.tenants = []tenantSpec{{Account: natsserver.DEFAULT_GLOBAL_ACCOUNT}}
			return plan, nil
		}
		for _, a := range defined {
			if js[a] {
				plan.tenants = append(plan.tenants, tenantSpec{Account: a})
			}
		}
		if len(plan.tenants) == 0 {
			for _, a := range defined {
				plan.tenants = append(plan.tenants, tenantSpec{Account: a})
			}
			plan.enabled, plan.defaulted = defined, true
		}
		return plan, nil
	}
	for i, a := range want {
		key := n.accountsKey(i)
		if len(n.Accounts) > 0 {
			key += ".account"
		}
		if a.Creds != "" {
			return nil, cfgErr(n.accountsKey(i)+".creds", "creds are for operator (JWT) mode; in this nats config jetmq adds a user of its own to the account")
		}
		name := a.Account
		if name != natsserver.DEFAULT_GLOBAL_ACCOUNT && !slices.Contains(defined, name) {
			return nil, cfgErr(key, "account %q is not defined in the nats config (defined: %v)", name, defined)
		}
		if name != natsserver.DEFAULT_GLOBAL_ACCOUNT && len(opts.Users) == 0 && len(opts.Nkeys) == 0 {
			return nil, cfgErr(key, "account %q has no users or nkeys in the nats config, so no client can reach it", name)
		}
		plan.tenants = append(plan.tenants, tenantSpec{Account: name, Configured: name, Key: key})
		if name != natsserver.DEFAULT_GLOBAL_ACCOUNT && !js[name] {
			plan.enabled = append(plan.enabled, name)
		}
	}
	return plan, nil
}

// definedAccounts lists the accounts of the native config, less the
// system account, sorted.
func definedAccounts(opts *natsserver.Options) []string {
	var defined []string
	for _, a := range opts.Accounts {
		if a.Name != natsserver.DEFAULT_SYSTEM_ACCOUNT && a.Name != opts.SystemAccount && a.Name != natsserver.DEFAULT_GLOBAL_ACCOUNT {
			defined = append(defined, a.Name)
		}
	}
	slices.Sort(defined)
	return defined
}

func (p *accountPlan) names() []string {
	out := make([]string, len(p.tenants))
	for i, t := range p.tenants {
		out[i] = t.Account
	}
	return out
}

// addInternalUsers makes sure jetmq can connect in-process to each tenant
// account whatever authentication the native config sets up: with users,
// it adds a user of its own per account with a random password that never
// leaves the process.
//
// With anonymous (no authentication, guarded), jetmq's connections get a
// user of their own too, which anonymousGuard tells apart; nats-server
// keeps no users list then.
func (p *accountPlan) addInternalUsers(opts *natsserver.Options, users *internalUsers, keep []string, anonymous bool) {
	accounts := map[string]*natsserver.Account{}
	for _, a := range opts.Accounts {
		accounts[a.Name] = a
	}
	add := func(name string) internalAuth {
		switch {
		case opts.Username != "":
			return internalAuth{User: opts.Username, Password: opts.Password}
		case opts.Authorization != "":
			return internalAuth{Token: opts.Authorization}
		case len(opts.Users) == 0 && len(opts.Nkeys) == 0 && !anonymous:
			return internalAuth{}
		}
		acc := accounts[name]
		if acc == nil && name != natsserver.DEFAULT_GLOBAL_ACCOUNT {
			return internalAuth{} // gone from the config: nothing to add
		}
		auth, ok := (*users)[name]
		if !ok {
			auth = internalAuth{User: "_jetmq_" + nuid.Next(), Password: nuid.Next() + nuid.Next()}
			(*users)[name] = auth
		}
		if !anonymous {
			opts.Users = append(opts.Users, &natsserver.User{Username: auth.User, Password: auth.Password, Account: acc})
		}
		return auth
	}
	done := map[string]bool{}
	for i := range p.tenants {
		p.tenants[i].auth = add(p.tenants[i].Account)
		done[p.tenants[i].Account] = true
	}
	for _, name := range keep {
		if !done[name] {
			add(name)
			done[name] = true
		}
	}
}

func (s tenantSpec) String() string {
	if s.Configured != "" && s.Configured != s.Account {
		return fmt.Sprintf("%s (%s)", s.Configured, s.Account)
	}
	return s.Account
}
