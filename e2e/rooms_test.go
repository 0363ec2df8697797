package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"pollchat/internal/testsvc"
)

// The test config's static users: 1 Ada admin, 2 Grace mod, 3 Linus,
// 4 Margaret, 5 Ken members; rooms lobby and help; presence grace 2s.

// roomAnswer is join's and leave's answer.
type roomAnswer struct {
	Room struct {
		Name  string `json:"name"`
		Users map[string]struct {
			UserID string `json:"user_id"`
			Name   string `json:"name"`
			Role   string `json:"role"`
		} `json:"users"`
		Count   int                        `json:"count"`
		History []map[string]any           `json:"history"`
		Mutes   map[string]map[string]any  `json:"mutes"`
		Raw     map[string]json.RawMessage `json:"-"`
	} `json:"room"`
}

func (a roomAnswer) ids() []string {
	out := make([]string, 0, len(a.Room.Users))
	for id := range a.Room.Users {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// roomCall calls join or leave and decodes the answer, keeping the raw
// room object to check which keys are present.
func roomCall(t *testing.T, c *testsvc.Client, uid, endpoint, room string) roomAnswer {
	t.Helper()
	r := c.Call(t, uid, endpoint, "room", room)
	if r.Status != 200 || r.ErrorCode() != "" {
		t.Fatalf("%s(%s) as %s = %d %s", endpoint, room, uid, r.Status, r.Body)
	}
	var a roomAnswer
	r.JSON(t, &a)
	var raw struct {
		Room map[string]json.RawMessage `json:"room"`
	}
	r.JSON(t, &raw)
	a.Room.Raw = raw.Room
	return a
}

// longGrace keeps users online between their polls in tests that are not
// about presence (the test config's 2s would make idle members leave rooms).
const longGrace = "60s"

func isType(typ string) func(testsvc.Event) bool {
	return func(e testsvc.Event) bool { return e.Type() == typ }
}

// until polls p until an event matches, failing after a bounded wait.
func until(t *testing.T, p *testsvc.Poller, match func(testsvc.Event) bool) (testsvc.Event, []testsvc.Event) {
	t.Helper()
	return p.WaitFor(t, 20*time.Second, match)
}

// marker sends a direct message from `from` to p's user and polls p until
// it arrives, returning every event seen before it. Events are delivered
// in order, so whatever was published to p before the marker is in the
// result: that is how a test shows an event was NOT delivered without
// waiting for a while.
func marker(t *testing.T, c *testsvc.Client, p *testsvc.Poller, from string) []testsvc.Event {
	t.Helper()
	text := fmt.Sprintf("marker-%d", time.Now().UnixNano())
	c.MustCall(t, from, "send", "to", p.UID, "text", text)
	_, seen := until(t, p, func(e testsvc.Event) bool {
		return e.Type() == "message" && e["message"].(map[string]any)["text"] == text
	})
	return seen[:len(seen)-1]
}

func messageText(e testsvc.Event) string {
	if e.Type() != "message" {
		return ""
	}
	s, _ := e["message"].(map[string]any)["text"].(string)
	return s
}

func TestRoomJoinLeave(t *testing.T) {
	t.Parallel()
	_, c := start(t, testsvc.Options{Grace: longGrace})

	if rooms := c.MustCall(t, "3", "hello")["rooms"]; fmt.Sprint(rooms) != "[lobby help]" {
		t.Fatalf("hello.rooms = %v; want [lobby help]", rooms)
	}
	p3 := c.NewPoller(t, "3")
	a := roomCall(t, c, "3", "join", "lobby")
	if a.Room.Name != "lobby" || a.Room.Count != 1 || fmt.Sprint(a.ids()) != "[3]" || a.Room.Users["3"].Name != "Linus" {
		t.Fatalf("join(lobby) as 3 = %+v; want lobby with Linus only", a.Room)
	}
	if a.Room.History == nil || len(a.Room.History) != 0 {
		t.Fatalf("join(lobby).history = %v; want []", a.Room.History)
	}
	if _, ok := a.Room.Raw["mutes"]; ok {
		t.Fatalf("join(lobby) as a member shows mutes: %s", a.Room.Raw["mutes"])
	}

	// Margaret joins: Linus is told, with her user object.
	roomCall(t, c, "4", "join", "lobby")
	e, _ := until(t, p3, isType("user_joined"))
	if e["room"] != "lobby" || e["user"].(map[string]any)["user_id"] != "4" || e["user"].(map[string]any)["name"] != "Margaret" {
		t.Fatalf("user_joined = %v; want Margaret in lobby", e)
	}
	// Joining twice changes nothing and tells nobody again.
	if a := roomCall(t, c, "4", "join", "lobby"); a.Room.Count != 2 {
		t.Fatalf("second join count = %d; want 2", a.Room.Count)
	}

	// A message sent before Ken joins is in his join's history.
	sent := c.MustCall(t, "3", "send", "room", "lobby", "text", "welcome, everyone")
	a = roomCall(t, c, "5", "join", "lobby")
	if a.Room.Count != 3 || fmt.Sprint(a.ids()) != "[3 4 5]" {
		t.Fatalf("join as 5 = %+v; want members 3 4 5", a.Room)
	}
	if len(a.Room.History) != 1 || a.Room.History[0]["text"] != "welcome, everyone" ||
		a.Room.History[0]["id"] != sent["message"].(map[string]any)["id"] || a.Room.History[0]["room"] != "lobby" {
		t.Fatalf("join history = %v; want the welcome message", a.Room.History)
	}

	// A moderator sees mutes, an empty object when nobody is muted.
	a = roomCall(t, c, "2", "join", "lobby")
	if string(a.Room.Raw["mutes"]) != "{}" {
		t.Fatalf("join as mod: mutes = %q; want {}", a.Room.Raw["mutes"])
	}
	if a.Room.Users["2"].Role != "mod" || a.Room.Users["3"].Role != "member" {
		t.Fatalf("join roles = %+v", a.Room.Users)
	}

	// Margaret leaves: the answer no longer lists her, Linus is told.
	a = roomCall(t, c, "4", "leave", "lobby")
	// docs/protocol.md: leave answers the room without history.
	if _, in := a.Room.Users["4"]; in || a.Room.Count != 3 || a.Room.Raw["history"] != nil {
		t.Fatalf("leave answer = %+v (raw history %s); want 3 members without 4 and no history", a.Room, a.Room.Raw["history"])
	}
	e, _ = until(t, p3, func(e testsvc.Event) bool { return e.Type() == "user_left" })
	if e["room"] != "lobby" || e["user"].(map[string]any)["user_id"] != "4" {
		t.Fatalf("user_left = %v; want Margaret left lobby", e)
	}
	// Rooms are separate.
	if a := roomCall(t, c, "3", "join", "help"); a.Room.Count != 1 || fmt.Sprint(a.ids()) != "[3]" {
		t.Fatalf("join(help) = %+v; want Linus alone", a.Room)
	}

	for _, tc := range []struct{ endpoint, room, code string }{
		{"join", "nope", "NOT_FOUND"},
		{"join", "", "BAD_REQUEST"},
		{"leave", "nope", "NOT_FOUND"},
	} {
		if r := c.Call(t, "3", tc.endpoint, "room", tc.room); r.ErrorCode() != tc.code {
			t.Errorf("%s(%q) = %d %s; want %s", tc.endpoint, tc.room, r.Status, r.Body, tc.code)
		}
	}
}

// A room message reaches every member's stream, the sender's included, and
// nobody else's.
func TestRoomFanOut(t *testing.T) {
	t.Parallel()
	_, c := start(t, testsvc.Options{Grace: longGrace})
	members := []string{"1", "3", "4", "5"}
	pollers := map[string]*testsvc.Poller{}
	for _, u := range members {
		pollers[u] = c.NewPoller(t, u)
		roomCall(t, c, u, "join", "lobby")
	}
	outsider := c.NewPoller(t, "2")
	roomCall(t, c, "2", "join", "help")

	r := c.MustCall(t, "3", "send", "room", "lobby", "text", "hello lobby", "client_id", "fan-1")
	m := r["message"].(map[string]any)
	if m["from"] != "3" || m["room"] != "lobby" || m["text"] != "hello lobby" || m["to"] != nil {
		t.Fatalf("send(room) = %v", m)
	}
	for _, u := range members {
		e, _ := until(t, pollers[u], isType("message"))
		got := e["message"].(map[string]any)
		if got["id"] != m["id"] || got["text"] != "hello lobby" || got["room"] != "lobby" {
			t.Errorf("member %s got %v; want message %v", u, got, m["id"])
		}
	}
	for _, e := range marker(t, c, outsider, "1") {
		if e.Type() == "message" {
			t.Errorf("non-member 2 got room message %v", e)
		}
	}
	// Typing in a room reaches the other members.
	c.MustCall(t, "4", "typing", "room", "lobby")
	e, _ := until(t, pollers["5"], isType("typing"))
	if e["from"] != "4" || e["room"] != "lobby" {
		t.Fatalf("typing = %v", e)
	}
	// Stored: room history has it.
	h := c.MustCall(t, "5", "history", "room", "lobby")
	if msgs := h["messages"].([]any); len(msgs) != 1 || msgs[0].(map[string]any)["text"] != "hello lobby" {
		t.Fatalf("history(lobby) = %v", h)
	}
}

// Rooms larger than chat.room_events_limit get no join/leave events and list
// at most that many users, but count them all.
func TestRoomEventsLimit(t *testing.T) {
	t.Parallel()
	_, c := start(t, testsvc.Options{Chat: "room_events_limit = 2", Grace: longGrace})
	p1 := c.NewPoller(t, "1")
	roomCall(t, c, "1", "join", "lobby")
	roomCall(t, c, "2", "join", "lobby")
	e, _ := until(t, p1, isType("user_joined"))
	if e["user"].(map[string]any)["user_id"] != "2" {
		t.Fatalf("user_joined = %v; want 2", e)
	}
	a := roomCall(t, c, "3", "join", "lobby") // now 3 members > limit 2
	if a.Room.Count != 3 || len(a.Room.Users) != 2 {
		t.Fatalf("join in a large room: count %d, %d users listed; want 3 and 2", a.Room.Count, len(a.Room.Users))
	}
	roomCall(t, c, "4", "join", "lobby")
	roomCall(t, c, "4", "leave", "lobby")
	for _, ev := range marker(t, c, p1, "5") {
		if ev.Type() == "user_joined" || ev.Type() == "user_left" {
			t.Errorf("event in a room past the limit: %v", ev)
		}
	}
	// Messages still reach everyone.
	c.MustCall(t, "3", "send", "room", "lobby", "text", "big room")
	if e, _ := until(t, p1, isType("message")); messageText(e) != "big room" {
		t.Fatalf("message = %v", e)
	}
}

// A member whose presence ends (no poll for presence.grace, 2s in tests)
// leaves their rooms, and the others are told.
func TestRoomMembersLeaveWhenOffline(t *testing.T) {
	t.Parallel()
	_, c := start(t, testsvc.Options{})
	p3 := c.NewPoller(t, "3")
	roomCall(t, c, "3", "join", "lobby")
	p4 := c.NewPoller(t, "4")
	roomCall(t, c, "4", "join", "lobby")
	p4.Poll(t, 0) // 4 is online once, then stops polling
	var left, offline bool
	until(t, p3, func(e testsvc.Event) bool {
		switch {
		case e.Type() == "user_left":
			if e["room"] != "lobby" || e["user"].(map[string]any)["user_id"] != "4" {
				t.Fatalf("user_left = %v; want 4 left lobby", e)
			}
			left = true
		case e.Type() == "presence" && e["user_id"] == "4" && e["status"] == "offline":
			offline = true
		}
		return left && offline
	})
	if a := roomCall(t, c, "3", "join", "lobby"); fmt.Sprint(a.ids()) != "[3]" {
		t.Fatalf("members after 4 went offline = %v; want [3]", a.ids())
	}
}

// A user who joins but never polls is not online, so their presence never
// ends by itself: they must not stay a member for ever.
func TestRoomMemberWhoNeverPolls(t *testing.T) {
	t.Parallel()
	_, c := start(t, testsvc.Options{})
	p3 := c.NewPoller(t, "3")
	roomCall(t, c, "3", "join", "lobby")
	roomCall(t, c, "5", "join", "lobby") // 5 never polls
	e, _ := until(t, p3, func(e testsvc.Event) bool { return e.Type() == "user_left" })
	if e["user"].(map[string]any)["user_id"] != "5" {
		t.Fatalf("user_left = %v; want 5", e)
	}
}

// sys waits for the next system_message on p and returns its text.
func sys(t *testing.T, p *testsvc.Poller) string {
	t.Helper()
	e, _ := until(t, p, isType("system_message"))
	if e["room"] != "lobby" {
		t.Errorf("system_message room = %v; want lobby", e["room"])
	}
	s, _ := e["text"].(string)
	return s
}

func TestMuteCommands(t *testing.T) {
	t.Parallel()
	_, c := start(t, testsvc.Options{Grace: longGrace})
	pollers := map[string]*testsvc.Poller{}
	for _, u := range []string{"1", "2", "3", "4"} {
		pollers[u] = c.NewPoller(t, u)
		roomCall(t, c, u, "join", "lobby")
	}
	mod, member, other := pollers["2"], pollers["3"], pollers["4"]

	// /help answers the caller only.
	if r := c.MustCall(t, "3", "send", "room", "lobby", "text", "/help"); r["ok"] != true {
		t.Fatalf("/help = %v; want {ok:true}", r)
	}
	if s := sys(t, member); !strings.Contains(s, "/mute") || !strings.Contains(s, "/unmute") {
		t.Fatalf("/help text = %q", s)
	}

	// A member's /mute is refused, with feedback, and mutes nobody.
	r := c.Call(t, "3", "send", "room", "lobby", "text", "/mute Margaret 5")
	if r.ErrorCode() != "FORBIDDEN" || r.Status != http.StatusForbidden {
		t.Fatalf("member /mute = %d %s; want 403 FORBIDDEN", r.Status, r.Body)
	}
	if s := sys(t, member); !strings.Contains(s, "moderator") {
		t.Errorf("member /mute feedback = %q", s)
	}
	if r := c.Call(t, "3", "send", "room", "lobby", "text", "/unmute Margaret"); r.ErrorCode() != "FORBIDDEN" {
		t.Fatalf("member /unmute = %s; want FORBIDDEN", r.Body)
	}
	c.MustCall(t, "4", "send", "room", "lobby", "text", "still talking")
	// A mod cannot mute an admin.
	if r := c.Call(t, "2", "send", "room", "lobby", "text", "/mute Ada 5"); r.ErrorCode() != "FORBIDDEN" {
		t.Fatalf("mod mutes admin = %s; want FORBIDDEN", r.Body)
	}
	if s := sys(t, mod); !strings.Contains(s, "Ada") {
		t.Errorf("mod mutes admin feedback = %q", s)
	}
	// Nobody can mute themselves.
	c.MustCall(t, "1", "send", "room", "lobby", "text", "/mute Ada 5")
	if s := sys(t, pollers["1"]); !strings.Contains(s, "yourself") {
		t.Errorf("self mute feedback = %q", s)
	}

	// Usage errors and unknown targets are told to the caller.
	for _, tc := range []struct{ cmd, want string }{
		{"/mute Linus", "usage"},
		{"/mute Linus 0", "usage"},
		{"/mute Linus soon", "usage"},
		{"/mute Linus 43201", "usage"},
		{"/mute Nobody 5", "No user"},
		{"/frobnicate", "unknown command"},
	} {
		if r := c.MustCall(t, "2", "send", "room", "lobby", "text", tc.cmd); r["ok"] != true {
			t.Fatalf("%s = %v; want ok", tc.cmd, r)
		}
		if s := sys(t, mod); !strings.Contains(s, tc.want) {
			t.Errorf("%s feedback = %q; want it to mention %q", tc.cmd, s, tc.want)
		}
	}

	// The mod mutes Linus (by id) for 4 seconds.
	if r := c.MustCall(t, "2", "send", "room", "lobby", "text", "/mute 3 4s"); r["ok"] != true {
		t.Fatalf("/mute 3 4s = %v", r)
	}
	if s := sys(t, mod); !strings.Contains(s, "Linus") || !strings.Contains(s, "muted") {
		t.Errorf("/mute feedback = %q", s)
	}
	e, _ := until(t, other, isType("user_muted"))
	if e["room"] != "lobby" || e["user_id"] != "3" || e["mins"] != float64(1) {
		t.Fatalf("user_muted = %v; want lobby, 3, mins 1", e)
	}
	exp, err := time.Parse(time.RFC3339, e["expires_at"].(string))
	if err != nil || exp.Before(time.Now().Add(-5*time.Second)) || exp.After(time.Now().Add(10*time.Second)) {
		t.Fatalf("user_muted.expires_at = %v (%v); want about 4s from now", e["expires_at"], err)
	}
	if e, _ := until(t, member, isType("user_muted")); e["user_id"] != "3" {
		t.Fatalf("muted user's own user_muted = %v", e)
	}
	// Muted: send refused with the time left; other rooms unaffected.
	r = c.Call(t, "3", "send", "room", "lobby", "text", "can I talk?")
	if r.ErrorCode() != "MUTED" || r.Status != http.StatusForbidden {
		t.Fatalf("muted send = %d %s; want 403 MUTED", r.Status, r.Body)
	}
	var body struct {
		Error struct {
			RetryAfter int `json:"retry_after"`
		} `json:"error"`
	}
	r.JSON(t, &body)
	if body.Error.RetryAfter < 1 || body.Error.RetryAfter > 4 || r.Header.Get("Retry-After") != strconv.Itoa(body.Error.RetryAfter) {
		t.Fatalf("MUTED retry_after = %d, Retry-After %q; want 1..4 and equal", body.Error.RetryAfter, r.Header.Get("Retry-After"))
	}
	roomCall(t, c, "3", "join", "help")
	c.MustCall(t, "3", "send", "room", "help", "text", "muted only in lobby")
	c.MustCall(t, "3", "send", "to", "4", "text", "direct messages still work")
	// Moderators see the mute in join; members do not.
	a := roomCall(t, c, "1", "join", "lobby")
	if m := a.Room.Mutes["3"]; m == nil || m["mins"] != float64(1) || m["expires_at"] != e["expires_at"] {
		t.Fatalf("admin's join mutes = %s; want 3 with mins 1", a.Room.Raw["mutes"])
	}
	if a := roomCall(t, c, "4", "join", "lobby"); a.Room.Raw["mutes"] != nil {
		t.Fatalf("member's join shows mutes %s", a.Room.Raw["mutes"])
	}

	// The mute ends by itself: the room is told, and Linus may talk.
	e, _ = until(t, other, isType("user_unmuted"))
	if e["room"] != "lobby" || e["user_id"] != "3" {
		t.Fatalf("user_unmuted = %v", e)
	}
	c.MustCall(t, "3", "send", "room", "lobby", "text", "free again")
	if a := roomCall(t, c, "1", "join", "lobby"); string(a.Room.Raw["mutes"]) != "{}" {
		t.Fatalf("mutes after expiry = %s; want {}", a.Room.Raw["mutes"])
	}

	// By name (any case), then /unmute by name ends it at once.
	c.MustCall(t, "1", "send", "room", "lobby", "text", "/mute margaret 10")
	e, _ = until(t, member, isType("user_muted"))
	if e["user_id"] != "4" || e["mins"] != float64(10) {
		t.Fatalf("user_muted = %v; want 4 for 10 minutes", e)
	}
	if r := c.Call(t, "4", "send", "room", "lobby", "text", "hm"); r.ErrorCode() != "MUTED" {
		t.Fatalf("muted send = %s", r.Body)
	}
	c.MustCall(t, "2", "send", "room", "lobby", "text", "/unmute Margaret")
	if s := sys(t, mod); !strings.Contains(s, "no longer muted") {
		t.Errorf("/unmute feedback = %q", s)
	}
	if e, _ := until(t, member, isType("user_unmuted")); e["user_id"] != "4" {
		t.Fatalf("user_unmuted = %v", e)
	}
	c.MustCall(t, "4", "send", "room", "lobby", "text", "thanks")
	c.MustCall(t, "2", "send", "room", "lobby", "text", "/unmute Margaret")
	if s := sys(t, mod); !strings.Contains(s, "was not muted") {
		t.Errorf("second /unmute feedback = %q", s)
	}

	// Commands are not stored as messages.
	h := c.MustCall(t, "1", "history", "room", "lobby")
	var texts []string
	for _, m := range h["messages"].([]any) {
		texts = append(texts, m.(map[string]any)["text"].(string))
	}
	if got := strings.Join(texts, "|"); got != "still talking|free again|thanks" {
		t.Fatalf("lobby history = %q; want only the real messages", got)
	}
}

// Mutes are stored: a restart keeps them, with their expiry.
func TestMuteSurvivesRestart(t *testing.T) {
	t.Parallel()
	p, c := start(t, testsvc.Options{Grace: longGrace})
	roomCall(t, c, "2", "join", "lobby")
	roomCall(t, c, "3", "join", "lobby")
	c.MustCall(t, "2", "send", "room", "lobby", "text", "/mute Linus 30")
	before := roomCall(t, c, "2", "join", "lobby").Room.Mutes["3"]
	if before == nil {
		t.Fatal("no mute before restart")
	}
	p.Stop()
	p.Start()
	r := c.Call(t, "3", "send", "room", "lobby", "text", "after restart")
	if r.ErrorCode() != "MUTED" {
		t.Fatalf("send after restart = %s; want MUTED", r.Body)
	}
	var body struct {
		Error struct {
			RetryAfter int `json:"retry_after"`
		} `json:"error"`
	}
	r.JSON(t, &body)
	if body.Error.RetryAfter < 25*60 || body.Error.RetryAfter > 30*60 {
		t.Fatalf("retry_after after restart = %d; want about 30 minutes", body.Error.RetryAfter)
	}
	after := roomCall(t, c, "2", "join", "lobby").Room.Mutes["3"]
	if fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("mute after restart = %v; want %v", after, before)
	}
	// And /unmute after the restart removes the stored mute for good.
	c.MustCall(t, "2", "send", "room", "lobby", "text", "/unmute 3")
	c.MustCall(t, "3", "send", "room", "lobby", "text", "free")
	p.Stop()
	p.Start()
	c.MustCall(t, "3", "send", "room", "lobby", "text", "still free")
}

func retryAfter(t *testing.T, r *testsvc.Response) int {
	t.Helper()
	var body struct {
		Error struct {
			RetryAfter int `json:"retry_after"`
		} `json:"error"`
	}
	r.JSON(t, &body)
	return body.Error.RetryAfter
}

// The token bucket: burst sends pass, the next is RATE_LIMITED with a
// retry time, and after that time sends pass again.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	_, c := start(t, testsvc.Options{Chat: "rate = 1\nburst = 3"})
	for i := 0; i < 3; i++ {
		c.MustCall(t, "3", "send", "to", "4", "text", fmt.Sprintf("burst %d", i))
	}
	r := c.Call(t, "3", "send", "to", "4", "text", "one too many")
	if r.ErrorCode() != "RATE_LIMITED" || r.Status != http.StatusTooManyRequests {
		t.Fatalf("4th send = %d %s; want 429 RATE_LIMITED", r.Status, r.Body)
	}
	wait := retryAfter(t, r)
	if wait < 1 || r.Header.Get("Retry-After") != strconv.Itoa(wait) {
		t.Fatalf("retry_after = %d, Retry-After %q", wait, r.Header.Get("Retry-After"))
	}
	// Chat requests, joins and room commands share the bucket; JSONP gets 200.
	if r := c.Call(t, "3", "request", "to", "5", "text", "hi"); r.ErrorCode() != "RATE_LIMITED" {
		t.Fatalf("request when limited = %s", r.Body)
	}
	if r := c.Call(t, "3", "join", "room", "lobby"); r.ErrorCode() != "RATE_LIMITED" {
		t.Fatalf("join when limited = %s", r.Body)
	}
	if r := c.Call(t, "3", "send", "room", "lobby", "text", "/help"); r.ErrorCode() != "RATE_LIMITED" {
		t.Fatalf("command when limited = %s", r.Body)
	}
	v := c.Ident("3")
	v.Set("to", "4")
	v.Set("text", "jsonp")
	v.Set("callback", "cb")
	if r := c.Do(t, "GET", "/v1/send", v); r.Status != 200 || !strings.Contains(string(r.Body), "RATE_LIMITED") {
		t.Fatalf("JSONP when limited = %d %s", r.Status, r.Body)
	}
	// Others, polls and history are not limited.
	c.MustCall(t, "4", "send", "to", "3", "text", "not me")
	c.MustCall(t, "3", "poll")
	c.MustCall(t, "3", "history", "with", "4")
	// Refused sends stored nothing.
	h := c.MustCall(t, "4", "history", "with", "3")
	if n := len(h["messages"].([]any)); n != 4 {
		t.Fatalf("history has %d messages; want 3 + 1", n)
	}
	// It recovers: after retry_after, a send passes (bounded retries).
	time.Sleep(time.Duration(wait) * time.Second)
	for i := 0; ; i++ {
		r := c.Call(t, "3", "send", "to", "4", "text", "after the wait")
		if r.ErrorCode() == "" {
			break
		}
		if r.ErrorCode() != "RATE_LIMITED" || i == 10 {
			t.Fatalf("send after waiting = %s", r.Body)
		}
		time.Sleep(time.Duration(retryAfter(t, r)) * time.Second)
	}
}

