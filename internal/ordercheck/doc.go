// Package ordercheck records what the members of an ordered group handled
// and checks it against what was published: strict order per partition,
// no two members on one partition at the same time, nothing missing, and
// how many messages were handled more than once. Tests and the bench
// share it.
package ordercheck
