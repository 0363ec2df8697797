package main

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"pollchat/config"
)

// runCLI runs the command line in process and returns its exit code and
// everything it printed.
func runCLI(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	code := run(args, &out, &out)
	return code, out.String()
}

func writeCLIConfig(t *testing.T, body string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "pollchat.toml")
	if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestVersionFlag(t *testing.T) {
	code, out := runCLI(t, "-version")
	if code != 0 || !strings.HasPrefix(out, "pollchat dev (commit ") || !strings.Contains(out, "go1.") {
		t.Fatalf("-version = %d %q; want the version, commit and Go version", code, out)
	}
	if testing.Short() {
		return
	}
	// A build as the Makefile makes it carries the version and commit given.
	bin := filepath.Join(t.TempDir(), "pollchat")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-X main.version=v9.8.7 -X main.commit=abcdef123456", "-o", bin, ".")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	b, err := exec.Command(bin, "-version").Output()
	if err != nil || !strings.Contains(string(b), "pollchat v9.8.7 (commit abcdef123456,") {
		t.Fatalf("built -version = %q, %v; want version v9.8.7 and commit abcdef123456", b, err)
	}
}

const hunter = "hunter2"

// Bad configs holding a secret in every secret key; neither Load's errors
// nor -check may show any of them.
var badConfigs = map[string]string{
	"redis url broken": `[auth]
secret = "hunter2-auth-secret"
link_secret = "hunter2-link-secret"
[api]
login = "a"
password = "hunter2-api-pass"
[store]
driver = "mysql"
dsn = "pc:hunter2-dsn-store@tcp(127.0.0.1:1)/pc"
[cluster]
redis_url = "redis//:hunter2-redis@127.0.0.1:6379/0"
`,
	"mysql users bad preset": `[auth]
secret = "hunter2-auth-secret"
[users]
source = "mysql"
[users.mysql]
dsn = "wp:hunter2-dsn-users@tcp(127.0.0.1:1)/wp"
preset = "drupal"
`,
	"http users bad scheme": `[auth]
secret = "hunter2-auth-secret"
[users]
source = "http"
[users.http]
url = "ftp://pollchat:hunter2-url@example.com/u.php"
password = "hunter2-users-http"
`,
	"syntax on the secret line": "[auth]\nsecret = hunter2-auth-secret\n",
	"link secret equals secret": "[auth]\nsecret = \"hunter2-auth-secret\"\nlink_secret = \"hunter2-auth-secret\"\n",
}

func TestCheckNeverPrintsSecrets(t *testing.T) {
	for name, body := range badConfigs {
		t.Run(name, func(t *testing.T) {
			code, out := runCLI(t, "-check", "-config", writeCLIConfig(t, body))
			if code == 0 {
				t.Fatalf("-check accepted a bad config: %s", out)
			}
			if strings.Contains(out, hunter) {
				t.Fatalf("-check printed a secret:\n%s", out)
			}
		})
	}
	// A valid config whose user source is down: the error names the URL,
	// never its password.
	cfg := writeCLIConfig(t, `[auth]
secret = "hunter2-auth-secret"
[users]
source = "http"
[users.http]
url = "http://pollchat:hunter2-url@127.0.0.1:1/u.php"
login = "pollchat"
password = "hunter2-users-http"
`)
	code, out := runCLI(t, "-check", "-config", cfg)
	if code != 1 || !strings.Contains(out, "does not answer") || strings.Contains(out, hunter) {
		t.Fatalf("-check with the users-info URL down = %d:\n%s\nwant 1, the failure, and no secret", code, out)
	}
}

func TestStartErrorsNeverShowSecrets(t *testing.T) {
	cfg := config.Default("hunter2-auth-secret")
	cfg.Store.Path = filepath.Join(t.TempDir(), "data")
	cfg.Server.Listen = "127.0.0.1:0"
	cfg.Cluster.RedisURL = "redis://:hunter2-redis%zz@127.0.0.1:6379/0" // Load would refuse the embedded store; start is asked directly
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := start(cfg, log)
	if err == nil {
		a.shutdown(t.Context())
		t.Fatal("start accepted an unparsable redis_url")
	}
	if !strings.Contains(err.Error(), hunter) {
		t.Logf("the raw error no longer shows the password (fine): %v", err)
	}
	if red := cfg.RedactError(err).Error(); strings.Contains(red, hunter) || !strings.Contains(red, "cluster.redis_url") {
		t.Fatalf("redacted start error = %q; want the key and no password", red)
	}
	// And main prints only the redacted form.
	f := writeCLIConfig(t, "[auth]\nsecret = \"hunter2-auth-secret\"\n[server]\nlisten = \"127.0.0.1:1\"\n[store]\ndriver = \"mysql\"\ndsn = \"pc:hunter2-dsn@tcp(127.0.0.1:1)/pc?timeout=1s\"\n")
	code, out := runCLI(t, "-config", f)
	if code == 0 || strings.Contains(out, hunter) {
		t.Fatalf("start with an unreachable mysql store = %d:\n%s\nwant a failure without the password", code, out)
	}
}

func TestCheckStoreDirectory(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no", "such", "dir")
	code, out := runCLI(t, "-check", "-config", writeCLIConfig(t, "[auth]\nsecret = \"0123456789abcdef\"\n[store]\npath = \""+missing+"\"\n"))
	if code != 1 || !strings.Contains(out, "store.path") || !strings.Contains(out, "does not exist") {
		t.Fatalf("-check with a missing store parent = %d %q; want 1 naming store.path", code, out)
	}
	code, out = runCLI(t, "-check", "-config", writeCLIConfig(t, "[auth]\nsecret = \"0123456789abcdef\"\n"))
	if code != 0 || !strings.Contains(out, "ok") {
		t.Fatalf("-check of a good config = %d %q; want 0 and ok", code, out)
	}
	code, out = runCLI(t, "-check", "-config", writeCLIConfig(t, "[server]\nlisten = \"127.0.0.1:8080\"\npoll_timeout = 25s\n"))
	if code != 2 || !strings.Contains(out, "line 3") {
		t.Fatalf("-check of a syntax error = %d %q; want 2 and its line", code, out)
	}
	code, out = runCLI(t, "-check", "-config", writeCLIConfig(t, "[auth]\nsecret = \"0123456789abcdef\"\nmax_agee = \"1h\"\n"))
	if code != 2 || !strings.Contains(out, "did you mean auth.max_age?") {
		t.Fatalf("-check of a typo = %d %q; want 2 and a suggestion", code, out)
	}
}

// What start-up allocated and dropped (the assets' compression buffers
// above all) is collected and given back before the first request, so a
// fresh process idles at its live heap, not at start-up's peak.
func TestStartReleasesStartupGarbage(t *testing.T) {
	cfg := config.Default("start-garbage-auth-secret")
	cfg.Store.Path = filepath.Join(t.TempDir(), "data")
	cfg.Server.Listen = "127.0.0.1:0"
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := start(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer a.shutdown(t.Context())
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	const mb = 1 << 20
	if ms.HeapInuse > 64*mb || ms.HeapIdle-ms.HeapReleased > 32*mb {
		t.Fatalf("after start: heap in use %d MB, idle and not returned %d MB; want start-up's garbage collected and returned (under 64 and 32 MB)",
			ms.HeapInuse/mb, (ms.HeapIdle-ms.HeapReleased)/mb)
	}
	t.Logf("after start: heap in use %d MB, idle and not returned %d MB", ms.HeapInuse/mb, (ms.HeapIdle-ms.HeapReleased)/mb)
}
