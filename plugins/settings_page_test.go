package plugins

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"pollchat/internal/testsvc"
)

// Chromium is Debian's chromium; a missing one fails the test.
const chromiumPath = "/usr/bin/chromium"

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

var reNonce = regexp.MustCompile(`name=["']_wpnonce["'] value=["']([0-9a-f]+)["']`)

// testSettingsPage checks Settings → pollchat: only managers see it, it
// never prints a secret back, options.php refuses a save without the
// nonce, and a save from the real page in Chromium keeps the secrets while
// changing the rest. It leaves a screenshot of the page (docs/).
func testSettingsPage(t *testing.T, s *wpSite) {
	pageURL := s.wp.SiteURL + "/wp-admin/options-general.php?page=pollchat"
	adminCookie, adminPairs := s.cookies(t, s.wp.AdminID)

	code, _, body := httpDo(t, "GET", pageURL, nil, map[string]string{"Cookie": adminCookie})
	html := string(body)
	if code != 200 {
		t.Fatalf("settings page as admin = %d; want 200\n%s", code, html)
	}
	for _, want := range []string{`name="option_page" value="pollchat"`, `name="pollchat_settings[server_url]"`, s.usersURL, `name="pollchat_settings[secret]" value=""`} {
		if !strings.Contains(strings.ReplaceAll(html, "'", `"`), want) {
			t.Errorf("settings page lacks %s", want)
		}
	}
	for _, secret := range []string{testsvc.Secret, usersPassword} {
		if strings.Contains(html, secret) {
			t.Errorf("settings page prints a stored secret (%q)", secret)
		}
	}
	m := reNonce.FindStringSubmatch(html)
	if m == nil {
		t.Fatalf("settings page has no _wpnonce field")
	}
	// The link secret is shown to the admin (to copy into pollchat's
	// auth.link_secret) in a password field; plain http gets a warning.
	if ls := reLinkSecretField.FindStringSubmatch(html); ls == nil || ls[1] != s.linkSecret {
		t.Errorf("settings page link secret field = %v; want a password field holding %q", ls, s.linkSecret)
	}
	if !strings.Contains(html, `id="pollchat_plain_http"`) {
		t.Errorf("settings page with an http:// server URL has no plain-http warning")
	}
	testConnectionButton(t, s, pageURL, adminCookie)

	subCookie, _ := s.cookies(t, s.subscriber)
	if code, _, _ := httpDo(t, "GET", pageURL, nil, map[string]string{"Cookie": subCookie}); code == 200 {
		t.Errorf("settings page as a subscriber = 200; want refused")
	}

	// options.php with a wrong nonce changes nothing.
	form := url.Values{
		"option_page":                   {"pollchat"},
		"action":                        {"update"},
		"_wpnonce":                      {"0123456789"},
		"pollchat_settings[position]":   {"bottom-right"},
		"pollchat_settings[server_url]": {"https://evil.example.com"},
	}
	code, _, _ = httpDo(t, "POST", s.wp.SiteURL+"/wp-admin/options.php", strings.NewReader(form.Encode()),
		map[string]string{"Cookie": adminCookie, "Content-Type": "application/x-www-form-urlencoded"})
	if code != 403 {
		t.Errorf("options.php with a wrong nonce = %d; want 403", code)
	}
	if got := s.settings(t); got["server_url"] != s.pc.URL {
		t.Errorf("after a save with a wrong nonce server_url = %q; want %q", got["server_url"], s.pc.URL)
	}

	// The real page in Chromium: look, change the position, save.
	ctx := browser(t, s.wp.SiteURL, adminPairs)
	// WordPress's admin scripts may still move nodes just after the page
	// shows (its notices are moved below the title), and a node found a
	// moment before is then gone ("No node with given id found"): look
	// again, a few times.
	text := func(a chromedp.Action[string]) string {
		t.Helper()
		var err error
		for range 5 {
			var v string
			if v, err = chromedp.Run(ctx, a); err == nil {
				return v
			}
			if !strings.Contains(err.Error(), "No node with given id") {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("chromium on the settings page: %v", err)
		return ""
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(pageURL),
		chromedp.WaitVisible(chromedp.ID("pollchat_server_url")),
		chromedp.WaitVisible(chromedp.CSS(".wp-picker-container")),
	); err != nil {
		t.Fatalf("chromium on the settings page: %v", err)
	}
	title := text(chromedp.Text(chromedp.CSS(".wrap h1")))
	secretValue := text(chromedp.Value(chromedp.ID("pollchat_secret")))
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("chromium screenshot: %v", err)
	}
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("pollchat_position"), "bottom-right"),
		chromedp.Click(chromedp.ID("submit")),
		chromedp.WaitVisible(chromedp.ID("setting-error-settings_updated")),
	); err != nil {
		t.Fatalf("chromium saving the settings: %v", err)
	}
	notice := text(chromedp.Text(chromedp.ID("setting-error-settings_updated")))
	if title != "pollchat" || secretValue != "" || !strings.Contains(notice, "Settings saved") {
		t.Errorf("in Chromium: title %q, secret field %q, notice %q; want pollchat, empty, Settings saved", title, secretValue, notice)
	}
	saveShot(t, "wordpress-settings.png", shot)
	// The Test connection button in the browser, against the running pollchat.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("pollchat_test_connection")),
		chromedp.WaitVisible(chromedp.ID("pollchat_test_result")),
	); err != nil {
		t.Fatalf("chromium: Test connection: %v", err)
	}
	if st := text(chromedp.Evaluate[string](`document.getElementById("pollchat_test_result").getAttribute("data-status")`)); st != "ok" {
		t.Errorf("Test connection in Chromium: status %q (%s); want ok", st, text(chromedp.Text(chromedp.ID("pollchat_test_result"))))
	}
	got := s.settings(t)
	if got["position"] != "bottom-right" || got["secret"] != testsvc.Secret || got["users_password"] != usersPassword || got["server_url"] != s.pc.URL {
		b, _ := json.Marshal(got)
		t.Errorf("after saving the form in Chromium: %s; want position bottom-right and every secret and the URL kept", b)
	}
}

