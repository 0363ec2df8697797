// Package moderation holds the moderators' actions (issue 16.2): delete a
// message, ban and unban site-wide, kick from a room, clear a room's
// history. Each changes the store, tells the users concerned through their
// streams, and writes an audit entry. It sits between server and chat:
// main → server → moderation → chat, store.
package moderation

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"pollchat/chat"
	"pollchat/store"
)

// Sentinel errors; the HTTP face maps them to protocol codes.
var (
	// ErrNotFound: no such message, room or ban.
	ErrNotFound = errors.New("moderation: not found")
	// ErrInvalid: the action's input is refused (a reason too long, a
	// duration out of range, a user not in the room).
	ErrInvalid = errors.New("moderation: invalid input")
	// ErrUnavailable: the store does not keep records (bans, audit log).
	ErrUnavailable = errors.New("moderation: the store keeps no records")
)

// BanTTL is how long a process trusts what it read of a user's ban. Bans
// are read through this cache on every writing call; a ban or unban made
// on another process of a cluster holds here at most BanTTL later (on the
// process that made it, at once).
const BanTTL = 3 * time.Second

// MaxBan is the longest timed ban; longer ones are for ever.
const MaxBan = 10 * 365 * 24 * time.Hour

// Moderator runs the actions.
type Moderator struct {
	chat  port
	bans  *store.Bans
	audit *store.AuditLog
	// Now is the clock; nil: time.Now.
	Now func() time.Time

	mu    sync.Mutex
	cache map[string]cached // user -> their ban as read at
	fill  singleflight.Group
}

type cached struct {
	ban    store.Ban
	banned bool
	read   time.Time
}

// New returns the moderator over svc; ErrUnavailable when svc's store keeps
// no records.
func New(svc *chat.Service) (*Moderator, error) {
	recs, ok := svc.Store().(store.Records)
	if !ok {
		return nil, ErrUnavailable
	}
	return &Moderator{chat: port{svc}, bans: store.NewBans(recs), audit: store.NewAuditLog(recs), cache: map[string]cached{}}, nil
}

func (m *Moderator) now() time.Time {
	if m.Now != nil {
		return m.Now().UTC()
	}
	return time.Now().UTC()
}

// Action is who acts and why.
type Action struct {
	Who    string // the moderator's user id, or "api"
	Name   string // the moderator's name, when the session gave one
	Reason string
}

func (m *Moderator) log(ctx context.Context, a Action, what string, t store.AuditTarget, details []byte) (*store.AuditEntry, error) {
	if a.Name != "" { // the console shows it beside the id
		n := appendString([]byte(`{"name":`), a.Name)
		if len(details) > 2 {
			details = append(append(n, ','), details[1:]...)
		} else {
			details = append(n, '}')
		}
	}
	e := &store.AuditEntry{Who: a.Who, Action: what, Target: t, Reason: a.Reason, Details: details}
	if err := m.audit.Append(ctx, e); err != nil {
		return nil, fmt.Errorf("moderation: audit: %w", err)
	}
	return e, nil
}

func checkReason(r string) error {
	if len(r) > store.MaxReasonLen {
		return fmt.Errorf("%w: reason longer than %d bytes", ErrInvalid, store.MaxReasonLen)
	}
	return nil
}

// DeleteMessage makes message id a tombstone and tells everyone who has
// it: both participants of a direct conversation, a room's members.
func (m *Moderator) DeleteMessage(ctx context.Context, a Action, id int64) (store.Message, *store.AuditEntry, error) {
	if err := checkReason(a.Reason); err != nil {
		return store.Message{}, nil, err
	}
	ma, ok := m.chat.store().(store.MessageAdmin)
	if !ok {
		return store.Message{}, nil, ErrUnavailable
	}
	tomb, found, err := ma.DeleteMessage(ctx, id)
	if err != nil {
		return store.Message{}, nil, fmt.Errorf("moderation: delete message: %w", err)
	}
	if !found {
		return store.Message{}, nil, fmt.Errorf("%w: no message %d", ErrNotFound, id)
	}
	t := store.AuditTarget{User: tomb.From, Room: tomb.Conv().Room(), Message: id}
	if room := tomb.Conv().Room(); room != "" {
		m.chat.publish(m.chat.members(room), deletedEvent(id, "room", room))
	} else {
		for _, u := range []string{tomb.From, tomb.To} {
			if u == "" {
				continue
			}
			if peer := tomb.Conv().Peer(u); peer != "" {
				m.chat.publish([]string{u}, deletedEvent(id, "with", peer))
			}
		}
	}
	e, err := m.log(ctx, a, "delete_message", t, nil)
	return tomb, e, err
}

func deletedEvent(id int64, key, val string) []byte {
	b := []byte(`{"type":"message_deleted","id":`)
	b = strconv.AppendInt(b, id, 10)
	b = append(b, `,"`+key+`":`...)
	b = appendString(b, val)
	return append(b, '}')
}

