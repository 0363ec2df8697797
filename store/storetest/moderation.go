package storetest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"pollchat/store"
)

func init() {
	cases = append(cases,
		testCase{"DeleteMessage", testDeleteMessage},
		testCase{"ClearConversation", testClearConversation},
		testCase{"ExportUser", testExportUser},
		testCase{"EraseUserDelete", func(t *testing.T, open Opener) { testEraseUser(t, open, store.EraseDelete) }},
		testCase{"EraseUserAnonymize", func(t *testing.T, open Opener) { testEraseUser(t, open, store.EraseAnonymize) }},
	)
}

func admin(t *testing.T, s store.Store) store.MessageAdmin {
	t.Helper()
	a, ok := s.(store.MessageAdmin)
	if !ok {
		t.Fatalf("%T does not implement store.MessageAdmin", s)
	}
	return a
}

func testDeleteMessage(t *testing.T, open Opener) {
	s := open(t)
	ctx := ctxT(t)
	a := admin(t, s)
	keep := save(t, s, store.Message{From: "eve", Room: "lobby", Text: "fine"})
	bad := save(t, s, store.Message{From: "eve", Room: "lobby", Text: "bad words", ClientID: "c1", Data: json.RawMessage(`{"file":"x"}`)})
	tomb, found, err := a.DeleteMessage(ctx, bad.ID)
	if err != nil || !found || !tomb.Deleted || tomb.Text != "" || len(tomb.Data) != 0 || tomb.Conv() != bad.Conv() || tomb.From != "eve" {
		t.Fatalf("DeleteMessage = %+v, %v, %v; want a tombstone in %s", tomb, found, err, bad.Conv())
	}
	if _, found, err := a.DeleteMessage(ctx, 999999); found || err != nil {
		t.Errorf("DeleteMessage(missing) = %v, %v; want not found", found, err)
	}
	s.Close()
	s = open(t)
	hist, _, err := s.History(ctx, store.RoomConv("lobby"), 0, 10)
	if err != nil || len(hist) != 2 || hist[0].ID != keep.ID || hist[0].Deleted || hist[0].Text != "fine" {
		t.Fatalf("History after delete = %+v, %v", hist, err)
	}
	if h := hist[1]; h.ID != bad.ID || !h.Deleted || h.Text != "" || len(h.Data) != 0 {
		t.Errorf("deleted message in history = %+v; want a tombstone without text or data", h)
	}
	// The tombstone goes through export and import.
	if ex, ok := s.(store.Exporter); ok {
		got, err := ex.Export(ctx, "", 0, 10)
		if err != nil || len(got) != 2 || !got[1].Deleted {
			t.Errorf("Export() = %+v, %v; want the tombstone marked deleted", got, err)
		}
	}
}

func testClearConversation(t *testing.T, open Opener) {
	s := open(t)
	ctx := ctxT(t)
	a := admin(t, s)
	for i := 0; i < 7; i++ {
		save(t, s, store.Message{From: "eve", Room: "lobby", Text: "x"})
		save(t, s, store.Message{From: "eve", To: "bob", Text: "y"})
	}
	other := save(t, s, store.Message{From: "eve", Room: "other", Text: "kept"})
	kept := save(t, s, store.Message{From: "eve", To: "carol", Text: "kept"})
	n, err := a.ClearConversation(ctx, store.RoomConv("lobby"))
	if err != nil || n != 7 {
		t.Errorf("ClearConversation(lobby) = %d, %v; want 7", n, err)
	}
	n, err = a.ClearConversation(ctx, store.DirectConv("bob", "eve"))
	if err != nil || n != 7 {
		t.Errorf("ClearConversation(bob,eve) = %d, %v; want 7", n, err)
	}
	for _, c := range []store.Conv{store.RoomConv("lobby"), store.DirectConv("eve", "bob")} {
		if h, _, _ := s.History(ctx, c, 0, 100); len(h) != 0 {
			t.Errorf("History(%s) after clear = %d messages", c, len(h))
		}
	}
	if h, _, _ := s.History(ctx, store.RoomConv("other"), 0, 100); len(h) != 1 || h[0].ID != other.ID {
		t.Errorf("another room lost messages: %+v", h)
	}
	convs, err := s.Conversations(ctx, "eve", nil, 0)
	if err != nil || len(convs) != 1 || convs[0].With != "carol" || convs[0].Last.ID != kept.ID {
		t.Errorf("Conversations(eve) after clear = %+v, %v; want carol's only", convs, err)
	}
	if n, err := a.ClearConversation(ctx, store.RoomConv("lobby")); n != 0 || err != nil {
		t.Errorf("ClearConversation again = %d, %v; want 0", n, err)
	}
}

