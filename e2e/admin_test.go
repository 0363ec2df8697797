package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"pollchat/internal/testsvc"
)

// apiMessage is a message of a history answer.
type apiMessage struct {
	ID      int64  `json:"id"`
	From    string `json:"from"`
	To      string `json:"to"`
	Room    string `json:"room"`
	Text    string `json:"text"`
	Deleted bool   `json:"deleted"`
}

type apiPage struct {
	Messages []apiMessage `json:"messages"`
	HasMore  bool         `json:"has_more"`
}

func getPage(t *testing.T, base, query string) apiPage {
	t.Helper()
	r := api(t, base, "GET", "/api/v1/messages?"+query, "", authGood)
	if r.Status != 200 {
		t.Fatalf("GET /api/v1/messages?%s = %d %s", query, r.Status, r.Body)
	}
	var p apiPage
	r.JSON(t, &p)
	return p
}

// Backend history (issue 15.2): pages of a conversation and of a room,
// the same shape as /v1/history, and clear refusals of bad input.
func TestAPIHistory(t *testing.T) {
	p := testsvc.StartPollchat(t, testsvc.Options{Chat: "rate = 0"})
	c := testsvc.NewClient(p.URL)
	for i := 0; i < 5; i++ {
		c.MustCall(t, "3", "send", "to", "4", "text", fmt.Sprintf("direct %d", i))
	}
	c.MustCall(t, "3", "join", "room", "lobby")
	c.MustCall(t, "3", "send", "room", "lobby", "text", "hello room")

	pg := getPage(t, p.URL, "user_id=4&with=3&limit=3")
	if len(pg.Messages) != 3 || !pg.HasMore || pg.Messages[2].Text != "direct 4" || pg.Messages[0].Text != "direct 2" {
		t.Fatalf("newest page = %+v; want direct 2..4 and has_more", pg)
	}
	older := getPage(t, p.URL, fmt.Sprintf("user_id=3&with=4&limit=3&before=%d", pg.Messages[0].ID))
	if len(older.Messages) != 2 || older.HasMore || older.Messages[0].Text != "direct 0" {
		t.Fatalf("older page = %+v; want direct 0..1, no more", older)
	}
	browser := c.MustCall(t, "4", "history", "with", "3", "limit", "3")
	bj, _ := json.Marshal(browser["messages"])
	aj, _ := json.Marshal(pg.Messages)
	var bm []apiMessage
	json.Unmarshal(bj, &bm)
	if bj2, _ := json.Marshal(bm); string(bj2) != string(aj) {
		t.Errorf("backend page %s differs from /v1/history %s", aj, bj2)
	}
	room := getPage(t, p.URL, "room=lobby")
	if len(room.Messages) != 1 || room.Messages[0].Text != "hello room" || room.Messages[0].Room != "lobby" {
		t.Fatalf("room page = %+v", room)
	}
	for _, tc := range []struct{ query, code string }{
		{"user_id=3&with=4&room=lobby", "BAD_REQUEST"},
		{"user_id=3", "BAD_REQUEST"},
		{"with=4", "BAD_REQUEST"},
		{"user_id=3&with=4&limit=0", "BAD_REQUEST"},
		{"user_id=3&with=4&limit=101", "BAD_REQUEST"},
		{"user_id=3&with=4&before=-1", "BAD_REQUEST"},
		{"user_id=3&with=4&before=x", "BAD_REQUEST"},
		{"user_id=3&with=3", "BAD_REQUEST"},
		{"room=nope", "NOT_FOUND"},
		{"user_id=" + strings.Repeat("9", 100) + "&with=4", "BAD_REQUEST"},
	} {
		r := api(t, p.URL, "GET", "/api/v1/messages?"+tc.query, "", authGood)
		if r.ErrorCode() != tc.code {
			t.Errorf("GET /api/v1/messages?%s = %d %s; want %s", tc.query, r.Status, r.Body, tc.code)
		}
	}
	if r := api(t, p.URL, "GET", "/api/v1/messages?room=lobby", "", authNone); r.Status != 401 || r.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("without auth = %d %s; want 401 with a challenge", r.Status, r.Body)
	}
}

