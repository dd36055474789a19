package bridge

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"

	"github.com/jetmq/jetmq/wire"
	"github.com/nats-io/nats.go/jetstream"
)

// Member tokens bind an ordered group's heartbeats, releases and leaves
// to a member that joined. JOIN (on any node) mints
// <nonce>.<HMAC-SHA256(secret, topic, group, member, nonce)>; the
// coordinator (on one node) checks it with the same cluster-wide secret,
// kept in the ordered state bucket under tokenSecretKey (never a group's
// key: those are <topic>.<group>).
const tokenSecretKey = "member-token-secret"

// loadTokenSecret reads the cluster's token secret, creating it the first
// time.
func loadTokenSecret(ctx context.Context, kv jetstream.KeyValue) ([]byte, error) {
	for {
		e, err := kv.Get(ctx, tokenSecretKey)
		if err == nil {
			return e.Value(), nil
		}
		if !errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, err
		}
		secret := make([]byte, 32)
		_, _ = rand.Read(secret)
		_, err = kv.Create(ctx, tokenSecretKey, secret)
		if err == nil {
			return secret, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, err
		}
	}
}

// mintToken returns a new token for member of topic/group.
func (s *orderedGroups) mintToken(topic, group, member string) string {
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce)
	n := hex.EncodeToString(nonce)
	return n + "." + s.tokenMAC(s.tokenSecret(), topic, group, member, n)
}

// validToken reports whether token was minted for member of topic/group.
func (s *orderedGroups) validToken(topic, group, member, token string) bool {
	nonce, mac, ok := strings.Cut(token, ".")
	secret := s.tokenSecret()
	if !ok || nonce == "" || secret == nil {
		return false
	}
	return hmac.Equal([]byte(mac), []byte(s.tokenMAC(secret, topic, group, member, nonce)))
}

// tokenSecret is the secret once state has loaded it, else nil.
func (s *orderedGroups) tokenSecret() []byte {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	return s.secret
}

func (s *orderedGroups) tokenMAC(secret []byte, topic, group, member, nonce string) string {
	h := hmac.New(sha256.New, secret)
	for _, part := range []string{topic, group, member, nonce} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// decode reads the body of a heartbeat, release or leave request and its
// member token.
func (ev *coordEvent) decode() error {
	if len(ev.msg.Data) == 0 {
		return nil // no token: refused by authorize
	}
	var err error
	switch ev.kind {
	case "hb":
		err = json.Unmarshal(ev.msg.Data, &ev.hb)
		ev.token = ev.hb.Token
	case "release":
		err = json.Unmarshal(ev.msg.Data, &ev.release)
		ev.token = ev.release.Token
	case "leave":
		var l wire.OrderedLeave
		err = json.Unmarshal(ev.msg.Data, &l)
		ev.token = l.Token
	}
	return err
}

// authorize checks that a heartbeat, release or leave comes from the
// session that joined as its member: 403 without a token minted for that
// member, 409 when another session of the same member id is live. A
// heartbeat binds a live member to its token.
func (c *coordinator) authorize(ev coordEvent) *wire.APIError {
	if ev.kind != "hb" && ev.kind != "release" && ev.kind != "leave" {
		return nil
	}
	if !c.svc.validToken(c.g.Topic, c.g.Name, ev.member, ev.token) {
		return errForbidden("member %q of %s/%s did not join (no valid member token)", ev.member, c.g.Topic, c.g.Name)
	}
	if bound := c.tokens[ev.member]; bound != "" && bound != ev.token && c.own.Live(ev.member) {
		return errConflict("member id %q is in use by another live session (it joined again); this one ends after session_timeout without heartbeats", ev.member)
	}
	if ev.kind == "hb" {
		c.tokens[ev.member] = ev.token
	}
	return nil
}
