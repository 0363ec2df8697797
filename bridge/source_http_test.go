package bridge

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"pollchat/config"
	"pollchat/internal/testsvc"
)

const (
	infoLogin    = "pollchat"
	infoPassword = "s3cret:with colon"
)

// usersInfo is testdata/users-info.php under php -S, reading a WordPress
// site's tables, with a request counter and a misbehaviour switch.
type usersInfo struct {
	site    *wpSite
	php     *testsvc.PHP
	url     string
	counter string
	mode    string
}

func startUsersInfo(t *testing.T, site *wpSite) *usersInfo {
	t.Helper()
	dir := t.TempDir()
	ui := &usersInfo{site: site, counter: filepath.Join(dir, "count"), mode: filepath.Join(dir, "mode")}
	docroot, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	wp := site.wp
	ui.php = testsvc.StartPHP(t, docroot,
		fmt.Sprintf("USERS_INFO_DSN=mysql:host=127.0.0.1;port=%d;dbname=%s;charset=utf8mb4", wp.DB.Port(), wp.DBName),
		"USERS_INFO_PREFIX="+wp.Prefix,
		"USERS_INFO_LOGIN="+infoLogin,
		"USERS_INFO_PASSWORD="+infoPassword,
		"USERS_INFO_SITE=https://blog.example.org",
		"USERS_INFO_COUNTER="+ui.counter,
		"USERS_INFO_MODE="+ui.mode,
	)
	ui.url = ui.php.URL + "/users-info.php"
	return ui
}

