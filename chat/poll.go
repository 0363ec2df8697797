package chat

import (
	"context"
	"pollchat/bridge"
	"time"
)

// Hello opens a stream; Park and Poll answer from it (hub.go).

// ConversationInfo is one line of hello's conversation list.
type ConversationInfo struct {
	With string `json:"with,omitempty"`
	Room string `json:"room,omitempty"`
	// System marks the conversation of system messages sent to the user
	// (backend API messages without from); history and read take system=1.
	System bool         `json:"system,omitempty"`
	Unread int          `json:"unread"`
	Last   *WireMessage `json:"last_message"`
}

// RequestInfo is a pending incoming chat request.
type RequestInfo = requestWire

// HelloResult is hello's answer.
type HelloResult struct {
	Me            bridge.User        `json:"me"`
	Cursor        string             `json:"cursor"`
	Conversations []ConversationInfo `json:"conversations"`
	Requests      []RequestInfo      `json:"requests"`
	// Rooms are the rooms the user may join: the static ones, the public
	// created ones and the private ones they are a member of; RoomInfo
	// says each created one's title and whether it is private.
	Rooms    []string            `json:"rooms"`
	RoomInfo map[string]RoomInfo `json:"room_info"`
	Online   []string            `json:"online"`
	// Guest marks a guest's hello (rooms.guest_read): no me, only rooms.
	Guest bool `json:"guest,omitempty"`
}

// Hello opens the caller's stream and returns their state.
func (s *Service) Hello(ctx context.Context, c Caller) (*HelloResult, error) {
	if c.Guest {
		return s.guestHello()
	}
	me := s.me(ctx, c)
	s.setLang(c)
	// Open the stream first: whatever is published from here on is in it,
	// and what the store shows below may repeat some of it (ids dedupe).
	cursor, err := s.hub.Open(c.ID)
	if err != nil {
		return nil, &Error{Code: CodeUnavailable, Message: "the cluster broker is unavailable; try again shortly", Err: err}
	}
	sctx, cancel := s.storeCtx(ctx)
	defer cancel()
	rooms, info := s.roomsFor(c)
	convs, err := s.store.Conversations(sctx, c.ID, rooms, 100)
	if err != nil {
		return nil, storeErr(err)
	}
	reqs, err := s.store.Requests(sctx, c.ID)
	if err != nil {
		return nil, storeErr(err)
	}
	blocked := s.blocks.get(sctx, s.store, c.ID)
	res := &HelloResult{Me: me, Cursor: cursor, Rooms: rooms, RoomInfo: info,
		Conversations: make([]ConversationInfo, 0, len(convs)), Requests: make([]RequestInfo, 0, len(reqs))}
	var contacts []string
	for _, cv := range convs {
		if cv.With != "" {
			if _, b := blocked[cv.With]; b {
				continue
			}
			contacts = append(contacts, cv.With)
		}
		ci := ConversationInfo{With: cv.With, Room: cv.Room, Unread: cv.Unread, System: cv.With == "" && cv.Room == ""}
		if cv.Last != nil {
			ci.Last = (*WireMessage)(cv.Last)
		}
		res.Conversations = append(res.Conversations, ci)
	}
	s.hub.SetContacts(c.ID, contacts)
	if len(reqs) > 0 {
		ids := make([]string, len(reqs))
		for i, r := range reqs {
			ids[i] = r.From
		}
		users := s.userMap(ctx, ids)
		for _, r := range reqs {
			if _, b := blocked[r.From]; b {
				continue
			}
			res.Requests = append(res.Requests, wireRequest(users[r.From], r))
		}
	}
	res.Online = withoutGuests(s.hub.OnlineUsers(c.ID, s.hub.Contacts(c.ID), 200))
	if c.With != "" {
		scopeHello(res, c)
	} else {
		s.autoJoin(c, me)
	}
	return res, nil
}

// autoJoin joins the caller to Config.AutoJoin (Moneypot's lobby), unless
// they are muted there: a join is a user_joined event to its members.
func (s *Service) autoJoin(c Caller, me bridge.User) {
	r := s.rooms[s.cfg.AutoJoin]
	if r == nil || s.mutedErr(r, c.ID) != nil {
		return
	}
	if r.add(c.ID) {
		s.roomUserEventUser("user_joined", r, me)
	}
}

