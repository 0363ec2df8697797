package server

import (
	"bytes"
	"context"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"pollchat/chat"
	"pollchat/config"
	"pollchat/store"
)

// apiHistory is GET /api/v1/messages: a page of a direct conversation
// (user_id and with) or of a room (room; user_id optional, and when given
// the page is that user's view: their blocks apply, as in /v1/history),
// oldest first, in the shape of /v1/history.
func (s *Server) apiHistory(ctx *fasthttp.RequestCtx, rp reply) {
	p := newParams(ctx)
	if p.err != nil {
		s.fail(rp, p.err)
		return
	}
	uid, with, room := p.get("user_id"), p.get("with"), p.get("room")
	before, err := p.int64("before", 0)
	if err == nil && before < 0 {
		err = chat.Errorf(chat.CodeBadRequest, "before must be a message id")
	}
	if err != nil {
		s.fail(rp, err)
		return
	}
	limit, err := p.int64("limit", 50)
	if err == nil && (limit < 1 || limit > 100) {
		err = chat.Errorf(chat.CodeBadRequest, "limit must be 1..100")
	}
	if err != nil {
		s.fail(rp, err)
		return
	}
	switch {
	case (with == "") == (room == ""):
		s.fail(rp, chat.Errorf(chat.CodeBadRequest, "give exactly one of with and room"))
		return
	case with != "" && uid == "":
		s.fail(rp, chat.Errorf(chat.CodeBadRequest, "user_id is required with with"))
		return
	}
	if uid != "" && config.ValidUserID(uid) != nil {
		s.fail(rp, chat.Errorf(chat.CodeBadRequest, "user_id is not a valid user id"))
		return
	}
	if uid != "" {
		msgs, more, herr := s.svc.History(ctx, chat.Caller{ID: uid}, chat.HistoryParams{With: with, Room: room, Before: before, Limit: int(limit)})
		if herr != nil {
			s.fail(rp, herr)
			return
		}
		s.freshLinks(msgs)
		rp.raw(fasthttp.StatusOK, appendAPIMessages(nil, msgs, more))
		return
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if ok, rerr := s.roomExists(sctx, room); rerr != nil {
		s.fail(rp, rerr)
		return
	} else if !ok {
		s.fail(rp, chat.Errorf(chat.CodeNotFound, "no such room: %q", room))
		return
	}
	msgs, more, herr := s.svc.Store().History(sctx, store.RoomConv(room), before, int(limit))
	if herr != nil {
		s.fail(rp, storeError(herr))
		return
	}
	s.freshLinks(msgs)
	rp.raw(fasthttp.StatusOK, appendAPIMessages(nil, msgs, more))
}

// appendAPIMessages is appendMessages with tombstones marked "deleted":true
// (a deleted or erased message keeps its sender, place and time, not its
// text), so the backend tells them from empty messages.
func appendAPIMessages(b []byte, msgs []store.Message, more bool) []byte {
	b = append(b, `{"messages":[`...)
	for i := range msgs {
		if i > 0 {
			b = append(b, ',')
		}
		start := len(b)
		b = chat.AppendMessage(b, &msgs[i])
		if msgs[i].Deleted && !bytes.Contains(b[start:], []byte(`"deleted":`)) && b[len(b)-1] == '}' {
			b = append(b[:len(b)-1], `,"deleted":true}`...)
		}
	}
	b = append(b, `],"has_more":`...)
	b = strconv.AppendBool(b, more)
	return append(b, '}')
}

// roomExists says whether room is one of chat.rooms or a room created by
// the backend (kept in the store's records).
func (s *Server) roomExists(ctx context.Context, room string) (bool, error) {
	for _, r := range s.svc.Rooms() {
		if r == room {
			return true, nil
		}
	}
	if len(room) > 64 {
		return false, nil
	}
	rec, ok := s.svc.Store().(store.Records)
	if !ok {
		return false, nil
	}
	_, found, err := store.NewCreatedRooms(rec).Room(ctx, room)
	if err != nil {
		if isInvalid(err) {
			return false, nil
		}
		return false, storeError(err)
	}
	return found, nil
}
