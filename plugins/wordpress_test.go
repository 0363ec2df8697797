package plugins

import (
	"encoding/json"
	"fmt"
	"html"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"pollchat/internal/testsvc"
)

// Credentials of the users-info route in these tests.
const (
	usersLogin    = "pollchat"
	usersPassword = "users-info-password-0123"
)

// wpSite is a real WordPress (Debian's package, installed by wp_install on
// MariaDB) with the plugin copied in and activated, served by php -S, and a
// running pollchat whose user directory is the plugin's users-info route.
type wpSite struct {
	wp       *testsvc.WordPress
	web      *testsvc.PHP
	pc       *testsvc.Pollchat
	usersURL string

	editor, subscriber int
	linkSecret         string // generated on activation, pollchat's auth.link_secret
	notifySecret       string // generated on activation, pollchat's notify.secret
}

func setupWordPress(t *testing.T) *wpSite {
	t.Helper()
	s := installWordPressPlugin(t)
	s.web = s.wp.Serve(t)
	s.pc = testsvc.StartPollchat(t, testsvc.Options{
		Auth: fmt.Sprintf("link_secret = %q\n", s.linkSecret),
		// A long cache: a new name can only come from the invalidate call.
		Users: fmt.Sprintf("[users]\nsource = \"http\"\ncache_ttl = \"1h\"\n[users.http]\nurl = %q\nlogin = %q\npassword = %q\ntimeout = \"30s\"\n",
			s.usersURL, usersLogin, usersPassword),
	})
	return s
}

// installWordPressPlugin installs WordPress with two members (Eve, an
// editor, and Sam, a subscriber), copies the plugin in and activates it,
// and checks the generated secrets. Nothing is served yet.
func installWordPressPlugin(t *testing.T) *wpSite {
	t.Helper()
	wp := testsvc.InstallWordPress(t, testsvc.SharedMariaDB(t))
	if err := copyTree(wordpressPlugin, filepath.Join(wp.Dir, "wp-content", "plugins", "pollchat")); err != nil {
		t.Fatal(err)
	}
	s := &wpSite{wp: wp}
	s.editor = wp.CreateUser(t, "eve", "eve@example.com", "Eve Editor", "editor")
	s.subscriber = wp.CreateUser(t, "sam", "sam@example.com", "Sam Sübscriber", "subscriber")

	out := wp.PHP(t, `
require_once ABSPATH . 'wp-admin/includes/plugin.php';
$r = activate_plugin('pollchat/pollchat.php');
if (is_wp_error($r)) { fwrite(STDERR, "PHP Fatal error: activate: " . $r->get_error_message() . "\n"); exit(1); }
update_option('permalink_structure', '/%postname%/');
flush_rewrite_rules();
echo wp_json_encode(array('active' => is_plugin_active('pollchat/pollchat.php'), 'settings' => get_option('pollchat_settings')));`)
	var act struct {
		Active   bool
		Settings map[string]any
	}
	if err := json.Unmarshal([]byte(lastLine(out)), &act); err != nil {
		t.Fatalf("activation printed %q: %v", out, err)
	}
	if !act.Active || act.Settings["scheme"] != "hash" || act.Settings["users_login"] != "pollchat" || act.Settings["secret"] != "" {
		t.Fatalf("after activation: active %v, settings %v; want active with the defaults", act.Active, act.Settings)
	}
	// Activation generates the link secret, the notify secret and the
	// users-info password.
	reGenerated := regexp.MustCompile(`^[A-Za-z0-9]{32,}$`)
	s.linkSecret, _ = act.Settings["link_secret"].(string)
	s.notifySecret, _ = act.Settings["notify_secret"].(string)
	if up, _ := act.Settings["users_password"].(string); !reGenerated.MatchString(s.linkSecret) || !reGenerated.MatchString(up) || !reGenerated.MatchString(s.notifySecret) ||
		up == s.linkSecret || up == s.notifySecret || s.linkSecret == s.notifySecret {
		t.Fatalf("after activation link_secret %q, notify_secret %q, users_password %q; want three different random secrets of 32+ letters and digits", s.linkSecret, s.notifySecret, up)
	}
	s.usersURL = lastLine(wp.PHP(t, `echo pollchat_users_info_url();`))
	if want := wp.SiteURL + "/wp-json/pollchat/v1/users-info"; s.usersURL != want {
		t.Fatalf("pollchat_users_info_url() = %q; want %q", s.usersURL, want)
	}
	return s
}

// lastLine is the last non-empty line of PHP's output (WordPress may print
// notices before it).
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}

// saveSettings stores settings with update_option as the administrator (so
// the plugin's sanitize_callback runs, as for the form) and returns what was
// stored.
func (s *wpSite) saveSettings(t *testing.T, settings map[string]any) map[string]any {
	t.Helper()
	return s.saveSettingsAs(t, s.wp.AdminID, settings)
}

