package server

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"pollchat/chat"
	"pollchat/moderation"
)

// The moderation actions (issue 16.2), for the backend (Basic auth) and the
// console (a moderator session): the work is in package moderation; here
// are the paths, the bodies and the ban gate of browser calls.

// banned paths: the browser calls a banned user may not make. Reads (hello,
// poll, history, users...) stay open, so the widget sees its banned event.
var bannedPaths = map[string]bool{
	"/v1/send": true, "/v1/request": true, "/v1/join": true,
	"/v1/typing": true, "/v1/report": true, uploadPath: true,
}

// banGate refuses a banned user's writing call with FORBIDDEN.
func (s *Server) banGate(ctx *fasthttp.RequestCtx, c chat.Caller) *chat.Error {
	if s.mod == nil || !bannedPaths[string(ctx.Path())] {
		return nil
	}
	b, banned := s.mod.Banned(ctx, c.ID)
	if !banned {
		return nil
	}
	until := "for ever"
	if !b.Until.IsZero() {
		until = "until " + b.Until.UTC().Format(chat.TimeFormat)
	}
	e := chat.Errorf(chat.CodeForbidden, "banned %s", until)
	if b.Reason != "" {
		e.Message += ": " + b.Reason
	}
	return e
}

// moderationOn answers UNAVAILABLE when the store keeps no records.
func (s *Server) moderationOn(rp reply) bool {
	if s.mod == nil {
		s.fail(rp, chat.Errorf(chat.CodeUnavailable, "the configured store (%T) does not keep bans or an audit log", s.svc.Store()))
		return false
	}
	return true
}

// modError maps moderation's errors to protocol codes.
func modError(err error) error {
	switch {
	case errors.Is(err, moderation.ErrNotFound):
		return chat.Errorf(chat.CodeNotFound, "%s", strings.TrimPrefix(err.Error(), "moderation: not found: "))
	case errors.Is(err, moderation.ErrInvalid):
		return chat.Errorf(chat.CodeBadRequest, "%s", strings.TrimPrefix(err.Error(), "moderation: invalid input: "))
	case errors.Is(err, moderation.ErrNeedsModerator):
		return chat.Errorf(chat.CodeForbidden, "%s", strings.TrimPrefix(err.Error(), "moderation: "))
	case errors.Is(err, moderation.ErrUnavailable):
		return chat.Errorf(chat.CodeUnavailable, "the configured store does not keep bans or an audit log")
	}
	if e := chat.AsError(err); e.Code != chat.CodeInternal {
		return e
	}
	return storeError(err)
}

// logAudit logs an action that was done but whose audit entry was not
// written: the action stands, and the answer's audit is null.
func (s *Server) logAudit(err error) {
	if err != nil {
		s.log.Error("server: moderation action done, audit entry lost", "err", err)
	}
}

// modBody reads an optional JSON body: an empty one is {}.
func modBody(ctx *fasthttp.RequestCtx, v any) *chat.Error {
	if len(strings.TrimSpace(string(ctx.PostBody()))) == 0 {
		return nil
	}
	return decode(ctx, v)
}

func modCtx(ctx *fasthttp.RequestCtx) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, 5*time.Second)
}

// apiDeleteMessage is DELETE /api/v1/messages/{id} {reason?}.
func (s *Server) apiDeleteMessage(ctx *fasthttp.RequestCtx, rp reply, m moderator) {
	if !s.moderationOn(rp) {
		return
	}
	raw, _ := ctx.UserValue("id").(string)
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		s.fail(rp, chat.Errorf(chat.CodeBadRequest, "the message id in the path must be a positive whole number"))
		return
	}
	var in struct {
		Reason string `json:"reason"`
	}
	if e := modBody(ctx, &in); e != nil {
		s.fail(rp, e)
		return
	}
	sctx, cancel := modCtx(ctx)
	defer cancel()
	tomb, entry, derr := s.mod.DeleteMessage(sctx, moderation.Action{Who: m.who(), Name: m.Name, Reason: in.Reason}, id)
	if derr != nil && entry == nil && tomb.ID == 0 {
		s.fail(rp, modError(derr))
		return
	}
	s.logAudit(derr)
	out := map[string]any{"deleted": true, "id": id, "audit": entry}
	if r := tomb.Conv().Room(); r != "" {
		out["room"] = r
	} else {
		out["from"], out["to"] = tomb.From, tomb.To
	}
	rp.json(fasthttp.StatusOK, out)
}

