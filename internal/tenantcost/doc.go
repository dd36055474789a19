// Command tenantcost measures what tenants cost: it starts the real jetmq
// binary on a native config with N accounts (each a tenant with one topic
// and one group), and reports the start-up time (until "jetmq ready"), the
// resident memory once started, and the CPU the idle server uses, for each
// N asked for. It is a measurement, not a test; docs/NOTES.md says how to
// run it and what it found.
//
//	go run ./internal/tenantcost -accounts 1,100,1000
package main
