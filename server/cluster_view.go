package server

import (
	"slices"

	"github.com/jetmq/jetmq/bridge"
	"github.com/jetmq/jetmq/wire"
	natsserver "github.com/nats-io/nats-server/v2/server"
)

var _ bridge.ClusterReporter = (*tenantHost)(nil)

// ClusterView describes the JetStream meta group as this node sees it:
// the leader, and every peer with its currency (the leader's own view is
// the complete one; a follower knows the leader and itself).
func (h *tenantHost) ClusterView() wire.ClusterView {
	s := h.srv
	self := s.ns.Name()
	selfHealthy := s.Health() == nil
	view := wire.ClusterView{Nodes: []wire.NodeView{}}
	var meta *natsserver.MetaClusterInfo
	if jsi, err := s.ns.Jsz(&natsserver.JSzOptions{}); err == nil {
		meta = jsi.Meta
	}
	if meta == nil || meta.Leader == "" {
		// Not clustered (or no leader yet): this node is the whole view.
		n := wire.NodeView{Name: self, Self: true, Healthy: selfHealthy, Current: true, Leader: !s.isClustered()}
		if !selfHealthy {
			n.Problem = healthProblem(s)
		}
		if meta != nil {
			view.Name = meta.Name
		}
		if n.Leader {
			view.MetaLeader = self
		}
		view.Nodes = append(view.Nodes, n)
		return view
	}
	view.Name, view.MetaLeader = meta.Name, meta.Leader
	seen := map[string]bool{}
	add := func(n wire.NodeView) {
		if seen[n.Name] {
			return
		}
		seen[n.Name] = true
		n.Self = n.Name == self
		n.Leader = n.Name == meta.Leader
		if n.Self {
			n.Healthy, n.Current = selfHealthy, true
			if !selfHealthy {
				n.Problem = healthProblem(s)
			}
		}
		view.Nodes = append(view.Nodes, n)
	}
	add(wire.NodeView{Name: meta.Leader, Healthy: true, Current: true})
	for _, p := range meta.Replicas {
		n := wire.NodeView{Name: p.Name, Current: p.Current, Offline: p.Offline, ActiveMS: p.Active.Milliseconds(), Lag: p.Lag}
		n.Healthy = p.Current && !p.Offline
		if !n.Healthy {
			n.Problem = "not current"
			if p.Offline {
				n.Problem = "offline"
			}
		}
		add(n)
	}
	add(wire.NodeView{Name: self})
	slices.SortFunc(view.Nodes, func(a, b wire.NodeView) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return view
}

func healthProblem(s *Server) string {
	if err := s.Health(); err != nil {
		return err.Error()
	}
	return ""
}
