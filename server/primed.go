package server

import (
	"io"
	"net"
	"sync"
	"syscall"
	"time"
)

// After a parked poll's answer, the connection's next request is a round
// trip away. fasthttp's ServeConn (with ReduceMemoryUsage) would read it
// with three read calls: one that finds nothing yet (EAGAIN) before
// waiting, one for the first byte alone, one for the rest. serveNext reads
// what has come in one call (after the EAGAIN one and the wait), and hands
// ServeConn a connection that returns those bytes first: two reads per
// re-poll instead of three. (Waiting before the first read would save
// that one too, but the runtime forgets a readiness that came before the
// wait began: a request sent at once, or an end of file already seen,
// would then wait for the deadline.)
//
// Deadlines: each one set on a connection re-arms a runtime timer
// (internal/poll's runtime_pollSetDeadline: a lock and a timer-heap
// update). Around a parked re-poll fasthttp sets five: the read deadline
// of a first request, again after its first byte, the write deadline
// after the handler, and both cleared when the handler hijacks, on top of
// serveNext's own read deadline (bench: 7% of the server's CPU while idle
// cycling). Yet none of fasthttp's can matter while the request is read
// from prime's bytes and the handler parks the poll: a deadline bounds
// I/O on the connection, and there is none. So primedConn keeps the
// deadlines fasthttp asks for and sets them on the connection only before
// it reads or writes the connection itself, which keeps their meaning. A
// deadline that is cleared is cleared at once when the connection has one
// set, so that no timer stays armed while a poll is parked (a read
// deadline firing ReadTimeout later, for each of 15,000 parked polls, would wake
// an idle process for nothing). A parked re-poll then sets one deadline
// (serveNext's, for prime's wait) and clears it on hijack.

// primedConn is a connection whose next bytes have been read already.
type primedConn struct {
	net.Conn
	buf  *primeBuf // pooled; nil once the bytes are read
	data []byte    // the bytes read and not yet returned
	err  error     // the read's error, returned after data
	rc   syscall.RawConn

	// rd and wd are the deadlines set on the connection; prd and pwd the
	// ones asked for, set on it before the connection is read or written.
	rd, wd, prd, pwd time.Time
}

// primeSize is what one read takes: a poll request with its headers (a
// site's cookies may make it larger: ServeConn reads the rest itself).
const primeSize = 4096

// primeBuf is prime's buffer with its read: read is readOnce as a func
// value, made once per buffer (a method value passed to RawConn.Read is
// allocated on every call).
type primeBuf struct {
	b    [primeSize]byte
	n    int   // what the read returned
	err  error // syscall.Read's error
	read func(fd uintptr) bool
}

var primeBufs = sync.Pool{New: func() any {
	b := new(primeBuf)
	b.read = b.readOnce
	return b
}}

// serveNext serves c's next requests with fasthttp, after reading the
// first bytes of the next one itself.
// rc is c's RawConn when the caller has it (nil: asked of c); wd is the
// write deadline c has (zero: none).
func (s *Server) serveNext(c net.Conn, rc syscall.RawConn, wd time.Time) {
	if !rawFds {
		s.http.ServeConn(c)
		return
	}
	if rc == nil {
		sc, ok := c.(syscall.Conn)
		if !ok {
			s.http.ServeConn(c)
			return
		}
		var err error
		if rc, err = sc.SyscallConn(); err != nil {
			s.http.ServeConn(c)
			return
		}
	}
	// ServeConn applies ReadTimeout to the first byte of a connection's
	// first request; so does this wait. Its timeout, like any read error,
	// is handed to ServeConn as its first read's, which answers it as it
	// would have (408 for a timeout).
	var deadline time.Time // none, as ServeConn without a ReadTimeout
	if s.http.ReadTimeout > 0 {
		deadline = time.Now().Add(s.http.ReadTimeout)
	}
	if err := c.SetReadDeadline(deadline); err != nil {
		s.http.ServeConn(c)
		return
	}
	pc := &primedConn{Conn: c, buf: primeBufs.Get().(*primeBuf), rc: rc,
		rd: deadline, prd: deadline, wd: wd, pwd: wd}
	pc.prime()
	s.http.ServeConn(pc)
}

