package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"pollchat/store"
)

func init() {
	cases = append(cases,
		testCase{"Records", testRecords},
		testCase{"RecordsSwap", testRecordsSwap},
		testCase{"RecordsDue", testRecordsDue},
		testCase{"RecordsBounds", testRecordsBounds},
		testCase{"Bans", testBans},
		testCase{"Reports", testReports},
		testCase{"Audit", testAudit},
		testCase{"CreatedRooms", testCreatedRooms},
		testCase{"Outbox", testOutbox},
		testCase{"OutboxClaimConcurrent", testOutboxClaimConcurrent},
		testCase{"Hidden", testHidden},
		testCase{"Attachments", testAttachments},
	)
}

// records returns s's Records; a store without them fails the case: every
// engine implements them.
func records(t *testing.T, s store.Store) store.Records {
	t.Helper()
	r, ok := s.(store.Records)
	if !ok {
		t.Fatalf("%T does not implement store.Records", s)
	}
	return r
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)} }
func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func keys(rs []store.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Key
	}
	return out
}

func testRecords(t *testing.T, open Opener) {
	s := open(t)
	r := records(t, s)
	ctx := ctxT(t)
	for _, k := range []string{"b,2", "a,1", "b,1", "b,10", "c", "b", "bé,ü"} {
		if err := r.PutRecord(ctx, "thing", k, []byte("v:"+k)); err != nil {
			t.Fatalf("PutRecord(thing, %q) = %v", k, err)
		}
	}
	if err := r.PutRecord(ctx, "other", "b,1", []byte("other kind")); err != nil {
		t.Fatal(err)
	}
	got, found, err := r.GetRecord(ctx, "thing", "b,1")
	if err != nil || !found || string(got.Val) != "v:b,1" || got.Rev != 1 {
		t.Errorf("GetRecord(thing, b,1) = %+v, %v, %v; want v:b,1 rev 1", got, found, err)
	}
	if _, found, err := r.GetRecord(ctx, "thing", "zz"); found || err != nil {
		t.Errorf("GetRecord(missing) = %v, %v; want not found", found, err)
	}
	if _, found, err := r.GetRecord(ctx, "nokind", "zz"); found || err != nil {
		t.Errorf("GetRecord(kind never written) = %v, %v; want not found", found, err)
	}
	tests := []struct {
		prefix, after string
		limit         int
		want          string
	}{
		{"", "", 0, "a,1 b b,1 b,10 b,2 bé,ü c"},
		{"b,", "", 0, "b,1 b,10 b,2"},
		{"b,", "b,1", 0, "b,10 b,2"},
		{"b,", "b,10", 1, "b,2"},
		{"b", "", 2, "b b,1"},
		{"", "b,2", 0, "bé,ü c"},
		{"", "a", 1, "a,1"},
		{"x", "", 0, ""},
		{"b,", "zzz", 0, ""},
	}
	for _, tt := range tests {
		rs, err := r.ListRecords(ctx, "thing", tt.prefix, tt.after, tt.limit)
		if err != nil || strings.Join(keys(rs), " ") != tt.want {
			t.Errorf("ListRecords(thing, %q, %q, %d) = %q, %v; want %q", tt.prefix, tt.after, tt.limit, keys(rs), err, tt.want)
		}
	}
	if err := r.PutRecord(ctx, "thing", "b,1", []byte("again")); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := r.GetRecord(ctx, "thing", "b,1"); string(got.Val) != "again" || got.Rev != 2 {
		t.Errorf("after second PutRecord = %+v; want again, rev 2", got)
	}
	if found, err := r.DeleteRecord(ctx, "thing", "b,1"); !found || err != nil {
		t.Errorf("DeleteRecord = %v, %v; want found", found, err)
	}
	if found, err := r.DeleteRecord(ctx, "thing", "b,1"); found || err != nil {
		t.Errorf("DeleteRecord again = %v, %v; want not found", found, err)
	}
	if o, found, _ := r.GetRecord(ctx, "other", "b,1"); !found || string(o.Val) != "other kind" {
		t.Errorf("other kind's record = %+v, %v; want kept", o, found)
	}
	// Empty and binary values, and the data survives a reopen.
	bin := []byte{0, 1, 2, 0xff, '\n'}
	if err := r.PutRecord(ctx, "thing", "bin", bin); err != nil {
		t.Fatal(err)
	}
	if err := r.PutRecord(ctx, "thing", "empty", nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	r = records(t, open(t))
	if got, _, err := r.GetRecord(ctx, "thing", "bin"); err != nil || !bytes.Equal(got.Val, bin) {
		t.Errorf("GetRecord(bin) after reopen = %v, %v; want %v", got.Val, err, bin)
	}
	if got, found, err := r.GetRecord(ctx, "thing", "empty"); err != nil || !found || len(got.Val) != 0 {
		t.Errorf("GetRecord(empty) after reopen = %+v, %v, %v; want found and empty", got, found, err)
	}
	if _, found, _ := r.GetRecord(ctx, "thing", "b,1"); found {
		t.Errorf("deleted record back after reopen")
	}
}

func testRecordsSwap(t *testing.T, open Opener) {
	r := records(t, open(t))
	ctx := ctxT(t)
	swap := func(rev int64, val string, at int64, want bool) {
		t.Helper()
		var v []byte
		if val != "<nil>" {
			v = []byte(val)
		}
		ok, err := r.SwapRecord(ctx, "sw", "k", rev, v, at)
		if err != nil || ok != want {
			t.Fatalf("SwapRecord(rev %d, %q) = %v, %v; want %v", rev, val, ok, err, want)
		}
	}
	swap(1, "x", 0, false) // nothing there at rev 1
	swap(0, "one", 0, true)
	swap(0, "again", 0, false) // exists already
	swap(2, "two", 0, false)   // stale rev
	swap(1, "two", 5, true)
	if got, _, _ := r.GetRecord(ctx, "sw", "k"); string(got.Val) != "two" || got.Rev != 2 || got.At != 5 {
		t.Errorf("GetRecord after swaps = %+v; want two, rev 2, at 5", got)
	}
	swap(1, "<nil>", 0, false) // delete at a stale rev
	swap(2, "<nil>", 0, true)
	if _, found, _ := r.GetRecord(ctx, "sw", "k"); found {
		t.Errorf("record found after its delete swap")
	}
	swap(0, "<nil>", 0, true) // deleting what is not there
	swap(0, "reborn", 0, true)

	// Concurrent increments through SwapRecord lose nothing.
	const n = 24
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				cur, found, err := r.GetRecord(context.Background(), "sw", "counter")
				if err != nil {
					errs <- err
					return
				}
				v := 0
				if found {
					fmt.Sscan(string(cur.Val), &v)
				}
				ok, err := r.SwapRecord(context.Background(), "sw", "counter", cur.Rev, []byte(fmt.Sprint(v+1)), 0)
				if err != nil {
					errs <- err
					return
				}
				if ok {
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got, _, _ := r.GetRecord(ctx, "sw", "counter"); string(got.Val) != fmt.Sprint(n) || got.Rev != n {
		t.Errorf("counter after %d concurrent swaps = %s rev %d; want %d", n, got.Val, got.Rev, n)
	}
}

func testRecordsDue(t *testing.T, open Opener) {
	r := records(t, open(t))
	ctx := ctxT(t)
	for _, x := range []struct {
		k  string
		at int64
	}{{"late", 300}, {"early", 100}, {"never", 0}, {"mid2", 200}, {"mid1", 200}} {
		if ok, err := r.SwapRecord(ctx, "due", x.k, 0, []byte(x.k), x.at); !ok || err != nil {
			t.Fatalf("SwapRecord(%s) = %v, %v", x.k, ok, err)
		}
	}
	tests := []struct {
		upto  int64
		limit int
		want  string
	}{
		{0, 0, ""},
		{99, 0, ""},
		{100, 0, "early"},
		{250, 0, "early mid1 mid2"},
		{1000, 0, "early mid1 mid2 late"},
		{1000, 2, "early mid1"},
	}
	for _, tt := range tests {
		rs, err := r.DueRecords(ctx, "due", tt.upto, tt.limit)
		if err != nil || strings.Join(keys(rs), " ") != tt.want {
			t.Errorf("DueRecords(%d, %d) = %q, %v; want %q", tt.upto, tt.limit, keys(rs), err, tt.want)
		}
	}
	// Moving a record's due time moves it in the index; Put clears it.
	early, _, _ := r.GetRecord(ctx, "due", "early")
	if ok, err := r.SwapRecord(ctx, "due", "early", early.Rev, []byte("moved"), 500); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if err := r.PutRecord(ctx, "due", "mid1", []byte("no due")); err != nil {
		t.Fatal(err)
	}
	if found, err := r.DeleteRecord(ctx, "due", "mid2"); !found || err != nil {
		t.Fatal(found, err)
	}
	rs, err := r.DueRecords(ctx, "due", 1000, 0)
	if err != nil || strings.Join(keys(rs), " ") != "late early" {
		t.Errorf("DueRecords after moves = %q, %v; want [late early]", keys(rs), err)
	}
	if len(rs) == 2 && (string(rs[1].Val) != "moved" || rs[1].At != 500) {
		t.Errorf("DueRecords record = %+v; want the moved value at 500", rs[1])
	}
	n, err := store.PurgeDue(ctx, r, "due", time.UnixMilli(400), 10)
	if err != nil || n != 1 {
		t.Errorf("PurgeDue(400) = %d, %v; want 1 (late)", n, err)
	}
	if _, found, _ := r.GetRecord(ctx, "due", "late"); found {
		t.Errorf("purged record still there")
	}
}

func testRecordsBounds(t *testing.T, open Opener) {
	r := records(t, open(t))
	ctx := ctxT(t)
	big := make([]byte, store.MaxRecordLen+1)
	tests := []struct {
		name, kind, key string
		val             []byte
	}{
		{"value too long", "k", "key", big},
		{"empty kind", "", "key", nil},
		{"kind with upper case", "Kind", "key", nil},
		{"kind too long", strings.Repeat("k", 33), "key", nil},
		{"empty key", "k", "", nil},
		{"key too long", "k", strings.Repeat("x", 701), nil},
		{"key with a control character", "k", "a\x00b", nil},
		{"key with a newline", "k", "a\nb", nil},
		{"key not UTF-8", "k", "a\xffb", nil},
	}
	for _, tt := range tests {
		err := r.PutRecord(ctx, tt.kind, tt.key, tt.val)
		if !errors.Is(err, store.ErrInvalid) || !strings.HasPrefix(err.Error(), "store: ") {
			t.Errorf("PutRecord(%s) = %v; want a store error wrapping ErrInvalid", tt.name, err)
		}
		ok, err := r.SwapRecord(ctx, tt.kind, tt.key, 0, append(tt.val, 'x'), 0)
		if ok || !errors.Is(err, store.ErrInvalid) {
			t.Errorf("SwapRecord(%s) = %v, %v; want ErrInvalid", tt.name, ok, err)
		}
		if tt.kind == "k" && tt.key != "" && len(tt.key) <= 700 {
			if _, found, _ := r.GetRecord(ctx, "k", tt.key); found {
				t.Errorf("%s: stored anyway", tt.name)
			}
		}
	}
	// The largest value and key pass.
	max := bytes.Repeat([]byte("v"), store.MaxRecordLen)
	long := strings.Repeat("ü", 350)
	if err := r.PutRecord(ctx, "k", long, max); err != nil {
		t.Fatalf("PutRecord(longest key, largest value) = %v", err)
	}
	if got, _, err := r.GetRecord(ctx, "k", long); err != nil || !bytes.Equal(got.Val, max) {
		t.Errorf("GetRecord(longest key) = %d bytes, %v; want %d", len(got.Val), err, len(max))
	}
	if rs, _ := r.ListRecords(ctx, "k", "", "", 0); len(rs) != 1 {
		t.Errorf("ListRecords(k) = %q; want only the valid record", keys(rs))
	}
}

func testBans(t *testing.T, open Opener) {
	r := records(t, open(t))
	ctx := ctxT(t)
	clk := newClock()
	b := store.NewBans(r)
	b.Now = clk.Now
	if err := b.Ban(ctx, store.Ban{UserID: "eve", Reason: "spam", By: "mod"}); err != nil {
		t.Fatal(err)
	}
	if err := b.Ban(ctx, store.Ban{UserID: "mallory", Until: clk.Now().Add(time.Hour), By: "mod"}); err != nil {
		t.Fatal(err)
	}
	got, banned, err := b.BannedUntil(ctx, "eve")
	if err != nil || !banned || !got.Until.IsZero() || got.Reason != "spam" || got.By != "mod" || !got.At.Equal(clk.Now()) {
		t.Errorf("BannedUntil(eve) = %+v, %v, %v; want for ever, spam, by mod", got, banned, err)
	}
	if _, banned, _ := b.BannedUntil(ctx, "alice"); banned {
		t.Errorf("BannedUntil(alice) = true; want false")
	}
	list, err := b.Bans(ctx)
	if err != nil || len(list) != 2 || list[0].UserID != "eve" || list[1].UserID != "mallory" {
		t.Errorf("Bans() = %+v, %v; want eve and mallory", list, err)
	}
	clk.Add(time.Hour)
	if _, banned, _ := b.BannedUntil(ctx, "mallory"); banned {
		t.Errorf("BannedUntil(mallory) after the ban's end = true; want false")
	}
	if list, _ := b.Bans(ctx); len(list) != 1 || list[0].UserID != "eve" {
		t.Errorf("Bans() after mallory's ended = %+v; want eve only", list)
	}
	if n, err := store.PurgeDue(ctx, r, "ban", clk.Now(), 10); n != 1 || err != nil {
		t.Errorf("PurgeDue(ban) = %d, %v; want 1 (mallory's ended ban; eve's has no end)", n, err)
	}
	if found, err := b.Unban(ctx, "eve"); !found || err != nil {
		t.Errorf("Unban(eve) = %v, %v; want found", found, err)
	}
	if _, banned, _ := b.BannedUntil(ctx, "eve"); banned {
		t.Errorf("BannedUntil(eve) after Unban = true")
	}
	for _, bad := range []store.Ban{
		{UserID: "x", Reason: strings.Repeat("r", store.MaxReasonLen+1)},
		{UserID: ""},
		{UserID: "a,b"},
		{UserID: strings.Repeat("u", 65)},
	} {
		if err := b.Ban(ctx, bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Ban(%.40q reason %d bytes) = %v; want ErrInvalid", bad.UserID, len(bad.Reason), err)
		}
	}
	if list, _ := b.Bans(ctx); len(list) != 0 {
		t.Errorf("Bans() = %+v; want none (refused bans not stored)", list)
	}
}

func testReports(t *testing.T, open Opener) {
	r := records(t, open(t))
	ctx := ctxT(t)
	clk := newClock()
	rs := store.NewReports(r)
	rs.Now = clk.Now
	var saved []store.Report
	for i := 0; i < 3; i++ {
		rep := store.Report{MessageID: int64(10 + i), Reporter: "bob", Reason: fmt.Sprint("reason ", i),
			Message: store.MessageSnapshot{From: "eve", Conv: store.RoomConv("lobby"), Text: "bad <b>words</b>", TS: clk.Now()}}
		if err := rs.SaveReport(ctx, &rep, 3); err != nil {
			t.Fatalf("SaveReport #%d = %v", i, err)
		}
		if rep.Status != store.ReportOpen || (i > 0 && rep.ID <= saved[i-1].ID) {
			t.Fatalf("SaveReport #%d = %+v; want open with an increasing id", i, rep)
		}
		saved = append(saved, rep)
	}
	over := store.Report{MessageID: 99, Reporter: "bob", Reason: "fourth"}
	if err := rs.SaveReport(ctx, &over, 3); !errors.Is(err, store.ErrLimit) {
		t.Errorf("fourth SaveReport in a day with a bound of 3 = %v; want ErrLimit", err)
	}
	other := store.Report{MessageID: 99, Reporter: "carol", Reason: "x"}
	if err := rs.SaveReport(ctx, &other, 3); err != nil {
		t.Errorf("SaveReport by another reporter = %v", err)
	}
	clk.Add(24 * time.Hour)
	next := store.Report{MessageID: 100, Reporter: "bob", Reason: "next day"}
	if err := rs.SaveReport(ctx, &next, 3); err != nil {
		t.Errorf("SaveReport the next day = %v; want it accepted", err)
	}
	if err := rs.SaveReport(ctx, &store.Report{Reporter: "bob", Reason: strings.Repeat("x", store.MaxReasonLen+1)}, 0); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("SaveReport(long reason) = %v; want ErrInvalid", err)
	}
	res, found, err := rs.ResolveReport(ctx, saved[1].ID, "mod", "deleted the message")
	if err != nil || !found || res.Status != store.ReportResolved || res.ResolvedBy != "mod" || res.Note != "deleted the message" || !res.ResolvedAt.Equal(clk.Now()) {
		t.Errorf("ResolveReport = %+v, %v, %v", res, found, err)
	}
	if _, found, err := rs.ResolveReport(ctx, 12345, "mod", ""); found || err != nil {
		t.Errorf("ResolveReport(missing) = %v, %v; want not found", found, err)
	}
	open_, err := rs.Reports(ctx, store.ReportOpen, 0, 0)
	if err != nil || len(open_) != 4 || open_[0].ID != saved[0].ID || open_[1].ID != saved[2].ID {
		t.Errorf("Reports(open) = %+v, %v; want 4 without the resolved one", open_, err)
	}
	if open_[0].Message.Text != "bad <b>words</b>" || open_[0].Message.From != "eve" || open_[0].Message.Conv != "r:lobby" {
		t.Errorf("report snapshot = %+v; want the message as reported", open_[0].Message)
	}
	page, err := rs.Reports(ctx, "", saved[0].ID, 2)
	if err != nil || len(page) != 2 || page[0].ID != saved[1].ID || page[1].ID != saved[2].ID {
		t.Errorf("Reports(any, after %d, 2) = %+v, %v; want the next two", saved[0].ID, page, err)
	}
	if done, _ := rs.Reports(ctx, store.ReportResolved, 0, 0); len(done) != 1 || done[0].ID != saved[1].ID {
		t.Errorf("Reports(resolved) = %+v; want the resolved one", done)
	}
}

func testAudit(t *testing.T, open Opener) {
	r := records(t, open(t))
	ctx := ctxT(t)
	a := store.NewAuditLog(r)
	var ids []int64
	for i := 0; i < 5; i++ {
		e := store.AuditEntry{Who: "mod", Action: "ban", Target: store.AuditTarget{User: fmt.Sprint("u", i)}, Reason: "r",
			Details: json.RawMessage(`{"mins":10}`)}
		if err := a.Append(ctx, &e); err != nil {
			t.Fatal(err)
		}
		if len(ids) > 0 && e.ID <= ids[len(ids)-1] || e.At.IsZero() {
			t.Fatalf("Append #%d = %+v; want an increasing id and a time", i, e)
		}
		ids = append(ids, e.ID)
	}
	got, err := a.List(ctx, 0, 3)
	if err != nil || len(got) != 3 || got[0].ID != ids[4] || got[2].ID != ids[2] || got[0].Target.User != "u4" || string(got[0].Details) != `{"mins":10}` {
		t.Errorf("List(0, 3) = %+v, %v; want the newest three, newest first", got, err)
	}
	got, err = a.List(ctx, ids[2], 10)
	if err != nil || len(got) != 2 || got[0].ID != ids[1] || got[1].ID != ids[0] {
		t.Errorf("List(before %d) = %+v, %v; want the two older", ids[2], got, err)
	}
	for _, bad := range []store.AuditEntry{
		{Who: "mod", Action: "x", Details: json.RawMessage(`{"x":"` + strings.Repeat("d", store.MaxAuditDetails) + `"}`)},
		{Who: "mod", Action: "x", Details: json.RawMessage(`{not json`)},
		{Who: "", Action: "x"},
		{Who: "mod", Action: ""},
		{Who: "mod", Action: "x", Reason: strings.Repeat("r", store.MaxReasonLen+1)},
	} {
		if err := a.Append(ctx, &bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Append(%.60s) = %v; want ErrInvalid", fmt.Sprint(bad), err)
		}
	}
	if all, _ := a.List(ctx, 0, 100); len(all) != 5 {
		t.Errorf("List() = %d entries; want 5 (refused ones not stored)", len(all))
	}
}

func testCreatedRooms(t *testing.T, open Opener) {
	s := open(t)
	ctx := ctxT(t)
	cr := store.NewCreatedRooms(records(t, s))
	room, created, err := cr.SaveRoom(ctx, store.CreatedRoom{Name: "team-1", Title: "Team", Private: true, Members: []string{"bob", "alice", "bob"}, By: "api"})
	if err != nil || !created || strings.Join(room.Members, ",") != "alice,bob" || room.CreatedAt.IsZero() {
		t.Fatalf("SaveRoom = %+v, %v, %v; want created with members alice,bob", room, created, err)
	}
	again, created, err := cr.SaveRoom(ctx, store.CreatedRoom{Name: "team-1", Title: "Other", Members: []string{"zed"}})
	if err != nil || created || again.Title != "Team" || !again.Private || strings.Join(again.Members, ",") != "alice,bob" {
		t.Errorf("SaveRoom(existing) = %+v, %v, %v; want the stored room, not created", again, created, err)
	}
	if ok, _ := cr.IsMember(ctx, "team-1", "alice"); !ok {
		t.Errorf("IsMember(alice) = false")
	}
	if ok, _ := cr.IsMember(ctx, "team-1", "carol"); ok {
		t.Errorf("IsMember(carol) = true")
	}
	room, found, err := cr.AddMembers(ctx, "team-1", "carol", "alice")
	if err != nil || !found || strings.Join(room.Members, ",") != "alice,bob,carol" {
		t.Errorf("AddMembers = %+v, %v, %v", room, found, err)
	}
	room, found, err = cr.RemoveMembers(ctx, "team-1", "bob", "nobody")
	if err != nil || !found || strings.Join(room.Members, ",") != "alice,carol" {
		t.Errorf("RemoveMembers = %+v, %v, %v", room, found, err)
	}
	if _, found, err := cr.AddMembers(ctx, "missing", "x"); found || err != nil {
		t.Errorf("AddMembers(missing room) = %v, %v; want not found", found, err)
	}
	many := make([]string, store.MaxRoomMembers)
	for i := range many {
		many[i] = fmt.Sprint("m", i)
	}
	if _, _, err := cr.AddMembers(ctx, "team-1", many...); !errors.Is(err, store.ErrLimit) {
		t.Errorf("AddMembers(%d more) = %v; want ErrLimit", len(many), err)
	}
	if ok, _ := cr.IsMember(ctx, "team-1", "m0"); ok {
		t.Errorf("a refused AddMembers added members")
	}
	if _, _, err := cr.SaveRoom(ctx, store.CreatedRoom{Name: "big", Members: append(many, "one-more")}); !errors.Is(err, store.ErrLimit) {
		t.Errorf("SaveRoom(too many members) = %v; want ErrLimit", err)
	}
	for _, bad := range []string{"", "has space", "a,b", strings.Repeat("r", 65), "ünï"} {
		if _, _, err := cr.SaveRoom(ctx, store.CreatedRoom{Name: bad}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("SaveRoom(%q) = %v; want ErrInvalid", bad, err)
		}
	}
	if _, _, err := cr.SaveRoom(ctx, store.CreatedRoom{Name: "ok", Title: strings.Repeat("t", store.MaxRoomTitle+1)}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("SaveRoom(long title) = %v; want ErrInvalid", err)
	}
	if _, _, err := cr.SaveRoom(ctx, store.CreatedRoom{Name: "open"}); err != nil {
		t.Fatal(err)
	}
	list, err := cr.Rooms(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "open" || list[1].Name != "team-1" {
		t.Errorf("Rooms() = %+v, %v; want open and team-1", list, err)
	}
	if found, err := cr.DeleteRoom(ctx, "team-1"); !found || err != nil {
		t.Errorf("DeleteRoom = %v, %v", found, err)
	}
	if _, found, _ := cr.Room(ctx, "team-1"); found {
		t.Errorf("Room(team-1) after delete found")
	}
	// Concurrent SaveRoom of one name: exactly one creates it.
	var wg sync.WaitGroup
	var mu sync.Mutex
	creators := 0
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, created, err := cr.SaveRoom(context.Background(), store.CreatedRoom{Name: "race", Title: fmt.Sprint(i)})
			if err != nil {
				t.Errorf("concurrent SaveRoom = %v", err)
			}
			if created {
				mu.Lock()
				creators++
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	if creators != 1 {
		t.Errorf("concurrent SaveRoom created it %d times; want 1", creators)
	}
}

func testOutbox(t *testing.T, open Opener) {
	s := open(t)
	ctx := ctxT(t)
	clk := newClock()
	o := store.NewOutbox(records(t, s))
	o.Now = clk.Now
	const window = time.Minute
	item := func(id int64) store.NoticeItem {
		return store.NoticeItem{MessageID: id, From: "eve", Conv: store.DirectConv("eve", "bob"), Excerpt: "hello " + strings.Repeat("é", 200), TS: clk.Now()}
	}
	n1, err := o.Enqueue(ctx, "bob", item(1), window)
	if err != nil || n1.Count != 1 || !n1.Due.Equal(clk.Now().Add(window)) || len(n1.Items[0].Excerpt) > store.MaxNoticeExcerpt {
		t.Fatalf("Enqueue = %+v, %v; want one item due after the window, excerpt bounded", n1, err)
	}
	clk.Add(10 * time.Second)
	n2, err := o.Enqueue(ctx, "bob", item(2), window)
	if err != nil || n2.ID != n1.ID || n2.Count != 2 || !n2.Due.Equal(n1.Due) {
		t.Fatalf("second Enqueue in the window = %+v, %v; want merged into notice %d", n2, err, n1.ID)
	}
	for i := 3; i < 3+store.MaxNoticeItems; i++ {
		if _, err := o.Enqueue(ctx, "bob", item(int64(i)), window); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := o.Enqueue(ctx, "carol", item(100), window); err != nil {
		t.Fatal(err)
	}
	if due, _ := o.Due(ctx, clk.Now(), 10); len(due) != 0 {
		t.Errorf("Due before the window ended = %d notices; want none", len(due))
	}
	clk.Add(window)
	due, err := o.Due(ctx, clk.Now(), 10)
	if err != nil || len(due) != 2 || due[0].Recipient != "bob" {
		t.Fatalf("Due = %+v, %v; want bob's then carol's", due, err)
	}
	if b := due[0]; b.Count != 2+store.MaxNoticeItems || len(b.Items) != store.MaxNoticeItems || b.Items[len(b.Items)-1].MessageID != int64(2+store.MaxNoticeItems) {
		t.Errorf("bob's notice: count %d, %d items, last %d; want %d, %d, the newest kept", b.Count, len(b.Items), b.Items[len(b.Items)-1].MessageID, 2+store.MaxNoticeItems, store.MaxNoticeItems)
	}
	c, ok, err := o.Claim(ctx, due[0], "p1", 30*time.Second)
	if err != nil || !ok || c.Owner != "p1" || c.Attempts != 1 {
		t.Fatalf("Claim = %+v, %v, %v", c, ok, err)
	}
	if _, ok, _ := o.Claim(ctx, due[0], "p2", 30*time.Second); ok {
		t.Errorf("second Claim of the same read = true; want false")
	}
	if again, _ := o.Due(ctx, clk.Now(), 10); len(again) != 1 || again[0].Recipient != "carol" {
		t.Errorf("Due after bob's claim = %+v; want carol's only", again)
	}
	// A message arriving while bob's notice is being sent starts a new one.
	n3, err := o.Enqueue(ctx, "bob", item(500), window)
	if err != nil || n3.ID == c.ID || n3.Count != 1 {
		t.Errorf("Enqueue during a claim = %+v, %v; want a new notice", n3, err)
	}
	// Retry with backoff: due again after it, not before.
	r, err := o.Retry(ctx, c, 20*time.Second)
	if err != nil || r.Owner != "" {
		t.Fatalf("Retry = %+v, %v", r, err)
	}
	if err := o.Ack(ctx, c); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("Ack with the claim Retry gave back = %v; want ErrLeaseLost", err)
	}
	clk.Add(20 * time.Second)
	due, _ = o.Due(ctx, clk.Now(), 10)
	var bob store.Notice
	for _, d := range due {
		if d.ID == c.ID {
			bob = d
		}
	}
	if bob.ID == 0 {
		t.Fatalf("Due after the backoff = %+v; want bob's notice %d back", due, c.ID)
	}
	c, ok, err = o.Claim(ctx, bob, "p1", 30*time.Second)
	if err != nil || !ok || c.Attempts != 2 {
		t.Fatalf("Claim after retry = %+v, %v, %v; want attempt 2", c, ok, err)
	}
	// The claimer dies: after the lease, another process gets it.
	s.Close()
	s = open(t)
	o = store.NewOutbox(records(t, s))
	o.Now = clk.Now
	clk.Add(31 * time.Second)
	got, err := o.ClaimDue(ctx, "p2", 30*time.Second, 10)
	var taken store.Notice
	for _, g := range got {
		if g.ID == c.ID {
			taken = g
		}
	}
	if err != nil || taken.Owner != "p2" || taken.Attempts != 3 {
		t.Fatalf("ClaimDue after the lease ended = %+v, %v; want bob's notice taken by p2", got, err)
	}
	if err := o.Ack(ctx, c); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("Ack by the owner whose lease ended = %v; want ErrLeaseLost", err)
	}
	for _, g := range got {
		if err := o.Ack(ctx, g); err != nil {
			t.Errorf("Ack(%d) = %v", g.ID, err)
		}
	}
	// Acked notices never come back, whatever the time, after a reopen too.
	s.Close()
	o = store.NewOutbox(records(t, open(t)))
	clk.Add(24 * time.Hour)
	o.Now = clk.Now
	left, _ := o.Due(ctx, clk.Now(), 100)
	for _, l := range left {
		if l.ID == c.ID || l.Recipient == "carol" {
			t.Errorf("acked notice %d (%s) came back", l.ID, l.Recipient)
		}
	}
	if len(left) != 1 || left[0].ID != n3.ID {
		t.Errorf("Due at the end = %+v; want only notice %d", left, n3.ID)
	}
	if n, err := o.Drop(ctx, "bob"); n != 1 || err != nil {
		t.Errorf("Drop(bob) = %d, %v; want 1", n, err)
	}
	if _, err := o.Enqueue(ctx, "a,b", item(1), window); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Enqueue(recipient with comma) = %v; want ErrInvalid", err)
	}
}

// N claimers race over M due notices: each notice is claimed exactly once.
func testOutboxClaimConcurrent(t *testing.T, open Opener) {
	s := open(t)
	ctx := ctxT(t)
	clk := newClock()
	o := store.NewOutbox(records(t, s))
	o.Now = clk.Now
	const notices, claimers = 40, 8
	for i := 0; i < notices; i++ {
		if _, err := o.Enqueue(ctx, fmt.Sprint("user", i), store.NoticeItem{MessageID: int64(i), From: "x"}, time.Second); err != nil {
			t.Fatal(err)
		}
	}
	clk.Add(time.Minute)
	var mu sync.Mutex
	claimed := map[int64]string{}
	var wg sync.WaitGroup
	for c := 0; c < claimers; c++ {
		wg.Add(1)
		go func(owner string) {
			defer wg.Done()
			for {
				got, err := o.ClaimDue(context.Background(), owner, time.Hour, 5)
				if err != nil {
					t.Errorf("ClaimDue(%s) = %v", owner, err)
					return
				}
				mu.Lock()
				for _, n := range got {
					if prev, ok := claimed[n.ID]; ok {
						t.Errorf("notice %d claimed by %s and %s", n.ID, prev, owner)
					}
					claimed[n.ID] = owner
				}
				mu.Unlock()
				if len(got) == 0 {
					if rest, _ := o.Due(context.Background(), clk.Now(), 1); len(rest) == 0 {
						return
					}
				}
			}
		}(fmt.Sprint("p", c))
	}
	wg.Wait()
	if len(claimed) != notices {
		t.Errorf("%d notices claimed; want %d", len(claimed), notices)
	}
}

func testHidden(t *testing.T, open Opener) {
	s := open(t)
	ctx := ctxT(t)
	h := store.NewHidden(records(t, s))
	m1 := save(t, s, store.Message{From: "eve", To: "bob", Text: "hi"})
	save(t, s, store.Message{From: "carol", To: "bob", Text: "yo"})
	lobby := save(t, s, store.Message{From: "carol", Room: "lobby", Text: "all"})
	if err := h.Hide(ctx, "bob", m1.Conv(), m1.ID); err != nil {
		t.Fatal(err)
	}
	if err := h.Hide(ctx, "bob", store.RoomConv("lobby"), lobby.ID); err != nil {
		t.Fatal(err)
	}
	lines := func() string {
		convs, err := s.Conversations(ctx, "bob", []string{"lobby"}, 0)
		if err != nil {
			t.Fatal(err)
		}
		convs, err = h.Filter(ctx, "bob", convs)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, c := range convs {
			out = append(out, c.With+c.Room)
		}
		return strings.Join(out, " ")
	}
	if got := lines(); got != "carol" {
		t.Errorf("filtered conversations = %q; want carol only", got)
	}
	// Eve's conversation is hidden for bob only.
	if hid, _ := h.Hidden(ctx, "eve"); len(hid) != 0 {
		t.Errorf("Hidden(eve) = %v; want none", hid)
	}
	save(t, s, store.Message{From: "eve", To: "bob", Text: "again"})
	if got := lines(); got != "eve carol" {
		t.Errorf("filtered conversations after a new message = %q; want eve back", got)
	}
	if found, err := h.Unhide(ctx, "bob", store.RoomConv("lobby")); !found || err != nil {
		t.Errorf("Unhide = %v, %v", found, err)
	}
	if got := lines(); got != "eve carol lobby" {
		t.Errorf("filtered conversations after Unhide = %q", got)
	}
	if err := h.Hide(ctx, "a,b", m1.Conv(), 1); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Hide(bad user) = %v; want ErrInvalid", err)
	}
}

