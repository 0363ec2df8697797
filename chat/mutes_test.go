package chat

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestMuteRefusesSendsUntilItEnds: an admin's /mute refuses the target's
// sends in the room with MUTED and how long is left; when the time has
// passed the mute expires and the room is told.
func TestMuteRefusesSendsUntilItEnds(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	svc := newTestService(t, Config{Rooms: []string{"lobby"}, Now: clock})
	ctx := context.Background()
	for _, id := range []string{"2", "3"} {
		if _, err := svc.Join(ctx, Caller{ID: id}, "lobby"); err != nil {
			t.Fatal(err)
		}
	}
	c2 := hello(t, svc, "2")
	if _, err := svc.Send(ctx, Caller{ID: "3"}, SendParams{Room: "lobby", Text: "/mute Bob 2"}); err != nil {
		t.Fatalf("/mute by an admin = %v", err)
	}
	_, err := svc.Send(ctx, Caller{ID: "2"}, SendParams{Room: "lobby", Text: "hi"})
	e, ok := err.(*Error)
	if !ok || e.Code != CodeMuted || e.RetryAfter != 120 {
		t.Fatalf("send while muted = %v; want MUTED, retry after 120", err)
	}
	// Not an admin: /mute is refused.
	if _, err := svc.Send(ctx, Caller{ID: "2"}, SendParams{Room: "lobby", Text: "/mute Cy 1"}); err == nil {
		t.Fatal("/mute by a member = nil; want refused")
	}
	mu.Lock()
	now = now.Add(3 * time.Minute)
	mu.Unlock()
	svc.expireMutes()
	if _, err := svc.Send(ctx, Caller{ID: "2"}, SendParams{Room: "lobby", Text: "back"}); err != nil {
		t.Fatalf("send after the mute ended = %v", err)
	}
	if types, _ := eventTypes(t, svc, "2", c2); !contains(types, "user_unmuted") {
		t.Fatalf("events of 2 = %v; want user_unmuted", types)
	}
}