// banDuration reads duration: absent or null is for ever, a number is
// seconds, a string is a Go duration ("1h", "90m") or seconds.
func banDuration(v any) (time.Duration, bool) {
	switch x := v.(type) {
	case nil:
		return 0, true
	case json.Number:
		f, err := x.Float64()
		if err != nil || f != math.Trunc(f) || f < 1 || f > moderation.MaxBan.Seconds() {
			return 0, false
		}
		return time.Duration(f) * time.Second, true
	case string:
		x = strings.TrimSpace(x)
		if x == "" {
			return 0, true
		}
		if n, err := strconv.ParseInt(x, 10, 64); err == nil {
			return banDuration(json.Number(strconv.FormatInt(n, 10)))
		}
		d, err := time.ParseDuration(x)
		if err != nil || d < time.Second || d > moderation.MaxBan {
			return 0, false
		}
		return d, true
	}
	return 0, false
}

// apiBan is POST /api/v1/users/{id}/ban {duration?, reason?}.
func (s *Server) apiBan(ctx *fasthttp.RequestCtx, rp reply, m moderator) {
	if !s.moderationOn(rp) {
		return
	}
	id, perr := pathUser(ctx)
	if perr != nil {
		s.fail(rp, perr)
		return
	}
	var in struct {
		Duration any    `json:"duration"`
		Reason   string `json:"reason"`
	}
	if e := modBody(ctx, &in); e != nil {
		s.fail(rp, e)
		return
	}
	d, ok := banDuration(in.Duration)
	if !ok {
		s.fail(rp, chat.Errorf(chat.CodeBadRequest, "duration must be seconds (1..%d), a duration such as \"1h\", or absent for ever", int64(moderation.MaxBan.Seconds())))
		return
	}
	sctx, cancel := modCtx(ctx)
	defer cancel()
	b, entry, err := s.mod.Ban(sctx, moderation.Action{Who: m.who(), Name: m.Name, Reason: in.Reason}, id, d)
	if err != nil && b.UserID == "" {
		s.fail(rp, modError(err))
		return
	}
	s.logAudit(err)
	rp.json(fasthttp.StatusOK, map[string]any{"ban": b, "audit": entry})
}

// apiUnban is DELETE /api/v1/users/{id}/ban {reason?}.
func (s *Server) apiUnban(ctx *fasthttp.RequestCtx, rp reply, m moderator) {
	if !s.moderationOn(rp) {
		return
	}
	id, perr := pathUser(ctx)
	if perr != nil {
		s.fail(rp, perr)
		return
	}
	var in struct {
		Reason string `json:"reason"`
	}
	if e := modBody(ctx, &in); e != nil {
		s.fail(rp, e)
		return
	}
	sctx, cancel := modCtx(ctx)
	defer cancel()
	entry, err := s.mod.Unban(sctx, moderation.Action{Who: m.who(), Name: m.Name, Reason: in.Reason}, id)
	if err != nil && entry == nil {
		s.fail(rp, modError(err))
		return
	}
	s.logAudit(err)
	rp.json(fasthttp.StatusOK, map[string]any{"unbanned": true, "user_id": id, "audit": entry})
}

// apiBans is GET /api/v1/bans: the bans that hold now.
func (s *Server) apiBans(ctx *fasthttp.RequestCtx, rp reply, _ moderator) {
	if !s.moderationOn(rp) {
		return
	}
	sctx, cancel := modCtx(ctx)
	defer cancel()
	list, err := s.mod.Bans(sctx)
	if err != nil {
		s.fail(rp, storeError(err))
		return
	}
	out := make([]any, 0, len(list))
	for _, b := range list {
		out = append(out, b)
	}
	rp.json(fasthttp.StatusOK, map[string]any{"bans": out})
}

// modRoom reads the room in the path and checks it exists.
func (s *Server) modRoom(ctx *fasthttp.RequestCtx, rp reply) (string, bool) {
	room, perr := pathRoom(ctx)
	if perr != nil {
		s.fail(rp, perr)
		return "", false
	}
	sctx, cancel := modCtx(ctx)
	defer cancel()
	ok, err := s.roomExists(sctx, room)
	if err != nil {
		s.fail(rp, storeError(err))
		return "", false
	}
	if !ok {
		s.fail(rp, chat.Errorf(chat.CodeNotFound, "no such room: %q", room))
		return "", false
	}
	return room, true
}