// saveSettingsAs is saveSettings as another user.
func (s *wpSite) saveSettingsAs(t *testing.T, user int, settings map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(settings)
	if err != nil {
		t.Fatal(err)
	}
	out := s.wp.PHP(t, fmt.Sprintf(`wp_set_current_user(%d);
update_option('pollchat_settings', json_decode(`+q(string(b))+`, true));
echo wp_json_encode(get_option('pollchat_settings'));`, user))
	var stored map[string]any
	if err := json.Unmarshal([]byte(lastLine(out)), &stored); err != nil {
		t.Fatalf("get_option printed %q: %v", out, err)
	}
	return stored
}

// settings reads the stored settings.
func (s *wpSite) settings(t *testing.T) map[string]any {
	t.Helper()
	var stored map[string]any
	out := s.wp.PHP(t, `echo wp_json_encode(get_option('pollchat_settings'));`)
	if err := json.Unmarshal([]byte(lastLine(out)), &stored); err != nil {
		t.Fatalf("get_option printed %q: %v", out, err)
	}
	return stored
}

// cookies returns a Cookie header logging user in (logged_in and auth
// cookies, as a browser would send them after wp-login.php).
func (s *wpSite) cookies(t *testing.T, user int) (header string, pairs [][2]string) {
	t.Helper()
	out := s.wp.PHP(t, fmt.Sprintf(`$exp = time() + 3600;
echo wp_json_encode(array(
	array(LOGGED_IN_COOKIE, wp_generate_auth_cookie(%d, $exp, 'logged_in')),
	array(AUTH_COOKIE, wp_generate_auth_cookie(%d, $exp, 'auth')),
));`, user, user))
	if err := json.Unmarshal([]byte(lastLine(out)), &pairs); err != nil {
		t.Fatalf("cookies: %q: %v", out, err)
	}
	var parts []string
	for _, p := range pairs {
		parts = append(parts, p[0]+"="+url.QueryEscape(p[1]))
	}
	return strings.Join(parts, "; "), pairs
}

// page GETs a page of the site as user (0: a guest) and returns its HTML.
func (s *wpSite) page(t *testing.T, path string, user int) string {
	t.Helper()
	html, _ := s.pageWithHeaders(t, path, user)
	return html
}

// pageWithHeaders is page with the answer's headers.
func (s *wpSite) pageWithHeaders(t *testing.T, path string, user int) (string, http.Header) {
	t.Helper()
	h := map[string]string{}
	if user != 0 {
		h["Cookie"], _ = s.cookies(t, user)
	}
	code, hdr, body := httpDo(t, "GET", s.wp.SiteURL+path, nil, h)
	if code != 200 {
		t.Fatalf("GET %s as user %d = %d; want 200\n%s", path, user, code, body)
	}
	return string(body), hdr
}

var (
	reWidgetScript = regexp.MustCompile(`<script[^>]*\ssrc=['"]([^'"]*/widget\.js)['"]`)
	reJQuery       = regexp.MustCompile(`<script[^>]*\ssrc=['"][^'"]*/jquery(\.min)?\.js[^'"]*['"]`)
	reInit         = regexp.MustCompile(`Pollchat\.init\((\{.*?\})\);`)
)

// embed is what a page carries for the widget.
type embed struct {
	ScriptURL string
	Config    map[string]any
	RawConfig string
}

// findEmbed extracts the widget script tag and the init options from HTML;
// ok is false when the page has no widget.
func findEmbed(t *testing.T, html string) (e embed, ok bool) {
	t.Helper()
	m := reWidgetScript.FindStringSubmatchIndex(html)
	if m == nil {
		if strings.Contains(html, "Pollchat.init") {
			t.Fatalf("page calls Pollchat.init without loading widget.js")
		}
		return e, false
	}
	e.ScriptURL = html[m[2]:m[3]]
	jq := reJQuery.FindStringIndex(html)
	if jq == nil || jq[0] > m[0] {
		t.Errorf("jquery is not loaded before widget.js (jquery at %v, widget at %d)", jq, m[0])
	}
	im := reInit.FindStringSubmatchIndex(html)
	if im == nil || im[0] < m[0] {
		t.Fatalf("no Pollchat.init(...) after the widget.js tag")
	}
	e.RawConfig = html[im[2]:im[3]]
	if err := json.Unmarshal([]byte(e.RawConfig), &e.Config); err != nil {
		t.Fatalf("Pollchat.init options %q: %v", e.RawConfig, err)
	}
	return e, true
}

