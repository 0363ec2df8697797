package files

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Signer signs and verifies short-lived file URLs with HMAC-SHA256. A token
// binds a file id, a scope (the conversation the server handed the URL out
// in, e.g. "with:1:3" or "room:lobby") and an expiry; the server checks, on
// serving, that the scope is the file's conversation. Tokens use only
// URL-safe characters ([A-Za-z0-9_.-]).
type Signer struct{ key []byte }

// MinKeyLen is the shortest key NewSigner takes.
const MinKeyLen = 32

// maxToken bounds the token Verify looks at.
const maxToken = 1024

// NewSigner returns a Signer with a copy of key (at least MinKeyLen bytes;
// give files a key of their own, not the identity secret).
func NewSigner(key []byte) (*Signer, error) {
	if len(key) < MinKeyLen {
		return nil, fmt.Errorf("files: signing key is %d bytes, at least %d", len(key), MinKeyLen)
	}
	return &Signer{key: append([]byte(nil), key...)}, nil
}

func (s *Signer) mac(fileID, scope string, exp int64) []byte {
	m := hmac.New(sha256.New, s.key)
	var n [binary.MaxVarintLen64]byte
	m.Write([]byte("pollchat file v1"))
	for _, part := range []string{fileID, scope} {
		m.Write(n[:binary.PutUvarint(n[:], uint64(len(part)))])
		m.Write([]byte(part))
	}
	m.Write(n[:binary.PutVarint(n[:], exp)])
	return m.Sum(nil)
}

// Sign returns a token for fileID in scope, valid until exp (to the second).
// The server puts it in the file's URL, e.g. /files/ID?t=TOKEN.
func (s *Signer) Sign(fileID, scope string, exp time.Time) string {
	e := exp.Unix()
	return base64.RawURLEncoding.EncodeToString([]byte(scope)) + "." +
		strconv.FormatInt(e, 10) + "." +
		base64.RawURLEncoding.EncodeToString(s.mac(fileID, scope, e))
}

// Verify checks token for fileID at time now and returns the scope it was
// signed for. A malformed token, another file's, or one signed with another
// key wraps ErrSignature (compared in constant time); a good one at or past
// its expiry wraps ErrExpired.
func (s *Signer) Verify(fileID, token string, now time.Time) (scope string, err error) {
	bad := fmt.Errorf("%w", ErrSignature)
	if len(token) > maxToken {
		return "", bad
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", bad
	}
	sc, err1 := base64.RawURLEncoding.Strict().DecodeString(parts[0])
	sig, err2 := base64.RawURLEncoding.Strict().DecodeString(parts[2])
	e, err3 := strconv.ParseInt(parts[1], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil || parts[1] != strconv.FormatInt(e, 10) {
		return "", bad
	}
	if !hmac.Equal(sig, s.mac(fileID, string(sc), e)) {
		return "", bad
	}
	if now.Unix() >= e {
		return "", fmt.Errorf("%w at %s", ErrExpired, time.Unix(e, 0).UTC().Format(time.RFC3339))
	}
	return string(sc), nil
}

// Expiry returns an expiry at least ttl after now, rounded up to a multiple
// of ttl/4, so that the URLs of one file signed within the same quarter
// are identical and browsers cache the file once. The lifetime is between
// ttl and 1.25×ttl.
func Expiry(now time.Time, ttl time.Duration) time.Time {
	step := ttl / 4
	if step < time.Second {
		return now.Add(ttl).Truncate(time.Second).Add(time.Second)
	}
	t := now.Add(ttl)
	if r := t.Truncate(step); r.Before(t) {
		return r.Add(step)
	}
	return t
}