// The member directory (issue 18.7) on the static source: a name prefix
// finds the member, the caller is left out, bad queries and missing
// identities are refused.
// TestDirectoryRateLimited: searches draw from the caller's own rate
// limit, so one user's loop is refused before it spends the host's budget,
// while another user still searches.
func TestDirectoryRateLimited(t *testing.T) {
	p := testsvc.StartPollchat(t, testsvc.Options{Chat: "rate = 0.01\nburst = 2"})
	c := testsvc.NewClient(p.URL)
	limited := 0
	for i := 0; i < 6; i++ {
		if r := c.Call(t, "3", "directory", "q", "gra"); r.ErrorCode() == "RATE_LIMITED" {
			limited++
		} else if r.Status != 200 {
			t.Fatalf("directory #%d = %d %s", i, r.Status, r.Body)
		}
	}
	if limited < 2 {
		t.Fatalf("%d of 6 searches by one user were refused; want the bucket (burst 2, 0.5 a search) to refuse at least 2", limited)
	}
	if r := c.Call(t, "4", "directory", "q", "gra"); r.Status != 200 {
		t.Fatalf("another user's search = %d %s; want 200", r.Status, r.Body)
	}
}

func TestDirectory(t *testing.T) {
	p := testsvc.StartPollchat(t, testsvc.Options{})
	c := testsvc.NewClient(p.URL)
	var got struct {
		Users []struct {
			ID   string `json:"user_id"`
			Name string `json:"name"`
		} `json:"users"`
		Supported bool `json:"supported"`
	}
	r := c.Call(t, "3", "directory", "q", "gra")
	if r.Status != 200 {
		t.Fatalf("directory q=gra = %d %s", r.Status, r.Body)
	}
	r.JSON(t, &got)
	if !got.Supported || len(got.Users) != 1 || got.Users[0].ID != "2" || got.Users[0].Name != "Grace" {
		t.Fatalf("directory q=gra = %s; want Grace only", r.Body)
	}
	r = c.Call(t, "3", "directory", "q", "Linus")
	r.JSON(t, &got)
	if len(got.Users) != 0 {
		t.Errorf("directory q=Linus as Linus = %s; want nobody (not oneself)", r.Body)
	}
	for _, q := range []string{"a", "", strings.Repeat("x", 200), "a\x00b"} {
		if r := c.Call(t, "3", "directory", "q", q); r.ErrorCode() != "BAD_REQUEST" {
			t.Errorf("directory q=%q = %d %s; want BAD_REQUEST", q, r.Status, r.Body)
		}
	}
	if r := c.Call(t, "3", "directory", "q", "gra", "limit", "0"); r.ErrorCode() != "BAD_REQUEST" {
		t.Errorf("directory limit=0 = %s; want BAD_REQUEST", r.Body)
	}
	if r := c.Do(t, "GET", "/v1/directory", url.Values{"q": {"gra"}}); r.ErrorCode() != "AUTH_FAILED" {
		t.Errorf("directory without identity = %d %s; want AUTH_FAILED", r.Status, r.Body)
	}
}

type userExport struct {
	User     string       `json:"user_id"`
	Messages []apiMessage `json:"messages"`
	Blocks   []string     `json:"blocks"`
	Reports  []any        `json:"reports_filed"`
}

