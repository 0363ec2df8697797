package server

import (
	"context"
	"errors"
	"time"

	"github.com/valyala/fasthttp"

	"pollchat/bridge"
	"pollchat/chat"
)

// directory is /v1/directory: members whose shown name matches q, to start
// a chat with. The directory (bridge) normalises and bounds q, caches
// answers and rations calls of the host site.
func (s *Server) directory(ctx *fasthttp.RequestCtx, p *params, rp reply, c chat.Caller) {
	limit, err := p.int64("limit", bridge.MaxSearchLimit)
	if err == nil && (limit < 1 || limit > bridge.MaxSearchLimit) {
		err = chat.Errorf(chat.CodeBadRequest, "limit must be 1..%d", bridge.MaxSearchLimit)
	}
	if err != nil {
		s.fail(rp, err)
		return
	}
	q := p.get("q")
	if s.more.search == nil {
		rp.raw(fasthttp.StatusOK, []byte(`{"users":[],"supported":false}`))
		return
	}
	// Each search draws from the caller's own bucket, so one user cannot
	// spend the directory's shared budget of the host's lookups alone.
	if terr := s.svc.Take(c, chat.CostTyping); terr != nil {
		s.fail(rp, terr)
		return
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	users, serr := s.more.search.Search(sctx, q, int(limit))
	switch {
	case serr == nil:
	case errors.Is(serr, bridge.ErrSearchUnsupported):
		rp.raw(fasthttp.StatusOK, []byte(`{"users":[],"supported":false}`))
		return
	case errors.Is(serr, bridge.ErrBadQuery):
		s.fail(rp, chat.Errorf(chat.CodeBadRequest, "q must be %d to %d characters of text: %v", bridge.MinQueryLen, bridge.MaxQueryLen, trimBridge(serr)))
		return
	case errors.Is(serr, bridge.ErrSearchLimited):
		e := chat.Errorf(chat.CodeRateLimited, "too many searches right now; try again shortly")
		e.RetryAfter = 2
		s.fail(rp, e)
		return
	default:
		s.fail(rp, &chat.Error{Code: chat.CodeUnavailable, Message: "the member directory is not answering; try again shortly", Err: serr})
		return
	}
	out := make([]bridge.User, 0, len(users))
	for _, u := range users {
		if u.ID != c.ID { // the caller does not start a chat with themself
			out = append(out, u)
		}
	}
	rp.json(fasthttp.StatusOK, map[string]any{"users": out, "supported": true})
}

// trimBridge is err's message without the package prefix.
func trimBridge(err error) string {
	m := err.Error()
	const pre = "bridge: bad search query: "
	if len(m) > len(pre) && m[:len(pre)] == pre {
		return m[len(pre):]
	}
	return m
}
