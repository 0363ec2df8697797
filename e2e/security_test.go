package e2e

// Hostile input against the built binary. Every case here is a row of the
// table in docs/security.md, with the answer pollchat gives.

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"pollchat/bridge"
	"pollchat/config"
	"pollchat/internal/testsvc"
)

// ---- JSONP ----

// TestSecurityJSONPCallbacks: callback names that try to inject are refused
// with 400 text/plain and never echoed; odd but valid names (the
// protocol's regexp allows __proto__ and constructor.constructor) are
// answered inside the /**/ frame, where they can only call a function with
// the server's JSON.
func TestSecurityJSONPCallbacks(t *testing.T) {
	t.Parallel()
	_, c := start(t, testsvc.Options{})
	cases := []struct {
		name, cb string
		ok       bool
	}{
		{"call and comment", "alert(1)//", false},
		{"script tag", "<script>", false},
		{"closing script", "</script><script>alert(1)</script>", false},
		{"10 kB", strings.Repeat("a", 10<<10), false},
		{"129 characters", strings.Repeat("b", 129), false},
		{"unicode letter", "é", false},
		{"fullwidth letters", "ｃｂ", false},
		{"line separator", "cb\u2028x", false},
		{"NUL", "cb\x00", false},
		{"newline", "cb\nalert(1)", false},
		{"statement", "cb;alert(1)", false},
		{"index", "a[0]", false},
		{"assignment", "a=b", false},
		{"quote", `cb"`, false},
		{"space", "cb x", false},
		{"empty", "", false},
		{"__proto__", "__proto__", true},
		{"constructor.constructor", "constructor.constructor", true},
		{"Rosetta Flash alphabet", "CWS" + strings.Repeat("hCGkbS0", 17), true},
		{"jQuery", "jQuery1124_1700000000000", true},
		{"dotted", "$.cb.x_1", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := c.Ident("3")
			v.Set("callback", tc.cb)
			r := c.Do(t, "GET", "/v1/hello", v)
			if r.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("callback %.40q: no nosniff", tc.cb)
			}
			if !tc.ok {
				if r.Status != 400 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
					t.Fatalf("callback %.40q = %d %s; want 400 text/plain", tc.cb, r.Status, r.Header.Get("Content-Type"))
				}
				if tc.cb != "" && strings.Contains(string(r.Body), tc.cb) || len(r.Body) > 200 {
					t.Fatalf("callback %.40q echoed or long answer: %.300q", tc.cb, r.Body)
				}
				return
			}
			want := "/**/" + tc.cb + "("
			if r.Status != 200 || !strings.HasPrefix(string(r.Body), want) || !strings.HasSuffix(string(r.Body), ");") {
				t.Fatalf("callback %q = %d %.80q; want 200 %q…);", tc.cb, r.Status, r.Body, want)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/javascript; charset=utf-8" {
				t.Fatalf("callback %q: Content-Type %q", tc.cb, ct)
			}
			inner := strings.TrimSuffix(strings.TrimPrefix(string(r.Body), want), ");")
			if !json.Valid([]byte(inner)) {
				t.Fatalf("callback %q: the argument is not one JSON value: %.200q", tc.cb, inner)
			}
		})
	}
	// A repeated callback: the first names the frame (when valid), the
	// repeat is refused inside it; a bad first one is refused unechoed.
	v := c.Ident("3")
	v.Add("callback", "cb")
	v.Add("callback", "alert(1)//")
	if r := c.Do(t, "GET", "/v1/hello", v); !strings.HasPrefix(string(r.Body), `/**/cb({"error":{"code":"BAD_REQUEST"`) {
		t.Fatalf("repeated callback (good first) = %d %s", r.Status, r.Body)
	}
	v = c.Ident("3")
	v.Add("callback", "alert(1)//")
	v.Add("callback", "cb")
	if r := c.Do(t, "GET", "/v1/hello", v); r.Status != 400 || strings.Contains(string(r.Body), "alert") {
		t.Fatalf("repeated callback (bad first) = %d %s", r.Status, r.Body)
	}
}

// TestSecurityRosettaFlash: every JSONP answer, errors included, starts with
// /**/ (so no attacker-chosen byte is first: no Flash or other
// content sniffing of the file), is application/javascript with nosniff
// and status 200. Every JSON answer is application/json with nosniff and
// escapes < and > so that no answer sniffs as HTML.
func TestSecurityRosettaFlash(t *testing.T) {
	t.Parallel()
	_, c := start(t, testsvc.Options{Chat: "rate = 0.01\nburst = 1"})
	evil := `<script>alert(1)</script><!--`
	// Material that ends up in answers: a message and a request with HTML.
	// Each uses its sender's one token: user 4 is then rate limited.
	c.MustCall(t, "4", "send", "to", "3", "text", evil)
	c.MustCall(t, "5", "request", "to", "3", "text", evil)
	ts := testsvc.Timestamp(time.Now())
	kinds := []struct {
		name, path string
		params     url.Values
	}{
		{"hello", "/v1/hello", c.Ident("3")},
		{"history", "/v1/history", with(c.Ident("3"), "with", "4")},
		{"poll reset", "/v1/poll", with(c.Ident("3"), "cursor", "nope", "timeout", "0")},
		{"users", "/v1/users", with(c.Ident("3"), "ids", "4,<b>")},
		{"AUTH_FAILED", "/v1/hello", url.Values{"id": {"3"}, "timestamp": {ts}, "hash": {strings.Repeat("0", 40)}}},
		{"no identity", "/v1/poll", url.Values{}},
		{"TOKEN_EXPIRED", "/v1/hello", url.Values{"token": {c.Token("3", -time.Hour, nil)}}},
		{"BAD_REQUEST repeated", "/v1/send", func() url.Values { v := c.Ident("3"); v.Add("to", "4"); v.Add("to", "5"); return v }()},
		{"NOT_FOUND echoing input", "/v1/send", with(c.Ident("3"), "to", "<img src=x onerror=alert(1)>", "text", "x")},
		{"NOT_FOUND endpoint", "/v1/<script>", c.Ident("3")},
		{"TOO_LONG", "/v1/send", with(c.Ident("3"), "to", "4", "text", strings.Repeat("x", 400))},
		{"RATE_LIMITED", "/v1/request", with(c.Ident("4"), "to", "5", "text", "again")},
		{"MessengerCommand", "/MessengerCommand.ashx", c.Ident("3")},
		{"MessengerCommand error", "/MessengerCommand.ashx", url.Values{"id": {"3"}}},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			v := url.Values{}
			for key, vals := range k.params {
				v[key] = vals
			}
			v.Set("callback", "cb")
			r := c.Do(t, "GET", k.path, v)
			if r.Status != 200 || !strings.HasPrefix(string(r.Body), "/**/cb(") || !strings.HasSuffix(string(r.Body), ");") {
				t.Fatalf("JSONP %s = %d %.120q; want 200 /**/cb(…);", k.name, r.Status, r.Body)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/javascript; charset=utf-8" || r.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Fatalf("JSONP %s headers: Content-Type %q, nosniff %q", k.name, ct, r.Header.Get("X-Content-Type-Options"))
			}
			if strings.ContainsAny(string(r.Body), "<>") {
				t.Fatalf("JSONP %s has a raw < or >: %.300q", k.name, r.Body)
			}
			v.Del("callback")
			r = c.Do(t, "GET", k.path, v)
			if ct := r.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" || r.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Fatalf("JSON %s headers: Content-Type %q, nosniff %q", k.name, ct, r.Header.Get("X-Content-Type-Options"))
			}
			if strings.ContainsAny(string(r.Body), "<>") {
				t.Fatalf("JSON %s has a raw < or >: %.300q", k.name, r.Body)
			}
			if !json.Valid(r.Body) {
				t.Fatalf("JSON %s is not JSON: %.200q", k.name, r.Body)
			}
		})
	}
	// The message really is there, escaped: \u003c, not <.
	h := c.Call(t, "3", "history", "with", "4")
	if !strings.Contains(string(h.Body), `\u003cscript\u003e`) {
		t.Fatalf("history = %s; want the text with \\u003c escapes", h.Body)
	}
}