// identityQuery turns the init options' identity into request params.
func identityQuery(cfg map[string]any) url.Values {
	v := url.Values{}
	for _, k := range []string{"id", "timestamp", "hash", "token"} {
		if s, ok := cfg[k].(string); ok {
			v.Set(k, s)
		}
	}
	return v
}

type wireUser struct {
	UserID     string `json:"user_id"`
	Name       string `json:"name"`
	AvatarURL  string `json:"avatar_url"`
	ProfileURL string `json:"profile_url"`
	Role       string `json:"role"`
}

// hello calls pollchat's /v1/hello with the identity from a page.
func (s *wpSite) hello(t *testing.T, cfg map[string]any) wireUser {
	t.Helper()
	var r struct {
		Me wireUser `json:"me"`
	}
	getJSON(t, s.pc.URL+"/v1/hello?"+identityQuery(cfg).Encode(), nil, &r)
	return r.Me
}

// users asks pollchat's /v1/users for ids, as the page's user.
func (s *wpSite) users(t *testing.T, cfg map[string]any, id int) []wireUser {
	t.Helper()
	q := identityQuery(cfg)
	q.Set("ids", strconv.Itoa(id))
	var r struct {
		Users []wireUser `json:"users"`
	}
	getJSON(t, s.pc.URL+"/v1/users?"+q.Encode(), nil, &r)
	return r.Users
}

// user asks pollchat's /v1/users for one user, as the page's user.
func (s *wpSite) user(t *testing.T, cfg map[string]any, id int) wireUser {
	t.Helper()
	users := s.users(t, cfg, id)
	if len(users) != 1 {
		t.Fatalf("/v1/users?ids=%d = %+v; want one user", id, users)
	}
	return users[0]
}

