//go:build linux

package server

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"pollchat/chat"
)

// Event loops for parked connections.
//
// A browser's poll connection spends its life in a cycle: a poll parks,
// its answer is written, the next poll comes in, parks again. On Go's
// poller each turn of that cycle costs a goroutine that waits for the
// next request (the runtime's netpoll wakes it), fasthttp's ServeConn
// set-up for one request, and a fresh goroutine for the hijack: about
// half of the server's CPU per re-poll went to the scheduler, system
// calls and fasthttp's per-connection work rather than to the poll
// (docs/perf-notes.md). Nginx (Nchan) pays for none of that: one thread
// per core waits on epoll for all its connections and handles what is
// ready.
//
// So a connection whose poll parks leaves Go's poller: when fasthttp
// hands it over (hijacked, park.go), its descriptor is duplicated and the
// net.Conn closed (which takes the descriptor out of the runtime's epoll),
// and after the answer the duplicate is put on one of the server's own
// epoll sets, one per CPU, each served by one goroutine (an evloop). The
// set itself is non-blocking and waits on Go's poller (an epoll set is
// readable while it has events), so a loop with nothing to do is a parked
// goroutine, not a thread held in epoll_wait. When the connection's next
// request is there, the loop reads it in one call; a complete GET
// /v1/poll alone (the request a browser sends after each answer) is
// parsed by fasthttp's Request into a RequestCtx whose Conn is the
// request (loopReq) and handed to the server's handler, on the loop's
// goroutine. The handler parks the poll (park.go sees the loopReq and
// keeps its connection, with no hijack) or answers at once (written on
// the descriptor). When a parked poll ends, its end is queued on the
// connection's loop (Go, drain), which writes the answer on the
// descriptor and re-arms it, a batch of ends per wake-up (in cluster
// mode, where reading the stream waits for Redis, a hub worker does).
// Anything else read from such a connection (another endpoint, a POST, a
// request cut in two reads, pipelined requests, HTTP/1.0 or Connection:
// close) goes back to Go's poller: the descriptor becomes a net.Conn
// again and fasthttp serves it from the bytes read, as serveNext does; if
// it parks again it comes back.
//
// Each connection has one owner at a time (lconn.state): armed (waiting
// for a request), the loop or the sweep may take it; busy (its request
// being handled, its poll parked, or its answer written), only the holder
// touches the descriptor. The loop that takes an event, and the sweep,
// take ownership with a compare-and-swap from armed; whoever owns it
// re-arms it, hands it to Go or closes it. The descriptor stays on its
// epoll set, edge-triggered, from its first arm to its close, so arming
// again costs no system call (a re-arm per poll cost 12% of the CPU of
// idle cycling); an edge that comes while the connection is busy (bytes
// sent behind a parked poll, or the peer closing) is marked on it, and
// its owner asks the set for it again when it re-arms (arm). An event
// carries the descriptor and a generation, so an event for a descriptor
// closed since (and its number reused) is recognised and dropped.
//
// Limits kept from the Go path: an armed connection with no request for
// ReadTimeout is closed (serveNext's first-byte wait); an answer the
// socket does not take at once is finished on the Go path with
// WriteTimeout. The handler runs the poll's checks (identity from the
// bridge's cache, rate limits, the hub's Park): in one process none of
// them waits on the network once a user is cached, so it runs on the
// loop's goroutine; a poll whose user is not (Service.Warm: the
// directory's entry or the stream's contacts missing) moves to a hub
// worker before anything waits (loopReq.move). In cluster mode Park waits
// for Redis, so the loop parses the request and a hub worker runs the
// handler (offload).

// lconn states.
const (
	lcBusy   uint32 = iota // owned by whoever is handling it
	lcArmed                // on its loop's epoll, waiting for a request
	lcClosed               // its descriptor is closed or handed to Go
)

