package chat

import (
	"context"
	"testing"

	"pollchat/store"
)

// TestPrivateRoomForMembersOnly: a private created room is listed, joined,
// read and sent to by its members only; a public one by everyone; removing
// a member ends their events; deleting the room ends it for everyone.
func TestPrivateRoomForMembersOnly(t *testing.T) {
	svc := newTestService(t, Config{Rooms: []string{"lobby"}})
	ctx := context.Background()
	ra := svc.RoomAdmin()
	if ra == nil {
		t.Fatal("RoomAdmin = nil on the embedded store")
	}
	if _, created, err := ra.SaveRoom(ctx, store.CreatedRoom{Name: "staff", Title: "Staff", Private: true, Members: []string{"1", "2"}}); err != nil || !created {
		t.Fatalf("SaveRoom = %v, %v", created, err)
	}
	if _, _, err := ra.SaveRoom(ctx, store.CreatedRoom{Name: "open"}); err != nil {
		t.Fatal(err)
	}
	res, err := svc.Hello(ctx, Caller{ID: "1"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"lobby", "open", "staff"}; len(res.Rooms) != 3 || res.Rooms[0] != want[0] || res.Rooms[1] != want[1] || res.Rooms[2] != want[2] {
		t.Fatalf("member's hello rooms = %v; want %v", res.Rooms, want)
	}
	if ri := res.RoomInfo["staff"]; ri.Title != "Staff" || !ri.Private || res.RoomInfo["open"].Title != "open" {
		t.Fatalf("room_info = %+v", res.RoomInfo)
	}
	res3, _ := svc.Hello(ctx, Caller{ID: "3"})
	for _, r := range res3.Rooms {
		if r == "staff" {
			t.Fatalf("non-member's hello lists the private room: %v", res3.Rooms)
		}
	}
	c3 := res3.Cursor
	if _, err := svc.Join(ctx, Caller{ID: "3"}, "staff"); err == nil || AsError(err).Code != CodeNotFound {
		t.Fatalf("non-member Join = %v; want NOT_FOUND", err)
	}
	if _, err := svc.Join(ctx, Caller{ID: "3"}, "open"); err != nil {
		t.Fatalf("Join of a public created room = %v", err)
	}
	for _, id := range []string{"1", "2"} {
		if _, err := svc.Join(ctx, Caller{ID: id}, "staff"); err != nil {
			t.Fatalf("member %s Join = %v", id, err)
		}
	}
	c2 := hello(t, svc, "2")
	if _, err := svc.Send(ctx, Caller{ID: "1"}, SendParams{Room: "staff", Text: "secret"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Send(ctx, Caller{ID: "3"}, SendParams{Room: "staff", Text: "x"}); err == nil {
		t.Fatal("non-member Send to the private room = nil; want NOT_FOUND")
	}
	if _, _, err := svc.History(ctx, Caller{ID: "3"}, HistoryParams{Room: "staff"}); err == nil {
		t.Fatal("non-member History of the private room = nil; want NOT_FOUND")
	}
	if msgs, _, err := svc.History(ctx, Caller{ID: "2"}, HistoryParams{Room: "staff"}); err != nil || len(msgs) != 1 {
		t.Fatalf("member History = %v, %v; want the message", msgs, err)
	}
	if types, _ := eventTypes(t, svc, "3", c3); contains(types, "message") {
		t.Fatalf("non-member got %v; want no message of the private room", types)
	}
	types, c2 := eventTypes(t, svc, "2", c2)
	if !contains(types, "message") {
		t.Fatalf("member got %v; want the message", types)
	}
	if _, found, err := ra.RemoveMembers(ctx, "staff", "2"); err != nil || !found {
		t.Fatalf("RemoveMembers = %v, %v", found, err)
	}
	if _, err := svc.Send(ctx, Caller{ID: "1"}, SendParams{Room: "staff", Text: "after"}); err != nil {
		t.Fatal(err)
	}
	if types, _ := eventTypes(t, svc, "2", c2); contains(types, "message") {
		t.Fatalf("removed member got %v; want no more messages", types)
	}
	if found, err := ra.DeleteRoom(ctx, "staff"); err != nil || !found {
		t.Fatalf("DeleteRoom = %v, %v", found, err)
	}
	if _, err := svc.Join(ctx, Caller{ID: "1"}, "staff"); err == nil {
		t.Fatal("Join of a deleted room = nil")
	}
}

// TestRoomsControlReload: another process's change arrives as a
// ControlRooms message and is read from the store.
func TestRoomsControlReload(t *testing.T) {
	svc := newTestService(t, Config{})
	ctx := context.Background()
	rec := svc.Store().(store.Records)
	if _, _, err := store.NewCreatedRooms(rec).SaveRoom(ctx, store.CreatedRoom{Name: "elsewhere"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Join(ctx, Caller{ID: "1"}, "elsewhere"); err == nil {
		t.Fatal("Join before the control message = nil; the room was not loaded yet")
	}
	svc.Control(Control{Kind: ControlRooms})
	if _, err := svc.Join(ctx, Caller{ID: "1"}, "elsewhere"); err != nil {
		t.Fatalf("Join after ControlRooms = %v", err)
	}
}

func TestAutoJoinOnHello(t *testing.T) {
	svc := newTestService(t, Config{Rooms: []string{"hall", "side"}, AutoJoin: "hall"})
	hello(t, svc, "1")
	if m := svc.RoomMembers("hall"); len(m) != 1 || m[0] != "1" {
		t.Fatalf("members of hall after hello = %v; want [1]", m)
	}
	if m := svc.RoomMembers("side"); len(m) != 0 {
		t.Fatalf("members of side = %v; want none", m)
	}
	if _, err := svc.Hello(context.Background(), Caller{ID: "2", With: "1"}); err != nil {
		t.Fatal(err)
	}
	if m := svc.RoomMembers("hall"); len(m) != 1 {
		t.Fatalf("a scoped hello joined: %v", m)
	}
	off := newTestService(t, Config{Rooms: []string{"hall"}})
	hello(t, off, "1")
	if m := off.RoomMembers("hall"); len(m) != 0 {
		t.Fatalf("without AutoJoin hello joined: %v", m)
	}
}
