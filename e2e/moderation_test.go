package e2e

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"pollchat/internal/testsvc"
)

// Moderation actions (issue 16.2) against the built binary: each changes
// the store, reaches the users concerned on their streams, and is audited.

func auditActions(t *testing.T, base string) []string {
	t.Helper()
	r := api(t, base, "GET", "/api/v1/audit?limit=50", "", authGood)
	if r.Status != 200 {
		t.Fatalf("GET /api/v1/audit = %d %s", r.Status, r.Body)
	}
	var out struct {
		Entries []struct {
			Who, Action, Reason string
			Target              struct {
				User, Room string
				Message    int64
			}
		}
	}
	r.JSON(t, &out)
	var acts []string
	for _, e := range out.Entries {
		acts = append(acts, fmt.Sprintf("%s %s u=%s r=%s m=%d %q", e.Who, e.Action, e.Target.User, e.Target.Room, e.Target.Message, e.Reason))
	}
	return acts
}

func hasEntry(acts []string, prefix string) bool {
	for _, a := range acts {
		if strings.HasPrefix(a, prefix) {
			return true
		}
	}
	return false
}

func TestModerationDeleteMessage(t *testing.T) {
	p := testsvc.StartPollchat(t, testsvc.Options{Chat: "rate = 0"})
	c := testsvc.NewClient(p.URL)
	p3, p4 := c.NewPoller(t, "3"), c.NewPoller(t, "4")
	sent := c.MustCall(t, "3", "send", "to", "4", "text", "rude words")
	id := int64(sent["message"].(map[string]any)["id"].(float64))

	for _, tc := range []struct {
		path, code string
		status     int
	}{
		{"/api/v1/messages/0", "BAD_REQUEST", 400},
		{"/api/v1/messages/x", "BAD_REQUEST", 400},
		{"/api/v1/messages/999999", "NOT_FOUND", 404},
	} {
		if r := api(t, p.URL, "DELETE", tc.path, "", authGood); r.Status != tc.status || r.ErrorCode() != tc.code {
			t.Errorf("DELETE %s = %d %s; want %d %s", tc.path, r.Status, r.Body, tc.status, tc.code)
		}
	}
	if r := api(t, p.URL, "DELETE", fmt.Sprintf("/api/v1/messages/%d", id), "", authNone); r.Status != 401 {
		t.Errorf("DELETE without credentials = %d %s; want 401", r.Status, r.Body)
	}
	r := api(t, p.URL, "DELETE", fmt.Sprintf("/api/v1/messages/%d", id), `{"reason":"insults"}`, authGood)
	if r.Status != 200 {
		t.Fatalf("DELETE message = %d %s", r.Status, r.Body)
	}
	for who, pl := range map[string]*testsvc.Poller{"3": p3, "4": p4} {
		peer := map[string]string{"3": "4", "4": "3"}[who]
		e, _ := pl.WaitFor(t, 10*time.Second, func(e testsvc.Event) bool { return e.Type() == "message_deleted" })
		if e["id"] != float64(id) || e["with"] != peer {
			t.Errorf("%s got %v; want message_deleted id %d with %s", who, e, id, peer)
		}
	}
	h := c.MustCall(t, "4", "history", "with", "3")
	msgs := h["messages"].([]any)
	last := msgs[len(msgs)-1].(map[string]any)
	if last["deleted"] != true || last["text"] != "" {
		t.Errorf("/v1/history last = %v; want deleted, no text", last)
	}
	if strings.Contains(string(api(t, p.URL, "GET", "/api/v1/messages?user_id=3&with=4", "", authGood).Body), "rude words") {
		t.Error("the deleted text is still in the backend history")
	}
	if acts := auditActions(t, p.URL); !hasEntry(acts, fmt.Sprintf(`api delete_message u=3 r= m=%d "insults"`, id)) {
		t.Errorf("audit = %v; want the deletion", acts)
	}

	// A room message reaches every member.
	c.MustCall(t, "3", "join", "room", "lobby")
	c.MustCall(t, "4", "join", "room", "lobby")
	sent = c.MustCall(t, "3", "send", "room", "lobby", "text", "spam in the room")
	rid := int64(sent["message"].(map[string]any)["id"].(float64))
	if r := api(t, p.URL, "DELETE", fmt.Sprintf("/api/v1/messages/%d", rid), "", authGood); r.Status != 200 {
		t.Fatalf("DELETE room message = %d %s", r.Status, r.Body)
	}
	e, _ := p4.WaitFor(t, 10*time.Second, func(e testsvc.Event) bool { return e.Type() == "message_deleted" })
	if e["id"] != float64(rid) || e["room"] != "lobby" {
		t.Errorf("4 got %v; want message_deleted id %d room lobby", e, rid)
	}
}

