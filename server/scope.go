package server

import (
	"strings"

	"github.com/valyala/fasthttp"

	"pollchat/chat"
)

// scopeCheck refuses what a scoped (popup) token may not do; the rules,
// and the filtering of its hello and polls, are chat's (chat/scope.go).
func scopeCheck(ctx *fasthttp.RequestCtx, p *params, c chat.Caller) *chat.Error {
	return c.Scope(endpoint(ctx), p.get)
}

// endpoint is a browser call's name: "send" for /v1/send.
func endpoint(ctx *fasthttp.RequestCtx) string {
	return strings.TrimPrefix(string(ctx.Path()), "/v1/")
}

// anonymous says whether a request carries no identity parameters at all
// (a guest's, with rooms.guest_read).
func anonymous(p *params) bool {
	return p.getBytes("token") == nil && p.getBytes("id") == nil && p.getBytes("timestamp") == nil && p.getBytes("hash") == nil
}
