package server

import (
	"bytes"
	"context"
	"net"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"pollchat/chat"
)

// A parked poll holds no fasthttp handler and no goroutine. fasthttp runs
// each request in a worker goroutine whose stack has grown to 8 KiB by the
// time a handler runs, and keeps the RequestCtx (headers, URI, arguments:
// another 2-3 KiB) until the handler returns. With 15,000 parked polls that
// was most of the server's memory (bench: 19 KB RSS per parked poll). So a
// poll that has to wait hijacks its connection: the handler returns at once
// (worker and RequestCtx go back to their pools) and the hub keeps a
// callback and a runtime timer (Hub.Park), no goroutine (bench: 10.7 KB
// with a waiting goroutine, about 4 KB without). When the poll ends, the
// callback writes the answer on the raw connection and serves the
// connection's next request (fasthttp's ServeConn) on the same goroutine:
// one of the hub's long-lived workers, whose stack has already grown
// (ServeConn on a fresh goroutine spent 14% of the CPU of a saturated
// fan-out growing stacks; handing the connection back through a listener
// cost two goroutine hops per re-poll).
//
// The handler parks the poll in the hub itself, before hijacking: that
// work runs on the goroutine that read the request (a grown stack), not in
// the fresh goroutine fasthttp starts for the hijack handler, which only
// hands the connection over; and a poll with events already is answered
// as an ordinary answer, with no hijack at all. The answer is framed in a
// pooled buffer. A re-poll allocates 19 objects, server and hub
// (BenchmarkRepoll: 26 before these changes; serveNext, primed.go, costs
// three of the 19 and saves a read call).
//
// Only plain HTTP/1.1 keep-alive GET/POST polls with a timeout are parked
// this way; everything else (HEAD, HTTP/1.0, Connection: close, a per-IP
// connection limit) takes the ordinary path.
//
// On Linux, the hijacked connection then leaves Go's poller
// for one of the server's event loops (loop_linux.go): its answer is
// written on the descriptor and its next polls are read and parked by the
// loop, with no hijack; serveNext serves only connections that stay on
// Go's poller.

// parking is the server's state of hijacked polls.
type parking struct {
	wg sync.WaitGroup // polls parked now
}

// parkedPoll is what a parked poll keeps: its answer's JSONP callback and
// the response headers set before parking (CORS, nosniff, no-store), and,
// once fasthttp hands it over, the hijacked connection.
type parkedPoll struct {
	s        *Server
	callback []byte
	hdr      []byte
	c        net.Conn        // set by hijacked
	lc       *lconn          // set by park instead, on an event loop (loop_linux.go)
	rc       syscall.RawConn // set by hijacked: c's, when serveNext had it (else nil)
	res      chat.PollResult // set by done when the poll ends before hijacked runs
	state    atomic.Uint32   // pkWaiting, then pkConn or pkResult: whichever came first
	last     bool            // set by hijacked: answer with Connection: close and close

	// done and hijacked as func values, made once per pooled parkedPoll
	// (method values handed to the hub and to fasthttp would be allocated
	// on every poll).
	doneFn   func(chat.PollResult)
	hijackFn func(net.Conn)
}

// parkedPolls are reused: a parked poll is done with once its answer is
// written (the hub calls done once; fasthttp calls hijacked once, before
// the answer is written or before finish starts).
var parkedPolls sync.Pool

// Set here, not in parkedPolls' declaration: New refers to hijacked,
// which (through finish and release) refers to parkedPolls.
func init() {
	parkedPolls.New = func() any {
		pk := new(parkedPoll)
		pk.doneFn, pk.hijackFn = pk.done, pk.hijacked
		return pk
	}
}

func newParkedPoll(s *Server, callback []byte) *parkedPoll {
	pk := parkedPolls.Get().(*parkedPoll)
	pk.s, pk.callback = s, callback
	return pk
}