// userData fills a store with everything about eve and her peers.
func userData(t *testing.T, s store.Store) (eveMsgs []store.Message) {
	t.Helper()
	ctx := ctxT(t)
	r := records(t, s)
	m1 := save(t, s, store.Message{From: "eve", To: "bob", Text: "hi bob", ClientID: "e1"})
	m2 := save(t, s, store.Message{From: "bob", To: "eve", Text: "hi eve"})
	m3 := save(t, s, store.Message{From: "eve", Room: "lobby", Text: "hi all"})
	save(t, s, store.Message{From: "bob", To: "carol", Text: "not eve's"})
	save(t, s, store.Message{From: "carol", Room: "lobby", Text: "not eve's either"})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.MarkRead(ctx, "eve", m2.Conv(), m2.ID))
	must(s.MarkRead(ctx, "bob", m2.Conv(), m2.ID))
	must(s.SetBlock(ctx, "eve", "mallory", true))
	must(s.SetBlock(ctx, "carol", "eve", true))
	must(s.SetBlock(ctx, "carol", "bob", true))
	must(s.SaveRequest(ctx, store.Request{From: "eve", To: "dan", Text: "chat?"}))
	must(s.SaveRequest(ctx, store.Request{From: "dan", To: "eve", Text: "chat!"}))
	must(s.SaveMute(ctx, store.Mute{Room: "lobby", UserID: "eve", Mins: 5, ExpiresAt: time.Now().Add(time.Hour), By: "mod"}))
	must(s.SaveMute(ctx, store.Mute{Room: "lobby", UserID: "bob", Mins: 5, ExpiresAt: time.Now().Add(time.Hour), By: "mod"}))
	rs := store.NewReports(r)
	must(rs.SaveReport(ctx, &store.Report{MessageID: m3.ID, Reporter: "carol", Reason: "rude",
		Message: store.MessageSnapshot{From: "eve", Conv: m3.Conv(), Text: m3.Text, TS: m3.TS}}, 0))
	must(rs.SaveReport(ctx, &store.Report{MessageID: 1, Reporter: "eve", Reason: "spam",
		Message: store.MessageSnapshot{From: "carol", Conv: "r:lobby", Text: "x"}}, 0))
	must(store.NewBans(r).Ban(ctx, store.Ban{UserID: "eve", Until: time.Now().Add(time.Hour), By: "mod"}))
	must(store.NewHidden(r).Hide(ctx, "eve", store.RoomConv("lobby"), m3.ID))
	must(store.NewAttachments(r).Save(ctx, &store.Attachment{ID: "f1", Owner: "eve", Conv: m1.Conv(), Name: "me.jpg", Size: 10, MessageID: m1.ID}))
	must(store.NewAttachments(r).Save(ctx, &store.Attachment{ID: "f2", Owner: "bob", Conv: m1.Conv(), Name: "bob.jpg", Size: 10}))
	_, err := store.NewOutbox(r).Enqueue(ctx, "eve", store.NoticeItem{MessageID: m2.ID, From: "bob"}, time.Minute)
	must(err)
	cr := store.NewCreatedRooms(r)
	_, _, err = cr.SaveRoom(ctx, store.CreatedRoom{Name: "team", Members: []string{"eve", "bob"}})
	must(err)
	return []store.Message{m1, m2, m3}
}

