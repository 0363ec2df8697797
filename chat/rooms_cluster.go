package chat

import (
	"context"
	"time"
)

// Room membership in cluster mode lives in the broker. When it fails, the
// room behaves as empty for fan-out (messages stay stored and show in
// history) rather than blocking a send.

const roomCallTimeout = 2 * time.Second

func (r *room) remoteAdd(user string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), roomCallTimeout)
	defer cancel()
	added, err := r.remote.RoomAdd(ctx, r.name, user)
	return err == nil && added
}

func (r *room) remoteRemove(user string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), roomCallTimeout)
	defer cancel()
	removed, err := r.remote.RoomRemove(ctx, r.name, user)
	return err == nil && removed
}

func (r *room) remoteHas(user string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), roomCallTimeout)
	defer cancel()
	ok, err := r.remote.RoomHas(ctx, r.name, user)
	return err == nil && ok
}

func (r *room) remoteMembers() []string {
	ctx, cancel := context.WithTimeout(context.Background(), roomCallTimeout)
	defer cancel()
	m, err := r.remote.RoomMembers(ctx, r.name)
	if err != nil {
		return nil
	}
	return m
}