// release gives pk back, once nothing will use it again (one not made by
// the pool is left to the GC).
func (pk *parkedPoll) release() {
	if pk.doneFn == nil {
		return
	}
	pk.s, pk.callback, pk.hdr, pk.c, pk.lc, pk.rc, pk.last = nil, nil, nil, nil, nil, nil, false
	pk.res = chat.PollResult{}
	pk.state.Store(pkWaiting)
	parkedPolls.Put(pk)
}

// The poll's two halves meet once: its end (done, on a hub worker) and its
// connection (hijacked, in fasthttp's hijack goroutine). The second to
// arrive answers.
const (
	pkWaiting uint32 = iota
	pkConn           // hijacked came first: done answers
	pkResult         // done came first: hijacked hands the answer to a worker
)

// canPark says whether this request may be parked on a hijacked connection.
func (s *Server) canPark(ctx *fasthttp.RequestCtx, timeout time.Duration) bool {
	return timeout > 0 && s.cfg.Server.MaxConnsPerIP == 0 && !ctx.IsHead() &&
		ctx.Request.Header.IsHTTP11() && !ctx.Request.Header.ConnectionClose()
}

// park parks the poll in the hub from the handler (on the goroutine that
// read the request, whose stack has grown) and hijacks the connection; the
// poll is answered on it when it ends. A poll that has events already (or
// is refused) is answered at once, as an ordinary answer: no hijack.
func (s *Server) park(ctx *fasthttp.RequestCtx, rp reply, c chat.Caller, cursor string, timeout time.Duration) {
	pk := newParkedPoll(s, rp.callback)
	// On an event loop the connection is here already: the poll keeps it
	// from the moment it parks (done may answer at once, on a hub worker),
	// and the loop leaves it alone once the handler returns.
	lr, onLoop := ctx.Conn().(*loopReq)
	if onLoop {
		pk.hdr = parkedHeaders(&ctx.Response.Header)
		pk.lc = lr.lc
		pk.state.Store(pkConn)
		lr.parked = true
	}
	// With event loops, the poll's end runs on its connection's loop once
	// the connection is there (pk.Go); not in cluster mode, where reading
	// the stream waits for Redis. nil: the hub's workers.
	var run chat.Runner
	if s.loops != nil && !s.loops.offload {
		run = pk
	}
	// Counted before the hub may call done, which counts it off.
	s.parking.wg.Add(1)
	res, parked := s.svc.ParkOn(run, c, cursor, timeout, pk.doneFn)
	if !parked {
		if onLoop {
			lr.parked = false
		}
		s.parking.wg.Done()
		pk.release() // the hub keeps done only when the poll parks
		s.answerPoll(rp, res)
		return
	}
	if onLoop {
		return
	}
	// Read by done or by a worker, after hijacked (which fasthttp starts
	// once this handler has returned).
	pk.hdr = parkedHeaders(&ctx.Response.Header)
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(pk.hijackFn)
}

// plainHeaders are the headers begin sets on every browser answer: without
// an Origin header (a same-site page) they are all there is to keep, and
// parked polls share this one copy.
var plainHeaders = []byte("X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n")