func (s *Service) userMap(ctx context.Context, ids []string) map[string]bridge.User {
	m := make(map[string]bridge.User, len(ids))
	for _, u := range s.Users(ctx, ids) {
		m[u.ID] = u
	}
	for _, id := range ids {
		if _, ok := m[id]; !ok {
			m[id] = bridge.User{ID: id, Name: "User " + id, Role: bridge.RoleMember}
		}
	}
	return m
}

// Remember keeps what an identity (or a popup link's name and thumbUrl)
// says of its user, the fallback when the directory knows nothing better.
func (s *Service) Remember(c Caller) { s.remember(c) }

// loadContacts gives a user who polls without a hello (the eStreamChat
// Messenger script never says hello) their contacts before they come
// online, so that the contacts hear it. One store read per stream: a
// stream that has contacts (hello, or an earlier poll) is left alone.
func (s *Service) loadContacts(user string) {
	if s.hub.ContactsLoaded(user) {
		return
	}
	ctx, cancel := s.storeCtx(context.Background())
	defer cancel()
	convs, err := s.store.Conversations(ctx, user, nil, 200)
	if err != nil {
		return
	}
	contacts := make([]string, 0, len(convs))
	for _, cv := range convs {
		if cv.With != "" {
			contacts = append(contacts, cv.With)
		}
	}
	s.hub.SetContacts(user, contacts)
}

// Seen marks the caller online (with the usual grace) as a poll would,
// telling their contacts when they come online: the eStreamChat
// MessengerCommand.ashx polls, which are not long polls.
func (s *Service) Seen(c Caller) {
	s.prepare(c)
	s.hub.Touch(c.ID)
}

// prepare does what every poll of c does first: remember the caller
// (remember) and load their contacts (loadContacts). Both ask the stream
// the poll is about to use: it holds the caller's entry, so that a poll
// saying nothing new does not look it up in s.callers again. It returns
// that stream, for the poll to park on without a second lookup.
func (s *Service) prepare(c Caller) *stream {
	st := s.hub.get(c.ID, true)
	st.mu.Lock()
	e, loaded := st.caller, st.contacts != nil
	st.mu.Unlock()
	if e != nil && !e.gone.Load() && e.matches(c) {
		e.see(s.now().Unix())
	} else {
		e = s.callerFor(c)
		st.mu.Lock()
		st.caller = e
		st.mu.Unlock()
	}
	if !loaded {
		s.loadContacts(c.ID)
	}
	return st
}

// Park is Poll without a goroutine while it waits: see Hub.Park.
func (s *Service) Park(c Caller, cursor string, timeout time.Duration, fn func(PollResult)) (PollResult, bool) {
	return s.ParkOn(nil, c, cursor, timeout, fn)
}

// ParkOn is Park with the poll's end run by run (see Hub.ParkOn).
func (s *Service) ParkOn(run Runner, c Caller, cursor string, timeout time.Duration, fn func(PollResult)) (PollResult, bool) {
	if c.Guest {
		return s.guestPark(run, cursor, timeout, fn)
	}
	st := s.prepare(c)
	var keep func(string) bool
	if c.With != "" {
		keep = scopeFilter(c)
	}
	// parkOn looks again if Reap dropped st since (see parkOn).
	res, w := s.hub.parkOn(st, c.ID, cursor, jitter(timeout), keep, run, fn)
	return res, w != nil
}

// Poll answers the caller's events after cursor, parking up to timeout.
func (s *Service) Poll(c Caller, cursor string, timeout time.Duration, done <-chan struct{}) PollResult {
	if c.Guest {
		return s.guestPoll(cursor, timeout, done)
	}
	s.prepare(c)
	if c.With != "" {
		return s.hub.PollScoped(c.ID, cursor, scopeFilter(c), jitter(timeout), done)
	}
	return s.hub.Poll(c.ID, cursor, jitter(timeout), done)
}
