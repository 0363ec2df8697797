package chat

import (
	"context"
	"fmt"
	"testing"
)

// TestHistoryPagesAndReadMarks: history pages back with before, read
// marks clear the unread count and tell both sides.
func TestHistoryPagesAndReadMarks(t *testing.T) {
	svc := newTestService(t, Config{})
	ctx := context.Background()
	hello(t, svc, "1")
	var ids []int64
	for i := 0; i < 5; i++ {
		res, err := svc.Send(ctx, Caller{ID: "1"}, SendParams{To: "2", Text: fmt.Sprint("m", i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.Message.ID)
	}
	page, more, err := svc.History(ctx, Caller{ID: "2"}, HistoryParams{With: "1", Limit: 2})
	if err != nil || len(page) != 2 || !more || page[0].ID != ids[3] || page[1].ID != ids[4] {
		t.Fatalf("History(limit 2) = %v, %v, %v; want the newest two, oldest first, and more", page, more, err)
	}
	page, _, err = svc.History(ctx, Caller{ID: "2"}, HistoryParams{With: "1", Before: ids[3], Limit: 10})
	if err != nil || len(page) != 3 || page[2].ID != ids[2] {
		t.Fatalf("History(before) = %v, %v; want the three older", page, err)
	}
	if _, _, err := svc.History(ctx, Caller{ID: "2"}, HistoryParams{With: "1", Room: "x"}); err == nil {
		t.Error("History with both with and room = nil; want BAD_REQUEST")
	}
	n, convs, err := svc.Unread(ctx, "2")
	if err != nil || n != 5 || len(convs) != 1 || convs[0].With != "1" {
		t.Fatalf("Unread(2) = %d, %+v, %v; want 5 from 1", n, convs, err)
	}
	c1 := hello(t, svc, "1")
	if err := svc.Read(ctx, Caller{ID: "2"}, "1", "", false, ids[2]); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := svc.Unread(ctx, "2"); n != 2 {
		t.Fatalf("Unread after reading up to the third = %d; want 2", n)
	}
	if types, _ := eventTypes(t, svc, "1", c1); !contains(types, "read") {
		t.Fatalf("events of the sender = %v; want a read event", types)
	}
	if err := svc.Read(ctx, Caller{ID: "2"}, "3", "", false, 0); err == nil {
		t.Error("Read of a conversation that does not exist = nil; want NOT_FOUND")
	}
}

// TestTypingReachesThePeerOnce: a typing event reaches the peer, and a
// second one right after is not sent again.
func TestTypingReachesThePeerOnce(t *testing.T) {
	svc := newTestService(t, Config{})
	ctx := context.Background()
	c2 := hello(t, svc, "2")
	for i := 0; i < 2; i++ {
		if err := svc.Typing(ctx, Caller{ID: "1"}, "2", ""); err != nil {
			t.Fatal(err)
		}
	}
	types, _ := eventTypes(t, svc, "2", c2)
	n := 0
	for _, ty := range types {
		if ty == "typing" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("typing events = %d (%v); want 1", n, types)
	}
	if err := svc.Typing(ctx, Caller{ID: "1"}, "1", ""); err == nil {
		t.Error("Typing to oneself = nil; want BAD_REQUEST")
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
