package browser

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"pollchat/internal/testsvc"
)

// moderatorLink asks the backend API for a moderator session link.
func moderatorLink(t *testing.T, base, body string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/api/v1/moderator/sessions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(testsvc.APILogin, testsvc.APIPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out struct {
		URL       string `json:"url"`
		ExpiresAt string `json:"expires_at"`
	}
	if resp.StatusCode != 201 || json.Unmarshal(b, &out) != nil || out.URL == "" || out.ExpiresAt == "" {
		t.Fatalf("POST /api/v1/moderator/sessions = %d %s; want 201 {url, expires_at}", resp.StatusCode, b)
	}
	return out.URL
}

// The moderation console in Chromium (issue 16.1): a moderator link opens
// it (once), it shows an online user (a widget open in another tab), a room
// message arriving live, a report in the queue with its context; resolving
// it shows the audit entry by that moderator.
func TestAdminConsole(t *testing.T) {
	e := newEnv(t, testsvc.Options{Chat: "rate = 0"})
	c := testsvc.NewClient(e.pc.URL)

	widget := e.newTab("widget")
	widget.open(hostPage{User: "3"})

	link := moderatorLink(t, e.pc.URL, `{"user_id":"2","name":"Grace","ttl":600}`)
	console := e.newTab("console")
	console.navigate(link)
	console.waitTrue("on the console", `location.pathname === '/admin' && !!document.getElementById('online')`)
	console.waitTrue("moderator named", `document.getElementById('who').textContent.indexOf('Grace') >= 0`)
	if eval[bool](console, `document.cookie.indexOf('pollchat_mod') >= 0`) {
		t.Error("the session cookie is readable by scripts; want HttpOnly")
	}
	console.waitTrue("Linus online", `document.getElementById('online').textContent.indexOf('Linus (3)') >= 0`)

	// A room message appears in the live feed without a reload.
	c.MustCall(t, "4", "join", "room", "lobby")
	c.MustCall(t, "3", "join", "room", "lobby")
	c.MustCall(t, "4", "send", "room", "lobby", "text", "before the bad one")
	sent := c.MustCall(t, "4", "send", "room", "lobby", "text", "<b>buy pills</b> now")
	console.waitTrue("message in the feed", `document.getElementById('feed').textContent.indexOf('<b>buy pills</b> now') >= 0`)
	if n := eval[int](console, `document.querySelectorAll('#feed b').length`); n != 0 {
		t.Errorf("the feed rendered message text as HTML (%d <b> elements)", n)
	}

	// Linus reports it; the queue shows it with its context.
	id := int64(sent["message"].(map[string]any)["id"].(float64))
	rep := c.Call(t, "3", "report", "message_id", itoa(int(id)), "room", "lobby", "reason", "spam")
	if rep.Status != 200 || rep.ErrorCode() != "" {
		t.Fatalf("report = %d %s", rep.Status, rep.Body)
	}
	console.waitTrue("report in the queue", `document.getElementById('reports').textContent.indexOf('Reason: spam') >= 0`)
	console.waitTrue("report context", `document.querySelector('#reports .context') && document.querySelector('#reports .context').textContent.indexOf('before the bad one') >= 0`)
	console.waitTrue("report count", `document.getElementById('reports-count').textContent === '1'`)

	console.do(`document.querySelector('#reports input').value = 'warned the sender'`)
	console.click(`#reports button.resolve`)
	console.waitTrue("audit entry", `(function(){ var t = document.getElementById('audit').textContent; return t.indexOf('resolve_report') >= 0 && t.indexOf('Grace (2)') >= 0 && t.indexOf('warned the sender') >= 0; })()`)

	// The link was spent: opening it again is refused.
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("second use of the link = %d; want 403", resp.StatusCode)
	}
	if logs := console.logs.String(); strings.Contains(logs, "exception") {
		t.Errorf("console page threw:\n%s", logs)
	}
}

// admin.js is ES5, as the widget.
func TestAdminScriptIsES5(t *testing.T) {
	modules := nodeModules(t)
	dir := t.TempDir()
	check := filepath.Join(dir, "es5check.js")
	if err := os.WriteFile(check, []byte(es5Check), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("node", check, filepath.Join(modules, "acorn"), filepath.Join(testsvc.RepoRoot(), "assets", "admin.js")).CombinedOutput()
	if err != nil {
		t.Fatalf("admin.js is not ES5: %v\n%s", err, out)
	}
}
