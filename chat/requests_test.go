package chat

import (
	"context"
	"testing"
)

// TestRequestAndAnswer: a request is stored and told to its recipient, an
// answer removes it and tells the sender; unknown users and self-requests
// are refused; banned words are masked.
func TestRequestAndAnswer(t *testing.T) {
	svc := newTestService(t, Config{BannedWords: []string{"darn"}})
	ctx := context.Background()
	c1, c2 := hello(t, svc, "1"), hello(t, svc, "2")
	if err := svc.Request(ctx, Caller{ID: "1"}, "2", "talk? darn"); err != nil {
		t.Fatal(err)
	}
	if types, _ := eventTypes(t, svc, "2", c2); !contains(types, "chat_request") {
		t.Fatalf("events of 2 = %v; want chat_request", types)
	}
	reqs, users, err := svc.PendingRequests(ctx, Caller{ID: "2"})
	if err != nil || len(reqs) != 1 || reqs[0].From != "1" || reqs[0].Text != "talk? ****" || users["1"].Name != "Ann" {
		t.Fatalf("PendingRequests = %+v, %v, %v; want 1's request, masked", reqs, users, err)
	}
	if err := svc.Answer(ctx, Caller{ID: "2"}, "1", true); err != nil {
		t.Fatal(err)
	}
	if types, _ := eventTypes(t, svc, "1", c1); !contains(types, "chat_answer") {
		t.Fatalf("events of 1 = %v; want chat_answer", types)
	}
	if reqs, _, _ := svc.PendingRequests(ctx, Caller{ID: "2"}); len(reqs) != 0 {
		t.Fatalf("requests after the answer = %+v; want none", reqs)
	}
	if err := svc.Answer(ctx, Caller{ID: "2"}, "1", false); err == nil {
		t.Error("a second answer = nil; want NOT_FOUND")
	}
	for _, to := range []string{"1", "nobody", ""} {
		if err := svc.Request(ctx, Caller{ID: "1"}, to, ""); err == nil {
			t.Errorf("Request to %q = nil; want refused", to)
		}
	}
}

// TestRequestFromBlockedIsDropped: a request from a user the recipient
// blocked is not stored, and the sender is not told.
func TestRequestFromBlockedIsDropped(t *testing.T) {
	svc := newTestService(t, Config{})
	ctx := context.Background()
	if err := svc.Block(ctx, Caller{ID: "2"}, "1", true); err != nil {
		t.Fatal(err)
	}
	if err := svc.Request(ctx, Caller{ID: "1"}, "2", "hi"); err != nil {
		t.Fatalf("Request to a blocker = %v; want silently dropped", err)
	}
	if reqs, _, _ := svc.PendingRequests(ctx, Caller{ID: "2"}); len(reqs) != 0 {
		t.Fatalf("requests = %+v; want none from a blocked user", reqs)
	}
}