// lconn is a connection on an event loop.
type lconn struct {
	fd     int
	gen    uint32
	l      *evloop
	state  atomic.Uint32
	since  atomic.Int64 // when it was armed (UnixNano)
	missed atomic.Bool  // an event came while it was busy
	laddr  net.Addr
	raddr  net.Addr
}

// loopReq is one request read on a loop: the RequestCtx handed to the
// handler, whose Conn is the loopReq (a net.Conn only for its addresses,
// and for park to find it), and what park tells the loop.
type loopReq struct {
	ls     *loops
	lc     *lconn
	ctx    fasthttp.RequestCtx
	out    []byte
	parked bool // set by park (the poll holds lc now) or move
	pooled bool // from loopReqs (handled on a hub worker)
}

var errLoopConn = &net.OpError{Op: "read", Net: "tcp", Err: os.ErrInvalid}

func (r *loopReq) Read([]byte) (int, error)         { return 0, errLoopConn }
func (r *loopReq) Write([]byte) (int, error)        { return 0, errLoopConn }
func (r *loopReq) Close() error                     { return nil } // lc's owner closes it
func (r *loopReq) LocalAddr() net.Addr              { return r.lc.laddr }
func (r *loopReq) RemoteAddr() net.Addr             { return r.lc.raddr }
func (r *loopReq) SetDeadline(time.Time) error      { return nil }
func (r *loopReq) SetReadDeadline(time.Time) error  { return nil }
func (r *loopReq) SetWriteDeadline(time.Time) error { return nil }

// loopReqs are the requests handled off the loop (offload).
var loopReqs = sync.Pool{New: func() any { return newLoopReq() }}

// newLoopReq makes a loopReq. Its RequestCtx is set up once, with the
// loopReq as its Conn: fasthttp's Done reads the ctx's server field
// without a lock (a context derived from the ctx may still watch it after
// the handler returns), so nothing writes it again.
func newLoopReq() *loopReq {
	r := &loopReq{out: make([]byte, 0, 1024)}
	r.ctx.Init2(r, nil, true)
	return r
}

// loops is the server's set of event loops, started at the first
// connection adopted.
type loops struct {
	s     *Server
	start sync.Once
	err   error // why the loops could not start (then nothing is adopted)
	l     []*evloop
	tab   fdTable
	gen   atomic.Uint32
	wake  [2]int // a pipe whose read end is on every loop's epoll: Shutdown writes it

	// life guards the epoll sets: every epoll_ctl holds it for reading
	// and checks closed, so none reaches an epoll set closed by shutdown.
	life   sync.RWMutex
	closed bool
	down   atomic.Bool    // closed, for arm
	wg     sync.WaitGroup // the loops' goroutines

	// idle is how long an armed connection may wait for a request
	// (ReadTimeout); every is how often the first loop looks.
	idle, every time.Duration

	// offload: polls too are handled on the hub's workers, not on the
	// loop's goroutine (cluster mode: Park waits for Redis).
	offload bool

	requests, handoffs atomic.Uint64 // requests served from a loop, and handed to Go
	ends               atomic.Uint64 // parked polls ended on a loop (Go)
	moved              atomic.Uint64 // polls moved off a loop's goroutine (loopReq.move)

	stop chan struct{} // closed by shutdown: the sweeper returns
}

// loopStats are the loops' counters (/metrics).
type loopStats struct {
	requests uint64 // requests read on the loops and served from them
	handoffs uint64 // requests handed back to Go's poller
	ends     uint64 // parked polls ended on their connection's loop
	moved    uint64 // polls moved from a loop's goroutine to a hub worker
}

func (ls *loops) stats() loopStats {
	return loopStats{ls.requests.Load(), ls.handoffs.Load(), ls.ends.Load(), ls.moved.Load()}
}

