package config

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const okSecret = "[auth]\nsecret = \"0123456789abcdef\"\n"

func TestSyntaxErrorHasLine(t *testing.T) {
	_, err := Parse("site.toml", []byte("[server]\nlisten = \"127.0.0.1:8080\"\npoll_timeout = 25s\n"))
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("Parse(syntax error on line 3) = %v; want it to say line 3", err)
	}
}

func TestUnknownKeySuggestsNearest(t *testing.T) {
	cases := []struct{ toml, unknown, want string }{
		{okSecret + "max_agee = \"1h\"\n", "auth.max_agee", "did you mean auth.max_age?"},
		{okSecret + "[sever]\nlisten = \"127.0.0.1:1\"\n", "sever", "did you mean server?"},
		{okSecret + "[server]\npoll_timout = \"5s\"\n", "server.poll_timout", "did you mean server.poll_timeout?"},
		{"[server]\nsecret = \"0123456789abcdef\"\n" + okSecret, "server.secret", "did you mean auth.secret?"},
		{okSecret + "[[users.static]]\nuser_id = \"1\"\nnmae = \"A\"\n", "users.static.nmae", "did you mean users.static.name?"},
	}
	for _, tc := range cases {
		_, err := Parse("t.toml", []byte(tc.toml))
		if err == nil || !strings.Contains(err.Error(), tc.unknown) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v; want %q and %q", tc.toml, err, tc.unknown, tc.want)
		}
	}
	if _, err := Parse("t.toml", []byte(okSecret+"zzzzzzzzzz = 1\n")); err == nil || strings.Contains(err.Error(), "did you mean") {
		t.Errorf("Parse(far-off key) = %v; want no suggestion", err)
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"abc", "abc", 0}, {"abc", "abd", 1}, {"secret", "secrett", 1}, {"kitten", "sitting", 3}, {"", "ab", 2}} {
		if got := editDistance(tc.a, tc.b); got != tc.d {
			t.Errorf("editDistance(%q, %q) = %d; want %d", tc.a, tc.b, got, tc.d)
		}
	}
}

func TestStorePathRelativeToConfigFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pollchat.toml")
	if err := os.WriteFile(file, []byte(okSecret+"[store]\npath = \"chatdata\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "chatdata"); c.Store.Path != want {
		t.Fatalf("store.path = %q; want %q (relative to the config file)", c.Store.Path, want)
	}
	abs := filepath.Join(t.TempDir(), "elsewhere")
	os.WriteFile(file, []byte(okSecret+"[store]\npath = \""+abs+"\"\n"), 0o600)
	if c, err = Load(file); err != nil || c.Store.Path != abs {
		t.Fatalf("absolute store.path = %q, %v; want %q", c.Store.Path, err, abs)
	}
}

func TestCheckStore(t *testing.T) {
	dir := t.TempDir()
	c := Default("0123456789abcdef")
	c.Store.Path = dir
	if err := CheckStore(c); err != nil {
		t.Errorf("CheckStore(writable dir) = %v", err)
	}
	c.Store.Path = filepath.Join(dir, "new")
	if err := CheckStore(c); err != nil {
		t.Errorf("CheckStore(creatable dir) = %v", err)
	}
	c.Store.Path = filepath.Join(dir, "no", "such", "dir")
	if err := CheckStore(c); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("CheckStore(missing parent) = %v", err)
	}
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o600)
	c.Store.Path = file
	if err := CheckStore(c); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("CheckStore(a file) = %v", err)
	}
	if os.Geteuid() != 0 { // root writes anywhere
		ro := filepath.Join(dir, "ro")
		os.Mkdir(ro, 0o500)
		c.Store.Path = ro
		if err := CheckStore(c); err == nil || !strings.Contains(err.Error(), "not writable") {
			t.Errorf("CheckStore(read-only dir) = %v", err)
		}
	}
	c.Store.Driver = "mysql"
	if err := CheckStore(c); err != nil {
		t.Errorf("CheckStore(mysql) = %v; want nil", err)
	}
}

// Secret values used by the bad configs below; no error may show any.
var secretValues = []string{
	"hunter2-auth-secret", "hunter2-link-secret", "hunter2-api-pass", "hunter2-users-http",
	"hunter2-dsn-users", "hunter2-dsn-store", "hunter2-redis", "hunter2-url-token",
}

