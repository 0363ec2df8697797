package chat

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"pollchat/bridge"
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

// TestPollKeepsCallerOnStream: a poll finds the caller's entry on its
// stream, yet what an identity says last is what is known: a new name,
// an entry another process replaced, Forget, and the daily forgetting.
func TestPollKeepsCallerOnStream(t *testing.T) {
	svc := newTestService(t, Config{})
	ctx := context.Background()
	name := func() string {
		u, ok := svc.User(ctx, "9")
		if !ok {
			return "(unknown)"
		}
		return u.Name
	}
	svc.Poll(Caller{ID: "9", Name: "Nine"}, "", 0, nil)
	if st := svc.hub.get("9", false); st == nil || st.caller == nil {
		t.Fatal("the poll's stream holds no caller entry")
	}
	svc.Poll(Caller{ID: "9", Name: "Nine"}, "", 0, nil)
	if got := name(); got != "Nine" {
		t.Fatalf("name = %s; want Nine", got)
	}
	svc.Poll(Caller{ID: "9", Name: "Neun"}, "", 0, nil)
	if got := name(); got != "Neun" {
		t.Fatalf("name after a poll naming them Neun = %s", got)
	}
	// Another process says what its identity said (a control message).
	svc.storeCaller(bridge.User{ID: "9", Name: "Nove", Role: bridge.RoleMember}, false)
	svc.Poll(Caller{ID: "9", Name: "Neun"}, "", 0, nil)
	if got := name(); got != "Neun" {
		t.Fatalf("name after a poll naming them Neun again = %s", got)
	}
	svc.Forget("9")
	if got := name(); got != "(unknown)" {
		t.Fatalf("name after Forget = %s", got)
	}
	svc.Poll(Caller{ID: "9", Name: "Neun"}, "", 0, nil)
	if got := name(); got != "Neun" {
		t.Fatalf("name after Forget and a poll = %s; want Neun again", got)
	}
	// Unused for longer than callerTTL: forgotten; the next poll tells it.
	st := svc.hub.get("9", false)
	st.mu.Lock()
	st.caller.seen.Store(0)
	st.mu.Unlock()
	svc.forgetCallers()
	if got := name(); got != "(unknown)" {
		t.Fatalf("name after forgetCallers = %s", got)
	}
	svc.Poll(Caller{ID: "9", Name: "Neun"}, "", 0, nil)
	if got := name(); got != "Neun" {
		t.Fatalf("name after forgetCallers and a poll = %s; want Neun again", got)
	}
}

// sharedEngine is a MemoryEngine that says other processes share it and
// keeps the control messages it was given, in order.
type sharedEngine struct {
	*MemoryEngine
	mu   sync.Mutex
	sent []Control
}

func (e *sharedEngine) Shared() bool { return true }

func (e *sharedEngine) Control(_ context.Context, c Control) error {
	e.mu.Lock()
	e.sent = append(e.sent, c)
	e.mu.Unlock()
	return nil
}

func (e *sharedEngine) told() []Control {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Control(nil), e.sent...)
}

// TestCallersToldToOtherProcesses: in a cluster, each new caller the
// directory does not know is told to the other processes once, in the
// order they came, and a known one is not; a caller's message coming back
// (every process hears its own) leaves the entry as it is, and a
// different one replaces it.
func TestCallersToldToOtherProcesses(t *testing.T) {
	eng := &sharedEngine{MemoryEngine: NewMemoryEngine(MemoryConfig{})}
	svc := newTestService(t, Config{Engine: eng})
	var want []string
	for i := range 300 {
		id := strconv.Itoa(100 + i)
		svc.Remember(Caller{ID: id, Name: "N" + id})
		want = append(want, id+" N"+id)
		if i == 150 {
			svc.Remember(Caller{ID: "2", Name: "Bobby"}) // known to the directory
		}
	}
	for deadline := time.Now().Add(5 * time.Second); len(eng.told()) < len(want) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // nothing more comes
	var got []string
	for _, c := range eng.told() {
		if c.Kind != ControlCaller {
			t.Fatalf("sent %+v; want only ControlCaller", c)
		}
		got = append(got, c.Caller.ID+" "+c.Caller.Name)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("told %d callers: %v; want the 300 unknown ones in order: %v", len(got), got, want)
	}

	// The message of 100 coming back: the same entry, still in use.
	v, _ := svc.callers.Load("100")
	e := v.(*callerEntry)
	svc.Control(eng.told()[0])
	if v, _ := svc.callers.Load("100"); v.(*callerEntry) != e || e.gone.Load() {
		t.Fatal("the echo of a caller's own message replaced its entry")
	}
	// Another process's identity said something else: replaced.
	svc.Control(Control{Kind: ControlCaller, Caller: CallerInfo{ID: "100", Name: "Other"}})
	if u, _ := svc.User(context.Background(), "100"); u.Name != "Other" || !e.gone.Load() {
		t.Fatalf("after another name: %+v, old entry gone %v", u, e.gone.Load())
	}
}
