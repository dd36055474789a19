package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// cleanupTimeout bounds deleting what a scenario created; it runs on its
// own context so that a cancelled run still cleans up.
const cleanupTimeout = 10 * time.Second

// createRawStream creates a plain R1 file stream named name that captures
// name.> and returns the subject scenarios publish to.
func createRawStream(ctx context.Context, js jetstream.JetStream, name string) (string, error) {
	_, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name:     name,
		Subjects: []string{name + ".>"},
		Storage:  jetstream.FileStorage,
		Replicas: 1,
	})
	if err != nil {
		return "", fmt.Errorf("create stream %s: %w", name, err)
	}
	return name + ".msgs", nil
}

// deleteStream removes a stream a scenario created; a stream that is
// already gone is fine.
func deleteStream(js jetstream.JetStream, name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	err := js.DeleteStream(ctx, name)
	if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("delete stream %s: %w", name, err)
	}
	return nil
}

// checkStored verifies that the stream holds exactly want messages, so
// that a scenario never reports messages the server did not keep.
func checkStored(ctx context.Context, js jetstream.JetStream, name string, want int) error {
	s, err := js.Stream(ctx, name)
	if err != nil {
		return err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return err
	}
	if info.State.Msgs != uint64(want) {
		return fmt.Errorf("stream %s holds %d messages, %d were acknowledged", name, info.State.Msgs, want)
	}
	return nil
}

// scenarioStream is a scenario's own connection and the stream it works
// on; close removes the stream and closes the connection.
type scenarioStream struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	name   string // the stream, or the topic
	subj   string // a raw stream's subject to publish to
	remove func()
}

// openRawStream connects and creates a plain stream named env.Name(parts...).
func openRawStream(ctx context.Context, env *Env, parts ...string) (*scenarioStream, error) {
	nc, js, err := env.JetStream()
	if err != nil {
		return nil, err
	}
	s := &scenarioStream{nc: nc, js: js, name: env.Name(parts...)}
	if s.subj, err = createRawStream(ctx, js, s.name); err != nil {
		nc.Close()
		return nil, err
	}
	s.remove = func() { _ = deleteStream(js, s.name) }
	return s, nil
}

// openTopic connects and creates a topic named env.Name() with partitions.
func openTopic(ctx context.Context, env *Env, partitions int) (*scenarioStream, error) {
	nc, js, err := env.JetStream()
	if err != nil {
		return nil, err
	}
	s := &scenarioStream{nc: nc, js: js, name: env.Name()}
	if err := createTopic(ctx, nc, s.name, partitions); err != nil {
		nc.Close()
		return nil, err
	}
	s.remove = func() { deleteTopic(nc, s.name) }
	return s, nil
}

func (s *scenarioStream) close() {
	s.remove()
	s.nc.Close()
}
