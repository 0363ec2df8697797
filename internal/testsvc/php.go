package testsvc

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// PHP is a running `php -S` built-in web server.
type PHP struct {
	URL     string // http://127.0.0.1:PORT
	Addr    string // 127.0.0.1:PORT
	Docroot string

	t    testing.TB
	env  []string
	p    proc
	logM sync.Mutex
	log  bytes.Buffer
}

// StartPHP serves docroot with `php -S 127.0.0.1:PORT -t docroot` and waits
// until it listens; it is stopped when t ends. env ("KEY=value") is added to
// the server's environment, so scripts read it with getenv(). The server
// runs 4 workers (PHP_CLI_SERVER_WORKERS) so that one hanging request does
// not block the others; pass PHP_CLI_SERVER_WORKERS=N in env to change it.
func StartPHP(t testing.TB, docroot string, env ...string) *PHP {
	t.Helper()
	return StartPHPRouter(t, docroot, "", env...)
}

// StartPHPRouter is StartPHP with a router script (php -S's last argument;
// "" for none): every request goes through it.
func StartPHPRouter(t testing.TB, docroot, router string, env ...string) *PHP {
	t.Helper()
	if _, err := exec.LookPath("php"); err != nil {
		t.Fatalf("testsvc: php is missing: install Debian's php-cli and php-mysql (scripts/deps.sh): %v", err)
	}
	if st, err := os.Stat(docroot); err != nil || !st.IsDir() {
		t.Fatalf("testsvc: StartPHP: docroot %q is not a directory (%v)", docroot, err)
	}
	h := &PHP{Docroot: docroot, t: t, env: env}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		h.Addr = fmt.Sprintf("127.0.0.1:%d", freePort())
		h.URL = "http://" + h.Addr
		if err = h.start(router); err == nil {
			t.Cleanup(h.Stop)
			return h
		}
	}
	t.Fatalf("testsvc: php -S: %v\n%s", err, h.Log())
	return nil
}

func (h *PHP) start(router string) error {
	args := []string{"-S", h.Addr, "-t", h.Docroot}
	if router != "" {
		args = append(args, router)
	}
	cmd := exec.Command("php", args...)
	cmd.Dir = h.Docroot
	workers := true
	for _, e := range h.env {
		if strings.HasPrefix(e, "PHP_CLI_SERVER_WORKERS=") {
			workers = false
		}
	}
	cmd.Env = append(os.Environ(), h.env...)
	if workers {
		cmd.Env = append(cmd.Env, "PHP_CLI_SERVER_WORKERS=4")
	}
	w := lockedWriter{&h.logM, &h.log}
	cmd.Stdout, cmd.Stderr = w, w
	if err := h.p.start(cmd); err != nil {
		return err
	}
	if err := waitTCP(h.Addr, &h.p, 20*time.Second); err != nil {
		h.p.signal(syscall.SIGKILL, 5*time.Second)
		return err
	}
	return nil
}

// Log is what the server printed (its access and error log).
func (h *PHP) Log() string {
	h.logM.Lock()
	defer h.logM.Unlock()
	return h.log.String()
}

// Stop ends the server (SIGTERM, then SIGKILL after 5 s).
func (h *PHP) Stop() { h.p.signal(syscall.SIGTERM, 5*time.Second) }

// Kill ends the server with SIGKILL.
func (h *PHP) Kill() { h.p.signal(syscall.SIGKILL, 5*time.Second) }