// Ban bars user site-wide for d (0: for ever) and tells them.
func (m *Moderator) Ban(ctx context.Context, a Action, user string, d time.Duration) (store.Ban, *store.AuditEntry, error) {
	if err := checkReason(a.Reason); err != nil {
		return store.Ban{}, nil, err
	}
	if d < 0 || d > MaxBan {
		return store.Ban{}, nil, fmt.Errorf("%w: duration must be positive and at most %d days", ErrInvalid, int(MaxBan/(24*time.Hour)))
	}
	now := m.now()
	b := store.Ban{UserID: user, Reason: a.Reason, By: a.Who, At: now}
	if d > 0 {
		b.Until = now.Add(d).Truncate(time.Second)
	}
	if err := m.bans.Ban(ctx, b); err != nil {
		if errors.Is(err, store.ErrInvalid) {
			return store.Ban{}, nil, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		return store.Ban{}, nil, fmt.Errorf("moderation: ban: %w", err)
	}
	m.remember(user, b, true)
	m.chat.publish([]string{user}, bannedEvent(b))
	details := []byte(`{"until":null}`)
	if !b.Until.IsZero() {
		details = append(appendString([]byte(`{"until":`), b.Until.Format(timeFormat)), '}')
	}
	e, err := m.log(ctx, a, "ban", store.AuditTarget{User: user}, details)
	return b, e, err
}

func bannedEvent(b store.Ban) []byte {
	out := []byte(`{"type":"banned","until":`)
	if b.Until.IsZero() {
		out = append(out, "null"...)
	} else {
		out = appendString(out, b.Until.UTC().Format(timeFormat))
	}
	out = append(out, `,"reason":`...)
	out = appendString(out, b.Reason)
	return append(out, '}')
}

// Unban lifts user's ban and tells them; ErrNotFound when none was stored.
func (m *Moderator) Unban(ctx context.Context, a Action, user string) (*store.AuditEntry, error) {
	if err := checkReason(a.Reason); err != nil {
		return nil, err
	}
	found, err := m.bans.Unban(ctx, user)
	if err != nil {
		if errors.Is(err, store.ErrInvalid) {
			return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		return nil, fmt.Errorf("moderation: unban: %w", err)
	}
	m.remember(user, store.Ban{}, false)
	if !found {
		return nil, fmt.Errorf("%w: %s is not banned", ErrNotFound, user)
	}
	m.chat.publish([]string{user}, []byte(`{"type":"unbanned"}`))
	return m.log(ctx, a, "unban", store.AuditTarget{User: user}, nil)
}

// Bans lists the bans that hold now.
func (m *Moderator) Bans(ctx context.Context) ([]store.Ban, error) {
	return m.bans.Bans(ctx)
}

// Banned says whether user is banned now, read through a cache of BanTTL.
// A store that fails lets the user through (and is logged by the caller's
// next store call): a ban gate must not take the chat down with the store.
func (m *Moderator) Banned(ctx context.Context, user string) (store.Ban, bool) {
	now := m.now()
	m.mu.Lock()
	c, ok := m.cache[user]
	m.mu.Unlock()
	if ok && now.Sub(c.read) < BanTTL {
		return c.ban, c.banned && c.ban.Active(now)
	}
	v, _, _ := m.fill.Do(user, func() (any, error) {
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		b, banned, err := m.bans.BannedUntil(sctx, user)
		if err != nil {
			return cached{}, err
		}
		m.remember(user, b, banned)
		return cached{ban: b, banned: banned}, nil
	})
	c = v.(cached)
	return c.ban, c.banned
}

func (m *Moderator) remember(user string, b store.Ban, banned bool) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.cache) > 100000 {
		for k, v := range m.cache {
			if now.Sub(v.read) >= BanTTL {
				delete(m.cache, k)
			}
		}
		if len(m.cache) > 100000 {
			m.cache = map[string]cached{}
		}
	}
	m.cache[user] = cached{ban: b, banned: banned, read: now}
}

// Kick takes user out of room and tells them; ErrInvalid when they are not
// in it.
func (m *Moderator) Kick(ctx context.Context, a Action, user, room string) (*store.AuditEntry, error) {
	if err := checkReason(a.Reason); err != nil {
		return nil, err
	}
	in := false
	for _, u := range m.chat.members(room) {
		if u == user {
			in = true
			break
		}
	}
	if !in {
		return nil, fmt.Errorf("%w: %s is not in room %q", ErrInvalid, user, room)
	}
	if err := m.chat.leave(ctx, user, room); err != nil {
		return nil, err
	}
	ev := appendString([]byte(`{"type":"kicked","room":`), room)
	ev = appendString(append(ev, `,"reason":`...), a.Reason)
	m.chat.publish([]string{user}, append(ev, '}'))
	return m.log(ctx, a, "kick", store.AuditTarget{User: user, Room: room}, nil)
}

// ClearRoom removes every message of room and tells its members; it says
// how many were removed.
func (m *Moderator) ClearRoom(ctx context.Context, a Action, room string) (int, *store.AuditEntry, error) {
	if err := checkReason(a.Reason); err != nil {
		return 0, nil, err
	}
	ma, ok := m.chat.store().(store.MessageAdmin)
	if !ok {
		return 0, nil, ErrUnavailable
	}
	n, err := ma.ClearConversation(ctx, store.RoomConv(room))
	if err != nil {
		return 0, nil, fmt.Errorf("moderation: clear room: %w", err)
	}
	m.chat.publish(m.chat.members(room), append(appendString([]byte(`{"type":"room_cleared","room":`), room), '}'))
	e, err := m.log(ctx, a, "clear_room", store.AuditTarget{Room: room}, []byte(`{"removed":`+strconv.Itoa(n)+`}`))
	return n, e, err
}
