package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"pollchat/internal/testsvc"
)

// apiAuth is how a backend call authenticates.
type apiAuth int

const (
	authGood apiAuth = iota
	authNone
	authWrongPassword
	authWrongLogin
	authBearer
	authGarbage
)

func (a apiAuth) String() string {
	return [...]string{"good", "none", "wrong password", "wrong login", "bearer", "garbage"}[a]
}

// api calls the backend API of the server at base. A body starting with
// "{" or "[" is sent as JSON, any other non-empty body as a form.
func api(t *testing.T, base, method, path, body string, auth apiAuth) *testsvc.Response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		if body[0] == '{' || body[0] == '[' {
			req.Header.Set("Content-Type", "application/json")
		} else {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	switch auth {
	case authGood:
		req.SetBasicAuth(testsvc.APILogin, testsvc.APIPassword)
	case authWrongPassword:
		req.SetBasicAuth(testsvc.APILogin, testsvc.APIPassword+"x")
	case authWrongLogin:
		req.SetBasicAuth("admin", testsvc.APIPassword)
	case authBearer:
		req.Header.Set("Authorization", "Bearer "+testsvc.APIPassword)
	case authGarbage:
		req.Header.Set("Authorization", "Basic !!!"+base64.StdEncoding.EncodeToString([]byte("x")))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &testsvc.Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// mustAPI is api with good auth, failing unless the status is want.
func mustAPI(t *testing.T, base, method, path, body string, want int) map[string]any {
	t.Helper()
	r := api(t, base, method, path, body, authGood)
	if r.Status != want || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("%s %s %s = %d %s %s; want %d JSON", method, path, body, r.Status, r.Header.Get("Content-Type"), r.Body, want)
	}
	return r.Map(t)
}

type apiEndpoint struct {
	method, path, body string
	status             int // with good auth
}

var apiEndpoints = []apiEndpoint{
	{"POST", "/api/v1/messages", `{"to":"4","text":"auth check"}`, 201},
	{"POST", "/api/v1/tokens", `{"user_id":"3"}`, 201},
	{"GET", "/api/v1/unread?user_id=4", "", 200},
	{"GET", "/api/v1/online", "", 200},
	{"POST", "/api/v1/users/invalidate", `{"user_ids":["3"]}`, 200},
}

// Every endpoint: good auth works; missing or wrong auth is 401 with a
// Basic challenge and does nothing.
func TestAPIAuth(t *testing.T) {
	t.Parallel()
	p, c := start(t, testsvc.Options{})
	for _, ep := range apiEndpoints {
		for _, auth := range []apiAuth{authNone, authWrongPassword, authWrongLogin, authBearer, authGarbage, authGood} {
			t.Run(ep.path+"/"+auth.String(), func(t *testing.T) {
				r := api(t, p.URL, ep.method, ep.path, ep.body, auth)
				if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
					t.Errorf("Content-Type = %q; want JSON", r.Header.Get("Content-Type"))
				}
				if auth == authGood {
					if r.Status != ep.status || r.ErrorCode() != "" {
						t.Fatalf("%s %s = %d %s; want %d", ep.method, ep.path, r.Status, r.Body, ep.status)
					}
					return
				}
				if r.Status != 401 || r.ErrorCode() != "AUTH_FAILED" {
					t.Fatalf("%s %s with %s auth = %d %s; want 401 AUTH_FAILED", ep.method, ep.path, auth, r.Status, r.Body)
				}
				if ch := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, "Basic ") || !strings.Contains(ch, "realm=") {
					t.Fatalf("WWW-Authenticate = %q; want a Basic challenge", ch)
				}
			})
		}
	}
	// Only the one authenticated message was injected.
	h := c.MustCall(t, "4", "hello")
	n := 0
	for _, cv := range h["conversations"].([]any) {
		n += int(cv.(map[string]any)["unread"].(float64))
	}
	if n != 1 {
		t.Fatalf("user 4 has %d unread messages; want 1 (only the authenticated inject)", n)
	}
	// The API is server to server: a callback parameter does not make JSONP.
	r := api(t, p.URL, "GET", "/api/v1/online?callback=cb", "", authGood)
	if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") || strings.HasPrefix(string(r.Body), "/**/") {
		t.Fatalf("online with callback = %d %s %s", r.Status, r.Header.Get("Content-Type"), r.Body)
	}
	// Unknown API paths and methods are 404, not a route to something else
	// (GET /api/v1/messages is backend history now; tokens are POST only).
	for _, ep := range []apiEndpoint{{"GET", "/api/v1/tokens", "", 404}, {"POST", "/api/v1/nope", "{}", 404}, {"DELETE", "/api/v1/online", "", 404}} {
		if r := api(t, p.URL, ep.method, ep.path, ep.body, authGood); r.Status != ep.status {
			t.Errorf("%s %s = %d %s; want %d", ep.method, ep.path, r.Status, r.Body, ep.status)
		}
	}
}

