package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	bin := flag.String("jetmq", "", "jetmq binary (default: go build ./cmd/jetmq into a temp dir)")
	counts := flag.String("accounts", "1,100,1000", "comma-separated numbers of accounts to measure")
	idle := flag.Duration("idle", 30*time.Second, "how long to measure idle CPU")
	settle := flag.Duration("settle", 10*time.Second, "wait after ready before measuring")
	flag.Parse()
	if *bin == "" {
		var err error
		if *bin, err = build(); err != nil {
			fail(err)
		}
	}
	fmt.Printf("%-9s %-10s %-10s %-14s %-12s %s\n", "accounts", "startup", "rss_MiB", "rss/tenant_KiB", "idle_cpu_%", "cpu/tenant_ms/s")
	var base *measurement
	for _, f := range strings.Split(*counts, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fail(fmt.Errorf("bad account count %q", f))
		}
		m, err := measure(*bin, n, *settle, *idle)
		if err != nil {
			fail(fmt.Errorf("%d accounts: %w", n, err))
		}
		perRSS, perCPU := "-", "-"
		if base != nil && n > base.n {
			perRSS = fmt.Sprintf("%.0f", float64(m.rssKiB-base.rssKiB)/float64(n-base.n))
			perCPU = fmt.Sprintf("%.3f", (m.cpuPct-base.cpuPct)*10/float64(n-base.n))
		}
		fmt.Printf("%-9d %-10s %-10.1f %-14s %-12.2f %s\n", n, m.startup.Round(100*time.Millisecond), float64(m.rssKiB)/1024, perRSS, m.cpuPct, perCPU)
		if base == nil {
			base = m
		}
	}
}

type measurement struct {
	n       int
	startup time.Duration
	rssKiB  int64
	cpuPct  float64 // of one core, while idle
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "tenantcost:", err)
	os.Exit(1)
}

func build() (string, error) {
	dir, err := os.MkdirTemp("", "tenantcost-")
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "jetmq")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/jetmq")
	cmd.Stderr = os.Stderr
	return out, cmd.Run()
}

// writeConfigs writes a native config with n accounts (one password user
// each, no JetStream: jetmq enables it for all) and a jetmq.yaml declaring
// one topic and one group, which every tenant gets.
func writeConfigs(dir string, n int) (string, error) {
	var b strings.Builder
	b.WriteString("accounts: {\n")
	for i := range n {
		fmt.Fprintf(&b, "  T%d: { users: [ { user: u%d, password: p%d } ] }\n", i, i, i)
	}
	b.WriteString("}\n")
	if err := os.WriteFile(filepath.Join(dir, "nats.conf"), []byte(b.String()), 0o600); err != nil {
		return "", err
	}
	yaml := fmt.Sprintf(`nats:
  config_file: nats.conf
  port: -1
  store_dir: %s
http: ""
rocketmq:
  listen: 127.0.0.1:0
topics:
  - name: orders
    partitions: 1
groups:
  - name: email
    topic: orders
`, filepath.Join(dir, "data"))
	path := filepath.Join(dir, "jetmq.yaml")
	return path, os.WriteFile(path, []byte(yaml), 0o600)
}

func measure(bin string, n int, settle, idle time.Duration) (*measurement, error) {
	dir, err := os.MkdirTemp("", "tenantcost-run-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	yaml, err := writeConfigs(dir, n)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-c", yaml)
	cmd.Dir = dir
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	ready, exited := make(chan struct{}), make(chan struct{})
	var tail bytes.Buffer
	var mu sync.Mutex
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		once := sync.Once{}
		for sc.Scan() {
			mu.Lock()
			tail.WriteString(sc.Text() + "\n")
			if tail.Len() > 8192 {
				tail.Next(tail.Len() - 8192)
			}
			mu.Unlock()
			if strings.Contains(sc.Text(), `msg="jetmq ready"`) {
				once.Do(func() { close(ready) })
			}
		}
	}()
	select {
	case <-ready:
	case <-exited:
		mu.Lock()
		defer mu.Unlock()
		return nil, fmt.Errorf("jetmq exited before it was ready:\n%s", tail.String())
	case <-time.After(30 * time.Minute):
		mu.Lock()
		defer mu.Unlock()
		return nil, fmt.Errorf("not ready after 30 minutes:\n%s", tail.String())
	}
	m := &measurement{n: n, startup: time.Since(start)}
	time.Sleep(settle)
	cpu0, err := cpuTicks(cmd.Process.Pid)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	time.Sleep(idle)
	cpu1, err := cpuTicks(cmd.Process.Pid)
	if err != nil {
		return nil, err
	}
	m.cpuPct = float64(cpu1-cpu0) / 100 / time.Since(t0).Seconds() * 100 // USER_HZ is 100 on Linux
	if m.rssKiB, err = rssKiB(cmd.Process.Pid); err != nil {
		return nil, err
	}
	return m, nil
}

// cpuTicks is utime+stime of pid, in clock ticks.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return ut + st, nil
}

func rssKiB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS for %d", pid)
}
