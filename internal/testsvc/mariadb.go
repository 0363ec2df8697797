package testsvc

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// MariaDBBinary is the server binary of Debian's mariadb-server.
const MariaDBBinary = "/usr/sbin/mariadbd"

var (
	sharedDBOnce sync.Once
	sharedDB     *MariaDB
	sharedDBErr  error
)

// MariaDB is a running mariadbd on 127.0.0.1 with its own data directory.
// root has no password over TCP.
type MariaDB struct {
	Dir  string // temp dir: data/, sock, pid, err.log
	port int

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	running bool
	seq     atomic.Int64
}

// SharedMariaDB returns the test process's shared MariaDB, started on first
// use and stopped by Main. Tests isolate themselves with NewDatabase.
func SharedMariaDB(t testing.TB) *MariaDB {
	t.Helper()
	sharedDBOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pollchat-mariadb-")
		if err != nil {
			sharedDBErr = err
			return
		}
		m := &MariaDB{Dir: dir}
		if err := m.install(); err != nil {
			os.RemoveAll(dir)
			sharedDBErr = err
			return
		}
		if err := m.pickPortAndStart(); err != nil {
			os.RemoveAll(dir)
			sharedDBErr = err
			return
		}
		sharedDB = m
		addShared(func() {
			m.Stop()
			os.RemoveAll(dir)
		})
	})
	if sharedDBErr != nil {
		t.Fatalf("testsvc: shared MariaDB: %v", sharedDBErr)
	}
	return sharedDB
}

// NewMariaDB starts a private MariaDB for t (fault tests: Kill, Stop,
// Start), stopped when t ends.
func NewMariaDB(t testing.TB) *MariaDB {
	t.Helper()
	m := &MariaDB{Dir: t.TempDir()}
	if err := m.install(); err != nil {
		t.Fatalf("testsvc: %v", err)
	}
	if err := m.pickPortAndStart(); err != nil {
		t.Fatalf("testsvc: %v", err)
	}
	t.Cleanup(m.Stop)
	return m
}

func checkMariaDB() error {
	if _, err := os.Stat(MariaDBBinary); err != nil {
		return fmt.Errorf("%s is missing: install Debian's mariadb-server (scripts/deps.sh): %v", MariaDBBinary, err)
	}
	if _, err := exec.LookPath("mariadb-install-db"); err != nil {
		return fmt.Errorf("mariadb-install-db is missing: install Debian's mariadb-server (scripts/deps.sh): %v", err)
	}
	return nil
}

// serverArgs are shared by mariadb-install-db and mariadbd so that both
// agree on the InnoDB files. Small buffers: many instances may run at once.
func (m *MariaDB) serverArgs() []string {
	args := []string{
		"--no-defaults",
		"--datadir=" + filepath.Join(m.Dir, "data"),
		"--innodb-buffer-pool-size=32M",
		"--innodb-log-file-size=16M",
		// Commits reach the OS at once: they survive a SIGKILL of mariadbd
		// (what fault tests do), not a power cut (which tests never do).
		"--innodb-flush-log-at-trx-commit=2",
		"--character-set-server=utf8mb4",
		"--collation-server=utf8mb4_unicode_ci",
		// Temporary tables in the instance's own directory: instances
		// bootstrapped at once by parallel test processes collided on
		// /tmp/#sql-temptable-* ("Unknown table 'mysql.tmp_user_sys'").
		"--tmpdir=" + filepath.Join(m.Dir, "tmp"),
	}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	return args
}

func (m *MariaDB) install() error {
	if err := checkMariaDB(); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(m.Dir, "tmp"), 0o700); err != nil {
		return err
	}
	args := append(m.serverArgs(), "--auth-root-authentication-method=normal", "--skip-test-db")
	cmd := exec.Command("mariadb-install-db", args...)
	cmd.Dir = m.Dir
	out, err := runBounded(cmd, 60*time.Second)
	if err != nil {
		return fmt.Errorf("mariadb-install-db: %v\n%s", err, out)
	}
	return nil
}

// runBounded runs cmd and kills it after d.
func runBounded(cmd *exec.Cmd, d time.Duration) ([]byte, error) {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.Bytes(), err
	case <-time.After(d):
		_ = cmd.Process.Kill()
		<-done
		return out.Bytes(), fmt.Errorf("%s did not finish in %s", cmd.Path, d)
	}
}

func (m *MariaDB) pickPortAndStart() error {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		m.port = freePort()
		if err = m.start(); err == nil {
			return nil
		}
	}
	return err
}

// Port is the TCP port on 127.0.0.1.
func (m *MariaDB) Port() int { return m.port }

// Addr is 127.0.0.1:PORT.
func (m *MariaDB) Addr() string { return fmt.Sprintf("127.0.0.1:%d", m.port) }

