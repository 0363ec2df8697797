package server

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"pollchat/chat"
	"pollchat/config"
	"pollchat/store"
)

// The moderation console (issue 16.1): /admin, reached with the API
// credentials (Basic auth) or with a moderator session that the site's
// backend opens for one of its moderators (POST /api/v1/moderator/sessions),
// so the CMS never shows the API password to a browser.

// Moderator session lifetimes, in seconds.
const (
	MinSessionTTL     = 60
	MaxSessionTTL     = 3600
	DefaultSessionTTL = 600
)

const (
	sessionCookie = "pollchat_mod"
	csrfHeader    = "X-Pollchat-Csrf"
	kindModLink   = "modlink"
)

// moderator is who makes a console request: the backend (Basic auth) or a
// moderator session.
type moderator struct {
	User, Name string // empty for Basic auth
	CSRF       string // the session's CSRF token
}

func (m moderator) who() string {
	if m.User == "" {
		return "api"
	}
	return m.User
}

func (m moderator) via() string {
	if m.User == "" {
		return "api"
	}
	return "session"
}

// session is the signed content of the session cookie.
type session struct {
	User string `json:"u"`
	Name string `json:"n,omitempty"`
	Exp  int64  `json:"e"`
	CSRF string `json:"c"`
}

// sessionKey signs session cookies: derived from auth.secret, so every
// process of a cluster accepts them, and useless for anything else.
func (s *Server) sessionKey() []byte {
	m := hmac.New(sha256.New, []byte(s.cfg.Auth.Secret))
	m.Write([]byte("pollchat moderator session v1"))
	return m.Sum(nil)
}

func (s *Server) signSession(ss session) string {
	b, _ := json.Marshal(ss)
	payload := base64.RawURLEncoding.EncodeToString(b)
	m := hmac.New(sha256.New, s.sessionKey())
	m.Write([]byte(payload))
	return payload + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *Server) readSession(v string, now time.Time) (session, bool) {
	payload, sig, ok := strings.Cut(v, ".")
	if !ok || len(v) > 2048 {
		return session{}, false
	}
	want := hmac.New(sha256.New, s.sessionKey())
	want.Write([]byte(payload))
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, want.Sum(nil)) {
		return session{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return session{}, false
	}
	var ss session
	if json.Unmarshal(b, &ss) != nil || ss.User == "" || ss.CSRF == "" || now.Unix() >= ss.Exp {
		return session{}, false
	}
	return ss, true
}

// authModerator says who makes a console request: Basic auth with the API
// credentials, or a valid session cookie (with its CSRF header on anything
// but GET and HEAD).
func (s *Server) authModerator(ctx *fasthttp.RequestCtx) (moderator, *chat.Error) {
	if len(ctx.Request.Header.Peek("Authorization")) > 0 {
		if basicAuthOK(ctx, s.cfg.API) {
			return moderator{}, nil
		}
		return moderator{}, chat.Errorf(chat.CodeAuthFailed, "HTTP Basic auth with api.login and api.password, or a moderator session, is required")
	}
	ss, ok := s.readSession(string(ctx.Request.Header.Cookie(sessionCookie)), time.Now())
	if !ok {
		return moderator{}, chat.Errorf(chat.CodeAuthFailed, "HTTP Basic auth with api.login and api.password, or a moderator session, is required")
	}
	if !ctx.IsGet() && !ctx.IsHead() {
		h := ctx.Request.Header.Peek(csrfHeader)
		if subtle.ConstantTimeCompare(h, []byte(ss.CSRF)) != 1 {
			return moderator{}, chat.Errorf(chat.CodeForbidden, "the %s header of the console's page is required", csrfHeader)
		}
	}
	return moderator{User: ss.User, Name: ss.Name, CSRF: ss.CSRF}, nil
}

