package plugins

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"pollchat/bridge"
	"pollchat/config"
	"pollchat/internal/testsvc"
)

// OctoberCMS cannot be installed on these machines (its packages come from
// a registry they cannot reach), so these tests load the plugin's real
// files (Plugin.php, routes.php, the component, the settings model and the
// plain classes) with php-cli over small stand-ins for the October and
// RainLab.User classes they call (testdata/october/standins.php).

const octoberSecret = "october-secret"

// octoberSetup is PHP that loads the stand-ins and the plugin, stores
// settings and creates three members.
func octoberSetup(serverURL string, extra string) string {
	return fmt.Sprintf(`require %s;
use RainLab\User\Models\User;
use RainLab\User\Models\UserGroup;
Model::$settings = array(
	'server_url' => %s, 'secret' => %s, 'link_secret' => %s, 'scheme' => 'hash',
	'api_login' => 'backend', 'api_password' => 'backend-password',
	'users_login' => 'pollchat', 'users_password' => 'users-pw',
	'admin_groups' => 'staff', 'mod_groups' => 'helpers, editors',
	'profile_url' => 'https://example.com/members/{id}',
	'colour_header' => '#336699', 'colour_body' => 'red;}', 'position' => 'bottom-left',
	'font_family' => 'Georgia,  serif;}', 'language' => 'de',
);
%s
(new Pollchat\Chat\Plugin)->boot();
User::$all[1] = new User(array('id' => 1, 'name' => 'Ada', 'surname' => 'Lovelace', 'groups' => array(new UserGroup('staff')), 'avatar' => 'https://example.com/ada.png'));
User::$all[2] = new User(array('id' => 2, 'first_name' => 'Grace', 'last_name' => 'Hopper', 'groups' => array(new UserGroup('editors'))));
User::$all[3] = new User(array('id' => 3, 'username' => 'linus', 'email' => 'linus@example.com'));
`, q(octoberStandins), q(serverURL), q(octoberSecret), q(testsvc.LinkSecret), extra)
}

type octoberAnswer struct {
	Status  int
	Headers map[string]string
	Body    string
}