func with(v url.Values, kv ...string) url.Values {
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// ---- identity ----

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// handToken builds a JWT by hand: any header, any claims, the signature
// HMAC-SHA256 over header.claims with key (nil key: empty signature).
func handToken(header, claims map[string]any, key []byte) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	signing := b64(h) + "." + b64(c)
	if key == nil {
		return signing + "."
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(signing))
	return signing + "." + b64(m.Sum(nil))
}

// TestSecurityIdentity: forged, truncated, replayed and odd identities.
// TestIdentity (core_test.go) has the basic cases; these are the hostile
// ones. Everything refused is refused with AUTH_FAILED, or TOKEN_EXPIRED
// for a right signature outside its time.
func TestSecurityIdentity(t *testing.T) {
	t.Parallel()
	_, c := start(t, testsvc.Options{})
	now := time.Now()
	ts := testsvc.Timestamp(now)
	sign := func(parts ...string) string { return testsvc.SHA1Hex(append(parts, testsvc.Secret)...) }
	hashed := func(id, ts string) url.Values {
		return url.Values{"id": {id}, "timestamp": {ts}, "hash": {sign(id, ts)}}
	}
	good := sign("3", ts)
	secret := []byte(testsvc.Secret)
	exp := now.Add(time.Hour).Unix()
	claims := map[string]any{"user_id": "3", "exp": exp}
	hs256 := map[string]any{"alg": "HS256", "typ": "JWT"}
	signed := func(method jwt.SigningMethod, key any, cl jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(method, cl).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	validTok := c.Token("3", time.Hour, nil)
	parts := strings.Split(validTok, ".")
	flipped := []byte(parts[2])
	if flipped[0] == 'A' {
		flipped[0] = 'B'
	} else {
		flipped[0] = 'A'
	}
	cases := []struct {
		name   string
		params url.Values
		code   string // "" = accepted as user 3
	}{
		// Legacy hash.
		{"replayed hash within max_age (by design)", url.Values{"id": {"3"}, "timestamp": {ts}, "hash": {good}}, ""},
		{"forged: hash of id 3 with id 4", url.Values{"id": {"4"}, "timestamp": {ts}, "hash": {good}}, "AUTH_FAILED"},
		{"forged: timestamp moved", url.Values{"id": {"3"}, "timestamp": {testsvc.Timestamp(now.Add(time.Second))}, "hash": {good}}, "AUTH_FAILED"},
		{"forged: zero hash", url.Values{"id": {"3"}, "timestamp": {ts}, "hash": {strings.Repeat("0", 40)}}, "AUTH_FAILED"},
		{"truncated to 20", url.Values{"id": {"3"}, "timestamp": {ts}, "hash": {good[:20]}}, "AUTH_FAILED"},
		{"empty hash", url.Values{"id": {"3"}, "timestamp": {ts}, "hash": {""}}, "AUTH_FAILED"},
		{"hash with extra byte", url.Values{"id": {"3"}, "timestamp": {ts}, "hash": {good + "0"}}, "AUTH_FAILED"},
		{"non-hex hash", url.Values{"id": {"3"}, "timestamp": {ts}, "hash": {strings.Repeat("zz", 20)}}, "AUTH_FAILED"},
		{"sha256 of the same input", url.Values{"id": {"3"}, "timestamp": {ts}, "hash": {fmt.Sprintf("%x", sha256.Sum256([]byte("3"+ts+testsvc.Secret)))}}, "AUTH_FAILED"},
		{"hash without id", url.Values{"timestamp": {ts}, "hash": {good}}, "AUTH_FAILED"},
		{"1 h in the future (clock skew, accepted)", hashed("3", testsvc.Timestamp(now.Add(time.Hour))), ""},
		{"23 h in the past (accepted)", hashed("3", testsvc.Timestamp(now.Add(-23*time.Hour))), ""},
		{"25 h in the future", hashed("3", testsvc.Timestamp(now.Add(25*time.Hour))), "TOKEN_EXPIRED"},
		{"year 2000", hashed("3", "000101000000"), "TOKEN_EXPIRED"},
		{"year 2099", hashed("3", "991231235959"), "TOKEN_EXPIRED"},
		{"impossible date", hashed("3", "261399996161"), "AUTH_FAILED"},
		{"11-digit timestamp", hashed("3", ts[:11]), "AUTH_FAILED"},
		{"13-digit timestamp", hashed("3", ts+"0"), "AUTH_FAILED"},
		{"signed timestamp with sign", hashed("3", "+"+ts[1:]), "AUTH_FAILED"},
		{"unix-seconds timestamp", hashed("3", fmt.Sprint(now.Unix())), "AUTH_FAILED"},
		{"id with comma", hashed("3,4", ts), "AUTH_FAILED"},
		{"id of 65 bytes", hashed(strings.Repeat("9", 65), ts), "AUTH_FAILED"},
		{"id with NUL", hashed("3\x00", ts), "AUTH_FAILED"},
		// JWT.
		{"jwt alg none", url.Values{"token": {handToken(map[string]any{"alg": "none", "typ": "JWT"}, claims, nil)}}, "AUTH_FAILED"},
		{"jwt alg None", url.Values{"token": {handToken(map[string]any{"alg": "None", "typ": "JWT"}, claims, nil)}}, "AUTH_FAILED"},
		{"jwt alg none signed", url.Values{"token": {handToken(map[string]any{"alg": "none"}, claims, secret)}}, "AUTH_FAILED"},
		{"jwt alg hs256 lowercase", url.Values{"token": {handToken(map[string]any{"alg": "hs256"}, claims, secret)}}, "AUTH_FAILED"},
		{"jwt HS512 with the secret", url.Values{"token": {signed(jwt.SigningMethodHS512, secret, jwt.MapClaims(claims))}}, "AUTH_FAILED"},
		{"jwt HS384 with the secret", url.Values{"token": {signed(jwt.SigningMethodHS384, secret, jwt.MapClaims(claims))}}, "AUTH_FAILED"},
		{"jwt RS256 header, secret as public key", url.Values{"token": {handToken(map[string]any{"alg": "RS256", "typ": "JWT"}, claims, secret)}}, "AUTH_FAILED"},
		{"jwt ES256 header, HMAC signature", url.Values{"token": {handToken(map[string]any{"alg": "ES256"}, claims, secret)}}, "AUTH_FAILED"},
		{"jwt wrong signature", url.Values{"token": {parts[0] + "." + parts[1] + "." + string(flipped)}}, "AUTH_FAILED"},
		{"jwt signature stripped", url.Values{"token": {parts[0] + "." + parts[1] + "."}}, "AUTH_FAILED"},
		{"jwt claims swapped", url.Values{"token": {parts[0] + "." + b64([]byte(`{"user_id":"1","exp":9999999999}`)) + "." + parts[2]}}, "AUTH_FAILED"},
		{"jwt missing exp", url.Values{"token": {handToken(hs256, map[string]any{"user_id": "3"}, secret)}}, "AUTH_FAILED"},
		{"jwt exp as string", url.Values{"token": {handToken(hs256, map[string]any{"user_id": "3", "exp": fmt.Sprint(exp)}, secret)}}, "AUTH_FAILED"},
		{"jwt expired 2 h", url.Values{"token": {handToken(hs256, map[string]any{"user_id": "3", "exp": now.Add(-2 * time.Hour).Unix()}, secret)}}, "TOKEN_EXPIRED"},
		{"jwt nbf in the future", url.Values{"token": {handToken(hs256, map[string]any{"user_id": "3", "exp": exp, "nbf": now.Add(time.Hour).Unix()}, secret)}}, "AUTH_FAILED"},
		{"jwt missing user_id", url.Values{"token": {handToken(hs256, map[string]any{"sub": "3", "exp": exp}, secret)}}, "AUTH_FAILED"},
		{"jwt user_id object", url.Values{"token": {handToken(hs256, map[string]any{"user_id": map[string]any{"$ne": ""}, "exp": exp}, secret)}}, "AUTH_FAILED"},
		{"jwt user_id float", url.Values{"token": {handToken(hs256, map[string]any{"user_id": 3.5, "exp": exp}, secret)}}, "AUTH_FAILED"},
		{"jwt user_id empty", url.Values{"token": {handToken(hs256, map[string]any{"user_id": "", "exp": exp}, secret)}}, "AUTH_FAILED"},
		{"jwt kid and jku ignored", url.Values{"token": {handToken(map[string]any{"alg": "HS256", "kid": "../../etc/passwd", "jku": "http://evil.example/k"}, claims, secret)}}, ""},
		{"jwt huge payload (over 4 KiB)", url.Values{"token": {handToken(hs256, map[string]any{"user_id": "3", "exp": exp, "pad": strings.Repeat("x", 8<<10)}, secret)}}, "AUTH_FAILED"},
		{"jwt not base64", url.Values{"token": {"!!!.???.***"}}, "AUTH_FAILED"},
		{"jwt two parts", url.Values{"token": {parts[0] + "." + parts[1]}}, "AUTH_FAILED"},
		{"jwt wins over a good hash", url.Values{"token": {"x.y.z"}, "id": {"3"}, "timestamp": {ts}, "hash": {good}}, "AUTH_FAILED"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for round := 0; round < 2; round++ { // the second round is a replay
				r := c.Do(t, "GET", "/v1/hello", tc.params)
				if r.ErrorCode() != tc.code {
					t.Fatalf("hello(%s) round %d = %d %.200s; want code %q", tc.name, round, r.Status, r.Body, tc.code)
				}
				if tc.code != "" {
					if r.Status != 401 {
						t.Fatalf("hello(%s) status %d; want 401", tc.name, r.Status)
					}
					continue
				}
				var h struct {
					Me struct {
						UserID string `json:"user_id"`
					} `json:"me"`
				}
				r.JSON(t, &h)
				if h.Me.UserID != "3" {
					t.Fatalf("hello(%s).me = %q; want 3", tc.name, h.Me.UserID)
				}
			}
		})
	}
}

