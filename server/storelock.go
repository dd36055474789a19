package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// The store dir has no lock of nats-server's own: two servers on one dir
// both start, and acknowledged messages are lost when they overwrite each
// other's files. jetmq holds an exclusive flock on <store_dir>/jetmq.lock
// for as long as it runs; the kernel drops it when the process dies, even
// by kill -9, so a crash never leaves a stale lock behind.

// lockFileName is the lock's file inside the store dir.
const lockFileName = "jetmq.lock"

// storeLock is a held lock; release gives it up.
type storeLock struct{ f *os.File }

// lockStoreDir takes the lock on dir or says who holds it.
func lockStoreDir(dir string) (*storeLock, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, cfgErr("nats.store_dir", "cannot create %s: %v", dir, err)
	}
	path := filepath.Join(dir, lockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, cfgErr("nats.store_dir", "cannot open %s: %v", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := readHolder(f)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &StartError{Key: "nats.store_dir", Problem: fmt.Sprintf("%s is in use by another jetmq (%s); one store dir serves one process", dir, holder)}
		}
		return nil, cfgErr("nats.store_dir", "cannot lock %s: %v", path, err)
	}
	host, _ := os.Hostname()
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte("pid "+strconv.Itoa(os.Getpid())+" on "+host+"\n"), 0)
	}
	return &storeLock{f: f}, nil
}

// readHolder reads what the holder wrote into the lock file.
func readHolder(f *os.File) string {
	b := make([]byte, 256)
	n, _ := f.ReadAt(b, 0)
	if h := strings.TrimSpace(string(b[:n])); h != "" {
		return h
	}
	return "holder unknown"
}

// release gives the lock up; the file stays, for the next holder.
func (l *storeLock) release() {
	if l == nil || l.f == nil {
		return
	}
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	_ = l.f.Close()
	l.f = nil
}
