package bridge

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// memberBucket records every admitted member under <topic>.<group>.<member>,
// so that any node, including one started after the JOIN, can tell a
// joined member's heartbeat from a made-up one. Entries expire after
// memberRecordTTL unless a node that hears the member rewrites them.
const memberBucket = "jetmq_members"

const (
	memberRecordTTL = time.Hour
	// memberRefresh is how old a member's record may get before a node
	// that hears the member rewrites it.
	memberRefresh = memberRecordTTL / 3
	// memberForgetAfter: a member unheard for this long leaves the table.
	memberForgetAfter = 10 * time.Minute
	// memberLookups bounds the concurrent registry reads for heartbeats of
	// members this node does not know yet; beyond it they are dropped (the
	// member's next heartbeat asks again).
	memberLookups = 8
)

// memberKey is a member's key in memberBucket.
func memberKey(groupID, member string) string { return groupID + "." + member }

// onHeartbeat records a member's heartbeat:
// $MQ.GROUP.HB.<topic>.<group>.<member>. Only members that joined count;
// heartbeats of any other id are dropped without keeping anything.
func (s *GroupService) onHeartbeat(m *nats.Msg) {
	toks := strings.Split(strings.TrimPrefix(m.Subject, wire.GroupHeartbeatPrefix), ".")
	if len(toks) != 3 || validateGroupRef(toks[0], toks[1]) != nil || core.ValidateMemberID(toks[2]) != nil {
		return
	}
	gid, member, presence := wire.GroupID(toks[0], toks[1]), toks[2], m.Reply
	if !validPresence(presence) {
		presence = ""
	}
	known, stale := s.members.heard(gid, member, presence, time.Now())
	switch {
	case known && stale:
		s.background(func(ctx context.Context) { s.storeMember(ctx, gid, member) })
	case !known:
		s.lookupMember(gid, member, presence)
	}
}

// memberRegistry returns the member registry, opening it once: with
// create, the bucket is made if missing; without, a missing bucket is
// jetstream.ErrBucketNotFound (no member has joined: nothing to read or
// delete), and the next call looks again.
func (s *GroupService) memberRegistry(ctx context.Context, create bool) (jetstream.KeyValue, error) {
	s.memberMu.Lock()
	defer s.memberMu.Unlock()
	if s.memberKV != nil {
		return s.memberKV, nil
	}
	var kv jetstream.KeyValue
	var err error
	if create {
		kv, err = openBucketTTL(ctx, s.h, memberBucket, "jetmq group members that joined", memberRecordTTL)
	} else {
		kv, err = s.js.KeyValue(ctx, memberBucket)
	}
	if err != nil {
		return nil, err
	}
	s.memberKV = kv
	return kv, nil
}

// lookupMember admits a member this node has not seen join if the
// member registry has it.
func (s *GroupService) lookupMember(gid, member, presence string) {
	select {
	case s.lookups <- struct{}{}:
	default:
		return
	}
	s.background(func(ctx context.Context) {
		defer func() { <-s.lookups }()
		kv, err := s.memberRegistry(ctx, false)
		if err != nil {
			return // no member has joined anywhere yet
		}
		e, err := kv.Get(ctx, memberKey(gid, member))
		if err != nil {
			return // not joined (or the registry is unreadable: the next heartbeat asks again)
		}
		s.members.admit(gid, member, presence, time.Now(), e.Created())
	})
}

// background runs f with a short deadline, tracked by Stop.
func (s *GroupService) background(f func(ctx context.Context)) {
	s.bgMu.Lock()
	defer s.bgMu.Unlock()
	if s.stopped {
		return // shutting down: what it would record is recorded again at the next JOIN
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
		defer cancel()
		f(ctx)
	}()
}

// admitMember records a member that just joined, here and in the member
// registry.
func (s *GroupService) admitMember(ctx context.Context, gid, member, presence string) {
	if s.members.admit(gid, member, presence, time.Now(), time.Time{}) {
		s.storeMember(ctx, gid, member)
	}
}

// storeMember writes the member's registry record; a failure only means
// that other nodes learn of the member later.
func (s *GroupService) storeMember(ctx context.Context, gid, member string) {
	kv, err := s.memberRegistry(ctx, true)
	if err == nil {
		_, err = kv.Put(ctx, memberKey(gid, member), nil)
	}
	if err != nil {
		s.log.Warn("member registry not written; other nodes may not list the member yet", "group", gid, "member", member, "err", err)
		return
	}
	s.members.stored(gid, member, time.Now())
}

