package bridge

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"pollchat/config"
)

func TestRefusalReasons(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	v, err := NewVerifier(config.Auth{Secret: testSecret, LinkSecret: testLinkSecret, MaxAge: config.Duration{Duration: 10 * time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	v.Now = func() time.Time { return now }
	ts := func(d time.Duration) string { return v.Timestamp(now.Add(d)) }
	tests := []struct {
		name         string
		id, ts, hash string
		sentinel     error
		reason       Reason
		detail       string
	}{
		// The classic: date() on a site in UTC+1, UTC+2, UTC-5.
		{"1h ahead", "6", ts(time.Hour), v.Hash("6", ts(time.Hour)), ErrTokenExpired, ReasonClockSkew, "1h ahead of the server clock (UTC+1)"},
		{"2h ahead, signed 3 minutes ago", "6", ts(2*time.Hour - 3*time.Minute), v.Hash("6", ts(2*time.Hour-3*time.Minute)), ErrTokenExpired, ReasonClockSkew, "2h ahead of the server clock (UTC+2)"},
		{"5h behind", "6", ts(-5 * time.Hour), v.Hash("6", ts(-5*time.Hour)), ErrTokenExpired, ReasonClockSkew, "5h behind the server clock (UTC-5)"},
		{"skew names the fix", "6", ts(2 * time.Hour), v.Hash("6", ts(2*time.Hour)), ErrTokenExpired, ReasonClockSkew, "gmdate("},
		// Outside the window but not by whole hours: just old.
		{"40 minutes old", "6", ts(-40 * time.Minute), v.Hash("6", ts(-40*time.Minute)), ErrTokenExpired, ReasonExpired, "-40m0s off"},
		{"2h30 old", "6", ts(-150 * time.Minute), v.Hash("6", ts(-150*time.Minute)), ErrTokenExpired, ReasonExpired, "auth.max_age is 10m0s"},
		{"3 days old", "6", ts(-72 * time.Hour), v.Hash("6", ts(-72*time.Hour)), ErrTokenExpired, ReasonExpired, "off the server clock"},
		// Wrong hash: even when the timestamp is skewed (nothing to say
		// about a timestamp nobody signed).
		{"wrong hash", "6", ts(0), v.Hash("7", ts(0)), ErrAuthFailed, ReasonWrongHash, "does not match"},
		{"wrong hash, skewed", "6", ts(time.Hour), v.Hash("6", ts(0)), ErrAuthFailed, ReasonWrongHash, "does not match"},
		{"short hash", "6", ts(0), "abc", ErrAuthFailed, ReasonMalformed, "3 characters"},
		{"not hex", "6", ts(0), strings.Repeat("g", 40), ErrAuthFailed, ReasonMalformed, "not hex"},
		{"short timestamp", "6", "2611221000", v.Hash("6", "2611221000"), ErrAuthFailed, ReasonMalformed, "12 digits"},
		{"month 13", "6", "261322100000", v.Hash("6", "261322100000"), ErrAuthFailed, ReasonMalformed, "real date"},
		{"bad id", "a,b", ts(0), v.Hash("a,b", ts(0)), ErrAuthFailed, ReasonMalformed, "forbidden character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.VerifyHash(tt.id, tt.ts, tt.hash)
			var re *RefusalError
			if !errors.Is(err, tt.sentinel) || !errors.As(err, &re) || re.Reason != tt.reason || !strings.Contains(re.Detail, tt.detail) {
				t.Fatalf("VerifyHash(%q, %q, %q) = %v (%+v); want %v with reason %s saying %q", tt.id, tt.ts, tt.hash, err, re, tt.sentinel, tt.reason, tt.detail)
			}
		})
	}

	// The verified-identity cache gives the same reason once the window
	// has passed.
	good := ts(0)
	if _, err := v.VerifyHash("6", good, v.Hash("6", good)); err != nil {
		t.Fatal(err)
	}
	v.Now = func() time.Time { return now.Add(3 * time.Hour) }
	var re *RefusalError
	if _, err := v.VerifyHash("6", good, v.Hash("6", good)); !errors.Is(err, ErrTokenExpired) || !errors.As(err, &re) || re.Reason != ReasonClockSkew || re.Skew != -3*time.Hour {
		t.Fatalf("cached identity 3h later = %v (%+v); want ErrTokenExpired, clock_skew, -3h", err, re)
	}
	v.Now = func() time.Time { return now }

	// Tokens: expired, wrong key, malformed.
	key := []byte(testSecret)
	for _, tt := range []struct {
		token    string
		sentinel error
		reason   Reason
	}{
		{sign(t, jwt.SigningMethodHS256, key, jwt.MapClaims{"user_id": "6", "exp": now.Add(-time.Hour).Unix()}), ErrTokenExpired, ReasonExpired},
		{sign(t, jwt.SigningMethodHS256, []byte("another"), jwt.MapClaims{"user_id": "6", "exp": now.Add(time.Hour).Unix()}), ErrAuthFailed, ReasonWrongHash},
		{sign(t, jwt.SigningMethodHS512, key, jwt.MapClaims{"user_id": "6", "exp": now.Add(time.Hour).Unix()}), ErrAuthFailed, ReasonMalformed},
		{"not.a.token", ErrAuthFailed, ReasonMalformed},
	} {
		_, err := v.VerifyToken(tt.token)
		var re *RefusalError
		if !errors.Is(err, tt.sentinel) || !errors.As(err, &re) || re.Reason != tt.reason {
			t.Errorf("VerifyToken(%.30s…) = %v; want %v with reason %s", tt.token, err, tt.sentinel, tt.reason)
		}
	}
}

func TestLogRefusalIsRateLimited(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	v, err := NewVerifier(config.Auth{Secret: testSecret, MaxAge: config.Duration{Duration: 15 * time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	v.Now = func() time.Time { return now }
	log, buf := testLogger()
	v.Log = log
	skewed := v.Timestamp(now.Add(-3 * time.Hour)) // a site in UTC-3 using date()
	_, err = v.VerifyHash("6", skewed, v.Hash("6", skewed))
	v.LogRefusal(err, "6", "remote", "203.0.113.9")
	line := buf.String()
	for _, want := range []string{"identity refused", "reason=clock_skew", "date()", "user_id=6", "remote=203.0.113.9"} {
		if !strings.Contains(line, want) {
			t.Fatalf("LogRefusal line = %q; want it to contain %q", line, want)
		}
	}
	v.LogRefusal(nil, "6") // nothing refused: nothing logged
	// A flood: at most the burst is written, the rest counted.
	for i := 0; i < 1000; i++ {
		_, err := v.VerifyHash(fmt.Sprint(i), skewed, strings.Repeat("0", 40))
		v.LogRefusal(err, "evil\x1b[2J\n"+strings.Repeat("x", 200))
	}
	lines := strings.Count(buf.String(), "identity refused")
	if lines > RefusalLogBurst {
		t.Fatalf("1001 refusals wrote %d log lines; want at most %d", lines, RefusalLogBurst)
	}
	if strings.Contains(buf.String(), "\x1b") || strings.Contains(buf.String(), strings.Repeat("x", 100)) {
		t.Fatalf("log holds the raw user id: %q", buf.String())
	}
	// The next line, once the bucket refills, says how many were left out.
	v.refusals.mu.Lock()
	v.refusals.last = v.refusals.last.Add(-RefusalLogEvery)
	v.refusals.mu.Unlock()
	v.LogRefusal(err, "6")
	if !strings.Contains(buf.String(), "suppressed=") {
		t.Fatalf("log after the flood = %q; want a suppressed count", buf.String())
	}
}
