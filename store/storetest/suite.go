// Package storetest is the one table of behaviours every store.Store
// implementation must show. Each implementation's test calls Run with a
// function that opens a store; benchmarks share BenchSave.
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"pollchat/store"
)

// Opener opens a store for t. Called a second time within the same test
// (after the first store was closed) it must return a store over the same
// data: that is how the suite checks that a reopened store keeps everything.
// SameData builds such an opener.
type Opener func(t *testing.T) store.Store

// SameData makes an Opener: data(t) makes fresh backing data (a directory, a
// database) once per test, and open(t, d) opens a store on it; the opener
// closes each store it opened when the test ends.
func SameData[D any](data func(t *testing.T) D, open func(t *testing.T, d D) (store.Store, error)) Opener {
	var mu sync.Mutex
	made := map[*testing.T]D{}
	return func(t *testing.T) store.Store {
		t.Helper()
		mu.Lock()
		d, ok := made[t]
		mu.Unlock()
		if !ok {
			d = data(t)
			mu.Lock()
			made[t] = d
			mu.Unlock()
			t.Cleanup(func() { mu.Lock(); delete(made, t); mu.Unlock() })
		}
		s, err := open(t, d)
		if err != nil {
			t.Fatalf("open store: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

type testCase struct {
	name string
	run  func(t *testing.T, open Opener)
}

var cases = []testCase{
	{"HistoryPaging", testHistoryPaging},
	{"IDsIncrease", testIDsIncrease},
	{"TimestampSet", testTimestampSet},
	{"Dedup", testDedup},
	{"DedupConcurrent", testDedupConcurrent},
	{"DedupOtherUser", testDedupOtherUser},
	{"Conversations", testConversations},
	{"UnreadCap", testUnreadCap},
	{"ReadMarkNeverBack", testReadMarkNeverBack},
	{"Rooms", testRooms},
	{"Requests", testRequests},
	{"Mutes", testMutes},
	{"Blocks", testBlocks},
	{"TextVerbatim", testTextVerbatim},
	{"BadMessage", testBadMessage},
	{"Reopen", testReopen},
	{"Prune", testPrune},
	{"ExportImport", testExportImport},
	{"BatchSave", testBatchSave},
	{"Close", testClose},
}

// Run exercises every case against stores made by open, each case in its
// own subtest with its own data.
func Run(t *testing.T, open Opener) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, open) })
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func save(t *testing.T, s store.Store, m store.Message) store.Message {
	t.Helper()
	created, err := s.SaveMessage(ctxT(t), &m)
	if err != nil {
		t.Fatalf("SaveMessage(%+v) = %v; want no error", m, err)
	}
	if !created {
		t.Fatalf("SaveMessage(%+v) created = false; want true", m)
	}
	return m
}

func ids(msgs []store.Message) []int64 {
	out := make([]int64, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}

func equalIDs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// sameMessage compares every field; times to the microsecond, Data as JSON.
func sameMessage(a, b store.Message) error {
	if a.ID != b.ID || a.From != b.From || a.To != b.To || a.Room != b.Room || a.Text != b.Text ||
		a.ClientID != b.ClientID || a.System != b.System || a.Deleted != b.Deleted {
		return fmt.Errorf("got %+v; want %+v", a, b)
	}
	if !a.TS.Truncate(time.Microsecond).Equal(b.TS.Truncate(time.Microsecond)) {
		return fmt.Errorf("message %d ts = %v; want %v", a.ID, a.TS, b.TS)
	}
	if a.TS.Location() != time.UTC {
		return fmt.Errorf("message %d ts location = %v; want UTC", a.ID, a.TS.Location())
	}
	if !sameJSON(a.Data, b.Data) {
		return fmt.Errorf("message %d data = %s; want %s", a.ID, a.Data, b.Data)
	}
	return nil
}

func sameJSON(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var x, y bytes.Buffer
	if json.Compact(&x, a) != nil || json.Compact(&y, b) != nil {
		return false
	}
	return bytes.Equal(x.Bytes(), y.Bytes())
}

func testHistoryPaging(t *testing.T, open Opener) {
	s := open(t)
	ctx := ctxT(t)
	conv := store.DirectConv("alice", "bob")
	var want []store.Message
	for i := 0; i < 7; i++ {
		from, to := "alice", "bob"
		if i%2 == 1 {
			from, to = to, from
		}
		want = append(want, save(t, s, store.Message{From: from, To: to, Text: fmt.Sprintf("m%d", i)}))
		save(t, s, store.Message{From: "alice", To: "carol", Text: "noise"})
		save(t, s, store.Message{From: "alice", Room: "lobby", Text: "noise"})
	}
	tests := []struct {
		before  int64
		limit   int
		want    []int64
		hasMore bool
	}{
		{0, 3, ids(want[4:]), true},
		{want[4].ID, 3, ids(want[1:4]), true},
		{want[1].ID, 3, ids(want[:1]), false},
		{0, 7, ids(want), false},
		{0, 100, ids(want), false},
		{want[0].ID, 5, nil, false},
		{want[6].ID + 1000, 2, ids(want[5:]), true},
	}
	for _, tt := range tests {
		got, more, err := s.History(ctx, conv, tt.before, tt.limit)
		if err != nil {
			t.Fatalf("History(%q, %d, %d) error %v", conv, tt.before, tt.limit, err)
		}
		if !equalIDs(ids(got), tt.want) || more != tt.hasMore {
			t.Errorf("History(%q, %d, %d) = %v, %v; want %v, %v", conv, tt.before, tt.limit, ids(got), more, tt.want, tt.hasMore)
		}
	}
	got, _, err := s.History(ctx, conv, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if err := sameMessage(got[i], want[i]); err != nil {
			t.Errorf("History message %d: %v", i, err)
		}
	}
	// The conversation key does not depend on who is first.
	rev, _, err := s.History(ctx, store.DirectConv("bob", "alice"), 0, 100)
	if err != nil || !equalIDs(ids(rev), ids(want)) {
		t.Errorf("History(DirectConv(bob, alice)) = %v, %v; want %v", ids(rev), err, ids(want))
	}
	empty, more, err := s.History(ctx, store.DirectConv("x", "y"), 0, 10)
	if err != nil || len(empty) != 0 || more {
		t.Errorf("History(empty conv) = %v, %v, %v; want none", empty, more, err)
	}
	room, _, err := s.History(ctx, store.RoomConv("lobby"), 0, 100)
	if err != nil || len(room) != 7 {
		t.Errorf("History(lobby) = %d messages, %v; want 7", len(room), err)
	}
}

func testIDsIncrease(t *testing.T, open Opener) {
	s := open(t)
	var last int64
	for i := 0; i < 5; i++ {
		m := save(t, s, store.Message{From: "a", To: "b", Text: "x"})
		if m.ID <= last {
			t.Fatalf("SaveMessage id = %d after %d; want increasing", m.ID, last)
		}
		last = m.ID
	}
	const n = 64
	got := make([]int64, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			m := store.Message{From: fmt.Sprint("u", i%5), Room: "lobby", Text: fmt.Sprint(i)}
			if _, err := s.SaveMessage(context.Background(), &m); err != nil {
				errs <- err
				return
			}
			got[i] = m.ID
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent SaveMessage: %v", err)
	}
	seen := map[int64]bool{}
	for _, id := range got {
		if id <= last || seen[id] {
			t.Fatalf("concurrent ids %v: %d repeated or not above %d", got, id, last)
		}
		seen[id] = true
	}
	hist, _, err := s.History(context.Background(), store.RoomConv("lobby"), 0, 100)
	if err != nil || len(hist) != n {
		t.Fatalf("History(lobby) = %d, %v; want %d", len(hist), err, n)
	}
	for i := 1; i < len(hist); i++ {
		if hist[i].ID <= hist[i-1].ID {
			t.Fatalf("History ids %v not increasing", ids(hist))
		}
	}
}

func testTimestampSet(t *testing.T, open Opener) {
	s := open(t)
	before := time.Now().Add(-time.Second)
	m := save(t, s, store.Message{From: "a", To: "b", Text: "now"})
	after := time.Now().Add(time.Second)
	if m.TS.Before(before) || m.TS.After(after) || m.TS.Location() != time.UTC {
		t.Errorf("SaveMessage ts = %v; want UTC between %v and %v", m.TS, before, after)
	}
	ts := time.Date(2025, 3, 4, 5, 6, 7, 0, time.FixedZone("X", 3600))
	m2 := save(t, s, store.Message{From: "a", To: "b", Text: "given", TS: ts})
	got, _, err := s.History(ctxT(t), m2.Conv(), 0, 1)
	if err != nil || len(got) != 1 || !got[0].TS.Equal(ts) || got[0].TS.Location() != time.UTC {
		t.Errorf("History after SaveMessage(ts %v) = %+v, %v; want that instant in UTC", ts, got, err)
	}
}

func testDedup(t *testing.T, open Opener) {
	s := open(t)
	ctx := ctxT(t)
	orig := save(t, s, store.Message{From: "a", To: "b", Text: "first", ClientID: "c1"})
	dup := store.Message{From: "a", To: "b", Text: "second", ClientID: "c1"}
	created, err := s.SaveMessage(ctx, &dup)
	if err != nil || created {
		t.Fatalf("SaveMessage(dup) = %v, %v; want false, nil", created, err)
	}
	if err := sameMessage(dup, orig); err != nil {
		t.Errorf("SaveMessage(dup) returned %v", err)
	}
	// Another client id, and no client id at all, are new messages.
	save(t, s, store.Message{From: "a", To: "b", Text: "third", ClientID: "c2"})
	save(t, s, store.Message{From: "a", To: "b", Text: "no id"})
	save(t, s, store.Message{From: "a", To: "b", Text: "no id"})
	hist, _, err := s.History(ctx, orig.Conv(), 0, 100)
	if err != nil || len(hist) != 4 {
		t.Fatalf("History = %d messages, %v; want 4", len(hist), err)
	}
	var texts []string
	for _, m := range hist {
		texts = append(texts, m.Text)
	}
	if strings.Join(texts, "|") != "first|third|no id|no id" {
		t.Errorf("History texts = %q; want first, third, no id, no id", texts)
	}
}

func testDedupConcurrent(t *testing.T, open Opener) {
	s := open(t)
	const n = 32
	var wg sync.WaitGroup
	var mu sync.Mutex
	createdN := 0
	gotIDs := map[int64]bool{}
	var firstErr error
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			m := store.Message{From: "a", Room: "lobby", Text: fmt.Sprint("try ", i), ClientID: "same"}
			created, err := s.SaveMessage(context.Background(), &m)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				firstErr = err
				return
			}
			if created {
				createdN++
			}
			gotIDs[m.ID] = true
		}(i)
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("SaveMessage: %v", firstErr)
	}
	if createdN != 1 || len(gotIDs) != 1 {
		t.Errorf("%d concurrent identical sends: created %d, ids %v; want 1 created, 1 id", n, createdN, gotIDs)
	}
	hist, _, err := s.History(ctxT(t), store.RoomConv("lobby"), 0, 100)
	if err != nil || len(hist) != 1 {
		t.Errorf("History(lobby) = %d messages, %v; want 1", len(hist), err)
	}
}

