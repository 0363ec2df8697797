// Package server is pollchat's HTTP face: the fasthttp router, JSONP and
// JSON answers, the identity check of every request, the long-poll
// handler, the backend API, assets and metrics.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/fasthttp/router"
	"github.com/valyala/fasthttp"

	"pollchat/bridge"
	"pollchat/chat"
	"pollchat/config"
	"pollchat/moderation"
)

// Invalidator drops users from the directory's cache (bridge.Directory).
type Invalidator interface {
	Invalidate(ids ...string)
}

// ReadTimeout bounds reading one request (request line, headers, body)
// from its first byte: a client dripping a partial request is cut after it.
const ReadTimeout = 10 * time.Second

// Server is the HTTP face.
type Server struct {
	cfg      *config.Config
	svc      *chat.Service
	dir      Invalidator
	verifier *bridge.Verifier
	log      *slog.Logger
	metrics  *metrics
	assets   *assetSet
	origins  map[string]bool
	anyOrig  bool
	http     *fasthttp.Server
	parking  parking     // polls parked on hijacked connections (park.go)
	loops    *loops      // event loops for parked connections; nil: none (loop_linux.go)
	uploads  *uploadGate // upload bodies being received (upload_limits.go)
	started  time.Time
	more     more                  // the directory search and moderator sessions (more.go)
	files    *fileSvc              // attachments (files.go), set by SetFiles
	mod      *moderation.Moderator // nil when the store keeps no records (api_moderation.go)
}

// New builds the HTTP face.
func New(cfg *config.Config, svc *chat.Service, dir Invalidator, v *bridge.Verifier, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.Default()
	}
	s := &Server{cfg: cfg, svc: svc, dir: dir, verifier: v, log: log, metrics: newMetrics(), origins: map[string]bool{}, started: time.Now()}
	s.uploads = newUploadGate(cfg.Files.MaxSize, uploadReadTimeout+time.Minute)
	s.mod, _ = moderation.New(svc)
	for _, o := range cfg.Server.AllowedOrigins {
		if o == "*" {
			s.anyOrig = true
		}
		s.origins[strings.TrimRight(o, "/")] = true
	}
	a, err := loadAssets()
	if err != nil {
		return nil, err
	}
	s.assets = a
	s.http = &fasthttp.Server{
		Handler: s.Handler(),
		// POST /v1/upload alone may carry files.max_size (upload.go).
		HeaderReceived: s.headerReceived,
		Name:           "pollchat",
		ErrorHandler:   s.errorHandler,
		// A parked poll is not bounded by these: the read deadline covers
		// reading a request, the write deadline is set after the handler.
		// ReadTimeout runs from a request's first byte to its last, so a
		// slowloris client dripping a header is cut after it.
		ReadTimeout:  ReadTimeout,
		WriteTimeout: 15 * time.Second,
		IdleTimeout:  75 * time.Second,
		// Host-site cookies can be large.
		ReadBufferSize:     16 << 10,
		MaxRequestBodySize: 64 << 10,
		// Parked and idle connections give their 4 KiB buffers back.
		ReduceMemoryUsage: true,
		// Parked polls hijack their connection and hand it back (park.go).
		KeepHijackedConns:             true,
		MaxConnsPerIP:                 cfg.Server.MaxConnsPerIP,
		Concurrency:                   256 * 1024,
		CloseOnShutdown:               true,
		NoDefaultServerHeader:         false,
		NoDefaultDate:                 true,
		DisableHeaderNamesNormalizing: false,
		SecureErrorLogMessage:         true,
		Logger:                        fasthttpLogger{log},
	}
	s.loops = newLoops(s)
	return s, nil
}

type fasthttpLogger struct{ l *slog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) {
	f.l.Debug("fasthttp", "msg", strings.TrimSpace(fmt.Sprintf(format, args...)))
}

