//go:build linux

// Command floor measures what one poll cycle costs this machine's kernel
// alone: a server that does nothing but the system calls pollchat makes
// per answer (one write of an answer, one read of the next request, an
// epoll wait shared by the ready connections) against a client process
// that does nothing but read each answer and write the next request, both
// on 127.0.0.1 as in bench/loadgen.
//
// It runs rounds: the server writes an answer to each of -conns
// connections (a message fanned out to a room of that many members), then
// reads the -conns requests that come back. It prints the server's CPU
// per cycle (getrusage, user and system), how long the writes of a round
// took (the earliest the last member could have its answer) and how long
// the whole round took, as medians and 99th percentiles.
//
//	go run ./bench/floor -conns 2000 -rounds 200
//
// No chat, no HTTP parsing, no allocation per cycle: whatever a server
// does on top of this costs more. docs/perf-notes.md section 19 reads it
// against issue 21's targets.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"time"
)

func main() {
	conns := flag.Int("conns", 2000, "connections (room members)")
	rounds := flag.Int("rounds", 200, "rounds: an answer to every connection, then every request back")
	answer := flag.Int("answer", 420, "bytes of an answer (pollchat's to a poll with one room message is about this)")
	request := flag.Int("request", 260, "bytes of a request (the load generator's poll is about this)")
	serial := flag.Bool("serial", false, "one connection at a time: write its answer, wait for its request (idle cycling, where timeouts come one by one)")
	client := flag.String("client", "", "internal: run as the client of this address")
	flag.Parse()
	if *client != "" {
		if err := runClient(*client, *conns, *request); err != nil {
			fmt.Fprintln(os.Stderr, "floor client:", err)
			os.Exit(1)
		}
		return
	}
	if err := runServer(*conns, *rounds, *answer, *request, *serial); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

// fdOf takes a connection's descriptor out of Go's poller: a duplicate,
// non-blocking, and the net.Conn closed (as server/park.go does).
func fdOf(c net.Conn) (int, error) {
	f, err := c.(*net.TCPConn).File()
	c.Close()
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		return 0, err
	}
	return fd, syscall.SetNonblock(fd, true)
}

// watch takes c's descriptor (fdOf) and adds it to the epoll set ep,
// level-triggered for reading.
func watch(ep int, c net.Conn) (int, error) {
	fd, err := fdOf(c)
	if err != nil {
		return 0, err
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)}
	return fd, syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, fd, &ev)
}

func runServer(n, rounds, answerSize, requestSize int, serial bool) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, "-client", ln.Addr().String(), "-conns", fmt.Sprint(n), "-request", fmt.Sprint(requestSize))
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer cmd.Wait()
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	defer syscall.Close(ep)
	fds := make([]int, n)
	for i := range fds {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		if fds[i], err = watch(ep, c); err != nil {
			return err
		}
	}
	defer func() {
		for _, fd := range fds {
			syscall.Close(fd)
		}
	}()

	ans := make([]byte, answerSize)
	for i := range ans {
		ans[i] = 'a'
	}
	buf := make([]byte, 16<<10)
	events := make([]syscall.EpollEvent, 256)
	var writes, whole []time.Duration
	var syscalls int
	// wait reads until want bytes of requests are back.
	wait := func(want int) error {
		for back := 0; back < want; {
			calls, err := readReady(ep, events, buf, func(_, m int, err error) error {
				if err != nil || m == 0 {
					return fmt.Errorf("read: %v (%d bytes)", err, m)
				}
				back += m
				return nil
			})
			syscalls += calls
			if err != nil {
				return err
			}
		}
		return nil
	}
	round := func() error {
		start := time.Now()
		if serial {
			for _, fd := range fds {
				if _, err := syscall.Write(fd, ans); err != nil {
					return err
				}
				syscalls++
				if err := wait(requestSize); err != nil {
					return err
				}
			}
			writes = append(writes, time.Since(start))
			whole = append(whole, time.Since(start))
			return nil
		}
		for _, fd := range fds {
			if _, err := syscall.Write(fd, ans); err != nil {
				return err
			}
		}
		syscalls += n
		writes = append(writes, time.Since(start))
		if err := wait(n * requestSize); err != nil {
			return err
		}
		whole = append(whole, time.Since(start))
		return nil
	}
	// Two rounds to warm up, then the measured ones.
	for range 2 {
		if err := round(); err != nil {
			return err
		}
	}
	writes, whole, syscalls = writes[:0], whole[:0], 0
	var r0, r1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
	for range rounds {
		if err := round(); err != nil {
			return err
		}
	}
	syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
	cpu := func(r syscall.Rusage) time.Duration {
		return time.Duration(r.Utime.Nano() + r.Stime.Nano())
	}
	sys := time.Duration(r1.Stime.Nano() - r0.Stime.Nano())
	total := cpu(r1) - cpu(r0)
	cycles := float64(n * rounds)
	fmt.Printf("floor: %d connections, %d rounds, answers %d B, requests %d B, serial %v\n", n, rounds, answerSize, requestSize, serial)
	fmt.Printf("server CPU per cycle (write + read + shared epoll_wait): %.1f µs (system %.1f µs), %.2f system calls\n",
		float64(total.Microseconds())/cycles, float64(sys.Microseconds())/cycles, float64(syscalls)/cycles)
	fmt.Printf("a round's writes (the last member's answer sent): p50 %.1f ms, p99 %.1f ms\n", ms(pct(writes, 50)), ms(pct(writes, 99)))
	fmt.Printf("a whole round (and every request back): p50 %.1f ms, p99 %.1f ms\n", ms(pct(whole, 50)), ms(pct(whole, 99)))
	return nil
}

func runClient(addr string, n, requestSize int) error {
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	fds := make([]int, n)
	for i := range fds {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		if fds[i], err = watch(ep, c); err != nil {
			return err
		}
	}
	req := make([]byte, requestSize)
	for i := range req {
		req[i] = 'r'
	}
	buf := make([]byte, 64<<10)
	events := make([]syscall.EpollEvent, 256)
	errDone := errors.New("the server is done")
	for {
		_, err := readReady(ep, events, buf, func(fd, m int, err error) error {
			if err != nil || m == 0 {
				return errDone
			}
			if _, err := syscall.Write(fd, req); err != nil {
				return errDone
			}
			return nil
		})
		if err == errDone {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// readReady waits on ep once (again when interrupted) and reads each
// ready descriptor once into buf, handing got what it read (a read that
// finds nothing is skipped); it stops at got's first error. It returns
// the system calls it made.
func readReady(ep int, events []syscall.EpollEvent, buf []byte, got func(fd, n int, err error) error) (calls int, err error) {
	k, err := syscall.EpollWait(ep, events, -1)
	calls++
	for err == syscall.EINTR {
		k, err = syscall.EpollWait(ep, events, -1)
		calls++
	}
	if err != nil {
		return calls, err
	}
	for _, ev := range events[:k] {
		m, err := syscall.Read(int(ev.Fd), buf)
		calls++
		if err == syscall.EAGAIN {
			continue
		}
		if err := got(int(ev.Fd), m, err); err != nil {
			return calls, err
		}
	}
	return calls, nil
}

func pct(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
