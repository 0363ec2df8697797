package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"pollchat/internal/testsvc"
)

// Issue 15 in chat, against the built binary: private created rooms,
// guests, chat.auto_join and hello's lang.

func hasRoom(m map[string]any, room string) bool {
	rooms, _ := m["rooms"].([]any)
	for _, r := range rooms {
		if r == room {
			return true
		}
	}
	return false
}

// privateRoomChecks runs the private-room rules over clients of one
// server or of several processes (create on a, use on b).
func privateRoomChecks(t *testing.T, base string, a, b *testsvc.Client) {
	t.Helper()
	mustAPI(t, base, "POST", "/api/v1/rooms", `{"room":"staff","title":"Staff","private":true,"members":["1","2"]}`, http.StatusCreated)
	h1 := b.MustCall(t, "1", "hello")
	if !hasRoom(h1, "staff") {
		t.Fatalf("member's hello rooms = %v; want staff", h1["rooms"])
	}
	if info, _ := h1["room_info"].(map[string]any)["staff"].(map[string]any); info["title"] != "Staff" || info["private"] != true {
		t.Fatalf("room_info = %v", h1["room_info"])
	}
	outsider := b.NewPoller(t, "3")
	if h3 := b.MustCall(t, "3", "hello"); hasRoom(h3, "staff") {
		t.Fatalf("non-member's hello lists staff: %v", h3["rooms"])
	}
	for _, ep := range []string{"join", "history"} {
		if r := b.Call(t, "3", ep, "room", "staff"); r.ErrorCode() != "NOT_FOUND" {
			t.Fatalf("non-member %s = %d %s; want NOT_FOUND", ep, r.Status, r.Body)
		}
	}
	if r := a.Call(t, "3", "send", "room", "staff", "text", "let me in"); r.ErrorCode() != "NOT_FOUND" {
		t.Fatalf("non-member send = %s; want NOT_FOUND", r.Body)
	}
	member := b.NewPoller(t, "2")
	a.MustCall(t, "1", "join", "room", "staff")
	b.MustCall(t, "2", "join", "room", "staff")
	a.MustCall(t, "1", "send", "room", "staff", "text", "staff only")
	member.WaitFor(t, 20*time.Second, func(e testsvc.Event) bool { return messageText(e) == "staff only" })
	for _, e := range marker(t, a, outsider, "1") {
		if messageText(e) == "staff only" {
			t.Fatalf("non-member got the private room's message %v", e)
		}
	}
	if h := b.MustCall(t, "2", "history", "room", "staff"); len(h["messages"].([]any)) != 1 {
		t.Fatalf("member history = %v", h)
	}
}

func TestPrivateCreatedRooms(t *testing.T) {
	t.Parallel()
	p, c := start(t, testsvc.Options{Grace: longGrace})
	privateRoomChecks(t, p.URL, c, c)
}

// In a cluster a room created through one process is joinable, private,
// on the others (they reload it on the control message).
func TestClusterPrivateCreatedRooms(t *testing.T) {
	c := startCluster(t, 2)
	privateRoomChecks(t, c.procs[0].URL, c.cls[0], c.cls[1])
}

// anon calls a browser endpoint without any identity.
func anon(t *testing.T, c *testsvc.Client, endpoint string, kv ...string) *testsvc.Response {
	t.Helper()
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return c.Do(t, http.MethodGet, "/v1/"+endpoint, v)
}

