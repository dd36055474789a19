package core

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
)

// TestOwnershipScripts runs the scripts in testdata/ownership against the
// ordered-group ownership state machine, in the manner of etcd raft's
// interaction tests: each script is a sequence of events (join, heartbeat,
// release, leave, a lost heartbeat as time passing, a stalled partition, a
// coordinator takeover) with the leases and planned steps each must
// produce. Run with -rewrite to regenerate the expected output after a
// deliberate change, and review the diff.
//
// Commands (times are offsets from the script's start, e.g. at=3.5s):
//
//	new partitions=N session=D       a fresh group
//	heartbeat member=M at=T          -> "new" or "known"
//	release member=M p=N [epoch=E]   -> "released" or "refused" (E: the current epoch)
//	leave member=M                   -> "left" or "unknown"
//	leaving member=M                 the member says it is stopping
//	tick at=T                        time passes: expire silent members, take revoked partitions
//	stall p=N at=T                   the coordinator found p's owner not consuming it
//	plan at=T                        the steps the coordinator would take now
//	settle at=T                      execute plans until none is left; cooperative owners release what is revoked
//	grant-only at=T                  execute one plan's grants; revoked owners do not answer
//	restore at=T                     a new coordinator takes over from the persisted state
//	leases                           every partition's owner, epoch and revoking flag
func TestOwnershipScripts(t *testing.T) {
	datadriven.Walk(t, "testdata/ownership", func(t *testing.T, path string) {
		s := &ownershipScript{}
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			return s.run(t, td)
		})
	})
}

type ownershipScript struct {
	o          *Ownership
	partitions int
	session    time.Duration
	start      time.Time
}

func (s *ownershipScript) at(t *testing.T, td *datadriven.TestData) time.Time {
	var v string
	td.ScanArgs(t, "at", &v)
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("%s: at=%s: %v", td.Pos, v, err)
	}
	return s.start.Add(d)
}

func (s *ownershipScript) run(t *testing.T, td *datadriven.TestData) string {
	if td.Cmd != "new" && s.o == nil {
		t.Fatalf("%s: %s before new", td.Pos, td.Cmd)
	}
	switch td.Cmd {
	case "new":
		var session string
		td.ScanArgs(t, "partitions", &s.partitions)
		td.ScanArgs(t, "session", &session)
		var err error
		if s.session, err = time.ParseDuration(session); err != nil {
			t.Fatal(err)
		}
		s.start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		s.o = NewOwnership(nil, s.partitions, s.session, s.start)
		return "ok"
	case "heartbeat":
		return pick(s.o.Heartbeat(member(t, td), s.at(t, td)), "new", "known")
	case "release":
		return s.release(t, td)
	case "leave":
		return pick(s.o.Leave(member(t, td)), "left", "unknown")
	case "leaving":
		return pick(s.o.SetLeaving(member(t, td)), "leaving", "unknown")
	case "tick":
		return pick(s.o.Tick(s.at(t, td)), "changed", "no change")
	case "stall":
		var p int
		td.ScanArgs(t, "p", &p)
		return pick(s.o.MoveStalled(p, s.at(t, td)), "moving", "not moved")
	case "plan":
		return steps(s.o.Plan(s.at(t, td)))
	case "settle":
		return s.settle(t, s.at(t, td), true)
	case "grant-only":
		return s.settle(t, s.at(t, td), false)
	case "restore":
		st := s.o.State()
		s.o = NewOwnership(&st, s.partitions, s.session, s.at(t, td))
		return s.leases()
	case "leases":
		return s.leases()
	}
	t.Fatalf("%s: unknown command %q", td.Pos, td.Cmd)
	return ""
}

func (s *ownershipScript) release(t *testing.T, td *datadriven.TestData) string {
	var p int
	td.ScanArgs(t, "p", &p)
	epoch := s.o.Lease(p).Epoch
	if td.HasArg("epoch") {
		td.ScanArgs(t, "epoch", &epoch)
	}
	return pick(s.o.Release(member(t, td), p, epoch), "released", "refused")
}

// settle executes plans like the coordinator does: a grant is fenced and
// recorded; a revoke is answered by its owner's release when cooperative.
func (s *ownershipScript) settle(t *testing.T, now time.Time, cooperative bool) string {
	var out []string
	for round := 0; round < 10; round++ {
		plan := s.o.Plan(now)
		if len(plan) == 0 {
			break
		}
		for _, st := range plan {
			out = append(out, st.String())
			switch {
			case st.Kind == StepGrant:
				if _, ok := s.o.Granted(st.Partition, st.Member); !ok {
					out = append(out, fmt.Sprintf("  grant of p%d refused", st.Partition))
				}
			case cooperative:
				s.o.Release(st.Member, st.Partition, s.o.Lease(st.Partition).Epoch)
			}
		}
		if !cooperative {
			break
		}
	}
	if len(out) == 0 {
		out = append(out, "no steps")
	}
	return strings.Join(out, "\n") + "\n" + s.leases()
}

func (s *ownershipScript) leases() string {
	var b strings.Builder
	st := s.o.State()
	for _, l := range st.Partitions {
		owner := l.Owner
		if owner == "" {
			owner = "-"
		}
		fmt.Fprintf(&b, "p%d: %s epoch=%d", l.Partition, owner, l.Epoch)
		if l.Revoking {
			b.WriteString(" revoking")
		}
		b.WriteString("\n")
	}
	counts := s.o.Counts()
	members := make([]string, 0, len(counts))
	for m, n := range counts {
		members = append(members, fmt.Sprintf("%s=%d", m, n))
	}
	sort.Strings(members)
	fmt.Fprintf(&b, "live: %s", strings.Join(members, " "))
	return b.String()
}

func member(t *testing.T, td *datadriven.TestData) string {
	var m string
	td.ScanArgs(t, "member", &m)
	return m
}

func pick(ok bool, yes, no string) string {
	if ok {
		return yes
	}
	return no
}

func steps(plan []Step) string {
	if len(plan) == 0 {
		return "no steps"
	}
	out := make([]string, len(plan))
	for i, s := range plan {
		out[i] = s.String()
	}
	return strings.Join(out, "\n")
}