// evloop is one epoll set and the goroutine that serves it. Only that
// goroutine uses buf, rd, br and req.
type evloop struct {
	ls     *loops
	epfd   int
	ep     *os.File        // epfd, on Go's poller: the loop waits there
	rc     syscall.RawConn // ep's
	wait   func(fd uintptr) bool
	n      int // what wait's epoll_wait returned
	events [128]syscall.EpollEvent
	buf    [16 << 10]byte // one read: a request (fasthttp's ReadBufferSize)
	rd     bytes.Reader
	br     *bufio.Reader
	req    *loopReq // the request handled on the loop's goroutine

	// The ends of the polls parked on the loop's connections (Go), run on
	// the loop's goroutine. qfd is an eventfd on the set (queueEvent),
	// written when a task comes to an empty queue that the loop is not
	// draining (signaled false); a wake-up then runs a batch. Once the
	// loop has stopped (qdone), tasks go to the hub's workers.
	qmu      sync.Mutex
	queue    []chat.Task
	signaled bool
	qdone    bool
	spare    []chat.Task // the loop's: the last batch's array
	qfd      int
}

// Events on a loop's set that are not a connection's.
const (
	wakeEvent  = -1 // ls.wake: shutdown
	queueEvent = -2 // the loop's qfd: tasks queued
)

// newLoops returns the event loops for s, or nil when s does not use
// them.
func newLoops(s *Server) *loops {
	if !s.cfg.Server.EventLoopOn() {
		return nil
	}
	return &loops{s: s, idle: ReadTimeout, every: 5 * time.Second, offload: s.cfg.Cluster.RedisURL != ""}
}

// open starts the loops: one per CPU the runtime uses.
func (ls *loops) open() {
	n := max(1, min(runtime.GOMAXPROCS(0), 64))
	if err := syscall.Pipe2(ls.wake[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		ls.err = err
		return
	}
	for range n {
		epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			ls.err = err
			break
		}
		qfd, err := eventfd()
		if err != nil {
			syscall.Close(epfd)
			ls.err = err
			break
		}
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: wakeEvent}
		if err = syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, ls.wake[0], &ev); err == nil {
			ev.Fd = queueEvent
			err = syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, qfd, &ev)
		}
		if err == nil {
			err = syscall.SetNonblock(epfd, true)
		}
		if err != nil {
			syscall.Close(epfd)
			syscall.Close(qfd)
			ls.err = err
			break
		}
		// Non-blocking, the epoll set goes on Go's poller (an epoll set
		// is readable while it has events): the loop's goroutine waits
		// there like any other, rather than in epoll_wait, which would
		// hold its thread and keep the runtime's sysmon waking every
		// 20 µs to take its P back (a context switch per re-poll).
		l := &evloop{ls: ls, epfd: epfd, ep: os.NewFile(uintptr(epfd), "epoll"), qfd: qfd}
		// SetReadDeadline fails when the file did not go on Go's poller
		// (then the loop could not wait): no loops then.
		if err = l.ep.SetReadDeadline(time.Time{}); err == nil {
			l.rc, err = l.ep.SyscallConn()
		}
		if err != nil {
			l.ep.Close()
			syscall.Close(qfd)
			ls.err = err
			break
		}
		l.wait = l.poll
		l.req = newLoopReq()
		l.br = bufio.NewReaderSize(&l.rd, 4096)
		ls.l = append(ls.l, l)
	}
	if ls.err != nil {
		for _, l := range ls.l {
			l.ep.Close()
			syscall.Close(l.qfd)
		}
		ls.l = nil
		syscall.Close(ls.wake[0])
		syscall.Close(ls.wake[1])
		ls.s.log.Warn("server: event loops off", "err", ls.err)
		return
	}
	ls.stop = make(chan struct{})
	for _, l := range ls.l {
		ls.wg.Add(1)
		go l.run()
	}
	ls.wg.Add(1)
	go ls.sweeper()
}

