package server

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
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
	r.GET("/api/v1/messages", s.console(plain(s.apiHistory)))
	r.POST("/api/v1/tokens", s.api(s.apiTokens))
	r.GET("/api/v1/unread", s.api(s.apiUnread))
	r.GET("/api/v1/online", s.api(s.apiOnline))
	r.POST("/api/v1/users/invalidate", s.api(s.apiInvalidate))
	r.GET("/api/v1/rooms", s.api(s.apiRooms))
	r.POST("/api/v1/rooms", s.api(s.apiCreateRoom))
	r.POST("/api/v1/rooms/{room}/members", s.api(s.apiRoomMembers))
	r.DELETE("/api/v1/rooms/{room}", s.api(s.apiDeleteRoom))
	r.GET("/api/v1/users/{id}/export", s.api(s.apiExportUser))
	r.DELETE("/api/v1/users/{id}", s.api(s.apiEraseUser))
	r.GET("/api/v1/backup", s.api(s.apiBackup))
	r.GET("/api/v1/reports", s.console(s.apiReports))
	r.POST("/api/v1/reports/{id}/resolve", s.console(s.apiResolveReport))
	r.GET("/api/v1/audit", s.console(s.apiAudit))
	r.POST("/api/v1/moderator/sessions", s.api(s.apiModeratorSession))
	r.GET("/api/v1/admin/capabilities", s.console(s.apiCapabilities))
	r.GET("/api/v1/admin/overview", s.console(s.apiOverview))
	r.GET("/api/v1/admin/users/{id}", s.console(s.apiUserView))
	r.DELETE("/api/v1/messages/{id}", s.console(s.apiDeleteMessage))
	r.POST("/api/v1/users/{id}/ban", s.console(s.apiBan))
	r.DELETE("/api/v1/users/{id}/ban", s.console(s.apiUnban))
	r.GET("/api/v1/bans", s.console(s.apiBans))
	r.POST("/api/v1/rooms/{room}/kick", s.console(s.apiKick))
	r.POST("/api/v1/rooms/{room}/clear", s.console(s.apiClearRoom))
	r.POST("/api/v1/rooms/{room}/mute", s.console(s.apiMute))
	r.POST("/api/v1/rooms/{room}/unmute", s.console(s.apiUnmute))
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
		if e := crossSite(ctx); e != nil {
			s.fail(rp, e)
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

// decode reads the body into v: a JSON object, or (for PHP code that posts
// http_build_query() or an array to CURLOPT_POSTFIELDS) a form whose
// fields are strings, a list field given as repeated "name[]" or as a
// comma list, and a "data" field holding JSON.
func decode(ctx *fasthttp.RequestCtx, v any) *chat.Error {
	body := ctx.PostBody()
	ct := ctx.Request.Header.ContentType()
	if bytes.HasPrefix(ct, []byte("application/x-www-form-urlencoded")) || bytes.HasPrefix(ct, []byte("multipart/form-data")) {
		b, err := formJSON(ctx)
		if err != nil {
			return err
		}
		body = b
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return chat.Errorf(chat.CodeBadRequest, "a JSON body is required")
	}
	if t := bytes.TrimSpace(body); t[0] != '{' {
		return chat.Errorf(chat.CodeBadRequest, "the body must be a JSON object")
	}
	if k, dup := repeatedKeyDeep(body); dup {
		return chat.Errorf(chat.CodeBadRequest, "key %q is given more than once in an object of the body", k)
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return chat.Errorf(chat.CodeBadRequest, "%s has the wrong type (%s)", te.Field, te.Value)
		}
		return chat.Errorf(chat.CodeBadRequest, "the body is not valid JSON: %v", err)
	}
	return nil
}

// listFields are the form fields that hold lists.
var listFields = map[string]bool{"user_ids": true, "members": true, "add": true, "remove": true}

