package server

import (
	"encoding/json"
	"errors"
	"html"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"pollchat/bridge"
	"pollchat/chat"
)

// messengerCommand is eStreamChat's MessengerCommand.ashx: without
// reqInitiator it answers the oldest pending chat request (or null); with
// reqInitiator=ID&reject=true|false it answers that request. The
// eStreamChat Messenger script inserts ChatRequestMessage and FromUserName
// as HTML, so this endpoint, and only this one, sends them HTML-escaped.
//
// The script shows any answer but null as an incoming chat request, so a
// refused identity (wrong, expired, unknown to the site) answers null too,
// with the error code in the X-Pollchat-Error header and the log. Each
// call marks the caller online, as a poll does: the script never says
// hello, and polls this every few seconds.
func (s *Server) messengerCommand(ctx *fasthttp.RequestCtx) {
	p := newParams(ctx)
	rp, ok := s.begin(ctx, p)
	if !ok {
		return
	}
	c, ierr := s.identity(p)
	var err error
	if ierr != nil {
		err = ierr
	} else if p.err != nil {
		err = p.err
	} else if c.With != "" {
		err = chat.Errorf(chat.CodeForbidden, "a scoped token cannot use the messenger")
	} else {
		err = s.svc.Admit(ctx, c)
	}
	if err != nil {
		e := chat.AsError(err)
		s.metrics.errors(e.Code)
		s.log.Info("server: MessengerCommand.ashx refused; answered null", "code", e.Code, "reason", e.Message, "id", string(p.getBytes("id")))
		ctx.Response.Header.Set("X-Pollchat-Error", e.Code)
		status := fasthttp.StatusOK
		if rp.callback == nil {
			status = Status(e.Code)
		}
		rp.raw(status, []byte("null"))
		return
	}
	s.svc.Seen(c)
	if from := p.get("reqInitiator"); from != "" {
		reject := false
		switch strings.ToLower(p.get("reject")) {
		case "true", "1":
			reject = true
		case "false", "0", "":
		default:
			s.fail(rp, chat.Errorf(chat.CodeBadRequest, "reject must be true or false"))
			return
		}
		if err := s.svc.Answer(ctx, c, from, !reject); err != nil {
			s.fail(rp, err)
			return
		}
		rp.ok()
		return
	}
	reqs, users, rerr := s.svc.PendingRequests(ctx, c)
	if rerr != nil {
		s.fail(rp, rerr)
		return
	}
	if len(reqs) == 0 {
		rp.raw(fasthttp.StatusOK, []byte("null"))
		return
	}
	r := reqs[0]
	u := users[r.From]
	rp.json(fasthttp.StatusOK, struct {
		FromUserID         string `json:"FromUserId"`
		FromUserName       string `json:"FromUserName"`
		FromThumbnailURL   string `json:"FromThumbnailUrl"`
		ChatRequestMessage string `json:"ChatRequestMessage"`
	}{
		FromUserID:         r.From,
		FromUserName:       html.EscapeString(u.Name),
		FromThumbnailURL:   html.EscapeString(u.AvatarURL),
		ChatRequestMessage: html.EscapeString(r.Text),
	})
}

// ChatTokenTTL is how long the token of a popup chat page lives.
const ChatTokenTTL = 12 * time.Hour

// chatPage is the standalone popup chat window for id <-> target, opened
// by a link signed with SHA1(id + target + timestamp + secret).
func (s *Server) chatPage(ctx *fasthttp.RequestCtx) {
	if !s.cfg.Auth.ChatLinksOn() {
		s.notFound(ctx)
		return
	}
	q := ctx.QueryArgs()
	id, target := string(q.Peek("id")), string(q.Peek("target"))
	idn, err := s.verifier.VerifyChatLink(id, target, string(q.Peek("timestamp")), string(q.Peek("hash")))
	if err != nil {
		reason := "This chat link is not valid."
		if errors.Is(err, bridge.ErrTokenExpired) {
			reason = "This chat link has expired. Open the chat again from the site."
		}
		ctx.Response.Header.Set("X-Content-Type-Options", "nosniff")
		ctx.Response.Header.Set("Cache-Control", "no-store")
		ctx.SetStatusCode(fasthttp.StatusForbidden)
		ctx.SetContentType("text/html; charset=utf-8")
		ctx.SetBodyString(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>pollchat: link refused</title></head>` +
			`<body style="font-family:sans-serif;margin:3em"><h1>403: chat link refused</h1><p>` + html.EscapeString(reason) + `</p></body></html>`)
		s.metrics.errors(chat.CodeForbidden)
		return
	}
	// The page's token is scoped to this conversation and ends with the
	// link: the link hash has no separator between id and target, so a
	// link is only as trustworthy as "some id+target was signed"
	// (docs/security.md).
	ttl := min(ChatTokenTTL, time.Until(s.verifier.LinkExpiry(string(q.Peek("timestamp")))))
	if ttl < time.Minute {
		ttl = time.Minute
	}
	tok, exp, terr := s.verifier.IssueScopedToken(idn.UserID, target, ttl)
	if terr != nil {
		ctx.Error("internal error", fasthttp.StatusInternalServerError)
		return
	}
	// name and thumbUrl are the caller's own (eStreamChat passes them
	// unsigned): the fallback the directory's data overrides, with the
	// limits of the identity's name and thumbUrl.
	me := callerWith(chat.Caller{ID: idn.UserID}, string(q.Peek("name")), string(q.Peek("thumbUrl")))
	s.svc.Remember(me)
	name, thumb := me.Name, me.AvatarURL
	cfg, _ := json.Marshal(map[string]any{
		"server": s.cfg.Server.PublicURL, "token": tok, "expires_at": exp.UTC().Format(chat.TimeFormat),
		"me": idn.UserID, "target": target, "name": name, "thumbUrl": thumb,
	})
	s.page(ctx, "chat.html", cfg)
}
