package bridge

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"pollchat/config"
)

var (
	// ErrAuthFailed: no identity, or one that does not verify.
	ErrAuthFailed = errors.New("bridge: identity does not verify")
	// ErrTokenExpired: a right hash with a timestamp outside the window, or
	// an expired token.
	ErrTokenExpired = errors.New("bridge: identity expired")
)

// MaxTokenLen bounds a JWT; longer ones are refused before parsing.
const MaxTokenLen = 4096

// JWTLeeway is the clock skew allowed on a token's exp.
const JWTLeeway = 60 * time.Second

// Identity is a verified caller.
type Identity struct {
	UserID string
	// Name and AvatarURL come from a token's claims; the directory's data
	// wins when it has any.
	Name      string
	AvatarURL string
	// Expires is when a token stops being valid (zero for a legacy hash).
	Expires time.Time
	// With restricts a token to the conversation with this user (the
	// popup chat page's token); empty means unrestricted.
	With string
}

// Verifier checks identities signed with the shared secret.
type Verifier struct {
	secret []byte
	// linkSecret signs popup links; nil means links are refused.
	linkSecret []byte
	maxAge     time.Duration
	loc        *time.Location
	// Now is the clock; tests replace it.
	Now func() time.Time
	// Log receives LogRefusal's lines; nil means slog.Default().
	Log *slog.Logger

	refusals refusalLog

	// verified remembers legacy identities that checked out: a browser
	// sends the same id, timestamp and hash on every poll of its page, and
	// the SHA1 was the largest single cost of a saturated fan-out. An entry
	// holds the window of the timestamp, so a cached identity expires
	// exactly as a recomputed one would.
	verified [16]verifiedShard
}

type verifiedShard struct {
	mu sync.Mutex
	m  map[string]verifiedEntry // by verifiedKey
}

// verifiedEntry is a cached identity: the user id (so a hit allocates
// nothing) and the window of its timestamp.
type verifiedEntry struct {
	id          string
	from, until time.Time
}

// verifiedKey appends the cache key of (id, timestamp, hash) to b: the
// three joined by NUL bytes. ok is false when one of them holds a NUL
// (no valid identity does), so that no two triples share a key.
func verifiedKey[S ~string | ~[]byte](b []byte, id, ts, hash S) (key []byte, ok bool) {
	for _, part := range [3]S{id, ts, hash} {
		for i := 0; i < len(part); i++ {
			if part[i] == 0 {
				return b, false
			}
		}
	}
	b = append(b, id...)
	b = append(b, 0)
	b = append(b, ts...)
	b = append(b, 0)
	b = append(b, hash...)
	return b, true
}

// maxVerified bounds each shard of the cache; a full shard is emptied (it
// refills at one SHA1 per identity).
const maxVerified = 8192

func (v *Verifier) shard(last byte) *verifiedShard {
	return &v.verified[last%16]
}

// NewVerifier builds a verifier from the auth config.
func NewVerifier(c config.Auth) (*Verifier, error) {
	loc := time.UTC
	if c.Timezone != "" {
		l, err := time.LoadLocation(c.Timezone)
		if err != nil {
			return nil, fmt.Errorf("bridge: auth.timezone: %w", err)
		}
		loc = l
	}
	maxAge := c.MaxAge.Duration
	if maxAge <= 0 {
		maxAge = 24 * time.Hour
	}
	v := &Verifier{secret: []byte(c.Secret), maxAge: maxAge, loc: loc, Now: time.Now}
	if c.LinkSecret != "" {
		if c.LinkSecret == c.Secret {
			return nil, fmt.Errorf("bridge: auth.link_secret must differ from auth.secret")
		}
		v.linkSecret = []byte(c.LinkSecret)
	}
	return v, nil
}

// TimestampLayout is the legacy hash's timestamp: yyMMddHHmmss.
const TimestampLayout = "060102150405"

// Timestamp formats t as a legacy-hash timestamp in the verifier's zone.
func (v *Verifier) Timestamp(t time.Time) string { return t.In(v.loc).Format(TimestampLayout) }

// Hash is the legacy identity hash: hex SHA1(id + timestamp + secret).
func (v *Verifier) Hash(parts ...string) string {
	h := sha1.New()
	for _, p := range parts {
		h.Write([]byte(p))
	}
	h.Write(v.secret)
	return hex.EncodeToString(h.Sum(nil))
}

// LinkHash is the popup link hash: hex SHA1(id + target + timestamp +
// link_secret); "" when no link secret is configured.
func (v *Verifier) LinkHash(id, target, timestamp string) string {
	if v.linkSecret == nil {
		return ""
	}
	h := sha1.New()
	h.Write([]byte(id + target + timestamp))
	h.Write(v.linkSecret)
	return hex.EncodeToString(h.Sum(nil))
}

