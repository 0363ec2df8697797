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

// Pebble erases a user a page at a time: with pages of 2, every one of the
// user's messages, among others', is erased, the peer's line and read mark
// follow the conversation, and nothing of the user's state is left.
func TestPebbleEraseInPages(t *testing.T) {
	defer func(n int) { eraseChunk = n }(eraseChunk)
	eraseChunk = 2
	ctx := context.Background()
	p, err := OpenPebble(filepath.Join(t.TempDir(), "data"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var msgs []*Message
	for i := 0; i < 5; i++ {
		msgs = append(msgs,
			&Message{From: "eve", To: "bob", Text: "to bob"},
			&Message{From: "carol", Room: "lobby", Text: "carol's"},
			&Message{From: "eve", Room: "lobby", Text: "eve's"},
			&Message{From: "bob", To: "eve", Text: "to eve"})
	}
	if _, err := p.SaveMessages(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	if err := p.MarkRead(ctx, "bob", DirectConv("bob", "eve"), msgs[3].ID); err != nil {
		t.Fatal(err)
	}
	if err := p.SetBlock(ctx, "carol", "eve", true); err != nil {
		t.Fatal(err)
	}
	n, _, err := EraseUser(ctx, p, "eve", EraseDelete)
	if err != nil {
		t.Fatal(err)
	}
	if n.Messages != 15 || n.Blocks != 1 {
		t.Errorf("EraseUser counts = %+v; want 15 messages and 1 block", n)
	}
	pseudo, err := Pseudonym(ctx, p, "eve")
	if err != nil {
		t.Fatal(err)
	}
	left, err := p.UserMessages(ctx, "eve", 0, 0)
	if err != nil || len(left) != 0 {
		t.Errorf("UserMessages(eve) after erasure = %v, %v; want none", ids(left), err)
	}
	h, _, err := p.History(ctx, DirectConv("bob", pseudo), 0, 0)
	if err != nil || len(h) != 10 {
		t.Fatalf("History(bob, pseudonym) = %v, %v; want the 10 direct messages", ids(h), err)
	}
	for _, m := range h {
		if !m.Deleted || m.Text != "" || m.From != pseudo && m.To != pseudo {
			t.Errorf("message %d after erasure = %+v; want a tombstone under %s", m.ID, m, pseudo)
		}
	}
	if h, _, err := p.History(ctx, DirectConv("bob", "eve"), 0, 0); err != nil || len(h) != 0 {
		t.Errorf("History(bob, eve) after erasure = %v, %v; want none", ids(h), err)
	}
	room, _, err := p.History(ctx, RoomConv("lobby"), 0, 0)
	if err != nil || len(room) != 10 {
		t.Fatalf("History(lobby) = %v, %v; want 10", ids(room), err)
	}
	for _, m := range room {
		if m.From == "carol" && (m.Deleted || m.Text != "carol's") || m.From != "carol" && (m.From != pseudo || !m.Deleted) {
			t.Errorf("lobby message after erasure = %+v", m)
		}
	}
	cs, err := p.Conversations(ctx, "bob", nil, 0)
	if err != nil || len(cs) != 1 || cs[0].With != pseudo || cs[0].Unread != 4 {
		t.Errorf("Conversations(bob) after erasure = %+v, %v; want one line with %s, 4 unread (eve's 4 after the mark)", cs, err, pseudo)
	}
	if st, err := p.UserState(ctx, "eve"); err != nil || len(st.BlockedBy) != 0 || len(st.ReadMarks) != 0 {
		t.Errorf("UserState(eve) after erasure = %+v, %v; want nothing", st, err)
	}
}