func (ui *usersInfo) requests(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(ui.counter)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

func (ui *usersInfo) setMode(t *testing.T, mode string) {
	t.Helper()
	if err := os.WriteFile(ui.mode, []byte(mode), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (ui *usersInfo) source(timeout time.Duration) *HTTPSource {
	return NewHTTPSource(config.UsersHTTP{URL: ui.url, Login: infoLogin, Password: infoPassword, Timeout: config.Duration{Duration: timeout}})
}

func TestHTTPSource(t *testing.T) {
	site := newWPSite(t, testsvc.SharedMariaDB(t))
	ui := startUsersInfo(t, site)
	src := ui.source(10 * time.Second)
	ctx := ctxT(t)
	if err := src.Check(ctx); err != nil {
		t.Fatalf("Check() = %v; want nil", err)
	}
	ids := []string{strconv.Itoa(site.admin), strconv.Itoa(site.editor), strconv.Itoa(site.sub), strconv.Itoa(site.xs), "424242"}
	got, err := src.Lookup(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	// The same users through the wordpress preset: both sources agree.
	viaSQL, err := wpSource(t, site.wp.DSN, "https://blog.example.org").Lookup(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || len(viaSQL) != 4 {
		t.Fatalf("users-info returned %d users, mysql %d; want 4 each", len(got), len(viaSQL))
	}
	for id, w := range viaSQL {
		g := got[id]
		if g.ID != id || g.Name != w.Name || g.Role != w.Role || g.ProfileURL != w.ProfileURL || g.AvatarURL != w.AvatarURL {
			t.Errorf("users-info %s = %+v; want as the wordpress preset: %+v", id, g, w)
		}
	}
	if n := got[strconv.Itoa(site.xs)].Name; n != "<script>alert(1)</script>" {
		t.Errorf("name = %q; want the <script> name verbatim", n)
	}
	// Extra fields pass through to the widget's JSON.
	admin := got[strconv.Itoa(site.admin)]
	b, err := json.Marshal(admin)
	if err != nil {
		t.Fatal(err)
	}
	var wire map[string]any
	if err := json.Unmarshal(b, &wire); err != nil {
		t.Fatal(err)
	}
	if wire["badge"] != "staff" || wire["stats"].(map[string]any)["posts"] != float64(site.admin*3) || wire["role"] != "admin" {
		t.Errorf("wire form of the admin = %s; want badge staff, stats.posts %d, role admin", b, site.admin*3)
	}

	for _, bad := range []config.UsersHTTP{
		{URL: ui.url, Login: infoLogin, Password: "wrong"},
		{URL: ui.url},
	} {
		err := NewHTTPSource(bad).Check(ctx)
		var uie *UsersInfoError
		if !errors.As(err, &uie) || uie.Status != 401 || !strings.Contains(err.Error(), "refused") {
			t.Errorf("Check(password %q) = %v; want a 401 UsersInfoError saying refused", bad.Password, err)
		}
	}
	err = NewHTTPSource(config.UsersHTTP{URL: ui.php.URL + "/nope.php", Login: infoLogin, Password: infoPassword}).Check(ctx)
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("Check(missing URL) = %v; want an HTTP 404 error", err)
	}
}

func TestHTTPDirectoryBatchesAndCaches(t *testing.T) {
	site := newWPSite(t, testsvc.SharedMariaDB(t))
	ui := startUsersInfo(t, site)
	d := NewDirectory(ui.source(10*time.Second), DirectoryConfig{Tick: 300 * time.Millisecond})
	ctx := ctxT(t)
	ids := []string{strconv.Itoa(site.admin), strconv.Itoa(site.editor), strconv.Itoa(site.sub), strconv.Itoa(site.xs), "424242"}
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(id string) {
			defer wg.Done()
			<-start
			_, err := d.Get(ctx, id)
			if errors.Is(err, ErrUnknownUser) && id == "424242" {
				err = nil
			}
			errs <- err
		}(ids[i%len(ids)])
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := ui.requests(t); got != 1 {
		t.Fatalf("50 concurrent Gets of 5 ids made %d users-info requests; want 1", got)
	}
	for _, id := range ids {
		_, _ = d.Get(ctx, id)
	}
	if got := ui.requests(t); got != 1 {
		t.Fatalf("after cached Gets the endpoint saw %d requests; want still 1", got)
	}
}

func TestHTTPStaleWhenEndpointMisbehaves(t *testing.T) {
	site := newWPSite(t, testsvc.SharedMariaDB(t))
	ui := startUsersInfo(t, site)
	ctx := ctxT(t)
	ed, sub := strconv.Itoa(site.editor), strconv.Itoa(site.sub)
	for _, mode := range []string{"500", "garbage", "partial", "hang"} {
		t.Run(mode, func(t *testing.T) {
			ui.setMode(t, "")
			log, buf := testLogger()
			d := NewDirectory(ui.source(300*time.Millisecond), DirectoryConfig{TTL: 5 * time.Millisecond, Tick: time.Millisecond, RetryAfter: 5 * time.Millisecond, Log: log})
			if u, err := d.Get(ctx, ed); err != nil || u.Name != "Eddie Editor" {
				t.Fatalf("Get(editor) = %q, %v; want Eddie Editor", u.Name, err)
			}
			ui.setMode(t, mode)
			time.Sleep(10 * time.Millisecond) // past the TTL
			deadline := time.Now().Add(30 * time.Second)
			for d.Stats().FetchErrors < 2 {
				u, err := d.Get(ctx, ed)
				if err != nil || u.Name != "Eddie Editor" {
					t.Fatalf("Get(editor) with the endpoint in mode %s = %q, %v; want the stale Eddie Editor", mode, u.Name, err)
				}
				if time.Now().After(deadline) {
					t.Fatalf("no failed refresh in mode %s: %+v", mode, d.Stats())
				}
				time.Sleep(10 * time.Millisecond)
			}
			if _, err := d.Get(ctx, sub); !errors.Is(err, ErrSourceDown) {
				t.Fatalf("Get(never cached) in mode %s = %v; want ErrSourceDown", mode, err)
			}
			if got := strings.Count(buf.String(), "user source down"); got != 1 {
				t.Fatalf("outage logged %d times; want once:\n%s", got, buf)
			}
		})
	}
}

// phpAnswers is testdata/answers/users-info.php under php -S: the answers
// PHP scripts on real sites write, picked by a mode file.
type phpAnswers struct {
	php  *testsvc.PHP
	mode string
}

func startPHPAnswers(t *testing.T) *phpAnswers {
	t.Helper()
	docroot, err := filepath.Abs(filepath.Join("testdata", "answers"))
	if err != nil {
		t.Fatal(err)
	}
	a := &phpAnswers{mode: filepath.Join(t.TempDir(), "mode")}
	a.php = testsvc.StartPHP(t, docroot, "ANSWERS_MODE="+a.mode)
	return a
}

func (a *phpAnswers) set(t *testing.T, mode string) {
	t.Helper()
	if err := os.WriteFile(a.mode, []byte(mode), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (a *phpAnswers) source(log *slog.Logger) *HTTPSource {
	src := NewHTTPSource(config.UsersHTTP{URL: a.php.URL + "/users-info.php", Timeout: config.Duration{Duration: 10 * time.Second}})
	src.Log = log
	return src
}

func TestHTTPSourceTakesWhatPHPWrites(t *testing.T) {
	a := startPHPAnswers(t)
	ctx := ctxT(t)
	type want struct{ name, avatar, profile, role string }
	tests := []struct {
		mode    string
		want    map[string]want
		logWant []string // in the skipped-elements log line
	}{
		{"imbachat", map[string]want{
			"1": {"Member 1", "", "", RoleAdmin},
			"2": {"Member 2", "https://cdn.example.com/a/2.png", "", RoleMember},
			"3": {"Member 3", "", "", RoleMember},
		}, nil},
		{"loose", map[string]want{
			"1": {"1000", "", "/members/1", RoleAdmin},
			"2": {"2000", "", "", RoleMod},
			"3": {"3000", "", "", RoleMember},
		}, nil},
		{"one-bad", map[string]want{
			"1": {"Member 1", "https://cdn.example.com/a/1.png", "https://site.example.com/u/1", RoleAdmin},
			"2": {"Member 2", "https://cdn.example.com/a/2.png", "https://site.example.com/u/2", RoleMember},
			"3": {"Member 3", "https://cdn.example.com/a/3.png", "https://site.example.com/u/3", RoleMember},
		}, []string{"count=3", "element 0", "element 4: not an object", `element 5: user_id: user id \"a,b\" has a forbidden character`}},
		{"keyed", map[string]want{
			"1": {"Member 1", "https://cdn.example.com/a/1.png", "https://site.example.com/u/1", RoleAdmin},
			"2": {"Member 2", "https://cdn.example.com/a/2.png", "https://site.example.com/u/2", RoleMember},
			"3": {"Member 3", "https://cdn.example.com/a/3.png", "https://site.example.com/u/3", RoleMember},
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			a.set(t, tt.mode)
			log, buf := testLogger()
			got, err := a.source(log).Lookup(ctx, []string{"1", "2", "3"})
			if err != nil {
				t.Fatalf("Lookup in mode %s = %v; want the users", tt.mode, err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("Lookup in mode %s = %v; want %d users", tt.mode, got, len(tt.want))
			}
			for id, w := range tt.want {
				u := got[id]
				if g := (want{u.Name, u.AvatarURL, u.ProfileURL, u.Role}); g != w {
					t.Errorf("Lookup(%s) in mode %s = %+v; want %+v", id, tt.mode, g, w)
				}
			}
			for _, s := range tt.logWant {
				if !strings.Contains(buf.String(), s) {
					t.Errorf("log in mode %s = %q; want it to say %q", tt.mode, buf, s)
				}
			}
			if tt.logWant == nil && buf.String() != "" {
				t.Errorf("log in mode %s = %q; want nothing", tt.mode, buf)
			}
		})
	}
}

func TestHTTPUnusableAnswerKeepsStaleAndShowsIt(t *testing.T) {
	a := startPHPAnswers(t)
	ctx := ctxT(t)
	tests := []struct {
		mode string
		show string // in the outage log line
	}{
		{"notice", `<br /> <b>Warning</b>: Undefined array key \"display_name\" in <b>`},
		{"html", "<!DOCTYPE html> <html><head><title>Briefly unavailable"},
		{"500", "HTTP 500"},
		{"500", "<b>Fatal error</b>: Uncaught PDOException"},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			a.set(t, "good")
			log, buf := testLogger()
			d := NewDirectory(a.source(log), DirectoryConfig{TTL: 5 * time.Millisecond, Tick: time.Millisecond, RetryAfter: 5 * time.Millisecond, Log: log})
			if u, err := d.Get(ctx, "1"); err != nil || u.Name != "Member 1" || u.Role != RoleAdmin {
				t.Fatalf("Get(1) = %+v, %v; want Member 1 (admin)", u, err)
			}
			a.set(t, tt.mode)
			time.Sleep(10 * time.Millisecond) // past the TTL
			deadline := time.Now().Add(30 * time.Second)
			for d.Stats().FetchErrors < 2 {
				u, err := d.Get(ctx, "1")
				if err != nil || u.Name != "Member 1" || u.Role != RoleAdmin {
					t.Fatalf("Get(1) in mode %s = %+v, %v; want the stale Member 1 (admin)", tt.mode, u, err)
				}
				if time.Now().After(deadline) {
					t.Fatalf("no failed refresh in mode %s: %+v", tt.mode, d.Stats())
				}
				time.Sleep(10 * time.Millisecond)
			}
			out := buf.String()
			var line string
			for _, l := range strings.Split(out, "\n") {
				if strings.Contains(l, "user source down") {
					line = l
				}
			}
			if !strings.Contains(line, tt.show) {
				t.Fatalf("outage line in mode %s = %q; want it to show %q", tt.mode, line, tt.show)
			}
			if strings.Contains(line, "\x1b") || len(line) > 600 {
				t.Fatalf("outage line in mode %s = %q; want it sanitised and bounded", tt.mode, line)
			}
		})
	}
}