// TestSecurityTokenClaimsShown: name and avatar_url of a token are shown to
// other users; control characters and javascript: URLs are dropped.
func TestSecurityTokenClaimsShown(t *testing.T) {
	t.Parallel()
	_, c := start(t, testsvc.Options{})
	cases := []struct {
		name, claimName, claimAvatar, wantName, wantAvatar string
	}{
		{"plain", "Eve", "https://site.example/eve.png", "Eve", "https://site.example/eve.png"},
		{"javascript url", "Eve", "javascript:alert(1)", "Eve", ""},
		{"data url", "Eve", "data:text/html,<script>alert(1)</script>", "Eve", ""},
		{"protocol-relative", "Eve", "//evil.example/x.png", "Eve", ""},
		{"control chars in name", "Eve\x1b[31m", "", "User tok-%d", ""},
		{"name of 101 characters", strings.Repeat("n", 101), "", "User tok-%d", ""},
		{"html in name stays text", "<b>Eve</b>", "", "<b>Eve</b>", ""},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			uid := fmt.Sprintf("tok-%d", i)
			tok := c.Token(uid, time.Hour, map[string]any{"name": tc.claimName, "avatar_url": tc.claimAvatar})
			r := c.Do(t, "GET", "/v1/hello", url.Values{"token": {tok}})
			if r.Status != 200 {
				t.Fatalf("hello with claims %q %q = %d %s", tc.claimName, tc.claimAvatar, r.Status, r.Body)
			}
			var users struct {
				Users []struct {
					Name      string `json:"name"`
					AvatarURL string `json:"avatar_url"`
				} `json:"users"`
			}
			c.Call(t, "3", "users", "ids", uid).JSON(t, &users)
			wantName := tc.wantName
			if strings.Contains(wantName, "%d") {
				wantName = fmt.Sprintf(wantName, i)
			}
			if len(users.Users) != 1 || users.Users[0].Name != wantName || users.Users[0].AvatarURL != tc.wantAvatar {
				t.Fatalf("users(%s) = %+v; want name %q avatar %q", uid, users.Users, wantName, tc.wantAvatar)
			}
		})
	}
}

