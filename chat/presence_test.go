package chat

import (
	"context"
	"testing"
)

// TestPresenceTellsContacts: a contact who comes online is told to the
// other side, and Online lists both.
func TestPresenceTellsContacts(t *testing.T) {
	svc := newTestService(t, Config{})
	ctx := context.Background()
	c1 := hello(t, svc, "1")
	if _, err := svc.Send(ctx, Caller{ID: "1"}, SendParams{To: "2", Text: "x"}); err != nil {
		t.Fatal(err)
	}
	svc.Seen(Caller{ID: "1"})
	if got := svc.Online(); len(got) != 1 || got[0] != "1" {
		t.Fatalf("Online = %v; want [1]", got)
	}
	_, c1 = eventTypes(t, svc, "1", c1)
	svc.Seen(Caller{ID: "2"})
	if got := svc.Online(); len(got) != 2 || got[0] != "1" || got[1] != "2" {
		t.Fatalf("Online = %v; want [1 2]", got)
	}
	res := svc.Poll(Caller{ID: "1"}, c1, 0, nil)
	found := false
	for _, ev := range res.Events {
		if string(ev) == string(presenceEvent("2", true)) {
			found = true
		}
	}
	if !found {
		t.Fatalf("events of 1 = %s; want 2's presence online", res.Events)
	}
	// 3 is no contact of 1: 1 hears nothing of them.
	svc.Seen(Caller{ID: "3"})
	for _, ev := range svc.Poll(Caller{ID: "1"}, res.Cursor, 0, nil).Events {
		if string(ev) == string(presenceEvent("3", true)) {
			t.Fatal("1 heard the presence of 3, no contact")
		}
	}
}
