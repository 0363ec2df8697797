package plugins

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"pollchat/internal/testsvc"
)

// octoberModeration is PHP that signs in a backend administrator (with or
// without pollchat.chat.moderate), runs the Chat moderation controller's
// button handler as October would, and prints what came of it: the redirect
// target or the error shown.
func octoberModeration(serverURL, password string, allowed bool) string {
	perms := "array()"
	if allowed {
		perms = "array('pollchat.chat.moderate')"
	}
	return octoberSetup(serverURL, `Model::$settings['api_password'] = `+q(password)+`;`) + `
BackendAuth::$user = new Backend\Models\User(array('id' => 7, 'login' => 'root', 'email' => 'root@example.com', 'first_name' => 'Ada', 'last_name' => 'Admin', 'permissions' => ` + perms + `));
$c = new Pollchat\Chat\Controllers\Moderation();
$c->index();
try {
	$r = $c->index_onOpen();
	echo json_encode(array('redirect' => $r->target, 'context' => BackendMenu::$context, 'title' => $c->pageTitle));
} catch (ApplicationException $e) {
	echo json_encode(array('error' => $e->getMessage(), 'context' => BackendMenu::$context, 'title' => $c->pageTitle));
}`
}

type octoberModerationResult struct {
	Redirect, Error, Title string
	Context                []string
}

