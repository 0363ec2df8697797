package chat

import (
	"context"
	"fmt"
	"testing"
)

func TestBlockStopsDelivery(t *testing.T) {
	svc := newTestService(t, Config{})
	ctx := context.Background()
	hello(t, svc, "1")
	c2 := hello(t, svc, "2")
	if err := svc.Block(ctx, Caller{ID: "2"}, "1", true); err != nil {
		t.Fatal(err)
	}
	if list, err := svc.Blocked(ctx, Caller{ID: "2"}); err != nil || fmt.Sprint(list) != "[1]" {
		t.Fatalf("Blocked = %v, %v; want [1]", list, err)
	}
	if _, err := svc.Send(ctx, Caller{ID: "1"}, SendParams{To: "2", Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	if types, _ := eventTypes(t, svc, "2", c2); len(types) != 0 {
		t.Fatalf("a blocked sender's message reached 2: %v", types)
	}
	if err := svc.Block(ctx, Caller{ID: "2"}, "2", true); err == nil {
		t.Fatal("blocking oneself = nil; want an error")
	}
}