// TestSecurityChatLinks: popup links (/chat?id&target&timestamp&hash) are
// signed with auth.link_secret, never with auth.secret. With the identity
// secret, the eStreamChat formula SHA1(id + target + ts + secret) made the
// link for (12, 3) the identity of user "123", and user 12's own identity
// hash a valid link for (1, 2). The popup's token is scoped to the link's
// conversation and ends with the link; link_secret unset turns /chat off.
func TestSecurityChatLinks(t *testing.T) {
	t.Parallel()
	_, c := start(t, testsvc.Options{})
	ts := testsvc.Timestamp(time.Now())
	// User 12's identity hash is not a link for (1, 2)...
	h12 := testsvc.SHA1Hex("12", ts, testsvc.Secret)
	if r := c.Do(t, "GET", "/chat", url.Values{"id": {"1"}, "target": {"2"}, "timestamp": {ts}, "hash": {h12}}); r.Status != 403 {
		t.Fatalf("identity hash of 12 as chat link (1, 2) = %d; want 403", r.Status)
	}
	// ...and a link signed the eStreamChat way with auth.secret is refused.
	if r := c.Do(t, "GET", "/chat", url.Values{"id": {"1"}, "target": {"2"}, "timestamp": {ts}, "hash": {testsvc.SHA1Hex("1", "2", ts, testsvc.Secret)}}); r.Status != 403 {
		t.Fatalf("chat link signed with auth.secret = %d; want 403", r.Status)
	}
	// A link signed with link_secret for (12, 3) is not the identity of 123.
	link := testsvc.SHA1Hex("12", "3", ts, testsvc.LinkSecret)
	if r := c.Do(t, "GET", "/v1/hello", url.Values{"id": {"123"}, "timestamp": {ts}, "hash": {link}}); r.ErrorCode() != "AUTH_FAILED" {
		t.Fatalf("identity 123 from chat link (12, 3) = %d %s; want AUTH_FAILED", r.Status, r.Body)
	}
	// The right link opens the popup with a token scoped to (1, 2).
	r := c.Do(t, "GET", "/chat", url.Values{"id": {"1"}, "target": {"2"}, "timestamp": {ts}, "hash": {testsvc.SHA1Hex("1", "2", ts, testsvc.LinkSecret)}})
	if r.Status != 200 {
		t.Fatalf("chat link (1, 2) signed with link_secret = %d", r.Status)
	}
	_, rest, _ := strings.Cut(string(r.Body), `"token":"`)
	tok, _, _ := strings.Cut(rest, `"`)
	// Some of user 1's ordinary life, which the popup must not see.
	c.MustCall(t, "3", "send", "to", "1", "text", "private to admin")
	c.MustCall(t, "2", "send", "to", "1", "text", "in the linked conversation")
	call := func(endpoint string, kv ...string) *testsvc.Response {
		v := url.Values{"token": {tok}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return c.Do(t, "GET", "/v1/"+endpoint, v)
	}
	var h struct {
		Me struct {
			UserID string `json:"user_id"`
		} `json:"me"`
		Conversations []map[string]any `json:"conversations"`
		Rooms         []string         `json:"rooms"`
	}
	if r := call("hello"); r.Status != 200 {
		t.Fatalf("hello with the popup's token = %d %s", r.Status, r.Body)
	} else {
		r.JSON(t, &h)
	}
	if h.Me.UserID != "1" || len(h.Conversations) != 1 || h.Conversations[0]["with"] != "2" || len(h.Rooms) != 0 {
		t.Fatalf("popup hello = %+v; want only the conversation with 2", h)
	}
	for _, tc := range []struct {
		endpoint string
		kv       []string
	}{
		{"history", []string{"with", "3"}},
		{"send", []string{"to", "3", "text", "x"}},
		{"send", []string{"room", "lobby", "text", "x"}},
		{"join", []string{"room", "lobby"}},
		{"request", []string{"to", "3"}},
		{"block", []string{"user_id", "3", "block", "1"}},
		{"read", []string{"system", "1", "upto", "1"}},
	} {
		if r := call(tc.endpoint, tc.kv...); r.ErrorCode() != "FORBIDDEN" {
			t.Errorf("popup token %s %v = %d %s; want FORBIDDEN", tc.endpoint, tc.kv, r.Status, r.Body)
		}
	}
	if r := call("history", "with", "2"); r.Status != 200 || !strings.Contains(string(r.Body), "in the linked conversation") {
		t.Fatalf("popup history with 2 = %d %s", r.Status, r.Body)
	}
	// Its polls carry only the linked conversation.
	r = call("poll")
	var pr testsvc.PollResult
	r.JSON(t, &pr)
	c.MustCall(t, "3", "send", "to", "1", "text", "second private")
	c.MustCall(t, "2", "send", "to", "1", "text", "second linked")
	r = call("poll", "cursor", pr.Cursor, "timeout", "1")
	if strings.Contains(string(r.Body), "private") || !strings.Contains(string(r.Body), "second linked") {
		t.Fatalf("popup poll = %s; want only the 1-2 conversation", r.Body)
	}
	// auth.link_secret unset turns the popup page off.
	_, off := start(t, testsvc.Options{Auth: "link_secret = \"\""})
	if r := off.Do(t, "GET", "/chat", url.Values{"id": {"1"}, "target": {"2"}, "timestamp": {ts}, "hash": {testsvc.SHA1Hex("1", "2", ts, testsvc.LinkSecret)}}); r.Status != 404 {
		t.Fatalf("/chat without auth.link_secret = %d; want 404", r.Status)
	}
}

// ---- parameters ----

// TestSecurityParams: missing, repeated, oversized, malformed parameters.
func TestSecurityParams(t *testing.T) {
	t.Parallel()
	p, c := start(t, testsvc.Options{Chat: "rate = 0"})
	missing := []struct {
		endpoint string
		params   []string
	}{
		{"send", nil}, {"send", []string{"to", "4"}}, {"history", nil}, {"read", nil}, {"read", []string{"with", "4"}},
		{"answer", nil}, {"answer", []string{"accept", "1"}}, {"join", nil}, {"leave", nil}, {"users", nil},
		{"typing", nil}, {"request", nil},
	}
	for _, tc := range missing {
		t.Run(fmt.Sprintf("missing %s %v", tc.endpoint, tc.params), func(t *testing.T) {
			if r := c.Call(t, "3", tc.endpoint, tc.params...); r.Status != 400 || r.ErrorCode() != "BAD_REQUEST" {
				t.Fatalf("%s %v = %d %s; want 400 BAD_REQUEST", tc.endpoint, tc.params, r.Status, r.Body)
			}
		})
	}
	repeated := []struct{ name, key string }{{"to", "to"}, {"text", "text"}, {"id", "id"}, {"hash", "hash"}, {"cursor", "cursor"}}
	for _, tc := range repeated {
		t.Run("repeated "+tc.name, func(t *testing.T) {
			v := with(c.Ident("3"), "to", "4", "text", "x", "cursor", "c")
			v.Add(tc.key, v.Get(tc.key))
			if r := c.Do(t, "GET", "/v1/send", v); r.ErrorCode() != "BAD_REQUEST" {
				t.Fatalf("send with %s twice = %d %s; want BAD_REQUEST", tc.key, r.Status, r.Body)
			}
			// The same in a form body.
			if r := c.Do(t, "POST", "/v1/send", v); r.ErrorCode() != "BAD_REQUEST" {
				t.Fatalf("POST send with %s twice = %d %s; want BAD_REQUEST", tc.key, r.Status, r.Body)
			}
		})
	}
	t.Run("repeated across query and body", func(t *testing.T) {
		// A name in both the query string and the body is as ambiguous as
		// a name given twice.
		v := with(c.Ident("3"), "to", "4", "text", "which to?")
		for _, ct := range []string{"application/x-www-form-urlencoded", "application/json"} {
			body := v.Encode()
			if ct == "application/json" {
				m := map[string]string{}
				for k := range v {
					m[k] = v.Get(k)
				}
				b, _ := json.Marshal(m)
				body = string(b)
			}
			req, _ := http.NewRequest("POST", p.URL+"/v1/send?to=5", strings.NewReader(body))
			req.Header.Set("Content-Type", ct)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 400 {
				t.Fatalf("POST /v1/send?to=5 with %s to=4 = %d; want 400", ct, resp.StatusCode)
			}
		}
		if h := c.MustCall(t, "3", "history", "with", "5"); len(h["messages"].([]any)) != 0 {
			t.Fatalf("an ambiguous send was stored: %v", h["messages"])
		}
	})
	t.Run("repeated in a JSON body", func(t *testing.T) {
		id := c.Ident("3")
		body := fmt.Sprintf(`{"id":%q,"timestamp":%q,"hash":%q,"to":"4","to":"5","text":"which to?"}`, id.Get("id"), id.Get("timestamp"), id.Get("hash"))
		resp, err := http.Post(p.URL+"/v1/send", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Fatalf("POST JSON with \"to\" twice = %d; want 400", resp.StatusCode)
		}
		for _, to := range []string{"4", "5"} {
			if h := c.MustCall(t, "3", "history", "with", to); len(h["messages"].([]any)) != 0 {
				t.Fatalf("a send with a repeated JSON key was stored: %v", h["messages"])
			}
		}
	})
	t.Run("too many parameters", func(t *testing.T) {
		v := c.Ident("3")
		for i := 0; i < 100; i++ {
			v.Set(fmt.Sprintf("p%d", i), "x")
		}
		if r := c.Do(t, "GET", "/v1/hello", v); r.ErrorCode() != "BAD_REQUEST" {
			t.Fatalf("hello with 103 parameters = %d %s; want BAD_REQUEST", r.Status, r.Body)
		}
		if r := c.Do(t, "POST", "/v1/hello", v); r.ErrorCode() != "BAD_REQUEST" {
			t.Fatalf("POST hello with 103 parameters = %d %s; want BAD_REQUEST", r.Status, r.Body)
		}
	})

	// Oversized requests, on raw connections.
	big := []struct {
		name, req string
		status    int
		body      string
	}{
		{"URL of 20 kB", "GET /v1/hello?x=" + strings.Repeat("a", 20<<10) + " HTTP/1.1\r\nHost: t\r\n\r\n", 431, "too large"},
		{"cookie of 20 kB", "GET /v1/hello HTTP/1.1\r\nHost: t\r\nCookie: c=" + strings.Repeat("a", 20<<10) + "\r\n\r\n", 431, "too large"},
		{"3000 headers", "GET /v1/hello HTTP/1.1\r\nHost: t\r\n" + strings.Repeat("X-A: b\r\n", 3000) + "\r\n", 431, "too large"},
		{"body of 100 kB", "POST /v1/send HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 102400\r\n\r\n" + strings.Repeat("a", 100<<10), 413, "too large"},
		{"garbage request line", "HELLO\r\n\r\n", 400, "malformed"},
		{"URL of 12 kB is fine (under the 16 KiB buffer)", "GET /v1/hello?x=" + strings.Repeat("a", 12<<10) + " HTTP/1.1\r\nHost: t\r\n\r\n", 401, "AUTH_FAILED"},
	}
	for _, tc := range big {
		t.Run(tc.name, func(t *testing.T) {
			status, body, h := rawRequestHeader(t, p.Addr, tc.req)
			if status != tc.status || !strings.Contains(body, tc.body) {
				t.Fatalf("%s = %d %.200q; want %d with %q", tc.name, status, body, tc.status, tc.body)
			}
			if h.Get("X-Content-Type-Options") != "nosniff" {
				t.Fatalf("%s: %d answer without nosniff: %v", tc.name, status, h)
			}
		})
	}
}

// rawRequest writes req on a fresh connection and reads one answer.
func rawRequest(t *testing.T, addr, req string) (int, string) {
	t.Helper()
	st, body, _ := rawRequestHeader(t, addr, req)
	return st, body
}

func rawRequestHeader(t *testing.T, addr, req string) (int, string, http.Header) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	// The server may answer and close before reading everything.
	go conn.Write([]byte(req))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, b.String(), resp.Header
}

