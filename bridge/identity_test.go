package bridge

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"pollchat/config"
)

const (
	testSecret     = "identity-test-secret"
	testLinkSecret = "identity-test-link-secret"
)

func newTestVerifier(t testing.TB, now time.Time, tz string) *Verifier {
	t.Helper()
	v, err := NewVerifier(config.Auth{Secret: testSecret, LinkSecret: testLinkSecret, MaxAge: config.Duration{Duration: 24 * time.Hour}, Timezone: tz})
	if err != nil {
		t.Fatal(err)
	}
	v.Now = func() time.Time { return now }
	return v
}

func TestVerifyHash(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	v := newTestVerifier(t, now, "")
	ts := "261122100000"
	good := v.Hash("6", ts)
	cases := []struct {
		id, ts, hash string
		want         error
	}{
		{"6", ts, good, nil},
		{"6", ts, strings.ToUpper(good), nil},
		{"7", ts, good, ErrAuthFailed},
		{"6", ts, good[:39], ErrAuthFailed},
		{"6", ts, good + "0", ErrAuthFailed},
		{"6", ts, strings.Repeat("z", 40), ErrAuthFailed},
		{"6", ts, "", ErrAuthFailed},
		{"", "", "", ErrAuthFailed},
		{"6", "261121095959", v.Hash("6", "261121095959"), ErrTokenExpired}, // 24h + 1s ago
		{"6", "261121100000", v.Hash("6", "261121100000"), nil},             // exactly 24h ago
		{"6", "261123100001", v.Hash("6", "261123100001"), ErrTokenExpired}, // 24h + 1s ahead
		{"6", "2611221000", v.Hash("6", "2611221000"), ErrAuthFailed},       // 10 digits
		{"6", "26112210000a", v.Hash("6", "26112210000a"), ErrAuthFailed},
		{"6", "261399100000", v.Hash("6", "261399100000"), ErrAuthFailed}, // month 13
		{"a,b", ts, v.Hash("a,b", ts), ErrAuthFailed},                     // comma in id
	}
	for _, tc := range cases {
		_, err := v.VerifyHash(tc.id, tc.ts, tc.hash)
		if !errors.Is(err, tc.want) {
			t.Errorf("VerifyHash(%q, %q, %q) = %v; want %v", tc.id, tc.ts, tc.hash, err, tc.want)
		}
	}
	// A time zone shifts how the timestamp is read.
	berlin := newTestVerifier(t, now, "Europe/Berlin")
	local := "261122110000" // 11:00 in Berlin is 10:00 UTC
	if _, err := berlin.VerifyHash("6", local, berlin.Hash("6", local)); err != nil {
		t.Errorf("Berlin timestamp: %v", err)
	}
	if got := berlin.Timestamp(now); got != local {
		t.Errorf("Timestamp in Berlin = %s; want %s", got, local)
	}
}

func TestVerifyChatLink(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	v := newTestVerifier(t, now, "")
	ts := v.Timestamp(now)
	h := v.LinkHash("6", "7", ts)
	if _, err := v.VerifyChatLink("6", "7", ts, h); err != nil {
		t.Fatalf("VerifyChatLink = %v", err)
	}
	// The identity secret never signs links: user 67's identity hash is
	// not a link for (6, 7), and a link for (6, 7) is not user 67.
	if _, err := v.VerifyChatLink("6", "7", ts, v.Hash("67", ts)); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("identity hash of 67 as a link for (6, 7) = %v; want ErrAuthFailed", err)
	}
	if _, err := v.VerifyHash("67", ts, h); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("link (6, 7) as identity 67 = %v; want ErrAuthFailed", err)
	}
	// Without a link secret no link verifies.
	off, err := NewVerifier(config.Auth{Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	off.Now = v.Now
	if _, err := off.VerifyChatLink("6", "7", ts, h); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("VerifyChatLink without link_secret = %v; want ErrAuthFailed", err)
	}
	if off.LinkHash("6", "7", ts) != "" {
		t.Fatal("LinkHash without link_secret is not empty")
	}
	if _, err := NewVerifier(config.Auth{Secret: testSecret, LinkSecret: testSecret}); err == nil {
		t.Fatal("NewVerifier with link_secret == secret: no error")
	}
	if _, err := v.VerifyChatLink("6", "8", ts, h); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("VerifyChatLink(other target) = %v", err)
	}
	if _, err := v.VerifyHash("6", ts, h); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("a chat-link hash used as identity = %v; want refused", err)
	}
}