// take takes c (a hijacked TCP connection whose poll has parked, with no
// byte of a next request read) off Go's poller: the lconn returned is the
// caller's (busy, not yet on its loop's epoll). nil: c is as it was.
func (ls *loops) take(c net.Conn, rc syscall.RawConn) *lconn {
	ls.start.Do(ls.open)
	if ls.err != nil || len(ls.l) == 0 {
		return nil // could not start, or shut down before they started
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	if rc == nil {
		var err error
		if rc, err = tc.SyscallConn(); err != nil {
			return nil
		}
	}
	fd, derr := -1, error(nil)
	if err := rc.Control(func(s uintptr) { fd, derr = dupCloexec(int(s)) }); err != nil || derr != nil {
		return nil
	}
	lc := &lconn{fd: fd, gen: ls.gen.Add(1), laddr: c.LocalAddr(), raddr: c.RemoteAddr()}
	lc.l = ls.l[fd%len(ls.l)]
	if !ls.tab.set(fd, lc) {
		syscall.Close(fd)
		return nil
	}
	// On its loop's set from now to its close, busy until the poll's
	// answer arms it: the one epoll_ctl of its life is paid here, with
	// the hijack, not with its first answer.
	if !ls.add(lc) {
		ls.tab.clear(fd, lc)
		syscall.Close(fd)
		return nil
	}
	// The duplicate keeps the socket open; closing c takes its own
	// descriptor off the runtime's epoll.
	c.Close()
	return lc
}

// dupCloexec duplicates fd, close-on-exec.
func dupCloexec(fd int) (int, error) {
	r, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, 0)
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

// arm puts lc (owned by the caller) on its loop, to wait for its next
// request. lc is on its loop's epoll set for good from take (edge-
// triggered), so arming is no system call: only when an edge came while
// lc was busy (missed, set by the loop) is the set asked to report lc
// again.
func (ls *loops) arm(lc *lconn) {
	lc.since.Store(time.Now().UnixNano())
	for {
		lc.state.Store(lcArmed)
		if ls.down.Load() {
			// After shutdown's sweep, or before it: whoever takes lc
			// closes it.
			if lc.state.CompareAndSwap(lcArmed, lcBusy) {
				ls.close(lc)
			}
			return
		}
		// An edge that came while lc was busy: take lc back (if the loop
		// has not taken it since, to read what came) and have the set look
		// at it again, which reports it if readable; until no edge came in
		// between.
		if !lc.missed.Load() || !lc.state.CompareAndSwap(lcArmed, lcBusy) {
			return
		}
		lc.missed.Store(false)
		if !ls.mod(lc) {
			ls.close(lc)
			return
		}
	}
}

// mod asks lc's loop's epoll set to look at lc (owned by the caller)
// again; false when it could not.
func (ls *loops) mod(lc *lconn) bool {
	ls.life.RLock()
	defer ls.life.RUnlock()
	if ls.closed {
		return false
	}
	ev := lc.event()
	return syscall.EpollCtl(lc.l.epfd, syscall.EPOLL_CTL_MOD, lc.fd, &ev) == nil
}

// event is lc's registration: readable or closed by the peer, edge-
// triggered, with lc's descriptor and generation.
func (lc *lconn) event() syscall.EpollEvent {
	return syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | epollET, Fd: int32(lc.fd), Pad: int32(lc.gen)}
}

// epollET is EPOLLET as the event mask's type (syscall's constant is
// negative).
const epollET = 1 << 31

// add puts lc (busy, the caller's) on its loop's epoll set; false when it
// could not be (the loops are shut down, or the call failed). An event
// that comes before lc is armed is marked missed (ready) and looked at
// again when it is.
func (ls *loops) add(lc *lconn) bool {
	ls.life.RLock()
	defer ls.life.RUnlock()
	if ls.closed {
		return false
	}
	ev := lc.event()
	return syscall.EpollCtl(lc.l.epfd, syscall.EPOLL_CTL_ADD, lc.fd, &ev) == nil
}

