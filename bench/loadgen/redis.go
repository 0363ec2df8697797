package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// redisServer is a private redis-server for the cluster scenarios: its own
// temp dir, 127.0.0.1 on a free port, no persistence (pollchat keeps what
// must survive in the MySQL store), stopped by its pid. Its CPU is read
// from /proc/PID/stat and reported apart from pollchat's.
type redisServer struct {
	dir  string
	addr string
	cmd  *exec.Cmd
	done chan struct{}
}

const redisBin = "redis-server"

func haveRedis() bool {
	_, err := exec.LookPath(redisBin)
	return err == nil
}

func startRedis() (*redisServer, error) {
	dir, err := os.MkdirTemp("", "redis-bench-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	r := &redisServer{dir: dir, addr: fmt.Sprintf("127.0.0.1:%d", port)}
	r.cmd = exec.Command(redisBin,
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--dir", dir,
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--maxclients", "10000",
		"--loglevel", "warning",
	)
	r.cmd.Dir = dir
	log, err := os.Create(filepath.Join(dir, "redis.log"))
	if err != nil {
		return nil, err
	}
	defer log.Close()
	r.cmd.Stdout, r.cmd.Stderr = log, log
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		return nil, fmt.Errorf("redis-server: %w", err)
	}
	r.done = make(chan struct{})
	go func() { r.cmd.Wait(); close(r.done) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := redisPing(r.addr)
		if err == nil {
			return r, nil
		}
		select {
		case <-r.done:
			b, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
			os.RemoveAll(dir)
			return nil, fmt.Errorf("redis-server exited at start-up:\n%s", b)
		default:
		}
		if time.Now().After(deadline) {
			r.stop()
			return nil, fmt.Errorf("redis-server did not answer PING on %s: %v", r.addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *redisServer) url() string { return "redis://" + r.addr + "/0" }

func (r *redisServer) pid() int { return r.cmd.Process.Pid }

func redisPing(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
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

// stop ends redis-server by its pid (SIGTERM, SIGKILL after 10 s) and
// removes its directory.
func (r *redisServer) stop() {
	if r == nil || r.cmd == nil || r.cmd.Process == nil {
		return
	}
	syscall.Kill(r.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		<-r.done
	}
	os.RemoveAll(r.dir)
}