// Users' data (issue 16.4) on the embedded store and on MariaDB: export
// gives the user's messages and state; erase leaves tombstones (delete)
// or the text under a pseudonym (anonymize) in both sides' history, the
// export empty afterwards, and pollchat export -user agrees with the API.
func TestUserExportErase(t *testing.T) {
	for _, tc := range []struct {
		name, policy, store string
	}{
		{"embedded/delete", "delete", ""},
		{"bbolt/anonymize", "anonymize", "bbolt"},
		{"mariadb/delete", "delete", "mysql"},
		{"mariadb/anonymize", "anonymize", "mysql"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := testsvc.Options{Chat: "rate = 0", Extra: fmt.Sprintf("[privacy]\nerase = %q\n", tc.policy)}
			switch tc.store {
			case "bbolt":
				o.Store = "[store]\ndriver = \"embedded\"\nengine = \"bbolt\"\npath = \"" + filepath.Join(t.TempDir(), "data") + "\"\n"
			case "mysql":
				dsn := testsvc.SharedMariaDB(t).NewDatabase(t)
				o.Store = fmt.Sprintf("[store]\ndriver = \"mysql\"\ndsn = %q\n", dsn)
			}
			p := testsvc.StartPollchat(t, o)
			c := testsvc.NewClient(p.URL)
			c.MustCall(t, "3", "send", "to", "4", "text", "secret plan")
			c.MustCall(t, "4", "send", "to", "3", "text", "reply to 3")
			c.MustCall(t, "3", "join", "room", "lobby")
			c.MustCall(t, "3", "send", "room", "lobby", "text", "room words of 3")
			c.MustCall(t, "5", "send", "to", "4", "text", "unrelated")
			c.MustCall(t, "3", "block", "user", "5")

			var x userExport
			mustJSON(t, api(t, p.URL, "GET", "/api/v1/users/3/export", "", authGood), &x)
			if x.User != "3" || len(x.Messages) != 3 {
				t.Fatalf("export of 3 = %+v; want its 3 messages", x)
			}
			if r := api(t, p.URL, "GET", "/api/v1/users/3/export", "", authNone); r.Status != 401 {
				t.Errorf("export without auth = %d", r.Status)
			}
			if r := api(t, p.URL, "GET", "/api/v1/users/a%2Cb/export", "", authGood); r.ErrorCode() != "BAD_REQUEST" {
				t.Errorf("export of a bad id = %d %s; want BAD_REQUEST", r.Status, r.Body)
			}

			r := api(t, p.URL, "DELETE", "/api/v1/users/3", "", authGood)
			var er struct {
				OK     bool   `json:"ok"`
				Policy string `json:"policy"`
				Erased struct {
					Messages int `json:"messages"`
				} `json:"erased"`
			}
			mustJSON(t, r, &er)
			if !er.OK || er.Policy != tc.policy || er.Erased.Messages < 3 {
				t.Fatalf("erase = %s", r.Body)
			}
			mustJSON(t, api(t, p.URL, "GET", "/api/v1/users/3/export", "", authGood), &x)
			if len(x.Messages) != 0 || len(x.Blocks) != 0 {
				t.Errorf("export after erase = %+v; want nothing", x)
			}
			room := getPage(t, p.URL, "room=lobby")
			if len(room.Messages) != 1 {
				t.Fatalf("lobby after erase = %+v", room)
			}
			m := room.Messages[0]
			if !strings.HasPrefix(m.From, "erased-") {
				t.Errorf("lobby message from %q after erase; want a pseudonym", m.From)
			}
			if tc.policy == "delete" && (!m.Deleted || m.Text != "") {
				t.Errorf("lobby message after delete-erase = %+v; want a tombstone", m)
			}
			if tc.policy == "anonymize" && (m.Deleted || m.Text != "room words of 3") {
				t.Errorf("lobby message after anonymize-erase = %+v; want the text kept", m)
			}
			peer := getPage(t, p.URL, "user_id=4&with="+m.From)
			if len(peer.Messages) != 2 {
				t.Fatalf("4's conversation with the pseudonym = %+v; want both messages", peer)
			}
			for _, pm := range peer.Messages {
				if tc.policy == "delete" && (pm.Text != "" || !pm.Deleted) {
					t.Errorf("peer's copy after delete-erase = %+v; want a tombstone", pm)
				}
				if tc.policy == "anonymize" && pm.Text == "" {
					t.Errorf("peer's copy after anonymize-erase = %+v; want the text", pm)
				}
			}
			if old := getPage(t, p.URL, "user_id=4&with=3"); len(old.Messages) != 0 {
				t.Errorf("4's conversation with 3 after erase = %+v; want empty", old)
			}
			other := getPage(t, p.URL, "user_id=4&with=5")
			if len(other.Messages) != 1 || other.Messages[0].Text != "unrelated" {
				t.Errorf("an unrelated conversation changed: %+v", other)
			}
			var audit struct {
				Entries []struct {
					Who    string `json:"who"`
					Action string `json:"action"`
					Target struct {
						User string `json:"user"`
					} `json:"target"`
				} `json:"entries"`
			}
			mustJSON(t, api(t, p.URL, "GET", "/api/v1/audit", "", authGood), &audit)
			if len(audit.Entries) == 0 || audit.Entries[0].Action != "erase_user" || audit.Entries[0].Target.User != "3" || audit.Entries[0].Who != "api" {
				t.Errorf("audit after erase = %+v; want erase_user of 3 by api", audit)
			}

			// The command line export reads the same store (the embedded
			// one once the server is stopped).
			p.Stop()
			out, err := exec.Command(testsvc.Binary(t), "export", "-config", p.Config, "-user", "4").Output()
			if err != nil {
				t.Fatalf("pollchat export -user 4: %v", err)
			}
			var x4 userExport
			if err := json.Unmarshal(out, &x4); err != nil {
				t.Fatalf("pollchat export -user 4: %v\n%s", err, out)
			}
			if x4.User != "4" || len(x4.Messages) != 3 {
				t.Errorf("pollchat export -user 4 = %d messages; want 3 (two with the pseudonym, one from 5)", len(x4.Messages))
			}
			if b, err := exec.Command(testsvc.Binary(t), "export", "-config", p.Config, "-user", "4", "-room", "lobby").CombinedOutput(); err == nil {
				t.Errorf("export -user with -room succeeded: %s", b)
			}
		})
	}
}

