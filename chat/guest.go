package chat

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"

	"pollchat/bridge"
)

// Guests (issue 15.4, rooms.guest_read): a visitor without an identity
// reads the public rooms, their history and live messages, and nothing
// else. A guest's stream has an id that no user id can be (it holds a
// space, which config.ValidUserID refuses), made on hello and carried in
// the guest's cursor ("g" + 16 hex digits + ":" + the engine's cursor),
// since a guest sends nothing else that names them. The stream is a member
// of every public room from hello on; a guest is never listed as a user,
// counted online, or announced (presence, user_joined).

const guestPrefix = "guest "

// Guest hellos make streams and room memberships for callers nobody
// knows, so they share one bucket (across the cluster with Redis): at most
// GuestHelloRate a second, bursts of GuestHelloBurst; past it RATE_LIMITED.
const (
	GuestHelloRate  = 20
	GuestHelloBurst = 200
)

// IsGuest says whether id is a guest's stream.
func IsGuest(id string) bool { return strings.HasPrefix(id, guestPrefix) }

// GuestScope checks what a guest caller may call: hello, poll, history and
// join/leave of a room; send is AUTH_FAILED (an identity is needed),
// anything else FORBIDDEN.
func (c Caller) GuestScope(endpoint string, get func(string) string) *Error {
	switch endpoint {
	case "hello", "poll":
		return nil
	case "history", "join", "leave":
		if get("room") != "" && get("with") == "" && get("system") == "" {
			return nil
		}
	case "send", "typing", "upload", "request", "answer", "read":
		return Errorf(CodeAuthFailed, "guests read only: sign in to write")
	}
	return Errorf(CodeForbidden, "guests may only read the public rooms")
}

// guestCursor wraps an engine cursor for the guest stream id.
func guestCursor(id, cursor string) string {
	return "g" + strings.TrimPrefix(id, guestPrefix) + ":" + cursor
}

// splitGuestCursor returns the guest stream and engine cursor of a guest's
// cursor; ok is false for anything else.
func splitGuestCursor(c string) (id, cursor string, ok bool) {
	if len(c) < 18 || c[0] != 'g' || c[17] != ':' {
		return "", "", false
	}
	if _, err := hex.DecodeString(c[1:17]); err != nil {
		return "", "", false
	}
	return guestPrefix + c[1:17], c[18:], true
}

func newGuestID() string {
	var b [8]byte
	rand.Read(b[:])
	return guestPrefix + hex.EncodeToString(b[:])
}

// guestHello opens a new guest stream, makes it a member of every public
// room and returns the rooms.
func (s *Service) guestHello() (*HelloResult, error) {
	ctx, cancel := engineCtx()
	wait, err := s.engine.Allow(ctx, guestPrefix+"hello", 1, GuestHelloRate, GuestHelloBurst)
	cancel()
	s.errs.count(err)
	if wait > 0 {
		secs := max(int(wait.Seconds()+0.999), 1)
		return nil, &Error{Code: CodeRateLimited, RetryAfter: secs, Message: "too many guests at once; wait " + humanSeconds(secs)}
	}
	id := newGuestID()
	cursor, err := s.hub.Open(id)
	if err != nil {
		return nil, &Error{Code: CodeUnavailable, Message: "the cluster broker is unavailable; try again shortly", Err: err}
	}
	// Seen now: a guest who never polls goes offline after the grace like
	// anyone, which takes their stream out of the rooms again.
	s.hub.Touch(id)
	rooms, info := s.roomsFor(Caller{Guest: true})
	for _, name := range rooms {
		if r := s.lookupRoom(name); r != nil {
			r.add(id)
		}
	}
	return &HelloResult{Guest: true, Cursor: guestCursor(id, cursor), Rooms: rooms, RoomInfo: info,
		Conversations: []ConversationInfo{}, Requests: []RequestInfo{}, Online: []string{}}, nil
}

// guestPark is Park for a guest: the stream comes from the cursor (a
// cursor that names none answers a reset, and the guest says hello again).
func (s *Service) guestPark(run Runner, cursor string, timeout time.Duration, fn func(PollResult)) (PollResult, bool) {
	id, inner, ok := splitGuestCursor(cursor)
	if !ok {
		return PollResult{Reset: true}, false
	}
	wrap := func(r PollResult) PollResult {
		if r.Cursor != "" {
			r.Cursor = guestCursor(id, r.Cursor)
		}
		return r
	}
	res, parked := s.hub.ParkOn(run, id, inner, nil, jitter(timeout), func(r PollResult) { fn(wrap(r)) })
	return wrap(res), parked
}

// guestJoin answers a guest's join of a public room: its state, without
// membership (the guest's stream is a member since hello).
func (s *Service) guestJoin(ctx context.Context, c Caller, name string) (*RoomState, error) {
	r, err := s.roomFor(c, name)
	if err != nil {
		return nil, err
	}
	return s.roomState(ctx, bridge.User{Role: bridge.RoleMember}, r, true)
}

// guestPoll is Poll for a guest.
func (s *Service) guestPoll(cursor string, timeout time.Duration, done <-chan struct{}) PollResult {
	id, inner, ok := splitGuestCursor(cursor)
	if !ok {
		return PollResult{Reset: true}
	}
	r := s.hub.Poll(id, inner, jitter(timeout), done)
	if r.Cursor != "" {
		r.Cursor = guestCursor(id, r.Cursor)
	}
	return r
}

// withoutGuests drops guest streams from a list of users.
func withoutGuests(ids []string) []string {
	for i, id := range ids {
		if IsGuest(id) {
			out := append([]string(nil), ids[:i]...)
			for _, id := range ids[i+1:] {
				if !IsGuest(id) {
					out = append(out, id)
				}
			}
			return out
		}
	}
	return ids
}