func TestRateLimitOff(t *testing.T) {
	t.Parallel()
	_, c := start(t, testsvc.Options{Chat: "rate = 0\nburst = 1"})
	for i := 0; i < 30; i++ {
		c.MustCall(t, "3", "send", "to", "4", "text", fmt.Sprintf("fast %d", i))
	}
	for i := 0; i < 5; i++ {
		c.MustCall(t, "3", "request", "to", "5", "text", "again")
	}
}

func TestBannedWords(t *testing.T) {
	t.Parallel()
	_, c := start(t, testsvc.Options{Chat: `banned_words = ["darn", "heck", "dang it", "дурак", "c++"]`})
	cases := []struct{ in, want string }{
		{"darn", "****"},
		{"Darn it, what the HECK!", "**** it, what the ****!"},
		{"darned heckle undarn", "darned heckle undarn"},
		{"oh dang it all", "oh ******* all"},
		{"(darn)/heck.", "(****)/****."},
		{"ты дурак!", "ты *****!"},
		{"дураки", "дураки"},
		{"I like c++ a lot", "I like *** a lot"},
	}
	p4 := c.NewPoller(t, "4")
	for _, tc := range cases {
		r := c.MustCall(t, "3", "send", "to", "4", "text", tc.in)
		if got := r["message"].(map[string]any)["text"]; got != tc.want {
			t.Errorf("send(%q).text = %q; want %q", tc.in, got, tc.want)
		}
		e, _ := until(t, p4, isType("message"))
		if got := messageText(e); got != tc.want {
			t.Errorf("delivered %q as %q; want %q", tc.in, got, tc.want)
		}
	}
	roomCall(t, c, "3", "join", "lobby")
	if r := c.MustCall(t, "3", "send", "room", "lobby", "text", "darn room"); r["message"].(map[string]any)["text"] != "**** room" {
		t.Errorf("room send = %v", r)
	}
	h := c.MustCall(t, "4", "history", "with", "3")
	for _, m := range h["messages"].([]any) {
		if strings.Contains(strings.ToLower(m.(map[string]any)["text"].(string)), "darn ") {
			t.Errorf("stored unmasked: %v", m)
		}
	}
	c.MustCall(t, "3", "request", "to", "5", "text", "heck, talk?")
	reqs := c.MustCall(t, "5", "hello")["requests"].([]any)
	if len(reqs) != 1 || reqs[0].(map[string]any)["text"] != "****, talk?" {
		t.Errorf("request text = %v; want masked", reqs)
	}
}