// BadConfigs are configs with secrets in every secret key and a problem
// each; the main package's test runs them through -check too.
var BadConfigs = map[string]string{
	"redis url unparsable": `[auth]
secret = "hunter2-auth-secret"
link_secret = "hunter2-link-secret"
[api]
login = "a"
password = "hunter2-api-pass"
[store]
driver = "embedded"
[cluster]
redis_url = "redis//:hunter2-redis@127.0.0.1:6379/0"
`,
	"http users bad url": `[auth]
secret = "hunter2-auth-secret"
[users]
source = "http"
[users.http]
url = "ftp://pollchat:hunter2-url-token@example.com/users.php"
login = "pollchat"
password = "hunter2-users-http"
`,
	"mysql dsns": `[server]
listen = "nope"
[auth]
secret = "hunter2-auth-secret"
[users]
source = "mysql"
[users.mysql]
dsn = "wp:hunter2-dsn-users@tcp(127.0.0.1:3306)/wp"
preset = "nope"
[store]
driver = "mysql"
dsn = "pc:hunter2-dsn-store@tcp(127.0.0.1:3306)/pc"
table_prefix = "bad prefix"
[cluster]
redis_url = "redis://:hunter2-redis@127.0.0.1:6379/0"
`,
	"syntax on the secret line": `[auth]
secret = hunter2-auth-secret
`,
	"syntax on the dsn line": `[store]
dsn = "pc:hunter2-dsn-store@tcp(127.0.0.1:3306)/pc
`,
	"link secret equals secret": `[auth]
secret = "hunter2-auth-secret"
link_secret = "hunter2-auth-secret"
`,
	"wrong type": `[auth]
secret = "hunter2-auth-secret"
[api]
password = ["hunter2-api-pass"]
`,
}

// SecretValues is exported to the main package's test through this file's
// name only in tests; see main_test.go.
func TestErrorsNeverShowSecrets(t *testing.T) {
	for name, cfg := range BadConfigs {
		_, err := Parse("bad.toml", []byte(cfg))
		if err == nil {
			t.Errorf("%s: Parse accepted it", name)
			continue
		}
		for _, s := range secretValues {
			if strings.Contains(err.Error(), s) || strings.Contains(err.Error(), "hunter2") {
				t.Errorf("%s: error shows a secret (%s):\n%v", name, s, err)
			}
		}
	}
}

func TestRedact(t *testing.T) {
	c := Default("hunter2-auth-secret")
	c.Cluster.RedisURL = "redis://:hunter2-redis@10.0.0.1:6379/0"
	c.Store.DSN = "pc:hunter2-dsn@tcp(db:3306)/pc"
	for _, in := range []string{
		`cluster.redis_url: parse "redis://:hunter2-redis@10.0.0.1:6379:x/0": invalid port`,
		`dial: user:hunter2-other@tcp(db:3306)/x refused`,
		`Get "https://pollchat:hunter2-users@example.com/u.php": timeout`,
		`redis: rediss://default:hunter2-x@h:1`,
		`secret hunter2-auth-secret leaked`,
		`mysql: pc:hunter2-dsn@tcp(db:3306)/pc`,
	} {
		if out := c.Redact(in); strings.Contains(out, "hunter2") {
			t.Errorf("Redact(%q) = %q; still shows the secret", in, out)
		}
	}
	if out := Redact("https://example.com/a?b=c"); out != "https://example.com/a?b=c" {
		t.Errorf("Redact(url without userinfo) = %q", out)
	}
}

// The production example lists every key, each with its default, and is
// valid once a secret is set.
func TestProductionConfigIsHonest(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(file), "..", "config.production.toml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, k := range knownKeys() {
		last := k[strings.LastIndex(k, ".")+1:]
		if !strings.Contains(text, last+" =") && !strings.Contains(text, "["+k+"]") && !strings.Contains(text, "[["+k+"]]") {
			t.Errorf("config.production.toml does not list %s", k)
		}
	}
	if _, err := Parse(path, b); err == nil || !strings.Contains(err.Error(), "auth.secret: missing") || strings.Contains(err.Error(), "2 problem") {
		t.Fatalf("config.production.toml without a secret: %v; want only auth.secret missing", err)
	}
	withSecret := strings.Replace(text, `secret = ""`, `secret = "0123456789abcdef-prod"`, 1)
	c, err := Parse(path, []byte(withSecret))
	if err != nil {
		t.Fatalf("config.production.toml with a secret: %v", err)
	}
	if c.Chat.RateLimit() != 5 {
		t.Errorf("chat.rate = %v; want the default 5", c.Chat.RateLimit())
	}
	if !c.Server.EventLoopOn() {
		t.Errorf("server.event_loop is off; want the default on")
	}
	d := Default("0123456789abcdef-prod")
	d.File, c.Chat.Rate, c.Server.EventLoop = c.File, nil, nil
	if got, want := fmt.Sprintf("%+v", *c), fmt.Sprintf("%+v", *d); got != want {
		t.Errorf("config.production.toml differs from the defaults:\n got %s\nwant %s", got, want)
	}
}

// The demo config keeps CORS closed and says it is the demo.
func TestShippedConfigIsTheDemo(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse("config.toml", b)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Server.AllowedOrigins) != 0 {
		t.Errorf("config.toml opens CORS: %v", c.Server.AllowedOrigins)
	}
	if !strings.Contains(string(b), "THE DEMO CONFIG") {
		t.Errorf("config.toml does not say it is the demo config")
	}
}