// prime reads once, waiting for the connection to be readable (as a
// read of the connection does; the read goes to a buffer of primeSize,
// not a byte).
func (pc *primedConn) prime() {
	err := pc.rc.Read(pc.buf.read)
	n, rerr := pc.buf.n, pc.buf.err
	switch {
	case err != nil:
		pc.err = err // the deadline, or a closed connection
	case rerr != nil:
		pc.err = &net.OpError{Op: "read", Net: "tcp", Source: pc.LocalAddr(), Addr: pc.RemoteAddr(), Err: rerr}
	case n <= 0:
		pc.err = io.EOF
	}
	if n > 0 {
		pc.data = pc.buf.b[:n]
	} else {
		pc.release()
	}
}

// readOnce is prime's read: false (wait for readability) when nothing
// has come.
func (b *primeBuf) readOnce(fd uintptr) bool {
	b.n, b.err = readFd(int(fd), b.b[:])
	return b.err != syscall.EAGAIN
}

// Read returns the bytes read by prime, then reads the connection.
func (pc *primedConn) Read(p []byte) (int, error) {
	if len(pc.data) > 0 {
		n := copy(p, pc.data)
		pc.data = pc.data[n:]
		if len(pc.data) == 0 {
			pc.release()
		}
		return n, nil
	}
	if pc.err != nil {
		err := pc.err
		pc.err = nil
		return 0, err
	}
	if !pc.prd.Equal(pc.rd) {
		if err := pc.Conn.SetReadDeadline(pc.prd); err != nil {
			return 0, err
		}
		pc.rd = pc.prd
	}
	return pc.Conn.Read(p)
}

// Write sets the write deadline asked for, then writes the connection.
func (pc *primedConn) Write(p []byte) (int, error) {
	if !pc.pwd.Equal(pc.wd) {
		if err := pc.Conn.SetWriteDeadline(pc.pwd); err != nil {
			return 0, err
		}
		pc.wd = pc.pwd
	}
	return pc.Conn.Write(p)
}

// SetReadDeadline keeps t for the next read of the connection; a zero t
// clears the connection's deadline at once.
func (pc *primedConn) SetReadDeadline(t time.Time) error {
	pc.prd = t
	if t.IsZero() && !pc.rd.IsZero() {
		pc.rd = t
		return pc.Conn.SetReadDeadline(t)
	}
	return nil
}

// SetWriteDeadline keeps t for the next write of the connection; a zero t
// clears the connection's deadline at once.
func (pc *primedConn) SetWriteDeadline(t time.Time) error {
	pc.pwd = t
	if t.IsZero() && !pc.wd.IsZero() {
		pc.wd = t
		return pc.Conn.SetWriteDeadline(t)
	}
	return nil
}

// SetDeadline is SetReadDeadline and SetWriteDeadline (one call to the
// connection when both clear it).
func (pc *primedConn) SetDeadline(t time.Time) error {
	if t.IsZero() && !pc.rd.IsZero() && !pc.wd.IsZero() {
		pc.prd, pc.pwd, pc.rd, pc.wd = t, t, t, t
		return pc.Conn.SetDeadline(t)
	}
	rerr := pc.SetReadDeadline(t)
	if err := pc.SetWriteDeadline(t); err != nil {
		return err
	}
	return rerr
}

func (pc *primedConn) release() {
	if pc.buf != nil {
		pc.buf.n, pc.buf.err = 0, nil
		primeBufs.Put(pc.buf)
		pc.buf, pc.data = nil, nil
	}
}

// buffered says whether bytes read by prime are still to be returned.
func (pc *primedConn) buffered() bool { return len(pc.data) > 0 }