// TestSecurityPaths: no path reaches a file that is not an embedded asset.
func TestSecurityPaths(t *testing.T) {
	t.Parallel()
	p, _ := start(t, testsvc.Options{})
	for _, path := range []string{
		"/../../etc/passwd", "/widget.js/../config.toml", "/%2e%2e/%2e%2e/etc/passwd", "/config.toml",
		"/data/", "/v1/../metrics/x", "//widget.js/..", "/widget.js%00.html", "/assets/widget.js", "/demo.html",
	} {
		status, body, _ := rawRequestHeader(t, p.Addr, "GET "+path+" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
		if status != 404 && status != 400 {
			t.Errorf("GET %s = %d %.100q; want 404 or 400", path, status, body)
		}
		if strings.Contains(body, "root:") || strings.Contains(body, testsvc.Secret) {
			t.Fatalf("GET %s leaks a file: %.200q", path, body)
		}
	}
}

// TestSecurityText: invalid UTF-8 and control characters are refused and
// nothing of them is stored.
func TestSecurityText(t *testing.T) {
	t.Parallel()
	_, c := start(t, testsvc.Options{Chat: "rate = 0"})
	bad := []struct{ name, text string }{
		{"NUL", "a\x00b"}, {"SOH", "a\x01b"}, {"ESC", "\x1b[2Jcleared"}, {"DEL", "a\x7fb"},
		{"C1 NEL", "a\u0085b"}, {"C1 CSI", "a\u009bb"}, {"lone 0xff", "a\xffb"}, {"overlong slash", "a\xc0\xafb"},
		{"surrogate half", "a\xed\xa0\x80b"}, {"lone continuation", "a\x80b"}, {"truncated sequence", "a\xe2\x82"},
		{"only spaces", " \t\n "},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			for _, ep := range []struct{ endpoint, target string }{{"send", "to"}, {"send", "room"}, {"request", "to"}} {
				target := "4"
				if ep.target == "room" {
					target = "lobby"
				}
				r := c.Call(t, "3", ep.endpoint, ep.target, target, "text", tc.text)
				if ep.endpoint == "request" && tc.name == "only spaces" {
					// A chat request's text is optional: blank means none.
					if r.Status != 200 {
						t.Fatalf("request with blank text = %d %s; want 200", r.Status, r.Body)
					}
					continue
				}
				if r.Status != 400 || r.ErrorCode() != "BAD_REQUEST" {
					t.Fatalf("%s %s text %q = %d %s; want 400 BAD_REQUEST", ep.endpoint, ep.target, tc.text, r.Status, r.Body)
				}
			}
		})
	}
	for _, id := range []string{"k\x00", "k\x1b", "k\x7f", "k\n"} {
		if r := c.Call(t, "3", "send", "to", "4", "text", "ok", "client_id", id); r.ErrorCode() != "BAD_REQUEST" {
			t.Fatalf("client_id %q = %d %s; want BAD_REQUEST", id, r.Status, r.Body)
		}
	}
	if h := c.MustCall(t, "3", "history", "with", "4"); len(h["messages"].([]any)) != 0 {
		t.Fatalf("refused sends were stored: %v", h["messages"])
	}
	for _, rq := range c.MustCall(t, "4", "hello")["requests"].([]any) {
		if text := rq.(map[string]any)["text"]; text != "" {
			t.Fatalf("a refused request was stored: %v", rq)
		}
	}
}

