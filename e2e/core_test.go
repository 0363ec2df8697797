// Package e2e runs the built pollchat binary on 127.0.0.1 and talks HTTP to
// it as browsers and host sites do, checking docs/protocol.md.
package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"pollchat/internal/testsvc"
)

func start(t *testing.T, o testsvc.Options) (*testsvc.Pollchat, *testsvc.Client) {
	t.Helper()
	p := testsvc.StartPollchat(t, o)
	return p, testsvc.NewClient(p.URL)
}

func TestIdentity(t *testing.T) {
	t.Parallel()
	_, c := start(t, testsvc.Options{})
	now := time.Now()
	ts := testsvc.Timestamp(now)
	old := testsvc.Timestamp(now.Add(-25 * time.Hour))
	future := testsvc.Timestamp(now.Add(25 * time.Hour))
	sign := func(parts ...string) string { return testsvc.SHA1Hex(append(parts, testsvc.Secret)...) }
	hs := func(method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(method, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	secret := []byte(testsvc.Secret)
	exp := now.Add(time.Hour).Unix()
	noneTok := hs(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{"user_id": "3", "exp": exp})
	cases := []struct {
		name   string
		params url.Values
		code   string // "" = accepted
		status int
	}{
		{"hash ok", url.Values{"id": {"3"}, "timestamp": {ts}, "hash": {sign("3", ts)}}, "", 200},
		{"hash uppercase ok", url.Values{"id": {"3"}, "timestamp": {ts}, "hash": {strings.ToUpper(sign("3", ts))}}, "", 200},
		{"no identity", url.Values{}, "AUTH_FAILED", 401},
		{"wrong hash", url.Values{"id": {"3"}, "timestamp": {ts}, "hash": {sign("4", ts)}}, "AUTH_FAILED", 401},
		{"hash of another user", url.Values{"id": {"4"}, "timestamp": {ts}, "hash": {sign("3", ts)}}, "AUTH_FAILED", 401},
		{"truncated hash", url.Values{"id": {"3"}, "timestamp": {ts}, "hash": {sign("3", ts)[:39]}}, "AUTH_FAILED", 401},
		{"wrong secret", url.Values{"id": {"3"}, "timestamp": {ts}, "hash": {testsvc.SHA1Hex("3", ts, "other")}}, "AUTH_FAILED", 401},
		{"stale timestamp", url.Values{"id": {"3"}, "timestamp": {old}, "hash": {sign("3", old)}}, "TOKEN_EXPIRED", 401},
		{"far future timestamp", url.Values{"id": {"3"}, "timestamp": {future}, "hash": {sign("3", future)}}, "TOKEN_EXPIRED", 401},
		{"jwt ok", url.Values{"token": {c.Token("3", time.Hour, nil)}}, "", 200},
		{"jwt numeric id", url.Values{"token": {c.Token(3, time.Hour, nil)}}, "", 200},
		{"jwt expired", url.Values{"token": {c.Token("3", -2*time.Hour, nil)}}, "TOKEN_EXPIRED", 401},
		{"jwt within leeway", url.Values{"token": {c.Token("3", -30*time.Second, nil)}}, "", 200},
		{"jwt alg none", url.Values{"token": {noneTok}}, "AUTH_FAILED", 401},
		{"jwt HS512", url.Values{"token": {hs(jwt.SigningMethodHS512, secret, jwt.MapClaims{"user_id": "3", "exp": exp})}}, "AUTH_FAILED", 401},
		{"jwt no exp", url.Values{"token": {hs(jwt.SigningMethodHS256, secret, jwt.MapClaims{"user_id": "3"})}}, "AUTH_FAILED", 401},
		{"jwt wrong key", url.Values{"token": {hs(jwt.SigningMethodHS256, []byte("nope-nope-nope"), jwt.MapClaims{"user_id": "3", "exp": exp})}}, "AUTH_FAILED", 401},
		{"jwt garbage", url.Values{"token": {"a.b.c"}}, "AUTH_FAILED", 401},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.Do(t, "GET", "/v1/hello", tc.params)
			if r.Status != tc.status || r.ErrorCode() != tc.code {
				t.Fatalf("hello(%s) = %d %s; want %d %q", tc.name, r.Status, r.Body, tc.status, tc.code)
			}
			if tc.code == "" {
				var h struct {
					Me struct {
						UserID string `json:"user_id"`
						Name   string `json:"name"`
					} `json:"me"`
				}
				r.JSON(t, &h)
				if h.Me.UserID != "3" || h.Me.Name != "Linus" {
					t.Fatalf("hello(%s).me = %+v; want user 3 Linus", tc.name, h.Me)
				}
			}
		})
	}
}

