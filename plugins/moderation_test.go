package plugins

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"pollchat/internal/testsvc"
)

var (
	reModerationNonce = regexp.MustCompile(`(?s)value="pollchat_moderation" />.*?name="_wpnonce" value="([0-9a-f]+)"`)
	reModerationError = regexp.MustCompile(`id="pollchat_moderation_error"><p>([^<]*)</p>`)
)

// goodWordPressSettings are settings that reach s.pc with its API credentials.
func goodWordPressSettings(s *wpSite) map[string]any {
	return map[string]any{
		"server_url":     s.pc.URL,
		"secret":         testsvc.Secret,
		"api_login":      testsvc.APILogin,
		"api_password":   testsvc.APIPassword,
		"users_login":    usersLogin,
		"users_password": usersPassword,
	}
}

// openConsole loads the Chat moderation page as the cookie's user, presses
// its button (a POST to admin-post.php with the page's nonce) and returns
// the answer's status and Location, and the page's error notice afterwards.
func (s *wpSite) openConsole(t *testing.T, cookie string) (code int, location, notice string) {
	t.Helper()
	pageURL := s.wp.SiteURL + "/wp-admin/admin.php?page=pollchat-moderation"
	code, _, body := httpDo(t, "GET", pageURL, nil, map[string]string{"Cookie": cookie})
	m := reModerationNonce.FindStringSubmatch(string(body))
	if code != 200 || m == nil {
		t.Fatalf("Chat moderation page = %d, nonce %v; want 200 and a nonce\n%s", code, m, excerpt(string(body), "pollchat"))
	}
	if strings.Contains(string(body), testsvc.APIPassword) {
		t.Errorf("the Chat moderation page shows the API password")
	}
	form := url.Values{"action": {"pollchat_moderation"}, "_wpnonce": {m[1]}}
	code, hdr, _ := httpDo(t, "POST", s.wp.SiteURL+"/wp-admin/admin-post.php", strings.NewReader(form.Encode()),
		map[string]string{"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
	location = hdr.Get("Location")
	if strings.Contains(location, testsvc.APIPassword) {
		t.Errorf("the console redirect %q holds the API password", location)
	}
	_, _, body = httpDo(t, "GET", pageURL, nil, map[string]string{"Cookie": cookie})
	if n := reModerationError.FindStringSubmatch(string(body)); n != nil {
		notice = n[1]
	}
	return code, location, notice
}

// followConsole opens a console URL in a fresh cookie jar, as the browser
// does after the redirect: pollchat sets its console cookie and sends the
// browser to /admin. It returns the final URL and status, and the cookies
// the jar holds for pollchat.
func followConsole(t *testing.T, consoleURL string) (final string, code int, cookies []*http.Cookie) {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := c.Get(consoleURL)
	if err != nil {
		t.Fatalf("GET %s: %v", consoleURL, err)
	}
	resp.Body.Close()
	// The cookies the browser would now send to where it landed.
	return resp.Request.URL.String(), resp.StatusCode, jar.Cookies(resp.Request.URL)
}

// TestWordPressModeration: the "Chat moderation" entry of wp-admin opens
// pollchat's console for users with moderate_comments, through a
// nonce-checked POST that asks pollchat server to server; others get no
// entry and are refused; failures show a notice.
func TestWordPressModeration(t *testing.T) {
	s := setupWordPress(t)
	s.saveSettings(t, goodWordPressSettings(s))
	adminCookie, _ := s.cookies(t, s.wp.AdminID)
	subCookie, _ := s.cookies(t, s.subscriber)

	t.Run("menu entry only for moderators", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			cookie string
			want   bool
		}{
			{"administrator", adminCookie, true},
			{"subscriber", subCookie, false},
		} {
			_, _, body := httpDo(t, "GET", s.wp.SiteURL+"/wp-admin/profile.php", nil, map[string]string{"Cookie": tc.cookie})
			if got := strings.Contains(string(body), "admin.php?page=pollchat-moderation"); got != tc.want {
				t.Errorf("%s: Chat moderation in the admin menu = %v; want %v", tc.name, got, tc.want)
			}
		}
		code, _, _ := httpDo(t, "GET", s.wp.SiteURL+"/wp-admin/admin.php?page=pollchat-moderation", nil, map[string]string{"Cookie": subCookie})
		if code != 403 {
			t.Errorf("Chat moderation page as a subscriber = %d; want 403", code)
		}
	})

	t.Run("administrator reaches the console", func(t *testing.T) {
		code, loc, notice := s.openConsole(t, adminCookie)
		if code != 303 || !strings.HasPrefix(loc, s.pc.URL+"/admin/session?") || notice != "" {
			t.Fatalf("Open the moderation console = %d, Location %q, notice %q; want 303 to %s/admin/session?token=…", code, loc, notice, s.pc.URL)
		}
		final, status, cookies := followConsole(t, loc)
		if status != 200 || final != s.pc.URL+"/admin" || len(cookies) == 0 {
			t.Fatalf("following %s ended at %s (%d) with cookies %v; want %s/admin, 200, a console cookie\n%s", loc, final, status, cookies, s.pc.URL, s.pc.Log())
		}
		// The session URL is single-use: a second visit gets no console.
		if final2, status2, cookies2 := followConsole(t, loc); status2 == 200 && final2 == s.pc.URL+"/admin" && len(cookies2) > 0 {
			t.Errorf("the session URL worked twice (ended at %s with cookies %v); want single use", final2, cookies2)
		}
	})

	t.Run("editor reaches the console", func(t *testing.T) {
		edCookie, _ := s.cookies(t, s.editor)
		if code, loc, _ := s.openConsole(t, edCookie); code != 303 || !strings.HasPrefix(loc, s.pc.URL+"/admin/session?") {
			t.Errorf("Open the moderation console as an editor = %d, Location %q; want 303 to the console", code, loc)
		}
	})

	t.Run("refused without the right", func(t *testing.T) {
		post := func(cookie string, form url.Values, method string) (int, string) {
			t.Helper()
			u := s.wp.SiteURL + "/wp-admin/admin-post.php"
			var code int
			var hdr http.Header
			if method == "GET" {
				code, hdr, _ = httpDo(t, "GET", u+"?"+form.Encode(), nil, map[string]string{"Cookie": cookie})
			} else {
				code, hdr, _ = httpDo(t, "POST", u, strings.NewReader(form.Encode()),
					map[string]string{"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
			}
			return code, hdr.Get("Location")
		}
		// A nonce made for the subscriber themself, as a subscriber could.
		subNonce := lastLine(s.wp.PHP(t, fmt.Sprintf(`wp_set_current_user(%d); echo wp_create_nonce('pollchat_moderation');`, s.subscriber)))
		adminNonce := lastLine(s.wp.PHP(t, fmt.Sprintf(`wp_set_current_user(%d); echo wp_create_nonce('pollchat_moderation');`, s.wp.AdminID)))
		for _, tc := range []struct {
			name   string
			cookie string
			form   url.Values
			method string
			want   int
		}{
			{"subscriber with their own nonce", subCookie, url.Values{"action": {"pollchat_moderation"}, "_wpnonce": {subNonce}}, "POST", 403},
			{"administrator, no nonce (a forged form)", adminCookie, url.Values{"action": {"pollchat_moderation"}}, "POST", 403},
			{"administrator, wrong nonce", adminCookie, url.Values{"action": {"pollchat_moderation"}, "_wpnonce": {"0123456789"}}, "POST", 403},
			{"administrator, GET with a good nonce (a link)", adminCookie, url.Values{"action": {"pollchat_moderation"}, "_wpnonce": {adminNonce}}, "GET", 405},
		} {
			if code, loc := post(tc.cookie, tc.form, tc.method); code != tc.want || strings.Contains(loc, "/admin/session") {
				t.Errorf("%s = %d, Location %q; want %d and no console", tc.name, code, loc, tc.want)
			}
		}
		// A guest gets no console either.
		code, _, body := httpDo(t, "POST", s.wp.SiteURL+"/wp-admin/admin-post.php", strings.NewReader("action=pollchat_moderation"),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
		if code == 303 || strings.Contains(string(body), "/admin/session") {
			t.Errorf("a guest's POST = %d %s; want no console", code, body)
		}
	})

	t.Run("failures show a notice", func(t *testing.T) {
		defer s.saveSettings(t, goodWordPressSettings(s))
		back := s.wp.SiteURL + "/wp-admin/admin.php?page=pollchat-moderation"
		for _, tc := range []struct {
			name     string
			settings map[string]any
			want     string
		}{
			{"wrong API password", map[string]any{"api_password": "wrong-password"}, "refused"},
			{"nobody listening", map[string]any{"server_url": fmt.Sprintf("http://127.0.0.1:%d", testsvc.FreePort(t))}, "could not be reached"},
		} {
			s.saveSettings(t, tc.settings)
			code, loc, notice := s.openConsole(t, adminCookie)
			if code != 302 || loc != back || !strings.Contains(notice, tc.want) {
				t.Errorf("%s: Open the moderation console = %d to %q, notice %q; want 302 back to the page and a notice with %q", tc.name, code, loc, notice, tc.want)
			}
			s.saveSettings(t, goodWordPressSettings(s))
		}
	})
}

// TestConsoleURL: the console address pollchat returns is made absolute on
// the server URL, and one on another origin is refused, in both plugins.
func TestConsoleURL(t *testing.T) {
	type consoleCase struct {
		Server string `json:"server"`
		URL    string `json:"url"`
		Want   string `json:"-"`
	}
	cases := []consoleCase{
		{"https://chat.example.com", "/admin/session?token=abc", "https://chat.example.com/admin/session?token=abc"},
		{"https://example.com/chat", "/admin/session?token=abc", "https://example.com/chat/admin/session?token=abc"},
		{"https://example.com/chat/", "admin/session?token=abc", "https://example.com/chat/admin/session?token=abc"},
		{"https://chat.example.com", "https://chat.example.com/admin/session?token=abc", "https://chat.example.com/admin/session?token=abc"},
		{"https://chat.example.com:8443", "https://CHAT.example.com:8443/admin/session?t=1", "https://CHAT.example.com:8443/admin/session?t=1"},
		{"https://chat.example.com", "https://evil.example.com/admin/session?token=abc", ""},
		{"https://chat.example.com", "http://chat.example.com/admin/session?token=abc", ""},
		{"https://chat.example.com", "https://chat.example.com:444/admin", ""},
		{"https://chat.example.com", "//evil.example.com/admin", ""},
		{"https://chat.example.com", "javascript:alert(1)", ""},
		{"https://chat.example.com", "https://user:pw@chat.example.com/admin", ""},
		{"https://chat.example.com", "/admin\r\nSet-Cookie: x=1", ""},
		{"https://chat.example.com", "", ""},
	}
	b, _ := json.Marshal(cases)
	var october []string
	phpJSON(t, `require `+q(octoberPlugin+"/classes/ModeratorSession.php")+`;
$out = array();
foreach (json_decode(`+q(string(b))+`, true) as $c) { $out[] = \Pollchat\Chat\Classes\ModeratorSession::consoleUrl($c['server'], $c['url']); }
echo json_encode($out);`, &october)
	wp := installWordPressPlugin(t).wp
	var wordpress []string
	if err := json.Unmarshal([]byte(lastLine(wp.PHP(t, `$out = array();
foreach (json_decode(`+q(string(b))+`, true) as $c) { $out[] = pollchat_console_url(untrailingslashit($c['server']), $c['url']); }
echo wp_json_encode($out);`))), &wordpress); err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		if october[i] != c.Want {
			t.Errorf("October consoleUrl(%q, %q) = %q; want %q", c.Server, c.URL, october[i], c.Want)
		}
		if wordpress[i] != c.Want {
			t.Errorf("pollchat_console_url(%q, %q) = %q; want %q", c.Server, c.URL, wordpress[i], c.Want)
		}
	}
}
