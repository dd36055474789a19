package jsapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Subjects of the JetStream API and advisories jetmq uses.
const (
	apiPrefix = "$JS.API."

	// AdvisoryStreamAll: every stream created, updated or deleted.
	AdvisoryStreamAll = "$JS.EVENT.ADVISORY.STREAM.*.*"
	// AdvisoryStreamDeleted: every stream deleted.
	AdvisoryStreamDeleted = "$JS.EVENT.ADVISORY.STREAM.DELETED.*"
)

// AdvisoryMaxDeliveries is where JetStream announces a message of stream
// that reached a consumer's max_deliver.
func AdvisoryMaxDeliveries(stream string) string {
	return "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + stream + ".*"
}

// ErrCodeNoMessageFound is JetStream's error code for a message that is
// not (or no longer) in the stream.
const ErrCodeNoMessageFound jetstream.ErrorCode = 10057

// Request sends a JetStream API request (subject below $JS.API.) and
// decodes its reply into out; a JetStream error is a *jetstream.APIError.
func Request(ctx context.Context, nc *nats.Conn, subject string, req, out any) error {
	var body []byte
	if req != nil {
		var err error
		if body, err = json.Marshal(req); err != nil {
			return err
		}
	}
	m, err := nc.RequestWithContext(ctx, apiPrefix+subject, body)
	if err != nil {
		return err
	}
	var e struct {
		Error *jetstream.APIError `json:"error"`
	}
	if err := json.Unmarshal(m.Data, &e); err != nil {
		return fmt.Errorf("JetStream reply to %s: %w", subject, err)
	}
	if e.Error != nil {
		return e.Error
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(m.Data, out)
}

// PurgeRequest is a purge by subject: every message on Filter, or those
// below sequence Seq.
type PurgeRequest struct {
	Filter string `json:"filter,omitempty"`
	Seq    uint64 `json:"seq,omitempty"`
}

// Purge purges stream and returns how many messages went.
func Purge(ctx context.Context, nc *nats.Conn, stream string, req PurgeRequest) (uint64, error) {
	var r struct {
		Purged uint64 `json:"purged"`
	}
	err := Request(ctx, nc, "STREAM.PURGE."+stream, req, &r)
	return r.Purged, err
}

// DeleteMsg removes message seq of stream; noErase keeps its bytes on disk
// (cheaper, and what jetmq wants: the message is only to stop counting).
func DeleteMsg(ctx context.Context, nc *nats.Conn, stream string, seq uint64, noErase bool) error {
	var r struct {
		Success bool `json:"success"`
	}
	err := Request(ctx, nc, "STREAM.MSG.DELETE."+stream, map[string]any{"seq": seq, "no_erase": noErase}, &r)
	if err == nil && !r.Success {
		err = fmt.Errorf("delete message %d of %s: not done", seq, stream)
	}
	return err
}

// StepDown asks a replicated stream's leader to step down.
func StepDown(ctx context.Context, nc *nats.Conn, stream string) error {
	return Request(ctx, nc, "STREAM.LEADER.STEPDOWN."+stream, nil, nil)
}

// StoredMsg is a message read from a stream.
type StoredMsg struct {
	Subject string
	Seq     uint64
	Header  nats.Header
	Data    []byte
	Time    time.Time
}

// MsgGet asks the stream leader (not a replica, which may answer before it
// has the message) for one message; it returns nil when there is none.
func MsgGet(ctx context.Context, nc *nats.Conn, stream string, req MsgGetRequest) (*StoredMsg, error) {
	var r struct {
		Message *struct {
			Subject string    `json:"subject"`
			Seq     uint64    `json:"seq"`
			Header  []byte    `json:"hdrs"`
			Data    []byte    `json:"data"`
			Time    time.Time `json:"time"`
		} `json:"message"`
	}
	err := Request(ctx, nc, "STREAM.MSG.GET."+stream, req, &r)
	var ae *jetstream.APIError
	if errors.As(err, &ae) && ae.Code == 404 {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if r.Message == nil {
		return nil, nil
	}
	m := r.Message
	out := &StoredMsg{Subject: m.Subject, Seq: m.Seq, Data: m.Data, Time: m.Time, Header: nats.Header{}}
	if len(m.Header) > 0 {
		if h, err := DecodeHeaders(m.Header); err == nil {
			out.Header = h
		}
	}
	return out, nil
}

// DecodeHeaders parses a NATS header block (NATS/1.0 and Key: Value lines).
func DecodeHeaders(b []byte) (nats.Header, error) {
	lines := strings.Split(string(b), "\r\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "NATS/1.0") {
		return nil, errors.New("not a header block")
	}
	h := nats.Header{}
	for _, l := range lines[1:] {
		if k, v, ok := strings.Cut(l, ":"); ok {
			h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
	}
	return h, nil
}

// Seq is the stream sequence of a direct-get reply.
func Seq(m *nats.Msg) uint64 {
	seq, _ := strconv.ParseUint(m.Header.Get("Nats-Sequence"), 10, 64)
	return seq
}
