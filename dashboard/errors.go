package dashboard

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/jetmq/jetmq/wire"
)

// apiError is what every failing endpoint answers, as
// {"error":{"code":N,"description":"…","kind":"…"}}, with Code as the HTTP
// status. Kind tells the page what went wrong: "auth" (no or an expired
// session, a refused login), "csrf", "permission" (the NATS server refused
// the subject), "request" (a bad request to the dashboard), "jetmq" (a
// jetmq API error reply, passed through with its code) or "nats" (no
// answer, no responders).
type apiError struct {
	Code        int    `json:"code"`
	Description string `json:"description"`
	Kind        string `json:"kind"`
}

func (e *apiError) Error() string { return e.Description }

func newErr(code int, kind, format string, args ...any) *apiError {
	return &apiError{Code: code, Kind: kind, Description: fmt.Sprintf(format, args...)}
}

// errBadRequest: the request to the dashboard is malformed.
func errBadRequest(format string, args ...any) *apiError {
	return newErr(http.StatusBadRequest, "request", format, args...)
}

// errUnauthorized: no session, an expired one, or a refused login.
func errUnauthorized(format string, args ...any) *apiError {
	return newErr(http.StatusUnauthorized, "auth", format, args...)
}

// errCSRF: a write without the session's CSRF token, or from another site.
func errCSRF(format string, args ...any) *apiError {
	return newErr(http.StatusForbidden, "csrf", format, args...)
}

// errPermission: the NATS server refused the user a subject.
func errPermission(format string, args ...any) *apiError {
	return newErr(http.StatusForbidden, "permission", format, args...)
}

// errUnavailable: nobody answered the request (no jetmq service reachable
// for this user, the connection closed).
func errUnavailable(format string, args ...any) *apiError {
	return newErr(http.StatusServiceUnavailable, "nats", format, args...)
}

// errTimeout: the request got no reply in time.
func errTimeout(format string, args ...any) *apiError {
	return newErr(http.StatusGatewayTimeout, "nats", format, args...)
}

// errTooMany: the dashboard holds as many sessions as it may.
func errTooMany(format string, args ...any) *apiError {
	return newErr(http.StatusTooManyRequests, "auth", format, args...)
}

// errJetmq passes a jetmq API error reply through with its code.
func errJetmq(ae *wire.APIError) *apiError {
	code := ae.Code
	if code < 400 || code > 599 {
		code = http.StatusBadGateway
	}
	return &apiError{Code: code, Kind: "jetmq", Description: ae.Description}
}

// writeJSON answers v (raw JSON as it is).
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if raw, ok := v.(json.RawMessage); ok {
		_, _ = w.Write(raw)
		return
	}
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers err as an apiError (anything else is a 500).
func writeError(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = newErr(http.StatusInternalServerError, "internal", "%v", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(ae.Code)
	_ = json.NewEncoder(w).Encode(map[string]*apiError{"error": ae})
}
