package server

import (
	"strings"

	"github.com/valyala/fasthttp"

	"pollchat/chat"
)

// scopeCheck refuses what a scoped (popup) token may not do; the rules,
// and the filtering of its hello and polls, are chat's (chat/scope.go).
func scopeCheck(ctx *fasthttp.RequestCtx, p *params, c chat.Caller) *chat.Error {
	return c.Scope(strings.TrimPrefix(string(ctx.Path()), "/v1/"), p.get)
}
