package moderation

import (
	"context"

	"pollchat/chat"
	"pollchat/store"
)

// port is everything moderation uses of chat, in one place: chat's owner
// may change the Hub's internals, and only this file follows them.
type port struct{ svc *chat.Service }

// publish appends one event to several users' streams (either engine).
func (p port) publish(users []string, event []byte) {
	p.svc.Hub().PublishMany(users, event)
}

// members returns a room's members.
func (p port) members(room string) []string { return p.svc.RoomMembers(room) }

// leave takes user out of room, as if they had left.
func (p port) leave(ctx context.Context, user, room string) error {
	_, err := p.svc.Leave(ctx, chat.Caller{ID: user}, room)
	return err
}

// store is the message store.
func (p port) store() store.Store { return p.svc.Store() }

// appendString writes s as a JSON string safe in a JSONP answer.
func appendString(b []byte, s string) []byte { return chat.AppendString(b, s) }

// timeFormat is how times are written on the wire.
const timeFormat = chat.TimeFormat