func sign(t testing.TB, m jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerifyToken(t *testing.T) {
	now := time.Now()
	v := newTestVerifier(t, now, "")
	key := []byte(testSecret)
	exp := now.Add(time.Hour).Unix()
	cases := []struct {
		name   string
		token  string
		wantID string
		want   error
	}{
		{"string id", sign(t, jwt.SigningMethodHS256, key, jwt.MapClaims{"user_id": "john82", "exp": exp, "name": "John"}), "john82", nil},
		{"number id", sign(t, jwt.SigningMethodHS256, key, jwt.MapClaims{"user_id": 6, "exp": exp}), "6", nil},
		{"big number id", sign(t, jwt.SigningMethodHS256, key, jwt.MapClaims{"user_id": int64(9007199254740993), "exp": exp}), "9007199254740993", nil},
		{"float id", sign(t, jwt.SigningMethodHS256, key, jwt.MapClaims{"user_id": 6.5, "exp": exp}), "", ErrAuthFailed},
		{"no id", sign(t, jwt.SigningMethodHS256, key, jwt.MapClaims{"exp": exp}), "", ErrAuthFailed},
		{"empty id", sign(t, jwt.SigningMethodHS256, key, jwt.MapClaims{"user_id": "", "exp": exp}), "", ErrAuthFailed},
		{"no exp", sign(t, jwt.SigningMethodHS256, key, jwt.MapClaims{"user_id": "6"}), "", ErrAuthFailed},
		{"expired", sign(t, jwt.SigningMethodHS256, key, jwt.MapClaims{"user_id": "6", "exp": now.Add(-2 * time.Minute).Unix()}), "", ErrTokenExpired},
		{"leeway", sign(t, jwt.SigningMethodHS256, key, jwt.MapClaims{"user_id": "6", "exp": now.Add(-30 * time.Second).Unix()}), "6", nil},
		{"HS384", sign(t, jwt.SigningMethodHS384, key, jwt.MapClaims{"user_id": "6", "exp": exp}), "", ErrAuthFailed},
		{"HS512", sign(t, jwt.SigningMethodHS512, key, jwt.MapClaims{"user_id": "6", "exp": exp}), "", ErrAuthFailed},
		{"none", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{"user_id": "6", "exp": exp}), "", ErrAuthFailed},
		{"wrong key", sign(t, jwt.SigningMethodHS256, []byte("other"), jwt.MapClaims{"user_id": "6", "exp": exp}), "", ErrAuthFailed},
		{"expired and wrong key", sign(t, jwt.SigningMethodHS256, []byte("other"), jwt.MapClaims{"user_id": "6", "exp": now.Add(-time.Hour).Unix()}), "", ErrAuthFailed},
		{"garbage", "not.a.token", "", ErrAuthFailed},
		{"huge", strings.Repeat("a", MaxTokenLen+1), "", ErrAuthFailed},
	}
	for _, tc := range cases {
		idn, err := v.VerifyToken(tc.token)
		if !errors.Is(err, tc.want) || idn.UserID != tc.wantID {
			t.Errorf("VerifyToken(%s) = %q, %v; want %q, %v", tc.name, idn.UserID, err, tc.wantID, tc.want)
		}
	}
	// alg none with the signature stripped, and an HS256 header over a
	// payload signed by someone else.
	parts := strings.Split(cases[0].token, ".")
	if _, err := v.VerifyToken(parts[0] + "." + parts[1] + "."); !errors.Is(err, ErrAuthFailed) {
		t.Errorf("token without signature = %v", err)
	}
	// Issued tokens verify and carry their expiry.
	tok, expires, err := v.IssueToken("6", 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	idn, err := v.VerifyToken(tok)
	if err != nil || idn.UserID != "6" || !idn.Expires.Equal(expires) {
		t.Fatalf("issued token = %+v, %v", idn, err)
	}
}

func FuzzLegacyHash(f *testing.F) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	v := newTestVerifier(f, now, "")
	f.Add("6", "261122100000", v.Hash("6", "261122100000"))
	f.Add("", "", "")
	f.Add("6", "999999999999", strings.Repeat("0", 40))
	f.Add("é,\x00", "26112210000\xff", "zz")
	f.Fuzz(func(t *testing.T, id, ts, hash string) {
		idn, err := v.VerifyHash(id, ts, hash)
		if err == nil {
			// Accepted only when it is the real hash of a valid id.
			if idn.UserID != id || !strings.EqualFold(hash, v.Hash(id, ts)) || config.ValidUserID(id) != nil {
				t.Fatalf("VerifyHash(%q, %q, %q) accepted wrongly", id, ts, hash)
			}
		} else if !errors.Is(err, ErrAuthFailed) && !errors.Is(err, ErrTokenExpired) {
			t.Fatalf("VerifyHash error %v is not a sentinel", err)
		}
	})
}

