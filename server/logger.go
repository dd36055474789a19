package server

import (
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
// so that Start can return it instead of timing out.
type natsLogger struct {
	log   *slog.Logger
	mu    sync.Mutex
	fatal error
	fired chan struct{}
}

func newNATSLogger(l *slog.Logger) *natsLogger {
	return &natsLogger{log: l.With("component", "nats"), fired: make(chan struct{})}
}

func (l *natsLogger) Noticef(format string, v ...any) { l.log.Info(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Errorf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Debugf(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Tracef(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }

func (l *natsLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.log.Error(msg)
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
