// Package exampleutil is the plumbing the runnable examples under
// examples/ share: flags, an in-process jetmq on free ports with a
// temporary store (or a connection to a running server with -s URL),
// per-run topic names, the few admin requests the examples make, and
// clean-up. It is not part of jetmq's API; the examples' main.go files
// show the API.
package exampleutil