// With api.password empty the API is off: 404 even with credentials.
func TestAPIOffWithoutPassword(t *testing.T) {
	t.Parallel()
	p, _ := start(t, testsvc.Options{NoAPI: true})
	for _, ep := range apiEndpoints {
		for _, auth := range []apiAuth{authGood, authNone} {
			r := api(t, p.URL, ep.method, ep.path, ep.body, auth)
			if r.Status != 404 || r.ErrorCode() != "NOT_FOUND" {
				t.Errorf("%s %s (%s auth) with the API off = %d %s; want 404 NOT_FOUND", ep.method, ep.path, auth, r.Status, r.Body)
			}
			if ch := r.Header.Get("WWW-Authenticate"); ch != "" {
				t.Errorf("%s %s with the API off sends WWW-Authenticate %q", ep.method, ep.path, ch)
			}
		}
	}
}

func TestAPIMessages(t *testing.T) {
	t.Parallel()
	p, c := start(t, testsvc.Options{PollTimeout: "20s", Grace: longGrace})
	rcv := c.NewPoller(t, "4")
	got := make(chan testsvc.PollResult, 1)
	go func() { got <- rcv.Poll(t, 20) }()
	waitParked(t, c, 1)
	m := mustAPI(t, p.URL, "POST", "/api/v1/messages", `{"from":"3","to":"4","text":"Your order <b>#42</b> shipped","data":{"order":42,"tags":["a"]}}`, 201)
	msg := m["message"].(map[string]any)
	if msg["from"] != "3" || msg["to"] != "4" || msg["text"] != "Your order <b>#42</b> shipped" || msg["system"] != nil {
		t.Fatalf("inject answer = %v", msg)
	}
	if d, _ := json.Marshal(msg["data"]); string(d) != `{"order":42,"tags":["a"]}` {
		t.Fatalf("inject data = %s", d)
	}
	select {
	case res := <-got:
		evs := res.Decoded(t)
		if len(evs) != 1 || evs[0].Type() != "message" {
			t.Fatalf("woken poll = %v; want the injected message", evs)
		}
		em := evs[0]["message"].(map[string]any)
		if em["id"] != msg["id"] || em["text"] != msg["text"] || em["from"] != "3" || fmt.Sprint(em["data"]) != fmt.Sprint(msg["data"]) {
			t.Fatalf("delivered %v; want %v", em, msg)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the parked poll was not woken by the injected message")
	}
	// Stored like any message, the sender sees it in their history too.
	h := c.MustCall(t, "3", "history", "with", "4")
	if ms := h["messages"].([]any); len(ms) != 1 || ms[0].(map[string]any)["id"] != msg["id"] || ms[0].(map[string]any)["data"] == nil {
		t.Fatalf("history after inject = %v", h)
	}

	// A system message into a room reaches its members as from null, system true.
	member := c.NewPoller(t, "5")
	roomCall(t, c, "5", "join", "lobby")
	m = mustAPI(t, p.URL, "POST", "/api/v1/messages", `{"room":"lobby","text":"Maintenance at noon"}`, 201)
	msg = m["message"].(map[string]any)
	if v, ok := msg["from"]; !ok || v != nil || msg["system"] != true || msg["room"] != "lobby" {
		t.Fatalf("system inject = %v; want from null, system true, room lobby", msg)
	}
	e, _ := until(t, member, isType("message"))
	if em := e["message"].(map[string]any); em["id"] != msg["id"] || em["system"] != true || em["from"] != nil {
		t.Fatalf("room member got %v; want the system message", em)
	}
	h = c.MustCall(t, "5", "history", "room", "lobby")
	if ms := h["messages"].([]any); len(ms) != 1 || ms[0].(map[string]any)["system"] != true {
		t.Fatalf("room history = %v", h)
	}
	// A system message to one user, numeric ids, and a PHP form body.
	m = mustAPI(t, p.URL, "POST", "/api/v1/messages", `{"to":4,"text":"Welcome!"}`, 201)
	if msg := m["message"].(map[string]any); msg["to"] != "4" || msg["system"] != true {
		t.Fatalf("system inject to a user = %v", msg)
	}
	m = mustAPI(t, p.URL, "POST", "/api/v1/messages", url.Values{"from": {"5"}, "to": {"4"}, "text": {"sent as a form"}, "data": {`{"k":"v"}`}}.Encode(), 201)
	if msg := m["message"].(map[string]any); msg["from"] != "5" || msg["text"] != "sent as a form" || fmt.Sprint(msg["data"]) != "map[k:v]" {
		t.Fatalf("form inject = %v", msg)
	}
	// A user message into a room.
	m = mustAPI(t, p.URL, "POST", "/api/v1/messages", `{"from":"1","room":"lobby","text":"posted by the site for Ada"}`, 201)
	if e, _ := until(t, member, func(e testsvc.Event) bool {
		return e.Type() == "message" && e["message"].(map[string]any)["room"] == "lobby"
	}); e["message"].(map[string]any)["id"] != m["message"].(map[string]any)["id"] {
		t.Fatalf("room member got %v; want Ada's injected message", e)
	}

	// A retry with the same from and client_id answers the first message.
	first := mustAPI(t, p.URL, "POST", "/api/v1/messages", `{"from":"2","to":"5","text":"order 7 paid","client_id":"order-7-paid"}`, 201)["message"].(map[string]any)
	again := mustAPI(t, p.URL, "POST", "/api/v1/messages", `{"from":"2","to":"5","text":"order 7 paid","client_id":"order-7-paid"}`, 201)["message"].(map[string]any)
	if first["id"] != again["id"] || first["client_id"] != "order-7-paid" {
		t.Fatalf("retried inject = %v then %v; want the same message", first, again)
	}
	if h := c.MustCall(t, "5", "history", "with", "2"); len(h["messages"].([]any)) != 1 {
		t.Fatalf("history after a retried inject = %v; want one message", h)
	}

	long := strings.Repeat("x", 10001)
	bigData := `{"blob":"` + strings.Repeat("y", 9000) + `"}`
	for _, tc := range []struct {
		name, body string
		status     int
		code       string
	}{
		{"empty object", `{}`, 400, "BAD_REQUEST"},
		{"to and room", `{"to":"4","room":"lobby","text":"x"}`, 400, "BAD_REQUEST"},
		{"no text", `{"to":"4"}`, 400, "BAD_REQUEST"},
		{"blank text", `{"to":"4","text":"  \n "}`, 400, "BAD_REQUEST"},
		{"text not a string", `{"to":"4","text":5}`, 400, "BAD_REQUEST"},
		{"unknown to", `{"to":"999","text":"x"}`, 404, "NOT_FOUND"},
		{"unknown room", `{"room":"nope","text":"x"}`, 404, "NOT_FOUND"},
		{"unknown from", `{"from":"999","to":"4","text":"x"}`, 404, "NOT_FOUND"},
		{"from is to", `{"from":"4","to":"4","text":"x"}`, 400, "BAD_REQUEST"},
		{"id not a scalar", `{"to":{"id":4},"text":"x"}`, 400, "BAD_REQUEST"},
		{"not JSON", `{"to":`, 400, "BAD_REQUEST"},
		{"array", `[{"to":"4","text":"x"}]`, 400, "BAD_REQUEST"},
		{"text too long", `{"to":"4","text":"` + long + `"}`, 413, "TOO_LONG"},
		{"data too large", `{"to":"4","text":"x","data":` + bigData + `}`, 413, "TOO_LONG"},
		{"form data not JSON", "to=4&text=x&data=%7Bnope", 400, "BAD_REQUEST"},
		{"form data as fields", "to=4&text=x&data%5Border%5D=1", 400, "BAD_REQUEST"},
		{"form field twice", "to=4&to=5&text=x", 400, "BAD_REQUEST"},
		{"client_id too long", `{"to":"4","text":"x","client_id":"` + strings.Repeat("c", 129) + `"}`, 400, "BAD_REQUEST"},
		{"client_id control", `{"to":"4","text":"x","client_id":"a\u0001"}`, 400, "BAD_REQUEST"},
	} {
		r := api(t, p.URL, "POST", "/api/v1/messages", tc.body, authGood)
		if r.Status != tc.status || r.ErrorCode() != tc.code {
			t.Errorf("inject %s = %d %.200s; want %d %s", tc.name, r.Status, r.Body, tc.status, tc.code)
		}
	}
	if r := api(t, p.URL, "POST", "/api/v1/messages", "", authGood); r.Status != 400 {
		t.Errorf("inject without a body = %d %s; want 400", r.Status, r.Body)
	}
	// The refused ones stored nothing: 4 has the two direct injects from users.
	h = c.MustCall(t, "4", "history", "with", "3")
	if n := len(h["messages"].([]any)); n != 1 {
		t.Fatalf("history 4-3 has %d messages; want 1", n)
	}
}

// tokenClaims checks tok's signature with the shared secret and returns its
// claims.
func tokenClaims(t *testing.T, tok string) jwt.MapClaims {
	t.Helper()
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return []byte(testsvc.Secret), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired())
	if err != nil {
		t.Fatalf("issued token %q does not verify: %v", tok, err)
	}
	return claims
}