func testDedupOtherUser(t *testing.T, open Opener) {
	s := open(t)
	a := save(t, s, store.Message{From: "a", Room: "lobby", Text: "from a", ClientID: "k"})
	b := save(t, s, store.Message{From: "b", Room: "lobby", Text: "from b", ClientID: "k"})
	if a.ID == b.ID || b.Text != "from b" {
		t.Errorf("same client id from two users: %+v and %+v; want two messages", a, b)
	}
}

func findConv(cs []store.Conversation, with, room string) *store.Conversation {
	for i := range cs {
		if cs[i].With == with && cs[i].Room == room {
			return &cs[i]
		}
	}
	return nil
}

func convSummary(cs []store.Conversation) string {
	var parts []string
	for _, c := range cs {
		last := int64(0)
		if c.Last != nil {
			last = c.Last.ID
		}
		name := "with:" + c.With
		if c.Room != "" {
			name = "room:" + c.Room
		}
		parts = append(parts, fmt.Sprintf("%s unread=%d last=%d", name, c.Unread, last))
	}
	return strings.Join(parts, "; ")
}

func testConversations(t *testing.T, open Opener) {
	s := open(t)
	ctx := ctxT(t)
	save(t, s, store.Message{From: "a", To: "b", Text: "1"})
	b1 := save(t, s, store.Message{From: "b", To: "a", Text: "2"})
	b2 := save(t, s, store.Message{From: "b", To: "a", Text: "3"})
	c1 := save(t, s, store.Message{From: "c", To: "a", Text: "4"})
	d1 := save(t, s, store.Message{From: "a", To: "d", Text: "5"})
	save(t, s, store.Message{From: "x", To: "y", Text: "not a's"})

	got, err := s.Conversations(ctx, "a", nil, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("with:d unread=0 last=%d; with:c unread=1 last=%d; with:b unread=2 last=%d", d1.ID, c1.ID, b2.ID)
	if convSummary(got) != want {
		t.Errorf("Conversations(a) = %s; want %s", convSummary(got), want)
	}
	if got[0].Last == nil || got[0].Last.Text != "5" {
		t.Errorf("Conversations(a)[0].Last = %+v; want text 5", got[0].Last)
	}
	limited, err := s.Conversations(ctx, "a", nil, 2)
	if err != nil || len(limited) != 2 || limited[0].With != "d" || limited[1].With != "c" {
		t.Errorf("Conversations(a, limit 2) = %s, %v; want d, c", convSummary(limited), err)
	}
	if err := s.MarkRead(ctx, "a", store.DirectConv("a", "b"), b1.ID); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Conversations(ctx, "a", nil, 10)
	if c := findConv(got, "b", ""); c == nil || c.Unread != 1 {
		t.Errorf("after MarkRead(b1) Conversations(a) = %s; want with:b unread=1", convSummary(got))
	}
	// Own messages never count as unread.
	save(t, s, store.Message{From: "a", To: "b", Text: "6"})
	got, _ = s.Conversations(ctx, "a", nil, 10)
	if c := findConv(got, "b", ""); c == nil || c.Unread != 1 || got[0].With != "b" {
		t.Errorf("after own message Conversations(a) = %s; want with:b first, unread=1", convSummary(got))
	}
	gotB, _ := s.Conversations(ctx, "b", nil, 10)
	if c := findConv(gotB, "a", ""); c == nil || c.Unread != 2 || len(gotB) != 1 {
		t.Errorf("Conversations(b) = %s; want only with:a unread=2", convSummary(gotB))
	}
	none, err := s.Conversations(ctx, "nobody", nil, 10)
	if err != nil || len(none) != 0 {
		t.Errorf("Conversations(nobody) = %s, %v; want none", convSummary(none), err)
	}
}

func testUnreadCap(t *testing.T, open Opener) {
	s := open(t)
	n := store.UnreadCap + 20
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += 32 {
				m := store.Message{From: "b", To: "a", Text: fmt.Sprint(i)}
				if _, err := s.SaveMessage(context.Background(), &m); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, err := s.Conversations(ctxT(t), "a", nil, 10)
	if err != nil || len(got) != 1 || got[0].Unread != store.UnreadCap {
		t.Errorf("Conversations(a) after %d messages = %s, %v; want unread=%d", n, convSummary(got), err, store.UnreadCap)
	}
}

func testReadMarkNeverBack(t *testing.T, open Opener) {
	s := open(t)
	ctx := ctxT(t)
	var ms []store.Message
	for i := 0; i < 5; i++ {
		ms = append(ms, save(t, s, store.Message{From: "b", To: "a", Text: fmt.Sprint(i)}))
	}
	conv := store.DirectConv("a", "b")
	steps := []struct {
		upto int64
		want int
	}{
		{ms[3].ID, 1},
		{ms[1].ID, 1}, // never moves back
		{0, 1},
		{ms[4].ID, 0},
		{ms[2].ID, 0},
	}
	for _, st := range steps {
		if err := s.MarkRead(ctx, "a", conv, st.upto); err != nil {
			t.Fatalf("MarkRead(%d) = %v", st.upto, err)
		}
		got, err := s.Conversations(ctx, "a", nil, 10)
		if err != nil || len(got) != 1 || got[0].Unread != st.want {
			t.Errorf("after MarkRead(%d) Conversations(a) = %s, %v; want unread=%d", st.upto, convSummary(got), err, st.want)
		}
	}
}

func testRooms(t *testing.T, open Opener) {
	s := open(t)
	ctx := ctxT(t)
	l1 := save(t, s, store.Message{From: "b", Room: "lobby", Text: "1"})
	save(t, s, store.Message{From: "c", Room: "lobby", Text: "2"})
	l3 := save(t, s, store.Message{From: "a", Room: "lobby", Text: "3"})
	d := save(t, s, store.Message{From: "b", To: "a", Text: "direct"})
	rooms := []string{"lobby", "empty"}
	got, err := s.Conversations(ctx, "a", rooms, 10)
	if err != nil {
		t.Fatal(err)
	}
	// No read mark in a room: nothing unread.
	want := fmt.Sprintf("with:b unread=1 last=%d; room:lobby unread=0 last=%d; room:empty unread=0 last=0", d.ID, l3.ID)
	if convSummary(got) != want {
		t.Errorf("Conversations(a, %v) = %s; want %s", rooms, convSummary(got), want)
	}
	if err := s.MarkRead(ctx, "a", store.RoomConv("lobby"), l1.ID); err != nil {
		t.Fatal(err)
	}
	save(t, s, store.Message{From: "d", Room: "lobby", Text: "4"})
	got, _ = s.Conversations(ctx, "a", rooms, 10)
	if c := findConv(got, "", "lobby"); c == nil || c.Unread != 2 || c.Last == nil || c.Last.Text != "4" {
		t.Errorf("after MarkRead(lobby, l1) Conversations(a) = %s; want room:lobby unread=2 (own message not counted), last text 4", convSummary(got))
	}
	// A room message does not make the room a direct conversation.
	gotC, _ := s.Conversations(ctx, "c", nil, 10)
	if len(gotC) != 0 {
		t.Errorf("Conversations(c) = %s; want none (c only wrote in a room)", convSummary(gotC))
	}
}

func testRequests(t *testing.T, open Opener) {
	s := open(t)
	ctx := ctxT(t)
	t0 := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	for _, r := range []store.Request{
		{From: "a", To: "c", Text: "hi from a", TS: t0},
		{From: "b", To: "c", Text: "hi from b", TS: t0.Add(time.Minute)},
		{From: "a", To: "d", Text: "other recipient", TS: t0},
		{From: "a", To: "c", Text: "again from a", TS: t0.Add(2 * time.Minute)}, // replaces
	} {
		if err := s.SaveRequest(ctx, r); err != nil {
			t.Fatalf("SaveRequest(%+v) = %v", r, err)
		}
	}
	got, err := s.Requests(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	var desc []string
	for _, r := range got {
		desc = append(desc, r.From+":"+r.Text)
	}
	if strings.Join(desc, "|") != "b:hi from b|a:again from a" {
		t.Errorf("Requests(c) = %q; want b:hi from b, a:again from a (oldest first, a replaced)", desc)
	}
	if len(got) == 2 && (!got[1].TS.Equal(t0.Add(2*time.Minute)) || got[1].To != "c") {
		t.Errorf("Requests(c)[1] = %+v; want ts %v, to c", got[1], t0.Add(2*time.Minute))
	}
	r, found, err := s.DeleteRequest(ctx, "c", "a")
	if err != nil || !found || r.Text != "again from a" || r.From != "a" {
		t.Errorf("DeleteRequest(c, a) = %+v, %v, %v; want the request", r, found, err)
	}
	_, found, err = s.DeleteRequest(ctx, "c", "a")
	if err != nil || found {
		t.Errorf("DeleteRequest(c, a) twice = %v, %v; want not found", found, err)
	}
	got, _ = s.Requests(ctx, "c")
	if len(got) != 1 || got[0].From != "b" {
		t.Errorf("Requests(c) after delete = %+v; want only b's", got)
	}
	got, _ = s.Requests(ctx, "nobody")
	if len(got) != 0 {
		t.Errorf("Requests(nobody) = %+v; want none", got)
	}
	// A zero TS is set to now.
	if err := s.SaveRequest(ctx, store.Request{From: "z", To: "y", Text: "t"}); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Requests(ctx, "y")
	if len(got) != 1 || time.Since(got[0].TS) > time.Minute || got[0].TS.After(time.Now().Add(time.Minute)) {
		t.Errorf("Requests(y) = %+v; want one with ts now", got)
	}
}

func testMutes(t *testing.T, open Opener) {
	s := open(t)
	ctx := ctxT(t)
	exp := time.Now().UTC().Truncate(time.Second).Add(10 * time.Minute)
	for _, m := range []store.Mute{
		{Room: "lobby", UserID: "u1", Mins: 5, ExpiresAt: exp, By: "mod"},
		{Room: "lobby", UserID: "u2", Mins: 1, ExpiresAt: exp.Add(-time.Hour), By: "mod"}, // expired: still listed
		{Room: "other", UserID: "u1", Mins: 5, ExpiresAt: exp, By: "admin"},
		{Room: "lobby", UserID: "u1", Mins: 60, ExpiresAt: exp.Add(time.Hour), By: "admin"}, // replaces
	} {
		if err := s.SaveMute(ctx, m); err != nil {
			t.Fatalf("SaveMute(%+v) = %v", m, err)
		}
	}
	desc := func() string {
		ms, err := s.Mutes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range ms {
			out = append(out, fmt.Sprintf("%s/%s/%d/%s/%s", m.Room, m.UserID, m.Mins, m.By, m.ExpiresAt.UTC().Format(time.RFC3339)))
		}
		sort.Strings(out)
		return strings.Join(out, " ")
	}
	f := func(t time.Time) string { return t.Format(time.RFC3339) }
	want := fmt.Sprintf("lobby/u1/60/admin/%s lobby/u2/1/mod/%s other/u1/5/admin/%s", f(exp.Add(time.Hour)), f(exp.Add(-time.Hour)), f(exp))
	if got := desc(); got != want {
		t.Errorf("Mutes() = %s; want %s", got, want)
	}
	found, err := s.DeleteMute(ctx, "lobby", "u2")
	if err != nil || !found {
		t.Errorf("DeleteMute(lobby, u2) = %v, %v; want true", found, err)
	}
	found, err = s.DeleteMute(ctx, "lobby", "u2")
	if err != nil || found {
		t.Errorf("DeleteMute(lobby, u2) twice = %v, %v; want false", found, err)
	}
	want = fmt.Sprintf("lobby/u1/60/admin/%s other/u1/5/admin/%s", f(exp.Add(time.Hour)), f(exp))
	if got := desc(); got != want {
		t.Errorf("Mutes() after delete = %s; want %s", got, want)
	}
}

func testBlocks(t *testing.T, open Opener) {
	s := open(t)
	ctx := ctxT(t)
	steps := []struct {
		user, other string
		block       bool
	}{
		{"a", "b", true}, {"a", "c", true}, {"a", "b", true}, {"b", "a", true}, {"a", "c", false}, {"a", "zz", false},
	}
	for _, st := range steps {
		if err := s.SetBlock(ctx, st.user, st.other, st.block); err != nil {
			t.Fatalf("SetBlock(%q, %q, %v) = %v", st.user, st.other, st.block, err)
		}
	}
	for user, want := range map[string]string{"a": "b", "b": "a", "c": ""} {
		got, err := s.Blocks(ctx, user)
		sort.Strings(got)
		if err != nil || strings.Join(got, ",") != want {
			t.Errorf("Blocks(%q) = %q, %v; want %q", user, got, err, want)
		}
	}
}

func testTextVerbatim(t *testing.T, open Opener) {
	s := open(t)
	ctx := ctxT(t)
	texts := []string{
		"emoji 😀🎉 and 𝄞 (4-byte UTF-8)",
		"<script>alert('x')</script> & \"quotes\" \\ back",
		"Ünïcödé Ελληνικά 中文 עברית",
		"line\nbreak\ttab",
		strings.Repeat("é", 350),
	}
	var want []store.Message
	for i, txt := range texts {
		m := store.Message{From: "😀user", To: "b", Text: txt, ClientID: fmt.Sprint("cid-😀-", i)}
		if i == 1 {
			m = store.Message{To: "b", Text: txt, System: true, Data: json.RawMessage(`{"kind":"notice","n":[1,2],"s":"<b>😀</b>"}`)}
		}
		want = append(want, save(t, s, m))
	}
	got, _, err := s.History(ctx, store.DirectConv("😀user", "b"), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	sys, _, err := s.History(ctx, store.DirectConv("", "b"), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, sys...)
	sort.Slice(got, func(i, j int) bool { return got[i].ID < got[j].ID })
	if len(got) != len(want) {
		t.Fatalf("History = %d messages; want %d", len(got), len(want))
	}
	for i := range want {
		if err := sameMessage(got[i], want[i]); err != nil {
			t.Errorf("text %q: %v", texts[i], err)
		}
	}
	// Dedup works with a 4-byte client id too.
	dup := store.Message{From: "😀user", To: "b", Text: "again", ClientID: "cid-😀-0"}
	created, err := s.SaveMessage(ctx, &dup)
	if err != nil || created || dup.ID != want[0].ID {
		t.Errorf("SaveMessage(dup with emoji client id) = %v, %v, id %d; want false, nil, %d", created, err, dup.ID, want[0].ID)
	}
	if err := s.SaveRequest(ctx, store.Request{From: "😀user", To: "b", Text: "<i>hi</i> 🎉"}); err != nil {
		t.Fatal(err)
	}
	rs, err := s.Requests(ctx, "b")
	if err != nil || len(rs) != 1 || rs[0].Text != "<i>hi</i> 🎉" || rs[0].From != "😀user" {
		t.Errorf("Requests(b) = %+v, %v; want the emoji request verbatim", rs, err)
	}
}

func testBadMessage(t *testing.T, open Opener) {
	s := open(t)
	for _, m := range []store.Message{
		{From: "a", Text: "nowhere"},
		{From: "a", To: "b", Room: "lobby", Text: "both"},
	} {
		mm := m
		if _, err := s.SaveMessage(ctxT(t), &mm); err == nil {
			t.Errorf("SaveMessage(%+v) = nil error; want one (exactly one of to and room)", m)
		}
	}
}

func testReopen(t *testing.T, open Opener) {
	s := open(t)
	ctx := ctxT(t)
	m1 := save(t, s, store.Message{From: "a", To: "b", Text: "kept 😀", ClientID: "k1"})
	m2 := save(t, s, store.Message{From: "a", Room: "lobby", Text: "room kept"})
	if err := s.MarkRead(ctx, "b", m1.Conv(), m1.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveRequest(ctx, store.Request{From: "a", To: "b", Text: "req"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveMute(ctx, store.Mute{Room: "lobby", UserID: "a", Mins: 5, ExpiresAt: time.Now().Add(time.Hour), By: "m"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetBlock(ctx, "b", "a", true); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}

	s = open(t)
	hist, _, err := s.History(ctx, m1.Conv(), 0, 10)
	if err != nil || len(hist) != 1 || sameMessage(hist[0], m1) != nil {
		t.Errorf("after reopen History = %+v, %v; want [%+v]", hist, err, m1)
	}
	hist, _, err = s.History(ctx, store.RoomConv("lobby"), 0, 10)
	if err != nil || len(hist) != 1 || hist[0].ID != m2.ID {
		t.Errorf("after reopen History(lobby) = %+v, %v; want [%d]", hist, err, m2.ID)
	}
	dup := store.Message{From: "a", To: "b", Text: "dup", ClientID: "k1"}
	if created, err := s.SaveMessage(ctx, &dup); err != nil || created || dup.ID != m1.ID {
		t.Errorf("after reopen SaveMessage(dup) = %v, %v, id %d; want false, nil, %d (dedup survives)", created, err, dup.ID, m1.ID)
	}
	m3 := save(t, s, store.Message{From: "b", To: "a", Text: "new"})
	if m3.ID <= m2.ID {
		t.Errorf("after reopen new id %d; want above %d", m3.ID, m2.ID)
	}
	cs, err := s.Conversations(ctx, "b", nil, 10)
	if err != nil || len(cs) != 1 || cs[0].With != "a" || cs[0].Unread != 0 {
		t.Errorf("after reopen Conversations(b) = %s, %v; want with:a unread=0 (read mark kept)", convSummary(cs), err)
	}
	if rs, err := s.Requests(ctx, "b"); err != nil || len(rs) != 1 {
		t.Errorf("after reopen Requests(b) = %+v, %v; want 1", rs, err)
	}
	if ms, err := s.Mutes(ctx); err != nil || len(ms) != 1 {
		t.Errorf("after reopen Mutes() = %+v, %v; want 1", ms, err)
	}
	if bs, err := s.Blocks(ctx, "b"); err != nil || len(bs) != 1 || bs[0] != "a" {
		t.Errorf("after reopen Blocks(b) = %v, %v; want [a]", bs, err)
	}
}

func testPrune(t *testing.T, open Opener) {
	s := open(t)
	ctx := ctxT(t)
	p, ok := s.(store.Pruner)
	if !ok {
		t.Fatalf("%T does not implement store.Pruner", s)
	}
	old := time.Now().UTC().Add(-48 * time.Hour).Truncate(time.Second)
	for i := 0; i < 5; i++ {
		save(t, s, store.Message{From: "a", To: "b", Text: fmt.Sprint("old", i), TS: old.Add(time.Duration(i) * time.Minute)})
		save(t, s, store.Message{From: "a", Room: "lobby", Text: fmt.Sprint("old room", i), TS: old.Add(time.Duration(i) * time.Minute)})
	}
	save(t, s, store.Message{From: "a", To: "c", Text: "only old", TS: old.Add(5 * time.Minute)})
	keep := save(t, s, store.Message{From: "a", To: "b", Text: "new"})
	cutoff := time.Now().Add(-24 * time.Hour)
	n, err := p.Prune(ctx, cutoff, 4)
	if err != nil || n != 4 {
		t.Fatalf("Prune(batch 4) = %d, %v; want 4", n, err)
	}
	total := 4
	for i := 0; i < 10; i++ {
		n, err = p.Prune(ctx, cutoff, 4)
		if err != nil {
			t.Fatal(err)
		}
		total += n
		if n == 0 {
			break
		}
	}
	if total != 11 {
		t.Errorf("Prune removed %d in all; want 11", total)
	}
	hist, more, err := s.History(ctx, keep.Conv(), 0, 100)
	if err != nil || len(hist) != 1 || hist[0].ID != keep.ID || more {
		t.Errorf("History after Prune = %v, %v, %v; want [%d]", ids(hist), more, err, keep.ID)
	}
	room, _, err := s.History(ctx, store.RoomConv("lobby"), 0, 100)
	if err != nil || len(room) != 0 {
		t.Errorf("History(lobby) after Prune = %v, %v; want none", ids(room), err)
	}
	cs, err := s.Conversations(ctx, "b", nil, 10)
	if err != nil || len(cs) != 1 || cs[0].Unread != 1 || cs[0].Last == nil || cs[0].Last.ID != keep.ID {
		t.Errorf("Conversations(b) after Prune = %s, %v; want with:a unread=1 last=%d", convSummary(cs), err, keep.ID)
	}
	// A conversation with nothing left leaves the list.
	for _, u := range []string{"c", "a"} {
		cs, err = s.Conversations(ctx, u, nil, 10)
		if err != nil || findConv(cs, "c", "") != nil || findConv(cs, "a", "") != nil && u == "c" {
			t.Errorf("Conversations(%s) after Prune = %s, %v; want no line for a,c", u, convSummary(cs), err)
		}
	}
}

func testExportImport(t *testing.T, open Opener) {
	s := open(t)
	ctx := ctxT(t)
	ex, ok := s.(store.Exporter)
	if !ok {
		t.Fatalf("%T does not implement store.Exporter", s)
	}
	im, ok := s.(store.Importer)
	if !ok {
		t.Fatalf("%T does not implement store.Importer", s)
	}
	var all []store.Message
	for i := 0; i < 6; i++ {
		m := store.Message{From: "a", To: "b", Text: fmt.Sprint("d", i)}
		if i%2 == 1 {
			m = store.Message{From: "b", Room: "lobby", Text: fmt.Sprint("r", i)}
		}
		all = append(all, save(t, s, m))
	}
	tests := []struct {
		conv  store.Conv
		after int64
		limit int
		want  []int64
	}{
		{"", 0, 100, ids(all)},
		{"", all[1].ID, 2, ids(all[2:4])},
		{store.RoomConv("lobby"), 0, 100, []int64{all[1].ID, all[3].ID, all[5].ID}},
		{store.DirectConv("b", "a"), all[0].ID, 1, []int64{all[2].ID}},
		{store.RoomConv("none"), 0, 100, nil},
	}
	for _, tt := range tests {
		got, err := ex.Export(ctx, tt.conv, tt.after, tt.limit)
		if err != nil || !equalIDs(ids(got), tt.want) {
			t.Errorf("Export(%q, %d, %d) = %v, %v; want %v", tt.conv, tt.after, tt.limit, ids(got), err, tt.want)
		}
	}
	// Import: existing ids are skipped, new ones keep their id.
	big := all[5].ID + 100
	in := []store.Message{
		all[0],
		{ID: big, From: "c", To: "a", Text: "imported 😀", TS: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), ClientID: "imp"},
		{ID: big - 50, From: "c", Room: "lobby", Text: "imported room", TS: time.Date(2024, 1, 2, 3, 4, 6, 0, time.UTC)},
	}
	n, err := im.ImportMessages(ctx, in)
	if err != nil || n != 2 {
		t.Fatalf("ImportMessages = %d, %v; want 2", n, err)
	}
	n, err = im.ImportMessages(ctx, in)
	if err != nil || n != 0 {
		t.Errorf("ImportMessages again = %d, %v; want 0", n, err)
	}
	hist, _, err := s.History(ctx, store.DirectConv("a", "c"), 0, 10)
	if err != nil || len(hist) != 1 || sameMessage(hist[0], in[1]) != nil {
		t.Errorf("History(a,c) after import = %+v, %v; want [%+v]", hist, err, in[1])
	}
	cs, err := s.Conversations(ctx, "a", nil, 10)
	if err != nil || findConv(cs, "c", "") == nil || cs[0].With != "c" {
		t.Errorf("Conversations(a) after import = %s, %v; want with:c first", convSummary(cs), err)
	}
	next := save(t, s, store.Message{From: "a", To: "b", Text: "after import"})
	if next.ID <= big {
		t.Errorf("SaveMessage after import id = %d; want above %d", next.ID, big)
	}
}

func testBatchSave(t *testing.T, open Opener) {
	s := open(t)
	ctx := ctxT(t)
	bs, ok := s.(store.BatchSaver)
	if !ok {
		t.Fatalf("%T does not implement store.BatchSaver", s)
	}
	earlier := save(t, s, store.Message{From: "a", To: "b", Text: "earlier", ClientID: "e"})
	msgs := []*store.Message{
		{From: "a", To: "b", Text: "one", ClientID: "k1"},
		{From: "b", Room: "lobby", Text: "two"},
		{From: "a", To: "b", Text: "one again", ClientID: "k1"},    // duplicate inside the batch
		{From: "a", To: "b", Text: "earlier again", ClientID: "e"}, // duplicate of a stored one
		{From: "c", To: "a", Text: "three 😀", ClientID: "k1"},      // other sender
	}
	created, err := bs.SaveMessages(ctx, msgs)
	if err != nil {
		t.Fatalf("SaveMessages = %v", err)
	}
	if fmt.Sprint(created) != "[true true false false true]" {
		t.Errorf("SaveMessages created = %v; want [true true false false true]", created)
	}
	if !(msgs[0].ID > earlier.ID && msgs[1].ID > msgs[0].ID && msgs[4].ID > msgs[1].ID) {
		t.Errorf("SaveMessages ids = %d, %d, %d after %d; want increasing in slice order", msgs[0].ID, msgs[1].ID, msgs[4].ID, earlier.ID)
	}
	if msgs[2].ID != msgs[0].ID || msgs[2].Text != "one" || msgs[3].ID != earlier.ID || msgs[3].Text != "earlier" {
		t.Errorf("SaveMessages duplicates = %+v, %+v; want the originals %d and %d", *msgs[2], *msgs[3], msgs[0].ID, earlier.ID)
	}
	for _, m := range msgs {
		if m.TS.IsZero() {
			t.Errorf("SaveMessages left ts zero: %+v", *m)
		}
	}
	hist, _, err := s.History(ctx, store.DirectConv("a", "b"), 0, 10)
	if err != nil || len(hist) != 2 {
		t.Errorf("History(a,b) = %d messages, %v; want 2", len(hist), err)
	}
	if _, err := bs.SaveMessages(ctx, []*store.Message{{From: "a", To: "b", Text: "ok"}, {From: "a", Text: "nowhere"}}); err == nil {
		t.Errorf("SaveMessages with a message without to or room = nil error; want one")
	}
}

func testClose(t *testing.T, open Opener) {
	s := open(t)
	ctx := ctxT(t)
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping() = %v; want nil", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close() twice = %v; want nil", err)
	}
	m := store.Message{From: "a", To: "b", Text: "late"}
	if _, err := s.SaveMessage(ctx, &m); !errors.Is(err, store.ErrClosed) {
		t.Errorf("SaveMessage after Close = %v; want ErrClosed", err)
	}
	if _, _, err := s.History(ctx, m.Conv(), 0, 1); !errors.Is(err, store.ErrClosed) {
		t.Errorf("History after Close = %v; want ErrClosed", err)
	}
	if err := s.Ping(ctx); err == nil {
		t.Errorf("Ping after Close = nil; want an error")
	}
}

// BenchSave measures durable sends per second with senders concurrent
// goroutines, each sending to its own peer with a client id (the hot path
// of `send`). It reports sends/s.
func BenchSave(b *testing.B, s store.Store, senders int) {
	b.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	next := make(chan int, senders)
	run := time.Now().UnixNano()
	b.ResetTimer()
	start := time.Now()
	go func() {
		for i := 0; i < b.N; i++ {
			next <- i
		}
		close(next)
	}()
	for w := 0; w < senders; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := range next {
				m := store.Message{From: fmt.Sprint("u", w), To: fmt.Sprint("p", w%7), Text: "hello, benchmark 😀", ClientID: fmt.Sprint("b", run, "-", i)}
				if _, err := s.SaveMessage(ctx, &m); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}(w)
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	b.ReportMetric(float64(b.N)/el.Seconds(), "sends/s")
}