func mustJSON(t *testing.T, r *testsvc.Response, v any) {
	t.Helper()
	if r.Status != 200 {
		t.Fatalf("status %d %s; want 200", r.Status, r.Body)
	}
	r.JSON(t, v)
}

// Reports (issue 16.3) from the browser endpoint to the backend's queue:
// only participants and members report, bounded reasons, a daily cap, and
// resolving writes the audit log.
func TestReports(t *testing.T) {
	p := testsvc.StartPollchat(t, testsvc.Options{Chat: "rate = 0"})
	c := testsvc.NewClient(p.URL)
	m := c.MustCall(t, "4", "send", "to", "3", "text", "rude words")
	id := fmt.Sprint(int64(m["message"].(map[string]any)["id"].(float64)))
	for _, tc := range []struct {
		uid  string
		args []string
		code string
	}{
		{"5", []string{"message_id", id, "with", "4", "reason", "x"}, "NOT_FOUND"}, // not their conversation
		{"3", []string{"message_id", id, "with", "4", "reason", " "}, "BAD_REQUEST"},
		{"3", []string{"message_id", id, "with", "4", "reason", strings.Repeat("é", 501)}, "TOO_LONG"},
		{"3", []string{"message_id", id, "reason", "x"}, "BAD_REQUEST"},
		{"3", []string{"message_id", "0", "with", "4", "reason", "x"}, "BAD_REQUEST"},
		{"4", []string{"message_id", id, "with", "3", "reason", "x"}, "BAD_REQUEST"},   // own message
		{"3", []string{"message_id", id, "room", "lobby", "reason", "x"}, "FORBIDDEN"}, // not a member
	} {
		if r := c.Call(t, tc.uid, "report", tc.args...); r.ErrorCode() != tc.code {
			t.Errorf("report as %s %v = %d %s; want %s", tc.uid, tc.args, r.Status, r.Body, tc.code)
		}
	}
	if r := c.Do(t, "GET", "/v1/report", url.Values{"message_id": {id}, "with": {"4"}, "reason": {"x"}}); r.ErrorCode() != "AUTH_FAILED" {
		t.Errorf("report without identity = %s", r.Body)
	}
	for i := 0; i < 20; i++ {
		c.MustCall(t, "3", "report", "message_id", id, "with", "4", "reason", fmt.Sprintf("report %d", i))
	}
	if r := c.Call(t, "3", "report", "message_id", id, "with", "4", "reason", "one more"); r.ErrorCode() != "RATE_LIMITED" {
		t.Errorf("21st report of the day = %d %s; want RATE_LIMITED", r.Status, r.Body)
	}
	var list struct {
		Reports []struct {
			ID      int64    `json:"id"`
			Status  string   `json:"status"`
			Between []string `json:"between"`
			Message struct {
				Text string `json:"text"`
				From string `json:"from"`
			} `json:"message"`
		} `json:"reports"`
		NextAfter int64 `json:"next_after"`
	}
	mustJSON(t, api(t, p.URL, "GET", "/api/v1/reports?status=open&limit=5", "", authGood), &list)
	if len(list.Reports) != 5 || list.NextAfter != list.Reports[4].ID || list.Reports[0].Message.Text != "rude words" || list.Reports[0].Message.From != "4" || len(list.Reports[0].Between) != 2 {
		t.Fatalf("reports page = %+v", list)
	}
	first := list.Reports[0].ID
	if r := api(t, p.URL, "POST", fmt.Sprintf("/api/v1/reports/%d/resolve", first), `{"note":"handled"}`, authGood); r.Status != 200 {
		t.Fatalf("resolve = %d %s", r.Status, r.Body)
	}
	if r := api(t, p.URL, "POST", "/api/v1/reports/999999/resolve", `{}`, authGood); r.ErrorCode() != "NOT_FOUND" {
		t.Errorf("resolve of no report = %s", r.Body)
	}
	if r := api(t, p.URL, "GET", "/api/v1/reports?status=maybe", "", authGood); r.ErrorCode() != "BAD_REQUEST" {
		t.Errorf("status=maybe = %s", r.Body)
	}
	mustJSON(t, api(t, p.URL, "GET", "/api/v1/reports?status=resolved", "", authGood), &list)
	if len(list.Reports) != 1 || list.Reports[0].ID != first || list.Reports[0].Status != "resolved" {
		t.Errorf("resolved reports = %+v", list)
	}
	var audit struct {
		Entries []struct {
			Who, Action, Reason string
		} `json:"entries"`
	}
	mustJSON(t, api(t, p.URL, "GET", "/api/v1/audit?limit=1", "", authGood), &audit)
	if len(audit.Entries) != 1 || audit.Entries[0].Action != "resolve_report" || audit.Entries[0].Who != "api" || audit.Entries[0].Reason != "handled" {
		t.Errorf("audit = %+v", audit)
	}
}

