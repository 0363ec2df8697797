package chat

import (
	"context"
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