func TestJSONP(t *testing.T) {
	t.Parallel()
	p, c := start(t, testsvc.Options{})
	good := c.Ident("3")
	good.Set("callback", "jQuery1124_99.cb$")
	r := c.Do(t, "GET", "/v1/hello", good)
	if r.Status != 200 || !strings.HasPrefix(string(r.Body), "/**/jQuery1124_99.cb$(") || !strings.HasSuffix(string(r.Body), ");") {
		t.Fatalf("JSONP hello = %d %.80s; want /**/jQuery1124_99.cb$(…);", r.Status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/javascript; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	if r.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("no nosniff on JSONP")
	}
	// Errors under JSONP: status 200, error object inside the callback.
	bad := url.Values{"callback": {"cb"}, "id": {"3"}, "timestamp": {"x"}, "hash": {"y"}}
	r = c.Do(t, "GET", "/v1/hello", bad)
	if r.Status != 200 || !strings.HasPrefix(string(r.Body), `/**/cb({"error":{"code":"AUTH_FAILED"`) {
		t.Fatalf("JSONP error = %d %s", r.Status, r.Body)
	}
	if r.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/javascript") {
		t.Errorf("JSONP error headers = %v", r.Header)
	}
	for _, cb := range []string{"alert(1)//", "<script>", strings.Repeat("a", 129), "a..b", "1abc", "a.", "é", "a-b", "a b", ""} {
		v := c.Ident("3")
		v.Set("callback", cb)
		r := c.Do(t, "GET", "/v1/hello", v)
		if cb == "" {
			// An empty callback is no valid name either.
			if r.Status != 400 {
				t.Errorf("callback %q = %d; want 400", cb, r.Status)
			}
			continue
		}
		if r.Status != 400 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
			t.Errorf("callback %q = %d %s; want 400 text/plain", cb, r.Status, r.Header.Get("Content-Type"))
		}
		if strings.Contains(string(r.Body), cb) {
			t.Errorf("callback %q is echoed: %s", cb, r.Body)
		}
	}
	// 128 characters is fine.
	v := c.Ident("3")
	v.Set("callback", strings.Repeat("a", 128))
	if r := c.Do(t, "GET", "/v1/hello", v); r.Status != 200 {
		t.Errorf("128-char callback = %d", r.Status)
	}
	// JSON without callback: real statuses, application/json, nosniff.
	r = c.Do(t, "GET", "/v1/hello", url.Values{"id": {"3"}})
	if r.Status != 401 || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") || r.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("JSON error = %d %v", r.Status, r.Header)
	}
	// POST, form-encoded and JSON, with the same params.
	form := c.Ident("3")
	form.Set("to", "4")
	form.Set("text", "by form")
	if r := c.Do(t, "POST", "/v1/send", form); r.Status != 200 || !strings.Contains(string(r.Body), `"text":"by form"`) {
		t.Fatalf("POST form send = %d %s", r.Status, r.Body)
	}
	body := map[string]any{"to": "4", "text": "by json"}
	for k, v := range c.Ident("3") {
		body[k] = v[0]
	}
	b, _ := json.Marshal(body)
	resp, err := http.Post(p.URL+"/v1/send", "application/json", strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST JSON send = %d", resp.StatusCode)
	}
	// CORS for allowed origins (the test config allows "*").
	req, _ := http.NewRequest("GET", p.URL+"/v1/hello?"+c.Ident("3").Encode(), nil)
	req.Header.Set("Origin", "http://site.example")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "http://site.example" {
		t.Errorf("Access-Control-Allow-Origin = %q", got)
	}
}

