package moderation

import (
	"context"
	"time"

	"pollchat/chat"
	"pollchat/store"
)

// port is everything moderation uses of chat, in one place: chat's owner
// may change the Hub's internals, and only this file follows them.
type port struct{ svc *chat.Service }

// publish appends one event to several users' streams (either engine).
// Moderation events carry no conversation key, so a popup's scoped poll
// (one conversation) does not get them; the user's widget does.
func (p port) publish(users []string, event []byte) {
	p.svc.Hub().PublishMany(users, "", event)
}

// members returns a room's members.
func (p port) members(room string) []string { return p.svc.RoomMembers(room) }

// leave takes user out of room, as if they had left.
func (p port) leave(ctx context.Context, user, room string) error {
	_, err := p.svc.Leave(ctx, chat.Caller{ID: user}, room)
	return err
}

// mute mutes user in room for d as by (chat.BackendAPI or a site
// moderator's id): chat's own mute path, store, cluster and events.
func (p port) mute(ctx context.Context, by, room, user string, d time.Duration) (store.Mute, error) {
	return p.svc.Mute(ctx, by, room, user, d)
}

// unmute ends user's mute in room as by; false if there was none.
func (p port) unmute(ctx context.Context, by, room, user string) (bool, error) {
	return p.svc.Unmute(ctx, by, room, user)
}

// backendAPI is the who of the backend API's Basic auth.
const backendAPI = chat.BackendAPI

// canModerate says whether the site gives user a moderating role.
func (p port) canModerate(ctx context.Context, user string) bool {
	u, ok := p.svc.User(ctx, user)
	return ok && u.CanModerate()
}

// store is the message store.
func (p port) store() store.Store { return p.svc.Store() }

// appendString writes s as a JSON string safe in a JSONP answer.
func appendString(b []byte, s string) []byte { return chat.AppendString(b, s) }

// timeFormat is how times are written on the wire.
const timeFormat = chat.TimeFormat
