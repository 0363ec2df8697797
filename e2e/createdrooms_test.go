package e2e

import (
	"fmt"
	"net/http"
	"testing"

	"pollchat/internal/testsvc"
)

// Issue 15.1 on the backend API: created rooms are idempotent, change
// members, list, delete, refuse static names and bad input, and survive a
// restart (the store keeps them).
func TestCreatedRoomsAPI(t *testing.T) {
	p := testsvc.StartPollchat(t, testsvc.Options{})
	room := func(m map[string]any) map[string]any {
		t.Helper()
		r, ok := m["room"].(map[string]any)
		if !ok {
			t.Fatalf("answer %v has no room", m)
		}
		return r
	}
	got := room(mustAPI(t, p.URL, "POST", "/api/v1/rooms", `{"room":"team-a","title":"Team A","private":true,"members":[3,"4"]}`, http.StatusCreated))
	if got["room"] != "team-a" || got["title"] != "Team A" || got["private"] != true || fmt.Sprint(got["members"]) != "[3 4]" {
		t.Fatalf("created room = %v", got)
	}
	again := room(mustAPI(t, p.URL, "POST", "/api/v1/rooms", `{"room":"team-a","title":"Other","members":["5"]}`, http.StatusOK))
	if again["title"] != "Team A" || fmt.Sprint(again["members"]) != "[3 4]" {
		t.Fatalf("second POST changed the room: %v", again)
	}
	// A PHP form works too.
	room(mustAPI(t, p.URL, "POST", "/api/v1/rooms", "room=open-room&title=Open&members%5B%5D=1", http.StatusCreated))

	ch := room(mustAPI(t, p.URL, "POST", "/api/v1/rooms/team-a/members", `{"add":["5"],"remove":[3]}`, http.StatusOK))
	if fmt.Sprint(ch["members"]) != "[4 5]" {
		t.Fatalf("members after add 5, remove 3 = %v", ch["members"])
	}
	for _, tc := range []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"POST", "/api/v1/rooms", `{"room":"lobby"}`, 400, "BAD_REQUEST"},
		{"POST", "/api/v1/rooms", `{"room":"bad name!"}`, 400, "BAD_REQUEST"},
		{"POST", "/api/v1/rooms", `{"room":"x","private":"maybe"}`, 400, "BAD_REQUEST"},
		{"POST", "/api/v1/rooms", `{"room":"x","members":[{"id":1}]}`, 400, "BAD_REQUEST"},
		{"POST", "/api/v1/rooms", `{"room":"x","members":["a,b"]}`, 400, "BAD_REQUEST"},
		{"POST", "/api/v1/rooms/nope/members", `{"add":["1"]}`, 404, "NOT_FOUND"},
		{"POST", "/api/v1/rooms/team-a/members", `{}`, 400, "BAD_REQUEST"},
		{"DELETE", "/api/v1/rooms/nope", ``, 404, "NOT_FOUND"},
		{"DELETE", "/api/v1/rooms/lobby", ``, 400, "BAD_REQUEST"},
	} {
		r := api(t, p.URL, tc.method, tc.path, tc.body, authGood)
		if r.Status != tc.status || r.ErrorCode() != tc.code {
			t.Errorf("%s %s %s = %d %s; want %d %s", tc.method, tc.path, tc.body, r.Status, r.Body, tc.status, tc.code)
		}
	}
	if r := api(t, p.URL, "GET", "/api/v1/rooms", "", authNone); r.Status != 401 {
		t.Errorf("GET /api/v1/rooms without auth = %d; want 401", r.Status)
	}

	p.Stop()
	p.Start()
	list := mustAPI(t, p.URL, "GET", "/api/v1/rooms", "", http.StatusOK)
	var names []string
	for _, r := range list["rooms"].([]any) {
		names = append(names, r.(map[string]any)["room"].(string))
	}
	if fmt.Sprint(names) != "[lobby help open-room team-a]" {
		t.Fatalf("rooms after a restart = %v", names)
	}
	mustAPI(t, p.URL, "DELETE", "/api/v1/rooms/team-a", "", http.StatusOK)
	list = mustAPI(t, p.URL, "GET", "/api/v1/rooms", "", http.StatusOK)
	if n := len(list["rooms"].([]any)); n != 3 {
		t.Fatalf("%d rooms after the delete; want 3", n)
	}
}

// Issue 15.5 (server): /v1/hide keeps a conversation out of hello until a
// newer message arrives.
func TestHideConversation(t *testing.T) {
	p := testsvc.StartPollchat(t, testsvc.Options{})
	c := testsvc.NewClient(p.URL)
	c.MustCall(t, "4", "send", "to", "3", "text", "hi Linus")
	withPeer := func(uid, peer string) bool {
		t.Helper()
		h := c.MustCall(t, uid, "hello")
		for _, cv := range h["conversations"].([]any) {
			if cv.(map[string]any)["with"] == peer {
				return true
			}
		}
		return false
	}
	if !withPeer("3", "4") {
		t.Fatal("hello misses the conversation before the hide")
	}
	if r := c.Call(t, "3", "hide"); r.ErrorCode() != "BAD_REQUEST" {
		t.Errorf("hide without with = %d %s; want BAD_REQUEST", r.Status, r.Body)
	}
	if r := c.Call(t, "3", "hide", "with", "4", "upto", "-5"); r.ErrorCode() != "BAD_REQUEST" {
		t.Errorf("hide upto=-5 = %d %s; want BAD_REQUEST", r.Status, r.Body)
	}
	// Only conversations that exist are hidden: nothing reaches the store
	// for a peer 3 never wrote with, or a room that has no messages.
	if r := c.Call(t, "3", "hide", "with", "5"); r.ErrorCode() != "NOT_FOUND" {
		t.Errorf("hide of a conversation that does not exist = %d %s; want NOT_FOUND", r.Status, r.Body)
	}
	if r := c.Call(t, "3", "hide", "room", "no-such-room"); r.ErrorCode() != "NOT_FOUND" {
		t.Errorf("hide of an unknown room = %d %s; want NOT_FOUND", r.Status, r.Body)
	}
	if ok := c.MustCall(t, "3", "hide", "with", "4"); ok["ok"] != true {
		t.Fatalf("hide = %v", ok)
	}
	if withPeer("3", "4") {
		t.Fatal("hello lists a hidden conversation")
	}
	if !withPeer("4", "3") {
		t.Fatal("hiding hid the conversation for the other side too")
	}
	p.Stop()
	p.Start()
	if withPeer("3", "4") {
		t.Fatal("the hide was lost in a restart")
	}
	c.MustCall(t, "4", "send", "to", "3", "text", "still there?")
	if !withPeer("3", "4") {
		t.Fatal("a newer message did not bring the conversation back")
	}
}