// DSN is the go-sql-driver DSN of database db as root ("" for none).
func (m *MariaDB) DSN(db string) string {
	return fmt.Sprintf("root@tcp(127.0.0.1:%d)/%s?parseTime=true&charset=utf8mb4&collation=utf8mb4_unicode_ci&multiStatements=false", m.port, db)
}

// Start (re)starts mariadbd on the same data directory and port and waits
// until it accepts connections.
func (m *MariaDB) Start() error { return m.start() }

func (m *MariaDB) start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.running {
		return nil
	}
	args := append(m.serverArgs(),
		"--socket="+filepath.Join(m.Dir, "sock"),
		fmt.Sprintf("--port=%d", m.port),
		"--bind-address=127.0.0.1",
		"--pid-file="+filepath.Join(m.Dir, "mariadbd.pid"),
		"--log-error="+filepath.Join(m.Dir, "err.log"),
		"--skip-name-resolve",
		"--max-connections=1000",
	)
	cmd := exec.Command(MariaDBBinary, args...)
	cmd.Dir = m.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start mariadbd: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	m.cmd, m.exited, m.running = cmd, exited, true

	db, err := sql.Open("mysql", m.DSN(""))
	if err != nil {
		return err
	}
	defer db.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-exited:
			m.running = false
			return fmt.Errorf("mariadbd exited at start-up (port %d):\n%s", m.port, m.errLogTail())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := db.PingContext(ctx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			m.signalLocked(syscall.SIGKILL)
			return fmt.Errorf("mariadbd did not accept connections in 60s: %v\n%s", err, m.errLogTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (m *MariaDB) errLogTail() string {
	b, _ := os.ReadFile(filepath.Join(m.Dir, "err.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// Kill sends SIGKILL to mariadbd and waits until it is gone.
func (m *MariaDB) Kill() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.signalLocked(syscall.SIGKILL)
}

// Stop shuts mariadbd down (SIGTERM, SIGKILL after 30 s).
func (m *MariaDB) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.signalLocked(syscall.SIGTERM)
}

func (m *MariaDB) signalLocked(sig syscall.Signal) {
	if !m.running {
		return
	}
	m.running = false
	_ = syscall.Kill(m.cmd.Process.Pid, sig)
	select {
	case <-m.exited:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(m.cmd.Process.Pid, syscall.SIGKILL)
		<-m.exited
	}
}

// Running says whether mariadbd was started and not stopped.
func (m *MariaDB) Running() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.running
}

var nonIdent = regexp.MustCompile(`[^a-z0-9_]+`)

// NewDatabase creates a fresh, uniquely named database for t and returns
// its DSN (see DSN). It is dropped when t ends (if the server still runs).
func (m *MariaDB) NewDatabase(t testing.TB) string {
	t.Helper()
	name := m.NewDatabaseName(t)
	return m.DSN(name)
}

// NewDatabaseName is NewDatabase returning the database's name.
func (m *MariaDB) NewDatabaseName(t testing.TB) string {
	t.Helper()
	base := nonIdent.ReplaceAllString(strings.ToLower(t.Name()), "_")
	if len(base) > 40 {
		base = base[len(base)-40:]
	}
	name := fmt.Sprintf("t%d_%d_%s", os.Getpid()%100000, m.seq.Add(1), base)
	m.Exec(t, "", "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
	t.Cleanup(func() {
		if !m.Running() {
			return
		}
		db, err := sql.Open("mysql", m.DSN(""))
		if err != nil {
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = db.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`")
	})
	return name
}

// DB opens database db (name, "" for none), closed when t ends.
func (m *MariaDB) DB(t testing.TB, db string) *sql.DB {
	t.Helper()
	h, err := sql.Open("mysql", m.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// Exec runs one statement in database db (a name, or "" for none) and
// fails t on error.
func (m *MariaDB) Exec(t testing.TB, db, query string, args ...any) {
	t.Helper()
	h, err := sql.Open("mysql", m.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := h.ExecContext(ctx, query, args...); err != nil {
		t.Fatalf("testsvc: mariadb exec %q: %v", short(query), err)
	}
}

// ExecAll runs statements one by one (no multiStatements) in database db.
func (m *MariaDB) ExecAll(t testing.TB, db string, statements ...string) {
	t.Helper()
	for _, s := range statements {
		if strings.TrimSpace(s) != "" {
			m.Exec(t, db, s)
		}
	}
}

// DBName returns the database name of a DSN made by DSN/NewDatabase.
func DBName(dsn string) string {
	c, err := mysql.ParseDSN(dsn)
	if err != nil {
		return ""
	}
	return c.DBName
}

func short(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}

// freePort returns a port free on 127.0.0.1 now.
func freePort() int {
	for i := 0; i < 10; i++ {
		if p, err := listenFree(); err == nil {
			return p
		}
	}
	panic(errors.New("testsvc: no free port on 127.0.0.1"))
}
