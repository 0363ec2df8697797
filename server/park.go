package server

import (
	"context"
	"net"
	"reflect"
	"strconv"
	"sync"
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
// Only plain HTTP/1.1 keep-alive GET/POST polls with a timeout are parked
// this way; everything else (HEAD, HTTP/1.0, Connection: close, a per-IP
// connection limit) takes the ordinary path.

// parking is the server's state of hijacked polls.
type parking struct {
	wg sync.WaitGroup // polls parked now
}

// parkedPoll is what a parked poll keeps: the caller, its position and
// the response headers set before parking (CORS, nosniff, no-store).
type parkedPoll struct {
	s        *Server
	caller   chat.Caller
	cursor   string
	timeout  time.Duration
	callback []byte
	hdr      []byte
	last     bool // answer with Connection: close and close
}

// canPark says whether this request may be parked on a hijacked connection.
func (s *Server) canPark(ctx *fasthttp.RequestCtx, timeout time.Duration) bool {
	return timeout > 0 && s.cfg.Server.MaxConnsPerIP == 0 && !ctx.IsHead() &&
		ctx.Request.Header.IsHTTP11() && !ctx.Request.Header.ConnectionClose()
}

// park hijacks the connection; the poll is answered from parkedPoll.wait.
func (s *Server) park(ctx *fasthttp.RequestCtx, rp reply, c chat.Caller, cursor string, timeout time.Duration) {
	pk := &parkedPoll{s: s, caller: c, cursor: cursor, timeout: timeout, callback: rp.callback}
	ctx.Response.Header.VisitAll(func(k, v []byte) {
		switch string(k) {
		case fasthttp.HeaderContentType, fasthttp.HeaderContentLength, fasthttp.HeaderServer,
			fasthttp.HeaderDate, fasthttp.HeaderConnection, fasthttp.HeaderTransferEncoding:
			return
		}
		pk.hdr = append(pk.hdr, k...)
		pk.hdr = append(pk.hdr, ": "...)
		pk.hdr = append(pk.hdr, v...)
		pk.hdr = append(pk.hdr, "\r\n"...)
	})
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(pk.hijacked)
}

// hijacked runs in fasthttp's hijack goroutine, which holds the RequestCtx
// until it returns: wait in a goroutine of our own instead.
func (pk *parkedPoll) hijacked(c net.Conn) {
	pk.s.parking.wg.Add(1)
	// Bytes read past the poll request (a request pipelined behind it)
	// sit in a buffer whose reader belongs to the RequestCtx, which
	// fasthttp recycles when this returns: such a connection is answered
	// and closed (Connection: close; the client sends the rest again, as
	// HTTP/1.1 clients must when a pipelined connection closes).
	pk.last = holdsBuffer(c)
	// Wait without a goroutine: the hub keeps a callback on its timeout
	// grid and runs it on one of its workers when the poll ends.
	res, parked := pk.s.svc.Park(pk.caller, pk.cursor, pk.timeout, func(res chat.PollResult) { pk.finish(c, res) })
	if !parked {
		// This goroutine holds the RequestCtx until it returns.
		pk.s.svc.Hub().Go(&answerNow{pk: pk, c: c, res: res})
	}
}

// answerNow finishes a hijacked poll that was answered without parking.
type answerNow struct {
	pk  *parkedPoll
	c   net.Conn
	res chat.PollResult
}

func (a *answerNow) Run() { a.pk.finish(a.c, a.res) }

// finish writes the poll's answer on the hijacked connection and hands the
// connection back to fasthttp (or closes it).
func (pk *parkedPoll) finish(c net.Conn, res chat.PollResult) {
	s := pk.s
	hub := s.svc.Hub()
	closing := pk.last
	select {
	case <-hub.Closed():
		closing = true
	default:
	}
	var out []byte
	if res.Evicted {
		s.metrics.errors(errEvicted.Code)
		out = pk.evicted(closing)
	} else {
		out = pk.answer(res, closing)
	}
	c.SetWriteDeadline(time.Now().Add(s.http.WriteTimeout))
	_, err := c.Write(out)
	s.metrics.polled(len(res.Events))
	s.parking.wg.Done()
	if err != nil || closing {
		c.Close()
		return
	}
	// fasthttp sets the deadlines it needs for the next request. Serve the
	// bare connection, so that hijack wrappers do not pile up, on this
	// goroutine (one of the hub's workers, whose stack has grown): its next
	// request is read and handled here, with no hop to another goroutine;
	// when that request parks, ServeConn returns and the worker is free.
	if u, ok := c.(interface{ UnsafeConn() net.Conn }); ok {
		c = u.UnsafeConn()
	}
	s.http.ServeConn(c)
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
	r := v.Elem().FieldByName("r")
	if !r.IsValid() || r.Kind() != reflect.Interface || r.IsNil() {
		return true
	}
	// It reads the connection itself when its reader has the type of the
	// connection underneath (cheaper than asking Implements on every poll).
	u, ok := c.(interface{ UnsafeConn() net.Conn })
	if !ok {
		return true
	}
	return r.Elem().Type() != reflect.TypeOf(u.UnsafeConn())
}

// evicted is the whole HTTP response to a parked poll that a newer one
// replaced: errEvicted, as reply.fail would write it.
func (pk *parkedPoll) evicted(closing bool) []byte {
	e := errEvicted
	body := pk.jsonp(appendError(make([]byte, 0, 256), e))
	if pk.callback != nil {
		return pk.frame("200 OK", "", body, closing)
	}
	return pk.frame("429 Too Many Requests", "Retry-After: "+strconv.Itoa(e.RetryAfter)+"\r\n", body, closing)
}

// answer is the whole HTTP response to a parked poll.
func (pk *parkedPoll) answer(res chat.PollResult, closing bool) []byte {
	return pk.frame("200 OK", "", pk.jsonp(appendPoll(make([]byte, 0, pollSize(res)), res)), closing)
}

// jsonp wraps a JSON value in the poll's callback, as reply.open and
// reply.close do.
func (pk *parkedPoll) jsonp(value []byte) []byte {
	if pk.callback == nil {
		return value
	}
	b := make([]byte, 0, len(value)+len(pk.callback)+8)
	b = append(b, "/**/"...)
	b = append(b, pk.callback...)
	b = append(b, '(')
	b = append(b, value...)
	return append(b, ");"...)
}

// frame puts the status line and the headers before body.
func (pk *parkedPoll) frame(status, extra string, body []byte, closing bool) []byte {
	out := make([]byte, 0, 160+len(pk.hdr)+len(extra)+len(body))
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
	out = strconv.AppendInt(out, int64(len(body)), 10)
	out = append(out, "\r\n"...)
	if closing {
		out = append(out, "Connection: close\r\n"...)
	}
	out = append(out, extra...)
	out = append(out, pk.hdr...)
	out = append(out, "\r\n"...)
	return append(out, body...)
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
