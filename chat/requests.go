package chat

import (
	"context"
	"pollchat/bridge"
	"pollchat/store"
	"strings"
	"time"
)

// Request sends a chat request (an invitation) to another user.
func (s *Service) Request(ctx context.Context, c Caller, to, text string) error {
	me := s.me(ctx, c)
	if to == "" {
		return Errorf(CodeBadRequest, "to is required")
	}
	if err := checkUserID("to", to); err != nil {
		return err
	}
	if to == c.ID {
		return Errorf(CodeBadRequest, "cannot invite yourself")
	}
	if strings.TrimSpace(text) != "" {
		t, err := CleanText(text, s.cfg.MaxLength)
		if err != nil {
			return err
		}
		text = s.mask(t)
	} else {
		text = ""
	}
	if _, ok := s.User(ctx, to); !ok {
		return Errorf(CodeNotFound, "no user %q", to)
	}
	if err := s.limits.allow(c.ID); err != nil {
		return err
	}
	sctx, cancel := s.storeCtx(ctx)
	defer cancel()
	if s.blocks.getHas(sctx, s.store, to, c.ID) {
		return nil // blocked: dropped without telling the sender
	}
	r := store.Request{From: c.ID, To: to, Text: text, TS: s.now().UTC().Truncate(time.Second)}
	if err := s.store.SaveRequest(sctx, r); err != nil {
		return storeErr(err)
	}
	s.hub.Publish(to, "", chatRequestEvent(me, r))
	return nil
}

// Answer accepts or rejects the pending request from `from`.
func (s *Service) Answer(ctx context.Context, c Caller, from string, accept bool) error {
	s.remember(c)
	if from == "" {
		return Errorf(CodeBadRequest, "from is required")
	}
	if err := checkUserID("from", from); err != nil {
		return err
	}
	sctx, cancel := s.storeCtx(ctx)
	defer cancel()
	_, found, err := s.store.DeleteRequest(sctx, c.ID, from)
	if err != nil {
		return storeErr(err)
	}
	if !found {
		return Errorf(CodeNotFound, "no pending request from %q", from)
	}
	if accept {
		s.hub.AddContact(c.ID, from)
	}
	s.hub.Publish(from, "", chatAnswerEvent(c.ID, accept))
	return nil
}

// PendingRequests returns the caller's pending requests, oldest first, with
// the senders' user data.
func (s *Service) PendingRequests(ctx context.Context, c Caller) ([]store.Request, map[string]bridge.User, error) {
	s.remember(c)
	sctx, cancel := s.storeCtx(ctx)
	defer cancel()
	reqs, err := s.store.Requests(sctx, c.ID)
	if err != nil {
		return nil, nil, storeErr(err)
	}
	blocked := s.blocks.get(sctx, s.store, c.ID)
	kept := reqs[:0]
	ids := make([]string, 0, len(reqs))
	for _, r := range reqs {
		if _, b := blocked[r.From]; !b {
			kept = append(kept, r)
			ids = append(ids, r.From)
		}
	}
	return kept, s.userMap(ctx, ids), nil
}