func TestAPITokens(t *testing.T) {
	t.Parallel()
	p, c := start(t, testsvc.Options{})
	for _, tc := range []struct {
		name, body string
		ttl        time.Duration
	}{
		{"default", `{"user_id":"3"}`, 360 * time.Second},
		{"null expires_in", `{"user_id":"3","expires_in":null}`, 360 * time.Second},
		{"minimum", `{"user_id":"3","expires_in":360}`, 360 * time.Second},
		{"maximum", `{"user_id":"3","expires_in":86400}`, 86400 * time.Second},
		{"numeric user id", `{"user_id":3,"expires_in":600}`, 600 * time.Second},
		{"string seconds", `{"user_id":"3","expires_in":"3600"}`, time.Hour},
		{"form", "user_id=3&expires_in=7200", 2 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := time.Now().Truncate(time.Second)
			m := mustAPI(t, p.URL, "POST", "/api/v1/tokens", tc.body, 201)
			after := time.Now()
			if m["user_id"] != "3" {
				t.Fatalf("user_id = %v; want \"3\"", m["user_id"])
			}
			exp, err := time.Parse(time.RFC3339, m["expires_at"].(string))
			if err != nil {
				t.Fatalf("expires_at %v: %v", m["expires_at"], err)
			}
			if exp.Before(before.Add(tc.ttl-time.Second)) || exp.After(after.Add(tc.ttl)) {
				t.Fatalf("expires_at = %v; want %v after the call (%v..%v)", exp, tc.ttl, before, after)
			}
			tok := m["access_token"].(string)
			claims := tokenClaims(t, tok)
			if claims["user_id"] != "3" {
				t.Fatalf("token user_id = %v", claims["user_id"])
			}
			if ce, _ := claims.GetExpirationTime(); ce == nil || !ce.Time.Equal(exp) {
				t.Fatalf("token exp = %v; want expires_at %v", ce, exp)
			}
			// The token is an identity for the browser endpoints.
			r := c.Do(t, "GET", "/v1/hello", url.Values{"token": {tok}})
			var h struct {
				Me struct{ UserID, Name string } `json:"me"`
			}
			r.JSON(t, &h)
			if r.Status != 200 || h.Me.Name != "Linus" {
				t.Fatalf("hello with the issued token = %d %s", r.Status, r.Body)
			}
		})
	}

	// The same token once its exp has passed (beyond the 60s leeway):
	// TOKEN_EXPIRED. Crafted with the same claims and key, exp in the past.
	m := mustAPI(t, p.URL, "POST", "/api/v1/tokens", `{"user_id":"3"}`, 201)
	claims := tokenClaims(t, m["access_token"].(string))
	expired := c.Token("3", -2*time.Minute, map[string]any{"iat": claims["iat"]})
	if r := c.Do(t, "GET", "/v1/hello", url.Values{"token": {expired}}); r.Status != 401 || r.ErrorCode() != "TOKEN_EXPIRED" {
		t.Fatalf("hello with an expired token = %d %s; want 401 TOKEN_EXPIRED", r.Status, r.Body)
	}
	if r := c.Do(t, "GET", "/v1/poll", url.Values{"token": {expired}}); r.ErrorCode() != "TOKEN_EXPIRED" {
		t.Fatalf("poll with an expired token = %s; want TOKEN_EXPIRED", r.Body)
	}
	// A token re-signed with another key is refused.
	forged := (&testsvc.Client{Secret: "not-the-secret-at-all"}).Token("3", time.Hour, nil)
	if r := c.Do(t, "GET", "/v1/hello", url.Values{"token": {forged}}); r.ErrorCode() != "AUTH_FAILED" {
		t.Fatalf("hello with a forged token = %s; want AUTH_FAILED", r.Body)
	}

	for _, tc := range []struct {
		name, body string
		status     int
		code       string
	}{
		{"below the minimum", `{"user_id":"3","expires_in":359}`, 422, "INVALID_TOKEN_EXPIRATIONS"},
		{"above the maximum", `{"user_id":"3","expires_in":86401}`, 422, "INVALID_TOKEN_EXPIRATIONS"},
		{"zero", `{"user_id":"3","expires_in":0}`, 422, "INVALID_TOKEN_EXPIRATIONS"},
		{"negative", `{"user_id":"3","expires_in":-600}`, 422, "INVALID_TOKEN_EXPIRATIONS"},
		{"fraction", `{"user_id":"3","expires_in":600.5}`, 422, "INVALID_TOKEN_EXPIRATIONS"},
		{"words", `{"user_id":"3","expires_in":"an hour"}`, 422, "INVALID_TOKEN_EXPIRATIONS"},
		{"bool", `{"user_id":"3","expires_in":true}`, 422, "INVALID_TOKEN_EXPIRATIONS"},
		{"form below", "user_id=3&expires_in=10", 422, "INVALID_TOKEN_EXPIRATIONS"},
		{"no user", `{"expires_in":600}`, 400, "BAD_REQUEST"},
		{"empty user", `{"user_id":""}`, 400, "BAD_REQUEST"},
		{"user with a comma", `{"user_id":"3,4"}`, 400, "BAD_REQUEST"},
		{"user as object", `{"user_id":{"id":3}}`, 400, "BAD_REQUEST"},
		{"not JSON", `{"user_id":`, 400, "BAD_REQUEST"},
	} {
		r := api(t, p.URL, "POST", "/api/v1/tokens", tc.body, authGood)
		if r.Status != tc.status || r.ErrorCode() != tc.code {
			t.Errorf("tokens %s = %d %s; want %d %s", tc.name, r.Status, r.Body, tc.status, tc.code)
		}
	}
}

