package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
)

// NewLogger returns the slog logger jetmq uses for a log level name.
func NewLogger(level string) *slog.Logger {
	var l slog.Level
	switch level {
	case "debug":
		l = slog.LevelDebug
	case "warn":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

// natsLogger adapts nats-server's logger interface to slog and remembers the
// first fatal error (nats-server reports a listener it cannot open that way)
// so that Start can return it instead of timing out. While the server
// starts it holds its records back: a server that comes up prints them, one
// that fails (a port in use) prints only the one line Start returns, not
// the banner.
type natsLogger struct {
	log   *slog.Logger
	mu    sync.Mutex
	fatal error
	fired chan struct{}
	mode  natsLogMode
	held  []heldRecord
}

type natsLogMode int

const (
	logPassing natsLogMode = iota // straight to the slog logger
	logHolding                    // kept until release or quiet
	logQuiet                      // dropped: start-up failed
)

type heldRecord struct {
	level slog.Level
	msg   string
}

func newNATSLogger(l *slog.Logger, hold bool) *natsLogger {
	nl := &natsLogger{log: l.With("component", "nats"), fired: make(chan struct{})}
	if hold {
		nl.mode = logHolding
	}
	return nl
}

func (l *natsLogger) Noticef(format string, v ...any) { l.emit(slog.LevelInfo, format, v...) }
func (l *natsLogger) Warnf(format string, v ...any)   { l.emit(slog.LevelWarn, format, v...) }
func (l *natsLogger) Errorf(format string, v ...any)  { l.emit(slog.LevelError, format, v...) }
func (l *natsLogger) Debugf(format string, v ...any)  { l.emit(slog.LevelDebug, format, v...) }
func (l *natsLogger) Tracef(format string, v ...any)  { l.emit(slog.LevelDebug, format, v...) }

// emit logs under the lock so that held records keep their order.
func (l *natsLogger) emit(level slog.Level, format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.mu.Lock()
	defer l.mu.Unlock()
	switch l.mode {
	case logHolding:
		l.held = append(l.held, heldRecord{level, msg})
	case logPassing:
		l.log.Log(context.Background(), level, msg)
	}
}

// release prints the held records and passes every later one.
func (l *natsLogger) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.held {
		l.log.Log(context.Background(), r.level, r.msg)
	}
	l.held, l.mode = nil, logPassing
}

// quiet drops the held records and every later one.
func (l *natsLogger) quiet() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mode == logHolding {
		l.held, l.mode = nil, logQuiet
	}
}

func (l *natsLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.emit(slog.LevelError, "%s", msg)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fatal == nil {
		l.fatal = fmt.Errorf("%s", strings.TrimSpace(msg))
		close(l.fired)
	}
}

func (l *natsLogger) fatalErr() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fatal
}
