package store

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
)

// Pebble shows a committed batch to readers before its fsync returns: a
// message in that window is not durable yet (a crash could lose it and hand
// its id out again), so no read may show it. The hook holds the writer in
// exactly that window, between the commit and the durable mark.
func TestPebbleReadsSkipNotYetDurable(t *testing.T) {
	ctx := context.Background()
	p, err := OpenPebble(filepath.Join(t.TempDir(), "data"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	m1 := &Message{From: "alice", Room: "lobby", Text: "one"}
	d1 := &Message{From: "alice", To: "bob", Text: "hi bob"}
	if _, err := p.SaveMessages(ctx, []*Message{m1, d1}); err != nil {
		t.Fatal(err)
	}
	if err := p.MarkRead(ctx, "bob", RoomConv("lobby"), 0); err != nil {
		t.Fatal(err)
	}

	inWindow := make(chan int64)
	release := make(chan struct{})
	p.beforeDurable = func() {
		inWindow <- p.seq
		<-release
	}
	m2 := &Message{From: "alice", Room: "lobby", Text: "two"}
	d2 := &Message{From: "alice", To: "bob", Text: "again"}
	d3 := &Message{From: "alice", To: "carol", Text: "hi carol"}
	saved := make(chan error, 1)
	go func() {
		_, err := p.SaveMessages(ctx, []*Message{m2, d2, d3})
		saved <- err
	}()
	last := <-inWindow

	// The window is real: the database already holds the new messages.
	if v, ok, err := pget(p.db, tk(tMsg, u64(uint64(last)))); err != nil || !ok || !bytes.Contains(v, []byte("hi carol")) {
		t.Fatalf("in the window the database has id %d = %q, %v, %v; want the new message (else this test tests nothing)", last, v, ok, err)
	}
	if h, _, err := p.History(ctx, RoomConv("lobby"), 0, 0); err != nil || len(h) != 1 || h[0].ID != m1.ID {
		t.Errorf("History(lobby) in the window = %v, %v; want only message %d", ids(h), err, m1.ID)
	}
	if h, _, err := p.History(ctx, DirectConv("alice", "bob"), 0, 0); err != nil || len(h) != 1 || h[0].ID != d1.ID {
		t.Errorf("History(alice,bob) in the window = %v, %v; want only message %d", ids(h), err, d1.ID)
	}
	cs, err := p.Conversations(ctx, "bob", []string{"lobby"}, 0)
	if err != nil || len(cs) != 2 || cs[0].Last == nil || cs[0].Last.ID != d1.ID || cs[0].Unread != 1 ||
		cs[1].Last == nil || cs[1].Last.ID != m1.ID || cs[1].Unread != 1 {
		t.Errorf("Conversations(bob) in the window = %+v, %v; want alice's line at %d (1 unread) and lobby at %d (1 unread)", cs, err, d1.ID, m1.ID)
	}
	if cs, err := p.Conversations(ctx, "carol", nil, 0); err != nil || len(cs) != 0 {
		t.Errorf("Conversations(carol) in the window = %+v, %v; want none (her only message is not durable)", cs, err)
	}
	if x, err := p.Export(ctx, "", 0, 0); err != nil || len(x) != 2 {
		t.Errorf("Export in the window = %v, %v; want the 2 durable messages", ids(x), err)
	}
	if x, err := p.Export(ctx, RoomConv("lobby"), 0, 0); err != nil || len(x) != 1 {
		t.Errorf("Export(lobby) in the window = %v, %v; want 1 message", ids(x), err)
	}
	if x, err := ExportUser(ctx, p, "alice"); err != nil || len(x.Messages) != 2 {
		t.Errorf("ExportUser(alice) in the window: %v; want her 2 durable messages", err)
	}

	close(release)
	if err := <-saved; err != nil {
		t.Fatal(err)
	}
	p.beforeDurable = nil
	if h, _, err := p.History(ctx, RoomConv("lobby"), 0, 0); err != nil || len(h) != 2 || h[1].ID != m2.ID {
		t.Errorf("History(lobby) once durable = %v, %v; want %d and %d", ids(h), err, m1.ID, m2.ID)
	}
	if cs, err := p.Conversations(ctx, "carol", nil, 0); err != nil || len(cs) != 1 || cs[0].Last == nil || cs[0].Last.ID != d3.ID {
		t.Errorf("Conversations(carol) once durable = %+v, %v; want alice's message %d", cs, err, d3.ID)
	}
	if p.durable.Load() != d3.ID {
		t.Errorf("durable mark = %d; want %d", p.durable.Load(), d3.ID)
	}
}

func ids(msgs []Message) []int64 {
	out := make([]int64, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}