func testExportUser(t *testing.T, open Opener) {
	s := open(t)
	ctx := ctxT(t)
	want := userData(t, s)
	x, err := store.ExportUser(ctx, s, "eve")
	if err != nil {
		t.Fatal(err)
	}
	if !equalIDs(ids(x.Messages), ids(want)) {
		t.Errorf("export messages = %v; want %v", ids(x.Messages), ids(want))
	}
	check := func(what string, got, want any) {
		t.Helper()
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		if string(g) != string(w) {
			t.Errorf("export %s = %s; want %s", what, g, w)
		}
	}
	check("read marks", x.ReadMarks, []store.ReadMark{{Conv: want[1].Conv(), Upto: want[1].ID}})
	check("blocks", x.Blocks, []string{"mallory"})
	check("blocked by", x.BlockedBy, []string{"carol"})
	if len(x.RequestsTo) != 1 || x.RequestsTo[0].From != "dan" || len(x.RequestsFrom) != 1 || x.RequestsFrom[0].To != "dan" {
		t.Errorf("export requests = %+v / %+v; want one each way with dan", x.RequestsTo, x.RequestsFrom)
	}
	if len(x.Mutes) != 1 || x.Mutes[0].UserID != "eve" {
		t.Errorf("export mutes = %+v; want eve's", x.Mutes)
	}
	if len(x.ReportsFiled) != 1 || x.ReportsFiled[0].Reason != "spam" || len(x.ReportsAbout) != 1 || x.ReportsAbout[0].Reason != "rude" {
		t.Errorf("export reports = %+v / %+v", x.ReportsFiled, x.ReportsAbout)
	}
	if len(x.Bans) != 1 || len(x.Hidden) != 1 || len(x.Attachments) != 1 || x.Attachments[0].ID != "f1" || len(x.Notices) != 1 || len(x.Rooms) != 1 {
		t.Errorf("export bans %d, hidden %d, attachments %+v, notices %d, rooms %d; want 1 each, f1", len(x.Bans), len(x.Hidden), x.Attachments, len(x.Notices), len(x.Rooms))
	}
	b, err := json.Marshal(x)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"user_id":"eve"`, `"messages":[`, `"read_marks":[`, `"blocked_by":["carol"]`, `"reports_filed":[`, `"hidden_conversations":[`, `"attachments":[`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("export JSON lacks %s: %.300s", k, b)
		}
	}
	if _, err := store.ExportUser(ctx, s, "a,b"); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("ExportUser(bad id) = %v; want ErrInvalid", err)
	}
}

func testEraseUser(t *testing.T, open Opener, policy store.ErasePolicy) {
	s := open(t)
	ctx := ctxT(t)
	r := records(t, s)
	before := userData(t, s)
	pseudo, err := store.Pseudonym(ctx, s, "eve")
	if err != nil || !strings.HasPrefix(pseudo, "erased-") || strings.Contains(pseudo, "eve") {
		t.Fatalf("Pseudonym(eve) = %q, %v", pseudo, err)
	}
	n, files, err := store.EraseUser(ctx, s, "eve", policy)
	if err != nil {
		t.Fatalf("EraseUser(%s) = %v", policy, err)
	}
	if n.Messages != 3 || n.ReadMarks != 1 || n.Blocks != 2 || n.Requests != 2 || n.Mutes != 1 || n.Reports != 2 ||
		n.Bans != 1 || n.Hidden != 1 || n.Attachments != 1 || n.Notices != 1 || n.Rooms != 1 || len(files) != 1 || files[0].ID != "f1" {
		t.Errorf("EraseUser counts = %+v, files %+v", n, files)
	}
	// The pseudonym is stable.
	if again, _ := store.Pseudonym(ctx, s, "eve"); again != pseudo {
		t.Errorf("Pseudonym(eve) again = %q; want %q", again, pseudo)
	}
	s.Close()
	s = open(t)
	r = records(t, s)
	x, err := store.ExportUser(ctx, s, "eve")
	if err != nil {
		t.Fatal(err)
	}
	if len(x.Messages)+len(x.ReadMarks)+len(x.Blocks)+len(x.BlockedBy)+len(x.RequestsTo)+len(x.RequestsFrom)+len(x.Mutes)+
		len(x.ReportsFiled)+len(x.ReportsAbout)+len(x.Bans)+len(x.Hidden)+len(x.Attachments)+len(x.Notices)+len(x.Rooms) != 0 {
		t.Errorf("export after erase = %+v; want nothing", x)
	}
	// Bob's copy of the conversation follows the policy, under the pseudonym.
	conv := store.DirectConv("bob", pseudo)
	hist, _, err := s.History(ctx, conv, 0, 10)
	if err != nil || len(hist) != 2 || hist[0].ID != before[0].ID || hist[1].ID != before[1].ID {
		t.Fatalf("History(bob, %s) = %+v, %v; want the two messages", pseudo, hist, err)
	}
	if old, _, _ := s.History(ctx, store.DirectConv("bob", "eve"), 0, 10); len(old) != 0 {
		t.Errorf("History(bob, eve) after erase = %+v; want none", old)
	}
	for i, h := range hist {
		if h.From == "eve" || h.To == "eve" || h.ClientID != "" || (h.From != pseudo && h.To != pseudo) {
			t.Errorf("erased message %d = %+v; want eve replaced by %s", i, h, pseudo)
		}
		if policy == store.EraseDelete && (!h.Deleted || h.Text != "") {
			t.Errorf("policy delete: message %d = %+v; want a tombstone", i, h)
		}
		if policy == store.EraseAnonymize && (h.Deleted || h.Text != before[i].Text) {
			t.Errorf("policy anonymize: message %d = %+v; want the text kept", i, h)
		}
	}
	lobby, _, _ := s.History(ctx, store.RoomConv("lobby"), 0, 10)
	if len(lobby) != 2 || lobby[0].From != pseudo || lobby[1].From != "carol" || lobby[1].Text != "not eve's either" {
		t.Errorf("lobby after erase = %+v; want eve's message under %s, carol's untouched", lobby, pseudo)
	}
	convs, err := s.Conversations(ctx, "bob", nil, 0)
	if err != nil || len(convs) != 2 || convs[1].With != pseudo || convs[1].Unread != 0 {
		t.Errorf("Conversations(bob) = %+v, %v; want carol and %s (read mark kept)", convs, err, pseudo)
	}
	if convs, _ := s.Conversations(ctx, "eve", nil, 0); len(convs) != 0 {
		t.Errorf("Conversations(eve) after erase = %+v", convs)
	}
	// Others' data stays.
	if bl, _ := s.Blocks(ctx, "carol"); len(bl) != 1 || bl[0] != "bob" {
		t.Errorf("Blocks(carol) = %v; want [bob]", bl)
	}
	if ms, _ := s.Mutes(ctx); len(ms) != 1 || ms[0].UserID != "bob" {
		t.Errorf("Mutes() = %+v; want bob's", ms)
	}
	reps, _ := store.NewReports(r).Reports(ctx, "", 0, 0)
	if len(reps) != 1 || reps[0].Message.From != pseudo || (policy == store.EraseDelete) != (reps[0].Message.Text == "") {
		t.Errorf("reports after erase = %+v; want carol's report, snapshot erased under %s", reps, policy)
	}
	if f, found, _ := store.NewAttachments(r).Get(ctx, "f2"); !found || f.Owner != "bob" {
		t.Errorf("bob's attachment after erase = %+v, %v", f, found)
	}
	if room, _, _ := store.NewCreatedRooms(r).Room(ctx, "team"); strings.Join(room.Members, ",") != "bob" {
		t.Errorf("room team members = %v; want [bob]", room.Members)
	}
	// New messages from the same id are a new user's.
	save(t, s, store.Message{From: "eve", To: "bob", Text: "new account", ClientID: "e1"})
	if h, _, _ := s.History(ctx, store.DirectConv("eve", "bob"), 0, 10); len(h) != 1 {
		t.Errorf("new conversation of eve = %+v; want one message (the old client id forgotten)", h)
	}
	if _, _, err := store.EraseUser(ctx, s, "eve", "shred"); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("EraseUser(policy shred) = %v; want ErrInvalid", err)
	}
}