// TestWordPress runs the plugin in a real WordPress against a running
// pollchat whose users come from the plugin's own users-info route: the
// whole chain from the settings to a name in the chat.
func TestWordPress(t *testing.T) {
	s := setupWordPress(t)
	admin := s.wp.AdminID
	good := map[string]any{
		"server_url":     s.pc.URL + "/",
		"secret":         testsvc.Secret,
		"scheme":         "hash",
		"api_login":      testsvc.APILogin,
		"api_password":   testsvc.APIPassword,
		"users_login":    usersLogin,
		"users_password": usersPassword,
		"position":       "bottom-left",
		"colours":        map[string]any{"header": "#336699", "launcher": "red"},
		"font_family":    "Georgia, serif",
		"language":       "",
		"roles":          []string{},
	}

	t.Run("settings are sanitised", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			input map[string]any
			key   string
			want  any
		}{
			{"script URL refused", map[string]any{"server_url": "javascript:alert(1)"}, "server_url", ""},
			{"URL with query refused", map[string]any{"server_url": "https://chat.example.com/?x=1"}, "server_url", ""},
			{"unknown scheme", map[string]any{"scheme": "rot13"}, "scheme", "hash"},
			{"unknown position", map[string]any{"position": "top-middle"}, "position", "bottom-right"},
			{"unknown roles dropped", map[string]any{"roles": []string{"editor", "overlord"}}, "roles", []any{"editor"}},
			{"bad language", map[string]any{"language": "<b>"}, "language", ""},
			{"CSS punctuation removed from the font", map[string]any{"font_family": "Georgia, serif; } body { x"}, "font_family", "Georgia, serif body x"},
		} {
			if got := s.saveSettings(t, tc.input)[tc.key]; fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("%s: saving %v stored %s = %#v; want %#v", tc.name, tc.input, tc.key, got, tc.want)
			}
		}
		stored := s.saveSettings(t, good)
		if stored["server_url"] != s.pc.URL || stored["secret"] != testsvc.Secret || stored["position"] != "bottom-left" {
			t.Errorf("stored %v; want the server URL without its slash, the secret, bottom-left", stored)
		}
		if c := stored["colours"].(map[string]any); c["header"] != "#336699" || c["launcher"] != "" {
			t.Errorf("stored colours %v; want header #336699 and the invalid launcher colour emptied", c)
		}
		// A secret sent empty keeps the stored one; "clear" removes it.
		if got := s.saveSettings(t, map[string]any{"secret": "", "api_password": ""}); got["secret"] != testsvc.Secret || got["api_password"] != testsvc.APIPassword {
			t.Errorf("saving empty secrets stored secret %q, api_password %q; want both kept", got["secret"], got["api_password"])
		}
		if got := s.saveSettings(t, map[string]any{"clear": []string{"api_password"}}); got["api_password"] != "" || got["secret"] != testsvc.Secret {
			t.Errorf("clearing api_password stored api_password %q, secret %q; want it empty and the secret kept", got["api_password"], got["secret"])
		}
		s.saveSettings(t, good)

		// Generated secrets: a short users-info password or link secret is
		// refused, a link secret equal to the identity secret is replaced,
		// "clear" on the link secret generates a new one.
		if got := s.saveSettings(t, map[string]any{"users_password": "short-pw-123"}); got["users_password"] != usersPassword {
			t.Errorf("saving a 12-character users-info password stored %q; want it refused and %q kept", got["users_password"], usersPassword)
		}
		if got := s.saveSettings(t, map[string]any{"link_secret": "too-short"}); got["link_secret"] != s.linkSecret {
			t.Errorf("saving a short link secret stored %q; want it refused and %q kept", got["link_secret"], s.linkSecret)
		}
		got := s.saveSettings(t, map[string]any{"link_secret": testsvc.Secret + "-padding-to-32-chars-and-more"})
		if got["link_secret"] != testsvc.Secret+"-padding-to-32-chars-and-more" {
			t.Errorf("saving a 32+ character link secret stored %q; want it", got["link_secret"])
		}
		got = s.saveSettings(t, map[string]any{"secret": testsvc.Secret + "-padding-to-32-chars-and-more"})
		if ls, _ := got["link_secret"].(string); ls == got["secret"] || len(ls) < 32 {
			t.Errorf("saving a secret equal to the link secret stored link_secret %q, secret %q; want a new link secret of 32+ characters", ls, got["secret"])
		}
		if got := s.saveSettings(t, map[string]any{"clear": []string{"link_secret"}, "secret": testsvc.Secret}); got["link_secret"] == s.linkSecret || len(got["link_secret"].(string)) < 32 {
			t.Errorf("regenerating the link secret stored %q; want a new one of 32+ characters", got["link_secret"])
		}
		if got := s.saveSettings(t, map[string]any{"link_secret": s.linkSecret}); got["link_secret"] != s.linkSecret {
			t.Fatalf("restoring the link secret stored %q; want %q", got["link_secret"], s.linkSecret)
		}

		// A site administrator without unfiltered_html (a network's site
		// admins) cannot change the script URL every visitor loads, but can
		// change the rest.
		siteAdmin := s.wp.CreateUser(t, "siteadmin", "siteadmin@example.com", "Site Admin", "administrator")
		s.wp.PHP(t, fmt.Sprintf(`(new WP_User(%d))->add_cap('unfiltered_html', false);`, siteAdmin))
		got = s.saveSettingsAs(t, siteAdmin, map[string]any{"server_url": "https://evil.example.com", "position": "bottom-right"})
		if got["server_url"] != s.pc.URL || got["position"] != "bottom-right" {
			t.Errorf("an administrator without unfiltered_html saved server_url %q, position %q; want the URL kept (%s) and the position changed", got["server_url"], got["position"], s.pc.URL)
		}
		html := s.page(t, "/wp-admin/options-general.php?page=pollchat", siteAdmin)
		if !regexp.MustCompile(`id="pollchat_server_url"[^>]*readonly`).MatchString(html) {
			t.Errorf("settings page for an administrator without unfiltered_html: want the server URL field read-only\n%s", excerpt(html, "pollchat_server_url"))
		}
		s.saveSettings(t, good)
	})

	t.Run("users-info route", func(t *testing.T) {
		ids := fmt.Sprintf("%d,%d,999,%d", s.subscriber, admin, s.editor)
		for _, tc := range []struct {
			name   string
			auth   string
			ids    string
			status int
		}{
			{"no credentials", "", ids, 401},
			{"wrong password", usersLogin + ":nope", ids, 401},
			{"wrong login", "admin:" + usersPassword, ids, 401},
			{"WordPress admin's own password", testsvc.WPAdminLogin + ":" + testsvc.WPAdminPassword, ids, 401},
			{"malformed ids", usersLogin + ":" + usersPassword, "1;DROP TABLE", 400},
			{"ok", usersLogin + ":" + usersPassword, ids, 200},
		} {
			h := map[string]string{}
			if tc.auth != "" {
				h["Authorization"] = "Basic " + b64(tc.auth)
			}
			code, hdr, body := httpDo(t, "GET", s.usersURL+"?user_ids="+url.QueryEscape(tc.ids), nil, h)
			if code != tc.status {
				t.Errorf("%s: users-info = %d %s; want %d", tc.name, code, body, tc.status)
				continue
			}
			if code == 401 && !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("%s: WWW-Authenticate = %q; want Basic", tc.name, hdr.Get("WWW-Authenticate"))
			}
			if code != 200 {
				continue
			}
			var users []wireUser
			if err := json.Unmarshal(body, &users); err != nil {
				t.Fatalf("users-info body %s: %v", body, err)
			}
			// The admin's display name and nickname are its login: "User N".
			// Only the admin has a published post (wp_install's): only the
			// admin has a profile link.
			want := []struct {
				id         int
				name, role string
				profile    bool
			}{{s.subscriber, "Sam Sübscriber", "member", false}, {admin, fmt.Sprintf("User %d", admin), "admin", true}, {s.editor, "Eve Editor", "mod", false}}
			if len(users) != len(want) {
				t.Fatalf("users-info = %+v; want %d users (unknown 999 left out)", users, len(want))
			}
			for i, w := range want {
				u := users[i]
				if u.UserID != strconv.Itoa(w.id) || u.Name != w.name || u.Role != w.role {
					t.Errorf("users-info[%d] = %+v; want user_id %d, name %q, role %q", i, u, w.id, w.name, w.role)
				}
				if !strings.HasPrefix(u.AvatarURL, "http") || strings.HasPrefix(u.ProfileURL, s.wp.SiteURL+"/") != w.profile {
					t.Errorf("users-info[%d] avatar %q, profile %q; want an avatar URL, and a profile URL = %v", i, u.AvatarURL, u.ProfileURL, w.profile)
				}
			}
			if strings.Contains(string(body), `"name":"admin"`) {
				t.Errorf("users-info gives away the admin's login: %s", body)
			}
		}
	})

	t.Run("names that would give away a login", func(t *testing.T) {
		byEmail := s.wp.CreateUser(t, "mailname", "mail.name@example.com", "mail.name@example.com", "subscriber")
		byLogin := s.wp.CreateUser(t, "loginname", "login.name@example.com", "LoginName", "subscriber")
		s.wp.PHP(t, fmt.Sprintf(`update_user_meta(%d, 'nickname', 'Lou');`, byLogin))
		code, _, body := httpDo(t, "GET", s.usersURL+fmt.Sprintf("?user_ids=%d,%d", byEmail, byLogin), nil, map[string]string{"Authorization": "Basic " + b64(usersLogin+":"+usersPassword)})
		var users []wireUser
		if err := json.Unmarshal(body, &users); code != 200 || err != nil || len(users) != 2 {
			t.Fatalf("users-info = %d %s (%v); want two users", code, body, err)
		}
		if users[0].Name != fmt.Sprintf("User %d", byEmail) || users[1].Name != "Lou" || users[0].ProfileURL != "" {
			t.Errorf("users-info names = %q, %q, profile %q; want \"User %d\" (display name is the email, nickname the login), \"Lou\" (display name is the login), no profile link", users[0].Name, users[1].Name, users[0].ProfileURL, byEmail)
		}
	})

	t.Run("users-info route with application passwords on", func(t *testing.T) {
		// On https sites WordPress reads Basic credentials as application
		// passwords and refuses unknown logins before any route runs; the
		// plugin keeps it away from its route. An mu-plugin turns them on here.
		mu := filepath.Join(s.wp.Dir, "wp-content", "mu-plugins")
		if err := os.MkdirAll(mu, 0o755); err != nil {
			t.Fatal(err)
		}
		muFile := filepath.Join(mu, "app-passwords.php")
		if err := os.WriteFile(muFile, []byte("<?php\nadd_filter('wp_is_application_passwords_available', '__return_true');\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(muFile)
		appPassword := lastLine(s.wp.PHP(t, fmt.Sprintf(`$r = WP_Application_Passwords::create_new_application_password(%d, array('name' => 'test'));
if (is_wp_error($r)) { fwrite(STDERR, "PHP Fatal error: " . $r->get_error_message() . "\n"); exit(1); }
echo $r[0];`, admin)))
		// Both URL forms: pretty permalinks, and ?rest_route= (sites on plain permalinks).
		for _, u := range []string{s.usersURL + "?user_ids=1", s.wp.SiteURL + "/?rest_route=/pollchat/v1/users-info&user_ids=1"} {
			for _, tc := range []struct {
				name, auth string
				status     int
			}{
				{"users-info credentials", usersLogin + ":" + usersPassword, 200},
				{"an administrator's application password", testsvc.WPAdminLogin + ":" + appPassword, 401},
			} {
				code, _, body := httpDo(t, "GET", u, nil, map[string]string{"Authorization": "Basic " + b64(tc.auth)})
				if code != tc.status {
					t.Errorf("%s: GET %s = %d %s; want %d", tc.name, u, code, body, tc.status)
				}
			}
		}
		// WordPress's own routes still take application passwords.
		code, _, body := httpDo(t, "GET", s.wp.SiteURL+"/wp-json/wp/v2/users/me", nil, map[string]string{"Authorization": "Basic " + b64(testsvc.WPAdminLogin+":"+appPassword)})
		if code != 200 {
			t.Errorf("/wp/v2/users/me with the application password = %d %s; want 200", code, body)
		}
	})

	var subCfg map[string]any
	t.Run("front page signs the logged-in user", func(t *testing.T) {
		html, hdr := s.pageWithHeaders(t, "/", s.subscriber)
		if cc := hdr.Get("Cache-Control"); !strings.Contains(cc, "private") || !strings.Contains(cc, "no-store") {
			t.Errorf("Cache-Control of a page with a signed identity = %q; want private, no-store", cc)
		}
		e, ok := findEmbed(t, html)
		if !ok {
			t.Fatalf("front page for a logged-in subscriber has no widget.js tag")
		}
		if e.ScriptURL != s.pc.URL+"/widget.js" {
			t.Errorf("widget script = %q; want %q", e.ScriptURL, s.pc.URL+"/widget.js")
		}
		for _, secret := range []string{testsvc.Secret, testsvc.APIPassword, usersPassword} {
			if strings.Contains(html, secret) {
				t.Errorf("front page contains a secret (%q)", secret)
			}
		}
		c := e.Config
		if _, has := c["lang"]; c["server"] != s.pc.URL || c["id"] != strconv.Itoa(s.subscriber) || c["position"] != "bottom-left" || has {
			t.Errorf("Pollchat.init(%s); want server %s, id %d, position bottom-left, no lang (the page's)", e.RawConfig, s.pc.URL, s.subscriber)
		}
		if l, _ := c["layout"].(map[string]any); !reflect.DeepEqual(l, map[string]any{"header": "#336699", "fontFamily": "Georgia, serif"}) {
			t.Errorf("layout = %v; want header #336699 and the font family", c["layout"])
		}
		if !strings.Contains(html, "Pollchat.openDialog(") {
			t.Errorf("page has no handler opening the dialog from chat links")
		}
		me := s.hello(t, c)
		if me.UserID != strconv.Itoa(s.subscriber) || me.Name != "Sam Sübscriber" || me.Role != "member" {
			t.Errorf("/v1/hello me = %+v; want user %d, Sam Sübscriber, member (from the users-info route)\n%s", me, s.subscriber, s.pc.Log())
		}
		subCfg = c
	})

	t.Run("guests get no widget", func(t *testing.T) {
		html, hdr := s.pageWithHeaders(t, "/", 0)
		if _, ok := findEmbed(t, html); ok {
			t.Errorf("front page for a guest loads widget.js")
		}
		if cc := hdr.Get("Cache-Control"); strings.Contains(cc, "no-store") {
			t.Errorf("Cache-Control of a guest's page = %q; want it left cacheable", cc)
		}
	})

	t.Run("roles filter", func(t *testing.T) {
		s.saveSettings(t, map[string]any{"roles": []string{"editor"}})
		defer s.saveSettings(t, map[string]any{"roles": []string{}})
		for _, tc := range []struct {
			user int
			want bool
		}{{s.subscriber, false}, {s.editor, true}, {admin, false}} {
			if _, ok := findEmbed(t, s.page(t, "/", tc.user)); ok != tc.want {
				t.Errorf("roles=[editor]: user %d has widget = %v; want %v", tc.user, ok, tc.want)
			}
		}
	})

	t.Run("jwt scheme", func(t *testing.T) {
		s.saveSettings(t, map[string]any{"scheme": "jwt", "language": "de"})
		defer s.saveSettings(t, map[string]any{"scheme": "hash", "language": ""})
		e, ok := findEmbed(t, s.page(t, "/", s.editor))
		if !ok {
			t.Fatalf("no widget for the editor")
		}
		if _, has := e.Config["hash"]; has || e.Config["token"] == nil || e.Config["lang"] != "de" {
			t.Fatalf("Pollchat.init(%s); want a token, no hash, lang de", e.RawConfig)
		}
		me := s.hello(t, e.Config)
		if me.UserID != strconv.Itoa(s.editor) || me.Name != "Eve Editor" || me.Role != "mod" {
			t.Errorf("/v1/hello with the token: me = %+v; want user %d, Eve Editor, mod", me, s.editor)
		}
	})

	t.Run("chat links", func(t *testing.T) {
		out := s.wp.PHP(t, fmt.Sprintf(`$id = wp_insert_post(array('post_title' => 'Meet Eve', 'post_name' => 'meet-eve', 'post_status' => 'publish', 'post_author' => %d,
	'post_content' => '[pollchat_link user="%d" text="Talk to Eve & Co"] [pollchat_link user="author"]'));
wp_set_current_user(%d);
echo wp_json_encode(array(
	'tpl' => pollchat_chat_link(%d, '', false),
	'html' => pollchat_chat_link(%d, 'Talk to <b>"me"</b>', false),
	'self' => pollchat_chat_link(%d, '', false),
	'none' => pollchat_chat_link(424242, '', false),
));`, s.editor, s.editor, s.subscriber, admin, admin, s.subscriber))
		var tpl map[string]string
		if err := json.Unmarshal([]byte(lastLine(out)), &tpl); err != nil {
			t.Fatalf("%q: %v", out, err)
		}
		// The admin's name is its login: links say "User N".
		if m := reChatLink.FindStringSubmatch(tpl["html"]); m == nil || m[2] != strconv.Itoa(admin) || m[3] != `Talk to &lt;b&gt;&quot;me&quot;&lt;/b&gt;` {
			t.Errorf("pollchat_chat_link with HTML in the text = %q; want a chat link to %d with the text escaped", tpl["html"], admin)
		}
		m := reChatLink.FindStringSubmatch(tpl["tpl"])
		if m == nil || m[2] != strconv.Itoa(admin) || m[3] != fmt.Sprintf("Chat with User %d", admin) || tpl["self"] != "" || tpl["none"] != "" {
			t.Fatalf("pollchat_chat_link = %q, to oneself %q, to nobody %q; want a link \"Chat with User %d\", \"\", \"\"", tpl["tpl"], tpl["self"], tpl["none"], admin)
		}
		// The link opens the popup on pollchat, signed with the link secret,
		// and is no identity.
		checkPopupLink(t, s.pc, m[1], strconv.Itoa(s.subscriber), strconv.Itoa(admin))

		html := s.page(t, "/meet-eve/", s.subscriber)
		var texts []string
		for _, m := range reChatLink.FindAllStringSubmatch(html, -1) {
			if m[2] != strconv.Itoa(s.editor) {
				t.Errorf("post for a subscriber links to user %s; want only %d", m[2], s.editor)
			}
			checkPopupLink(t, s.pc, m[1], strconv.Itoa(s.subscriber), strconv.Itoa(s.editor))
			texts = append(texts, m[3])
		}
		if want := []string{"Talk to Eve &amp; Co", "Chat with Eve Editor"}; !reflect.DeepEqual(texts, want) {
			t.Errorf("post for a subscriber has chat links %q; want %q\n%s", texts, want, excerpt(html, "pollchat-link"))
		}
		guest := s.page(t, "/meet-eve/", 0)
		if !strings.Contains(guest, `class="pollchat-link pollchat-link-login">Talk to Eve &amp; Co</a>`) || strings.Contains(guest, "data-pollchat-user") || strings.Contains(guest, "/chat?") {
			t.Errorf("post for a guest: want login links and no chat links\n%s", excerpt(guest, "pollchat-link"))
		}
	})

	t.Run("chat in Chromium", func(t *testing.T) {
		testChatInChromium(t, s)
	})

	t.Run("profile update reaches pollchat", func(t *testing.T) {
		if subCfg == nil {
			t.Fatal("no identity from the front page")
		}
		if u := s.user(t, subCfg, s.editor); u.Name != "Eve Editor" {
			t.Fatalf("/v1/users before = %+v; want Eve Editor", u)
		}
		s.wp.PHP(t, fmt.Sprintf(`$r = wp_update_user(array('ID' => %d, 'display_name' => 'Eve Renamed'));
if (is_wp_error($r)) { fwrite(STDERR, "PHP Fatal error: " . $r->get_error_message() . "\n"); exit(1); }`, s.editor))
		if u := s.user(t, subCfg, s.editor); u.Name != "Eve Renamed" {
			t.Errorf("/v1/users after wp_update_user = %+v; want Eve Renamed (cache_ttl is 1h: only the invalidate call can bring it)\n%s", u, s.pc.Log())
		}
		// A deleted user leaves the cache too.
		doomed := s.wp.CreateUser(t, "doomed", "doomed@example.com", "Doomed Dora", "subscriber")
		if u := s.user(t, subCfg, doomed); u.Name != "Doomed Dora" {
			t.Fatalf("/v1/users for a new user = %+v; want Doomed Dora", u)
		}
		s.wp.PHP(t, fmt.Sprintf(`require_once ABSPATH . 'wp-admin/includes/user.php'; wp_delete_user(%d);`, doomed))
		if got := s.users(t, subCfg, doomed); len(got) != 0 {
			t.Errorf("/v1/users after wp_delete_user = %+v; want none", got)
		}
		// A role change goes through the same call.
		s.wp.PHP(t, fmt.Sprintf(`(new WP_User(%d))->set_role('administrator');`, s.editor))
		if u := s.user(t, subCfg, s.editor); u.Role != "admin" {
			t.Errorf("/v1/users after set_role(administrator) = %+v; want role admin", u)
		}
	})

	t.Run("invalidation does not wait for pollchat", func(t *testing.T) {
		out := s.wp.PHP(t, `$seen = null;
add_filter('pre_http_request', function ($pre, $args, $url) use (&$seen) {
	if (false !== strpos($url, '/api/v1/users/invalidate')) { $seen = array('blocking' => $args['blocking'], 'timeout' => $args['timeout']); }
	return $pre;
}, 10, 3);
pollchat_queue_invalidation(424242);
pollchat_send_invalidations();
echo wp_json_encode(array('seen' => $seen, 'priority' => has_action('shutdown', 'pollchat_send_invalidations') === PHP_INT_MAX));`)
		var r struct {
			Seen *struct {
				Blocking bool
				Timeout  float64
			}
			Priority bool
		}
		if err := json.Unmarshal([]byte(lastLine(out)), &r); err != nil {
			t.Fatalf("%q: %v", out, err)
		}
		if r.Seen == nil || r.Seen.Blocking || r.Seen.Timeout > 1 || !r.Priority {
			t.Errorf("invalidate request %+v, last on shutdown %v; want a non-blocking request with at most 1 s, hooked last on shutdown", r.Seen, r.Priority)
		}
	})

	t.Run("settings page", func(t *testing.T) {
		testSettingsPage(t, s)
	})

	t.Run("no PHP warnings from the plugin", func(t *testing.T) {
		for _, line := range strings.Split(s.web.Log(), "\n") {
			if strings.Contains(line, "plugins/pollchat/") && regexp.MustCompile(`PHP (Warning|Notice|Deprecated|Fatal error|Parse error)`).MatchString(line) {
				t.Errorf("php -S log: %s", line)
			}
		}
	})

	t.Run("uninstall removes the option", func(t *testing.T) {
		out := s.wp.PHP(t, `require_once ABSPATH . 'wp-admin/includes/plugin.php';
deactivate_plugins('pollchat/pollchat.php');
$kept = get_option('pollchat_settings');
uninstall_plugin('pollchat/pollchat.php');
echo wp_json_encode(array('kept_on_deactivate' => is_array($kept) && $kept['secret'] !== '', 'after' => get_option('pollchat_settings', 'gone')));`)
		if got := lastLine(out); got != `{"kept_on_deactivate":true,"after":"gone"}` {
			t.Errorf("deactivate then uninstall = %s; want settings kept on deactivate and gone after uninstall", got)
		}
	})
}

// reChatLink matches a chat link: popup URL, user id, text.
var reChatLink = regexp.MustCompile(`<a href="([^"]*)" class="pollchat-link" data-pollchat-user="(\d+)" target="_blank" rel="noopener noreferrer nofollow">(.*?)</a>`)

// checkPopupLink checks a chat link's href (HTML-escaped, as in a page):
// pollchat's /chat for me and target opens with it (so it is signed with
// pollchat's auth.link_secret), a tampered one is refused, and its hash is
// not an identity, neither of me nor of the user whose id is me+target
// (what a link signed with auth.secret would be).
func checkPopupLink(t *testing.T, pc *testsvc.Pollchat, href, me, target string) {
	t.Helper()
	u, err := url.Parse(html.UnescapeString(href))
	if err != nil || u.Scheme+"://"+u.Host != pc.URL || u.Path != "/chat" {
		t.Fatalf("chat link href %q (%v); want %s/chat?...", href, err, pc.URL)
	}
	p := u.Query()
	if p.Get("id") != me || p.Get("target") != target || len(p.Get("hash")) != 40 {
		t.Fatalf("chat link params %v; want id %s, target %s and a hash", p, me, target)
	}
	if code, _, body := httpDo(t, "GET", u.String(), nil, nil); code != 200 {
		t.Errorf("GET %s = %d; want 200 (the popup page)\n%.300s", u, code, body)
	}
	tampered := url.Values{"id": {me}, "target": {"999"}, "timestamp": {p.Get("timestamp")}, "hash": {p.Get("hash")}}
	if code, _, _ := httpDo(t, "GET", pc.URL+"/chat?"+tampered.Encode(), nil, nil); code != 403 {
		t.Errorf("the link's hash for another target = %d; want 403", code)
	}
	for _, id := range []string{me + target, me} {
		q := url.Values{"id": {id}, "timestamp": {p.Get("timestamp")}, "hash": {p.Get("hash")}}
		if code, _, body := httpDo(t, "GET", pc.URL+"/v1/hello?"+q.Encode(), nil, nil); code != 401 {
			t.Errorf("/v1/hello as %q with the link's hash = %d %s; want 401 (a link is no login)", id, code, body)
		}
	}
}

// excerpt returns the text around the first occurrence of marker in s.
func excerpt(s, marker string) string {
	i := strings.Index(s, marker)
	if i < 0 {
		return "(no " + marker + ")"
	}
	return s[max(0, i-300):min(len(s), i+300)]
}
