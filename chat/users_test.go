package chat

import (
	"context"
	"testing"
)

// TestUsersFromDirectoryAndIdentity: the directory's data wins; an
// identity's name is the fallback for a user it does not know, unless
// RequireKnown refuses such users.
func TestUsersFromDirectoryAndIdentity(t *testing.T) {
	svc := newTestService(t, Config{})
	ctx := context.Background()
	if u, ok := svc.User(ctx, "2"); !ok || u.Name != "Bob" {
		t.Fatalf("User(2) = %+v, %v; want Bob from the directory", u, ok)
	}
	if _, ok := svc.User(ctx, "9"); ok {
		t.Fatal("User(9) found before any identity named them")
	}
	if err := svc.Admit(ctx, Caller{ID: "9", Name: "Nine"}); err != nil {
		t.Fatalf("Admit(9) = %v; want admitted without RequireKnown", err)
	}
	svc.Remember(Caller{ID: "9", Name: "Nine"})
	if u, ok := svc.User(ctx, "9"); !ok || u.Name != "Nine" {
		t.Fatalf("User(9) = %+v, %v; want the identity's name", u, ok)
	}
	// The directory's name is not replaced by what a token says.
	svc.Remember(Caller{ID: "2", Name: "Mallory"})
	if u, _ := svc.User(ctx, "2"); u.Name != "Bob" {
		t.Fatalf("User(2) = %+v after a token named them Mallory; want Bob", u)
	}
	got := svc.Users(ctx, []string{"1", "3", "nobody"})
	if len(got) != 2 {
		t.Fatalf("Users = %+v; want the two known", got)
	}
	// Unknown ids cost the caller: after a long list of them, RATE_LIMITED.
	limited := newTestService(t, Config{Rate: 1, Burst: 5})
	unknown := make([]string, 100)
	for i := range unknown {
		unknown[i] = "x" + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	if got, err := limited.UsersFor(ctx, Caller{ID: "1"}, unknown); err != nil || len(got) != 0 {
		t.Fatalf("UsersFor(unknown) = %v, %v; want none, answered", got, err)
	}
	if _, err := limited.UsersFor(ctx, Caller{ID: "1"}, []string{"2"}); err == nil {
		t.Error("UsersFor after 100 unknown ids = nil; want RATE_LIMITED")
	}
	strict := newTestService(t, Config{RequireKnown: true})
	if err := strict.Admit(ctx, Caller{ID: "9", Name: "Nine"}); err == nil {
		t.Fatal("Admit of an unknown user with RequireKnown = nil; want FORBIDDEN")
	}
	if err := strict.Admit(ctx, Caller{ID: "1"}); err != nil {
		t.Fatalf("Admit of a member with RequireKnown = %v", err)
	}
}
