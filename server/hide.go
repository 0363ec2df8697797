package server

import (
	"github.com/valyala/fasthttp"

	"pollchat/chat"
	"pollchat/config"
	"pollchat/store"
)

// hide is /v1/hide {with | room | system=1, upto?} (issue 15.5, the
// widget's removeChat): the conversation stays out of the caller's hello
// until a message newer than upto (default: the newest now) arrives.
func (s *Server) hide(ctx *fasthttp.RequestCtx, p *params, rp reply, c chat.Caller) {
	with, room := p.get("with"), p.get("room")
	system, _, err := p.bool("system")
	if err != nil {
		s.fail(rp, err)
		return
	}
	var conv store.Conv
	switch {
	case system && with == "" && room == "":
		conv = store.DirectConv("", c.ID)
	case with != "" && room == "" && !system:
		if config.ValidUserID(with) != nil || with == c.ID {
			s.fail(rp, chat.Errorf(chat.CodeBadRequest, "with must be another user's id"))
			return
		}
		conv = store.DirectConv(c.ID, with)
	case room != "" && with == "" && !system:
		conv = store.RoomConv(room)
	default:
		s.fail(rp, chat.Errorf(chat.CodeBadRequest, "give one of with, room or system=1"))
		return
	}
	if c.With != "" && with != c.With {
		s.fail(rp, chat.Errorf(chat.CodeForbidden, "this session is limited to one conversation"))
		return
	}
	upto, err := p.int64("upto", -1)
	if err != nil {
		s.fail(rp, err)
		return
	}
	if upto < -1 {
		s.fail(rp, chat.Errorf(chat.CodeBadRequest, "upto must be a message id"))
		return
	}
	r, rerr := s.records()
	if rerr != nil {
		s.fail(rp, rerr)
		return
	}
	if terr := s.svc.Take(c, chat.CostRead); terr != nil {
		s.fail(rp, terr)
		return
	}
	// Only a conversation that exists is hidden, up to its newest message
	// at most (as read marks are clamped): a caller cannot fill the store
	// with marks for conversations or rooms that are not there.
	msgs, _, herr := s.svc.Store().History(ctx, conv, 0, 1)
	if herr != nil {
		s.fail(rp, storeError(herr))
		return
	}
	if len(msgs) == 0 {
		s.fail(rp, chat.Errorf(chat.CodeNotFound, "there is no conversation to hide"))
		return
	}
	if newest := msgs[len(msgs)-1].ID; upto == -1 || upto > newest {
		upto = newest
	}
	if herr := store.NewHidden(r).Hide(ctx, c.ID, conv, upto); herr != nil {
		s.fail(rp, storeError(herr))
		return
	}
	rp.ok()
}

// filterHidden drops from hello the conversations the caller hid that have
// nothing newer since.
func (s *Server) filterHidden(ctx *fasthttp.RequestCtx, res *chat.HelloResult, user string) error {
	r, rerr := s.records()
	if rerr != nil {
		return nil // a store without records hides nothing
	}
	hidden, err := store.NewHidden(r).Hidden(ctx, user)
	if err != nil || len(hidden) == 0 {
		return err
	}
	out := res.Conversations[:0]
	for _, cv := range res.Conversations {
		var conv store.Conv
		switch {
		case cv.Room != "":
			conv = store.RoomConv(cv.Room)
		case cv.System:
			conv = store.DirectConv("", user)
		default:
			conv = store.DirectConv(user, cv.With)
		}
		if upto, ok := hidden[conv]; ok && (cv.Last == nil || cv.Last.ID <= upto) {
			continue
		}
		out = append(out, cv)
	}
	res.Conversations = out
	return nil
}
