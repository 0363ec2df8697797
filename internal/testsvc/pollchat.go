// Package testsvc starts the real things tests talk to, each on 127.0.0.1
// with a free port and its own temp dir, and stops it (by PID) when the test
// ends: the pollchat binary, MariaDB, PHP's built-in server, Redis.
//
// A missing program is a test failure, not a skip: `make test` installs them
// (scripts/deps.sh).
package testsvc

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Secret is the auth.secret of configs made by PollchatConfig.
const Secret = "test-secret-0123456789"

// LinkSecret is the auth.link_secret of those configs (popup links), unless
// the Auth option sets link_secret itself.
const LinkSecret = "test-link-secret-9876543210"

// APILogin and APIPassword are the backend API credentials of those configs.
const (
	APILogin    = "backend"
	APIPassword = "backend-password"
)

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// Binary returns the path of the pollchat binary: $POLLCHAT_BIN when set
// (make test builds it), else one built once per test process.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("POLLCHAT_BIN"); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pollchat-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "pollchat")
		cmd := exec.Command("go", "build", "-o", buildPath, ".")
		cmd.Dir = RepoRoot()
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// RepoRoot is the module's root directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// FreePort returns a TCP port free on 127.0.0.1 now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// PollchatConfig returns a config.toml for a test server listening on addr
// with the embedded store under dataDir, static users 1..5 (1 admin, 2 mod,
// others members), Secret, the API credentials, and extra appended (TOML
// tables, e.g. "[chat]\nrate = 0\n"). Keys in extra must not repeat a table
// written here, except through the sections Server, Chat and Users, which
// extra may override by giving ServerExtra etc.
func PollchatConfig(addr, dataDir string, o Options) string {
	var b strings.Builder
	origins := "allowed_origins = [\"*\"]\n"
	if strings.Contains(o.Server, "allowed_origins") {
		origins = ""
	}
	fmt.Fprintf(&b, "[server]\nlisten = %q\npoll_timeout = %q\npoll_max = \"60s\"\n%s%s\n", addr, o.pollTimeout(), origins, o.Server)
	link := fmt.Sprintf("link_secret = %q\n", LinkSecret)
	if strings.Contains(o.Auth, "link_secret") {
		link = ""
	}
	fmt.Fprintf(&b, "[auth]\nsecret = %q\n%s%s\n", Secret, link, o.Auth)
	if o.NoAPI {
		b.WriteString("[api]\nlogin = \"\"\npassword = \"\"\n\n")
	} else {
		fmt.Fprintf(&b, "[api]\nlogin = %q\npassword = %q\n\n", APILogin, APIPassword)
	}
	if o.Users != "" {
		b.WriteString(o.Users + "\n")
	} else {
		b.WriteString("[users]\nsource = \"static\"\n")
		for i, u := range []struct{ name, role string }{{"Ada", "admin"}, {"Grace", "mod"}, {"Linus", "member"}, {"Margaret", "member"}, {"Ken", "member"}} {
			fmt.Fprintf(&b, "[[users.static]]\nuser_id = \"%d\"\nname = %q\nrole = %q\n", i+1, u.name, u.role)
		}
		b.WriteString("\n")
	}
	if o.Store != "" {
		b.WriteString(o.Store + "\n")
	} else {
		fmt.Fprintf(&b, "[store]\ndriver = \"embedded\"\npath = %q\n\n", dataDir)
	}
	// Tests join rooms themselves unless they set chat.auto_join (whose
	// default, the first room, would make every hello a join).
	autoJoin := "auto_join = \"none\"\n"
	if strings.Contains(o.Chat, "auto_join") {
		autoJoin = ""
	}
	fmt.Fprintf(&b, "[chat]\nrooms = [\"lobby\", \"help\"]\n%s%s\n", autoJoin, o.Chat)
	fmt.Fprintf(&b, "[presence]\ngrace = %q\n\n", o.grace())
	fmt.Fprintf(&b, "[demo]\nenabled = %v\n\n", o.Demo)
	b.WriteString(o.Extra)
	return b.String()
}