// Handler returns the routed handler (for in-memory tests).
func (s *Server) Handler() fasthttp.RequestHandler {
	r := router.New()
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.HandleOPTIONS = false
	r.PanicHandler = s.panicHandler
	r.NotFound = s.notFound
	r.MethodNotAllowed = s.notFound

	// Browser endpoints: GET, POST and OPTIONS, identity checked (browser.go).
	s.browser(r, "/v1/hello", s.hello)
	s.browser(r, "/v1/send", s.send)
	s.browser(r, "/v1/request", s.request)
	s.browser(r, "/v1/answer", s.answer)
	s.browser(r, "/v1/history", s.history)
	s.browser(r, "/v1/read", s.read)
	s.browser(r, "/v1/typing", s.typing)
	s.browser(r, "/v1/users", s.users)
	s.browser(r, "/v1/join", s.join)
	s.browser(r, "/v1/leave", s.leave)
	s.browser(r, "/v1/block", s.block)
	s.browser(r, "/v1/directory", s.directory)
	s.browser(r, "/v1/report", s.report)
	s.browser(r, "/v1/hide", s.hide)
	r.POST(uploadPath, s.cors(s.upload))
	r.OPTIONS(uploadPath, s.cors(func(*fasthttp.RequestCtx) {}))
	r.GET("/files/{id}", s.serveFile)
	r.HEAD("/files/{id}", s.serveFile)
	// The poll verifies by itself: it may park (park.go).
	r.GET("/v1/poll", s.cors(s.poll))
	r.POST("/v1/poll", s.cors(s.poll))
	r.OPTIONS("/v1/poll", s.cors(func(*fasthttp.RequestCtx) {}))

	r.GET("/MessengerCommand.ashx", s.cors(s.messengerCommand))
	r.POST("/MessengerCommand.ashx", s.cors(s.messengerCommand))
	r.GET("/chat", s.chatPage)

	s.routeAPI(r)

	r.GET("/healthz", s.healthz)
	r.GET("/metrics", s.metricsHandler)
	for path, h := range map[string]fasthttp.RequestHandler{
		"/widget.js": s.asset("widget.js"), "/widget.css": s.asset("widget.css"),
		"/messenger.js": s.asset("messenger.js"), "/jquery.js": s.jquery,
	} {
		r.GET(path, h)
		r.HEAD(path, h) // fasthttp drops the body of a HEAD answer
	}
	r.HEAD("/healthz", s.healthz)
	r.GET("/demo", s.demo)
	r.GET("/admin", s.adminPage)
	r.GET("/admin/session", s.adminSession)
	r.GET("/admin.js", s.asset("admin.js"))
	r.GET("/admin.css", s.asset("admin.css"))
	r.GET("/demo/user", s.demoUser)
	r.GET("/", s.index)
	return s.withMetrics(r.Handler)
}

// browser routes a JSONP-capable endpoint for GET and POST, with identity.
func (s *Server) browser(r *router.Router, path string, h func(*fasthttp.RequestCtx, *params, reply, chat.Caller)) {
	handle := s.cors(func(ctx *fasthttp.RequestCtx) {
		if p, rp, c, ok := s.verified(ctx); ok {
			h(ctx, p, rp, c)
		}
	})
	r.GET(path, handle)
	r.POST(path, handle)
	r.OPTIONS(path, handle)
}

// verified reads a browser request's params, checks its callback and its
// identity; ok is false when it has been answered already (an error).
func (s *Server) verified(ctx *fasthttp.RequestCtx) (*params, reply, chat.Caller, bool) {
	p := newParams(ctx)
	rp, ok := s.begin(ctx, p)
	if !ok {
		return nil, rp, chat.Caller{}, false
	}
	var c chat.Caller
	var err *chat.Error
	if s.cfg.Rooms.GuestRead && anonymous(p) {
		c = chat.Caller{Guest: true} // rooms.guest_read: a guest (chat/guest.go)
	} else {
		c, err = s.identity(p)
	}
	if err == nil && p.err != nil {
		err = p.err
	}
	if err == nil && c.Guest {
		err = c.GuestScope(endpoint(ctx), p.get)
	}
	if err == nil && c.With != "" {
		err = scopeCheck(ctx, p, c)
	}
	if err != nil {
		s.fail(rp, err)
		return nil, rp, chat.Caller{}, false
	}
	if lr, ok := ctx.Conn().(*loopReq); ok && lr.inline() && !s.svc.Warm(c) {
		// On an event loop's goroutine, which serves all of the loop's
		// connections: a call that may wait for the directory or the
		// store is handled again on a hub worker.
		lr.move()
		return nil, rp, chat.Caller{}, false
	}
	if aerr := s.svc.Admit(ctx, c); aerr != nil {
		s.fail(rp, aerr)
		return nil, rp, chat.Caller{}, false
	}
	if berr := s.banGate(ctx, c); berr != nil {
		s.fail(rp, berr)
		return nil, rp, chat.Caller{}, false
	}
	return p, rp, c, true
}

