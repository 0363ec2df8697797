package testsvc

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Redis is a running redis-server on 127.0.0.1 with its own temp dir, no
// persistence and no password.
type Redis struct {
	URL  string // redis://127.0.0.1:PORT/0
	Addr string // 127.0.0.1:PORT
	Dir  string

	t    testing.TB
	port int
	p    proc
	logM sync.Mutex
	log  bytes.Buffer
}

// StartRedis starts a redis-server for t, stopped when t ends.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("testsvc: redis-server is missing: install Debian's redis-server (scripts/deps.sh): %v", err)
	}
	r := &Redis{Dir: t.TempDir(), t: t}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		r.port = freePort()
		r.Addr = fmt.Sprintf("127.0.0.1:%d", r.port)
		r.URL = "redis://" + r.Addr + "/0"
		if err = r.start(); err == nil {
			t.Cleanup(r.Stop)
			return r
		}
	}
	t.Fatalf("testsvc: redis-server: %v\n%s", err, r.Log())
	return nil
}

// Start restarts a stopped or killed server on the same port (empty: no
// persistence).
func (r *Redis) Start() {
	r.t.Helper()
	if err := r.start(); err != nil {
		r.t.Fatalf("testsvc: redis-server restart: %v\n%s", err, r.Log())
	}
}

func (r *Redis) start() error {
	cmd := exec.Command("redis-server",
		"--port", fmt.Sprint(r.port),
		"--bind", "127.0.0.1",
		"--dir", r.Dir,
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--maxclients", "4000",
		"--loglevel", "warning",
	)
	cmd.Dir = r.Dir
	w := lockedWriter{&r.logM, &r.log}
	cmd.Stdout, cmd.Stderr = w, w
	if err := r.p.start(cmd); err != nil {
		return err
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if err := redisPing(r.Addr); err == nil {
			return nil
		} else if r.p.hasExited() || time.Now().After(deadline) {
			r.p.signal(syscall.SIGKILL, 5*time.Second)
			return fmt.Errorf("redis-server did not answer PING on %s: %v", r.Addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func redisPing(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// Log is what the server printed.
func (r *Redis) Log() string {
	r.logM.Lock()
	defer r.logM.Unlock()
	return r.log.String()
}

// Stop shuts the server down (SIGTERM, SIGKILL after 10 s).
func (r *Redis) Stop() { r.p.signal(syscall.SIGTERM, 10*time.Second) }

// Kill ends the server with SIGKILL.
func (r *Redis) Kill() { r.p.signal(syscall.SIGKILL, 5*time.Second) }