// VerifyHash checks the eStreamChat identity id, timestamp, hash.
func (v *Verifier) VerifyHash(id, timestamp, hash string) (Identity, error) {
	var kb [128]byte
	key, ok := verifiedKey(kb[:0], id, timestamp, hash)
	if !ok {
		return v.verifyHash(id, timestamp, hash) // refused: no NUL in a valid identity
	}
	if idn, err, hit := v.cached(key); hit {
		return idn, err
	}
	return v.verifyAndRemember(string(key), id, timestamp, hash)
}

// VerifyHashBytes is VerifyHash for a request's own bytes: an identity
// already verified is found without converting them to strings, so a
// poll's identity check allocates nothing.
func (v *Verifier) VerifyHashBytes(id, timestamp, hash []byte) (Identity, error) {
	var kb [128]byte
	key, ok := verifiedKey(kb[:0], id, timestamp, hash)
	if !ok {
		return v.verifyHash(string(id), string(timestamp), string(hash))
	}
	if idn, err, hit := v.cached(key); hit {
		return idn, err
	}
	return v.verifyAndRemember(string(key), string(id), string(timestamp), string(hash))
}

// cached looks key up; hit is false when the identity must be verified.
func (v *Verifier) cached(key []byte) (Identity, error, bool) {
	sh := v.shard(key[len(key)-1])
	sh.mu.Lock()
	e, hit := sh.m[string(key)] // no allocation: the conversion is only looked up
	sh.mu.Unlock()
	if !hit {
		return Identity{}, nil, false
	}
	if now := v.Now(); !now.Before(e.from) && !now.After(e.until) {
		return Identity{UserID: e.id}, nil, true
	}
	return Identity{}, v.expiredTimestamp(e.from.Add(v.maxAge)), true
}

func (v *Verifier) verifyAndRemember(key, id, timestamp, hash string) (Identity, error) {
	idn, err := v.verifyHash(id, timestamp, hash)
	if err == nil {
		if t, perr := time.ParseInLocation(TimestampLayout, timestamp, v.loc); perr == nil {
			sh := v.shard(key[len(key)-1])
			sh.mu.Lock()
			if sh.m == nil || len(sh.m) >= maxVerified {
				sh.m = make(map[string]verifiedEntry)
			}
			sh.m[key] = verifiedEntry{id: idn.UserID, from: t.Add(-v.maxAge), until: t.Add(v.maxAge)}
			sh.mu.Unlock()
		}
	}
	return idn, err
}

func (v *Verifier) verifyHash(id, timestamp, hash string) (Identity, error) {
	if err := v.checkHash(hash, id, timestamp); err != nil {
		return Identity{}, err
	}
	if err := config.ValidUserID(id); err != nil {
		return Identity{}, refused(ErrAuthFailed, ReasonMalformed, "%v", err)
	}
	if err := v.checkTimestamp(timestamp); err != nil {
		return Identity{}, err
	}
	return Identity{UserID: id}, nil
}

// VerifyChatLink checks a popup chat link: SHA1(id + target + timestamp +
// link_secret). The identity secret never signs links: with it, the link for
// (12, 3) would be the identity of user "123".
func (v *Verifier) VerifyChatLink(id, target, timestamp, hash string) (Identity, error) {
	if v.linkSecret == nil {
		return Identity{}, ErrAuthFailed
	}
	if err := checkSHA1(hash, v.linkSecret, id, target, timestamp); err != nil {
		return Identity{}, err
	}
	if config.ValidUserID(id) != nil || config.ValidUserID(target) != nil {
		return Identity{}, refused(ErrAuthFailed, ReasonMalformed, "bad user id in the link")
	}
	if err := v.checkTimestamp(timestamp); err != nil {
		return Identity{}, err
	}
	return Identity{UserID: id}, nil
}

func (v *Verifier) checkHash(hash string, parts ...string) error {
	return checkSHA1(hash, v.secret, parts...)
}

// checkSHA1 compares hash with hex SHA1(parts... + key) in constant time.
func checkSHA1(hash string, key []byte, parts ...string) error {
	if len(hash) != sha1.Size*2 {
		return refused(ErrAuthFailed, ReasonMalformed, "hash is %d characters, want 40 hex digits", len(hash))
	}
	var got [sha1.Size]byte
	if _, err := hex.Decode(got[:], []byte(hash)); err != nil {
		return refused(ErrAuthFailed, ReasonMalformed, "hash is not hex")
	}
	h := sha1.New()
	for _, p := range parts {
		h.Write([]byte(p))
	}
	h.Write(key)
	if !hmac.Equal(got[:], h.Sum(nil)) {
		return refused(ErrAuthFailed, ReasonWrongHash, "hash does not match: signed with another secret, or id and timestamp differ from what was signed")
	}
	return nil
}

