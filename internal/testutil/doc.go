// Package testutil starts real jetmq servers and clusters for tests, on
// loopback with free ports and temporary storage, and offers polling
// helpers (CheckFor) so that tests wait for conditions instead of sleeping.
package testutil
