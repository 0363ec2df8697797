package chat

import (
	"context"
	"math"
	"pollchat/store"
	"sort"
	"sync"
	"time"
)

type mutes struct {
	// op makes a change's store write and its memory update one step, so
	// that an expiry deleting a mute's row cannot delete the row of a new
	// mute given to the same user at that moment. Taken before mu.
	op sync.Mutex
	mu sync.Mutex
	m  map[string]map[string]store.Mute // room -> user -> mute
}

func (ms *mutes) load(ctx context.Context, st store.Store) error {
	all, err := st.Mutes(ctx)
	if err != nil {
		return storeErr(err)
	}
	ms.mu.Lock()
	defer ms.mu.Unlock()
	ms.m = make(map[string]map[string]store.Mute)
	for _, m := range all {
		ms.setLocked(m)
	}
	return nil
}

func (ms *mutes) setLocked(m store.Mute) {
	if ms.m[m.Room] == nil {
		ms.m[m.Room] = make(map[string]store.Mute)
	}
	ms.m[m.Room][m.UserID] = m
}

func (ms *mutes) set(m store.Mute) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	ms.setLocked(m)
}

func (ms *mutes) del(room, user string) bool {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	_, ok := ms.m[room][user]
	delete(ms.m[room], user)
	return ok
}

func (ms *mutes) get(room, user string, now time.Time) (store.Mute, bool) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	m, ok := ms.m[room][user]
	if !ok || !m.ExpiresAt.After(now) {
		return store.Mute{}, false
	}
	return m, true
}

func (ms *mutes) list(room string, now time.Time) []store.Mute {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	var out []store.Mute
	for _, m := range ms.m[room] {
		if m.ExpiresAt.After(now) {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UserID < out[j].UserID })
	return out
}

// expired removes and returns the mutes that have ended.
func (ms *mutes) expired(now time.Time) []store.Mute {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	var out []store.Mute
	for room, um := range ms.m {
		for u, m := range um {
			if !m.ExpiresAt.After(now) {
				out = append(out, m)
				delete(um, u)
			}
		}
		if len(um) == 0 {
			delete(ms.m, room)
		}
	}
	return out
}

// expireMutes ends mutes whose time has come: stored rows deleted, the
// room told.
func (s *Service) expireMutes() {
	s.mutes.op.Lock()
	defer s.mutes.op.Unlock()
	for _, m := range s.mutes.expired(s.now()) {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.StoreTimeout)
		found, err := s.store.DeleteMute(ctx, m.Room, m.UserID)
		cancel()
		if err != nil {
			s.log.Warn("chat: delete expired mute", "room", m.Room, "user", m.UserID, "err", err)
			continue
		}
		// In a cluster every process expires its copy; the one whose delete
		// found the row tells the room, so members hear it once.
		if r := s.lookupRoom(m.Room); r != nil && found {
			s.publish(r.snapshot(), "", unmutedEvent(m.Room, m.UserID))
		}
	}
}

// mutedErr is MUTED when user is muted in r, else nil.
func (s *Service) mutedErr(r *room, user string) error {
	if m, ok := s.mutes.get(r.name, user, s.now()); ok {
		left := int(m.ExpiresAt.Sub(s.now()).Seconds() + 0.999)
		return &Error{Code: CodeMuted, RetryAfter: left,
			Message: "you are muted in " + r.name + " for " + humanSeconds(left)}
	}
	return nil
}

// applyMute stores user's mute in r by by, tells every process and the
// room (and the user, if not a member). The caller holds s.mutes.op.
func (s *Service) applyMute(ctx context.Context, by string, r *room, user string, d time.Duration) (store.Mute, error) {
	m := store.Mute{Room: r.name, UserID: user, By: by,
		Mins:      int(math.Ceil(d.Minutes())),
		ExpiresAt: s.now().Add(d).UTC()}
	if err := s.store.SaveMute(ctx, m); err != nil {
		return store.Mute{}, storeErr(err)
	}
	s.mutes.set(m)
	s.broadcast(Control{Kind: ControlMutes})
	s.hub.PublishMany(r.snapshot(), "", mutedEvent(m))
	if !r.has(user) {
		s.hub.Publish(user, "", mutedEvent(m))
	}
	return m, nil
}

// applyUnmute ends user's mute in r; false if there was none here. The
// caller holds s.mutes.op.
func (s *Service) applyUnmute(ctx context.Context, r *room, user string) (bool, error) {
	if _, err := s.store.DeleteMute(ctx, r.name, user); err != nil {
		return false, storeErr(err)
	}
	s.broadcast(Control{Kind: ControlMutes})
	if !s.mutes.del(r.name, user) {
		return false, nil
	}
	s.hub.PublishMany(r.snapshot(), "", unmutedEvent(r.name, user))
	return true, nil
}

// BackendAPI is the by of a mute given through the backend API's Basic
// auth: trusted, no site role needed.
const BackendAPI = "api"

// Mute mutes user in room for d (1 second to MaxMute), the backend's /mute:
// the same store row, control message and user_muted event. by is
// BackendAPI (trusted) or a site user's id, who then needs a moderating
// role ranked above user's, as for the command.
func (s *Service) Mute(ctx context.Context, by, room, user string, d time.Duration) (store.Mute, error) {
	if d < time.Second || d > MaxMute {
		return store.Mute{}, Errorf(CodeBadRequest, "a mute lasts 1 second to %d days", int(MaxMute/(24*time.Hour)))
	}
	r, target, err := s.backendMuteTarget(ctx, by, room, user)
	if err != nil {
		return store.Mute{}, err
	}
	sctx, cancel := s.storeCtx(ctx)
	defer cancel()
	s.mutes.op.Lock()
	defer s.mutes.op.Unlock()
	return s.applyMute(sctx, by, r, target, d)
}

// Unmute ends user's mute in room, the backend's /unmute; false if user was
// not muted there. by as for Mute.
func (s *Service) Unmute(ctx context.Context, by, room, user string) (bool, error) {
	r, target, err := s.backendMuteTarget(ctx, by, room, user)
	if err != nil {
		return false, err
	}
	sctx, cancel := s.storeCtx(ctx)
	defer cancel()
	s.mutes.op.Lock()
	defer s.mutes.op.Unlock()
	return s.applyUnmute(sctx, r, target)
}

func (s *Service) backendMuteTarget(ctx context.Context, by, room, user string) (*room, string, error) {
	r := s.lookupRoom(room)
	if r == nil {
		return nil, "", Errorf(CodeNotFound, "no room %q", room)
	}
	target, ok := s.User(ctx, user)
	if !ok {
		return nil, "", Errorf(CodeNotFound, "no user %q", user)
	}
	if by == BackendAPI {
		return r, target.ID, nil
	}
	me, ok := s.User(ctx, by)
	if !ok || !me.CanModerate() {
		return nil, "", Errorf(CodeForbidden, "only moderators can mute")
	}
	if target.ID == me.ID {
		return nil, "", Errorf(CodeForbidden, "cannot mute or unmute yourself")
	}
	if rank(target.Role) >= rank(me.Role) {
		return nil, "", Errorf(CodeForbidden, "cannot mute or unmute a user whose role is not below yours")
	}
	return r, target.ID, nil
}
