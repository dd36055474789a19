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
var (
	ErrBadRequest  = &APIError{Code: 400, Description: "bad request"}
	ErrNotFound    = &APIError{Code: 404, Description: "not found"}
	ErrConflict    = &APIError{Code: 409, Description: "conflict"}
	ErrTooLarge    = &APIError{Code: 413, Description: "too large"}
	ErrUnavailable = &APIError{Code: 503, Description: "unavailable"}
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
