package server

import (
	"bytes"
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BenchmarkRepoll measures one idle re-poll end to end on loopback: the
// request read and routed, the identity verified, the poll parked on its
// hijacked connection, timed out by the hub's grid, answered and the
// connection served again. Many connections poll at once (as idle users
// do), so each grid tick fires a batch. The clients allocate nothing, so
// allocs/op is the server's cost per re-poll.
func BenchmarkRepoll(b *testing.B) {
	_, addr := startParkServer(b)
	const conns = 400
	clients := make([]*benchConn, conns)
	for i := range clients {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		cl := &benchConn{c: c, buf: make([]byte, 4096)}
		q := "/v1/poll?timeout=0.01&" + identity("u"+strconv.Itoa(i)) + "&cursor="
		// The first poll (no cursor) is answered at once with a cursor.
		body, err := cl.roundTrip([]byte(get(q, "")))
		if err != nil {
			b.Fatal(err)
		}
		cl.req = []byte(get(q+cursorOf(b, string(body)), ""))
		clients[i] = cl
	}
	var left atomic.Int64
	left.Store(int64(b.N))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for _, cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for left.Add(-1) >= 0 {
				body, err := cl.roundTrip(cl.req)
				if err == nil && !bytes.Contains(body, []byte(`"events":[]`)) {
					err = errors.New("unexpected answer: " + string(body))
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	// The process's CPU (server and clients) per re-poll: the clients'
	// share is the same for every server version, so compare versions.
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
}

// benchConn is a keep-alive client connection that allocates nothing per
// request.
type benchConn struct {
	c   net.Conn
	req []byte
	buf []byte
}

var (
	crlf2 = []byte("\r\n\r\n")
	clen  = []byte("\r\nContent-Length: ")
)

// roundTrip writes req and reads one answer (with a Content-Length) into
// cl.buf, returning its body.
func (cl *benchConn) roundTrip(req []byte) ([]byte, error) {
	if _, err := cl.c.Write(req); err != nil {
		return nil, err
	}
	n := 0
	for {
		m, err := cl.c.Read(cl.buf[n:])
		if err != nil {
			return nil, err
		}
		n += m
		h := bytes.Index(cl.buf[:n], crlf2)
		if h < 0 {
			continue
		}
		i := bytes.Index(cl.buf[:h], clen)
		if i < 0 {
			return nil, errors.New("no Content-Length: " + string(cl.buf[:n]))
		}
		size := 0
		for _, d := range cl.buf[i+len(clen) : h+2] {
			if d < '0' || d > '9' {
				break
			}
			size = size*10 + int(d-'0')
		}
		if n >= h+4+size {
			return cl.buf[h+4 : h+4+size], nil
		}
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
