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

// TestBackendMute: the backend's Mute takes the /mute path (MUTED on send,
// user_muted to the room) without a role for BackendAPI, and with the
// command's rank rules for a site user; Unmute ends it once.
func TestBackendMute(t *testing.T) {
	svc := newTestService(t, Config{Rooms: []string{"lobby"}})
	ctx := context.Background()
	for _, id := range []string{"2", "3"} {
		if _, err := svc.Join(ctx, Caller{ID: id}, "lobby"); err != nil {
			t.Fatal(err)
		}
	}
	c2 := hello(t, svc, "2")
	if _, err := svc.Mute(ctx, "2", "lobby", "3", time.Minute); AsError(err).Code != CodeForbidden {
		t.Fatalf("Mute by a member = %v; want FORBIDDEN", err)
	}
	if _, err := svc.Mute(ctx, BackendAPI, "nowhere", "3", time.Minute); AsError(err).Code != CodeNotFound {
		t.Fatalf("Mute in an unknown room = %v; want NOT_FOUND", err)
	}
	if _, err := svc.Mute(ctx, BackendAPI, "lobby", "3", 0); AsError(err).Code != CodeBadRequest {
		t.Fatalf("Mute for 0 = %v; want BAD_REQUEST", err)
	}
	m, err := svc.Mute(ctx, BackendAPI, "lobby", "3", 2*time.Minute) // 3 is an admin: the API outranks roles
	if err != nil || m.By != BackendAPI || m.Mins != 2 {
		t.Fatalf("Mute by the API = %+v, %v", m, err)
	}
	if _, err := svc.Send(ctx, Caller{ID: "3"}, SendParams{Room: "lobby", Text: "hi"}); AsError(err).Code != CodeMuted {
		t.Fatalf("send while muted = %v; want MUTED", err)
	}
	if types, _ := eventTypes(t, svc, "2", c2); !contains(types, "user_muted") {
		t.Fatalf("events of 2 = %v; want user_muted", types)
	}
	if ok, err := svc.Unmute(ctx, BackendAPI, "lobby", "3"); !ok || err != nil {
		t.Fatalf("Unmute = %v, %v; want true", ok, err)
	}
	if ok, err := svc.Unmute(ctx, BackendAPI, "lobby", "3"); ok || err != nil {
		t.Fatalf("second Unmute = %v, %v; want false", ok, err)
	}
	if _, err := svc.Send(ctx, Caller{ID: "3"}, SendParams{Room: "lobby", Text: "back"}); err != nil {
		t.Fatalf("send after Unmute = %v", err)
	}
}
