package chat

import (
	"context"
	"encoding/json"
	"testing"
)

// TestScopedPollKeepsOneConversation: a scoped (popup) poll of 1 with 2
// carries the messages, typing and reads of that conversation only, and
// its cursor moves past what it skips.
func TestScopedPollKeepsOneConversation(t *testing.T) {
	svc := newTestService(t, Config{})
	ctx := context.Background()
	hello(t, svc, "2")
	hello(t, svc, "3")
	cur := hello(t, svc, "1")
	one := Caller{ID: "1"}
	send := func(from, to, text string) {
		t.Helper()
		if _, err := svc.Send(ctx, Caller{ID: from}, SendParams{To: to, Text: text}); err != nil {
			t.Fatalf("Send %s->%s: %v", from, to, err)
		}
	}
	send("3", "1", "from cy")
	send("2", "1", "from bob")
	send("1", "3", "to cy")
	send("1", "2", "to bob")
	if err := svc.Typing(ctx, Caller{ID: "3"}, "1", ""); err != nil {
		t.Fatal(err)
	}
	if err := svc.Typing(ctx, Caller{ID: "2"}, "1", ""); err != nil {
		t.Fatal(err)
	}
	scoped := Caller{ID: "1", With: "2"}
	res := svc.Poll(scoped, cur, 0, nil)
	var texts []string
	typing := 0
	for _, raw := range res.Events {
		var e struct {
			Type    string
			From    string
			Message struct{ From, To, Text string }
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatal(err)
		}
		switch e.Type {
		case "message":
			texts = append(texts, e.Message.Text)
		case "typing":
			if e.From != "2" {
				t.Errorf("scoped poll got typing from %s", e.From)
			}
			typing++
		case "presence":
		default:
			t.Errorf("scoped poll got %s", raw)
		}
	}
	if len(texts) != 2 || texts[0] != "from bob" || texts[1] != "to bob" || typing != 1 {
		t.Fatalf("scoped poll texts = %v, typing %d; want [from bob, to bob] and 2's typing", texts, typing)
	}
	// The unscoped poll from the same cursor has all four messages.
	all := svc.Poll(one, cur, 0, nil)
	if len(all.Events) < 6 {
		t.Fatalf("unscoped poll = %d events; want at least 4 messages and 2 typing", len(all.Events))
	}
	// Skipped events move the cursor: a poll from there has nothing.
	if again := svc.Poll(scoped, res.Cursor, 0, nil); len(again.Events) != 0 || again.Reset {
		t.Fatalf("scoped poll after %s = %+v; want nothing new", res.Cursor, again)
	}
	// Only other conversations' events: a parking scoped poll answers at
	// once with an empty list and the cursor past them.
	send("3", "1", "again")
	got := svc.Poll(scoped, res.Cursor, 30e9, nil)
	if len(got.Events) != 0 || got.Cursor == res.Cursor {
		t.Fatalf("scoped poll over a skipped event = %+v; want no events and a moved cursor", got)
	}
}

func TestScopeRules(t *testing.T) {
	c := Caller{ID: "1", With: "2"}
	params := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	allowed := []struct {
		ep string
		p  func(string) string
	}{
		{"hello", params()}, {"poll", params()}, {"users", params("ids", "3")},
		{"send", params("to", "2")}, {"typing", params("to", "2")}, {"upload", params("to", "2")},
		{"history", params("with", "2")}, {"read", params("with", "2")},
	}
	for _, a := range allowed {
		if err := c.Scope(a.ep, a.p); err != nil {
			t.Errorf("Scope(%s) = %v; want allowed", a.ep, err)
		}
	}
	refused := []struct {
		ep string
		p  func(string) string
	}{
		{"send", params("to", "3")}, {"send", params("to", "2", "room", "lobby")},
		{"history", params("with", "3")}, {"history", params("with", "2", "system", "1")},
		{"read", params("room", "lobby")}, {"join", params("room", "lobby")}, {"request", params("to", "2")},
	}
	for _, r := range refused {
		if err := c.Scope(r.ep, r.p); err == nil || err.Code != CodeForbidden {
			t.Errorf("Scope(%s) = %v; want FORBIDDEN", r.ep, err)
		}
	}
	if err := (Caller{ID: "1"}).Scope("join", params()); err != nil {
		t.Errorf("unscoped Scope = %v; want nil", err)
	}
	if directKey("a", "b") != directKey("b", "a") || directKey("a", "bc") == directKey("ab", "c") {
		t.Error("directKey must be symmetric and unambiguous")
	}
}

func TestScopedHello(t *testing.T) {
	svc := newTestService(t, Config{})
	ctx := context.Background()
	hello(t, svc, "1")
	for _, to := range []string{"2", "3"} {
		if _, err := svc.Send(ctx, Caller{ID: "1"}, SendParams{To: to, Text: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := svc.Hello(ctx, Caller{ID: "1", With: "2"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Conversations) != 1 || res.Conversations[0].With != "2" || len(res.Rooms) != 0 {
		t.Fatalf("scoped hello = %+v; want only the conversation with 2, no rooms", res)
	}
}
