package chat

import (
	"context"
	"pollchat/store"
	"time"
)

// HistoryParams select a page of history: With or Room.
type HistoryParams struct {
	With, Room string
	// System selects the system messages sent to the caller.
	System bool
	Before int64
	Limit  int
}

// History returns a page of a conversation, oldest first.
func (s *Service) History(ctx context.Context, c Caller, p HistoryParams) ([]store.Message, bool, error) {
	var conv store.Conv
	var err error
	if p.System && p.With == "" && p.Room == "" {
		conv = store.DirectConv("", c.ID)
	} else {
		conv, err = s.conv(c, p.With, p.Room)
	}
	if err != nil {
		return nil, false, err
	}
	if p.Limit <= 0 {
		p.Limit = 50
	}
	p.Limit = min(p.Limit, 100)
	if p.Before < 0 {
		return nil, false, Errorf(CodeBadRequest, "before must be a message id")
	}
	sctx, cancel := s.storeCtx(ctx)
	defer cancel()
	msgs, more, err := s.store.History(sctx, conv, p.Before, p.Limit)
	if err != nil {
		return nil, false, storeErr(err)
	}
	if c.Guest || c.ID == "" {
		return msgs, more, nil
	}
	if blocked := s.blocks.get(sctx, s.store, c.ID); len(blocked) > 0 {
		kept := msgs[:0]
		for _, m := range msgs {
			if _, b := blocked[m.From]; !b {
				kept = append(kept, m)
			}
		}
		msgs = kept
	}
	return msgs, more, nil
}

func (s *Service) conv(c Caller, with, room string) (store.Conv, error) {
	switch {
	case (with == "") == (room == ""):
		return "", Errorf(CodeBadRequest, "give exactly one of with and room")
	case room != "":
		if _, err := s.roomFor(c, room); err != nil {
			return "", err
		}
		return store.RoomConv(room), nil
	case checkUserID("with", with) != nil:
		return "", checkUserID("with", with)
	case with == c.ID:
		return "", Errorf(CodeBadRequest, "with must be another user")
	default:
		return store.DirectConv(c.ID, with), nil
	}
}

// Read moves the caller's read mark and tells the other side.
// With system set (and no with or room) it marks the conversation of
// system messages sent to the caller.
func (s *Service) Read(ctx context.Context, c Caller, with, room string, system bool, upto int64) error {
	var conv store.Conv
	var err error
	if system && with == "" && room == "" {
		conv = store.DirectConv("", c.ID)
	} else {
		conv, err = s.conv(c, with, room)
	}
	if err != nil {
		return err
	}
	if upto <= 0 {
		return Errorf(CodeBadRequest, "upto must be a message id")
	}
	if err := s.limits.take(c.ID, CostRead); err != nil {
		return err
	}
	sctx, cancel := s.storeCtx(ctx)
	defer cancel()
	// The mark goes no further than the conversation's newest message, and
	// a conversation without messages has nothing to mark: a direct one
	// does not exist (NOT_FOUND), an empty room is answered with nothing
	// stored.
	newest, _, err := s.store.History(sctx, conv, 0, 1)
	if err != nil {
		return storeErr(err)
	}
	if len(newest) == 0 {
		if room != "" {
			return nil
		}
		if with == "" {
			return Errorf(CodeNotFound, "no system messages to mark read")
		}
		return Errorf(CodeNotFound, "no conversation with %q", with)
	}
	upto = min(upto, newest[len(newest)-1].ID)
	if err := s.store.MarkRead(sctx, c.ID, conv, upto); err != nil {
		return storeErr(err)
	}
	ev, key := readEvent(c.ID, with, room, upto), keyOf(c.ID, with, room)
	s.hub.Publish(c.ID, key, ev)
	if with != "" && !s.blocks.blocks(with, c.ID) {
		s.hub.Publish(with, key, ev)
	}
	return nil
}

// Typing tells the peer or the room that the caller is typing.
func (s *Service) Typing(ctx context.Context, c Caller, to, room string) error {
	s.remember(c)
	switch {
	case (to == "") == (room == ""):
		return Errorf(CodeBadRequest, "give exactly one of to and room")
	case room != "":
		r, err := s.roomFor(c, room)
		if err != nil {
			return err
		}
		if err := s.mutedErr(r, c.ID); err != nil {
			return err
		}
		if err := s.limits.take(c.ID, CostTyping); err != nil {
			return err
		}
		members, ok := r.small(s.cfg.RoomEventsLimit)
		if !ok || !s.typingFresh(c.ID, "#"+room) {
			return nil
		}
		to := make([]string, 0, len(members))
		for _, u := range members {
			if u != c.ID && !s.blocks.blocks(u, c.ID) {
				to = append(to, u)
			}
		}
		s.hub.PublishMany(to, roomKey(room), typingEvent(c.ID, "", room)) // a failure is counted
	default:
		if err := checkUserID("to", to); err != nil {
			return err
		}
		if to == c.ID {
			return Errorf(CodeBadRequest, "to must be another user")
		}
		if err := s.limits.take(c.ID, CostTyping); err != nil {
			return err
		}
		if !s.typingFresh(c.ID, to) {
			return nil
		}
		if !s.blocks.blocks(to, c.ID) {
			s.hub.Publish(to, directKey(c.ID, to), typingEvent(c.ID, to, ""))
		}
	}
	return nil
}

// typingFresh says whether a typing event from sender in conv may go out
// now: at most one a second per sender and conversation reaches anyone.
// The call is answered {ok:true} either way.
func (s *Service) typingFresh(sender, conv string) bool {
	return s.typing.Add(sender+"\x00"+conv, nil, time.Second) == nil
}

// Unread returns a user's unread counts (for the backend API).
func (s *Service) Unread(ctx context.Context, user string) (int, []ConversationInfo, error) {
	sctx, cancel := s.storeCtx(ctx)
	defer cancel()
	rooms, _ := s.roomsFor(Caller{ID: user})
	convs, err := s.store.Conversations(sctx, user, rooms, 1000)
	if err != nil {
		return 0, nil, storeErr(err)
	}
	total := 0
	out := make([]ConversationInfo, 0, len(convs))
	for _, cv := range convs {
		if cv.Unread == 0 {
			continue
		}
		total += cv.Unread
		out = append(out, ConversationInfo{With: cv.With, Room: cv.Room, Unread: cv.Unread, System: cv.With == "" && cv.Room == ""})
	}
	return total, out, nil
}