func blockCall(t *testing.T, c *testsvc.Client, uid string, params ...string) []string {
	t.Helper()
	m := c.MustCall(t, uid, "block", params...)
	if m["ok"] != true {
		t.Fatalf("block %v = %v", params, m)
	}
	var out []string
	for _, v := range m["blocked"].([]any) {
		out = append(out, v.(string))
	}
	return out
}

// A blocked user's messages, requests and typing do not reach the blocker,
// and the sender is not told.
func TestBlockList(t *testing.T) {
	t.Parallel()
	p, c := start(t, testsvc.Options{Grace: longGrace})
	blocker := c.NewPoller(t, "4")
	sender := c.NewPoller(t, "3")

	if got := blockCall(t, c, "4"); len(got) != 0 {
		t.Fatalf("initial block list = %v", got)
	}
	if got := blockCall(t, c, "4", "user_id", "3", "block", "1"); fmt.Sprint(got) != "[3]" {
		t.Fatalf("block 3 = %v", got)
	}
	if got := blockCall(t, c, "4", "user_id", "5", "block", "1"); fmt.Sprint(got) != "[3 5]" {
		t.Fatalf("block 5 = %v", got)
	}
	if got := blockCall(t, c, "4", "user_id", "5", "block", "0"); fmt.Sprint(got) != "[3]" {
		t.Fatalf("unblock 5 = %v", got)
	}
	for _, tc := range []struct {
		params []string
		code   string
	}{
		{[]string{"user_id", "4", "block", "1"}, "BAD_REQUEST"},
		{[]string{"block", "1"}, "BAD_REQUEST"},
		{[]string{"user_id", "3", "block", "maybe"}, "BAD_REQUEST"},
	} {
		if r := c.Call(t, "4", "block", tc.params...); r.ErrorCode() != tc.code {
			t.Errorf("block %v = %s; want %s", tc.params, r.Body, tc.code)
		}
	}

	// The sender sees nothing unusual.
	r := c.MustCall(t, "3", "send", "to", "4", "text", "blocked message", "client_id", "b1")
	if r["message"].(map[string]any)["text"] != "blocked message" {
		t.Fatalf("blocked send answer = %v", r)
	}
	if e, _ := until(t, sender, isType("message")); messageText(e) != "blocked message" {
		t.Fatalf("sender's own stream = %v", e)
	}
	if r := c.MustCall(t, "3", "request", "to", "4", "text", "let's talk"); r["ok"] != true {
		t.Fatalf("blocked request answer = %v", r)
	}
	c.MustCall(t, "3", "typing", "to", "4")
	roomCall(t, c, "3", "join", "lobby")
	roomCall(t, c, "4", "join", "lobby")
	c.MustCall(t, "3", "send", "room", "lobby", "text", "blocked in the room")
	c.MustCall(t, "3", "typing", "room", "lobby")
	for _, e := range marker(t, c, blocker, "5") {
		switch e.Type() {
		case "message", "chat_request", "typing":
			t.Errorf("blocker got %v from a blocked user", e)
		}
	}
	// Not in hello, history or the eStreamChat command either.
	hello := c.MustCall(t, "4", "hello")
	if reqs := hello["requests"].([]any); len(reqs) != 0 {
		t.Errorf("hello.requests = %v", reqs)
	}
	for _, cv := range hello["conversations"].([]any) {
		if cv.(map[string]any)["with"] == "3" {
			t.Errorf("hello lists the blocked user's conversation: %v", cv)
		}
	}
	for _, q := range [][]string{{"with", "3"}, {"room", "lobby"}} {
		h := c.MustCall(t, "4", "history", q...)
		if msgs := h["messages"].([]any); len(msgs) != 0 {
			t.Errorf("history %v = %v; want nothing from 3", q, msgs)
		}
	}
	v := c.Ident("4")
	v.Set("callback", "cb")
	if r := c.Do(t, "GET", "/MessengerCommand.ashx", v); string(r.Body) != "/**/cb(null);" {
		t.Errorf("MessengerCommand = %s; want null", r.Body)
	}
	// Others in the room still get the blocked user's messages.
	if h := c.MustCall(t, "5", "history", "room", "lobby"); len(h["messages"].([]any)) != 1 {
		t.Errorf("third party's room history = %v", h)
	}
	// The blocker's messages still reach the blocked user.
	c.MustCall(t, "4", "send", "to", "3", "text", "one-way")
	until(t, sender, func(e testsvc.Event) bool { return messageText(e) == "one-way" })

	// The block is stored: after a restart it still holds.
	p.Stop()
	p.Start()
	blocker = c.NewPoller(t, "4")
	c.MustCall(t, "3", "send", "to", "4", "text", "after restart")
	for _, e := range marker(t, c, blocker, "5") {
		if e.Type() == "message" {
			t.Errorf("after restart the blocker got %v", e)
		}
	}
	// Unblocking lets new messages through.
	if got := blockCall(t, c, "4", "user_id", "3", "block", "0"); len(got) != 0 {
		t.Fatalf("unblock = %v", got)
	}
	c.MustCall(t, "3", "send", "to", "4", "text", "unblocked")
	if e, _ := until(t, blocker, isType("message")); messageText(e) != "unblocked" {
		t.Fatalf("after unblock = %v", e)
	}
	// POST works as well as GET.
	form := c.Ident("4")
	form.Set("user_id", "3")
	form.Set("block", "1")
	if r := c.Do(t, "POST", "/v1/block", form); r.Status != 200 || !strings.Contains(string(r.Body), `"blocked":["3"]`) {
		t.Fatalf("POST block = %d %s", r.Status, r.Body)
	}
}