// console wraps a handler the console calls: like api, but a moderator
// session is accepted besides Basic auth.
func (s *Server) console(h func(*fasthttp.RequestCtx, reply, moderator)) fasthttp.RequestHandler {
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
		m, err := s.authModerator(ctx)
		if err != nil {
			if len(ctx.Request.Header.Cookie(sessionCookie)) > 0 {
				ctx.SetUserValue(apiKey, nil) // an ended session: no password prompt
			}
			s.fail(rp, err)
			return
		}
		h(ctx, rp, m)
	}
}

// crossSite refuses a writing request that a browser sends from another
// site: a browser that has the API credentials cached (the console by
// Basic auth) would otherwise send them with a form posted from anywhere.
// Server-to-server calls send neither header.
func crossSite(ctx *fasthttp.RequestCtx) *chat.Error {
	if ctx.IsGet() || ctx.IsHead() {
		return nil
	}
	if site := string(ctx.Request.Header.Peek("Sec-Fetch-Site")); site == "cross-site" || site == "same-site" {
		return chat.Errorf(chat.CodeForbidden, "the backend API does not take requests from other sites' pages")
	}
	if o := ctx.Request.Header.Peek("Origin"); len(o) > 0 {
		u, err := url.Parse(string(o))
		if err != nil || !strings.EqualFold(u.Host, string(ctx.Host())) {
			return chat.Errorf(chat.CodeForbidden, "the backend API does not take requests from other sites' pages")
		}
	}
	return nil
}

// apiModeratorSession is POST /api/v1/moderator/sessions {user_id, name?,
// ttl?}: a single-use link that opens the console for ttl seconds.
func (s *Server) apiModeratorSession(ctx *fasthttp.RequestCtx, rp reply) {
	recs, rerr := s.records()
	if rerr != nil {
		s.fail(rp, rerr)
		return
	}
	var in struct {
		UserID any    `json:"user_id"`
		Name   string `json:"name"`
		TTL    any    `json:"ttl"`
	}
	if err := decode(ctx, &in); err != nil {
		s.fail(rp, err)
		return
	}
	uid, ok := idString(in.UserID)
	if !ok || config.ValidUserID(uid) != nil {
		s.fail(rp, chat.Errorf(chat.CodeBadRequest, "user_id is required (the moderator's user id, a string or a number)"))
		return
	}
	name := ""
	if in.Name != "" {
		clean, err := chat.CleanText(in.Name, 100)
		if err != nil || len(in.Name) > 400 {
			s.fail(rp, chat.Errorf(chat.CodeBadRequest, "name must be 1..100 characters of text"))
			return
		}
		name = clean
	}
	ttl, ok := sessionTTL(in.TTL)
	if !ok {
		s.fail(rp, chat.Errorf(chat.CodeBadRequest, "ttl must be a whole number of seconds from %d to %d", MinSessionTTL, MaxSessionTTL))
		return
	}
	tok := make([]byte, 24)
	if _, err := rand.Read(tok); err != nil {
		s.fail(rp, err)
		return
	}
	token := base64.RawURLEncoding.EncodeToString(tok)
	exp := time.Now().Add(time.Duration(ttl) * time.Second).UTC()
	val, _ := json.Marshal(session{User: uid, Name: name, Exp: exp.Unix()})
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := recs.SwapRecord(sctx, kindModLink, linkKey(token), 0, val, exp.Unix()); err != nil {
		s.fail(rp, storeError(err))
		return
	}
	rp.json(fasthttp.StatusCreated, map[string]any{
		"url":        s.cfg.Server.PublicURL + "/admin/session?token=" + token,
		"expires_at": exp.Format(chat.TimeFormat),
	})
}