// fail answers an error and counts it.
func (s *Server) fail(rp reply, err error) {
	e := chat.AsError(err)
	if e.Code == chat.CodeInternal {
		s.log.Error("server: internal error", "path", string(rp.ctx.Path()), "err", err)
	}
	s.metrics.errors(e.Code)
	rp.fail(e)
}

// cors adds CORS headers for allowed origins and answers preflights.
func (s *Server) cors(h fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		origin := ctx.Request.Header.Peek("Origin")
		if len(origin) > 0 {
			h := &ctx.Response.Header
			h.Add("Vary", "Origin")
			if s.anyOrig || s.origins[string(origin)] {
				h.SetBytesV("Access-Control-Allow-Origin", origin)
				h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
				h.Set("Access-Control-Allow-Headers", "Content-Type, Authorization")
				h.Set("Access-Control-Max-Age", "600")
			}
		}
		if ctx.IsOptions() {
			ctx.SetStatusCode(fasthttp.StatusNoContent)
			return
		}
		h(ctx)
	}
}

func (s *Server) notFound(ctx *fasthttp.RequestCtx) {
	p := newParams(ctx)
	rp, ok := s.begin(ctx, p)
	if !ok {
		return
	}
	s.fail(rp, chat.Errorf(chat.CodeNotFound, "no such endpoint: %s %s", ctx.Method(), ctx.Path()))
}

func (s *Server) panicHandler(ctx *fasthttp.RequestCtx, v any) {
	s.log.Error("server: panic in handler", "path", string(ctx.Path()), "panic", v)
	ctx.Response.Reset()
	rp := reply{ctx: ctx}
	s.fail(rp, chat.Errorf(chat.CodeInternal, "internal error"))
}

// errorHandler answers requests fasthttp could not parse, with a clear body.
func (s *Server) errorHandler(ctx *fasthttp.RequestCtx, err error) {
	defer ctx.Response.Header.Set("X-Content-Type-Options", "nosniff")
	var small *fasthttp.ErrSmallBuffer
	switch {
	case errors.As(err, &small):
		ctx.Error("request line or headers too large (limit 16 KiB)\n", fasthttp.StatusRequestHeaderFieldsTooLarge)
	case errors.Is(err, fasthttp.ErrBodyTooLarge) && isUploadURI(ctx.Request.Header.RequestURI()):
		s.uploadTooLarge(ctx)
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		ctx.Error("request body too large (limit 64 KiB)\n", fasthttp.StatusRequestEntityTooLarge)
	default:
		// A body that failed half-way gives its upload place back now.
		s.uploads.release(&ctx.Request.Header)
		var netErr net.Error
		if errors.As(err, &netErr) && netErr.Timeout() {
			ctx.Error("request timeout\n", fasthttp.StatusRequestTimeout)
			return
		}
		ctx.Error("malformed request\n", fasthttp.StatusBadRequest)
	}
}

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.http.Serve(ln) }

// Shutdown stops accepting, answers parked polls and waits for open
// requests to end (or ctx).
func (s *Server) Shutdown(ctx context.Context) error {
	s.svc.Hub().Close() // answered parked polls close their connection from now on
	if s.loops != nil {
		s.loops.shutdown()
	}
	err := s.http.ShutdownWithContext(ctx)
	s.waitParks(ctx) // hijacked polls are not fasthttp's to wait for
	return err
}
