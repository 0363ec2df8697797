package chat

import (
	"context"
	"strings"
	"testing"
	"time"

	"pollchat/store"
)

// TestGuestReadsPublicRooms: a guest's hello lists the public rooms only,
// their polls (by the cursor alone) get the public rooms' messages, they
// are never listed or online, and a private room is closed to them.
func TestGuestReadsPublicRooms(t *testing.T) {
	svc := newTestService(t, Config{Rooms: []string{"lobby"}})
	ctx := context.Background()
	if _, _, err := svc.RoomAdmin().SaveRoom(ctx, store.CreatedRoom{Name: "staff", Private: true, Members: []string{"1"}}); err != nil {
		t.Fatal(err)
	}
	guest := Caller{Guest: true}
	res, err := svc.Hello(ctx, guest)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Guest || len(res.Rooms) != 1 || res.Rooms[0] != "lobby" {
		t.Fatalf("guest hello = %+v; want guest and only lobby", res)
	}
	gid, _, _ := splitGuestCursor(res.Cursor)
	if !svc.hub.Online(gid) {
		t.Fatal("a guest is not seen on hello: one who never polls would stay in the rooms")
	}
	// Gone offline: out of the rooms, quietly.
	svc.onPresence(gid, false)
	if m, _ := svc.engine.RoomMembers(ctx, "lobby"); len(m) != 0 {
		t.Fatalf("lobby members after the guest went offline = %v", m)
	}
	svc.engine.RoomAdd(ctx, "lobby", gid)
	if _, err := svc.Join(ctx, Caller{ID: "1"}, "staff"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Join(ctx, Caller{ID: "1"}, "lobby"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Send(ctx, Caller{ID: "1"}, SendParams{Room: "lobby", Text: "welcome"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Send(ctx, Caller{ID: "1"}, SendParams{Room: "staff", Text: "secret"}); err != nil {
		t.Fatal(err)
	}
	got := svc.Poll(guest, res.Cursor, time.Second, nil)
	joined := strings.Join(func() []string {
		var out []string
		for _, e := range got.Events {
			out = append(out, string(e))
		}
		return out
	}(), "\n")
	if got.Reset || !strings.Contains(joined, `"welcome"`) || strings.Contains(joined, "secret") {
		t.Fatalf("guest poll = %s (reset %v); want the lobby message, not the private room's", joined, got.Reset)
	}
	if _, _, ok := splitGuestCursor(got.Cursor); !ok {
		t.Fatalf("guest poll cursor %q is not a guest's", got.Cursor)
	}
	if r := svc.Poll(guest, "r0-0", 0, nil); !r.Reset {
		t.Fatal("a guest poll with a cursor naming no guest stream must reset")
	}
	st, err := svc.Join(ctx, guest, "lobby")
	if err != nil || len(st.History) != 1 || st.Count != 1 {
		t.Fatalf("guest join = %+v, %v; want the history and 1 (guests not counted)", st, err)
	}
	if _, err := svc.Join(ctx, guest, "staff"); err == nil {
		t.Fatal("guest join of a private room = nil")
	}
	if _, _, err := svc.History(ctx, guest, HistoryParams{Room: "staff"}); err == nil {
		t.Fatal("guest history of a private room = nil")
	}
	for _, u := range append(svc.Online(), svc.RoomMembers("lobby")...) {
		if IsGuest(u) {
			t.Fatalf("a guest is listed: %q", u)
		}
	}
	for ep, code := range map[string]string{"send": CodeAuthFailed, "request": CodeAuthFailed, "users": CodeForbidden, "hide": CodeForbidden} {
		if err := guest.GuestScope(ep, func(string) string { return "" }); err == nil || err.Code != code {
			t.Errorf("GuestScope(%s) = %v; want %s", ep, err, code)
		}
	}
	if err := guest.GuestScope("history", func(k string) string { return map[string]string{"with": "1"}[k] }); err == nil {
		t.Error("guest history of a direct conversation allowed")
	}
}

// TestGuestHellosBounded: guest hellos share one bucket; a flood gets
// RATE_LIMITED instead of making streams without end.
func TestGuestHellosBounded(t *testing.T) {
	at := time.Now()
	svc := newTestService(t, Config{Now: func() time.Time { return at }}) // the bucket does not refill
	limited := 0
	for i := 0; i < GuestHelloBurst+50; i++ {
		if _, err := svc.Hello(context.Background(), Caller{Guest: true}); err != nil {
			if AsError(err).Code != CodeRateLimited {
				t.Fatalf("guest hello %d = %v", i, err)
			}
			limited++
		}
	}
	if limited != 50 {
		t.Fatalf("%d of %d guest hellos limited; want the 50 past the burst", limited, GuestHelloBurst+50)
	}
}