func FuzzToken(f *testing.F) {
	now := time.Now()
	v := newTestVerifier(f, now, "")
	f.Add(sign(f, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"user_id": "6", "exp": now.Add(time.Hour).Unix()}))
	f.Add("eyJhbGciOiJub25lIn0.eyJ1c2VyX2lkIjoiNiJ9.")
	f.Add("a.b.c")
	f.Add("")
	f.Fuzz(func(t *testing.T, tok string) {
		idn, err := v.VerifyToken(tok)
		if err != nil {
			if !errors.Is(err, ErrAuthFailed) && !errors.Is(err, ErrTokenExpired) {
				t.Fatalf("VerifyToken error %v is not a sentinel", err)
			}
			return
		}
		if config.ValidUserID(idn.UserID) != nil {
			t.Fatalf("VerifyToken(%q) accepted invalid id %q", tok, idn.UserID)
		}
		// An accepted token must really be HS256 signed with the secret.
		p, perr := jwt.Parse(tok, func(*jwt.Token) (any, error) { return []byte(testSecret), nil }, jwt.WithValidMethods([]string{"HS256"}), jwt.WithLeeway(JWTLeeway))
		if perr != nil || !p.Valid {
			t.Fatalf("VerifyToken accepted %q which does not verify: %v", tok, perr)
		}
	})
}

// A verified identity is remembered, but it expires exactly when a
// recomputed one would, and only the exact triple is remembered.
func TestVerifyHashCache(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	v := newTestVerifier(t, now, "")
	ts := v.Timestamp(now)
	h := v.Hash("6", ts)
	for i := 0; i < 3; i++ {
		if _, err := v.VerifyHash("6", ts, h); err != nil {
			t.Fatalf("VerifyHash #%d = %v", i, err)
		}
	}
	if _, err := v.VerifyHash("7", ts, h); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("cached hash for another id = %v", err)
	}
	other := h[:39] + "0"
	if h[39] == '0' {
		other = h[:39] + "1"
	}
	if _, err := v.VerifyHash("6", ts, other); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("another hash for a cached id = %v", err)
	}
	v.Now = func() time.Time { return now.Add(24 * time.Hour) }
	if _, err := v.VerifyHash("6", ts, h); err != nil {
		t.Fatalf("cached identity at the edge of its window = %v", err)
	}
	v.Now = func() time.Time { return now.Add(24*time.Hour + time.Second) }
	if _, err := v.VerifyHash("6", ts, h); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("cached identity past its window = %v; want TOKEN_EXPIRED", err)
	}
}