// linkKey is where a link's token is kept: its hash, so the store holds
// nothing that opens a session.
func linkKey(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// sessionTTL reads ttl: absent means DefaultSessionTTL.
func sessionTTL(v any) (int64, bool) {
	return wholeSeconds(v, DefaultSessionTTL, MinSessionTTL, MaxSessionTTL)
}

// adminSession is GET /admin/session?token=…: it spends the link (once,
// across every process: a compare-and-swap on its record), sets the
// session cookie and goes to /admin.
func (s *Server) adminSession(ctx *fasthttp.RequestCtx) {
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.Response.Header.Set("Referrer-Policy", "no-referrer")
	ctx.Response.Header.Set("X-Content-Type-Options", "nosniff")
	recs, rerr := s.records()
	if rerr != nil || s.cfg.API.Password == "" {
		ctx.Error("the moderation console is off\n", fasthttp.StatusNotFound)
		return
	}
	token := string(ctx.QueryArgs().Peek("token"))
	refuse := func() {
		ctx.Error("this moderation link is not valid: it was used already, has expired or is mistyped; open the console again from the site\n", fasthttp.StatusForbidden)
	}
	if token == "" || len(token) > 64 {
		refuse()
		return
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rec, found, err := recs.GetRecord(sctx, kindModLink, linkKey(token))
	if err != nil {
		ctx.Error("the store is unavailable; try again shortly\n", fasthttp.StatusServiceUnavailable)
		return
	}
	if !found {
		refuse()
		return
	}
	if ok, err := recs.SwapRecord(sctx, kindModLink, linkKey(token), rec.Rev, nil, 0); err != nil || !ok {
		refuse()
		return
	}
	var ss session
	if json.Unmarshal(rec.Val, &ss) != nil || time.Now().Unix() >= ss.Exp {
		refuse()
		return
	}
	c := make([]byte, 16)
	rand.Read(c)
	ss.CSRF = hex.EncodeToString(c)
	v := s.signSession(ss)
	secure := ""
	if strings.HasPrefix(s.cfg.Server.PublicURL, "https://") {
		secure = "; Secure"
	}
	maxAge := ss.Exp - time.Now().Unix()
	for _, path := range []string{"/admin", "/api/v1"} {
		ctx.Response.Header.Add("Set-Cookie", sessionCookie+"="+v+"; Path="+path+"; Max-Age="+itoa64(maxAge)+"; HttpOnly; SameSite=Strict"+secure)
	}
	ctx.Redirect("/admin", fasthttp.StatusSeeOther)
}

// adminPage is /admin: the console, for Basic auth or a session.
func (s *Server) adminPage(ctx *fasthttp.RequestCtx) {
	if s.cfg.API.Password == "" {
		ctx.Error("the moderation console is off (api.password is not set)\n", fasthttp.StatusNotFound)
		return
	}
	m, err := s.authModerator(ctx)
	if err != nil {
		ctx.Error("The moderation console needs the API credentials, or a moderator link from the site.\n", fasthttp.StatusUnauthorized)
		ctx.Response.Header.Set("WWW-Authenticate", `Basic realm="pollchat", charset="UTF-8"`)
		ctx.Response.Header.Set("Cache-Control", "no-store")
		return
	}
	cfg, _ := json.Marshal(map[string]any{"csrf": m.CSRF, "who": m.who(), "name": m.Name})
	ctx.Response.Header.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	ctx.Response.Header.Set("Referrer-Policy", "no-referrer")
	s.page(ctx, "admin.html", cfg)
	ctx.Response.Header.Set("X-Frame-Options", "DENY")
}

func itoa64(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// Capabilities are the console's actions this server offers; the console
// hides the others. Moderation actions that need the chat service (delete,
// ban, mute, kick, clear) are added here when they are built.
var capabilities = map[string]bool{
	"resolve_report": true,
	"export_user":    false, // the API offers it with Basic auth only
	"delete_message": false,
	"ban":            false,
	"mute":           false,
	"kick":           false,
	"clear_room":     false,
}

func (s *Server) apiCapabilities(ctx *fasthttp.RequestCtx, rp reply, m moderator) {
	caps := make(map[string]bool, len(capabilities))
	for k, v := range capabilities {
		caps[k] = v
	}
	if s.mod != nil { // api_moderation.go; mute for the API and site moderators
		caps["delete_message"], caps["ban"], caps["kick"], caps["clear_room"] = true, true, true, true
		caps["mute"] = s.mod.CanMute(ctx, m.who())
	}
	rp.json(fasthttp.StatusOK, map[string]any{"capabilities": caps, "who": m.who(), "name": m.Name})
}

// apiOverview is GET /api/v1/admin/overview: online users (count and the
// first 500 with names) and rooms with their members.
func (s *Server) apiOverview(ctx *fasthttp.RequestCtx, rp reply, _ moderator) {
	online := s.svc.Online()
	shown := online[:min(len(online), 500)]
	type room struct {
		Name    string             `json:"name"`
		Members []any              `json:"members"`
		Count   int                `json:"count"`
		Created *store.CreatedRoom `json:"created,omitempty"`
	}
	names := append([]string(nil), s.svc.Rooms()...)
	var created map[string]store.CreatedRoom
	if recs, ok := s.svc.Store().(store.Records); ok {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		list, err := store.NewCreatedRooms(recs).Rooms(sctx)
		cancel()
		if err == nil {
			created = map[string]store.CreatedRoom{}
			for _, r := range list {
				created[r.Name] = r
				names = append(names, r.Name)
			}
		}
	}
	ids := append([]string(nil), shown...)
	rooms := make([]room, 0, len(names))
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			continue
		}
		seen[n] = true
		mem := s.svc.RoomMembers(n)
		r := room{Name: n, Count: len(mem)}
		if c, ok := created[n]; ok {
			r.Created = &c
		}
		mem = mem[:min(len(mem), 500)]
		for _, u := range mem {
			r.Members = append(r.Members, u)
		}
		ids = append(ids, mem...)
		rooms = append(rooms, r)
	}
	users := map[string]any{}
	for _, u := range s.svc.Users(ctx, dedup(ids)) {
		users[u.ID] = u
	}
	rp.json(fasthttp.StatusOK, map[string]any{"online": map[string]any{"count": len(online), "users": shown}, "rooms": rooms, "users": users})
}

func dedup(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := ids[:0:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// apiUserView is GET /api/v1/admin/users/{id}: one user's view, their
// conversations (newest first, at most 50) with the last message of each,
// the rooms they are in, and their profile.
func (s *Server) apiUserView(ctx *fasthttp.RequestCtx, rp reply, _ moderator) {
	id, err := pathUser(ctx)
	if err != nil {
		s.fail(rp, err)
		return
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	convs, cerr := s.svc.Store().Conversations(sctx, id, nil, 50)
	if cerr != nil {
		s.fail(rp, storeError(cerr))
		return
	}
	type line struct {
		With   string         `json:"with,omitempty"`
		Room   string         `json:"room,omitempty"`
		Unread int            `json:"unread"`
		Last   *store.Message `json:"last_message,omitempty"`
	}
	out := make([]line, 0, len(convs))
	ids := []string{id}
	for _, c := range convs {
		out = append(out, line{With: c.With, Room: c.Room, Unread: c.Unread, Last: c.Last})
		if c.With != "" {
			ids = append(ids, c.With)
		}
	}
	var rooms []string
	for _, r := range s.svc.Rooms() {
		for _, u := range s.svc.RoomMembers(r) {
			if u == id {
				rooms = append(rooms, r)
				break
			}
		}
	}
	users := map[string]any{}
	for _, u := range s.svc.Users(ctx, dedup(ids)) {
		users[u.ID] = u
	}
	online := false
	for _, u := range s.svc.Online() {
		if u == id {
			online = true
			break
		}
	}
	rp.json(fasthttp.StatusOK, map[string]any{"user_id": id, "online": online, "conversations": out, "rooms": rooms, "users": users})
}

// plain lets a backend handler serve the console too.
func plain(h func(*fasthttp.RequestCtx, reply)) func(*fasthttp.RequestCtx, reply, moderator) {
	return func(ctx *fasthttp.RequestCtx, rp reply, _ moderator) { h(ctx, rp) }
}