// close closes lc's descriptor (lc owned by the caller). Closing the only
// descriptor of the socket takes it off the epoll set too.
func (ls *loops) close(lc *lconn) {
	lc.state.Store(lcClosed)
	ls.tab.clear(lc.fd, lc)
	syscall.Close(lc.fd)
}

// toGo hands lc (owned by the caller) back to Go's poller as a net.Conn;
// nil when that failed (lc is closed then).
func (ls *loops) toGo(lc *lconn) net.Conn {
	ls.life.RLock()
	if !ls.closed {
		// Its duplicate would keep the registration alive.
		syscall.EpollCtl(lc.l.epfd, syscall.EPOLL_CTL_DEL, lc.fd, nil)
	}
	ls.life.RUnlock()
	lc.state.Store(lcClosed)
	ls.tab.clear(lc.fd, lc)
	f := os.NewFile(uintptr(lc.fd), "")
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil
	}
	return c
}

// serveGo serves lc's requests on the Go path, starting with data (read
// from it already, copied here).
func (ls *loops) serveGo(lc *lconn, data []byte) {
	ls.handoffs.Add(1)
	c := ls.toGo(lc)
	if c == nil {
		return
	}
	pc := &primedConn{Conn: c, data: bytes.Clone(data)}
	go ls.s.http.ServeConn(pc)
}

// write writes out (an answer, all of it) on lc (owned by the caller),
// then re-arms lc, or closes it when closing. What the socket does not
// take at once is written on the Go path, with WriteTimeout, from a
// goroutine of its own; out is not used after write returns.
func (ls *loops) write(lc *lconn, out []byte, closing bool) {
	rest, err := writeFd(lc.fd, out)
	switch {
	case err != nil:
		ls.close(lc)
	case len(rest) > 0:
		rest = bytes.Clone(rest)
		c := ls.toGo(lc)
		if c == nil {
			return
		}
		go ls.s.finishWrite(c, rest, closing)
	case closing:
		ls.close(lc)
	default:
		ls.arm(lc)
	}
}

// finishWrite writes the rest of an answer on c with WriteTimeout, then
// serves c's next requests (or closes it).
func (s *Server) finishWrite(c net.Conn, rest []byte, closing bool) {
	wd := time.Now().Add(s.http.WriteTimeout)
	err := c.SetWriteDeadline(wd)
	if err == nil {
		_, err = c.Write(rest)
	}
	if err != nil || closing {
		c.Close()
		return
	}
	s.serveNext(c, nil, wd)
}

// shutdown closes every armed connection and stops the loops; parked
// polls close theirs when the hub answers them.
func (ls *loops) shutdown() {
	started := false
	ls.start.Do(func() {}) // no loops start after this
	ls.life.Lock()
	if !ls.closed && ls.l != nil {
		started = true
	}
	ls.closed = true
	ls.down.Store(true)
	ls.life.Unlock()
	if !started {
		return
	}
	syscall.Write(ls.wake[1], []byte{1})
	close(ls.stop)
	ls.wg.Wait()
	ls.sweep(time.Now().Add(time.Hour).UnixNano())
	for _, l := range ls.l {
		l.ep.Close()
		syscall.Close(l.qfd)
	}
	syscall.Close(ls.wake[0])
	syscall.Close(ls.wake[1])
}

// sweep closes the armed connections armed before cutoff.
func (ls *loops) sweep(cutoff int64) {
	ls.tab.each(func(lc *lconn) {
		if lc.state.Load() == lcArmed && lc.since.Load() < cutoff && lc.state.CompareAndSwap(lcArmed, lcBusy) {
			ls.close(lc)
		}
	})
}

// run serves the loop's epoll set until shutdown.
func (l *evloop) run() {
	defer l.ls.wg.Done()
	defer l.stopQueue()
	for {
		if err := l.rc.Read(l.wait); err != nil {
			l.ls.s.log.Error("server: event loop", "err", err)
			return
		}
		for i := range l.n {
			ev := &l.events[i]
			switch ev.Fd {
			case wakeEvent:
				return // shutdown
			case queueEvent:
				l.drain()
			default:
				l.ready(int(ev.Fd), uint32(ev.Pad), ev.Events&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0)
			}
		}
	}
}

