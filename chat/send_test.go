package chat

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func TestSendDeliversToBothSides(t *testing.T) {
	svc := newTestService(t, Config{})
	ctx := context.Background()
	c1, c2 := hello(t, svc, "1"), hello(t, svc, "2")
	res, err := svc.Send(ctx, Caller{ID: "1"}, SendParams{To: "2", Text: "  hi  "})
	if err != nil || res.Message == nil || res.Message.Text != "hi" || res.Message.ID == 0 {
		t.Fatalf("Send = %+v, %v; want a stored message with trimmed text", res, err)
	}
	for id, c := range map[string]string{"1": c1, "2": c2} {
		// A poll makes its user online, which their new contact hears.
		if types, _ := eventTypes(t, svc, id, c); len(types) == 0 || types[0] != "message" {
			t.Errorf("events of %s = %v; want the message first", id, types)
		}
	}
	msgs, _, err := svc.History(ctx, Caller{ID: "2"}, HistoryParams{With: "1"})
	if err != nil || len(msgs) != 1 || msgs[0].ID != res.Message.ID {
		t.Fatalf("History = %v, %v; want the message, durable", msgs, err)
	}
	for _, p := range []SendParams{{To: "1", Text: "me"}, {To: "2", Text: " "}, {To: "2", Room: "lobby", Text: "x"}, {To: "nobody", Text: "x"}} {
		if _, err := svc.Send(ctx, Caller{ID: "1"}, p); err == nil {
			t.Errorf("Send(%+v) = nil; want an error", p)
		}
	}
}

// TestSendData: a server-set Data (an upload's attachment) is stored and
// delivered with the message; anything but a bounded JSON object is refused.
func TestSendData(t *testing.T) {
	svc := newTestService(t, Config{})
	ctx := context.Background()
	c2 := hello(t, svc, "2")
	hello(t, svc, "1")
	data := json.RawMessage(`{"attachment":{"id":"abc","name":"a.png"}}`)
	res, err := svc.Send(ctx, Caller{ID: "1"}, SendParams{To: "2", Text: "a.png", Data: data})
	if err != nil || string(res.Message.Data) != string(data) {
		t.Fatalf("Send with data = %+v, %v", res, err)
	}
	got := svc.Poll(Caller{ID: "2"}, c2, 0, nil)
	found := false
	for _, ev := range got.Events {
		if bytes.Contains(ev, []byte(`"attachment":{"id":"abc"`)) {
			found = true
		}
	}
	if !found {
		t.Fatalf("events of 2 = %s; want the message with its data", got.Events)
	}
	msgs, _, err := svc.History(ctx, Caller{ID: "2"}, HistoryParams{With: "1"})
	if err != nil || len(msgs) != 1 || string(msgs[0].Data) != string(data) {
		t.Fatalf("History = %+v, %v; want the data kept", msgs, err)
	}
	for _, d := range []string{`[1]`, `"x"`, `{"a":`, `{"a":"` + strings.Repeat("x", MaxSendData) + `"}`} {
		if _, err := svc.Send(ctx, Caller{ID: "1"}, SendParams{To: "2", Text: "x", Data: json.RawMessage(d)}); err == nil {
			t.Errorf("Send with data %.20q = nil; want refused", d)
		}
	}
}
