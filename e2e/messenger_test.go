package e2e

// The eStreamChat Messenger script as it is (issue 14): it polls
// MessengerCommand.ashx every few seconds and never says hello.

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"pollchat/internal/testsvc"
)

func isPresence(uid, status string) func(testsvc.Event) bool {
	return func(e testsvc.Event) bool {
		return e.Type() == "presence" && e["user_id"] == uid && e["status"] == status
	}
}

func TestMessengerScriptAsItIs(t *testing.T) {
	t.Parallel()
	_, c := start(t, testsvc.Options{Grace: longGrace, Chat: "rate = 0"})
	c.MustCall(t, "3", "send", "to", "4", "text", "are you there?")
	c.MustCall(t, "3", "send", "to", "5", "text", "and you?")
	pl := c.NewPoller(t, "3")

	// Polling MessengerCommand.ashx makes 4 online; 3, a contact, hears it.
	v := with(c.Ident("4"), "callback", "cb")
	if r := c.Do(t, "GET", "/MessengerCommand.ashx", v); string(r.Body) != "/**/cb(null);" {
		t.Fatalf("MessengerCommand.ashx = %s", r.Body)
	}
	pl.WaitFor(t, 10*time.Second, isPresence("4", "online"))
	on := c.MustCall(t, "3", "hello")["online"].([]any)
	if len(on) != 1 || on[0] != "4" {
		t.Fatalf("online after the messenger poll = %v; want [4]", on)
	}

	// A poll without hello tells the contacts too.
	if r := c.Call(t, "5", "poll"); r.ErrorCode() != "" {
		t.Fatalf("poll without hello = %s", r.Body)
	}
	pl.WaitFor(t, 10*time.Second, isPresence("5", "online"))

	// A wrong or expired identity: null, the code in a header.
	ts := testsvc.Timestamp(time.Now().Add(-48 * time.Hour))
	for _, tc := range []struct {
		name string
		v    url.Values
		code string
	}{
		{"wrong hash", with(c.Ident("4"), "hash", strings.Repeat("0", 40), "callback", "cb"), "AUTH_FAILED"},
		{"expired", url.Values{"id": {"4"}, "timestamp": {ts}, "hash": {testsvc.SHA1Hex("4", ts, testsvc.Secret)}, "callback": {"cb"}}, "TOKEN_EXPIRED"},
		{"no identity", url.Values{"callback": {"cb"}}, "AUTH_FAILED"},
	} {
		r := c.Do(t, "GET", "/MessengerCommand.ashx", tc.v)
		if r.Status != 200 || string(r.Body) != "/**/cb(null);" || r.Header.Get("X-Pollchat-Error") != tc.code {
			t.Errorf("%s: %d %q X-Pollchat-Error %q; want 200 null and %s", tc.name, r.Status, r.Body, r.Header.Get("X-Pollchat-Error"), tc.code)
		}
	}
}

// TestChatPageNameAndThumb: /chat's name and thumbUrl are the caller's own:
// they become the fallback name and picture of a user the directory does
// not know (old code: the page ignored them, "User guest-8").
func TestChatPageNameAndThumb(t *testing.T) {
	t.Parallel()
	_, c := start(t, testsvc.Options{})
	ts := testsvc.Timestamp(time.Now())
	link := url.Values{"id": {"guest-8"}, "target": {"3"}, "timestamp": {ts}, "hash": {testsvc.SHA1Hex("guest-8", "3", ts, testsvc.LinkSecret)},
		"name": {"Zed"}, "thumbUrl": {"https://example.com/zed.png"}}
	r := c.Do(t, "GET", "/chat", link)
	out := string(r.Body)
	i := strings.Index(out, `"token":"`)
	if r.Status != 200 || i < 0 {
		t.Fatalf("chat page = %d %.300s", r.Status, out)
	}
	tok := strings.SplitN(out[i+len(`"token":"`):], `"`, 2)[0]
	me := c.Do(t, "GET", "/v1/hello", url.Values{"token": {tok}}).Map(t)["me"].(map[string]any)
	if me["name"] != "Zed" || me["avatar_url"] != "https://example.com/zed.png" {
		t.Fatalf("me after a /chat link with name and thumbUrl = %v", me)
	}
	// The peer sees the name too.
	u := c.MustCall(t, "3", "users", "ids", "guest-8")["users"].([]any)
	if len(u) != 1 || u[0].(map[string]any)["name"] != "Zed" {
		t.Fatalf("users guest-8 = %v", u)
	}
	// A script URL is dropped.
	link.Set("thumbUrl", "javascript:alert(1)")
	link.Set("id", "guest-9")
	link.Set("hash", testsvc.SHA1Hex("guest-9", "3", ts, testsvc.LinkSecret))
	if r := c.Do(t, "GET", "/chat", link); strings.Contains(string(r.Body), "javascript:") {
		t.Fatalf("chat page echoes a javascript: thumbUrl")
	}
}
