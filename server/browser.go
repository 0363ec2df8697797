package server

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"pollchat/bridge"
	"pollchat/chat"
	"pollchat/config"
)

// poll is the hot path: verify (no I/O), then answer at once or park.
func (s *Server) poll(ctx *fasthttp.RequestCtx) {
	p, rp, c, ok := s.verified(ctx)
	if !ok {
		return
	}
	timeout := s.cfg.Server.PollTimeout.Duration
	if t := p.getBytes("timeout"); len(t) > 0 {
		secs, perr := strconv.ParseFloat(string(t), 64)
		if perr != nil || secs < 0 || secs != secs {
			s.fail(rp, chat.Errorf(chat.CodeBadRequest, "timeout must be a number of seconds"))
			return
		}
		timeout = time.Duration(secs * float64(time.Second))
	}
	timeout = min(timeout, s.cfg.Server.PollMax.Duration)
	cursor := p.get("cursor")
	if len(cursor) > 64 {
		cursor = "x" // unknown: answered with reset
	}
	if s.canPark(ctx, timeout) {
		s.park(ctx, rp, c, cursor, timeout) // answered from park.go
		return
	}
	res := s.svc.Poll(c, cursor, timeout, ctx.Done())
	if res.Evicted {
		s.fail(rp, errEvicted)
		return
	}
	rp.raw(fasthttp.StatusOK, appendPoll(make([]byte, 0, pollSize(res)), res))
	s.metrics.polled(len(res.Events))
}

// EvictedRetry is the retry_after of a poll evicted by a newer one of the
// same user: the widget backs off at least this long instead of polling
// again at once.
const EvictedRetry = 2

var errEvicted = &chat.Error{Code: chat.CodeRateLimited, RetryAfter: EvictedRetry,
	Message: "too many polls at once for this user: a newer poll took this one's place; wait before polling again"}

func (s *Server) hello(ctx *fasthttp.RequestCtx, p *params, rp reply, c chat.Caller) {
	c.Lang = p.get("lang") // the language of the server's texts to c
	res, err := s.svc.Hello(ctx, c)
	if err != nil {
		s.fail(rp, err)
		return
	}
	if res.Guest {
		// A guest: no me, only the rooms (docs/protocol.md, guests).
		rp.json(fasthttp.StatusOK, map[string]any{"guest": true, "me": nil, "cursor": res.Cursor,
			"rooms": res.Rooms, "room_info": res.RoomInfo, "conversations": res.Conversations,
			"requests": res.Requests, "online": res.Online})
		return
	}
	if herr := s.filterHidden(ctx, res, c.ID); herr != nil {
		s.fail(rp, storeError(herr))
		return
	}
	if !s.filesOn() {
		rp.json(fasthttp.StatusOK, res)
		return
	}
	// Attachments on: say so, with the size limit, so the widget shows
	// its paperclip and refuses a file too large before sending it.
	b, jerr := json.Marshal(res)
	if jerr != nil || len(b) < 2 || b[len(b)-1] != '}' {
		s.fail(rp, chat.AsError(jerr))
		return
	}
	b = append(b[:len(b)-1], `,"files":{"max_size":`...)
	b = strconv.AppendInt(b, s.cfg.Files.MaxSize, 10)
	rp.raw(fasthttp.StatusOK, append(b, "}}"...))
}

func (s *Server) send(ctx *fasthttp.RequestCtx, p *params, rp reply, c chat.Caller) {
	res, err := s.svc.Send(ctx, c, chat.SendParams{To: p.get("to"), Room: p.get("room"), Text: p.get("text"), ClientID: p.get("client_id")})
	if err != nil {
		s.fail(rp, err)
		return
	}
	if res.Command {
		rp.ok()
		return
	}
	b := make([]byte, 0, 192+len(res.Message.Text))
	b = append(b, `{"message":`...)
	b = chat.AppendMessage(b, res.Message)
	b = append(b, '}')
	rp.raw(fasthttp.StatusOK, b)
}

func (s *Server) request(ctx *fasthttp.RequestCtx, p *params, rp reply, c chat.Caller) {
	if err := s.svc.Request(ctx, c, p.get("to"), p.get("text")); err != nil {
		s.fail(rp, err)
		return
	}
	rp.ok()
}

func (s *Server) answer(ctx *fasthttp.RequestCtx, p *params, rp reply, c chat.Caller) {
	accept, given, perr := p.bool("accept")
	if perr != nil {
		s.fail(rp, perr)
		return
	}
	if !given {
		s.fail(rp, chat.Errorf(chat.CodeBadRequest, "accept (1 or 0) is required"))
		return
	}
	if err := s.svc.Answer(ctx, c, p.get("from"), accept); err != nil {
		s.fail(rp, err)
		return
	}
	rp.ok()
}