func TestAPIUnread(t *testing.T) {
	t.Parallel()
	p, c := start(t, testsvc.Options{Grace: longGrace})
	unread := func(uid string) (int, map[string]int, []map[string]any) {
		t.Helper()
		var res struct {
			Total         int              `json:"total"`
			Conversations []map[string]any `json:"conversations"`
		}
		r := api(t, p.URL, "GET", "/api/v1/unread?user_id="+url.QueryEscape(uid), "", authGood)
		if r.Status != 200 {
			t.Fatalf("unread(%s) = %d %s", uid, r.Status, r.Body)
		}
		r.JSON(t, &res)
		if res.Conversations == nil {
			t.Fatalf("unread(%s).conversations = null; want a list", uid)
		}
		by := map[string]int{}
		sum := 0
		for _, cv := range res.Conversations {
			if _, ok := cv["last_message"]; ok {
				t.Errorf("unread line has last_message: %v", cv)
			}
			key := ""
			switch {
			case cv["with"] != nil:
				key = "with:" + cv["with"].(string)
			case cv["room"] != nil:
				key = "room:" + cv["room"].(string)
			case cv["system"] == true:
				key = "system"
			default:
				t.Errorf("unread line names no conversation: %v", cv)
			}
			n := int(cv["unread"].(float64))
			by[key] = n
			sum += n
		}
		if sum != res.Total {
			t.Errorf("unread(%s).total = %d; the lines add up to %d", uid, res.Total, sum)
		}
		return res.Total, by, res.Conversations
	}
	if total, by, _ := unread("4"); total != 0 || len(by) != 0 {
		t.Fatalf("unread before anything = %d %v", total, by)
	}
	c.MustCall(t, "3", "send", "to", "4", "text", "one")
	last := c.MustCall(t, "3", "send", "to", "4", "text", "two")["message"].(map[string]any)["id"]
	c.MustCall(t, "5", "send", "to", "4", "text", "from Ken")
	mustAPI(t, p.URL, "POST", "/api/v1/messages", `{"to":"4","text":"system notice"}`, 201)
	total, by, _ := unread("4")
	if total != 4 || by["with:3"] != 2 || by["with:5"] != 1 || by["system"] != 1 {
		t.Fatalf("unread(4) = %d %v; want 4: 2 with 3, 1 with 5, 1 system", total, by)
	}
	// The sender has nothing unread; reading clears the line.
	if total, _, _ := unread("3"); total != 0 {
		t.Fatalf("unread(3) = %d; want 0", total)
	}
	c.MustCall(t, "4", "read", "with", "3", "upto", fmt.Sprint(last))
	if total, by, _ := unread("4"); total != 2 || by["with:3"] != 0 {
		t.Fatalf("unread(4) after reading 3's = %d %v", total, by)
	}
	// Room messages count once the user reads the room.
	roomCall(t, c, "4", "join", "lobby")
	first := c.MustCall(t, "3", "send", "room", "lobby", "text", "room 1")["message"].(map[string]any)["id"]
	c.MustCall(t, "4", "read", "room", "lobby", "upto", fmt.Sprint(first))
	c.MustCall(t, "3", "send", "room", "lobby", "text", "room 2")
	c.MustCall(t, "3", "send", "room", "lobby", "text", "room 3")
	if total, by, _ := unread("4"); total != 4 || by["room:lobby"] != 2 {
		t.Fatalf("unread(4) with the room = %d %v; want 4 with 2 in lobby", total, by)
	}
	if total, _, _ := unread("nobody-here"); total != 0 {
		t.Fatalf("unread of an unknown user = %d", total)
	}
	for _, q := range []string{"", "?user_id=", "?user_id=a,b"} {
		if r := api(t, p.URL, "GET", "/api/v1/unread"+q, "", authGood); r.Status != 400 || r.ErrorCode() != "BAD_REQUEST" {
			t.Errorf("unread%s = %d %s; want 400", q, r.Status, r.Body)
		}
	}
}

