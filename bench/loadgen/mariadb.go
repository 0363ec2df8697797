package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	_ "github.com/go-sql-driver/mysql"
)

// mariadb is a private MariaDB for the durable sends over the MySQL store:
// its own data directory, 127.0.0.1 and a free port, every commit flushed
// to disk (innodb_flush_log_at_trx_commit = 1, as durable as the embedded
// store's fsync).
type mariadb struct {
	dir  string
	port int
	cmd  *exec.Cmd
	done chan struct{}
	n    int
}

const mariadbd = "/usr/sbin/mariadbd"

func haveMariaDB() bool {
	_, err1 := os.Stat(mariadbd)
	_, err2 := exec.LookPath("mariadb-install-db")
	return err1 == nil && err2 == nil
}

func startMariaDB() (*mariadb, error) {
	dir, err := os.MkdirTemp("", "mariadb-bench-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	m := &mariadb{dir: dir, port: port}
	common := []string{
		"--no-defaults",
		"--datadir=" + filepath.Join(dir, "data"),
		"--innodb-buffer-pool-size=256M",
		"--innodb-log-file-size=256M",
		"--innodb-flush-log-at-trx-commit=1",
		"--character-set-server=utf8mb4",
		"--collation-server=utf8mb4_unicode_ci",
	}
	if os.Geteuid() == 0 {
		common = append(common, "--user=root")
	}
	install := exec.Command("mariadb-install-db", append(common, "--auth-root-authentication-method=normal", "--skip-test-db")...)
	install.Dir = dir
	if out, err := install.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("mariadb-install-db: %v\n%s", err, out)
	}
	m.cmd = exec.Command(mariadbd, append(common,
		"--socket="+filepath.Join(dir, "sock"),
		fmt.Sprintf("--port=%d", port),
		"--bind-address=127.0.0.1",
		"--pid-file="+filepath.Join(dir, "mariadbd.pid"),
		"--log-error="+filepath.Join(dir, "err.log"),
		"--skip-name-resolve",
		"--max-connections=1000",
	)...)
	m.cmd.Dir = dir
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := m.cmd.Start(); err != nil {
		return nil, err
	}
	m.done = make(chan struct{})
	go func() { m.cmd.Wait(); close(m.done) }()
	db, err := sql.Open("mysql", m.dsn(""))
	if err != nil {
		m.stop()
		return nil, err
	}
	defer db.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := db.PingContext(ctx)
		cancel()
		if err == nil {
			return m, nil
		}
		select {
		case <-m.done:
			b, _ := os.ReadFile(filepath.Join(dir, "err.log"))
			return nil, fmt.Errorf("mariadbd exited at start-up:\n%s", b)
		default:
		}
		if time.Now().After(deadline) {
			m.stop()
			return nil, fmt.Errorf("mariadbd did not answer in 60s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (m *mariadb) dsn(db string) string {
	return fmt.Sprintf("root@tcp(127.0.0.1:%d)/%s", m.port, db)
}

// newDatabase creates an empty database and returns its DSN.
func (m *mariadb) newDatabase() (string, error) {
	m.n++
	name := fmt.Sprintf("bench_%d", m.n)
	db, err := sql.Open("mysql", m.dsn(""))
	if err != nil {
		return "", err
	}
	defer db.Close()
	if _, err := db.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
		return "", err
	}
	return m.dsn(name), nil
}

// cpuTicks is mariadbd's CPU, counted with pollchat's in the MySQL runs.
func (m *mariadb) cpuTicks() int64 {
	return procCPU(fmt.Sprint(m.cmd.Process.Pid))
}

func (m *mariadb) stop() {
	if m == nil || m.cmd == nil || m.cmd.Process == nil {
		return
	}
	syscall.Kill(m.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(30 * time.Second):
		syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
		<-m.done
	}
	os.RemoveAll(m.dir)
}