// Go queues t (a parked poll's end: its answer read, written and the
// connection re-armed, none of which waits) for the loop's goroutine. A
// wake or the timeout grid ending a batch of polls then costs a wake-up
// of each loop, not a goroutine hop per poll.
func (l *evloop) Go(t chat.Task) {
	l.qmu.Lock()
	if l.qdone {
		l.qmu.Unlock()
		l.ls.s.svc.Hub().Go(t)
		return
	}
	l.queue = append(l.queue, t)
	if !l.signaled {
		// Under qmu: once qdone is set nobody writes qfd, which shutdown
		// then closes.
		l.signaled = true
		one := [8]byte{1}
		writeFd(l.qfd, one[:])
	}
	l.qmu.Unlock()
}

// drain runs the queued tasks, batch after batch, until the queue is
// empty; tasks queued meanwhile (a poll evicted by one answered here)
// join the next batch without writing qfd.
func (l *evloop) drain() {
	var b [8]byte
	readFd(l.qfd, b[:])
	for {
		l.qmu.Lock()
		q := l.queue
		if len(q) == 0 {
			l.signaled = false
			l.qmu.Unlock()
			return
		}
		l.queue = l.spare[:0]
		l.qmu.Unlock()
		l.ls.ends.Add(uint64(len(q)))
		for i, t := range q {
			q[i] = nil
			t.Run()
		}
		l.spare = q
	}
}

// stopQueue runs what is queued when the loop stops; tasks that come
// later go to the hub's workers.
func (l *evloop) stopQueue() {
	l.qmu.Lock()
	l.qdone = true
	q := l.queue
	l.queue = nil
	l.qmu.Unlock()
	for _, t := range q {
		t.Run()
	}
}

// eventfd returns a non-blocking, close-on-exec eventfd.
func eventfd() (int, error) {
	fd, _, e := syscall.Syscall(syscall.SYS_EVENTFD2, 0, syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if e != 0 {
		return -1, e
	}
	return int(fd), nil
}

// poll is run's wait: what the set has now, without waiting; false (wait
// on Go's poller for the set to be readable) when it has nothing. An
// event that comes after this look and before the wait makes the wait
// return at once.
func (l *evloop) poll(fd uintptr) bool {
	for {
		n, err := syscall.EpollWait(int(fd), l.events[:], 0)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			l.ls.s.log.Error("server: event loop", "err", err)
			l.n = 0
			return false
		}
		l.n = n
		return n > 0
	}
}

// sweeper closes, every ls.every, the connections armed for longer than
// ls.idle (ReadTimeout): an armed one waits ReadTimeout to ReadTimeout +
// every for its next request.
func (ls *loops) sweeper() {
	defer ls.wg.Done()
	t := time.NewTicker(ls.every)
	defer t.Stop()
	for {
		select {
		case <-ls.stop:
			return
		case now := <-t.C:
			ls.sweep(now.Add(-ls.idle).UnixNano())
		}
	}
}