func TestGuestsReadPublicRooms(t *testing.T) {
	t.Parallel()
	p, c := start(t, testsvc.Options{Grace: longGrace, Extra: "[rooms]\nguest_read = true\n"})
	mustAPI(t, p.URL, "POST", "/api/v1/rooms", `{"room":"staff","private":true,"members":["1"]}`, http.StatusCreated)
	h := anon(t, c, "hello").Map(t)
	if h["guest"] != true || h["me"] != nil || !hasRoom(h, "lobby") || hasRoom(h, "staff") {
		t.Fatalf("guest hello = %v; want guest, me null, public rooms only", h)
	}
	cursor := h["cursor"].(string)
	if r := anon(t, c, "history", "room", "lobby"); r.Status != 200 || r.ErrorCode() != "" {
		t.Fatalf("guest history = %s", r.Body)
	}
	if r := anon(t, c, "join", "room", "lobby"); r.Status != 200 || r.ErrorCode() != "" {
		t.Fatalf("guest join = %s", r.Body)
	}
	c.MustCall(t, "1", "join", "room", "lobby")
	c.MustCall(t, "1", "send", "room", "lobby", "text", "hello guests")
	found := false
	for i := 0; i < 10 && !found; i++ {
		r := anon(t, c, "poll", "cursor", cursor, "timeout", "5")
		var res testsvc.PollResult
		r.JSON(t, &res)
		if res.Reset {
			t.Fatalf("guest poll reset: %s", r.Body)
		}
		cursor = res.Cursor
		for _, e := range res.Decoded(t) {
			if messageText(e) == "hello guests" {
				found = true
			}
		}
	}
	if !found {
		t.Fatal("the guest never got the lobby message")
	}
	for ep, code := range map[string]string{"send": "AUTH_FAILED", "users": "FORBIDDEN"} {
		if r := anon(t, c, ep, "room", "lobby", "text", "x", "ids", "1"); r.ErrorCode() != code {
			t.Errorf("guest %s = %s; want %s", ep, r.Body, code)
		}
	}
	for _, ep := range []string{"join", "history"} {
		if r := anon(t, c, ep, "room", "staff"); r.ErrorCode() != "NOT_FOUND" {
			t.Errorf("guest %s of a private room = %s; want NOT_FOUND", ep, r.Body)
		}
	}
	online := mustAPI(t, p.URL, "GET", "/api/v1/online", "", http.StatusOK)
	for _, u := range online["users"].([]any) {
		if strings.HasPrefix(u.(string), "guest") {
			t.Fatalf("online lists a guest: %v", online)
		}
	}
	st := c.MustCall(t, "1", "join", "room", "lobby")["room"].(map[string]any)
	if st["count"].(float64) != 1 {
		t.Fatalf("lobby as a member sees it = %v; want only user 1 counted", st)
	}
	// Without guest_read, no identity is no entry.
	_, off := start(t, testsvc.Options{})
	if r := anon(t, off, "hello"); r.ErrorCode() != "AUTH_FAILED" {
		t.Fatalf("anonymous hello without guest_read = %s", r.Body)
	}
}

func TestAutoJoinOnHello(t *testing.T) {
	t.Parallel()
	_, c := start(t, testsvc.Options{Grace: longGrace, Chat: `auto_join = "lobby"`})
	watcher := c.NewPoller(t, "2") // hello: 2 is in the lobby now
	c.MustCall(t, "1", "hello")
	e, _ := until(t, watcher, isType("user_joined"))
	if e["room"] != "lobby" || e["user"].(map[string]any)["user_id"] != "1" {
		t.Fatalf("user_joined = %v; want 1 in lobby", e)
	}
	c.MustCall(t, "2", "send", "room", "lobby", "text", "hi all")
	if h := c.MustCall(t, "1", "history", "room", "lobby"); len(h["messages"].([]any)) != 1 {
		t.Fatalf("history = %v", h)
	}
}

func TestHelloLangForSystemTexts(t *testing.T) {
	t.Parallel()
	_, c := start(t, testsvc.Options{Grace: longGrace})
	for lang, want := range map[string]string{"it": "Comandi:", "de": "Befehle:", "fr": "Commandes :", "pt": "Commands:"} {
		p := c.NewPoller(t, "1")
		c.MustCall(t, "1", "hello", "lang", lang)
		c.MustCall(t, "1", "join", "room", "lobby")
		c.MustCall(t, "1", "send", "room", "lobby", "text", "/help")
		e, _ := until(t, p, isType("system_message"))
		if text, _ := e["text"].(string); !strings.HasPrefix(text, want) {
			t.Errorf("lang %s: /help = %q; want %q…", lang, text, want)
		}
	}
}