// parkedHeaders returns the response headers set so far, as lines, less
// those frame writes itself.
func parkedHeaders(h *fasthttp.ResponseHeader) []byte {
	// One pass, on the stack up to 256 bytes (append moves a longer list
	// to the heap; it is copied once more below).
	var tmp [256]byte
	b := tmp[:0]
	for k, v := range h.All() {
		if !framed(k) {
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	if bytes.Equal(b, plainHeaders) {
		return plainHeaders
	}
	return bytes.Clone(b)
}

// framed says whether frame writes header k itself.
func framed(k []byte) bool {
	switch string(k) {
	case fasthttp.HeaderContentType, fasthttp.HeaderContentLength, fasthttp.HeaderServer,
		fasthttp.HeaderDate, fasthttp.HeaderConnection, fasthttp.HeaderTransferEncoding:
		return true
	}
	return false
}

// answerPoll answers a poll that did not wait, on the ordinary path.
func (s *Server) answerPoll(rp reply, res chat.PollResult) {
	if res.Evicted {
		s.fail(rp, errEvicted)
		return
	}
	rp.raw(fasthttp.StatusOK, appendPoll(make([]byte, 0, pollSize(res)), res))
	s.metrics.polled(len(res.Events))
}

// hijacked runs in fasthttp's hijack goroutine, a fresh one, which holds
// the RequestCtx until it returns: it only hands the connection over.
func (pk *parkedPoll) hijacked(c net.Conn) {
	// Bytes read past the poll request (a request pipelined behind it)
	// sit in a buffer whose reader belongs to the RequestCtx, which
	// fasthttp recycles when this returns: such a connection is answered
	// and closed (Connection: close; the client sends the rest again, as
	// HTTP/1.1 clients must when a pipelined connection closes).
	pk.last = holdsBuffer(c)
	// Keep the bare connection, so that wrappers do not pile up (and are
	// not kept while the poll waits).
	pk.c, pk.rc = bareConn(c)
	// Off Go's poller, for an event loop to serve the connection's next
	// polls (loop_linux.go), once per connection: this is where a
	// connection's first parked poll comes, and where one that went back to
	// Go's poller comes back.
	if !pk.last && pk.s.loops != nil {
		if lc := pk.s.loops.take(pk.c, pk.rc); lc != nil {
			pk.lc, pk.c, pk.rc = lc, nil, nil
		}
	}
	if pk.state.CompareAndSwap(pkWaiting, pkConn) {
		return // done answers
	}
	// The poll ended before its connection came: answer from a worker.
	pk.s.svc.Hub().Go(pk)
}

// Go runs the poll's end (chat.Runner): on its connection's event loop,
// which writes the answer there, once the connection is on one (from the
// loop, or taken at hijack: state pkConn publishes pk.lc); otherwise on a
// hub worker, whose finish may go on to serve the connection.
func (pk *parkedPoll) Go(t chat.Task) {
	if pk.state.Load() == pkConn && pk.lc != nil {
		pk.lc.l.Go(t)
		return
	}
	pk.s.svc.Hub().Go(t)
}

// done is the hub's callback when the poll ends (on one of its workers,
// or on its connection's loop).
func (pk *parkedPoll) done(res chat.PollResult) {
	pk.res = res
	if pk.state.CompareAndSwap(pkWaiting, pkResult) {
		return // hijacked hands it to a worker
	}
	pk.finish()
}

// Run answers a poll that ended before its connection was hijacked.
func (pk *parkedPoll) Run() { pk.finish() }

// finish writes the poll's answer on the hijacked connection and goes on
// serving the connection (or closes it).
func (pk *parkedPoll) finish() {
	s, c, rc, res := pk.s, pk.c, pk.rc, pk.res
	hub := s.svc.Hub()
	closing := pk.last
	select {
	case <-hub.Closed():
		closing = true
	default:
	}
	buf := answerBufs.Get().(*answerBuf)
	var out []byte
	if res.Evicted {
		s.metrics.errors(errEvicted.Code)
		out = pk.evicted(buf, closing)
	} else {
		out = pk.answer(buf, res, closing)
	}
	if lc := pk.lc; lc != nil {
		// On an event loop: written on the descriptor, then back on the
		// loop (loop_linux.go).
		s.loops.write(lc, out, closing)
		pk.end(buf)
		return
	}
	// The answer almost always fits the socket's buffer: written at once,
	// it needs no write deadline (setting one costs a timer update per
	// re-poll, and clearing it another). Only what the socket does not
	// take is written with the deadline.
	var wd time.Time
	rest, err := buf.writeNow(c, rc, out)
	if err == nil && len(rest) > 0 {
		wd = time.Now().Add(s.http.WriteTimeout)
		if err = c.SetWriteDeadline(wd); err == nil {
			_, err = c.Write(rest)
		}
	}
	pk.end(buf)
	if err != nil || closing {
		c.Close()
		return
	}
	// fasthttp sets the deadlines it needs for the next request. Serve the
	// connection on this goroutine (one of the hub's workers, whose stack
	// has grown): its next request is read and handled here, with no hop
	// to another goroutine; when that request parks, ServeConn returns and
	// the worker is free.
	s.serveNext(c, rc, wd)
}

// end counts the poll answered, once its answer is written (buf, the
// answer's buffer, is given back), and gives pk back.
func (pk *parkedPoll) end(buf *answerBuf) {
	s, events := pk.s, len(pk.res.Events)
	buf.put()
	pk.release()
	s.metrics.polled(events)
	s.parking.wg.Done()
}

// bareConn returns the connection under fasthttp's hijack wrapper and
// serveNext's, and its RawConn when serveNext had it.
func bareConn(c net.Conn) (net.Conn, syscall.RawConn) {
	if u, ok := c.(interface{ UnsafeConn() net.Conn }); ok {
		c = u.UnsafeConn()
	}
	if pc, ok := c.(*primedConn); ok {
		return pc.Conn, pc.rc
	}
	return c, nil
}

// answerBuf is where an answer is encoded (value) and framed (out): it is
// written at once, and the buffers are reused.
type answerBuf struct {
	out, value []byte

	// writeNow's state: write is writeOnce as a func value, made once per
	// buffer (a method value passed to RawConn.Write would be allocated
	// on every call); pend is what is left to write, werr the write's
	// error.
	write func(fd uintptr) bool
	pend  []byte
	werr  error
}

var answerBufs = sync.Pool{New: func() any {
	b := &answerBuf{out: make([]byte, 0, 512), value: make([]byte, 0, 256)}
	b.write = b.writeOnce
	return b
}}

// writeNow writes out to c as far as c's socket takes it without waiting,
// with no deadline, and returns what is left: all of out when c cannot be
// written this way (or has a deadline that passed), none when the socket
// took it all. err is a failed write's.
// rc is c's RawConn when the caller has it (nil: asked of c).
func (b *answerBuf) writeNow(c net.Conn, rc syscall.RawConn, out []byte) (rest []byte, err error) {
	if !rawFds {
		return out, nil
	}
	if rc == nil {
		sc, ok := c.(syscall.Conn)
		if !ok {
			return out, nil
		}
		if rc, err = sc.SyscallConn(); err != nil {
			return out, nil
		}
	}
	b.pend, b.werr = out, nil
	if rc.Write(b.write) != nil {
		// A deadline set earlier has passed, or c is closed: the caller's
		// write (with a deadline) says which.
		rest = b.pend
		b.pend = nil
		return rest, nil
	}
	rest, err = b.pend, b.werr
	b.pend, b.werr = nil, nil
	return rest, err
}

// writeOnce is writeNow's write: as much of b.pend as the socket takes.
// It never asks RawConn.Write to wait (that wait would have no deadline):
// what is left, the caller writes with one.
func (b *answerBuf) writeOnce(fd uintptr) bool {
	var err error
	if b.pend, err = writeFd(int(fd), b.pend); err != nil {
		b.werr = &net.OpError{Op: "write", Net: "tcp", Err: err}
	}
	return true
}

// put gives b back; buffers grown past 64 KiB (many events) are left to
// the GC.
func (b *answerBuf) put() {
	if cap(b.out) > 64<<10 || cap(b.value) > 64<<10 {
		return
	}
	b.out, b.value = b.out[:0], b.value[:0]
	answerBufs.Put(b)
}

// holdsBuffer says whether fasthttp's hijacked connection reads through a
// buffered reader (bytes already read past the poll request) rather than
// the connection itself. fasthttp has no accessor; when its layout is not
// the expected one, assume it does (the safe answer: close after the poll).
func holdsBuffer(c net.Conn) bool {
	v := reflect.ValueOf(c)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return true
	}
	i := readerField(v.Elem().Type())
	if i < 0 {
		return true
	}
	r := v.Elem().Field(i)
	if r.Kind() != reflect.Interface || r.IsNil() {
		return true
	}
	// It reads the connection itself when its reader has the type of the
	// connection underneath (cheaper than asking Implements on every poll).
	u, ok := c.(interface{ UnsafeConn() net.Conn })
	if !ok {
		return true
	}
	under := u.UnsafeConn()
	if pc, ok := under.(*primedConn); ok && pc.buffered() {
		return true // serveNext read past the request
	}
	return r.Elem().Type() != reflect.TypeOf(under)
}

// readerField returns the index of field r of struct type t, or -1. The
// answer for the last type asked is kept: the lookup by name costs more
// than the rest of holdsBuffer (and grows a fresh goroutine's stack).
func readerField(t reflect.Type) int {
	if f := lastReaderField.Load(); f != nil && f.t == t {
		return f.i
	}
	f := &fieldIndex{t: t, i: -1}
	if sf, ok := t.FieldByName("r"); ok && len(sf.Index) == 1 {
		f.i = sf.Index[0]
	}
	lastReaderField.Store(f)
	return f.i
}

type fieldIndex struct {
	t reflect.Type
	i int
}

var lastReaderField atomic.Pointer[fieldIndex]

// evicted appends the whole HTTP response to a parked poll that a newer
// one replaced: errEvicted, as reply.fail would write it.
func (pk *parkedPoll) evicted(b *answerBuf, closing bool) []byte {
	e := errEvicted
	b.value = appendError(b.value[:0], e)
	if pk.callback != nil {
		b.out = pk.frame(b.out[:0], "200 OK", "", b.value, closing)
	} else {
		b.out = pk.frame(b.out[:0], "429 Too Many Requests", "Retry-After: "+strconv.Itoa(e.RetryAfter)+"\r\n", b.value, closing)
	}
	return b.out
}

// answer appends the whole HTTP response to a parked poll.
func (pk *parkedPoll) answer(b *answerBuf, res chat.PollResult, closing bool) []byte {
	b.value = appendPoll(b.value[:0], res)
	b.out = pk.frame(b.out[:0], "200 OK", "", b.value, closing)
	return b.out
}

// frame appends the status line, the headers and value as the body,
// wrapped in the poll's callback as reply.open and reply.close do.
func (pk *parkedPoll) frame(out []byte, status, extra string, value []byte, closing bool) []byte {
	n := len(value)
	if pk.callback != nil {
		n += len("/**/") + len(pk.callback) + len("(") + len(");")
	}
	out = append(out, "HTTP/1.1 "...)
	out = append(out, status...)
	out = append(out, "\r\nServer: "...)
	out = append(out, serverName(pk.s.http.Name)...)
	out = append(out, "\r\nContent-Type: "...)
	if pk.callback != nil {
		out = append(out, ctJS...)
	} else {
		out = append(out, ctJSON...)
	}
	out = append(out, "\r\nContent-Length: "...)
	out = strconv.AppendInt(out, int64(n), 10)
	out = append(out, "\r\n"...)
	if closing {
		out = append(out, "Connection: close\r\n"...)
	}
	out = append(out, extra...)
	out = append(out, pk.hdr...)
	out = append(out, "\r\n"...)
	if pk.callback == nil {
		return append(out, value...)
	}
	out = append(out, "/**/"...)
	out = append(out, pk.callback...)
	out = append(out, '(')
	out = append(out, value...)
	return append(out, ");"...)
}

func serverName(name string) string {
	if name == "" {
		return "pollchat"
	}
	return name
}

// waitParks waits until every hijacked poll has answered (the hub is
// closed first, which wakes them all) or ctx ends.
func (s *Server) waitParks(ctx context.Context) {
	done := make(chan struct{})
	go func() { s.parking.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}