// ready serves the connection an event came for, if it is still the one
// armed under that descriptor and generation.
// hup: the peer has closed its side, or the socket has failed.
func (l *evloop) ready(fd int, gen uint32, hup bool) {
	lc := l.ls.tab.get(fd)
	if lc == nil || lc.gen != gen {
		return
	}
	if !lc.state.CompareAndSwap(lcArmed, lcBusy) {
		if lc.state.Load() == lcClosed {
			return
		}
		// Busy (or armed since the swap failed): marked, its owner asks
		// the set for this edge again when it re-arms (arm); armed in the
		// meantime, it is taken here.
		lc.missed.Store(true)
		if !lc.state.CompareAndSwap(lcArmed, lcBusy) {
			return
		}
		lc.missed.Store(false)
	}
	n, err := readFd(fd, l.buf[:])
	switch {
	case err == syscall.EAGAIN:
		l.ls.arm(lc) // nothing after all
		return
	case err != nil || n <= 0:
		l.ls.close(lc) // closed by the client, or broken
		return
	}
	data := l.buf[:n]
	kind := loopRequest(data)
	if hup || n == len(l.buf) || kind == lrNone {
		// A half-closed connection (no further edge would come), a read
		// that may have left bytes behind, or any other request: Go's
		// poller and fasthttp take it from here.
		l.ls.serveGo(lc, data)
		return
	}
	l.serve(lc, data, kind == lrCall || l.ls.offload)
}

// What a loop does with the bytes it read (loopRequest).
const (
	lrNone = iota // hand them to Go's poller
	lrPoll        // a GET /v1/poll: handled on the loop's goroutine (one process)
	lrCall        // another browser call (GET or POST /v1/…, not an upload): handled on a hub worker
)

// loopRequest says what data is, at a glance: a request line the loop
// serves and a complete header (serve checks the rest when it parses).
func loopRequest(data []byte) int {
	var rest []byte
	switch {
	case bytes.HasPrefix(data, []byte("GET /v1/")):
		rest = data[len("GET /v1/"):]
	case bytes.HasPrefix(data, []byte("POST /v1/")):
		rest = data[len("POST /v1/"):]
	default:
		return lrNone
	}
	end := bytes.IndexAny(rest, "? \r\n")
	if end < 0 || rest[end] == '\r' || rest[end] == '\n' || !bytes.Contains(data, []byte("\r\n\r\n")) {
		return lrNone
	}
	switch string(rest[:end]) {
	case "upload":
		return lrNone // its own limits and timeouts (upload.go)
	case "poll":
		if data[0] == 'G' {
			return lrPoll
		}
	}
	return lrCall
}

// serve parses the request in data and hands it to the server's handler:
// on the loop's goroutine, or on a hub worker (offload: a call that may
// wait, such as a send for its commit, or any request in cluster mode).
// Only data that is exactly one HTTP/1.1 keep-alive request is served
// here; fasthttp answers anything else (a bad request, a body still to
// come, pipelined requests) as it would have.
func (l *evloop) serve(lc *lconn, data []byte, offload bool) {
	r := l.req
	if offload {
		r = loopReqs.Get().(*loopReq)
		r.pooled = true
	}
	r.ls, r.lc = l.ls, lc
	ctx := &r.ctx
	l.rd.Reset(data)
	l.br.Reset(&l.rd)
	h := &ctx.Request.Header
	err := ctx.Request.ReadLimitBody(l.br, l.ls.s.http.MaxRequestBodySize)
	whole := l.br.Buffered() == 0 && l.rd.Len() == 0
	l.rd.Reset(nil)
	if err != nil || !whole || !h.IsHTTP11() || h.ConnectionClose() || ctx.Request.MayContinue() ||
		(ctx.IsGet() && len(ctx.Request.Body()) > 0) {
		r.done()
		l.ls.serveGo(lc, data)
		return
	}
	l.ls.requests.Add(1)
	if offload {
		l.ls.s.svc.Hub().Go(r)
		return
	}
	r.Run()
}

// Run hands the request to the server's handler and writes its answer,
// unless the poll parked.
func (r *loopReq) Run() {
	ls, lc, ctx := r.ls, r.lc, &r.ctx
	ctx.Response.Header.SetServer(serverName(ls.s.http.Name))
	r.parked = false
	ls.s.http.Handler(ctx)
	if r.parked {
		r.done() // the poll holds lc now
		return
	}
	closing := ctx.Response.ConnectionClose() || ls.down.Load()
	if closing {
		ctx.Response.SetConnectionClose()
	}
	r.out = r.out[:0]
	_, err := ctx.Response.WriteTo((*appendWriter)(&r.out))
	if err != nil {
		ls.close(lc)
	} else {
		ls.write(lc, r.out, closing)
	}
	r.done()
}