// Options shape a test server's config.
type Options struct {
	PollTimeout string // default "5s"
	Grace       string // default "2s"
	Server      string // extra lines in [server]
	Auth        string // extra lines in [auth]
	Chat        string // lines in [chat] (rooms are lobby and help; auto_join is "none" unless set)
	Users       string // replaces the whole [users] section
	Store       string // replaces the whole [store] section
	Demo        bool
	NoAPI       bool   // api.password empty: the backend API is off (404)
	Extra       string // appended (e.g. "[cluster]\n...")
	Env         []string
}

func (o Options) pollTimeout() string {
	if o.PollTimeout == "" {
		return "5s"
	}
	return o.PollTimeout
}

func (o Options) grace() string {
	if o.Grace == "" {
		return "2s"
	}
	return o.Grace
}

// Pollchat is a running pollchat process.
type Pollchat struct {
	t       testing.TB
	URL     string // http://127.0.0.1:PORT
	Addr    string
	Dir     string // its temp dir (config.toml, data/, log)
	Config  string // path of its config.toml
	opts    Options
	cmd     *exec.Cmd
	log     *bytes.Buffer
	logMu   *sync.Mutex
	stopped bool
}

// StartPollchat starts the binary with a config made from o and waits until
// /healthz answers.
func StartPollchat(t testing.TB, o Options) *Pollchat {
	t.Helper()
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	p := &Pollchat{t: t, URL: "http://" + addr, Addr: addr, Dir: dir, Config: filepath.Join(dir, "config.toml"), opts: o}
	cfg := PollchatConfig(addr, filepath.Join(dir, "data"), o)
	if err := os.WriteFile(p.Config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p.Start()
	t.Cleanup(p.Stop)
	return p
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// Start (re)starts the process on the same address, config and data.
func (p *Pollchat) Start() {
	p.t.Helper()
	p.log = &bytes.Buffer{}
	p.logMu = &sync.Mutex{}
	cmd := exec.Command(Binary(p.t), "-config", p.Config)
	cmd.Dir = p.Dir
	cmd.Env = append(os.Environ(), p.opts.Env...)
	w := lockedWriter{p.logMu, p.log}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.cmd = cmd
	p.stopped = false
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case err := <-exited:
			p.stopped = true
			p.t.Fatalf("pollchat exited at start-up: %v\n%s", err, p.Log())
		default:
		}
		resp, err := http.Get(p.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				// The goroutine above reaps the process when it ends.
				return
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("pollchat did not answer /healthz in 15s\n%s", p.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Log returns what the process printed so far.
func (p *Pollchat) Log() string {
	p.logMu.Lock()
	defer p.logMu.Unlock()
	return p.log.String()
}

// Pid is the process id.
func (p *Pollchat) Pid() int { return p.cmd.Process.Pid }

// Stop sends SIGTERM and waits up to 10 s for the process to end (then SIGKILL).
func (p *Pollchat) Stop() { p.signal(syscall.SIGTERM) }

// Kill sends SIGKILL and waits for the process to end.
func (p *Pollchat) Kill() { p.signal(syscall.SIGKILL) }

func (p *Pollchat) signal(sig syscall.Signal) {
	if p.stopped || p.cmd == nil {
		return
	}
	p.stopped = true
	pid := p.cmd.Process.Pid
	_ = syscall.Kill(pid, sig)
	WaitGone(pid, 10*time.Second)
	if alive(pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		WaitGone(pid, 5*time.Second)
	}
}

func alive(pid int) bool {
	// A zombie still answers kill(0); look at /proc for its state.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z' && s[i+2] != 'X'
	}
	return true
}

// WaitGone waits up to d for pid to end.
func WaitGone(pid int, d time.Duration) {
	deadline := time.Now().Add(d)
	for alive(pid) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
}
