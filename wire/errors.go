package wire

import (
	"encoding/json"
	"errors"
	"fmt"
)

// APIError is the error every jetmq request can answer with:
// {"error":{"code":404,"description":"topic \"x\" not found"}}.
type APIError struct {
	Code        int    `json:"code"`
	Description string `json:"description"`
}

func (e *APIError) Error() string { return fmt.Sprintf("jetmq: %s (%d)", e.Description, e.Code) }

// Is makes errors.Is(err, ErrNotFound) and friends match by code.
func (e *APIError) Is(target error) bool {
	var t *APIError
	if errors.As(target, &t) {
		return t.Code == e.Code
	}
	return false
}

// Sentinels to test API errors against with errors.Is.
// The codes of an error reply (docs/PROTOCOL.md, "Conventions"): a
// client's mistake is a 4xx, only a failure on the server's side a 5xx.
const (
	CodeBadRequest     = 400 // the request itself is wrong (subject, headers, body)
	CodeForbidden      = 403 // the caller is not the member (or session) it claims to be
	CodeNotFound       = 404 // the topic, group, transaction or message named does not exist
	CodeConflict       = 409 // well formed, but the state it meets refuses it
	CodeTooLarge       = 413 // the message or reply does not fit max_payload
	CodeInternal       = 500 // the server failed in a way retrying will not cure
	CodeNotImplemented = 501 // this server does not serve that kind of request
	CodeUnavailable    = 503 // JetStream did not answer or is not ready: retry
)

var (
	ErrBadRequest  = &APIError{Code: CodeBadRequest, Description: "bad request"}
	ErrNotFound    = &APIError{Code: CodeNotFound, Description: "not found"}
	ErrConflict    = &APIError{Code: CodeConflict, Description: "conflict"}
	ErrTooLarge    = &APIError{Code: CodeTooLarge, Description: "too large"}
	ErrUnavailable = &APIError{Code: CodeUnavailable, Description: "unavailable"}
)

// ErrorReply is the JSON shape of an error reply.
type ErrorReply struct {
	Error *APIError `json:"error,omitempty"`
}

// DecodeReply decodes a jetmq reply into v, or returns its *APIError.
func DecodeReply(data []byte, v any) error {
	var er ErrorReply
	if err := json.Unmarshal(data, &er); err != nil {
		return fmt.Errorf("jetmq: malformed reply %q: %w", truncate(data, 200), err)
	}
	if er.Error != nil {
		return er.Error
	}
	if v == nil {
		return nil
	}
	return json.Unmarshal(data, v)
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
