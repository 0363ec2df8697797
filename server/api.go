package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"strings"
	"time"

	"github.com/fasthttp/router"
	"github.com/valyala/fasthttp"

	"pollchat/chat"
	"pollchat/config"
	"pollchat/store"
)

// apiKey marks a request as a backend API call (401 then carries
// WWW-Authenticate).
const apiKey = "pollchat.api"

// Token lifetimes of POST /api/v1/tokens, in seconds.
const (
	MinTokenTTL     = 360
	MaxTokenTTL     = 86400
	DefaultTokenTTL = 360
)

func (s *Server) routeAPI(r *router.Router) {
	r.POST("/api/v1/messages", s.api(s.apiMessages))
	r.POST("/api/v1/tokens", s.api(s.apiTokens))
	r.GET("/api/v1/unread", s.api(s.apiUnread))
	r.GET("/api/v1/online", s.api(s.apiOnline))
	r.POST("/api/v1/users/invalidate", s.api(s.apiInvalidate))
}

// api wraps a backend handler: off (404) without a password, Basic auth.
func (s *Server) api(h func(*fasthttp.RequestCtx, reply)) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		ctx.SetUserValue(apiKey, true)
		ctx.Response.Header.Set("X-Content-Type-Options", "nosniff")
		ctx.Response.Header.Set("Cache-Control", "no-store")
		rp := reply{ctx: ctx}
		if s.cfg.API.Password == "" {
			s.fail(rp, chat.Errorf(chat.CodeNotFound, "the backend API is off (api.password is not set)"))
			return
		}
		if !basicAuthOK(ctx, s.cfg.API) {
			s.fail(rp, chat.Errorf(chat.CodeAuthFailed, "HTTP Basic auth with api.login and api.password is required"))
			return
		}
		h(ctx, rp)
	}
}

// basicAuthOK compares the Basic credentials in constant time.
func basicAuthOK(ctx *fasthttp.RequestCtx, a config.API) bool {
	user, pass, ok := parseBasic(string(ctx.Request.Header.Peek("Authorization")))
	if !ok {
		return false
	}
	hu, hp := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pass))
	wu, wp := sha256.Sum256([]byte(a.Login)), sha256.Sum256([]byte(a.Password))
	return subtle.ConstantTimeCompare(hu[:], wu[:])&subtle.ConstantTimeCompare(hp[:], wp[:]) == 1
}

// decode reads a JSON object body into v (a form body is accepted too by
// the callers that read params).
func decode(ctx *fasthttp.RequestCtx, v any) *chat.Error {
	body := ctx.PostBody()
	if len(body) == 0 {
		return chat.Errorf(chat.CodeBadRequest, "a JSON body is required")
	}
	d := json.NewDecoder(strings.NewReader(string(body)))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return chat.Errorf(chat.CodeBadRequest, "the body is not valid JSON: %v", err)
	}
	return nil
}

// idString reads a user id given as a JSON string or number.
func idString(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", true
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	}
	return "", false
}

func (s *Server) apiMessages(ctx *fasthttp.RequestCtx, rp reply) {
	var in struct {
		From any             `json:"from"`
		To   any             `json:"to"`
		Room string          `json:"room"`
		Text string          `json:"text"`
		Data json.RawMessage `json:"data"`
	}
	if err := decode(ctx, &in); err != nil {
		s.fail(rp, err)
		return
	}
	from, ok1 := idString(in.From)
	to, ok2 := idString(in.To)
	if !ok1 || !ok2 {
		s.fail(rp, chat.Errorf(chat.CodeBadRequest, "from and to must be user ids (strings or numbers)"))
		return
	}
	m := &store.Message{From: from, To: to, Room: in.Room, Text: in.Text}
	if len(in.Data) > 0 && string(in.Data) != "null" {
		if len(in.Data) > 8<<10 {
			s.fail(rp, chat.Errorf(chat.CodeTooLong, "data is larger than 8 KiB"))
			return
		}
		m.Data = in.Data
	}
	if err := s.svc.Inject(ctx, m); err != nil {
		s.fail(rp, err)
		return
	}
	b := append([]byte(`{"message":`), chat.AppendMessage(nil, m)...)
	rp.raw(fasthttp.StatusCreated, append(b, '}'))
}

func (s *Server) apiTokens(ctx *fasthttp.RequestCtx, rp reply) {
	var in struct {
		UserID    any         `json:"user_id"`
		ExpiresIn json.Number `json:"expires_in"`
	}
	if err := decode(ctx, &in); err != nil {
		s.fail(rp, err)
		return
	}
	uid, ok := idString(in.UserID)
	if !ok || config.ValidUserID(uid) != nil {
		s.fail(rp, chat.Errorf(chat.CodeBadRequest, "user_id is required (a string or a number)"))
		return
	}
	ttl := int64(DefaultTokenTTL)
	if in.ExpiresIn != "" {
		n, err := in.ExpiresIn.Int64()
		if err != nil || n < MinTokenTTL || n > MaxTokenTTL {
			s.fail(rp, chat.Errorf(chat.CodeInvalidExpiry, "expires_in must be a whole number of seconds from %d to %d", MinTokenTTL, MaxTokenTTL))
			return
		}
		ttl = n
	}
	tok, exp, err := s.verifier.IssueToken(uid, time.Duration(ttl)*time.Second)
	if err != nil {
		s.fail(rp, err)
		return
	}
	rp.json(fasthttp.StatusCreated, map[string]any{"access_token": tok, "expires_at": exp.UTC().Format(chat.TimeFormat), "user_id": uid})
}

func (s *Server) apiUnread(ctx *fasthttp.RequestCtx, rp reply) {
	uid := string(ctx.QueryArgs().Peek("user_id"))
	if config.ValidUserID(uid) != nil {
		s.fail(rp, chat.Errorf(chat.CodeBadRequest, "user_id is required"))
		return
	}
	total, convs, err := s.svc.Unread(ctx, uid)
	if err != nil {
		s.fail(rp, err)
		return
	}
	rp.json(fasthttp.StatusOK, map[string]any{"total": total, "conversations": convs})
}

func (s *Server) apiOnline(ctx *fasthttp.RequestCtx, rp reply) {
	rp.json(fasthttp.StatusOK, map[string]any{"users": s.svc.Online()})
}

func (s *Server) apiInvalidate(ctx *fasthttp.RequestCtx, rp reply) {
	var in struct {
		UserIDs []any `json:"user_ids"`
	}
	if err := decode(ctx, &in); err != nil {
		s.fail(rp, err)
		return
	}
	if len(in.UserIDs) > 1000 {
		s.fail(rp, chat.Errorf(chat.CodeBadRequest, "at most 1000 user_ids at once"))
		return
	}
	ids := make([]string, 0, len(in.UserIDs))
	for _, v := range in.UserIDs {
		id, ok := idString(v)
		if !ok || id == "" {
			s.fail(rp, chat.Errorf(chat.CodeBadRequest, "user_ids must be a list of user ids"))
			return
		}
		ids = append(ids, id)
	}
	s.dir.Invalidate(ids...)
	rp.ok()
}