func TestAPIOnline(t *testing.T) {
	t.Parallel()
	p, c := start(t, testsvc.Options{}) // presence grace 2s
	online := func() []string {
		t.Helper()
		var res struct {
			Users []string `json:"users"`
		}
		r := api(t, p.URL, "GET", "/api/v1/online", "", authGood)
		if r.Status != 200 || !strings.Contains(string(r.Body), `"users":[`) {
			t.Fatalf("online = %d %s; want a users list", r.Status, r.Body)
		}
		r.JSON(t, &res)
		return res.Users
	}
	if got := online(); len(got) != 0 {
		t.Fatalf("online with nobody polling = %v", got)
	}
	p3 := c.NewPoller(t, "3")
	p4 := c.NewPoller(t, "4")
	p3.Poll(t, 0)
	p4.Poll(t, 0)
	c.MustCall(t, "5", "users", "ids", "1") // a request that is not a poll
	if got := fmt.Sprint(online()); got != "[3 4]" {
		t.Fatalf("online = %s; want [3 4]", got)
	}
	// 4 stops polling; after the grace only 3 (still polling) is online.
	for i := 0; i < 20; i++ {
		p3.Poll(t, 1)
		if got := fmt.Sprint(online()); got == "[3]" {
			return
		}
	}
	t.Fatalf("online = %v; want [3] once 4's grace passed", online())
}