func TestModerationBan(t *testing.T) {
	p := testsvc.StartPollchat(t, testsvc.Options{Chat: "rate = 0"})
	c := testsvc.NewClient(p.URL)
	p3 := c.NewPoller(t, "3")
	for _, body := range []string{`{"duration":"soon"}`, `{"duration":-5}`, `{"duration":1.5}`, `{"duration":true}`, `{"reason":"` + strings.Repeat("x", 1001) + `"}`} {
		if r := api(t, p.URL, "POST", "/api/v1/users/3/ban", body, authGood); r.Status != 400 {
			t.Errorf("ban %s = %d %s; want 400", body, r.Status, r.Body)
		}
	}
	if r := api(t, p.URL, "DELETE", "/api/v1/users/3/ban", "", authGood); r.Status != 404 {
		t.Errorf("unban of an unbanned user = %d %s; want 404", r.Status, r.Body)
	}
	r := api(t, p.URL, "POST", "/api/v1/users/3/ban", `{"duration":"1h","reason":"spam"}`, authGood)
	if r.Status != 200 {
		t.Fatalf("ban = %d %s", r.Status, r.Body)
	}
	e, _ := p3.WaitFor(t, 10*time.Second, func(e testsvc.Event) bool { return e.Type() == "banned" })
	until, _ := time.Parse(time.RFC3339, fmt.Sprint(e["until"]))
	if e["reason"] != "spam" || until.Before(time.Now().Add(59*time.Minute)) || until.After(time.Now().Add(61*time.Minute)) {
		t.Errorf("banned event = %v; want an hour from now, reason spam", e)
	}
	for _, call := range [][]string{{"send", "to", "4", "text", "hi"}, {"join", "room", "lobby"}, {"request", "to", "4", "text", "hi"}, {"typing", "to", "4"}} {
		r := c.Call(t, "3", call[0], call[1:]...)
		if r.ErrorCode() != "FORBIDDEN" || !strings.Contains(string(r.Body), "banned until") {
			t.Errorf("%v as a banned user = %d %s; want FORBIDDEN banned until", call, r.Status, r.Body)
		}
	}
	c.MustCall(t, "3", "history", "with", "4") // reads stay open
	c.MustCall(t, "4", "send", "to", "3", "text", "others still write")
	var bans struct {
		Bans []struct {
			UserID string `json:"user_id"`
			Reason string
			By     string
		}
	}
	api(t, p.URL, "GET", "/api/v1/bans", "", authGood).JSON(t, &bans)
	if len(bans.Bans) != 1 || bans.Bans[0].UserID != "3" || bans.Bans[0].By != "api" {
		t.Errorf("bans = %+v; want user 3 by api", bans)
	}
	if r := api(t, p.URL, "DELETE", "/api/v1/users/3/ban", `{"reason":"appeal"}`, authGood); r.Status != 200 {
		t.Fatalf("unban = %d %s", r.Status, r.Body)
	}
	p3.WaitFor(t, 10*time.Second, func(e testsvc.Event) bool { return e.Type() == "unbanned" })
	c.MustCall(t, "3", "send", "to", "4", "text", "back again")

	// For ever, and it survives a restart (the store keeps it).
	if r := api(t, p.URL, "POST", "/api/v1/users/3/ban", "", authGood); r.Status != 200 || !strings.Contains(string(r.Body), `"user_id":"3"`) {
		t.Fatalf("ban for ever = %d %s", r.Status, r.Body)
	}
	p.Stop()
	p.Start()
	if r := c.Call(t, "3", "send", "to", "4", "text", "after restart"); r.ErrorCode() != "FORBIDDEN" || !strings.Contains(string(r.Body), "banned for ever") {
		t.Errorf("send after a restart = %d %s; want FORBIDDEN banned for ever", r.Status, r.Body)
	}
	acts := auditActions(t, p.URL)
	for _, want := range []string{`api ban u=3 r= m=0 "spam"`, `api unban u=3 r= m=0 "appeal"`, `api ban u=3 r= m=0 ""`} {
		if !hasEntry(acts, want) {
			t.Errorf("audit = %v; want %s", acts, want)
		}
	}
}

