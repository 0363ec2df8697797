package chat_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"pollchat/cluster"
	"pollchat/config"
	"pollchat/internal/testsvc"
)

// BenchmarkLobbyMembers is what a join or a first poll reads of a lobby of
// 15,000 members on Redis to decide whether to announce it: the whole
// member list (RoomMembers, what join read; presence read it twice) or
// only its size (RoomMembersUpTo, what both read now).
func BenchmarkLobbyMembers(b *testing.B) {
	rd := testsvc.StartRedis(b)
	ctx := context.Background()
	r, err := cluster.Open(ctx, rd.URL, cluster.Options{Timeout: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	for i := range 15000 {
		if _, err := r.RoomAdd(ctx, "lobby", fmt.Sprint(i+1)); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("RoomMembers", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if m, err := r.RoomMembers(ctx, "lobby"); err != nil || len(m) != 15000 {
				b.Fatal(len(m), err)
			}
		}
	})
	b.Run("RoomMembersUpTo", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if m, n, err := r.RoomMembersUpTo(ctx, "lobby", config.DefaultRoomEventsLimit); err != nil || m != nil || n != 15000 {
				b.Fatal(n, err)
			}
		}
	})
}