// The byte form shares the cache with the string form and finds a verified
// identity without allocating; a NUL byte (the cache key's separator) in
// any part is refused, not looked up.
func TestVerifyHashBytes(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	v := newTestVerifier(t, now, "")
	ts := v.Timestamp(now)
	h := v.Hash("6", ts)
	idn, err := v.VerifyHashBytes([]byte("6"), []byte(ts), []byte(h))
	if err != nil || idn.UserID != "6" {
		t.Fatalf("VerifyHashBytes = %+v, %v", idn, err)
	}
	id, tsb, hb := []byte("6"), []byte(ts), []byte(h)
	if n := testing.AllocsPerRun(100, func() {
		if idn, err := v.VerifyHashBytes(id, tsb, hb); err != nil || idn.UserID != "6" {
			t.Fatalf("cached VerifyHashBytes = %+v, %v", idn, err)
		}
	}); n != 0 {
		t.Fatalf("a cached identity check allocates %v times; want 0", n)
	}
	if idn, err := v.VerifyHash("6", ts, h); err != nil || idn.UserID != "6" {
		t.Fatalf("VerifyHash after VerifyHashBytes = %+v, %v", idn, err)
	}
	for _, c := range [][3]string{
		{"6\x00" + ts, "", h},
		{"6", ts + "\x00", h},
		{"6", ts, h + "\x00"},
		{"6", ts, "\x00" + h},
	} {
		if _, err := v.VerifyHashBytes([]byte(c[0]), []byte(c[1]), []byte(c[2])); !errors.Is(err, ErrAuthFailed) {
			t.Errorf("VerifyHashBytes(%q) = %v; want AUTH_FAILED", c, err)
		}
		if _, err := v.VerifyHash(c[0], c[1], c[2]); !errors.Is(err, ErrAuthFailed) {
			t.Errorf("VerifyHash(%q) = %v; want AUTH_FAILED", c, err)
		}
	}
}

func BenchmarkVerifyHashCached(b *testing.B) {
	now := time.Now()
	v := newTestVerifier(b, now, "")
	ts := v.Timestamp(now)
	h := v.Hash("6", ts)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := v.VerifyHash("6", ts, h); err != nil {
			b.Fatal(err)
		}
	}
}

func TestVerifyTokenDropsUnsafeClaims(t *testing.T) {
	now := time.Now()
	v := newTestVerifier(t, now, "")
	exp := now.Add(time.Hour).Unix()
	tests := []struct {
		name, avatar         string
		wantName, wantAvatar string
	}{
		{"John", "https://cdn.example.com/j.png", "John", "https://cdn.example.com/j.png"},
		{" <b>Eve</b> ", "/uploads/e.png", "<b>Eve</b>", "/uploads/e.png"},
		{"Mallory", "javascript:alert(1)", "Mallory", ""},
		{"Mallory", "data:text/html,<script>alert(1)</script>", "Mallory", ""},
		{"Mallory", "vbscript:msgbox(1)", "Mallory", ""},
		{"Mallory", "//evil.example/x.png", "Mallory", ""},
		{"Mallory", "x.png", "Mallory", ""},
		{"\x1b[2Jcleared", "", "", ""},
		{"line\u2028break", "", "", ""},
		{"abc\u202etxt.exe", "", "", ""},
		{strings.Repeat("n", MaxClaimName+1), "", "", ""},
		{strings.Repeat("ж", MaxClaimName), "", strings.Repeat("ж", MaxClaimName), ""},
	}
	for _, tt := range tests {
		tok := sign(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"user_id": "6", "exp": exp, "name": tt.name, "avatar_url": tt.avatar})
		idn, err := v.VerifyToken(tok)
		if err != nil || idn.Name != tt.wantName || idn.AvatarURL != tt.wantAvatar {
			t.Errorf("VerifyToken(name %q, avatar_url %q) = %q %q, %v; want %q %q", tt.name, tt.avatar, idn.Name, idn.AvatarURL, err, tt.wantName, tt.wantAvatar)
		}
	}
}

// TestHashCase: PHP's sha1() writes lowercase hex; sites that wrap it in
// strtoupper() are accepted too (the same 20 bytes), for identities and
// popup links alike.
func TestHashCase(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	v := newTestVerifier(t, now, "")
	ts := "261122100000"
	h := v.Hash("6", ts)
	mixed := strings.ToUpper(h[:20]) + h[20:]
	for _, hash := range []string{h, strings.ToUpper(h), mixed} {
		if _, err := v.VerifyHash("6", ts, hash); err != nil {
			t.Errorf("VerifyHash(6, %s, %s) = %v; want nil", ts, hash, err)
		}
	}
	l := v.LinkHash("12", "3", ts)
	for _, hash := range []string{l, strings.ToUpper(l)} {
		if _, err := v.VerifyChatLink("12", "3", ts, hash); err != nil {
			t.Errorf("VerifyChatLink(12, 3, %s, %s) = %v; want nil", ts, hash, err)
		}
	}
	if h != strings.ToLower(h) || l != strings.ToLower(l) {
		t.Errorf("Hash, LinkHash = %s, %s; want lowercase (as PHP's sha1)", h, l)
	}
}