func TestCORSRestricted(t *testing.T) {
	t.Parallel()
	p, c := start(t, testsvc.Options{Server: `allowed_origins = ["https://good.example"]`})
	for origin, want := range map[string]string{"https://good.example": "https://good.example", "https://evil.example": ""} {
		req, _ := http.NewRequest("OPTIONS", p.URL+"/v1/send", nil)
		req.Header.Set("Origin", origin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != want {
			t.Errorf("preflight from %s: Allow-Origin = %q; want %q", origin, got, want)
		}
	}
	_ = c
}

func TestParkedPollWokenBySend(t *testing.T) {
	t.Parallel()
	_, c := start(t, testsvc.Options{PollTimeout: "20s"})
	rcv := c.NewPoller(t, "4")
	// A poll without cursor answers at once with one.
	if r := c.MustCall(t, "4", "poll"); r["cursor"] == "" || len(r["events"].([]any)) != 0 {
		t.Fatalf("poll without cursor = %v", r)
	}
	got := make(chan testsvc.PollResult, 1)
	go func() { got <- rcv.Poll(t, 20) }()
	// Wait until the poll is parked (seen in metrics) before sending.
	waitParked(t, c, 1)
	c.MustCall(t, "3", "send", "to", "4", "text", "wake up")
	select {
	case res := <-got:
		evs := res.Decoded(t)
		if len(evs) != 1 || evs[0].Type() != "message" || evs[0]["message"].(map[string]any)["text"] != "wake up" {
			t.Fatalf("woken poll = %v", evs)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the parked poll was not woken by the send")
	}
	// Timeout with nothing: same cursor, no events.
	before := rcv.Cursor
	res := rcv.Poll(t, 0.2)
	if len(res.Events) != 0 || res.Cursor != before {
		t.Fatalf("empty poll = %+v; want no events and cursor %s", res, before)
	}
	// Unknown cursor: reset.
	r := c.MustCall(t, "4", "poll", "cursor", "nonsense-1")
	if r["reset"] != true {
		t.Fatalf("poll with unknown cursor = %v; want reset", r)
	}
}

func waitParked(t *testing.T, c *testsvc.Client, n int) {
	t.Helper()
	want := fmt.Sprintf("pollchat_parked_polls %d\n", n)
	for i := 0; i < 200; i++ {
		r := c.Do(t, "GET", "/metrics", nil)
		if strings.Contains(string(r.Body), want) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("never saw %q", want)
}

// Three senders send 100 messages each while a client polls: it sees every
// message exactly once, each sender's in order, and ids increasing.
func TestManySendersExactlyOnceInOrder(t *testing.T) {
	t.Parallel()
	_, c := start(t, testsvc.Options{Chat: "rate = 0"})
	rcv := c.NewPoller(t, "5")
	const per = 100
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for _, from := range []string{"1", "2", "3"} {
		wg.Add(1)
		go func(from string) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				v := c.Ident(from)
				v.Set("to", "5")
				v.Set("text", fmt.Sprintf("%s:%d", from, i))
				v.Set("client_id", fmt.Sprintf("c-%s-%d", from, i))
				r, err := c.DoErr("GET", "/v1/send", v)
				if err != nil || r.Status != 200 {
					errs <- fmt.Errorf("send %s:%d: %v %v", from, i, err, r)
					return
				}
			}
		}(from)
	}
	next := map[string]int{"1": 0, "2": 0, "3": 0}
	seen := map[float64]bool{}
	var lastID float64
	total := 0
	deadline := time.Now().Add(60 * time.Second)
	for total < 3*per && time.Now().Before(deadline) {
		res := rcv.Poll(t, 5)
		if res.Reset {
			t.Fatal("unexpected reset")
		}
		for _, e := range res.Decoded(t) {
			if e.Type() != "message" {
				continue
			}
			m := e["message"].(map[string]any)
			id := m["id"].(float64)
			if seen[id] {
				t.Fatalf("message %v seen twice", id)
			}
			seen[id] = true
			if id <= lastID {
				t.Fatalf("message id %v after %v: not in id order", id, lastID)
			}
			lastID = id
			var from string
			var i int
			fmt.Sscanf(strings.Replace(m["text"].(string), ":", " ", 1), "%s %d", &from, &i)
			if i != next[from] {
				t.Fatalf("from %s got #%d; want #%d", from, i, next[from])
			}
			next[from]++
			total++
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if total != 3*per {
		t.Fatalf("saw %d messages; want %d", total, 3*per)
	}
}

func TestIdempotentSend(t *testing.T) {
	t.Parallel()
	_, c := start(t, testsvc.Options{})
	a := c.MustCall(t, "3", "send", "to", "4", "text", "once", "client_id", "k1")
	b := c.MustCall(t, "3", "send", "to", "4", "text", "once", "client_id", "k1")
	ida := a["message"].(map[string]any)["id"]
	if ida != b["message"].(map[string]any)["id"] {
		t.Fatalf("retry made a second message: %v vs %v", a, b)
	}
	// Another user with the same client_id is a different message.
	o := c.MustCall(t, "4", "send", "to", "3", "text", "other", "client_id", "k1")
	if o["message"].(map[string]any)["id"] == ida {
		t.Fatal("client_id shared across users")
	}
	h := c.MustCall(t, "4", "history", "with", "3")
	if n := len(h["messages"].([]any)); n != 2 {
		t.Fatalf("history has %d messages; want 2", n)
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	_, c := start(t, testsvc.Options{Chat: "max_length = 10"})
	cases := []struct {
		name     string
		endpoint string
		params   []string
		code     string
	}{
		{"empty text", "send", []string{"to", "4", "text", "   "}, "BAD_REQUEST"},
		{"too long", "send", []string{"to", "4", "text", "12345678901"}, "TOO_LONG"},
		{"ten after trim ok", "send", []string{"to", "4", "text", "  1234567890  "}, ""},
		{"unicode counted as characters", "send", []string{"to", "4", "text", "ééééééééé€"}, ""},
		{"control char", "send", []string{"to", "4", "text", "a\x01b"}, "BAD_REQUEST"},
		{"invalid utf8", "send", []string{"to", "4", "text", "a\xffb"}, "BAD_REQUEST"},
		{"unknown user", "send", []string{"to", "999", "text", "hi"}, "NOT_FOUND"},
		{"to and room", "send", []string{"to", "4", "room", "lobby", "text", "hi"}, "BAD_REQUEST"},
		{"unknown room", "send", []string{"room", "nope", "text", "hi"}, "NOT_FOUND"},
		{"self", "send", []string{"to", "3", "text", "hi"}, "BAD_REQUEST"},
		{"history bad before", "history", []string{"with", "4", "before", "x"}, "BAD_REQUEST"},
		{"users too many", "users", []string{"ids", strings.Repeat("1,", 100) + "1"}, "BAD_REQUEST"},
		{"answer nothing pending", "answer", []string{"from", "4", "accept", "1"}, "NOT_FOUND"},
		{"answer bad accept", "answer", []string{"from", "4", "accept", "maybe"}, "BAD_REQUEST"},
		{"poll bad timeout", "poll", []string{"timeout", "soon"}, "BAD_REQUEST"},
		{"unknown endpoint", "nope", nil, "NOT_FOUND"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.Call(t, "3", tc.endpoint, tc.params...)
			if got := r.ErrorCode(); got != tc.code {
				t.Fatalf("%s %v = %d %s; want code %q", tc.endpoint, tc.params, r.Status, r.Body, tc.code)
			}
		})
	}
	// Nothing of the refused sends was stored.
	h := c.MustCall(t, "3", "history", "with", "4")
	if n := len(h["messages"].([]any)); n != 2 {
		t.Fatalf("history has %d messages; want the 2 accepted", n)
	}
	// A repeated parameter is refused.
	v := c.Ident("3")
	v.Add("to", "4")
	v.Add("to", "5")
	v.Set("text", "x")
	if r := c.Do(t, "GET", "/v1/send", v); r.ErrorCode() != "BAD_REQUEST" {
		t.Fatalf("repeated to = %s", r.Body)
	}
}

func TestRestartKeepsHistory(t *testing.T) {
	t.Parallel()
	p, c := start(t, testsvc.Options{})
	c.MustCall(t, "3", "send", "to", "4", "text", "before restart")
	c.MustCall(t, "3", "request", "to", "5", "text", "talk?")
	m := c.MustCall(t, "4", "send", "to", "3", "text", "reply")
	id := m["message"].(map[string]any)["id"].(float64)
	c.MustCall(t, "3", "read", "with", "4", "upto", fmt.Sprint(id))
	cursor := c.MustCall(t, "4", "hello")["cursor"].(string)
	p.Stop()
	p.Start()
	h := c.MustCall(t, "4", "history", "with", "3")
	msgs := h["messages"].([]any)
	if len(msgs) != 2 || msgs[0].(map[string]any)["text"] != "before restart" {
		t.Fatalf("history after restart = %v", msgs)
	}
	hello := c.MustCall(t, "5", "hello")
	if reqs := hello["requests"].([]any); len(reqs) != 1 {
		t.Fatalf("requests after restart = %v", reqs)
	}
	convs := c.MustCall(t, "3", "hello")["conversations"].([]any)
	for _, cv := range convs {
		cv := cv.(map[string]any)
		if cv["with"] == "4" && cv["unread"].(float64) != 0 {
			t.Fatalf("read mark lost: %v", cv)
		}
	}
	// The old cursor belongs to the old process: reset.
	if r := c.MustCall(t, "4", "poll", "cursor", cursor); r["reset"] != true {
		t.Fatalf("old cursor after restart = %v; want reset", r)
	}
}

func TestChatRequests(t *testing.T) {
	t.Parallel()
	_, c := start(t, testsvc.Options{})
	inviter := c.NewPoller(t, "3")
	invitee := c.NewPoller(t, "4")
	c.MustCall(t, "3", "request", "to", "4", "text", "Let's talk <b>now</b>")
	e, _ := invitee.WaitFor(t, 10*time.Second, func(e testsvc.Event) bool { return e.Type() == "chat_request" })
	req := e["request"].(map[string]any)
	if req["from"].(map[string]any)["user_id"] != "3" || req["text"] != "Let's talk <b>now</b>" {
		t.Fatalf("chat_request = %v", e)
	}
	if reqs := c.MustCall(t, "4", "hello")["requests"].([]any); len(reqs) != 1 {
		t.Fatalf("hello.requests = %v", reqs)
	}
	c.MustCall(t, "4", "answer", "from", "3", "accept", "1")
	e, _ = inviter.WaitFor(t, 10*time.Second, func(e testsvc.Event) bool { return e.Type() == "chat_answer" })
	if e["from"] != "4" || e["accepted"] != true {
		t.Fatalf("chat_answer = %v", e)
	}
	if reqs := c.MustCall(t, "4", "hello")["requests"].([]any); len(reqs) != 0 {
		t.Fatalf("request still pending after accept: %v", reqs)
	}
	// And a rejected one.
	c.MustCall(t, "3", "request", "to", "4", "text", "again?")
	c.MustCall(t, "4", "answer", "from", "3", "accept", "0")
	e, _ = inviter.WaitFor(t, 10*time.Second, func(e testsvc.Event) bool { return e.Type() == "chat_answer" })
	if e["accepted"] != false {
		t.Fatalf("chat_answer = %v; want rejected", e)
	}
	if r := c.Call(t, "4", "answer", "from", "3", "accept", "0"); r.ErrorCode() != "NOT_FOUND" {
		t.Fatalf("answering twice = %s", r.Body)
	}
}

func TestMessengerCommandAndChatPage(t *testing.T) {
	t.Parallel()
	p, c := start(t, testsvc.Options{})
	v := c.Ident("4")
	v.Set("callback", "cb")
	r := c.Do(t, "GET", "/MessengerCommand.ashx", v)
	if string(r.Body) != "/**/cb(null);" {
		t.Fatalf("MessengerCommand with nothing pending = %s", r.Body)
	}
	c.MustCall(t, "3", "request", "to", "4", "text", `<img src=x onerror=alert(1)> hi`)
	r = c.Do(t, "GET", "/MessengerCommand.ashx", v)
	body := strings.TrimSuffix(strings.TrimPrefix(string(r.Body), "/**/cb("), ");")
	var got map[string]string
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("MessengerCommand = %s: %v", r.Body, err)
	}
	if got["FromUserId"] != "3" || got["FromUserName"] != "Linus" || got["ChatRequestMessage"] != "&lt;img src=x onerror=alert(1)&gt; hi" {
		t.Fatalf("MessengerCommand = %v", got)
	}
	v.Set("reqInitiator", "3")
	v.Set("reject", "true")
	if r := c.Do(t, "GET", "/MessengerCommand.ashx", v); string(r.Body) != `/**/cb({"ok":true});` {
		t.Fatalf("MessengerCommand reject = %s", r.Body)
	}
	v.Del("reqInitiator")
	v.Del("reject")
	if r := c.Do(t, "GET", "/MessengerCommand.ashx", v); string(r.Body) != "/**/cb(null);" {
		t.Fatalf("after reject = %s", r.Body)
	}

	// The popup chat page: signed link accepted, forged one refused.
	ts := testsvc.Timestamp(time.Now())
	link := url.Values{"id": {"4"}, "target": {"3"}, "timestamp": {ts}, "hash": {testsvc.SHA1Hex("4", "3", ts, testsvc.LinkSecret)}}
	r = c.Do(t, "GET", "/chat", link)
	if r.Status != 200 || !strings.Contains(string(r.Body), `"target":"3"`) || strings.Contains(string(r.Body), "/*POLLCHAT_CONFIG*/null") {
		t.Fatalf("chat page = %d %.300s", r.Status, r.Body)
	}
	link.Set("target", "5")
	if r = c.Do(t, "GET", "/chat", link); r.Status != 403 {
		t.Fatalf("forged chat link = %d", r.Status)
	}
	_ = p
}

func TestOperations(t *testing.T) {
	t.Parallel()
	p, c := start(t, testsvc.Options{Demo: true})
	if r := c.Do(t, "GET", "/healthz", nil); r.Status != 200 {
		t.Fatalf("healthz = %d", r.Status)
	}
	r := c.Do(t, "GET", "/metrics", nil)
	for _, name := range []string{"pollchat_parked_polls", "pollchat_sends_total", "pollchat_deliveries_total", `pollchat_errors_total{code="AUTH_FAILED"}`} {
		if !strings.Contains(string(r.Body), name) {
			t.Errorf("metrics lack %s", name)
		}
	}
	for _, f := range []string{"/widget.js", "/widget.css", "/messenger.js", "/demo"} {
		r := c.Do(t, "GET", f, nil)
		if r.Status != 200 || len(r.Body) == 0 {
			t.Errorf("GET %s = %d", f, r.Status)
		}
		if f == "/widget.js" {
			etag := r.Header.Get("ETag")
			req, _ := http.NewRequest("GET", p.URL+f, nil)
			req.Header.Set("If-None-Match", etag)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if etag == "" || resp.StatusCode != 304 {
				t.Errorf("revalidation with ETag %q = %d; want 304", etag, resp.StatusCode)
			}
		}
	}
	// SIGTERM answers a parked poll at once and ends the process.
	pl := c.NewPoller(t, "3")
	done := make(chan int, 1)
	go func() {
		r, err := c.DoErr("GET", "/v1/poll", func() url.Values {
			v := c.Ident("3")
			v.Set("cursor", pl.Cursor)
			v.Set("timeout", "30")
			return v
		}())
		if err != nil {
			done <- -1
			return
		}
		done <- r.Status
	}()
	waitParked(t, c, 1)
	p.Stop()
	select {
	case st := <-done:
		if st != 200 {
			t.Fatalf("parked poll on shutdown = %d; want 200", st)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("parked poll not answered on shutdown")
	}
}

// Bad config stops start-up naming the key.
func TestConfigErrors(t *testing.T) {
	t.Parallel()
	bin := testsvc.Binary(t)
	dir := t.TempDir()
	cases := []struct{ name, cfg, want string }{
		{"unknown key", "[server]\nlisten = \"127.0.0.1:1\"\nlisen = 1\n[auth]\nsecret = \"0123456789abcdef\"\n", "server.lisen"},
		{"bad duration", "[server]\npoll_timeout = \"soon\"\n[auth]\nsecret = \"0123456789abcdef\"\n", "poll_timeout"},
		{"missing secret", "[server]\nlisten = \"127.0.0.1:1\"\n", "auth.secret"},
		{"demo secret public", "[server]\nlisten = \"0.0.0.0:8080\"\n[auth]\nsecret = \"demo-secret-change-me\"\n", "auth.secret"},
		{"bad source", "[auth]\nsecret = \"0123456789abcdef\"\n[users]\nsource = \"ldap\"\n", "users.source"},
		{"bad room", "[auth]\nsecret = \"0123456789abcdef\"\n[chat]\nrooms = [\"a b\"]\n", "chat.rooms[0]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".toml")
			os.WriteFile(f, []byte(tc.cfg), 0o600)
			out, err := exec.Command(bin, "-config", f).CombinedOutput()
			if err == nil {
				t.Fatalf("pollchat started with %s", tc.name)
			}
			if !strings.Contains(string(out), tc.want) || !strings.Contains(string(out), f) {
				t.Fatalf("output %q does not name %q and the file", out, tc.want)
			}
		})
	}
	// The shipped config checks out.
	out, err := exec.Command(bin, "-check", "-config", filepath.Join(testsvc.RepoRoot(), "config.toml")).CombinedOutput()
	if err != nil {
		t.Fatalf("-check on the shipped config.toml: %v %s", err, out)
	}
}

// System messages sent to one user (backend API without from) form their
// own conversation: hello marks it system, history and read open it with
// system=1.
func TestSystemConversation(t *testing.T) {
	t.Parallel()
	p, c := start(t, testsvc.Options{})
	req, _ := http.NewRequest("POST", p.URL+"/api/v1/messages", strings.NewReader(`{"to":"4","text":"Your order shipped"}`))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(testsvc.APILogin, testsvc.APIPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("inject = %d", resp.StatusCode)
	}
	var sys map[string]any
	for _, cv := range c.MustCall(t, "4", "hello")["conversations"].([]any) {
		if m := cv.(map[string]any); m["system"] == true {
			sys = m
		}
	}
	if sys == nil || sys["unread"].(float64) != 1 {
		t.Fatalf("hello has no system conversation with 1 unread: %v", sys)
	}
	h := c.MustCall(t, "4", "history", "system", "1")
	msgs := h["messages"].([]any)
	if len(msgs) != 1 || msgs[0].(map[string]any)["text"] != "Your order shipped" || msgs[0].(map[string]any)["from"] != nil {
		t.Fatalf("system history = %v", msgs)
	}
	id := msgs[0].(map[string]any)["id"].(float64)
	c.MustCall(t, "4", "read", "system", "1", "upto", fmt.Sprint(id))
	for _, cv := range c.MustCall(t, "4", "hello")["conversations"].([]any) {
		if m := cv.(map[string]any); m["system"] == true && m["unread"].(float64) != 0 {
			t.Fatalf("system conversation still unread after read: %v", m)
		}
	}
}