func TestModerationKickAndClear(t *testing.T) {
	p := testsvc.StartPollchat(t, testsvc.Options{Chat: "rate = 0"})
	c := testsvc.NewClient(p.URL)
	p3, p4 := c.NewPoller(t, "3"), c.NewPoller(t, "4")
	c.MustCall(t, "3", "join", "room", "lobby")
	c.MustCall(t, "4", "join", "room", "lobby")
	c.MustCall(t, "3", "send", "room", "lobby", "text", "one")
	c.MustCall(t, "4", "send", "room", "lobby", "text", "two")

	if r := api(t, p.URL, "POST", "/api/v1/rooms/nowhere/kick", `{"user_id":"4"}`, authGood); r.Status != 404 {
		t.Errorf("kick in an unknown room = %d %s; want 404", r.Status, r.Body)
	}
	if r := api(t, p.URL, "POST", "/api/v1/rooms/lobby/kick", `{"user_id":"5"}`, authGood); r.Status != 400 {
		t.Errorf("kick of a non-member = %d %s; want 400", r.Status, r.Body)
	}
	if r := api(t, p.URL, "POST", "/api/v1/rooms/lobby/kick", `{"user_id":4,"reason":"flooding"}`, authGood); r.Status != 200 {
		t.Fatalf("kick = %d %s", r.Status, r.Body)
	}
	e, _ := p4.WaitFor(t, 10*time.Second, func(e testsvc.Event) bool { return e.Type() == "kicked" })
	if e["room"] != "lobby" || e["reason"] != "flooding" {
		t.Errorf("kicked event = %v", e)
	}
	var ov struct {
		Rooms []struct {
			Name    string
			Members []string
		}
	}
	api(t, p.URL, "GET", "/api/v1/admin/overview", "", authGood).JSON(t, &ov)
	for _, r := range ov.Rooms {
		if r.Name == "lobby" && (len(r.Members) != 1 || r.Members[0] != "3") {
			t.Errorf("lobby members after the kick = %v; want [3]", r.Members)
		}
	}

	if r := api(t, p.URL, "POST", "/api/v1/rooms/nowhere/clear", "", authGood); r.Status != 404 {
		t.Errorf("clear of an unknown room = %d %s; want 404", r.Status, r.Body)
	}
	r := api(t, p.URL, "POST", "/api/v1/rooms/lobby/clear", `{"reason":"cleanup"}`, authGood)
	if r.Status != 200 || !strings.Contains(string(r.Body), `"removed":2`) {
		t.Fatalf("clear = %d %s; want removed 2", r.Status, r.Body)
	}
	e, _ = p3.WaitFor(t, 10*time.Second, func(e testsvc.Event) bool { return e.Type() == "room_cleared" })
	if e["room"] != "lobby" {
		t.Errorf("room_cleared event = %v", e)
	}
	if pg := getPage(t, p.URL, "room=lobby"); len(pg.Messages) != 0 {
		t.Errorf("room history after clear = %+v; want none", pg)
	}
	acts := auditActions(t, p.URL)
	for _, want := range []string{`api kick u=4 r=lobby m=0 "flooding"`, `api clear_room u= r=lobby m=0 "cleanup"`} {
		if !hasEntry(acts, want) {
			t.Errorf("audit = %v; want %s", acts, want)
		}
	}
}

// consoleSession opens a moderator session for uid and returns a caller of
// the console's endpoints with its cookie and CSRF header.
func consoleSession(t *testing.T, base, uid string) func(method, path, body string) *testsvc.Response {
	t.Helper()
	r := api(t, base, "POST", "/api/v1/moderator/sessions", `{"user_id":"`+uid+`"}`, authGood)
	var s struct {
		URL string `json:"url"`
	}
	r.JSON(t, &s)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookie := strings.SplitN(resp.Header.Get("Set-Cookie"), ";", 2)[0]
	do := func(method, path, body string) *testsvc.Response {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Cookie", cookie)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return &testsvc.Response{Status: resp.StatusCode, Body: b}
	}
	page := do("GET", "/admin", "")
	m := regexp.MustCompile(`"csrf":"([0-9a-f]+)"`).FindSubmatch(page.Body)
	if m == nil {
		t.Fatalf("no CSRF token in /admin: %s", page.Body)
	}
	csrf := string(m[1])
	return func(method, path, body string) *testsvc.Response {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Cookie", cookie)
		req.Header.Set("X-Pollchat-Csrf", csrf)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return &testsvc.Response{Status: resp.StatusCode, Body: b}
	}
}