func testAttachments(t *testing.T, open Opener) {
	r := records(t, open(t))
	ctx := ctxT(t)
	clk := newClock()
	as := store.NewAttachments(r)
	as.Now = clk.Now
	a := store.Attachment{ID: "f1", Owner: "bob", Conv: store.DirectConv("bob", "eve"), Name: "cat.png", Type: "image/png", Size: 1234, Width: 40, Height: 30, ThumbID: "f1-t"}
	if err := as.Save(ctx, &a); err != nil || !a.Created.Equal(clk.Now()) {
		t.Fatalf("Save = %v (created %v)", err, a.Created)
	}
	if err := as.Save(ctx, &store.Attachment{ID: "f2", Owner: "bob", Conv: store.RoomConv("lobby"), Name: "doc.pdf", Type: "application/pdf", Size: 9}); err != nil {
		t.Fatal(err)
	}
	if err := as.Save(ctx, &store.Attachment{ID: "f3", Owner: "eve", Conv: store.RoomConv("lobby"), Name: "x.txt", Size: 1}); err != nil {
		t.Fatal(err)
	}
	got, found, err := as.Attach(ctx, "f1", 77)
	if err != nil || !found || got.MessageID != 77 {
		t.Fatalf("Attach = %+v, %v, %v", got, found, err)
	}
	if got, _, _ := as.Get(ctx, "f1"); got.MessageID != 77 || got.Width != 40 || got.ThumbID != "f1-t" || got.Name != "cat.png" {
		t.Errorf("Get(f1) = %+v", got)
	}
	if list, err := as.ByOwner(ctx, "bob"); err != nil || len(list) != 2 || list[0].ID != "f1" || list[1].ID != "f2" {
		t.Errorf("ByOwner(bob) = %+v, %v; want f1, f2", list, err)
	}
	if list, err := as.ByMessage(ctx, 77); err != nil || len(list) != 1 || list[0].ID != "f1" {
		t.Errorf("ByMessage(77) = %+v, %v; want f1", list, err)
	}
	if found, err := as.Delete(ctx, "f1"); !found || err != nil {
		t.Errorf("Delete(f1) = %v, %v", found, err)
	}
	if list, _ := as.ByMessage(ctx, 77); len(list) != 0 {
		t.Errorf("ByMessage(77) after delete = %+v", list)
	}
	for _, bad := range []store.Attachment{
		{ID: "../x", Owner: "bob", Conv: "r:lobby"},
		{ID: "ok", Owner: "bob", Conv: "r:lobby", Name: strings.Repeat("n", 256)},
		{ID: "ok", Owner: "bob", Conv: "r:lobby", Name: "a\nb"},
		{ID: "ok", Owner: "", Conv: "r:lobby"},
		{ID: "ok", Owner: "bob", Conv: ""},
		{ID: "ok", Owner: "bob", Conv: "r:lobby", Size: -1},
	} {
		if err := as.Save(ctx, &bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Save(%+v) = %v; want ErrInvalid", bad, err)
		}
	}
	// The daily quota: concurrent adds are atomic and never pass it.
	const quota, each, n = 1000, 100, 16
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted := 0
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, ok, err := as.AddUsage(context.Background(), "bob", each, quota)
			if err != nil {
				t.Errorf("AddUsage = %v", err)
			}
			if ok {
				mu.Lock()
				accepted++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if used, err := as.Usage(ctx, "bob"); accepted != quota/each || used != quota || err != nil {
		t.Errorf("after %d concurrent adds of %d with a quota of %d: %d accepted, usage %d, %v; want %d and %d", n, each, quota, accepted, used, err, quota/each, quota)
	}
	clk.Add(24 * time.Hour)
	if total, ok, err := as.AddUsage(ctx, "bob", each, quota); !ok || total != each || err != nil {
		t.Errorf("AddUsage the next day = %d, %v, %v; want a fresh day", total, ok, err)
	}
}