// move hands r's request (read on its loop's goroutine, not answered) to
// a hub worker, which handles it again from the start, while the loop
// serves its other connections: a poll that may wait for the directory or
// the store (Service.Warm) must not hold them. r's connection goes with
// it (r.parked).
func (r *loopReq) move() {
	w := loopReqs.Get().(*loopReq)
	w.pooled = true
	w.ls, w.lc = r.ls, r.lc
	r.ctx.Request.CopyTo(&w.ctx.Request)
	r.parked = true
	r.ls.moved.Add(1)
	r.ls.s.metrics.requests.Add(^uint64(0)) // counted again when w runs
	r.ls.s.svc.Hub().Go(w)
}

// inline says whether r is being handled on its loop's goroutine.
func (r *loopReq) inline() bool { return !r.pooled }

// done clears r for the next request (and gives it back when it came from
// the pool).
func (r *loopReq) done() {
	ctx := &r.ctx
	ctx.Request.Reset()
	ctx.Response.Reset()
	ctx.ResetUserValues()
	ctx.Hijack(nil)
	ctx.HijackSetNoResponse(false)
	if cap(r.out) > 64<<10 {
		r.out = make([]byte, 0, 1024)
	}
	pooled := r.pooled
	r.ls, r.lc, r.parked, r.pooled = nil, nil, false, false
	if pooled {
		loopReqs.Put(r)
	}
}

// appendWriter appends what is written to it.
type appendWriter []byte

func (w *appendWriter) Write(p []byte) (int, error) {
	*w = append(*w, p...)
	return len(p), nil
}

var _ io.Writer = (*appendWriter)(nil)

// fdTable maps descriptors below fdChunks*fdChunk to their lconn, with no
// lock on lookups.
type fdTable struct {
	chunks [fdChunks]atomic.Pointer[[fdChunk]atomic.Pointer[lconn]]
	mu     sync.Mutex // growing
	top    atomic.Int64
}

const (
	fdChunk  = 4096
	fdChunks = 256
)

func (t *fdTable) get(fd int) *lconn {
	if fd < 0 || fd >= fdChunks*fdChunk {
		return nil
	}
	c := t.chunks[fd/fdChunk].Load()
	if c == nil {
		return nil
	}
	return c[fd%fdChunk].Load()
}

// set maps fd to lc; false when fd is too large for the table.
func (t *fdTable) set(fd int, lc *lconn) bool {
	if fd < 0 || fd >= fdChunks*fdChunk {
		return false
	}
	c := t.chunks[fd/fdChunk].Load()
	if c == nil {
		t.mu.Lock()
		if c = t.chunks[fd/fdChunk].Load(); c == nil {
			c = new([fdChunk]atomic.Pointer[lconn])
			t.chunks[fd/fdChunk].Store(c)
		}
		t.mu.Unlock()
	}
	c[fd%fdChunk].Store(lc)
	for {
		top := t.top.Load()
		if int64(fd) < top || t.top.CompareAndSwap(top, int64(fd)+1) {
			return true
		}
	}
}

// clear unmaps fd if it still maps to lc.
func (t *fdTable) clear(fd int, lc *lconn) {
	if c := t.chunks[fd/fdChunk].Load(); c != nil {
		c[fd%fdChunk].CompareAndSwap(lc, nil)
	}
}

// each calls fn for every lconn in the table.
func (t *fdTable) each(fn func(*lconn)) {
	top := int(t.top.Load())
	for i := 0; i*fdChunk < top; i++ {
		c := t.chunks[i].Load()
		if c == nil {
			continue
		}
		for j := range c {
			if i*fdChunk+j >= top {
				break
			}
			if lc := c[j].Load(); lc != nil {
				fn(lc)
			}
		}
	}
}
