package server

import (
	"fmt"
	"os"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// planOperator makes a tenant of every nats.accounts entry: in operator
// (JWT) mode jetmq cannot add users, so it acts with the user credentials
// the operator issued for the account.
func planOperator(n *NATSConfig) (*accountPlan, error) {
	plan := &accountPlan{operator: true}
	for i, a := range n.Tenants() {
		key := n.accountsKey(i)
		if a.Creds == "" {
			return nil, cfgErr(key+".creds", "required in operator (JWT) mode: a user credentials file issued for account %q", a.Account)
		}
		pub, err := credsAccount(a.Creds)
		if err != nil {
			return nil, cfgErr(key+".creds", "%s: %v", a.Creds, err)
		}
		if nkeys.IsValidPublicAccountKey(a.Account) && a.Account != pub {
			return nil, cfgErr(key+".creds", "the user in %s belongs to account %s, not %s", a.Creds, pub, a.Account)
		}
		plan.tenants = append(plan.tenants, tenantSpec{Account: pub, Configured: a.Account, Key: key + ".account", Creds: a.Creds})
	}
	return plan, nil
}

// credsAccount returns the public key of the account that issued the user
// of a credentials file.
func credsAccount(file string) (string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", unwrapPathError(err)
	}
	tok, err := jwt.ParseDecoratedJWT(data)
	if err != nil {
		return "", fmt.Errorf("not a credentials file: %v", err)
	}
	uc, err := jwt.DecodeUserClaims(tok)
	if err != nil {
		return "", fmt.Errorf("no user JWT: %v", err)
	}
	if uc.IssuerAccount != "" {
		return uc.IssuerAccount, nil
	}
	return uc.Issuer, nil
}

// accountClaimsName returns the name in an account JWT, or "" if it
// cannot be decoded.
func accountClaimsName(token string) string {
	ac, err := jwt.DecodeAccountClaims(token)
	if err != nil {
		return ""
	}
	return ac.Name
}

// hasJetStream reports whether an account JWT grants JetStream.
func hasJetStream(ac *jwt.AccountClaims) bool {
	l := ac.Limits.JetStreamLimits
	if l.DiskStorage != 0 || l.MemoryStorage != 0 {
		return true
	}
	for _, t := range ac.Limits.JetStreamTieredLimits {
		if t.DiskStorage != 0 || t.MemoryStorage != 0 {
			return true
		}
	}
	return false
}