func (v *Verifier) checkTimestamp(ts string) error {
	if len(ts) != 12 {
		return refused(ErrAuthFailed, ReasonMalformed, "timestamp is %d characters, want 12 digits yyMMddHHmmss", len(ts))
	}
	for i := 0; i < len(ts); i++ {
		if ts[i] < '0' || ts[i] > '9' {
			return refused(ErrAuthFailed, ReasonMalformed, "timestamp is not 12 digits yyMMddHHmmss")
		}
	}
	t, err := time.ParseInLocation(TimestampLayout, ts, v.loc)
	if err != nil {
		return refused(ErrAuthFailed, ReasonMalformed, "timestamp is not a real date (yyMMddHHmmss)")
	}
	d := v.Now().Sub(t)
	if d < 0 {
		d = -d
	}
	if d > v.maxAge {
		return v.expiredTimestamp(t)
	}
	return nil
}

// VerifyToken checks an HS256 JWT with claims user_id and exp.
func (v *Verifier) VerifyToken(token string) (Identity, error) {
	if token == "" || len(token) > MaxTokenLen {
		return Identity{}, refused(ErrAuthFailed, ReasonMalformed, "token is empty or over %d bytes", MaxTokenLen)
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return v.secret, nil },
		jwt.WithValidMethods([]string{"HS256"}),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(JWTLeeway),
		jwt.WithJSONNumber(),
		jwt.WithTimeFunc(v.Now),
	)
	if err != nil {
		switch {
		case errors.Is(err, jwt.ErrTokenExpired) && !errors.Is(err, jwt.ErrTokenSignatureInvalid):
			e := refused(ErrTokenExpired, ReasonExpired, "token expired")
			if exp, perr := claims.GetExpirationTime(); perr == nil && exp != nil {
				e.Skew = exp.Time.Sub(v.Now())
				e.Detail = fmt.Sprintf("token expired %s ago", (-e.Skew).Round(time.Second))
			}
			return Identity{}, e
		case errors.Is(err, jwt.ErrTokenSignatureInvalid) && strings.Contains(err.Error(), "signing method"):
			return Identity{}, refused(ErrAuthFailed, ReasonMalformed, "token alg is not HS256")
		case errors.Is(err, jwt.ErrTokenSignatureInvalid):
			return Identity{}, refused(ErrAuthFailed, ReasonWrongHash, "token signature does not match auth.secret")
		}
		return Identity{}, refused(ErrAuthFailed, ReasonMalformed, "token: %s", sanitizedStart([]byte(err.Error()), 120))
	}
	id := ""
	switch uid := claims["user_id"].(type) {
	case string:
		id = uid
	case json.Number:
		if _, err := strconv.ParseInt(string(uid), 10, 64); err != nil {
			return Identity{}, ErrAuthFailed
		}
		id = string(uid)
	default:
		return Identity{}, ErrAuthFailed
	}
	if config.ValidUserID(id) != nil {
		return Identity{}, ErrAuthFailed
	}
	idn := Identity{UserID: id}
	if s, ok := claims["name"].(string); ok {
		idn.Name = ClaimName(s)
	}
	if s, ok := claims["avatar_url"].(string); ok {
		idn.AvatarURL = SafeURL(s)
	}
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		idn.Expires = exp.Time
	}
	if w, ok := claims["with"]; ok {
		ws, isString := w.(string)
		if !isString || config.ValidUserID(ws) != nil {
			return Identity{}, ErrAuthFailed
		}
		idn.With = ws
	}
	return idn, nil
}

// MaxClaimName bounds a token's name claim, in characters.
const MaxClaimName = 100

// ClaimName is a token's name claim as the chat may show it: trimmed, and
// "" (the user then shows by the directory's name or as "User ID") when
// it is not valid UTF-8, holds control, line-separator or bidi-override
// characters, or is longer than MaxClaimName characters.
func ClaimName(s string) string {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxClaimName {
		return ""
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069') {
			return ""
		}
	}
	return s
}

// IssueToken signs an HS256 access token for userID valid for ttl.
func (v *Verifier) IssueToken(userID string, ttl time.Duration) (token string, expires time.Time, err error) {
	return v.IssueScopedToken(userID, "", ttl)
}

// LinkExpiry is when a legacy timestamp stops being valid.
func (v *Verifier) LinkExpiry(timestamp string) time.Time {
	t, err := time.ParseInLocation(TimestampLayout, timestamp, v.loc)
	if err != nil {
		return v.Now()
	}
	return t.Add(v.maxAge)
}

// IssueScopedToken is IssueToken restricted to the conversation with
// `with` (when not empty): the popup chat page's token.
func (v *Verifier) IssueScopedToken(userID, with string, ttl time.Duration) (token string, expires time.Time, err error) {
	now := v.Now()
	expires = now.Add(ttl).Truncate(time.Second)
	claims := jwt.MapClaims{"user_id": userID, "exp": expires.Unix(), "iat": now.Unix()}
	if with != "" {
		claims["with"] = with
	}
	token, err = jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(v.secret)
	return token, expires, err
}