// Moderator sessions: ttl bounds, a cookie that opens the console's
// endpoints only, CSRF on writes, and cross-site writes refused.
func TestModeratorSessions(t *testing.T) {
	p := testsvc.StartPollchat(t, testsvc.Options{})
	for _, body := range []string{`{"user_id":"2","ttl":59}`, `{"user_id":"2","ttl":3601}`, `{"ttl":600}`, `{"user_id":"2","ttl":"soon"}`} {
		if r := api(t, p.URL, "POST", "/api/v1/moderator/sessions", body, authGood); r.ErrorCode() != "BAD_REQUEST" {
			t.Errorf("session %s = %d %s; want BAD_REQUEST", body, r.Status, r.Body)
		}
	}
	var s struct {
		URL string `json:"url"`
	}
	r := api(t, p.URL, "POST", "/api/v1/moderator/sessions", `{"user_id":"2"}`, authGood)
	if r.Status != 201 {
		t.Fatalf("session = %d %s", r.Status, r.Body)
	}
	r.JSON(t, &s)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 303 || !strings.HasSuffix(resp.Header.Get("Location"), "/admin") {
		t.Fatalf("link = %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	var cookie string
	for _, sc := range resp.Header.Values("Set-Cookie") {
		if !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Strict") {
			t.Errorf("Set-Cookie %q; want HttpOnly and SameSite=Strict", sc)
		}
		cookie = strings.SplitN(sc, ";", 2)[0]
	}
	do := func(method, path, body string, h map[string]string) *http.Response {
		req, _ := http.NewRequest(method, p.URL+path, strings.NewReader(body))
		req.Header.Set("Cookie", cookie)
		req.Header.Set("Content-Type", "application/json")
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if st := do("GET", "/api/v1/admin/overview", "", nil).StatusCode; st != 200 {
		t.Errorf("overview with the session = %d", st)
	}
	if st := do("GET", "/admin", "", nil).StatusCode; st != 200 {
		t.Errorf("/admin with the session = %d", st)
	}
	if st := do("POST", "/api/v1/tokens", `{"user_id":"1"}`, nil).StatusCode; st != 401 {
		t.Errorf("tokens with a moderator session = %d; want 401 (Basic only)", st)
	}
	if st := do("GET", "/api/v1/users/3/export", "", nil).StatusCode; st != 401 {
		t.Errorf("export with a moderator session = %d; want 401 (Basic only)", st)
	}
	if st := do("POST", "/api/v1/reports/1/resolve", `{}`, nil).StatusCode; st != 403 {
		t.Errorf("resolve without the CSRF header = %d; want 403", st)
	}
	if st := do("POST", "/api/v1/reports/1/resolve", `{}`, map[string]string{"X-Pollchat-Csrf": "wrong"}).StatusCode; st != 403 {
		t.Errorf("resolve with a wrong CSRF header = %d; want 403", st)
	}
	if st := do("GET", "/api/v1/admin/overview", "", map[string]string{"Cookie": "pollchat_mod=x.y"}).StatusCode; st != 401 {
		t.Errorf("a forged cookie = %d; want 401", st)
	}
	req, _ := http.NewRequest("POST", p.URL+"/api/v1/messages", strings.NewReader(`{"to":"4","text":"forged"}`))
	req.SetBasicAuth(testsvc.APILogin, testsvc.APIPassword)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "https://evil.example")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 403 {
		t.Errorf("cross-site POST with cached credentials = %v %v; want 403", resp.StatusCode, err)
	}
	if r := api(t, p.URL, "GET", "/admin", "", authNone); r.Status != 401 || !strings.Contains(r.Header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("/admin without credentials = %d; want 401 with a Basic prompt", r.Status)
	}
	if r := api(t, p.URL, "GET", "/admin", "", authGood); r.Status != 200 || !strings.Contains(string(r.Body), "admin.js") {
		t.Errorf("/admin with Basic auth = %d", r.Status)
	}
}
