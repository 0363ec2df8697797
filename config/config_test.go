package config

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestShippedConfig(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	c, err := Load(filepath.Join(filepath.Dir(file), "..", "config.toml"))
	if err != nil {
		t.Fatalf("the shipped config.toml: %v", err)
	}
	if c.Server.Listen != "127.0.0.1:8080" || c.Store.Driver != "embedded" || !c.Demo.Enabled || len(c.Users.Static) < 3 {
		t.Fatalf("shipped config = %+v", c)
	}
	if c.Server.PollTimeout.Duration != 25*time.Second || c.Chat.MaxLength != 350 || c.Chat.RateLimit() != 5 {
		t.Fatalf("shipped defaults = %+v", c)
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse("t.toml", []byte("[auth]\nsecret = \"0123456789abcdef\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.PollTimeout.Duration != 25*time.Second || c.Presence.Grace.Duration != 40*time.Second ||
		c.Chat.Buffer != 256 || c.Chat.RoomEventsLimit != 500 || c.Auth.MaxAge.Duration != 24*time.Hour ||
		c.Chat.RateLimit() != 5 || c.Store.TablePrefix != "pollchat_" || c.Chat.Rooms[0] != "lobby" {
		t.Fatalf("defaults = %+v", c)
	}
	off, err := Parse("t.toml", []byte("[auth]\nsecret = \"0123456789abcdef\"\n[chat]\nrate = 0\n"))
	if err != nil || off.Chat.RateLimit() != 0 {
		t.Fatalf("rate = 0: %v %v", off.Chat.RateLimit(), err)
	}
}

func TestErrorsNameKeys(t *testing.T) {
	cases := []struct {
		name, toml string
		keys       []string
	}{
		{"unknown", "[auth]\nsecret=\"0123456789abcdef\"\nsecrett=1\n[chatt]\n", []string{"auth.secrett", "chatt"}},
		{"bad duration", "[auth]\nsecret=\"0123456789abcdef\"\nmax_age=\"1 day\"\n", []string{"max_age"}},
		{"missing secret", "", []string{"auth.secret"}},
		{"several at once", "[server]\nlisten=\"nope\"\n[chat]\nmax_length=-1\nbuffer=1\n", []string{"server.listen", "chat.max_length", "chat.buffer", "auth.secret"}},
		{"demo api password public", "[server]\nlisten=\"0.0.0.0:80\"\n[auth]\nsecret=\"0123456789abcdef-real\"\n[api]\nlogin=\"x\"\npassword=\"" + DemoAPIPassword + "\"\n", []string{"api.password"}},
		{"demo api password behind a proxy", "[server]\npublic_url=\"https://chat.example.com\"\n[auth]\nsecret=\"0123456789abcdef-real\"\n[api]\nlogin=\"x\"\npassword=\"" + DemoAPIPassword + "\"\n", []string{"api.password"}},
		{"demo secret public", "[server]\nlisten=\"0.0.0.0:80\"\n[auth]\nsecret=\"" + DemoSecret + "\"\n", []string{"auth.secret"}},
		{"custom identifiers", "[auth]\nsecret=\"0123456789abcdef\"\n[users]\nsource=\"mysql\"\n[users.mysql]\ndsn=\"x\"\npreset=\"custom\"\ntable=\"users; DROP TABLE x\"\nid_column=\"id\"\nname_column=\"na`me\"\n", []string{"users.mysql.table", "users.mysql.name_column"}},
		{"demo on a public address", "[server]\nlisten=\"0.0.0.0:8080\"\n[auth]\nsecret=\"0123456789abcdef-real\"\n[demo]\nenabled=true\n", []string{"demo.enabled"}},
		{"link secret equals secret", "[auth]\nsecret=\"0123456789abcdef\"\nlink_secret=\"0123456789abcdef\"\n", []string{"auth.link_secret"}},
		{"link secret short", "[auth]\nsecret=\"0123456789abcdef\"\nlink_secret=\"short\"\n", []string{"auth.link_secret"}},
		{"timezone", "[auth]\nsecret=\"0123456789abcdef\"\ntimezone=\"Mars/Olympus\"\n", []string{"auth.timezone"}},
		{"syntax", "[auth\nsecret=1", []string{"config"}},
		{"search_url scheme", "[auth]\nsecret=\"0123456789abcdef\"\n[users]\nsource=\"http\"\n[users.http]\nurl=\"https://example.com/u.php\"\nsearch_url=\"javascript:alert(1)\"\n", []string{"users.http.search_url"}},
		{"search_url no host", "[auth]\nsecret=\"0123456789abcdef\"\n[users]\nsource=\"http\"\n[users.http]\nurl=\"https://example.com/u.php\"\nsearch_url=\"https:///search.php\"\n", []string{"users.http.search_url"}},
		{"privacy erase", "[auth]\nsecret=\"0123456789abcdef\"\n[privacy]\nerase=\"shred\"\n", []string{"privacy.erase"}},
		{"search_url space", "[auth]\nsecret=\"0123456789abcdef\"\n[users]\nsource=\"http\"\n[users.http]\nurl=\"https://example.com/u.php\"\nsearch_url=\"https://example.com/a b\"\n", []string{"users.http.search_url"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("site.toml", []byte(tc.toml))
			if err == nil {
				t.Fatal("Parse accepted a bad config")
			}
			var ce *Error
			if !errors.As(err, &ce) && !strings.Contains(err.Error(), "config") {
				t.Fatalf("error %T %v is not a *config.Error", err, err)
			}
			for _, k := range tc.keys {
				if !strings.Contains(err.Error(), k) {
					t.Errorf("error %q does not name %q", err, k)
				}
			}
			if !strings.Contains(err.Error(), "site.toml") {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.toml")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v", err)
	}
}

func TestSearchURL(t *testing.T) {
	c, err := Parse("site.toml", []byte("[auth]\nsecret=\"0123456789abcdef\"\n[users]\nsource=\"http\"\n[users.http]\nurl=\"https://example.com/u.php\"\nsearch_url=\"https://example.com/wp-json/pollchat/v1/search?lang=en\"\n"))
	if err != nil || c.Users.HTTP.SearchURL != "https://example.com/wp-json/pollchat/v1/search?lang=en" {
		t.Fatalf("Parse(users.http.search_url) = %+v, %v; want it kept", c.Users.HTTP, err)
	}
}

func FuzzConfig(f *testing.F) {
	f.Add("[auth]\nsecret = \"0123456789abcdef\"\n")
	f.Add("[server]\nlisten = \"127.0.0.1:0\"\npoll_timeout = \"1s\"\n[auth]\nsecret=\"xxxxxxxxxxxx\"\n[[users.static]]\nuser_id=\"1\"\nname=\"a\"\n")
	f.Add("[chat]\nrate = -1\nrooms=[\"\"]\n")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse("f.toml", []byte(s))
		if err != nil {
			if !strings.Contains(err.Error(), "f.toml") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		// Whatever is accepted is usable: a secret, sane numbers.
		if c.Auth.Secret == "" || c.Chat.MaxLength < 1 || c.Chat.Buffer < 8 || c.Server.PollTimeout.Duration > c.Server.PollMax.Duration {
			t.Fatalf("accepted an unusable config: %+v", c)
		}
	})
}

// Issue 15's keys: zero means the defaults, and bad values are named.
func TestNotifyRoomsKeys(t *testing.T) {
	c, err := Parse("t.toml", []byte("[auth]\nsecret = \"0123456789abcdef\"\n[chat]\nrooms = [\"hall\", \"games\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Notify.Delay.Duration != 60*time.Second || c.Notify.Window.Duration != 10*time.Minute || c.Notify.On() ||
		c.Chat.AutoJoinRoom() != "hall" || c.Rooms.GuestRead {
		t.Fatalf("defaults: notify %+v, auto_join %q, guest_read %v", c.Notify, c.Chat.AutoJoinRoom(), c.Rooms.GuestRead)
	}
	off, err := Parse("t.toml", []byte("[auth]\nsecret = \"0123456789abcdef\"\n[chat]\nauto_join = \"none\"\n[rooms]\nguest_read = true\n"))
	if err != nil || off.Chat.AutoJoinRoom() != "" || !off.Rooms.GuestRead {
		t.Fatalf("auto_join none: %q %v", off.Chat.AutoJoinRoom(), err)
	}
	for _, tc := range []struct{ toml, key string }{
		{"[chat]\nauto_join = \"nowhere\"\n", "chat.auto_join"},
		{"[notify]\nurl = \"https://site.example/n\"\n", "notify.secret"},
		{"[notify]\nurl = \"https://site.example/n\"\nsecret = \"short\"\n", "notify.secret"},
		{"[notify]\nurl = \"ftp://site.example/n\"\nsecret = \"0123456789abcdef-n\"\n", "notify.url"},
		{"[notify]\ndelay = \"1ms\"\n", "notify.delay"},
		{"[notify]\nwindow = \"-1s\"\n", "notify.window"},
	} {
		_, err := Parse("t.toml", []byte("[auth]\nsecret = \"0123456789abcdef\"\n"+tc.toml))
		if err == nil || !strings.Contains(err.Error(), tc.key+":") {
			t.Errorf("Parse(%q) = %v; want a problem with %s", tc.toml, err, tc.key)
		}
	}
	c, err = Parse("t.toml", []byte("[auth]\nsecret = \"0123456789abcdef\"\n[notify]\nurl = \"https://site.example/n\"\nsecret = \"notice-secret-0123456789\"\n"))
	if err != nil || !c.Notify.On() {
		t.Fatalf("notify on: %v", err)
	}
	if !strings.Contains(strings.Join(c.Secrets(), " "), "notice-secret-0123456789") {
		t.Errorf("Secrets() misses notify.secret")
	}
}
