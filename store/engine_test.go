package store_test

import (
	"archive/tar"
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pollchat/store"
)

func seed(t *testing.T, s store.Store, n int) []store.Message {
	t.Helper()
	ctx := context.Background()
	var out []store.Message
	for i := 0; i < n; i++ {
		m := store.Message{From: "a", To: "b", Text: "hello " + string(rune('A'+i%26)), ClientID: "c" + string(rune('a'+i%26)) + time.Now().Format("150405.000000000")}
		if _, err := s.SaveMessage(ctx, &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	if err := s.MarkRead(ctx, "b", store.DirectConv("a", "b"), out[n/2].ID); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveRequest(ctx, store.Request{From: "c", To: "a", Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetBlock(ctx, "a", "d", true); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveMute(ctx, store.Mute{Room: "lobby", UserID: "e", Mins: 5, ExpiresAt: time.Now().Add(time.Hour), By: "mod"}); err != nil {
		t.Fatal(err)
	}
	return out
}

// everything reads back what seed wrote, and a new id follows the old ones.
func checkSeeded(t *testing.T, s store.Store, want []store.Message) {
	t.Helper()
	ctx := context.Background()
	got, _, err := s.History(ctx, store.DirectConv("a", "b"), 0, 1000)
	if err != nil || len(got) != len(want) {
		t.Fatalf("History = %d messages, %v; want %d", len(got), err, len(want))
	}
	for i := range got {
		if got[i].ID != want[i].ID || got[i].Text != want[i].Text {
			t.Fatalf("History[%d] = %d %q; want %d %q", i, got[i].ID, got[i].Text, want[i].ID, want[i].Text)
		}
	}
	cs, err := s.Conversations(ctx, "b", nil, 0)
	if err != nil || len(cs) != 1 || cs[0].Unread != len(want)-len(want)/2-1 {
		t.Errorf("Conversations(b) = %+v, %v; want one line with %d unread", cs, err, len(want)-len(want)/2-1)
	}
	if rs, err := s.Requests(ctx, "a"); err != nil || len(rs) != 1 || rs[0].From != "c" {
		t.Errorf("Requests(a) = %+v, %v; want the one from c", rs, err)
	}
	if bs, err := s.Blocks(ctx, "a"); err != nil || len(bs) != 1 || bs[0] != "d" {
		t.Errorf("Blocks(a) = %v, %v; want [d]", bs, err)
	}
	if ms, err := s.Mutes(ctx); err != nil || len(ms) != 1 || ms[0].UserID != "e" {
		t.Errorf("Mutes = %+v, %v; want e's", ms, err)
	}
	// The dedup window survived: the same client id is not a new message.
	again := store.Message{From: "a", To: "b", Text: "again", ClientID: want[0].ClientID}
	if created, err := s.SaveMessage(ctx, &again); err != nil || created || again.ID != want[0].ID {
		t.Errorf("resend of %q = created %v id %d, %v; want the original %d", want[0].ClientID, created, again.ID, err, want[0].ID)
	}
	next := store.Message{From: "a", To: "b", Text: "next"}
	if _, err := s.SaveMessage(ctx, &next); err != nil || next.ID <= want[len(want)-1].ID {
		t.Errorf("new message id = %d, %v; want above %d", next.ID, err, want[len(want)-1].ID)
	}
}

// A directory made by bbolt keeps bbolt unless Pebble is asked for; then
// it is migrated once, the old file kept, and nothing is lost.
func TestEngineChoiceAndMigration(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))
	dir := filepath.Join(t.TempDir(), "data")
	b, err := store.OpenBolt(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := seed(t, b, 30)
	ctx := context.Background()
	if ok, err := b.SwapRecord(ctx, "test.kind", "due", 0, []byte("v1"), 77); !ok || err != nil {
		t.Fatalf("SwapRecord on bbolt = %v, %v", ok, err)
	}
	if ok, err := b.SwapRecord(ctx, "test.kind", "due", 1, []byte("v2"), 88); !ok || err != nil {
		t.Fatalf("SwapRecord on bbolt = %v, %v", ok, err)
	}
	pseudo, err := store.Pseudonym(ctx, b, "alice")
	if err != nil {
		t.Fatal(err)
	}
	b.Close()

	s, err := store.OpenEmbeddedWith(dir, store.EmbeddedOptions{Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(*store.Bolt); !ok {
		t.Errorf("OpenEmbedded(bbolt directory) = %T; want *store.Bolt", s)
	}
	s.Close()

	var log bytes.Buffer
	s, err = store.OpenEmbeddedWith(dir, store.EmbeddedOptions{Engine: store.EnginePebble, Log: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatalf("OpenEmbeddedWith(pebble) on a bbolt directory = %v; want a migration", err)
	}
	if _, ok := s.(*store.Pebble); !ok {
		t.Errorf("after migration the store is %T; want *store.Pebble", s)
	}
	if !strings.Contains(log.String(), "migrated") || !strings.Contains(log.String(), "messages=30") {
		t.Errorf("migration log = %q; want a line with the 30 messages", log.String())
	}
	if _, err := os.Stat(filepath.Join(dir, store.EmbeddedFile+store.MigratedSuffix)); err != nil {
		t.Errorf("the bbolt file was not kept as %s: %v", store.EmbeddedFile+store.MigratedSuffix, err)
	}
	checkSeeded(t, s, want)
	// Records come along: value, revision, due index and the erase secret.
	ps := s.(*store.Pebble)
	if r, ok, err := ps.GetRecord(ctx, "test.kind", "due"); err != nil || !ok || string(r.Val) != "v2" || r.Rev != 2 || r.At != 88 {
		t.Errorf("after migration GetRecord = %+v, %v, %v; want v2 at rev 2, due 88", r, ok, err)
	}
	if due, err := ps.DueRecords(ctx, "test.kind", 100, 0); err != nil || len(due) != 1 || due[0].Key != "due" {
		t.Errorf("after migration DueRecords(100) = %+v, %v; want the one record", due, err)
	}
	if due, err := ps.DueRecords(ctx, "test.kind", 80, 0); err != nil || len(due) != 0 {
		t.Errorf("after migration DueRecords(80) = %+v, %v; want none (the old due time left the index)", due, err)
	}
	if p2, err := store.Pseudonym(ctx, ps, "alice"); err != nil || p2 != pseudo {
		t.Errorf("after migration Pseudonym(alice) = %q, %v; want %q as before", p2, err, pseudo)
	}
	s.Close()

	// Now the directory is Pebble's, found without being told.
	s, err = store.OpenEmbeddedWith(dir, store.EmbeddedOptions{Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(*store.Pebble); !ok {
		t.Errorf("OpenEmbedded(migrated directory) = %T; want *store.Pebble", s)
	}
	s.Close()
	// bbolt asked for on a Pebble directory would start empty: refused.
	if s, err := store.OpenEmbeddedWith(dir, store.EmbeddedOptions{Engine: store.EngineBolt, Log: quiet}); err == nil {
		s.Close()
		t.Errorf("OpenEmbeddedWith(bbolt) on a Pebble directory = nil error; want a refusal")
	}
	// A bbolt file beside a Pebble store: refused, not guessed.
	os.WriteFile(filepath.Join(dir, store.EmbeddedFile), []byte("x"), 0o600)
	if s, err := store.OpenEmbeddedWith(dir, store.EmbeddedOptions{Log: quiet}); err == nil || !strings.Contains(err.Error(), "both") {
		if s != nil {
			s.Close()
		}
		t.Errorf("OpenEmbedded(both engines' data) = %v; want a refusal naming both", err)
	}
	if _, err := store.OpenEmbeddedWith(t.TempDir(), store.EmbeddedOptions{Engine: "sqlite"}); err == nil {
		t.Errorf("OpenEmbeddedWith(engine sqlite) = nil error")
	}
	// A new directory gets Pebble.
	s, err = store.OpenEmbedded(filepath.Join(t.TempDir(), "new"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.(*store.Pebble); !ok {
		t.Errorf("OpenEmbedded(new directory) = %T; want *store.Pebble", s)
	}
}

// A Pebble snapshot is a tar of exactly Size bytes, taken while the store
// takes writes; it verifies, restores and holds every acknowledged write.
func TestPebbleSnapshot(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	p, err := store.OpenPebble(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	want := seed(t, p, 40)
	// Records (their own tables) are part of a store a backup verifies.
	if ok, err := p.SwapRecord(context.Background(), "test.kind", "k", 0, []byte("v"), 5); !ok || err != nil {
		t.Fatalf("SwapRecord = %v, %v", ok, err)
	}
	snap, err := p.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	// A write after the snapshot started is not in it.
	late := store.Message{From: "a", To: "b", Text: "late"}
	if _, err := p.SaveMessage(context.Background(), &late); err != nil {
		t.Fatal(err)
	}
	if snap.Name() != store.PebbleBackupName {
		t.Errorf("Name = %q; want %q", snap.Name(), store.PebbleBackupName)
	}
	file := filepath.Join(t.TempDir(), "backup.tar")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	n, err := snap.WriteTo(f)
	f.Close()
	if err != nil || n != snap.Size() {
		t.Fatalf("WriteTo = %d, %v; want Size %d", n, err, snap.Size())
	}
	if err := snap.Close(); err != nil {
		t.Fatal(err)
	}
	snap.Close() // idempotent
	if left, _ := filepath.Glob(filepath.Join(dir, ".backup-*")); len(left) != 0 {
		t.Errorf("checkpoints left after Close: %v", left)
	}
	info, err := store.VerifyEmbeddedBackup(file)
	if err != nil || info.Messages != 40 || info.NewestID != want[39].ID {
		t.Fatalf("VerifyEmbeddedBackup = %+v, %v; want 40 messages, newest %d", info, err, want[39].ID)
	}
	into := filepath.Join(t.TempDir(), "restored")
	if err := store.RestoreEmbeddedBackup(file, into); err != nil {
		t.Fatal(err)
	}
	if err := store.RestoreEmbeddedBackup(file, into); err == nil {
		t.Errorf("RestoreEmbeddedBackup onto a store = nil error; want a refusal")
	}
	r, err := store.OpenEmbedded(into)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	checkSeeded(t, r, want)

	// The running store is held: a copy from the files is refused with
	// ErrInUse (then the server is asked).
	if _, err := store.SnapshotEmbeddedFile(dir); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("SnapshotEmbeddedFile(held store) = %v; want ErrInUse", err)
	}
}

// A tar that is not ours is refused whole: no path outside the store,
// nothing but plain files.
func TestRestoreRefusesHostileTar(t *testing.T) {
	for name, hdr := range map[string]tar.Header{
		"escape":  {Name: "pebble/../../evil", Typeflag: tar.TypeReg, Size: 1, Mode: 0o600},
		"nested":  {Name: "pebble/a/b", Typeflag: tar.TypeReg, Size: 1, Mode: 0o600},
		"outside": {Name: "etc/passwd", Typeflag: tar.TypeReg, Size: 1, Mode: 0o600},
		"symlink": {Name: "pebble/link", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd", Mode: 0o600},
	} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			hdr.Format = tar.FormatUSTAR
			if err := tw.WriteHeader(&hdr); err != nil {
				t.Fatal(err)
			}
			if hdr.Size > 0 {
				tw.Write([]byte("x"))
			}
			tw.Close()
			file := filepath.Join(t.TempDir(), "bad.tar")
			os.WriteFile(file, buf.Bytes(), 0o600)
			into := filepath.Join(t.TempDir(), "data")
			if err := store.RestoreEmbeddedBackup(file, into); err == nil {
				t.Errorf("RestoreEmbeddedBackup(%s) = nil error; want a refusal", hdr.Name)
			}
			if _, err := store.VerifyEmbeddedBackup(file); err == nil {
				t.Errorf("VerifyEmbeddedBackup(%s) = nil error", hdr.Name)
			}
			if _, err := os.Stat(filepath.Join(into, "pebble")); err == nil {
				t.Errorf("a refused tar left %s/pebble", into)
			}
		})
	}
}
