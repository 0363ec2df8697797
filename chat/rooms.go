package chat

import (
	"context"
	"encoding/json"
	"sort"
	"strconv"

	"pollchat/bridge"
)

// room is a configured room; its membership is the engine's (every
// process sees the same members in a cluster). When the engine fails, the
// room behaves as empty for fan-out (messages stay stored and show in
// history) rather than blocking a send; the failure is counted.
type room struct {
	name   string
	engine Engine
	errs   *engineErrors
}

// add reports whether user was not a member before.
func (r *room) add(user string) bool {
	ctx, cancel := engineCtx()
	defer cancel()
	added, err := r.engine.RoomAdd(ctx, r.name, user)
	return r.errs.count(err) == nil && added
}

// remove reports whether user was a member.
func (r *room) remove(user string) bool {
	ctx, cancel := engineCtx()
	defer cancel()
	removed, err := r.engine.RoomRemove(ctx, r.name, user)
	return r.errs.count(err) == nil && removed
}

func (r *room) has(user string) bool {
	ctx, cancel := engineCtx()
	defer cancel()
	ok, err := r.engine.RoomHas(ctx, r.name, user)
	return r.errs.count(err) == nil && ok
}

// memberOf says for each of rooms whether user is a member, in one
// engine call (rooms share the service's engine); when it fails, of none.
func (s *Service) memberOf(rooms []*room, user string) []bool {
	if len(rooms) == 0 {
		return nil
	}
	names := make([]string, len(rooms))
	for i, r := range rooms {
		names[i] = r.name
	}
	ctx, cancel := engineCtx()
	defer cancel()
	in, err := s.engine.RoomHasEach(ctx, names, user)
	if s.errs.count(err) != nil || len(in) != len(rooms) {
		return make([]bool, len(rooms))
	}
	return in
}

// snapshot returns the members; the slice must not be changed.
func (r *room) snapshot() []string {
	ctx, cancel := engineCtx()
	defer cancel()
	m, err := r.engine.RoomMembers(ctx, r.name)
	if r.errs.count(err) != nil {
		return nil
	}
	return m
}

// small returns the members when there are at most limit of them; ok is
// false for a larger room (and when the engine fails). It does not read a
// large room's list. The slice must not be changed.
func (r *room) small(limit int) (members []string, ok bool) {
	ctx, cancel := engineCtx()
	defer cancel()
	m, n, err := r.engine.RoomMembersUpTo(ctx, r.name, limit)
	if r.errs.count(err) != nil || n > limit {
		return nil, false
	}
	return m, true
}

// MuteInfo is a mute as join shows it to moderators.
type MuteInfo struct {
	Mins      int    `json:"mins"`
	ExpiresAt string `json:"expires_at"`
}

// RoomState is join's and leave's answer.
type RoomState struct {
	Name  string                 `json:"name"`
	Users map[string]bridge.User `json:"users"`
	// Count is the number of members (rooms past RoomEventsLimit list only
	// the first RoomEventsLimit users).
	Count   int            `json:"count"`
	History []*WireMessage `json:"history"`
	// Mutes is nil for members (no "mutes" key) and a map, empty when
	// nobody is muted, for mod/admin/owner.
	Mutes map[string]MuteInfo `json:"-"`
	// NoHistory leaves "history" out (leave's answer).
	NoHistory bool `json:"-"`
}

// MarshalJSON writes the room state: "history" is always a list (absent
// with NoHistory) and
// "mutes" is there (maybe {}) exactly when Mutes is not nil, so a
// moderator can tell "nobody is muted" from "you may not see mutes".
func (st *RoomState) MarshalJSON() ([]byte, error) {
	type plain RoomState
	w := struct {
		*plain
		History *[]*WireMessage      `json:"history,omitempty"`
		Mutes   *map[string]MuteInfo `json:"mutes,omitempty"`
	}{plain: (*plain)(st)}
	if !st.NoHistory {
		h := st.History
		if h == nil {
			h = []*WireMessage{}
		}
		w.History = &h
	}
	if st.Mutes != nil {
		w.Mutes = &st.Mutes
	}
	return json.Marshal(w)
}