// TestSecurityInjectionIDs: ids that try SQL (and other) injection are just
// strings to the embedded store: unknown users, empty answers, and a token
// user whose id looks like SQL sees only their own conversations. (The
// mysql presets bind ids as parameters; bridge's tests run them on
// MariaDB.)
func TestSecurityInjectionIDs(t *testing.T) {
	t.Parallel()
	_, c := start(t, testsvc.Options{Chat: "rate = 0"})
	c.MustCall(t, "4", "send", "to", "5", "text", "private 4-5")
	c.MustCall(t, "3", "send", "to", "4", "text", "from 3")
	hostile := []string{
		"1' OR '1'='1", "1 OR 1=1", "1; DROP TABLE pollchat_messages; --", "1\" OR \"\"=\"", "1) UNION SELECT user_pass FROM wp_users --",
		"%", "_", "*", "4%", "../4", "4\\", "${jndi:ldap://x}", "4' --",
	}
	for _, id := range hostile {
		t.Run(id, func(t *testing.T) {
			if r := c.Call(t, "3", "send", "to", id, "text", "x"); r.ErrorCode() != "NOT_FOUND" && r.ErrorCode() != "BAD_REQUEST" {
				t.Fatalf("send to %q = %d %s; want NOT_FOUND or BAD_REQUEST", id, r.Status, r.Body)
			}
			if r := c.Call(t, "3", "history", "with", id); r.Status == 200 && strings.Contains(string(r.Body), "private") {
				t.Fatalf("history with %q leaks: %s", id, r.Body)
			}
			// An id that breaks the id rule (a space, a quote with a space)
			// is refused; any other is just an unknown user.
			if r := c.Call(t, "3", "users", "ids", id+",4"); r.ErrorCode() != "BAD_REQUEST" {
				us := r.Map(t)["users"].([]any)
				if len(us) != 1 || us[0].(map[string]any)["user_id"] != "4" {
					t.Fatalf("users(%q,4) = %v; want only user 4", id, us)
				}
			}
			if r := c.Call(t, "3", "read", "with", id, "upto", "1 OR 1=1"); r.ErrorCode() != "BAD_REQUEST" {
				t.Fatalf("read upto SQL = %s; want BAD_REQUEST", r.Body)
			}
		})
	}
	// A signed user whose id looks like SQL is just that user.
	sqlUser := "x'OR'1'='1"
	tok := c.Token(sqlUser, time.Hour, nil)
	call := func(endpoint string, kv ...string) *testsvc.Response {
		v := url.Values{"token": {tok}}
		return c.Do(t, "GET", "/v1/"+endpoint, with(v, kv...))
	}
	if r := call("send", "to", "4", "text", "hi from sql"); r.Status != 200 {
		t.Fatalf("send as %q = %d %s", sqlUser, r.Status, r.Body)
	}
	for _, other := range []string{"4", "5", "3"} {
		r := call("history", "with", other)
		if strings.Contains(string(r.Body), "private 4-5") || strings.Contains(string(r.Body), "from 3") {
			t.Fatalf("history of %q with %s leaks: %s", sqlUser, other, r.Body)
		}
	}
	h := c.MustCall(t, "4", "history", "with", "5")
	if n := len(h["messages"].([]any)); n != 1 {
		t.Fatalf("history 4-5 has %d messages; want 1", n)
	}
}

// TestSecurityIDsLimit: users answers at most 100 ids.
func TestSecurityIDsLimit(t *testing.T) {
	t.Parallel()
	_, c := start(t, testsvc.Options{})
	list := func(n int) string {
		ids := make([]string, n)
		for i := range ids {
			ids[i] = fmt.Sprint(i%5 + 1)
		}
		return strings.Join(ids, ",")
	}
	cases := []struct {
		name, ids, code string
	}{
		{"100", list(100), ""},
		{"101", list(101), "BAD_REQUEST"},
		{"10000", list(10000), "BAD_REQUEST"},
		{"100 with empties", strings.Repeat(",", 99), ""},
		{"101 empties", strings.Repeat(",", 100), "BAD_REQUEST"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.Do(t, "POST", "/v1/users", with(c.Ident("3"), "ids", tc.ids))
			if r.ErrorCode() != tc.code {
				t.Fatalf("users with %s ids = %d %.200s; want %q", tc.name, r.Status, r.Body, tc.code)
			}
		})
	}
}

// ---- deployment ----

// TestSecurityAPIOffWithoutPassword: with api.password empty every backend
// endpoint answers 404, with or without credentials.
func TestSecurityAPIOffWithoutPassword(t *testing.T) {
	t.Parallel()
	p, c := start(t, testsvc.Options{})
	p.Stop()
	cfg, err := os.ReadFile(p.Config)
	if err != nil {
		t.Fatal(err)
	}
	off := strings.Replace(string(cfg), fmt.Sprintf("password = %q", testsvc.APIPassword), `password = ""`, 1)
	if off == string(cfg) {
		t.Fatal("could not blank api.password in the test config")
	}
	if err := os.WriteFile(p.Config, []byte(off), 0o600); err != nil {
		t.Fatal(err)
	}
	p.Start()
	for _, ep := range []struct{ method, path, body string }{
		{"POST", "/api/v1/messages", `{"to":"3","text":"x"}`},
		{"POST", "/api/v1/tokens", `{"user_id":"1"}`},
		{"GET", "/api/v1/unread?user_id=3", ""},
		{"GET", "/api/v1/online", ""},
		{"POST", "/api/v1/users/invalidate", `{"user_ids":["1"]}`},
	} {
		for _, auth := range []string{"", testsvc.APILogin + ":", testsvc.APILogin + ":" + testsvc.APIPassword} {
			req, _ := http.NewRequest(ep.method, p.URL+ep.path, strings.NewReader(ep.body))
			req.Header.Set("Content-Type", "application/json")
			if auth != "" {
				req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(auth)))
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 404 {
				t.Fatalf("%s %s with auth %q and the API off = %d; want 404", ep.method, ep.path, auth, resp.StatusCode)
			}
		}
	}
	// Nothing was injected.
	for _, cv := range c.MustCall(t, "3", "hello")["conversations"].([]any) {
		if m := cv.(map[string]any)["last_message"]; m != nil {
			t.Fatalf("the API wrote with the API off: %v", cv)
		}
	}
}

// TestSecurityAPIAuth: wrong Basic credentials get 401 with
// WWW-Authenticate; the right ones work.
func TestSecurityAPIAuth(t *testing.T) {
	t.Parallel()
	p, _ := start(t, testsvc.Options{})
	for _, tc := range []struct {
		name, auth string
		want       int
	}{
		{"none", "", 401},
		{"wrong password", "Basic " + base64.StdEncoding.EncodeToString([]byte(testsvc.APILogin+":nope")), 401},
		{"empty password", "Basic " + base64.StdEncoding.EncodeToString([]byte(testsvc.APILogin+":")), 401},
		{"password prefix", "Basic " + base64.StdEncoding.EncodeToString([]byte(testsvc.APILogin+":"+testsvc.APIPassword[:5])), 401},
		{"bearer", "Bearer " + testsvc.APIPassword, 401},
		{"right", "Basic " + base64.StdEncoding.EncodeToString([]byte(testsvc.APILogin+":"+testsvc.APIPassword)), 200},
	} {
		req, _ := http.NewRequest("GET", p.URL+"/api/v1/online", nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Fatalf("GET /api/v1/online with %s = %d; want %d", tc.name, resp.StatusCode, tc.want)
		}
		if tc.want == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
			t.Fatalf("401 with %s lacks WWW-Authenticate Basic", tc.name)
		}
	}
}