// A console session mutes as its site user, so it needs a moderating role
// ranked above the target's; the backend API is tested in
// TestModerationMuteAPI.
func TestModerationMute(t *testing.T) {
	p := testsvc.StartPollchat(t, testsvc.Options{Chat: "rate = 0"})
	c := testsvc.NewClient(p.URL)
	c.MustCall(t, "3", "join", "room", "lobby")
	p3 := c.NewPoller(t, "3")

	linus := consoleSession(t, p.URL, "3")
	if r := linus("GET", "/api/v1/admin/capabilities", ""); !strings.Contains(string(r.Body), `"mute":false`) {
		t.Errorf("capabilities of a member's session = %s; want mute false", r.Body)
	}
	grace := consoleSession(t, p.URL, "2") // role mod
	if r := grace("GET", "/api/v1/admin/capabilities", ""); !strings.Contains(string(r.Body), `"mute":true`) {
		t.Errorf("capabilities of a moderator's session = %s; want mute true", r.Body)
	}
	for _, body := range []string{`{"user_id":"3"}`, `{"user_id":"3","minutes":0}`, `{"user_id":"3","minutes":"x"}`, `{"minutes":5}`, `{"user_id":"3","minutes":999999}`} {
		if r := grace("POST", "/api/v1/rooms/lobby/mute", body); r.Status != 400 {
			t.Errorf("mute %s = %d %s; want 400", body, r.Status, r.Body)
		}
	}
	if r := grace("POST", "/api/v1/rooms/lobby/mute", `{"user_id":"1","minutes":5}`); r.ErrorCode() != "FORBIDDEN" {
		t.Errorf("a mod muting an admin = %d %s; want FORBIDDEN", r.Status, r.Body)
	}
	if r := grace("POST", "/api/v1/rooms/lobby/mute", `{"user_id":"3","minutes":5,"reason":"shouting"}`); r.Status != 200 {
		t.Fatalf("mute = %d %s", r.Status, r.Body)
	}
	p3.WaitFor(t, 10*time.Second, func(e testsvc.Event) bool { return e.Type() == "user_muted" && e["user_id"] == "3" })
	if r := c.Call(t, "3", "send", "room", "lobby", "text", "LOUD"); r.ErrorCode() != "MUTED" {
		t.Errorf("send while muted = %s; want MUTED", r.Body)
	}
	if r := grace("POST", "/api/v1/rooms/lobby/unmute", `{"user_id":"3"}`); r.Status != 200 {
		t.Fatalf("unmute = %d %s", r.Status, r.Body)
	}
	p3.WaitFor(t, 10*time.Second, func(e testsvc.Event) bool { return e.Type() == "user_unmuted" })
	c.MustCall(t, "3", "send", "room", "lobby", "text", "quietly now")
	if r := grace("POST", "/api/v1/rooms/lobby/unmute", `{"user_id":"3"}`); r.Status != 404 {
		t.Errorf("unmute of an unmuted user = %d %s; want 404", r.Status, r.Body)
	}
	acts := auditActions(t, p.URL)
	for _, want := range []string{`2 mute u=3 r=lobby m=0 "shouting"`, `2 unmute u=3 r=lobby`} {
		if !hasEntry(acts, want) {
			t.Errorf("audit = %v; want %s", acts, want)
		}
	}
}