func (s *Server) history(ctx *fasthttp.RequestCtx, p *params, rp reply, c chat.Caller) {
	before, err := p.int64("before", 0)
	if err != nil {
		s.fail(rp, err)
		return
	}
	limit, err := p.int64("limit", 50)
	if err != nil {
		s.fail(rp, err)
		return
	}
	if limit < 1 {
		s.fail(rp, chat.Errorf(chat.CodeBadRequest, "limit must be 1..100"))
		return
	}
	system, _, serr := p.bool("system")
	if serr != nil {
		s.fail(rp, serr)
		return
	}
	msgs, more, herr := s.svc.History(ctx, c, chat.HistoryParams{With: p.get("with"), Room: p.get("room"), System: system, Before: before, Limit: int(min(limit, 100))})
	if herr != nil {
		s.fail(rp, herr)
		return
	}
	s.freshLinks(msgs)
	// A deleted message comes as a tombstone, "deleted":true and no text.
	rp.raw(fasthttp.StatusOK, appendAPIMessages(nil, msgs, more))
}

func (s *Server) read(ctx *fasthttp.RequestCtx, p *params, rp reply, c chat.Caller) {
	upto, err := p.int64("upto", 0)
	if err != nil {
		s.fail(rp, err)
		return
	}
	system, _, serr := p.bool("system")
	if serr != nil {
		s.fail(rp, serr)
		return
	}
	if rerr := s.svc.Read(ctx, c, p.get("with"), p.get("room"), system, upto); rerr != nil {
		s.fail(rp, rerr)
		return
	}
	rp.ok()
}

func (s *Server) typing(ctx *fasthttp.RequestCtx, p *params, rp reply, c chat.Caller) {
	if err := s.svc.Typing(ctx, c, p.get("to"), p.get("room")); err != nil {
		s.fail(rp, err)
		return
	}
	rp.ok()
}

// MaxIDs is the most ids one users call may ask for.
const MaxIDs = 100

func (s *Server) users(ctx *fasthttp.RequestCtx, p *params, rp reply, c chat.Caller) {
	raw := strings.TrimSpace(p.get("ids"))
	if raw == "" {
		s.fail(rp, chat.Errorf(chat.CodeBadRequest, "ids is required (a comma list of user ids)"))
		return
	}
	ids := strings.Split(raw, ",")
	if len(ids) > MaxIDs {
		s.fail(rp, chat.Errorf(chat.CodeBadRequest, "ids lists %d users; the limit is %d", len(ids), MaxIDs))
		return
	}
	kept := ids[:0]
	for _, id := range ids {
		if id = strings.TrimSpace(id); id == "" {
			continue // "3,,4" and a trailing comma: nothing asked
		}
		if err := config.ValidUserID(id); err != nil {
			s.fail(rp, chat.Errorf(chat.CodeBadRequest, "ids: %v", err))
			return
		}
		kept = append(kept, id)
	}
	ids = kept
	users, err := s.svc.UsersFor(ctx, c, ids)
	if err != nil {
		s.fail(rp, err)
		return
	}
	rp.json(fasthttp.StatusOK, struct {
		Users []bridge.User `json:"users"`
	}{users})
}

func (s *Server) join(ctx *fasthttp.RequestCtx, p *params, rp reply, c chat.Caller) {
	st, err := s.svc.Join(ctx, c, p.get("room"))
	if err != nil {
		s.fail(rp, err)
		return
	}
	rp.json(fasthttp.StatusOK, struct {
		Room *chat.RoomState `json:"room"`
	}{st})
}

func (s *Server) leave(ctx *fasthttp.RequestCtx, p *params, rp reply, c chat.Caller) {
	st, err := s.svc.Leave(ctx, c, p.get("room"))
	if err != nil {
		s.fail(rp, err)
		return
	}
	st.History, st.NoHistory = nil, true // docs/protocol.md: leave answers without history
	rp.json(fasthttp.StatusOK, struct {
		Room *chat.RoomState `json:"room"`
	}{st})
}

// block: user_id and block (1 blocks, 0 unblocks; absent only lists).
func (s *Server) block(ctx *fasthttp.RequestCtx, p *params, rp reply, c chat.Caller) {
	b, given, perr := p.bool("block")
	if perr != nil {
		s.fail(rp, perr)
		return
	}
	if given {
		if err := s.svc.Block(ctx, c, p.get("user_id"), b); err != nil {
			s.fail(rp, err)
			return
		}
	}
	list, err := s.svc.Blocked(ctx, c)
	if err != nil {
		s.fail(rp, err)
		return
	}
	if list == nil {
		list = []string{} // "blocked":[] rather than null
	}
	rp.json(fasthttp.StatusOK, struct {
		OK      bool     `json:"ok"`
		Blocked []string `json:"blocked"`
	}{true, list})
}
