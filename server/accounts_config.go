package server

import (
	"fmt"
	"os"
	"reflect"

	"github.com/go-viper/mapstructure/v2"
)

// AccountConfig names one account jetmq serves (a tenant). In the config
// file an entry is either the account's name alone (`accounts: [A, B]`) or
// a map with the user credentials jetmq acts with in that account, which
// operator (JWT) mode needs: `{account: <name or public key>, creds: <file>}`.
type AccountConfig struct {
	Account string `mapstructure:"account"`
	// Creds is a NATS user credentials file (operator mode): jetmq
	// connects with it, so the account is the one that issued the user.
	Creds string `mapstructure:"creds"`
}

var accountConfigType = reflect.TypeOf(AccountConfig{})

// accountNameHook lets a bare string stand for {account: <string>}.
func accountNameHook() mapstructure.DecodeHookFuncValue {
	return func(from, to reflect.Value) (any, error) {
		if to.Type() == accountConfigType {
			if s, ok := from.Interface().(string); ok {
				return AccountConfig{Account: s}, nil
			}
		}
		return from.Interface(), nil
	}
}

// accountsKey names entry i of nats.accounts, or nats.account when the
// set was given as the single nats.account.
func (n *NATSConfig) accountsKey(i int) string {
	if len(n.Accounts) == 0 {
		return "nats.account"
	}
	return fmt.Sprintf("nats.accounts[%d]", i)
}

// Tenants is the set of accounts the config names (nats.accounts, or
// nats.account as a set of one); nil means "the default set", which
// depends on the nats config (see the README, "Tenants").
func (n *NATSConfig) Tenants() []AccountConfig {
	if len(n.Accounts) > 0 {
		return n.Accounts
	}
	if n.Account != "" {
		return []AccountConfig{{Account: n.Account}}
	}
	return nil
}

func (n *NATSConfig) validateAccounts() error {
	if n.Account != "" && len(n.Accounts) > 0 {
		return cfgErr("nats.accounts", "set either nats.account or nats.accounts, not both")
	}
	seen := map[string]bool{}
	for i, a := range n.Tenants() {
		key := n.accountsKey(i)
		if len(n.Accounts) > 0 {
			key += ".account"
		}
		if a.Account == "" {
			return cfgErr(key, "required: the account's name (or public key in operator mode)")
		}
		if err := validateAccountName(a.Account); err != nil {
			return cfgErr(key, "%v", err)
		}
		if seen[a.Account] {
			return cfgErr(key, "account %q is listed twice", a.Account)
		}
		seen[a.Account] = true
		if a.Creds != "" {
			if _, err := os.Stat(a.Creds); err != nil {
				return cfgErr(n.accountsKey(i)+".creds", "%v", unwrapPathError(err))
			}
		}
	}
	return nil
}
