package rocketmq

import (
	"encoding/base64"
	"errors"
	"strings"

	"github.com/jetmq/jetmq/core"
	"github.com/jetmq/jetmq/wire"
)

// encodedPrefix marks a subject token that carries a RocketMQ key, tag or
// message group that is not a valid NATS subject token itself. '~' never
// starts a token that was used as is, so decoding is unambiguous.
const encodedPrefix = "~"

// maxTokenSource bounds a key, tag or message group before encoding, so
// that the encoded token stays within a subject token's 255 bytes.
const maxTokenSource = 180

// EncodeToken turns a RocketMQ key, tag or message group into one NATS
// subject token: the value itself when it is a valid token (and neither
// the keyless marker "_" nor starting with '~'), else '~' followed by its
// unpadded base64url encoding. DecodeToken reverses it.
func EncodeToken(s string) (string, error) {
	if s == "" {
		return "", errors.New("empty")
	}
	if len(s) > maxTokenSource {
		return "", errors.New("longer than 180 bytes")
	}
	if s != wire.KeylessKey && !strings.HasPrefix(s, encodedPrefix) && core.ValidateToken("token", s) == nil {
		return s, nil
	}
	return encodedPrefix + base64.RawURLEncoding.EncodeToString([]byte(s)), nil
}

// DecodeToken is the inverse of EncodeToken. A token that starts with '~'
// but is not valid base64url (a NATS publisher's own key) is returned as it
// is.
func DecodeToken(tok string) string {
	if !strings.HasPrefix(tok, encodedPrefix) {
		return tok
	}
	b, err := base64.RawURLEncoding.DecodeString(tok[len(encodedPrefix):])
	if err != nil || len(b) == 0 {
		return tok
	}
	return string(b)
}
