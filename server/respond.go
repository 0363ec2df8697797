package server

import (
	"encoding/json"
	"strconv"

	"github.com/valyala/fasthttp"

	"pollchat/chat"
)

// MaxCallbackLen is the longest JSONP callback name accepted.
const MaxCallbackLen = 128

// ValidCallback reports whether name matches
// ^[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z_$][A-Za-z0-9_$]*)*$ and is at most
// MaxCallbackLen bytes (docs/protocol.md section 2).
func ValidCallback(name []byte) bool {
	if len(name) == 0 || len(name) > MaxCallbackLen {
		return false
	}
	start := true // at the first character of a segment
	for _, c := range name {
		switch {
		case c == '.':
			if start {
				return false
			}
			start = true
			continue
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c == '_', c == '$':
		case c >= '0' && c <= '9':
			if start {
				return false
			}
		default:
			return false
		}
		start = false
	}
	return !start
}

var (
	ctJS   = []byte("application/javascript; charset=utf-8")
	ctJSON = []byte("application/json; charset=utf-8")

	// Headers every answer carries, already in canonical form: SetCanonical
	// skips the normalisation Set does on every answer.
	hdrNosniff      = []byte("X-Content-Type-Options")
	valNosniff      = []byte("nosniff")
	hdrCacheControl = []byte("Cache-Control")
	valNoStore      = []byte("no-store")
	ctText          = []byte("text/plain; charset=utf-8")
)

// reply is one answer under construction: JSONP when the request has a
// callback, JSON otherwise.
type reply struct {
	ctx      *fasthttp.RequestCtx
	callback []byte
}

// begin checks the callback and starts the answer. It returns false (and
// has answered 400) when the callback is invalid; the name is not echoed.
func (s *Server) begin(ctx *fasthttp.RequestCtx, p *params) (reply, bool) {
	cb := p.getBytes("callback")
	h := &ctx.Response.Header
	h.SetCanonical(hdrNosniff, valNosniff)
	h.SetCanonical(hdrCacheControl, valNoStore)
	if cb == nil {
		return reply{ctx: ctx}, true
	}
	if !ValidCallback(cb) {
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		h.SetContentTypeBytes(ctText)
		ctx.SetBodyString("invalid callback name: it must match ^[A-Za-z_$][A-Za-z0-9_$]*(\\.[A-Za-z_$][A-Za-z0-9_$]*)*$ and be at most 128 characters\n")
		s.metrics.errors(chat.CodeBadRequest)
		return reply{}, false
	}
	// The callback's bytes belong to the request; copy them before the body
	// is written (the answer may outlive the request's arguments).
	return reply{ctx: ctx, callback: append([]byte(nil), cb...)}, true
}

// open writes the answer's prefix; the JSON value follows, then close.
func (r reply) open(status int) {
	ctx := r.ctx
	if r.callback != nil {
		ctx.SetStatusCode(fasthttp.StatusOK)
		ctx.Response.Header.SetContentTypeBytes(ctJS)
		ctx.Write([]byte("/**/"))
		ctx.Write(r.callback)
		ctx.Write([]byte("("))
		return
	}
	ctx.SetStatusCode(status)
	ctx.Response.Header.SetContentTypeBytes(ctJSON)
}

func (r reply) close() {
	if r.callback != nil {
		r.ctx.Write([]byte(");"))
	}
}

// raw answers a pre-encoded JSON value.
func (r reply) raw(status int, body []byte) {
	r.open(status)
	r.ctx.Write(body)
	r.close()
}

// json answers v encoded with encoding/json (which escapes <, > and &).
func (r reply) json(status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		r.fail(chat.AsError(err))
		return
	}
	r.raw(status, b)
}

var okBody = []byte(`{"ok":true}`)

func (r reply) ok() { r.raw(fasthttp.StatusOK, okBody) }

// Status maps an error code to its HTTP status (used without a callback).
func Status(code string) int {
	switch code {
	case chat.CodeAuthFailed, chat.CodeTokenExpired:
		return fasthttp.StatusUnauthorized
	case chat.CodeBadRequest:
		return fasthttp.StatusBadRequest
	case chat.CodeTooLong:
		return fasthttp.StatusRequestEntityTooLarge
	case chat.CodeNotFound:
		return fasthttp.StatusNotFound
	case chat.CodeForbidden, chat.CodeMuted:
		return fasthttp.StatusForbidden
	case chat.CodeRateLimited:
		return fasthttp.StatusTooManyRequests
	case chat.CodeUnavailable:
		return fasthttp.StatusServiceUnavailable
	case chat.CodeInvalidExpiry:
		return fasthttp.StatusUnprocessableEntity
	}
	return fasthttp.StatusInternalServerError
}

// fail answers an error object.
func (r reply) fail(e *chat.Error) {
	status := Status(e.Code)
	if e.RetryAfter > 0 && r.callback == nil {
		r.ctx.Response.Header.Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	if status == fasthttp.StatusUnauthorized && r.callback == nil && r.ctx.UserValue(apiKey) != nil {
		r.ctx.Response.Header.Set("WWW-Authenticate", `Basic realm="pollchat", charset="UTF-8"`)
	}
	r.raw(status, appendError(make([]byte, 0, 96+len(e.Message)), e))
}

// appendError appends the JSON value of an error answer.
func appendError(b []byte, e *chat.Error) []byte {
	b = append(b, `{"error":{"code":`...)
	b = chat.AppendString(b, e.Code)
	b = append(b, `,"message":`...)
	b = chat.AppendString(b, e.Message)
	if e.RetryAfter > 0 {
		b = append(b, `,"retry_after":`...)
		b = strconv.AppendInt(b, int64(e.RetryAfter), 10)
	}
	return append(b, "}}"...)
}

// appendPoll appends the JSON value of a poll's answer: the one encoder
// of both the direct path (browser.go) and the parked one (park.go).
func appendPoll(b []byte, res chat.PollResult) []byte {
	b = append(b, `{"cursor":`...)
	b = chat.AppendString(b, res.Cursor)
	b = append(b, `,"events":[`...)
	for i, ev := range res.Events {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, ev...)
	}
	b = append(b, ']')
	if res.Reset {
		b = append(b, `,"reset":true`...)
	}
	return append(b, '}')
}

// pollSize is a good capacity for res's answer.
func pollSize(res chat.PollResult) int {
	n := 96 + len(res.Cursor)
	for _, ev := range res.Events {
		n += len(ev) + 1
	}
	return n
}
