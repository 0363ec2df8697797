package moderation

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"pollchat/chat"
	"pollchat/store"
)

// ErrNeedsModerator: mute and unmute are room commands in chat, which acts
// on a site user's role; the backend's Basic auth is nobody, and a console
// moderator whose site role is member cannot use them.
var ErrNeedsModerator = errors.New("moderation: mute and unmute need a moderator session of a site user with a mod, admin or owner role")

// CanMute says whether who (a console moderator's user id, or "api") can
// mute: chat exports no mute for the backend, so it is done as who.
func (m *Moderator) CanMute(ctx context.Context, who string) bool {
	return who != "" && who != "api" && m.chat.canModerate(ctx, who)
}

// Mute mutes user in room for d (whole minutes, 1 minute to chat.MaxMute)
// by sending chat's /mute command as the moderator, then reads the store to
// see that it took: chat answers a command's failures to the moderator's
// stream, not to its caller.
func (m *Moderator) Mute(ctx context.Context, a Action, room, user string, d time.Duration) (store.Mute, *store.AuditEntry, error) {
	if err := checkReason(a.Reason); err != nil {
		return store.Mute{}, nil, err
	}
	if d < time.Minute || d > chat.MaxMute || d%time.Minute != 0 {
		return store.Mute{}, nil, fmt.Errorf("%w: minutes must be 1..%d", ErrInvalid, int(chat.MaxMute/time.Minute))
	}
	if !m.CanMute(ctx, a.Who) {
		return store.Mute{}, nil, ErrNeedsModerator
	}
	if err := m.chat.command(ctx, a.Who, room, "/mute "+user+" "+strconv.Itoa(int(d/time.Minute))); err != nil {
		return store.Mute{}, nil, err
	}
	mu, ok, err := m.mute(ctx, room, user)
	if err != nil {
		return store.Mute{}, nil, err
	}
	if !ok || mu.By != a.Who {
		return store.Mute{}, nil, fmt.Errorf("%w: %s could not be muted in %q (unknown to the site?)", ErrInvalid, user, room)
	}
	e, err := m.log(ctx, a, "mute", store.AuditTarget{User: user, Room: room}, []byte(`{"minutes":`+strconv.Itoa(mu.Mins)+`}`))
	return mu, e, err
}

// Unmute ends user's mute in room, as Mute does it.
func (m *Moderator) Unmute(ctx context.Context, a Action, room, user string) (*store.AuditEntry, error) {
	if err := checkReason(a.Reason); err != nil {
		return nil, err
	}
	if !m.CanMute(ctx, a.Who) {
		return nil, ErrNeedsModerator
	}
	if _, ok, err := m.mute(ctx, room, user); err != nil {
		return nil, err
	} else if !ok {
		return nil, fmt.Errorf("%w: %s is not muted in %q", ErrNotFound, user, room)
	}
	if err := m.chat.command(ctx, a.Who, room, "/unmute "+user); err != nil {
		return nil, err
	}
	if _, ok, err := m.mute(ctx, room, user); err != nil {
		return nil, err
	} else if ok {
		return nil, fmt.Errorf("%w: %s is still muted in %q", ErrInvalid, user, room)
	}
	return m.log(ctx, a, "unmute", store.AuditTarget{User: user, Room: room}, nil)
}

// mute returns user's mute in room that holds now.
func (m *Moderator) mute(ctx context.Context, room, user string) (store.Mute, bool, error) {
	list, err := m.chat.store().Mutes(ctx)
	if err != nil {
		return store.Mute{}, false, fmt.Errorf("moderation: mutes: %w", err)
	}
	now := m.now()
	for _, mu := range list {
		if mu.Room == room && mu.UserID == user && mu.ExpiresAt.After(now) {
			return mu, true, nil
		}
	}
	return store.Mute{}, false, nil
}