// Join adds the caller to a room and returns its state.
func (s *Service) Join(ctx context.Context, c Caller, name string) (*RoomState, error) {
	if name == "" {
		return nil, Errorf(CodeBadRequest, "room is required")
	}
	if c.Guest {
		return s.guestJoin(ctx, c, name)
	}
	me := s.me(ctx, c)
	r, err := s.roomFor(c, name)
	if err != nil {
		return nil, err
	}
	// A muted user may not (re)join: a join is a user_joined event to
	// every member. One who is a member still (a reload) gets the state.
	if !r.has(c.ID) {
		if err := s.mutedErr(r, c.ID); err != nil {
			return nil, err
		}
	}
	if err := s.limits.take(c.ID, CostSend); err != nil {
		return nil, err
	}
	if r.add(c.ID) {
		s.roomUserEventUser("user_joined", r, me)
	}
	// Joining counts as being seen, like a poll without a cursor: the
	// member is online from now, and a client that joins but never polls
	// goes offline after presence.grace and so leaves the room, instead of
	// staying a member for ever.
	s.hub.Touch(c.ID)
	// The joiner's block list must hold on every process that fans out
	// this room's messages.
	sctx, cancel := s.storeCtx(ctx)
	if len(s.blocks.get(sctx, s.store, c.ID)) > 0 {
		s.broadcast(Control{Kind: ControlBlocks, Users: []string{c.ID}})
	}
	cancel()
	return s.roomState(ctx, me, r, true)
}

// Leave removes the caller from a room and returns its state.
func (s *Service) Leave(ctx context.Context, c Caller, name string) (*RoomState, error) {
	if name == "" {
		return nil, Errorf(CodeBadRequest, "room is required")
	}
	if c.Guest {
		// A guest's stream stays a member of the public rooms.
		r, err := s.roomFor(c, name)
		if err != nil {
			return nil, err
		}
		return s.roomState(ctx, bridge.User{Role: bridge.RoleMember}, r, false)
	}
	me := s.me(ctx, c)
	r, err := s.room(name)
	if err != nil {
		return nil, err
	}
	if err := s.limits.take(c.ID, CostSend); err != nil {
		return nil, err
	}
	if r.remove(c.ID) {
		s.roomUserEventUser("user_left", r, me)
	}
	return s.roomState(ctx, me, r, false)
}

func (s *Service) roomUserEvent(typ string, r *room, user string, ctx context.Context) {
	u, ok := s.User(ctx, user)
	if !ok {
		u = bridge.User{ID: user, Name: "User " + user, Role: bridge.RoleMember}
	}
	s.roomUserEventUser(typ, r, u)
}

// roomUserEventUser tells the members of a small room that u joined or left.
func (s *Service) roomUserEventUser(typ string, r *room, u bridge.User) {
	if IsGuest(u.ID) {
		return
	}
	members, _ := r.small(s.cfg.RoomEventsLimit)
	to := make([]string, 0, len(members))
	for _, m := range members {
		if m != u.ID {
			to = append(to, m)
		}
	}
	s.hub.PublishMany(to, roomKey(r.name), roomUserEvent(typ, r.name, u)) // a failure is counted
}

func (s *Service) roomState(ctx context.Context, me bridge.User, r *room, withHistory bool) (*RoomState, error) {
	members := withoutGuests(r.snapshot())
	st := &RoomState{Name: r.name, Count: len(members), History: []*WireMessage{}}
	list := members
	if len(list) > s.cfg.RoomEventsLimit {
		list = append([]string(nil), list...)
		sort.Strings(list)
		list = list[:s.cfg.RoomEventsLimit]
	}
	users := s.userMap(ctx, list)
	st.Users = make(map[string]bridge.User, len(list))
	for _, id := range list {
		st.Users[id] = users[id]
	}
	if withHistory && s.cfg.History > 0 {
		msgs, _, err := s.History(ctx, Caller{ID: me.ID}, HistoryParams{Room: r.name, Limit: s.cfg.History})
		if err != nil {
			return nil, err
		}
		for i := range msgs {
			st.History = append(st.History, (*WireMessage)(&msgs[i]))
		}
	}
	if me.CanModerate() {
		st.Mutes = map[string]MuteInfo{}
		for _, m := range s.mutes.list(r.name, s.now()) {
			st.Mutes[m.UserID] = MuteInfo{Mins: m.Mins, ExpiresAt: m.ExpiresAt.UTC().Format(TimeFormat)}
		}
	}
	return st, nil
}

// RoomMembers returns the members of a room (for tests and the API).
func (s *Service) RoomMembers(name string) []string {
	r := s.lookupRoom(name)
	if r == nil {
		return nil
	}
	out := append([]string(nil), withoutGuests(r.snapshot())...)
	sort.Strings(out)
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }
