package chat

import (
	"context"
	"sort"
)

// Online returns every online user.
func (s *Service) Online() []string {
	out := withoutGuests(s.hub.AllOnline())
	sort.Strings(out)
	return out
}

// onPresence is the hub's presence callback: tell contacts and the members
// of the user's small rooms; a user who went offline leaves their rooms.
func (s *Service) onPresence(user string, online bool) {
	if IsGuest(user) {
		// Never announced; a guest gone offline leaves the rooms quietly.
		if !online {
			for _, r := range s.allRooms() {
				r.remove(user)
			}
		}
		return
	}
	ev := presenceEvent(user, online)
	sent := map[string]bool{user: true}
	contacts := s.hub.Contacts(user)
	if s.engine.Shared() {
		// The process that saw the change may never have seen the user's
		// hello: their contacts come from the store.
		ctx, cancel := s.storeCtx(context.Background())
		if convs, err := s.store.Conversations(ctx, user, nil, 200); err == nil {
			for _, cv := range convs {
				if cv.With != "" {
					contacts = append(contacts, cv.With)
				}
			}
		}
		cancel()
	}
	var to []string
	for _, u := range contacts {
		if !sent[u] {
			sent[u] = true
			to = append(to, u)
		}
	}
	// Co-members of the user's small rooms, taken before an offline user
	// leaves them, so they hear both the presence and the leave.
	var left []*room
	names, _ := s.roomsFor(Caller{ID: user}) // a private room only if a member
	rooms := make([]*room, 0, len(names))
	for _, name := range names {
		if r := s.lookupRoom(name); r != nil {
			rooms = append(rooms, r)
		}
	}
	// Asked of every room at once: a round trip each, on the first poll
	// of every user, was most of a cluster's presence cost.
	member := s.memberOf(rooms, user)
	for i, r := range rooms {
		if !member[i] {
			continue
		}
		if !online {
			left = append(left, r)
		}
		members, _ := r.small(s.cfg.RoomEventsLimit)
		for _, u := range members {
			if !sent[u] {
				sent[u] = true
				to = append(to, u)
			}
		}
	}
	s.publish(to, presenceKey(user), ev)
	if !online {
		s.queueNotice(noticeJob{offline: user})
	}
	for _, r := range left {
		if r.remove(user) {
			s.roomUserEvent("user_left", r, user, context.Background())
		}
	}
}