// TestOctoberUsersInfoRoute calls the closure routes.php registers, as
// October's router would, with Basic credentials in each form PHP gives
// them.
func TestOctoberUsersInfoRoute(t *testing.T) {
	auth := `'PHP_AUTH_USER' => 'pollchat', 'PHP_AUTH_PW' => 'users-pw'`
	cases := []struct {
		name     string
		server   string
		userIDs  string
		status   int
		wantBody string // JSON, compared as values
	}{
		{"no credentials", ``, "1", 401, `{"error":{"code":"AUTH_FAILED","message":"wrong or missing users-info credentials"}}`},
		{"wrong password", `'PHP_AUTH_USER' => 'pollchat', 'PHP_AUTH_PW' => 'nope'`, "1", 401, `{"error":{"code":"AUTH_FAILED","message":"wrong or missing users-info credentials"}}`},
		{"three users in the order asked, unknown left out", auth, "3,1,99,2", 200, `[
			{"user_id":"3","name":"User 3","avatar_url":"","profile_url":"https://example.com/members/3","role":"member"},
			{"user_id":"1","name":"Ada Lovelace","avatar_url":"https://example.com/ada.png?s=96","profile_url":"https://example.com/members/1","role":"admin"},
			{"user_id":"2","name":"Grace Hopper","avatar_url":"","profile_url":"https://example.com/members/2","role":"mod"}]`},
		{"fastcgi header", `'HTTP_AUTHORIZATION' => 'Basic ' . base64_encode('pollchat:users-pw')`, "2", 200, `[{"user_id":"2","name":"Grace Hopper","avatar_url":"","profile_url":"https://example.com/members/2","role":"mod"}]`},
		{"bad ids", auth, "1;DROP", 400, `{"error":{"code":"BAD_REQUEST","message":"user_ids must be a comma-separated list of at most 100 numeric ids"}}`},
		{"repeated ids count once", auth, strings.Repeat("1,", 100) + "101", 200, `[{"user_id":"1","name":"Ada Lovelace","avatar_url":"https://example.com/ada.png?s=96","profile_url":"https://example.com/members/1","role":"admin"}]`},
		{"101 distinct ids", auth, distinctIDs(101), 400, `{"error":{"code":"BAD_REQUEST","message":"user_ids must be a comma-separated list of at most 100 numeric ids"}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got octoberAnswer
			phpJSON(t, octoberSetup("http://127.0.0.1:1", "")+fmt.Sprintf(`
$_SERVER = array(%s); $_GET = array('user_ids' => %s);
$r = call_user_func(Route::$get['pollchat/users-info']);
echo json_encode(array('Status' => $r['status'], 'Headers' => $r['headers'], 'Body' => $r['body']));`, tc.server, q(tc.userIDs)), &got)
			if got.Status != tc.status {
				t.Errorf("status = %d; want %d (body %s)", got.Status, tc.status, got.Body)
			}
			var gotBody, wantBody any
			if err := json.Unmarshal([]byte(got.Body), &gotBody); err != nil {
				t.Fatalf("body %q: %v", got.Body, err)
			}
			if err := json.Unmarshal([]byte(tc.wantBody), &wantBody); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(gotBody, wantBody) {
				t.Errorf("body = %s; want %s", got.Body, tc.wantBody)
			}
			if ct := got.Headers["Content-Type"]; !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q; want application/json", ct)
			}
			if _, ok := got.Headers["WWW-Authenticate"]; ok != (tc.status == 401) {
				t.Errorf("WWW-Authenticate present = %v; want %v", ok, tc.status == 401)
			}
		})
	}
}

func distinctIDs(n int) string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprint(i + 1)
	}
	return strings.Join(ids, ",")
}

// TestOctoberComponent runs the widget component's onRun for a member, a
// guest and a member outside the chosen groups, and checks the signed init
// options with the server's verifier.
func TestOctoberComponent(t *testing.T) {
	v, err := bridge.NewVerifier(config.Auth{Secret: octoberSecret})
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		InitJSON string
		JS, CSS  []string
		Headers  map[string]string
		Link     string
		SelfLink string
		NoLink   string
	}
	cases := []struct {
		name     string
		extra    string
		user     string // PHP: who is logged in
		widget   bool
		scheme   string
		wantLink string // text of the link to "other"; "" for none
	}{
		{"member, hash", ``, `User::$all[2]`, true, "hash", "Chat with Ada Lovelace"},
		// linus has only a username (his login): "User 3".
		{"member, jwt", `Model::$settings['scheme'] = 'jwt';`, `User::$all[1]`, true, "jwt", "Chat with User 3"},
		{"guest", ``, `null`, false, "", ``},
		{"not in the chat groups", `Model::$settings['groups'] = 'staff';`, `User::$all[2]`, false, "", "Chat with Ada Lovelace"},
		{"not configured", `Model::$settings['secret'] = '';`, `User::$all[2]`, false, "", ``},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var r result
			other := "1"
			if tc.scheme == "jwt" {
				other = "3"
			}
			phpJSON(t, octoberSetup("https://chat.example.com/", tc.extra)+fmt.Sprintf(`
RainLab\User\Facades\Auth::$user = %s;
$c = new Pollchat\Chat\Components\ChatWidget();
$c->onRun();
$me = RainLab\User\Facades\Auth::$user;
echo json_encode(array('InitJSON' => (string) $c->initJson, 'JS' => $c->addedJs, 'CSS' => $c->addedCss, 'Headers' => (object) $c->controller->headers,
	'Link' => (string) Pollchat\Chat\Plugin::chatLink(%s),
	'SelfLink' => $me ? (string) Pollchat\Chat\Plugin::chatLink($me->id) : '',
	'NoLink' => (string) Pollchat\Chat\Plugin::chatLink(42)));`, tc.user, other), &r)
			m := reChatLink.FindStringSubmatch(r.Link)
			if tc.wantLink == "" && r.Link != "" || tc.wantLink != "" && (m == nil || m[2] != other || m[3] != tc.wantLink || !strings.HasPrefix(m[1], "https://chat.example.com/chat?")) || r.SelfLink != "" || r.NoLink != "" {
				t.Errorf("chatLink = %q, to oneself %q, to an unknown member %q; want a popup link to %s %q, \"\", \"\"", r.Link, r.SelfLink, r.NoLink, other, tc.wantLink)
			}
			if cc := r.Headers["Cache-Control"]; tc.widget != (strings.Contains(cc, "private") && strings.Contains(cc, "no-store")) {
				t.Errorf("Cache-Control = %q with widget %v; want private, no-store exactly on pages with a signed identity", cc, tc.widget)
			}
			if !tc.widget {
				if r.InitJSON != "" || len(r.JS) != 0 {
					t.Errorf("onRun gave init %q, js %v; want no widget", r.InitJSON, r.JS)
				}
				return
			}
			if !reflect.DeepEqual(r.JS, []string{"https://chat.example.com/widget.js"}) || !reflect.DeepEqual(r.CSS, []string{"https://chat.example.com/widget.css"}) {
				t.Errorf("addJs %v, addCss %v; want the server's widget.js and widget.css", r.JS, r.CSS)
			}
			if strings.Contains(r.InitJSON, octoberSecret) || strings.Contains(r.InitJSON, "<") {
				t.Errorf("init JSON %s carries the secret or a raw '<'", r.InitJSON)
			}
			var cfg map[string]any
			if err := json.Unmarshal([]byte(r.InitJSON), &cfg); err != nil {
				t.Fatalf("init JSON %q: %v", r.InitJSON, err)
			}
			if strings.Contains(r.InitJSON, testsvc.LinkSecret) || strings.Contains(r.Link, testsvc.LinkSecret) {
				t.Errorf("init JSON or link carries the link secret")
			}
			if cfg["server"] != "https://chat.example.com" || cfg["position"] != "bottom-left" || cfg["lang"] != "de" {
				t.Errorf("init = %v; want server https://chat.example.com, position bottom-left, lang de", cfg)
			}
			if !reflect.DeepEqual(cfg["layout"], map[string]any{"header": "#336699", "fontFamily": "Georgia, serif"}) {
				t.Errorf("layout = %v; want only the valid header colour and the cleaned font", cfg["layout"])
			}
			var idn bridge.Identity
			if tc.scheme == "jwt" {
				tok, _ := cfg["token"].(string)
				idn, err = v.VerifyToken(tok)
				if err == nil && idn.Name != "Ada Lovelace" {
					t.Errorf("token name claim = %q; want Ada Lovelace", idn.Name)
				}
			} else {
				idn, err = v.VerifyHash(fmt.Sprint(cfg["id"]), fmt.Sprint(cfg["timestamp"]), fmt.Sprint(cfg["hash"]))
			}
			want := "2"
			if tc.scheme == "jwt" {
				want = "1"
			}
			if err != nil || idn.UserID != want {
				t.Errorf("verify %s identity %v = %+v, %v; want user %s", tc.scheme, cfg, idn, err, want)
			}
		})
	}
}

// TestOctoberInvalidation fires the member model's events the plugin binds
// in boot() and records, with a php -S stand-in for pollchat's backend API,
// which saves lead to a POST /api/v1/users/invalidate (the real pollchat
// answers the same request in TestWordPress and TestOctoberInvalidatorAgainstPollchat).
func TestOctoberInvalidation(t *testing.T) {
	dir := t.TempDir()
	logFile := filepath.Join(dir, "requests.log")
	router := filepath.Join(dir, "router.php")
	if err := os.WriteFile(router, []byte(`<?php
file_put_contents(`+q(logFile)+`, json_encode(array(
	'method' => $_SERVER['REQUEST_METHOD'], 'uri' => $_SERVER['REQUEST_URI'],
	'auth' => isset($_SERVER['PHP_AUTH_USER']) ? $_SERVER['PHP_AUTH_USER'] . ':' . $_SERVER['PHP_AUTH_PW'] : '',
	'type' => isset($_SERVER['CONTENT_TYPE']) ? $_SERVER['CONTENT_TYPE'] : '',
	'body' => file_get_contents('php://input'))) . "\n", FILE_APPEND | LOCK_EX);
header('Content-Type: application/json');
echo '{"ok":true}';
`), 0o644); err != nil {
		t.Fatal(err)
	}
	rec := testsvc.StartPHPRouter(t, dir, router)
	cases := []struct {
		name  string
		fire  string // PHP
		wants []string
	}{
		{"name change", `$u = User::$all[2]; $u->changes = array('first_name' => 'Amazing Grace'); $u->fire('model.afterSave');`, []string{`{"user_ids":["2"]}`}},
		{"login only", `$u = User::$all[2]; $u->changes = array('last_login' => '2026-11-22', 'last_seen' => '2026-11-22'); $u->fire('model.afterSave');`, nil},
		{"avatar (relation only)", `$u = User::$all[1]; $u->changes = array(); $u->fire('model.afterSave');`, []string{`{"user_ids":["1"]}`}},
		{"delete", `User::$all[3]->fire('model.afterDelete');`, []string{`{"user_ids":["3"]}`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_ = os.Remove(logFile)
			runPHP(t, octoberSetup(rec.URL, "")+tc.fire)
			b, err := os.ReadFile(logFile)
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			var got []string
			for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				if line == "" {
					continue
				}
				var r struct{ Method, URI, Auth, Type, Body string }
				if err := json.Unmarshal([]byte(line), &r); err != nil {
					t.Fatalf("recorded %q: %v", line, err)
				}
				if r.Method != "POST" || r.URI != "/api/v1/users/invalidate" || r.Auth != "backend:backend-password" || r.Type != "application/json" {
					t.Errorf("request = %+v; want POST /api/v1/users/invalidate, Basic backend:backend-password, application/json", r)
				}
				got = append(got, r.Body)
			}
			if !reflect.DeepEqual(got, tc.wants) {
				t.Errorf("invalidate bodies = %q; want %q", got, tc.wants)
			}
		})
	}
}

// TestOctoberInvalidatorAgainstPollchat sends the October plugin's
// invalidate call to a running pollchat: accepted with the API
// credentials, refused without.
func TestOctoberInvalidatorAgainstPollchat(t *testing.T) {
	pc := testsvc.StartPollchat(t, testsvc.Options{})
	for _, tc := range []struct {
		password string
		want     string
	}{
		{testsvc.APIPassword, "sent"},
		{"wrong", "refused"},
	} {
		load := "require " + q(filepath.Join(octoberPlugin, "classes", "Invalidator.php")) + ";"
		// A refused call is logged with error_log; keep that off stderr.
		out := runPHP(t, fmt.Sprintf("%s\nini_set('error_log', '/dev/null');\necho \\Pollchat\\Chat\\Classes\\Invalidator::send(%s, %s, %s, array('1', '2'), 5) ? 'sent' : 'refused';",
			load, q(pc.URL+"/"), q(testsvc.APILogin), q(tc.password)))
		if out != tc.want {
			t.Errorf("Invalidator::send with password %q = %q; want %q\n%s", tc.password, out, tc.want, pc.Log())
		}
	}
}

// TestOctoberRegistration checks what October reads from the plugin:
// the registration arrays name classes and callables that exist, every
// translation key used in PHP, YAML and Twig is in lang/en/lang.php, and
// the settings form has exactly the fields the plugin reads.
func TestOctoberRegistration(t *testing.T) {
	var reg struct {
		Details     map[string]string
		Components  map[string]string
		Settings    map[string]map[string]any
		Permissions map[string]map[string]string
		Functions   map[string]bool
		Component   map[string]string
		Keys        []string
	}
	phpJSON(t, octoberSetup("https://chat.example.com", "")+`
$p = new Pollchat\Chat\Plugin();
$components = array();
foreach ($p->registerComponents() as $class => $alias) { $components[$alias] = class_exists($class) ? $class : ''; }
$functions = array();
foreach ($p->registerMarkupTags()['functions'] as $name => $fn) { $functions[$name] = is_callable($fn); }
$settings = $p->registerSettings();
foreach ($settings as $k => $v) { $settings[$k]['class_exists'] = class_exists($v['class']); }
echo json_encode(array(
	'Details' => $p->pluginDetails(), 'Components' => $components, 'Settings' => $settings,
	'Permissions' => $p->registerPermissions(), 'Functions' => $functions,
	'Component' => (new Pollchat\Chat\Components\ChatWidget())->componentDetails(),
	'Keys' => array_keys(Pollchat\Chat\Models\Settings::asArray()),
));`, &reg)
	if reg.Components["pollchatWidget"] == "" || !reg.Functions["pollchat_link"] {
		t.Errorf("components %v, markup functions %v; want pollchatWidget and pollchat_link", reg.Components, reg.Functions)
	}
	if s := reg.Settings["settings"]; s == nil || s["class_exists"] != true || s["category"] != "system::lang.system.categories.users" {
		t.Errorf("registerSettings = %v; want the Settings model under Users", reg.Settings)
	}
	if _, ok := reg.Permissions["pollchat.chat.access_settings"]; !ok {
		t.Errorf("registerPermissions = %v; want pollchat.chat.access_settings", reg.Permissions)
	}

	// Every translation key used anywhere in the plugin resolves.
	keyRe := regexp.MustCompile(`pollchat\.chat::lang\.[A-Za-z_.]+[A-Za-z_]`)
	keys := map[string]bool{}
	err := filepath.WalkDir(octoberPlugin, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		for _, k := range keyRe.FindAllString(string(b), -1) {
			keys[k] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) < 30 {
		t.Fatalf("found %d translation keys; want the plugin's (at least 30)", len(keys))
	}
	list, _ := json.Marshal(keys)
	missing := runPHP(t, `$lines = require `+q(filepath.Join(octoberPlugin, "lang", "en", "lang.php"))+`;
foreach (json_decode(`+q(string(list))+`, true) as $key => $_) {
	$v = $lines;
	foreach (explode('.', substr($key, strlen('pollchat.chat::lang.'))) as $part) { $v = is_array($v) && isset($v[$part]) ? $v[$part] : null; }
	if (!is_string($v)) { echo $key, "\n"; }
}`)
	if missing != "" {
		t.Errorf("translation keys missing from lang/en/lang.php:\n%s", missing)
	}

	// fields.yaml has exactly the settings Settings::asArray reads.
	yaml, err := os.ReadFile(filepath.Join(octoberPlugin, "models", "settings", "fields.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var fields []string
	for _, m := range regexp.MustCompile(`(?m)^        ([A-Za-z_]+):\s*$`).FindAllStringSubmatch(string(yaml), -1) {
		fields = append(fields, m[1])
	}
	sort.Strings(fields)
	sort.Strings(reg.Keys)
	if !reflect.DeepEqual(fields, reg.Keys) {
		t.Errorf("fields.yaml fields %v; want the settings the plugin reads %v", fields, reg.Keys)
	}
}

// TestOctoberChatLinkOpensPopup renders a chat link with the plugin for a
// logged-in member and opens it on a running pollchat whose auth.link_secret
// is the plugin's link secret: the popup opens, and its hash is no identity.
func TestOctoberChatLinkOpensPopup(t *testing.T) {
	pc := testsvc.StartPollchat(t, testsvc.Options{})
	link := runPHP(t, octoberSetup(pc.URL+"/", "")+`
RainLab\User\Facades\Auth::$user = User::$all[2];
echo (string) Pollchat\Chat\Plugin::chatLink(1);`)
	m := reChatLink.FindStringSubmatch(link)
	if m == nil || m[2] != "1" {
		t.Fatalf("chatLink(1) = %q; want a popup link to member 1", link)
	}
	checkPopupLink(t, pc, m[1], "2", "1")
}

// TestOctoberSettingsRules saves settings through the Settings model's
// beforeSave (what October runs before writing the row) and checks what is
// stored or refused; the form has password fields, not "sensitive" ones.
func TestOctoberSettingsRules(t *testing.T) {
	stored := map[string]string{"server_url": "https://chat.example.com", "secret": "stored-secret-0123456789",
		"api_password": "stored-api-password", "users_password": "stored-users-password", "link_secret": strings.Repeat("L", 40)}
	storedJSON, _ := json.Marshal(stored)
	save := func(t *testing.T, fields map[string]string) (map[string]string, map[string]string) {
		t.Helper()
		b, _ := json.Marshal(fields)
		var r struct {
			Saved  map[string]string
			Errors map[string]string
		}
		phpJSON(t, "require "+q(octoberStandins)+";\n"+`$m = new Pollchat\Chat\Models\Settings();
$m->original = array('value' => `+q(string(storedJSON))+`);
foreach (json_decode(`+q(string(b))+`, true) as $k => $v) { $m->$k = $v; }
$errors = array();
try { $m->beforeSave(); } catch (ValidationException $e) { $errors = $e->fields; }
$saved = array();
foreach (array('server_url', 'secret', 'api_password', 'users_password', 'link_secret') as $k) { $saved[$k] = isset($m->$k) ? (string) $m->$k : ''; }
echo json_encode(array('Saved' => $saved, 'Errors' => (object) $errors));`, &r)
		return r.Saved, r.Errors
	}
	t.Run("empty password fields keep the stored secrets", func(t *testing.T) {
		saved, errs := save(t, map[string]string{"server_url": "https://chat2.example.com/", "secret": "", "api_password": "", "users_password": ""})
		want := map[string]string{"server_url": "https://chat2.example.com", "secret": stored["secret"], "api_password": stored["api_password"], "users_password": stored["users_password"], "link_secret": stored["link_secret"]}
		if len(errs) != 0 || !reflect.DeepEqual(saved, want) {
			t.Errorf("saved %v, errors %v; want %v", saved, errs, want)
		}
	})
	for _, tc := range []struct {
		name, field string
		fields      map[string]string
	}{
		{"script URL", "server_url", map[string]string{"server_url": "javascript:alert(1)"}},
		{"ftp URL", "server_url", map[string]string{"server_url": "ftp://chat.example.com"}},
		{"URL with a query", "server_url", map[string]string{"server_url": "https://chat.example.com/?a=1"}},
		{"short users-info password", "users_password", map[string]string{"users_password": "short-pw"}},
		{"short link secret", "link_secret", map[string]string{"link_secret": "short-link-secret"}},
		{"link secret equal to the secret", "link_secret", map[string]string{"secret": strings.Repeat("S", 40), "link_secret": strings.Repeat("S", 40)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, errs := save(t, tc.fields); errs[tc.field] == "" {
				t.Errorf("saving %v: errors %v; want %s refused", tc.fields, errs, tc.field)
			}
		})
	}
	t.Run("first use generates the link secret and the users-info password", func(t *testing.T) {
		var r map[string]string
		phpJSON(t, "require "+q(octoberStandins)+";\n"+`$m = new Pollchat\Chat\Models\Settings();
$m->initSettingsData();
echo json_encode(array('link_secret' => $m->link_secret, 'users_password' => $m->users_password));`, &r)
		re := regexp.MustCompile(`^[0-9a-f]{32,}$`)
		if !re.MatchString(r["link_secret"]) || !re.MatchString(r["users_password"]) || r["link_secret"] == r["users_password"] {
			t.Errorf("initSettingsData = %v; want two different random secrets of 32+ characters", r)
		}
	})
	t.Run("the form has password fields, no sensitive reveal", func(t *testing.T) {
		yaml, err := os.ReadFile(filepath.Join(octoberPlugin, "models", "settings", "fields.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(yaml), "type: sensitive") {
			t.Errorf("fields.yaml still uses the sensitive widget")
		}
		for _, f := range []string{"secret", "api_password", "users_password"} {
			if !regexp.MustCompile(`(?m)^        ` + f + `:\n(            .*\n)*?            type: password\n`).Match(yaml) {
				t.Errorf("fields.yaml: %s is not a password field", f)
			}
		}
	})
	t.Run("uninstall removes the settings row", func(t *testing.T) {
		out := runPHP(t, "require "+q(octoberStandins)+";\n"+`(new Pollchat\Chat\Updates\RemoveSettingsOnUninstall())->down();
echo json_encode(Db::$deleted);`)
		if out != `[{"table":"system_settings","where":{"item":"pollchat_chat_settings"}}]` {
			t.Errorf("uninstall deleted %s; want the system_settings row pollchat_chat_settings", out)
		}
		v, err := os.ReadFile(filepath.Join(octoberPlugin, "updates", "version.yaml"))
		if err != nil || !strings.Contains(string(v), "remove_settings_on_uninstall.php") {
			t.Errorf("updates/version.yaml (%v) does not run remove_settings_on_uninstall.php", err)
		}
		code := runPHP(t, "require "+q(octoberStandins)+";\n"+`$r = new ReflectionClass(Pollchat\Chat\Models\Settings::class); echo $r->getDefaultProperties()['settingsCode'];`)
		if code != "pollchat_chat_settings" {
			t.Errorf("settings code %q; want the one the uninstall removes", code)
		}
	})
}