// Only roles from the user source give moderation rights, and a moderator
// may mute only users ranked below them: owner > admin > mod > member.
func TestMuteRanks(t *testing.T) {
	t.Parallel()
	var users strings.Builder
	users.WriteString("[users]\nsource = \"static\"\n")
	for _, u := range []struct{ id, name, role string }{
		{"10", "Olive", "owner"}, {"11", "Adam", "admin"}, {"12", "Mona", "mod"}, {"13", "Milo", "mod"}, {"14", "Pat", "member"}, {"15", "Sam", "member"},
	} {
		fmt.Fprintf(&users, "[[users.static]]\nuser_id = %q\nname = %q\nrole = %q\n", u.id, u.name, u.role)
	}
	_, c := start(t, testsvc.Options{Grace: longGrace, Users: users.String()})
	for _, u := range []string{"10", "11", "12", "13", "14", "15"} {
		roomCall(t, c, u, "join", "lobby")
	}
	for _, tc := range []struct {
		by, target string
		ok         bool
	}{
		{"10", "Adam", true},
		{"11", "Olive", false},
		{"11", "Mona", true},
		{"12", "Milo", false},
		{"12", "Adam", false},
		{"12", "Pat", true},
		{"14", "Sam", false},
		{"13", "15", true},
	} {
		r := c.Call(t, tc.by, "send", "room", "lobby", "text", "/mute "+tc.target+" 10")
		if got := r.ErrorCode() == ""; got != tc.ok {
			t.Errorf("/mute %s by %s = %d %s; want allowed %v", tc.target, tc.by, r.Status, r.Body, tc.ok)
		}
	}
	// Who ended up muted, as an admin's join shows it.
	a := roomCall(t, c, "11", "join", "lobby")
	var muted []string
	for id := range a.Room.Mutes {
		muted = append(muted, id)
	}
	sort.Strings(muted)
	if fmt.Sprint(muted) != "[11 12 14 15]" {
		t.Fatalf("muted = %v; want [11 12 14 15]", muted)
	}
	// A muted moderator keeps moderating but cannot talk.
	if r := c.Call(t, "11", "send", "room", "lobby", "text", "hello"); r.ErrorCode() != "MUTED" {
		t.Fatalf("muted admin's send = %s; want MUTED", r.Body)
	}
	if r := c.MustCall(t, "11", "send", "room", "lobby", "text", "/unmute Pat"); r["ok"] != true {
		t.Fatalf("muted admin's /unmute = %v", r)
	}
	c.MustCall(t, "14", "send", "room", "lobby", "text", "thanks")
	// /unmute follows the same ranks: not oneself, not a peer or a superior.
	for _, tc := range []struct{ by, target string }{{"11", "Adam"}, {"12", "Adam"}, {"13", "Mona"}} {
		if r := c.Call(t, tc.by, "send", "room", "lobby", "text", "/unmute "+tc.target); r.ErrorCode() != "FORBIDDEN" {
			t.Errorf("/unmute %s by %s = %s; want FORBIDDEN", tc.target, tc.by, r.Body)
		}
	}
	if r := c.Call(t, "11", "send", "room", "lobby", "text", "still muted?"); r.ErrorCode() != "MUTED" {
		t.Fatalf("admin after refused unmutes = %s; want MUTED", r.Body)
	}
	c.MustCall(t, "10", "send", "room", "lobby", "text", "/unmute Adam")
	c.MustCall(t, "11", "send", "room", "lobby", "text", "free")
}

// The default limits (5 a second, burst 20) let 20 quick messages through
// and stop a flood.
func TestRateLimitDefaults(t *testing.T) {
	t.Parallel()
	_, c := start(t, testsvc.Options{})
	passed := 0
	for i := 0; i < 200; i++ {
		r := c.Call(t, "3", "send", "to", "4", "text", fmt.Sprintf("flood %d", i))
		if r.ErrorCode() == "RATE_LIMITED" {
			if passed < 20 {
				t.Fatalf("limited after %d messages; want at least the burst of 20", passed)
			}
			return
		}
		if r.ErrorCode() != "" {
			t.Fatalf("send #%d = %s", i, r.Body)
		}
		passed++
	}
	t.Fatalf("200 messages in a row passed the default limit")
}
