package server

import (
	"errors"

	"pollchat/chat"
	"pollchat/store"
)

// records returns the store's records (bans, reports, audit log...), or
// UNAVAILABLE when the configured store does not keep them.
func (s *Server) records() (store.Records, *chat.Error) {
	r, ok := s.svc.Store().(store.Records)
	if !ok {
		return nil, chat.Errorf(chat.CodeUnavailable, "the configured store (%T) does not keep reports, audit entries or users' data yet", s.svc.Store())
	}
	return r, nil
}

// storeError maps a store error: input the store refuses is BAD_REQUEST,
// a per-user bound is RATE_LIMITED, anything else UNAVAILABLE.
func storeError(err error) *chat.Error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrLimit):
		return &chat.Error{Code: chat.CodeRateLimited, Message: "limit reached; try again tomorrow", Err: err}
	case isInvalid(err):
		return &chat.Error{Code: chat.CodeBadRequest, Message: "the store refuses this input: " + err.Error(), Err: err}
	}
	return &chat.Error{Code: chat.CodeUnavailable, Message: "the message store failed; try again shortly", Err: err}
}

func isInvalid(err error) bool { return errors.Is(err, store.ErrInvalid) }