// apiKick is POST /api/v1/rooms/{room}/kick {user_id, reason?}.
func (s *Server) apiKick(ctx *fasthttp.RequestCtx, rp reply, m moderator) {
	if !s.moderationOn(rp) {
		return
	}
	room, ok := s.modRoom(ctx, rp)
	if !ok {
		return
	}
	var in struct {
		UserID any    `json:"user_id"`
		Reason string `json:"reason"`
	}
	if e := decode(ctx, &in); e != nil {
		s.fail(rp, e)
		return
	}
	uid, ok := idString(in.UserID)
	if !ok || uid == "" {
		s.fail(rp, chat.Errorf(chat.CodeBadRequest, "user_id is required (a string or a number)"))
		return
	}
	sctx, cancel := modCtx(ctx)
	defer cancel()
	entry, err := s.mod.Kick(sctx, moderation.Action{Who: m.who(), Name: m.Name, Reason: in.Reason}, uid, room)
	if err != nil && entry == nil {
		s.fail(rp, modError(err))
		return
	}
	s.logAudit(err)
	rp.json(fasthttp.StatusOK, map[string]any{"kicked": true, "room": room, "user_id": uid, "audit": entry})
}

// apiClearRoom is POST /api/v1/rooms/{room}/clear {reason?}.
func (s *Server) apiClearRoom(ctx *fasthttp.RequestCtx, rp reply, m moderator) {
	if !s.moderationOn(rp) {
		return
	}
	room, ok := s.modRoom(ctx, rp)
	if !ok {
		return
	}
	var in struct {
		Reason string `json:"reason"`
	}
	if e := modBody(ctx, &in); e != nil {
		s.fail(rp, e)
		return
	}
	sctx, cancel := modCtx(ctx)
	defer cancel()
	n, entry, err := s.mod.ClearRoom(sctx, moderation.Action{Who: m.who(), Name: m.Name, Reason: in.Reason}, room)
	if err != nil && entry == nil && n == 0 {
		s.fail(rp, modError(err))
		return
	}
	s.logAudit(err)
	rp.json(fasthttp.StatusOK, map[string]any{"cleared": true, "room": room, "removed": n, "audit": entry})
}

// roomUser reads {user_id, minutes?, reason?} of kick, mute and unmute.
type roomUser struct {
	UserID  any    `json:"user_id"`
	Minutes any    `json:"minutes"`
	Reason  string `json:"reason"`
}

func (s *Server) roomUserBody(ctx *fasthttp.RequestCtx, rp reply) (roomUser, string, bool) {
	var in roomUser
	if e := decode(ctx, &in); e != nil {
		s.fail(rp, e)
		return in, "", false
	}
	uid, ok := idString(in.UserID)
	if !ok || uid == "" {
		s.fail(rp, chat.Errorf(chat.CodeBadRequest, "user_id is required (a string or a number)"))
		return in, "", false
	}
	return in, uid, true
}

// apiMute is POST /api/v1/rooms/{room}/mute {user_id, minutes, reason?}:
// the backend API (Basic auth, trusted) or a console moderator whose site
// role may mute (as them); chat's own mute path.
func (s *Server) apiMute(ctx *fasthttp.RequestCtx, rp reply, m moderator) {
	if !s.moderationOn(rp) {
		return
	}
	room, ok := s.modRoom(ctx, rp)
	if !ok {
		return
	}
	in, uid, ok := s.roomUserBody(ctx, rp)
	if !ok {
		return
	}
	n, ok := in.Minutes.(json.Number)
	mins, err := n.Int64()
	if !ok || err != nil || mins < 1 {
		s.fail(rp, chat.Errorf(chat.CodeBadRequest, "minutes must be a whole number from 1 to %d", int(chat.MaxMute/time.Minute)))
		return
	}
	sctx, cancel := modCtx(ctx)
	defer cancel()
	mu, entry, merr := s.mod.Mute(sctx, moderation.Action{Who: m.who(), Name: m.Name, Reason: in.Reason}, room, uid, time.Duration(min(mins, 1<<20))*time.Minute)
	if merr != nil && mu.UserID == "" {
		s.fail(rp, modError(merr))
		return
	}
	s.logAudit(merr)
	rp.json(fasthttp.StatusOK, map[string]any{"mute": mu, "audit": entry})
}

// apiUnmute is POST /api/v1/rooms/{room}/unmute {user_id, reason?}.
func (s *Server) apiUnmute(ctx *fasthttp.RequestCtx, rp reply, m moderator) {
	if !s.moderationOn(rp) {
		return
	}
	room, ok := s.modRoom(ctx, rp)
	if !ok {
		return
	}
	in, uid, ok := s.roomUserBody(ctx, rp)
	if !ok {
		return
	}
	sctx, cancel := modCtx(ctx)
	defer cancel()
	entry, merr := s.mod.Unmute(sctx, moderation.Action{Who: m.who(), Name: m.Name, Reason: in.Reason}, room, uid)
	if merr != nil && entry == nil {
		s.fail(rp, modError(merr))
		return
	}
	rp.json(fasthttp.StatusOK, map[string]any{"unmuted": true, "room": room, "user_id": uid, "audit": entry})
}
