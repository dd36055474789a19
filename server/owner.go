package server

import "hash/fnv"

// ownerOf picks which of the live nodes runs singleton name: the node with
// the highest rendezvous hash of (name, node). Every node computes the same
// answer from the same live set, different singletons spread over the
// nodes, and a node joining or leaving moves only the singletons it wins or
// held. It returns "" for an empty set. Pure; table-tested.
func ownerOf(name string, live []string) string {
	var best string
	var bestScore uint64
	for _, node := range live {
		h := fnv.New64a()
		h.Write([]byte(name))
		h.Write([]byte{0})
		h.Write([]byte(node))
		score := h.Sum64()
		if best == "" || score > bestScore || (score == bestScore && node < best) {
			best, bestScore = node, score
		}
	}
	return best
}