var (
	reLinkSecretField = regexp.MustCompile(`<input type="password"[^>]*id="pollchat_link_secret"[^>]*value="([^"]*)"`)
	reTestNonce       = regexp.MustCompile(`(?s)value="pollchat_test_connection" />.*?name="_wpnonce" value="([0-9a-f]+)"`)
	reTestResult      = regexp.MustCompile(`id="pollchat_test_result" data-status="([a-z_]+)"><p>([^<]*)</p>`)
)

// testConnectionButton presses Test connection (a POST to admin-post.php
// with the page's nonce, as the button does) with good settings, a wrong API
// password, and an address nobody listens on, and reads the result on the
// settings page. Without the nonce nothing runs.
func testConnectionButton(t *testing.T, s *wpSite, pageURL, adminCookie string) {
	t.Helper()
	press := func(withNonce bool) (int, string, string) {
		t.Helper()
		code, _, body := httpDo(t, "GET", pageURL, nil, map[string]string{"Cookie": adminCookie})
		m := reTestNonce.FindStringSubmatch(string(body))
		if code != 200 || m == nil {
			t.Fatalf("settings page = %d, Test connection nonce %v; want 200 and a nonce", code, m)
		}
		form := url.Values{"action": {"pollchat_test_connection"}, "_wpnonce": {m[1]}}
		if !withNonce {
			form.Set("_wpnonce", "0123456789")
		}
		code, hdr, _ := httpDo(t, "POST", s.wp.SiteURL+"/wp-admin/admin-post.php", strings.NewReader(form.Encode()),
			map[string]string{"Cookie": adminCookie, "Content-Type": "application/x-www-form-urlencoded"})
		if withNonce && (code != 302 || !strings.HasSuffix(hdr.Get("Location"), "options-general.php?page=pollchat")) {
			t.Fatalf("Test connection = %d, Location %q; want a redirect to the settings page", code, hdr.Get("Location"))
		}
		_, _, body = httpDo(t, "GET", pageURL, nil, map[string]string{"Cookie": adminCookie})
		r := reTestResult.FindStringSubmatch(string(body))
		if r == nil {
			return code, "", ""
		}
		return code, r[1], r[2]
	}
	if code, status, _ := press(false); code != 403 || status != "" {
		t.Errorf("Test connection without a valid nonce = %d, result %q; want 403 and no test", code, status)
	}
	for _, tc := range []struct {
		name     string
		settings map[string]any
		want     string
	}{
		{"good credentials", nil, "ok"},
		{"wrong API password", map[string]any{"api_password": "wrong-password"}, "credentials"},
		{"nobody listening", map[string]any{"server_url": fmt.Sprintf("http://127.0.0.1:%d", testsvc.FreePort(t))}, "unreachable"},
		{"not pollchat", map[string]any{"server_url": s.wp.SiteURL}, "error"},
	} {
		if tc.settings != nil {
			s.saveSettings(t, tc.settings)
		}
		_, status, message := press(true)
		if status != tc.want || message == "" {
			t.Errorf("%s: Test connection = %q (%q); want %q", tc.name, status, message, tc.want)
		}
		s.saveSettings(t, map[string]any{"server_url": s.pc.URL, "api_password": testsvc.APIPassword})
	}
	// The result shows once.
	if _, _, body := httpDo(t, "GET", pageURL, nil, map[string]string{"Cookie": adminCookie}); strings.Contains(string(body), "pollchat_test_result") {
		t.Errorf("the Test connection result shows again on the next visit")
	}
}

