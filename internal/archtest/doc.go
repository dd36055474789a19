// Package archtest holds no code: its test checks that the packages import
// only what docs/ARCHITECTURE.md allows them to.
package archtest
