package server

import (
	"encoding/json"
	"net/url"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// The demo: two static users side by side, signed by the server itself.
// It signs anyone in as any static user, so it answers only on loopback,
// to requests no proxy forwarded, for server.public_url's host.

// demoAllowed says whether this request may see the demo, which signs
// anyone in as any static user: the demo is on, the peer is loopback and
// forwards for nobody (the check /metrics makes: a reverse proxy on the
// same host is not a local user), and Host is server.public_url's (a
// proxy that rewrites neither header is still refused by Host). Otherwise
// it answers 404, as if the demo were off.
func (s *Server) demoAllowed(ctx *fasthttp.RequestCtx) bool {
	if !s.cfg.Demo.Enabled || !ctx.RemoteIP().IsLoopback() || forwarded(ctx) {
		return false
	}
	u, err := url.Parse(s.cfg.Server.PublicURL)
	return err == nil && strings.EqualFold(string(ctx.Host()), u.Host)
}

func (s *Server) index(ctx *fasthttp.RequestCtx) {
	if s.demoAllowed(ctx) {
		ctx.Redirect("/demo", fasthttp.StatusFound)
		return
	}
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.SetBodyString("pollchat is running. Embed it with <script src=\"" + s.cfg.Server.PublicURL + "/widget.js\"></script>\n")
}

type demoUser struct {
	ID   string `json:"user_id"`
	Name string `json:"name"`
	Role string `json:"role"`
}

func (s *Server) demoUsers() []demoUser {
	var out []demoUser
	for _, u := range s.cfg.Users.Static {
		role := u.Role
		if role == "" {
			role = "member"
		}
		out = append(out, demoUser{u.UserID, u.Name, role})
	}
	return out
}

func (s *Server) demo(ctx *fasthttp.RequestCtx) {
	if !s.demoAllowed(ctx) {
		s.notFound(ctx)
		return
	}
	cfg, _ := json.Marshal(map[string]any{"server": s.cfg.Server.PublicURL, "users": s.demoUsers()})
	s.page(ctx, "demo.html", cfg)
}

// demoUser is a fake host page for one demo user, signed as a site would.
func (s *Server) demoUser(ctx *fasthttp.RequestCtx) {
	if !s.demoAllowed(ctx) {
		s.notFound(ctx)
		return
	}
	id := string(ctx.QueryArgs().Peek("id"))
	var found *demoUser
	for _, u := range s.demoUsers() {
		if u.ID == id {
			found = &u
			break
		}
	}
	if found == nil {
		ctx.Error("no such demo user", fasthttp.StatusNotFound)
		return
	}
	ts := s.verifier.Timestamp(time.Now())
	cfg, _ := json.Marshal(map[string]any{"server": s.cfg.Server.PublicURL, "id": found.ID, "timestamp": ts,
		"hash": s.verifier.Hash(found.ID, ts), "name": found.Name, "role": found.Role})
	s.page(ctx, "demo-user.html", cfg)
}
