package plugins

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pollchat/internal/testsvc"
)

func TestMain(m *testing.M) { os.Exit(testsvc.Main(m)) }

var (
	wordpressPlugin = filepath.Join(testsvc.RepoRoot(), "plugins", "wordpress", "pollchat")
	octoberPlugin   = filepath.Join(testsvc.RepoRoot(), "plugins", "octobercms", "pollchat", "chat")
	octoberStandins = filepath.Join(testsvc.RepoRoot(), "plugins", "testdata", "october", "standins.php")
)

// phpBin is php-cli; a missing one fails the test (scripts/deps.sh installs it).
func phpBin(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("php")
	if err != nil {
		t.Fatalf("php-cli is missing: install Debian's php-cli (scripts/deps.sh): %v", err)
	}
	return p
}

// runPHP runs src (PHP statements without "<?php") with php-cli, every
// error level reported, and returns stdout. Any PHP diagnostic or a
// non-zero exit fails t.
func runPHP(t testing.TB, src string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "script.php")
	if err := os.WriteFile(f, []byte("<?php\n"+src+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(phpBin(t), "-d", "display_errors=stderr", "-d", "error_reporting=-1", "-d", "log_errors=0", f)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("php did not finish in 60s\n%s", src)
	}
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("php: %v\nstderr:\n%s\nstdout:\n%s\nscript:\n%s", err, stderr.String(), stdout.String(), src)
	}
	return stdout.String()
}

// phpJSON runs src, which must print one JSON value, and decodes it into v.
func phpJSON(t testing.TB, src string, v any) {
	t.Helper()
	out := runPHP(t, src)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("php printed %q: not JSON for %T: %v\nscript:\n%s", out, v, err, src)
	}
}

// q quotes s as a PHP string literal.
func q(s string) string { return testsvc.PHPQuote(s) }

// httpDo sends a request and returns status, headers and body.
func httpDo(t testing.TB, method, url string, body io.Reader, header map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	c := &http.Client{
		Timeout: 60 * time.Second,
		// WordPress redirects (login, canonical URLs); the tests look at the first answer.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp.StatusCode, resp.Header, b
}

// getJSON GETs url and decodes a 200 JSON answer into v.
func getJSON(t testing.TB, url string, header map[string]string, v any) {
	t.Helper()
	code, _, body := httpDo(t, "GET", url, nil, header)
	if code != 200 {
		t.Fatalf("GET %s = %d %s; want 200", url, code, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v in %s", url, err, body)
	}
}

// phpFiles lists the .php files under dir.
func phpFiles(t testing.TB, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".php") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
