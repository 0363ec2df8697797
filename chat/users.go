package chat

import (
	"context"
	"errors"
	"pollchat/bridge"
	"pollchat/config"
	"sync"
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
	// gone: the entry left s.callers (replaced or dropped). A stream's
	// cached entry (stream.caller) is used only while it is not gone.
	gone atomic.Bool
}

// matches says whether c says nothing new of e's user.
func (e *callerEntry) matches(c Caller) bool {
	return (c.Name == "" || e.user.Name == c.Name) && (c.AvatarURL == "" || e.user.AvatarURL == c.AvatarURL)
}

// see marks e used at now (unix seconds).
func (e *callerEntry) see(now int64) {
	if e.seen.Load() != now {
		e.seen.Store(now)
	}
}

// callerTTL is how long a user's identity data is kept after their last
// request (the fallback when the directory knows nothing of them).
const callerTTL = 24 * time.Hour

// remember keeps what an identity says of its user, the fallback when the
// directory knows nothing better.
func (s *Service) remember(c Caller) { s.callerFor(c) }

// callerFor is remember returning c's entry.
func (s *Service) callerFor(c Caller) *callerEntry {
	if v, ok := s.callers.Load(c.ID); ok {
		if e := v.(*callerEntry); e.matches(c) {
			e.see(s.now().Unix())
			return e
		}
	}
	name := c.Name
	if name == "" {
		name = "User " + c.ID
	}
	return s.storeCaller(bridge.User{ID: c.ID, Name: name, AvatarURL: c.AvatarURL, Role: bridge.RoleMember}, true)
}

// storeCaller keeps what an identity said of a user. In a cluster a new
// or changed entry is told to the other processes (tell), so that a user
// known from their identity alone is known on every process: a send to
// them through another process finds them.
func (s *Service) storeCaller(u bridge.User, tell bool) *callerEntry {
	e := &callerEntry{user: u}
	e.seen.Store(s.now().Unix())
	if old, ok := s.callers.Swap(u.ID, e); ok {
		old.(*callerEntry).gone.Store(true)
	}
	if tell && !s.cfg.RequireKnown && s.engine.Shared() {
		s.tells.add(s, CallerInfo{ID: u.ID, Name: u.Name, AvatarURL: u.AvatarURL})
	}
	return e
}

// callerTells is the queue of callers storeCaller tells the other
// processes of, drained off the request path by one goroutine while it is
// not empty. (A goroutine per new caller, as before, made 15,000 of them,
// each asking the directory alone, when 15,000 users arrived within 25 s.)
type callerTells struct {
	mu      sync.Mutex
	q       []CallerInfo
	running bool
}

// add queues c and starts the drain unless it runs.
func (t *callerTells) add(s *Service, c CallerInfo) {
	t.mu.Lock()
	t.q = append(t.q, c)
	start := !t.running
	t.running = true
	t.mu.Unlock()
	if start {
		go t.drain(s)
	}
}

// drain tells the other processes of the queued callers the directory
// does not know (the others are known everywhere), asking it once per
// batch, until the queue is empty.
func (t *callerTells) drain(s *Service) {
	var batch []CallerInfo
	var ids []string
	for {
		t.mu.Lock()
		batch, t.q = t.q, batch[:0]
		if len(batch) == 0 {
			t.running = false
			t.mu.Unlock()
			return
		}
		t.mu.Unlock()
		ids = ids[:0]
		for _, c := range batch {
			ids = append(ids, c.ID)
		}
		ctx, cancel := context.WithTimeout(context.Background(), DirectoryTimeout)
		known, err := s.dir.GetMany(ctx, ids)
		cancel()
		for _, c := range batch {
			if _, ok := known[c.ID]; ok {
				continue
			}
			if err != nil {
				// Some could not be looked up: this one may be known
				// after all. Ask for it alone, as a lone caller is.
				go s.tellIfUnknown(c)
				continue
			}
			s.broadcast(Control{Kind: ControlCaller, Caller: c})
		}
		clear(batch)
	}
}

// tellIfUnknown tells the other processes of c when the directory says
// it does not know them (not when it cannot be asked).
func (s *Service) tellIfUnknown(c CallerInfo) {
	ctx, cancel := context.WithTimeout(context.Background(), DirectoryTimeout)
	_, err := s.dir.Get(ctx, c.ID)
	cancel()
	if errors.Is(err, bridge.ErrUnknownUser) {
		s.broadcast(Control{Kind: ControlCaller, Caller: c})
	}
}

// Forget drops what identities said of ids and ends their parked polls
// (answered with no events), so that a user the site no longer knows is
// refused on their next call at once: the backend API's users/invalidate.
func (s *Service) Forget(ids ...string) {
	for _, id := range ids {
		if old, ok := s.callers.LoadAndDelete(id); ok {
			old.(*callerEntry).gone.Store(true)
		}
		s.hub.Wake(id)
	}
}

// Warm reports whether a poll of c has what it reads at hand: the
// directory's entry (when users must be known) and the stream's contacts.
// A poll that is not warm may wait for the directory or the store (on the
// first poll after a user's stream was dropped, or when the directory's
// cache has let the user go).
func (s *Service) Warm(c Caller) bool {
	if c.Guest {
		return true
	}
	if s.cfg.RequireKnown {
		if _, _, ok := s.dir.Cached(c.ID); !ok {
			return false
		}
	}
	return s.hub.ContactsLoaded(c.ID)
}

// Admit refuses a caller the site does not know when RequireKnown is set:
// FORBIDDEN, on hello and every call. A host site that cannot be asked
// (ErrSourceDown) does not lock its members out.
func (s *Service) Admit(ctx context.Context, c Caller) error {
	if !s.cfg.RequireKnown || c.Guest {
		return nil
	}
	// From the cache when it can (every poll of a user it keeps): no
	// timeout context, which costs a timer and allocations per call.
	_, known, ok := s.dir.Cached(c.ID)
	if !ok {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DirectoryTimeout)
		_, err := s.dir.Get(ctx, c.ID)
		cancel()
		known = !errors.Is(err, bridge.ErrUnknownUser)
	}
	if !known {
		return Errorf(CodeForbidden, "user %s is unknown to the site (not a member, banned or deleted)", c.ID)
	}
	return nil
}

// forgetCallers drops identity data not used for callerTTL.
func (s *Service) forgetCallers() {
	cutoff := s.now().Add(-callerTTL).Unix()
	s.callers.Range(func(k, v any) bool {
		if e := v.(*callerEntry); e.seen.Load() < cutoff && s.callers.CompareAndDelete(k, v) {
			e.gone.Store(true)
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
