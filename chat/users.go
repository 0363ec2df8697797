package chat

import (
	"context"
	"errors"
	"pollchat/bridge"
	"pollchat/config"
	"sync/atomic"
	"time"
)

// DirectoryTimeout bounds a user lookup on a request: a slow host site
// costs at most this, after which stale or identity data is used.
const DirectoryTimeout = 3 * time.Second

// callerEntry is what an identity said of its user, and when.
type callerEntry struct {
	user bridge.User
	seen atomic.Int64 // unix seconds
}

// callerTTL is how long a user's identity data is kept after their last
// request (the fallback when the directory knows nothing of them).
const callerTTL = 24 * time.Hour

// remember keeps what an identity says of its user, the fallback when the
// directory knows nothing better.
func (s *Service) remember(c Caller) {
	now := s.now().Unix()
	if v, ok := s.callers.Load(c.ID); ok {
		e := v.(*callerEntry)
		if (c.Name == "" || e.user.Name == c.Name) && (c.AvatarURL == "" || e.user.AvatarURL == c.AvatarURL) {
			if e.seen.Load() != now {
				e.seen.Store(now)
			}
			return
		}
	}
	name := c.Name
	if name == "" {
		name = "User " + c.ID
	}
	s.storeCaller(bridge.User{ID: c.ID, Name: name, AvatarURL: c.AvatarURL, Role: bridge.RoleMember}, true)
}

// storeCaller keeps what an identity said of a user. In a cluster a new
// or changed entry is told to the other processes (tell), so that a user
// known from their identity alone is known on every process: a send to
// them through another process finds them.
func (s *Service) storeCaller(u bridge.User, tell bool) {
	e := &callerEntry{user: u}
	e.seen.Store(s.now().Unix())
	s.callers.Store(u.ID, e)
	if tell && !s.cfg.RequireKnown && s.engine.Shared() {
		c := Control{Kind: ControlCaller, Caller: CallerInfo{ID: u.ID, Name: u.Name, AvatarURL: u.AvatarURL}}
		go func() {
			// Only users the directory does not know need it (the
			// others are known everywhere); asked off the request path.
			ctx, cancel := context.WithTimeout(context.Background(), DirectoryTimeout)
			_, err := s.dir.Get(ctx, u.ID)
			cancel()
			if errors.Is(err, bridge.ErrUnknownUser) {
				s.broadcast(c)
			}
		}()
	}
}

// Forget drops what identities said of ids and ends their parked polls
// (answered with no events), so that a user the site no longer knows is
// refused on their next call at once: the backend API's users/invalidate.
func (s *Service) Forget(ids ...string) {
	for _, id := range ids {
		s.callers.Delete(id)
		s.hub.Wake(id)
	}
}

// Admit refuses a caller the site does not know when RequireKnown is set:
// FORBIDDEN, on hello and every call. A host site that cannot be asked
// (ErrSourceDown) does not lock its members out.
func (s *Service) Admit(ctx context.Context, c Caller) error {
	if !s.cfg.RequireKnown || c.Guest {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DirectoryTimeout)
	defer cancel()
	if _, err := s.dir.Get(ctx, c.ID); errors.Is(err, bridge.ErrUnknownUser) {
		return Errorf(CodeForbidden, "user %s is unknown to the site (not a member, banned or deleted)", c.ID)
	}
	return nil
}

// forgetCallers drops identity data not used for callerTTL.
func (s *Service) forgetCallers() {
	cutoff := s.now().Add(-callerTTL).Unix()
	s.callers.Range(func(k, v any) bool {
		if v.(*callerEntry).seen.Load() < cutoff {
			s.callers.Delete(k)
		}
		return true
	})
}

func (s *Service) caller(id string) (bridge.User, bool) {
	if v, ok := s.callers.Load(id); ok {
		return v.(*callerEntry).user, true
	}
	return bridge.User{}, false
}

// User returns what is known of id: the directory's entry, else what an
// identity said of it. ok is false for a user nobody knows.
func (s *Service) User(ctx context.Context, id string) (bridge.User, bool) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DirectoryTimeout)
	defer cancel()
	u, err := s.dir.Get(ctx, id)
	if err == nil {
		if f, ok := s.caller(id); ok {
			if u.Name == "" {
				u.Name = f.Name
			}
			if u.AvatarURL == "" {
				u.AvatarURL = f.AvatarURL
			}
		}
		return u, true
	}
	if s.cfg.RequireKnown && errors.Is(err, bridge.ErrUnknownUser) {
		return bridge.User{}, false
	}
	return s.caller(id)
}

// Users returns the known users among ids (unknown ones left out).
func (s *Service) Users(ctx context.Context, ids []string) []bridge.User {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DirectoryTimeout)
	defer cancel()
	m, derr := s.dir.GetMany(ctx, ids)
	// With RequireKnown an identity alone makes nobody known, unless the
	// site cannot be asked.
	fallback := !s.cfg.RequireKnown || derr != nil
	out := make([]bridge.User, 0, len(ids))
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		if u, ok := m[id]; ok {
			out = append(out, u)
		} else if f, ok := s.caller(id); ok && fallback {
			out = append(out, f)
		}
	}
	return out
}

// UsersFor is Users for a browser caller: each id that nobody knows costs
// CostUnknownID from the caller's bucket (each is a lookup at the host
// site), charged after the answer; a caller in debt gets RATE_LIMITED.
func (s *Service) UsersFor(ctx context.Context, c Caller, ids []string) ([]bridge.User, error) {
	if err := s.limits.take(c.ID, 0); err != nil {
		return nil, err
	}
	out := s.Users(ctx, ids)
	if unknown := len(ids) - len(out); unknown > 0 {
		s.limits.charge(c.ID, float64(unknown)*CostUnknownID)
	}
	return out, nil
}

// checkUserID applies the one rule for user ids (config.ValidUserID) to a
// parameter; empty ones are left to the caller's "is required" checks.
func checkUserID(param, id string) error {
	if id == "" {
		return nil
	}
	if err := config.ValidUserID(id); err != nil {
		return Errorf(CodeBadRequest, "%s is not a valid user id: %v", param, err)
	}
	return nil
}

func (s *Service) me(ctx context.Context, c Caller) bridge.User {
	s.remember(c)
	u, _ := s.User(ctx, c.ID)
	return u
}