// browser starts headless Chromium with cookies set for site and returns
// a context (90 s) for the page work; everything stops when t ends.
func browser(t *testing.T, site string, cookies [][2]string) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("chromium is missing: install Debian's chromium (scripts/deps.sh): %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.WindowSize(1280, 1000))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelA)
	bctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	// The first call starts the browser: no timeout on it (a timeout there
	// would stop the browser when it passes); the page work has one.
	if _, err := chromedp.Run(bctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	for _, p := range cookies {
		if _, err := chromedp.Call(bctx, network.SetCookie, network.SetCookieParams{Name: p[0], Value: p[1], URL: site + "/"}); err != nil {
			t.Fatalf("chromium: set cookie: %v", err)
		}
	}
	ctx, cancelT := context.WithTimeout(bctx, 90*time.Second)
	t.Cleanup(cancelT)
	return ctx
}

// saveShot writes a screenshot to $POLLCHAT_ARTIFACTS (or a temp dir).
func saveShot(t *testing.T, name string, png []byte) {
	t.Helper()
	dir := os.Getenv("POLLCHAT_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// testChatInChromium opens a post with a "Chat with" link as a logged-in
// subscriber in Chromium: the widget.js the plugin enqueued starts (after
// WordPress's jQuery), goes online with the identity signed in PHP, and the
// link opens a conversation titled with the other user's WordPress name.
func testChatInChromium(t *testing.T, s *wpSite) {
	_, pairs := s.cookies(t, s.subscriber)
	ctx := browser(t, s.wp.SiteURL, pairs)
	// page.Navigate without waiting for the load event: the widget's JSONP
	// polls start before the window's load event and keep it from firing.
	if _, err := chromedp.Call(ctx, page.Navigate, page.NavigateParams{URL: s.wp.SiteURL + "/meet-eve/"}); err != nil {
		t.Fatalf("chromium: front page: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitReady(chromedp.ID("pollchat-root"))); err != nil {
		diag, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({ready: document.readyState, jquery: typeof jQuery, pollchat: typeof Pollchat})`))
		t.Fatalf("chromium: no #pollchat-root: %v %s", err, diag)
	}
	online, err := chromedp.Run(ctx, chromedp.Poll[string](`window.Pollchat && Pollchat.state() === "online" && Pollchat.state()`, chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil || online != "online" {
		diag, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({ready: document.readyState, jquery: typeof jQuery, pollchat: typeof Pollchat, state: window.Pollchat && Pollchat.state(), stats: window.Pollchat && Pollchat.stats(), root: !!document.getElementById("pollchat-root")})`))
		t.Fatalf("widget = %s (%v); want online\n%s", diag, err, s.pc.Log())
	}
	left, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("pollchat-root").className.indexOf("pollchat-pos-left") >= 0`))
	if err != nil || !left {
		t.Errorf("widget root on the left = %v (%v); want the position setting (bottom-left) applied", left, err)
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`a.pollchat-link[data-pollchat-user="%d"]`, s.editor))),
		chromedp.WaitVisible(chromedp.CSS(".pollchat-window .pollchat-head-title")),
	); err != nil {
		t.Fatalf("chromium: clicking the chat link: %v", err)
	}
	title, err := chromedp.Run(ctx, chromedp.Poll[string](`(function () { var e = document.querySelector(".pollchat-window .pollchat-head-title"); return e && e.textContent.indexOf("Eve") >= 0 && e.textContent; })()`, chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil || !strings.Contains(title, "Eve") {
		t.Errorf("conversation title = %q (%v); want the editor's WordPress name", title, err)
	}
	// Let the window's opening animation end before the picture.
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`getComputedStyle(document.querySelector(".pollchat-window")).opacity === "1"`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Logf("window opacity did not settle: %v", err)
	}
	rs, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.readyState`))
	t.Logf("document.readyState with the widget online: %s", rs)
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("chromium screenshot: %v", err)
	}
	saveShot(t, "wordpress-chat.png", shot)
}