// The backend API (Basic auth) is trusted: it mutes and unmutes through
// chat's own mute path, so the room hears it and the mute holds.
func TestModerationMuteAPI(t *testing.T) {
	p := testsvc.StartPollchat(t, testsvc.Options{Chat: "rate = 0"})
	c := testsvc.NewClient(p.URL)
	c.MustCall(t, "3", "join", "room", "lobby")
	c.MustCall(t, "4", "join", "room", "lobby")
	p4 := c.NewPoller(t, "4")

	if r := api(t, p.URL, "GET", "/api/v1/admin/capabilities", "", authGood); !strings.Contains(string(r.Body), `"mute":true`) {
		t.Errorf("capabilities with Basic auth = %d %s; want mute true", r.Status, r.Body)
	}
	if r := api(t, p.URL, "POST", "/api/v1/rooms/lobby/mute", `{"user_id":"3","minutes":5}`, authWrongPassword); r.Status != 401 {
		t.Errorf("mute with a wrong password = %d %s; want 401", r.Status, r.Body)
	}
	if r := api(t, p.URL, "POST", "/api/v1/rooms/nowhere/mute", `{"user_id":"3","minutes":5}`, authGood); r.Status != 404 {
		t.Errorf("mute in an unknown room = %d %s; want 404", r.Status, r.Body)
	}
	if r := api(t, p.URL, "POST", "/api/v1/rooms/lobby/mute", `{"user_id":"3","minutes":5,"reason":"spam"}`, authGood); r.Status != 200 {
		t.Fatalf("mute with Basic auth = %d %s", r.Status, r.Body)
	}
	p4.WaitFor(t, 10*time.Second, func(e testsvc.Event) bool { return e.Type() == "user_muted" && e["user_id"] == "3" })
	if r := c.Call(t, "3", "send", "room", "lobby", "text", "buy now"); r.ErrorCode() != "MUTED" {
		t.Errorf("send while muted = %s; want MUTED", r.Body)
	}
	if r := api(t, p.URL, "POST", "/api/v1/rooms/lobby/unmute", `{"user_id":"3"}`, authGood); r.Status != 200 {
		t.Fatalf("unmute with Basic auth = %d %s", r.Status, r.Body)
	}
	p4.WaitFor(t, 10*time.Second, func(e testsvc.Event) bool { return e.Type() == "user_unmuted" && e["user_id"] == "3" })
	c.MustCall(t, "3", "send", "room", "lobby", "text", "sorry")
	acts := auditActions(t, p.URL)
	for _, want := range []string{`api mute u=3 r=lobby m=0 "spam"`, `api unmute u=3 r=lobby`} {
		if !hasEntry(acts, want) {
			t.Errorf("audit = %v; want %s", acts, want)
		}
	}
}

// On a cluster (two processes, Redis, MariaDB): an action on one process
// reaches polls held by the other, and a ban made on one holds on the
// other within moderation.BanTTL (3 s) of read-through cache.
func TestModerationCluster(t *testing.T) {
	c := startCluster(t, 2)
	a, b := c.procs[0], c.cls[1]
	p3, p4 := b.NewPoller(t, "3"), b.NewPoller(t, "4")
	sent := b.MustCall(t, "3", "send", "to", "4", "text", "cross-process")
	id := int64(sent["message"].(map[string]any)["id"].(float64))
	if r := api(t, a.URL, "DELETE", fmt.Sprintf("/api/v1/messages/%d", id), "", authGood); r.Status != 200 {
		t.Fatalf("DELETE on the MySQL store = %d %s", r.Status, r.Body)
	}
	if e, _ := p4.WaitFor(t, 10*time.Second, func(e testsvc.Event) bool { return e.Type() == "message_deleted" }); e["id"] != float64(id) {
		t.Errorf("message_deleted on the other process = %v", e)
	}

	if r := api(t, a.URL, "POST", "/api/v1/users/3/ban", `{"duration":600}`, authGood); r.Status != 200 {
		t.Fatalf("ban = %d %s", r.Status, r.Body)
	}
	p3.WaitFor(t, 10*time.Second, func(e testsvc.Event) bool { return e.Type() == "banned" })
	refused := func(want bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			r := b.Call(t, "3", "typing", "to", "4")
			if got := r.ErrorCode() == "FORBIDDEN"; got == want {
				return
			} else if time.Now().After(deadline) {
				t.Fatalf("typing via the other process = %s; want refused %v", r.Body, want)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	refused(true)
	if r := api(t, a.URL, "DELETE", "/api/v1/users/3/ban", "", authGood); r.Status != 200 {
		t.Fatalf("unban = %d %s", r.Status, r.Body)
	}
	refused(false)
}
