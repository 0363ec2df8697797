package testsvc

import (
	"fmt"
	"net"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

func listenFree() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// proc is a started server process in its own process group, reaped by a
// goroutine; signals go to the whole group (php -S forks workers).
type proc struct {
	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	running bool
}

func (p *proc) start(cmd *exec.Cmd) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	p.mu.Lock()
	p.cmd, p.exited, p.running = cmd, exited, true
	p.mu.Unlock()
	return nil
}

// hasExited says whether the process ended by itself.
func (p *proc) hasExited() bool {
	p.mu.Lock()
	ch := p.exited
	p.mu.Unlock()
	if ch == nil {
		return true
	}
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// signal sends sig to the process group and waits (bounded) for the
// process to end; SIGKILL after d.
func (p *proc) signal(sig syscall.Signal, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.running {
		return
	}
	p.running = false
	pid := p.cmd.Process.Pid
	_ = syscall.Kill(-pid, sig)
	select {
	case <-p.exited:
	case <-time.After(d):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-p.exited
	}
	// Children of the group (php workers) may outlive the leader briefly.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}

// waitTCP waits until addr accepts connections, the process exits, or d.
func waitTCP(addr string, p *proc, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if p != nil && p.hasExited() {
			return fmt.Errorf("process exited before listening on %s", addr)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after %s: %v", addr, d, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
