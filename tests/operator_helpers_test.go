package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// opSetup is an operator with a system account and some accounts, made
// with nats-io/jwt and nkeys as nsc would, and user credentials files.
type opSetup struct {
	t        *testing.T
	dir      string
	opKP     nkeys.KeyPair
	opJWT    string
	sysPub   string
	accounts map[string]*opAccount // by name
}

type opAccount struct {
	name string
	pub  string
	kp   nkeys.KeyPair
	jwt  string
}

func newOpSetup(t *testing.T) *opSetup {
	t.Helper()
	o := &opSetup{t: t, dir: t.TempDir(), accounts: map[string]*opAccount{}}
	o.opKP = must(nkeys.CreateOperator())
	opPub := must(o.opKP.PublicKey())
	sys := o.account("SYS", false)
	o.sysPub = sys.pub
	oc := jwt.NewOperatorClaims(opPub)
	oc.Name = "jetmq-test"
	oc.SystemAccount = sys.pub
	o.opJWT = must(oc.Encode(o.opKP))
	return o
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// account makes an account JWT signed by the operator, with unlimited
// JetStream if js.
func (o *opSetup) account(name string, js bool) *opAccount {
	kp := must(nkeys.CreateAccount())
	a := &opAccount{name: name, kp: kp, pub: must(kp.PublicKey())}
	ac := jwt.NewAccountClaims(a.pub)
	ac.Name = name
	if js {
		ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
	}
	a.jwt = must(ac.Encode(o.opKP))
	o.accounts[name] = a
	return a
}

// creds writes a credentials file for a new user of account acc, whose
// permissions perms may change, and returns its path.
func (o *opSetup) creds(acc, user string, perms func(*jwt.UserPermissionLimits)) string {
	a := o.accounts[acc]
	kp := must(nkeys.CreateUser())
	uc := jwt.NewUserClaims(must(kp.PublicKey()))
	uc.Name = user
	if perms != nil {
		perms(&uc.UserPermissionLimits)
	}
	tok := must(uc.Encode(a.kp))
	data := must(jwt.FormatUserConfig(tok, must(kp.Seed())))
	path := filepath.Join(o.dir, user+".creds")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		o.t.Fatal(err)
	}
	return path
}

// natsConf is the native config: the operator, the system account and a
// resolver block (MEMORY, or a full resolver's block) with preloads.
func (o *opSetup) natsConf(resolver string, preload ...string) string {
	var lines []string
	for _, name := range preload {
		a := o.accounts[name]
		lines = append(lines, fmt.Sprintf("  %s: %s", a.pub, a.jwt))
	}
	sort.Strings(lines)
	body := fmt.Sprintf("operator: %s\nsystem_account: %s\nresolver: %s\nresolver_preload: {\n%s\n}\n",
		o.opJWT, o.sysPub, resolver, strings.Join(lines, "\n"))
	path := filepath.Join(o.dir, "nats.conf")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		o.t.Fatal(err)
	}
	return path
}
