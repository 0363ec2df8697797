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

// ErrNeedsModerator: a console moderator whose site role is member cannot
// mute or unmute; the backend API (Basic auth) is trusted and can.
var ErrNeedsModerator = errors.New("moderation: mute and unmute need the backend API or a moderator session of a site user with a mod, admin or owner role")

// CanMute says whether who (a console moderator's user id, or "api" for
// the backend API's Basic auth) can mute.
func (m *Moderator) CanMute(ctx context.Context, who string) bool {
	return who == backendAPI || (who != "" && m.chat.canModerate(ctx, who))
}

// Mute mutes user in room for d (whole minutes, 1 minute to chat.MaxMute)
// through chat's backend mute, then writes the audit entry.
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
	mu, err := m.chat.mute(ctx, a.Who, room, user, d)
	if err != nil {
		return store.Mute{}, nil, err
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
	if _, err := m.chat.unmute(ctx, a.Who, room, user); err != nil {
		return nil, err
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