// usersInfoPHP is a host site's users-info endpoint that reads users.json
// beside it, so a test can change a user on the "site".
const usersInfoPHP = `<?php
if (($_SERVER['PHP_AUTH_USER'] ?? '') !== 'site' || ($_SERVER['PHP_AUTH_PW'] ?? '') !== 'site-pass') {
    header('WWW-Authenticate: Basic realm="users"');
    http_response_code(401);
    exit;
}
$all = json_decode(file_get_contents(__DIR__ . '/users.json'), true);
$out = array();
foreach (explode(',', (string) ($_GET['user_ids'] ?? '')) as $id) {
    if (isset($all[$id])) {
        $out[] = $all[$id];
    }
}
header('Content-Type: application/json');
echo json_encode($out);
`

// POST /api/v1/users/invalidate drops cached users: the next lookup asks
// the host site again, so a new name and a new role apply at once.
func TestAPIInvalidate(t *testing.T) {
	t.Parallel()
	docroot := t.TempDir()
	writeUsers := func(linusName, linusRole string) {
		t.Helper()
		users := map[string]map[string]string{
			"2": {"user_id": "2", "name": "Grace", "role": "mod"},
			"3": {"user_id": "3", "name": linusName, "role": linusRole},
			"4": {"user_id": "4", "name": "Margaret", "role": "member"},
		}
		b, _ := json.Marshal(users)
		if err := os.WriteFile(filepath.Join(docroot, "users.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeUsers("Linus", "member")
	if err := os.WriteFile(filepath.Join(docroot, "users-info.php"), []byte(usersInfoPHP), 0o644); err != nil {
		t.Fatal(err)
	}
	site := testsvc.StartPHP(t, docroot)
	p, c := start(t, testsvc.Options{Grace: longGrace, Users: fmt.Sprintf(
		"[users]\nsource = \"http\"\ncache_ttl = \"1h\"\n[users.http]\nurl = %q\nlogin = \"site\"\npassword = \"site-pass\"\n", site.URL+"/users-info.php")})
	name := func(uid string) string {
		t.Helper()
		return c.MustCall(t, uid, "hello")["me"].(map[string]any)["name"].(string)
	}
	if got := name("3"); got != "Linus" {
		t.Fatalf("name = %q; want Linus from the site", got)
	}
	roomCall(t, c, "3", "join", "lobby")
	roomCall(t, c, "4", "join", "lobby")
	if r := c.Call(t, "3", "send", "room", "lobby", "text", "/mute Margaret 5"); r.ErrorCode() != "FORBIDDEN" {
		t.Fatalf("member /mute = %s; want FORBIDDEN", r.Body)
	}
	// The site renames Linus and makes him a moderator: cached, not seen yet.
	writeUsers("Linus T.", "mod")
	if got := name("3"); got != "Linus" {
		t.Fatalf("name before invalidate = %q; want the cached Linus (cache_ttl 1h)", got)
	}
	if m := mustAPI(t, p.URL, "POST", "/api/v1/users/invalidate", `{"user_ids":[3,"4"]}`, 200); m["ok"] != true {
		t.Fatalf("invalidate = %v", m)
	}
	if got := name("3"); got != "Linus T." {
		t.Fatalf("name after invalidate = %q; want Linus T.", got)
	}
	// The new role counts at once: roles come only from the site.
	if r := c.MustCall(t, "3", "send", "room", "lobby", "text", "/mute Margaret 5"); r["ok"] != true {
		t.Fatalf("/mute as the new mod = %v", r)
	}
	if r := c.Call(t, "4", "send", "room", "lobby", "text", "hello?"); r.ErrorCode() != "MUTED" {
		t.Fatalf("send by the muted user = %s; want MUTED", r.Body)
	}
	// The forms PHP sends: http_build_query(['user_ids' => [3]]) writes
	// user_ids[0]=3; others write user_ids[]=3 or a comma list.
	for i, form := range []string{"user_ids%5B0%5D=3&user_ids%5B1%5D=4", url.Values{"user_ids[]": {"3", "4"}}.Encode(), "user_ids=4,3"} {
		newName := fmt.Sprintf("Linus %d", i)
		writeUsers(newName, "mod")
		mustAPI(t, p.URL, "POST", "/api/v1/users/invalidate", form, 200)
		if got := name("3"); got != newName {
			t.Fatalf("name after invalidate with the form %s = %q; want %q", form, got, newName)
		}
	}
	for _, tc := range []struct{ name, body string }{
		{"not a list", `{"user_ids":"3"}`},
		{"object in the list", `{"user_ids":[{"id":3}]}`},
		{"empty id", `{"user_ids":[""]}`},
		{"too many", `{"user_ids":[` + strings.TrimSuffix(strings.Repeat(`"1",`, 1001), ",") + `]}`},
		{"not JSON", `{"user_ids":[`},
	} {
		if r := api(t, p.URL, "POST", "/api/v1/users/invalidate", tc.body, authGood); r.Status != 400 || r.ErrorCode() != "BAD_REQUEST" {
			t.Errorf("invalidate %s = %d %s; want 400 BAD_REQUEST", tc.name, r.Status, r.Body)
		}
	}
}

// phpBlocks returns the ```php code blocks of a markdown file.
func phpBlocks(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// In README.md, only the backend API section.
	text := string(b)
	if i := strings.Index(text, "\n## Backend API"); i >= 0 {
		text = text[i+1:]
		if j := strings.Index(text[3:], "\n## "); j >= 0 {
			text = text[:j+3]
		}
	}
	var out []string
	parts := strings.Split(text, "```php\n")
	for _, p := range parts[1:] {
		end := strings.Index(p, "```")
		if end < 0 {
			t.Fatalf("%s: unterminated php block", path)
		}
		out = append(out, p[:end])
	}
	return out
}

// The PHP examples of the README's backend API section run as written (only the URL and
// credentials changed) with php-cli and its curl extension against a real
// server, and do what the text says.
func TestAPIDocsPHPExamples(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("php"); err != nil {
		t.Fatalf("php is missing: install php-cli and php-curl (scripts/deps.sh): %v", err)
	}
	if out, err := exec.Command("php", "-m").Output(); err != nil || !strings.Contains("\n"+string(out), "\ncurl\n") {
		t.Fatalf("PHP's curl extension is missing: install php-curl (scripts/deps.sh): %v", err)
	}
	p, c := start(t, testsvc.Options{Grace: longGrace})
	blocks := phpBlocks(t, filepath.Join(testsvc.RepoRoot(), "README.md"))
	dir := t.TempDir()
	// run runs a file with php; only the errors example may write to
	// stderr (error_log), which it returns.
	run := func(name, code string) (string, string) {
		t.Helper()
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, []byte(code), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("php", "-d", "display_errors=stderr", "-d", "error_reporting=-1", "-d", "session.save_path="+dir, f)
		cmd.Dir = dir
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || (stderr.Len() > 0 && name != "errors.php") {
			t.Fatalf("php %s: %v\nstdout: %s\nstderr: %s\ncode:\n%s", name, err, out, stderr.String(), code)
		}
		return string(out), stderr.String()
	}
	// The helper: the one block that defines pollchat_api.
	helper := ""
	var snippets []string
	for _, b := range blocks {
		if strings.Contains(b, "function pollchat_api(") {
			helper = b
		} else {
			snippets = append(snippets, b)
		}
	}
	if helper == "" || len(snippets) < 6 {
		t.Fatalf("README.md's backend API section has %d php blocks and no helper: %q", len(blocks), blocks)
	}
	for old, repl := range map[string]string{
		"'http://127.0.0.1:8080'":  "'" + p.URL + "'",
		"'site-backend'":           "'" + testsvc.APILogin + "'",
		"'a-long-random-password'": "'" + testsvc.APIPassword + "'",
	} {
		if !strings.Contains(helper, old) {
			t.Fatalf("the helper no longer holds %s", old)
		}
		helper = strings.Replace(helper, old, repl, 1)
	}
	run("pollchat.php", helper)

	p3 := c.NewPoller(t, "3")
	p3.Poll(t, 0) // the author is online
	roomCall(t, c, "4", "join", "lobby")
	seen := map[string]bool{}
	for i, code := range snippets {
		var name string
		switch {
		case strings.Contains(code, "/api/v1/messages"):
			name = "messages"
		case strings.Contains(code, "session_start()"):
			name = "token-endpoint"
			// A logged-in visitor: user 3's session.
			if err := os.WriteFile(filepath.Join(dir, "sess_docs"), []byte(`user_id|s:1:"3";`), 0o600); err != nil {
				t.Fatal(err)
			}
			code = "<?php session_id('docs'); ?>" + code
		case strings.Contains(code, "expires_in' => 60)"):
			name = "errors"
		case strings.Contains(code, "/api/v1/tokens"):
			name = "tokens"
		case strings.Contains(code, "/api/v1/unread"):
			name = "unread"
		case strings.Contains(code, "/api/v1/online"):
			name = "online"
		case strings.Contains(code, "/api/v1/users/invalidate"):
			name = "invalidate"
		case strings.Contains(code, "/api/v1/rooms"):
			name = "rooms"
		default:
			t.Fatalf("php block %d is not known to this test:\n%s", i, code)
		}
		seen[name] = true
		if !strings.HasPrefix(strings.TrimSpace(code), "<?php") {
			code = "<?php\n" + code
		}
		out, logged := run(name+".php", code)
		switch name {
		case "messages":
			h := c.MustCall(t, "4", "history", "with", "3")
			ms := h["messages"].([]any)
			if len(ms) != 1 || ms[0].(map[string]any)["text"] != "Your order #1042 has shipped." || fmt.Sprint(ms[0].(map[string]any)["data"]) != "map[order_id:1042]" {
				t.Fatalf("after the messages example, history = %v", h)
			}
			if want := fmt.Sprintf("message %v\n", ms[0].(map[string]any)["id"]); out != want {
				t.Fatalf("messages example printed %q; want %q", out, want)
			}
			r := c.MustCall(t, "4", "history", "room", "lobby")
			if rm := r["messages"].([]any); len(rm) != 1 || rm[0].(map[string]any)["system"] != true {
				t.Fatalf("lobby history after the example = %v", r)
			}
		case "tokens", "token-endpoint":
			var tok string
			if name == "tokens" {
				i := strings.Index(out, `"token":"`)
				if i < 0 || !strings.Contains(out, "/widget.js\"></script>") {
					t.Fatalf("tokens example printed %q", out)
				}
				tok = strings.SplitN(out[i+len(`"token":"`):], `"`, 2)[0]
			} else {
				var answer struct{ AccessToken, ExpiresAt string }
				if err := json.Unmarshal([]byte(out), &struct {
					A *string `json:"access_token"`
					E *string `json:"expires_at"`
				}{&answer.AccessToken, &answer.ExpiresAt}); err != nil || answer.ExpiresAt == "" {
					t.Fatalf("token endpoint printed %q: %v", out, err)
				}
				tok = answer.AccessToken
			}
			claims := tokenClaims(t, tok)
			exp, _ := claims.GetExpirationTime()
			if claims["user_id"] != "3" || exp == nil || time.Until(exp.Time) < 50*time.Minute || time.Until(exp.Time) > 61*time.Minute {
				t.Fatalf("%s example token claims = %v; want user 3 for an hour", name, claims)
			}
			r := c.Do(t, "GET", "/v1/hello", url.Values{"token": {tok}})
			if r.Status != 200 || !strings.Contains(string(r.Body), `"name":"Linus"`) {
				t.Fatalf("hello with the %s example's token = %d %s", name, r.Status, r.Body)
			}
		case "unread":
			if out != "Messages (1)\n" {
				t.Fatalf("unread example printed %q; want Messages (1)", out)
			}
		case "online":
			if out != "The author is online\n" {
				t.Fatalf("online example printed %q", out)
			}
		case "rooms":
			if out != "3 rooms; team-a is private\n" {
				t.Fatalf("rooms example printed %q", out)
			}
			if r := api(t, p.URL, "GET", "/api/v1/rooms", "", authGood); strings.Contains(string(r.Body), "team-a") {
				t.Fatalf("rooms example left team-a: %s", r.Body)
			}
		case "invalidate":
			if out != "invalidated\n" {
				t.Fatalf("invalidate example printed %q", out)
			}
		case "errors":
			if out != "422\n" || !strings.Contains(logged, "pollchat: INVALID_TOKEN_EXPIRATIONS: expires_in must be") {
				t.Fatalf("errors example printed %q and logged %q; want 422 and the error", out, logged)
			}
		}
	}
	for _, name := range []string{"messages", "tokens", "token-endpoint", "unread", "online", "invalidate", "rooms", "errors"} {
		if !seen[name] {
			t.Errorf("README.md's backend API section has no %s example", name)
		}
	}
}