// formJSON turns a form body into the JSON object the handlers decode.
func formJSON(ctx *fasthttp.RequestCtx) ([]byte, *chat.Error) {
	m := map[string]any{}
	var bad *chat.Error
	add := func(k, v string) {
		// PHP writes a list as user_ids[]=3 or, from http_build_query(),
		// user_ids[0]=3.
		list := false
		if i := strings.IndexByte(k, '['); i > 0 && strings.HasSuffix(k, "]") {
			k, list = k[:i], true
		}
		switch {
		case listFields[k]:
			l, _ := m[k].([]any)
			for _, part := range strings.Split(v, ",") {
				if part = strings.TrimSpace(part); part != "" {
					l = append(l, part)
				}
			}
			m[k] = l
		case list && k == "data":
			bad = chat.Errorf(chat.CodeBadRequest, "in a form, data must be one field holding JSON (json_encode it)")
		case list:
			bad = chat.Errorf(chat.CodeBadRequest, "%s is not a list", k)
		case k == "data":
			if !json.Valid([]byte(v)) {
				bad = chat.Errorf(chat.CodeBadRequest, "data must hold JSON")
				return
			}
			m[k] = json.RawMessage(v)
		default:
			if _, dup := m[k]; dup {
				bad = chat.Errorf(chat.CodeBadRequest, "%s is given twice", k)
			}
			m[k] = v
		}
	}
	if mf, err := ctx.MultipartForm(); err == nil {
		for k, vs := range mf.Value {
			for _, v := range vs {
				add(k, v)
			}
		}
	} else {
		ctx.PostArgs().VisitAll(func(k, v []byte) { add(string(k), string(v)) })
	}
	if bad != nil {
		return nil, bad
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, chat.Errorf(chat.CodeBadRequest, "the form cannot be read")
	}
	return b, nil
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
		// ClientID makes a retry safe: the same from and client_id within
		// 10 minutes answer the first message again.
		ClientID string `json:"client_id"`
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
	if len(in.ClientID) > 128 || strings.IndexFunc(in.ClientID, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		s.fail(rp, chat.Errorf(chat.CodeBadRequest, "client_id must be at most 128 bytes without control characters"))
		return
	}
	m := &store.Message{From: from, To: to, Room: in.Room, Text: in.Text, ClientID: in.ClientID}
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
		UserID    any `json:"user_id"`
		ExpiresIn any `json:"expires_in"`
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
	ttl, ok := tokenTTL(in.ExpiresIn)
	if !ok {
		s.fail(rp, chat.Errorf(chat.CodeInvalidExpiry, "expires_in must be a whole number of seconds from %d to %d", MinTokenTTL, MaxTokenTTL))
		return
	}
	tok, exp, err := s.verifier.IssueToken(uid, time.Duration(ttl)*time.Second)
	if err != nil {
		s.fail(rp, err)
		return
	}
	rp.json(fasthttp.StatusCreated, map[string]any{"access_token": tok, "expires_at": exp.UTC().Format(chat.TimeFormat), "user_id": uid})
}

// tokenTTL reads expires_in: absent or null means DefaultTokenTTL; a whole
// number of seconds (a JSON number, or a string holding one, as PHP forms
// send) must be within MinTokenTTL..MaxTokenTTL.
func tokenTTL(v any) (int64, bool) {
	return wholeSeconds(v, DefaultTokenTTL, MinTokenTTL, MaxTokenTTL)
}

// wholeSeconds reads a lifetime from a decoded JSON body: absent or null
// means def; otherwise a whole number of seconds (a JSON number, or a
// string holding one, as PHP forms send) within lo..hi.
func wholeSeconds(v any, def, lo, hi int64) (int64, bool) {
	var n json.Number
	switch x := v.(type) {
	case nil:
		return def, true
	case json.Number:
		n = x
	case string:
		n = json.Number(strings.TrimSpace(x))
	default:
		return 0, false
	}
	f, err := n.Float64()
	if err != nil || f != math.Trunc(f) || f < float64(lo) || f > float64(hi) {
		return 0, false
	}
	return int64(f), true
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
	type line struct {
		With   string `json:"with,omitempty"`
		Room   string `json:"room,omitempty"`
		System bool   `json:"system,omitempty"` // system messages sent to the user
		Unread int    `json:"unread"`
	}
	out := make([]line, len(convs))
	for i, cv := range convs {
		out[i] = line{With: cv.With, Room: cv.Room, System: cv.With == "" && cv.Room == "", Unread: cv.Unread}
	}
	rp.json(fasthttp.StatusOK, struct {
		Total         int    `json:"total"`
		Conversations []line `json:"conversations"`
	}{total, out})
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
	s.svc.Invalidate(ids...) // on every process: a banned member is refused from their next call
	rp.ok()
}

// forwarded says whether a proxy passed the request on for another client.
func forwarded(ctx *fasthttp.RequestCtx) bool {
	h := &ctx.Request.Header
	return len(h.Peek("Forwarded")) > 0 || len(h.Peek("X-Forwarded-For")) > 0 || len(h.Peek("X-Real-Ip")) > 0
}

func parseBasic(h string) (user, pass string, ok bool) {
	const prefix = "basic "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", "", false
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(h[len(prefix):]))
	if err != nil {
		return "", "", false
	}
	user, pass, ok = strings.Cut(string(b), ":")
	return user, pass, ok
}