// TestSecuritySecretsNotLogged: after a run with debug logging, errors and
// refused identities, and after config errors, neither auth.secret nor
// api.password nor a users-info password appears in the output.
func TestSecuritySecretsNotLogged(t *testing.T) {
	t.Parallel()
	p, c := start(t, testsvc.Options{Env: []string{"POLLCHAT_DEBUG=1"}})
	c.MustCall(t, "3", "send", "to", "4", "text", "hi")
	c.Call(t, "3", "send", "to", "999", "text", "hi")
	c.Do(t, "GET", "/v1/hello", url.Values{"id": {"3"}, "timestamp": {"1"}, "hash": {"x"}})
	c.Do(t, "GET", "/api/v1/online", nil)
	c.Do(t, "GET", "/nope", nil)
	rawRequest(t, p.Addr, "GET /v1/hello?x="+strings.Repeat("a", 20<<10)+" HTTP/1.1\r\nHost: t\r\n\r\n")
	p.Stop()
	log := p.Log()
	if !strings.Contains(log, "listening") {
		t.Fatalf("the log does not look like pollchat's: %q", log)
	}
	for _, s := range []string{testsvc.Secret, testsvc.APIPassword} {
		if strings.Contains(log, s) {
			t.Fatalf("the log holds the secret %q:\n%s", s, log)
		}
	}
	// Config errors name keys, never values of secrets.
	bin := testsvc.Binary(t)
	dir := t.TempDir()
	const short, pass, upass = "s3cr3t!", "api-pass-Zq9", "users-pass-Xk2"
	cases := []struct{ name, cfg, secret string }{
		{"short secret", "[auth]\nsecret = \"" + short + "\"\n", short},
		{"api password without login", "[auth]\nsecret = \"0123456789abcdef-x\"\n[api]\npassword = \"" + pass + "\"\n", pass},
		{"bad key beside secret", "[auth]\nsecret = \"0123456789abcdef-y\"\nsecrett = 1\n", "0123456789abcdef-y"},
		{"http source without url", "[auth]\nsecret = \"0123456789abcdef-z\"\n[users]\nsource = \"http\"\n[users.http]\nlogin = \"u\"\npassword = \"" + upass + "\"\n", upass},
	}
	for _, tc := range cases {
		f := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".toml")
		if err := os.WriteFile(f, []byte(tc.cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := runBinary(bin, "-check", "-config", f)
		if err == nil {
			t.Fatalf("-check accepted %s", tc.name)
		}
		if strings.Contains(out, tc.secret) {
			t.Fatalf("config error for %s prints the secret: %s", tc.name, out)
		}
	}
}

func runBinary(bin string, args ...string) (string, error) {
	out, err := exec.Command(bin, args...).CombinedOutput()
	return string(out), err
}

// TestSecurityCORS: CORS headers only for allowed origins, matched exactly;
// never credentials.
func TestSecurityCORS(t *testing.T) {
	t.Parallel()
	p, c := start(t, testsvc.Options{Server: `allowed_origins = ["https://good.example"]`})
	cases := []struct{ origin, want string }{
		{"https://good.example", "https://good.example"},
		{"https://evil.example", ""},
		{"https://good.example.evil.example", ""},
		{"https://evilgood.example", ""},
		{"http://good.example", ""},
		{"https://good.example:8443", ""},
		{"HTTPS://GOOD.EXAMPLE", ""},
		{"null", ""},
		{"*", ""},
	}
	for _, tc := range cases {
		for _, method := range []string{"GET", "POST", "OPTIONS"} {
			req, _ := http.NewRequest(method, p.URL+"/v1/hello?"+c.Ident("3").Encode(), nil)
			req.Header.Set("Origin", tc.origin)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tc.want {
				t.Errorf("%s from %q: Allow-Origin = %q; want %q", method, tc.origin, got, tc.want)
			}
			if resp.Header.Get("Access-Control-Allow-Credentials") != "" {
				t.Errorf("%s from %q: Allow-Credentials is set", method, tc.origin)
			}
			if !strings.Contains(strings.Join(resp.Header.Values("Vary"), ","), "Origin") {
				t.Errorf("%s from %q: no Vary: Origin", method, tc.origin)
			}
		}
	}
}

// BenchmarkSecurityVerifyHash compares verifying a right hash with wrong
// ones that differ in the first or the last byte. The comparison is
// hmac.Equal (crypto/subtle): its time does not depend on where the first
// difference is, so the three should be equal within noise. Run with
// go test ./e2e -run '^$' -bench VerifyHash -count 5.
func BenchmarkSecurityVerifyHash(b *testing.B) {
	v, err := bridge.NewVerifier(config.Auth{Secret: testsvc.Secret})
	if err != nil {
		b.Fatal(err)
	}
	ts := v.Timestamp(time.Now())
	right := v.Hash("3", ts)
	flip := func(s string, i int) string {
		c := []byte(s)
		if c[i] == '0' {
			c[i] = '1'
		} else {
			c[i] = '0'
		}
		return string(c)
	}
	for _, bc := range []struct {
		name, hash string
		ok         bool
	}{
		{"right", right, true},
		{"wrong_first_byte", flip(right, 0), false},
		{"wrong_last_byte", flip(right, len(right)-1), false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				_, err := v.VerifyHash("3", ts, bc.hash)
				if (err == nil) != bc.ok {
					b.Fatalf("VerifyHash(%s) = %v", bc.name, err)
				}
			}
		})
	}
}

// BenchmarkSecurityVerifyToken is the same for JWTs: a right signature and
// one wrong in its last byte.
func BenchmarkSecurityVerifyToken(b *testing.B) {
	v, err := bridge.NewVerifier(config.Auth{Secret: testsvc.Secret})
	if err != nil {
		b.Fatal(err)
	}
	c := testsvc.NewClient("")
	right := c.Token("3", time.Hour, nil)
	wrong := []byte(right)
	if wrong[len(wrong)-2] == 'A' {
		wrong[len(wrong)-2] = 'B'
	} else {
		wrong[len(wrong)-2] = 'A'
	}
	for _, bc := range []struct {
		name, tok string
		ok        bool
	}{{"right", right, true}, {"wrong_signature", string(wrong), false}} {
		b.Run(bc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				_, err := v.VerifyToken(bc.tok)
				if (err == nil) != bc.ok {
					b.Fatalf("VerifyToken(%s) = %v", bc.name, err)
				}
			}
		})
	}
}

// A request with both Content-Length and Transfer-Encoding is answered and
// the connection closed (RFC 9112 section 6.1), so a request smuggled behind
// it is never answered.
func TestSecuritySmugglingCloses(t *testing.T) {
	t.Parallel()
	p, c := start(t, testsvc.Options{})
	v := c.Ident("3")
	conn, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := "POST /v1/hello?" + v.Encode() + " HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
		"GET /v1/hello?" + v.Encode() + " HTTP/1.1\r\nHost: x\r\n\r\n"
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	all, _ := io.ReadAll(conn)
	if n := strings.Count(string(all), "HTTP/1.1 "); n != 1 || !strings.Contains(strings.ToLower(string(all)), "connection: close") {
		t.Fatalf("answers on the smuggling connection = %d (want 1, closed):\n%s", n, all)
	}
}
