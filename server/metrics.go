package server

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/valyala/fasthttp"

	"pollchat/chat"
)

var errorCodes = []string{
	chat.CodeAuthFailed, chat.CodeTokenExpired, chat.CodeBadRequest, chat.CodeTooLong,
	chat.CodeNotFound, chat.CodeForbidden, chat.CodeMuted, chat.CodeRateLimited,
	chat.CodeUnavailable, chat.CodeInternal, chat.CodeInvalidExpiry,
}

// metrics are plain atomic counters written as Prometheus text.
type metrics struct {
	requests  atomic.Uint64
	polls     atomic.Uint64
	pollEvs   atomic.Uint64
	errCounts []atomic.Uint64
	errIndex  map[string]int
}

func newMetrics() *metrics {
	m := &metrics{errCounts: make([]atomic.Uint64, len(errorCodes)), errIndex: map[string]int{}}
	for i, c := range errorCodes {
		m.errIndex[c] = i
	}
	return m
}

func (m *metrics) errors(code string) {
	if i, ok := m.errIndex[code]; ok {
		m.errCounts[i].Add(1)
	}
}

func (m *metrics) polled(events int) {
	m.polls.Add(1)
	m.pollEvs.Add(uint64(events))
}

func (s *Server) withMetrics(h fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		s.metrics.requests.Add(1)
		if folded(ctx.Request.Header.RawHeaders()) {
			// obs-fold (a header line continued on the next one, RFC 9112
			// section 5.2): proxies unfold it differently or not at all, so
			// what pollchat reads may not be what the proxy checked.
			ctx.SetConnectionClose()
			ctx.Error("malformed request: a folded header line (obs-fold)\n", fasthttp.StatusBadRequest)
			ctx.Response.Header.Set("X-Content-Type-Options", "nosniff")
			s.metrics.errors(chat.CodeBadRequest)
			return
		}
		if ambiguousLength(&ctx.Request.Header) {
			// Content-Length and Transfer-Encoding together: a proxy in front
			// may have framed this request differently (request smuggling).
			// RFC 9112 section 6.1: answer, then close the connection.
			ctx.SetConnectionClose()
		}
		h(ctx)
	}
}

func (m *metrics) write(w io.Writer, svc *chat.Service, ls *loops) {
	var b strings.Builder
	metric := func(name, typ, help string, v any) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n%s %v\n", name, help, name, typ, name, v)
	}
	hub := svc.Hub()
	metric("pollchat_parked_polls", "gauge", "Polls parked now.", hub.Parked())
	metric("pollchat_streams", "gauge", "User event streams held in memory.", hub.Streams())
	if ls != nil {
		st := ls.stats()
		metric("pollchat_loop_requests_total", "counter", "Requests read on the event loops and served from them (polls, and other browser calls on the same connections).", st.requests)
		metric("pollchat_loop_handoffs_total", "counter", "Requests on event-loop connections handed back to Go's poller (uploads, other paths, split or pipelined requests).", st.handoffs)
		metric("pollchat_loop_ends_total", "counter", "Parked polls ended on the event loop that holds their connection (woken, timed out, evicted or closed), in batches rather than a goroutine each.", st.ends)
		metric("pollchat_loop_moved_total", "counter", "Polls read on an event loop that were handled on a worker instead, because they could wait for the directory or the store (a user not cached).", st.moved)
	}
	metric("pollchat_sends_total", "counter", "Messages stored and delivered.", svc.Sends())
	metric("pollchat_deliveries_total", "counter", "Events appended to user streams.", hub.Deliveries())
	metric("pollchat_engine_errors_total", "counter", "Engine (Redis in a cluster) calls that failed.", hub.EngineErrors())
	metric("pollchat_polls_total", "counter", "Polls answered.", m.polls.Load())
	metric("pollchat_poll_events_total", "counter", "Events answered by polls.", m.pollEvs.Load())
	metric("pollchat_http_requests_total", "counter", "HTTP requests received.", m.requests.Load())
	b.WriteString("# HELP pollchat_errors_total Error answers by code.\n# TYPE pollchat_errors_total counter\n")
	for i, c := range errorCodes {
		fmt.Fprintf(&b, "pollchat_errors_total{code=%q} %d\n", c, m.errCounts[i].Load())
	}
	metric("go_goroutines", "gauge", "Goroutines.", runtime.NumGoroutine())
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	metric("go_memstats_heap_inuse_bytes", "gauge", "Heap in use.", ms.HeapInuse)
	if rss := residentBytes(); rss > 0 {
		metric("process_resident_memory_bytes", "gauge", "Resident memory.", rss)
	}
	io.WriteString(w, b.String())
}

var pageSize = int64(os.Getpagesize())

// residentBytes reads the process's RSS from /proc (Linux), 0 elsewhere.
func residentBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.ParseInt(f[1], 10, 64)
	return n * pageSize
}

// folded says whether a raw header block has a line that starts with a
// space or a tab (obs-fold).
func folded(raw []byte) bool {
	for i := 1; i < len(raw); i++ {
		if raw[i-1] == '\n' && (raw[i] == ' ' || raw[i] == '\t') {
			return true
		}
	}
	return false
}

// ambiguousLength says whether a request carried both Content-Length and
// Transfer-Encoding (fasthttp keeps the chunked framing and rewrites the
// parsed headers, so the raw ones tell).
func ambiguousLength(h *fasthttp.RequestHeader) bool {
	raw := h.RawHeaders()
	var cl, te bool
	for i := 0; i < len(raw); i++ {
		if i > 0 && raw[i-1] != '\n' {
			continue
		}
		rest := raw[i:]
		cl = cl || (len(rest) >= 15 && asciiEqualFold(rest[:15], "content-length:"))
		te = te || (len(rest) >= 18 && asciiEqualFold(rest[:18], "transfer-encoding:"))
	}
	return cl && te
}

func asciiEqualFold(b []byte, lower string) bool {
	for i := 0; i < len(lower); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// metricsHandler serves Prometheus text to loopback clients, to callers
// with the API credentials, or to anyone with server.metrics_public.
func (s *Server) metricsHandler(ctx *fasthttp.RequestCtx) {
	if !s.metricsAllowed(ctx) {
		// ctx.Error resets the response: headers go after it.
		ctx.Error("metrics are served to loopback clients or with the api credentials\n", fasthttp.StatusUnauthorized)
		ctx.Response.Header.Set("WWW-Authenticate", `Basic realm="pollchat metrics"`)
		ctx.Response.Header.Set("X-Content-Type-Options", "nosniff")
		return
	}
	ctx.SetContentType("text/plain; version=0.0.4; charset=utf-8")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	s.metrics.write(ctx, s.svc, s.loops)
}

// metricsAllowed decides who may read /metrics: anyone with
// server.metrics_public; a loopback peer that does not forward a request
// for someone else (a reverse proxy on the same host sets Forwarded,
// X-Forwarded-For or X-Real-IP, and its clients are not local); and
// callers with the backend API credentials when the API is on.
func (s *Server) metricsAllowed(ctx *fasthttp.RequestCtx) bool {
	if s.cfg.Server.MetricsPublic {
		return true
	}
	if ctx.RemoteIP().IsLoopback() && !forwarded(ctx) {
		return true
	}
	return s.cfg.API.Password != "" && basicAuthOK(ctx, s.cfg.API)
}