// onLeave forgets a member: $MQ.GROUP.LEAVE.<topic>.<group>.<member>.
// Its registry record stays until it expires: a process that restarts
// with the id at once may JOIN before every node has seen the LEAVE, and
// deleting the record then would hide the new process from those nodes.
//
// An ordered clustering group's LEAVE is its coordinator's to answer (403
// without the member's token, 409 for another session's): this node
// forgets the member only with a valid token and never replies, so that
// a requester gets the coordinator's verdict and not a blanket ok.
func (s *GroupService) onLeave(m *nats.Msg) {
	toks := strings.Split(strings.TrimPrefix(m.Subject, wire.GroupLeavePrefix), ".")
	if len(toks) != 3 {
		return
	}
	gid := wire.GroupID(toks[0], toks[1])
	if s.ordered.coordinated(gid) {
		var l wire.OrderedLeave
		if json.Unmarshal(m.Data, &l) == nil && s.ordered.validToken(toks[0], toks[1], toks[2], l.Token) {
			s.members.leave(gid, toks[2])
		}
		return
	}
	s.members.leave(gid, toks[2])
	if m.Reply != "" {
		_ = m.Respond([]byte(`{"ok":true}`))
	}
}

// memberEntry is what a node knows of one member.
type memberEntry struct {
	heard    time.Time // last JOIN or heartbeat
	presence string    // subject the member answers probes on ("" unknown)
	stored   time.Time // when its registry record was last written
}

// memberTable is this node's view of who is a member of which group: a
// member enters it by joining (on this node, or in the member registry)
// and stays while it sends heartbeats.
type memberTable struct {
	mu     sync.Mutex
	groups map[string]map[string]*memberEntry
	// onAdmit stores a member admitted through seen (the ordered
	// coordinator's JOIN) in the member registry.
	onAdmit func(group, member string)
}

func newMemberTable() *memberTable { return &memberTable{groups: map[string]map[string]*memberEntry{}} }

// seen admits a member that joined without a presence subject.
func (t *memberTable) seen(group, member string, at time.Time) {
	if t.admit(group, member, "", at, time.Time{}) && t.onAdmit != nil {
		t.onAdmit(group, member)
	}
}

// admit records a joined member; stored is when its registry record was
// written (zero: not yet). It reports whether the record needs writing.
func (t *memberTable) admit(group, member, presence string, at, stored time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	g := t.groups[group]
	if g == nil {
		g = map[string]*memberEntry{}
		t.groups[group] = g
	}
	e := g[member]
	if e == nil {
		e = &memberEntry{stored: stored}
		g[member] = e
	}
	e.heard = at
	if presence != "" {
		e.presence = presence
	}
	return at.Sub(e.stored) > memberRefresh
}

// heard refreshes a known member; stale says its registry record is due
// for a rewrite.
func (t *memberTable) heard(group, member, presence string, at time.Time) (known, stale bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.groups[group][member]
	if e == nil {
		return false, false
	}
	e.heard = at
	if presence != "" {
		e.presence = presence
	}
	return true, at.Sub(e.stored) > memberRefresh
}

func (t *memberTable) stored(group, member string, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.groups[group][member]; e != nil {
		e.stored = at
	}
}

// presence is the member's presence subject and when it was last heard.
func (t *memberTable) presence(group, member string) (string, time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.groups[group][member]; e != nil {
		return e.presence, e.heard
	}
	return "", time.Time{}
}

func (t *memberTable) leave(group, member string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.groups[group], member)
}

// forget drops every member of the groups whose id starts with prefix
// ("<topic>." for a topic, "<topic>.<group>." for one group).
func (t *memberTable) forget(prefix string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for g := range t.groups {
		if strings.HasPrefix(g+".", prefix) {
			delete(t.groups, g)
		}
	}
}

// list returns the members of group heard since after.
func (t *memberTable) list(group string, after time.Time) map[string]time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]time.Time{}
	for m, e := range t.groups[group] {
		if e.heard.After(after) {
			out[m] = e.heard
		}
	}
	return out
}

func (t *memberTable) prune(before time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for g, ms := range t.groups {
		for m, e := range ms {
			if e.heard.Before(before) {
				delete(ms, m)
			}
		}
		if len(ms) == 0 {
			delete(t.groups, g)
		}
	}
}