// TestOctoberModeration: the backend entry is registered behind the
// pollchat.chat.moderate permission, and its button asks pollchat (here a
// recording stand-in) for a moderator session with the API credentials and
// redirects to the console; without the permission nothing is asked.
func TestOctoberModeration(t *testing.T) {
	var reg struct {
		Permissions map[string]map[string]string
		Navigation  map[string]map[string]any
		Required    []string
	}
	phpJSON(t, octoberSetup("https://chat.example.com", "")+`
$p = new Pollchat\Chat\Plugin();
echo json_encode(array('Permissions' => $p->registerPermissions(), 'Navigation' => $p->registerNavigation(),
	'Required' => (new Pollchat\Chat\Controllers\Moderation())->requiredPermissions));`, &reg)
	if _, ok := reg.Permissions["pollchat.chat.moderate"]; !ok {
		t.Errorf("registerPermissions = %v; want pollchat.chat.moderate", reg.Permissions)
	}
	nav := reg.Navigation["moderation"]
	if nav == nil || !strings.HasSuffix(nav["url"].(string), "/backend/pollchat/chat/moderation") || len(nav["permissions"].([]any)) != 1 || nav["permissions"].([]any)[0] != "pollchat.chat.moderate" {
		t.Errorf("registerNavigation = %v; want moderation at pollchat/chat/moderation behind pollchat.chat.moderate", reg.Navigation)
	}
	if len(reg.Required) != 1 || reg.Required[0] != "pollchat.chat.moderate" {
		t.Errorf("Moderation::$requiredPermissions = %v; want [pollchat.chat.moderate]", reg.Required)
	}
	view, err := os.ReadFile(filepath.Join(octoberPlugin, "controllers", "moderation", "index.htm"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(view), `data-request="onOpen"`) || !strings.Contains(string(view), "Form::open") {
		t.Errorf("controllers/moderation/index.htm: want a form (CSRF token) whose button runs onOpen\n%s", view)
	}

	// The stand-in pollchat: records each call, answers like the API.
	dir := t.TempDir()
	logFile := filepath.Join(dir, "requests.log")
	router := filepath.Join(dir, "router.php")
	if err := os.WriteFile(router, []byte(`<?php
file_put_contents(`+q(logFile)+`, json_encode(array(
	'method' => $_SERVER['REQUEST_METHOD'], 'uri' => $_SERVER['REQUEST_URI'],
	'auth' => isset($_SERVER['PHP_AUTH_USER']) ? $_SERVER['PHP_AUTH_USER'] . ':' . $_SERVER['PHP_AUTH_PW'] : '',
	'body' => json_decode(file_get_contents('php://input'), true))) . "\n", FILE_APPEND | LOCK_EX);
header('Content-Type: application/json');
if (!isset($_SERVER['PHP_AUTH_PW']) || $_SERVER['PHP_AUTH_PW'] !== 'backend-password') {
	http_response_code(401);
	echo '{"error":{"code":"AUTH_FAILED","message":"bad credentials"}}';
	return;
}
http_response_code(201);
echo json_encode(array('url' => file_exists(`+q(filepath.Join(dir, "evil"))+`) ? 'https://evil.example.com/admin/session?token=t0k' : '/admin/session?token=t0k', 'expires_at' => '2030-01-01T00:00:00Z'));
`), 0o644); err != nil {
		t.Fatal(err)
	}
	rec := testsvc.StartPHPRouter(t, dir, router)
	requests := func() []map[string]any {
		t.Helper()
		b, err := os.ReadFile(logFile)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		_ = os.Remove(logFile)
		var out []map[string]any
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if line == "" {
				continue
			}
			var r map[string]any
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("recorded %q: %v", line, err)
			}
			out = append(out, r)
		}
		return out
	}

	t.Run("moderator", func(t *testing.T) {
		var r octoberModerationResult
		phpJSON(t, octoberModeration(rec.URL+"/", "backend-password", true), &r)
		if r.Redirect != rec.URL+"/admin/session?token=t0k" || r.Error != "" {
			t.Errorf("onOpen = %+v; want a redirect to %s/admin/session?token=t0k", r, rec.URL)
		}
		if len(r.Context) != 2 || r.Context[1] != "moderation" || r.Title != "pollchat.chat::lang.moderation.title" {
			t.Errorf("menu context %v, title %q; want moderation", r.Context, r.Title)
		}
		got := requests()
		if len(got) != 1 {
			t.Fatalf("requests to pollchat = %v; want one", got)
		}
		body, _ := got[0]["body"].(map[string]any)
		if got[0]["method"] != "POST" || got[0]["uri"] != "/api/v1/moderator/sessions" || got[0]["auth"] != "backend:backend-password" ||
			body["user_id"] != "backend-7" || body["name"] != "Ada Admin" || body["ttl"] != float64(600) {
			t.Errorf("request = %v; want POST /api/v1/moderator/sessions with Basic backend:backend-password and {user_id: backend-7, name: Ada Admin, ttl: 600}", got[0])
		}
	})

	t.Run("without the permission", func(t *testing.T) {
		var r octoberModerationResult
		phpJSON(t, octoberModeration(rec.URL, "backend-password", false), &r)
		if r.Redirect != "" || r.Error != "You may not moderate the chat." {
			t.Errorf("onOpen without pollchat.chat.moderate = %+v; want the refusal", r)
		}
		if got := requests(); len(got) != 0 {
			t.Errorf("without the permission pollchat was asked: %v", got)
		}
	})

	t.Run("failures", func(t *testing.T) {
		for _, tc := range []struct {
			name, server, password, want string
			evil                         bool
		}{
			{"wrong API password", rec.URL, "wrong", "refused the API login and password", false},
			{"nobody listening", "http://127.0.0.1:" + strconv.Itoa(testsvc.FreePort(t)), "backend-password", "could not be reached", false},
			{"console on another host", rec.URL, "backend-password", "without a console address", true},
		} {
			if tc.evil {
				if err := os.WriteFile(filepath.Join(dir, "evil"), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var r octoberModerationResult
			phpJSON(t, octoberModeration(tc.server, tc.password, true), &r)
			if r.Redirect != "" || !strings.Contains(r.Error, tc.want) {
				t.Errorf("%s: onOpen = %+v; want no redirect and an error with %q", tc.name, r, tc.want)
			}
		}
		requests()
	})
}

// TestOctoberModerationAgainstPollchat opens the console through the
// October handler on a running pollchat and follows the redirect: pollchat
// sets its console cookie and shows /admin.
func TestOctoberModerationAgainstPollchat(t *testing.T) {
	pc := testsvc.StartPollchat(t, testsvc.Options{})
	var r octoberModerationResult
	phpJSON(t, octoberModeration(pc.URL, testsvc.APIPassword, true), &r)
	if !strings.HasPrefix(r.Redirect, pc.URL+"/admin/session?") {
		t.Fatalf("onOpen = %+v; want a redirect to %s/admin/session?…\n%s", r, pc.URL, pc.Log())
	}
	final, status, cookies := followConsole(t, r.Redirect)
	if status != 200 || final != pc.URL+"/admin" || len(cookies) == 0 {
		t.Errorf("following %s ended at %s (%d) with cookies %v; want %s/admin, 200, a console cookie", r.Redirect, final, status, cookies, pc.URL)
	}
}
