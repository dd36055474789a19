package bridge

import (
	"errors"
	"testing"

	"github.com/jetmq/jetmq/wire"
)

// codeOf is the contract code of the *wire.APIError in err, 0 for none.
func codeOf(err error) int {
	var ae *wire.APIError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return 0
}

// wantCode fails unless err carries an *wire.APIError with code (0: nil).
func wantCode(t *testing.T, err error, code int) {
	t.Helper()
	if code == 0 {
		if err != nil {
			t.Fatalf("want no error, got %v", err)
		}
		return
	}
	if got := codeOf(err); got != code {
		t.Fatalf("want an API error with code %d, got %v (code %d)", code, err, got)
	}
}
