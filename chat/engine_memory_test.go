package chat

import (
	"context"
	"fmt"
	"sort"
	"testing"
)

// TestMemoryRoomMembersUpTo: the members of a room up to the limit, only
// the size of a larger one (as cluster.Redis answers).
func TestMemoryRoomMembersUpTo(t *testing.T) {
	e := NewMemoryEngine(MemoryConfig{})
	ctx := context.Background()
	if m, n, err := e.RoomMembersUpTo(ctx, "empty", 2); err != nil || len(m) != 0 || n != 0 {
		t.Fatalf("empty room = %v, %d, %v; want none", m, n, err)
	}
	for _, u := range []string{"7", "8"} {
		if _, err := e.RoomAdd(ctx, "r", u); err != nil {
			t.Fatal(err)
		}
	}
	m, n, err := e.RoomMembersUpTo(ctx, "r", 2)
	m = append([]string(nil), m...) // the engine's snapshot must not change
	sort.Strings(m)
	if err != nil || fmt.Sprint(m) != "[7 8]" || n != 2 {
		t.Fatalf("room of 2, limit 2 = %v, %d, %v; want [7 8], 2", m, n, err)
	}
	if m, n, err := e.RoomMembersUpTo(ctx, "r", 1); err != nil || m != nil || n != 2 {
		t.Fatalf("room of 2, limit 1 = %v, %d, %v; want no members, size 2", m, n, err)
	}
}
