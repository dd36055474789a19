package server

import (
	"log/slog"
	"slices"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// Guarding jetmq's own state. Applications share their account with
// jetmq's internal subjects, streams and buckets, so NATS itself would let
// any user with full rights forge an outbox write, end someone else's
// transaction or steer the ordered-group protocol. jetmq therefore adds a
// deny list of its own to every user of every tenant account except its
// own in-process users. A deny always wins over an allow, so the guard
// holds whatever permissions the native config grants.
//
// What a subject wildcard cannot name stays open: a topic's internal
// stream is %INT%<topic>, and "%INT%*" is no subject token, so JetStream
// API calls on it (purge, delete, read) are not denied here. jetmq
// recreates a deleted internal stream, and reports it and a purge in
// /healthz (bridge, source watcher); docs/PROTOCOL.md lists per-topic deny
// lines for operators who want them shut too.
//
// Not guarded: token authentication (nats-server allows no users beside a
// token, so jetmq cannot tell itself apart) and operator mode (users are
// signed JWTs jetmq cannot change). The log says so once.

// guardedBuckets are jetmq's KV buckets: group registry, member registry,
// ordered state (with the member-token secret) and the RocketMQ
// endpoint's handle secret.
var guardedBuckets = []string{"jetmq_groups", "jetmq_members", "jetmq_ordered", "jetmq_rocketmq"}

// guardDenyPublish are the subjects no application user may publish to:
// jetmq's internal subjects, its nodes' own traffic (heartbeats that say
// which nodes are alive, the RocketMQ endpoints' routes), the pushed
// assignments of the ordered-group
// protocol, and its buckets, through the KV API and through the JetStream
// API on their streams.
func guardDenyPublish() []string {
	out := []string{"$MQ.INT.>", "$MQ.SYS.>", "$MQ.GROUP.ASSIGN.>"}
	for _, b := range guardedBuckets {
		s := "KV_" + b
		// Stream info and names stay open: they show a bucket's config and
		// size, not its values, and tools list buckets with them.
		for _, verb := range []string{"CREATE", "UPDATE", "DELETE", "PURGE", "SNAPSHOT", "RESTORE"} {
			out = append(out, "$JS.API.STREAM."+verb+"."+s)
		}
		out = append(out,
			"$KV."+b+".>",
			"$JS.API.STREAM.MSG.*."+s,       // MSG.GET, MSG.DELETE
			"$JS.API.DIRECT.GET."+s,         // direct get by sequence
			"$JS.API.DIRECT.GET."+s+".>",    // direct get by subject
			"$JS.API.CONSUMER.*."+s,         // LIST, NAMES
			"$JS.API.CONSUMER.*."+s+".>",    // CREATE, INFO, DELETE, …
			"$JS.API.CONSUMER.*.*."+s+".>",  // DURABLE.CREATE, MSG.NEXT, LEADER.STEPDOWN
			"$JS.API.STREAM.PEER.REMOVE."+s, // cluster administration
			"$JS.API.STREAM.LEADER.STEPDOWN."+s,
		)
	}
	return out
}

// guardDenySubscribe are the subjects no application user may subscribe
// to: the internal subjects, and the request subjects jetmq serves, where
// a subscriber would read every request (prepared half messages, delayed
// messages, admin calls) and could answer in jetmq's place.
var guardDenySubscribe = []string{
	"$MQ.INT.>", "$MQ.SYS.>", "$MQ.API.>", "$MQ.DELAY.>", "$MQ.REJECT.>",
	"$MQ.TXN.PREPARE.>", "$MQ.TXN.COMMIT.>", "$MQ.TXN.ROLLBACK.>",
	"$MQ.GROUP.JOIN.>", "$MQ.GROUP.HB.>", "$MQ.GROUP.RELEASE.>", "$MQ.GROUP.LEAVE.>", "$MQ.GROUP.STATUS.>",
	"$MQ.DLQ.>",
}

// guardUsers adds the guard to every user of the tenant accounts. A
// single configured user becomes a users list of one first, because a deny
// list needs a user to hang on. With no authentication at all it changes
// no user and reports anonymous: jetmq then authenticates clients itself
// (anonymousGuard), accepting every client as before. It must run before
// addInternalUsers.
func (p *accountPlan) guardUsers(opts *natsserver.Options, log *slog.Logger) (anonymous bool) {
	tenant := map[string]bool{}
	for _, t := range p.tenants {
		tenant[t.Account] = true
	}
	switch {
	case opts.Authorization != "":
		if log != nil {
			log.Warn("token authentication: jetmq cannot tell its own connections from applications', so its internal state is not guarded from them (docs/PROTOCOL.md, Permissions)")
		}
		return false
	case opts.Username != "":
		opts.Users = []*natsserver.User{{Username: opts.Username, Password: opts.Password}}
		opts.Username, opts.Password = "", ""
	case len(opts.Users) == 0 && len(opts.Nkeys) == 0:
		return true
	}
	accountOf := func(a *natsserver.Account) string {
		if a == nil {
			return natsserver.DEFAULT_GLOBAL_ACCOUNT
		}
		return a.Name
	}
	for _, u := range opts.Users {
		if tenant[accountOf(u.Account)] {
			u.Permissions = guarded(u.Permissions)
		}
	}
	for _, u := range opts.Nkeys {
		if tenant[accountOf(u.Account)] {
			u.Permissions = guarded(u.Permissions)
		}
	}
	return false
}

// guarded returns p with the guard's deny lists added.
func guarded(p *natsserver.Permissions) *natsserver.Permissions {
	out := &natsserver.Permissions{}
	if p != nil {
		*out = *p
	}
	out.Publish = withDeny(out.Publish, guardDenyPublish())
	out.Subscribe = withDeny(out.Subscribe, guardDenySubscribe)
	return out
}

func withDeny(sp *natsserver.SubjectPermission, deny []string) *natsserver.SubjectPermission {
	out := &natsserver.SubjectPermission{}
	if sp != nil {
		out.Allow = slices.Clone(sp.Allow)
		out.Deny = slices.Clone(sp.Deny)
	}
	for _, d := range deny {
		if !slices.Contains(out.Deny, d) {
			out.Deny = append(out.Deny, d)
		}
	}
	return out
}

// anonymousGuard authenticates the clients of a server that has no
// authentication configured: it accepts every client, whatever
// credentials it sends, as nats-server would, and gives each the guard,
// except jetmq's own in-process connections.
type anonymousGuard struct {
	internal map[string]string // user -> password of jetmq's own connections
	perms    *natsserver.Permissions
}

func newAnonymousGuard(internal internalUsers) *anonymousGuard {
	g := &anonymousGuard{internal: map[string]string{}, perms: guarded(nil)}
	for _, a := range internal {
		g.internal[a.User] = a.Password
	}
	return g
}

// Check implements natsserver.Authentication.
func (g *anonymousGuard) Check(c natsserver.ClientAuthentication) bool {
	o := c.GetOpts()
	if pw, ok := g.internal[o.Username]; ok && o.Username != "" && o.Password == pw {
		c.RegisterUser(&natsserver.User{Username: o.Username})
		return true
	}
	c.RegisterUser(&natsserver.User{Username: o.Username, Permissions: g.perms})
	return true
}
