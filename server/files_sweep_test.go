package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"pollchat/bridge"
	"pollchat/chat"
	"pollchat/config"
	"pollchat/files"
	"pollchat/store"
)

// sweepServer is a Server on an embedded store with files under a temp
// directory, whose files clock the test sets.
func sweepServer(t *testing.T) (*Server, store.Store, *files.Dir) {
	t.Helper()
	cfg := config.Default("sweep-test-secret-0123456789")
	cfg.Files.Enabled = true
	st, err := store.OpenEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	dir := bridge.NewDirectory(bridge.NewStaticSource([]bridge.User{{ID: "3", Name: "Linus"}, {ID: "4", Name: "Margaret"}}), bridge.DirectoryConfig{})
	svc, err := chat.New(chat.Config{Rooms: []string{"lobby"}}, st, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	v, err := bridge.NewVerifier(cfg.Auth)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg, svc, svc, v, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := files.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { blobs.Close() })
	if err := s.SetFiles(blobs); err != nil {
		t.Fatal(err)
	}
	return s, st, blobs
}

// The sweep removes the file of a message a moderator deleted (bytes,
// thumbnail and record; its signed URL answers 404 after), and an upload
// never attached once it is older than an hour; it keeps a younger one
// and the file of a message that is still there.
func TestSweepFilesRemovesFilesWhoseMessageIsGone(t *testing.T) {
	s, st, blobs := sweepServer(t)
	ctx := context.Background()
	as, aerr := s.attachments()
	if aerr != nil {
		t.Fatal(aerr)
	}
	now := time.Now().UTC()
	s.files.now = func() time.Time { return now }
	conv := store.DirectConv("3", "4")
	mk := func(name string, msg int64, created time.Time) store.Attachment {
		t.Helper()
		a := store.Attachment{ID: files.NewID(), MessageID: msg, Owner: "3", Conv: conv, Name: name, Type: "png",
			Size: 5, Width: 1, Height: 1, Created: created}
		a.ThumbID = files.ThumbID(a.ID)
		for _, id := range []string{a.ID, a.ThumbID} {
			if _, err := blobs.Put(id, strings.NewReader(name)); err != nil {
				t.Fatal(err)
			}
		}
		if err := as.Save(ctx, &a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	send := func(text string) int64 {
		m := store.Message{From: "3", To: "4", Text: text}
		if _, err := st.SaveMessage(ctx, &m); err != nil {
			t.Fatal(err)
		}
		return m.ID
	}
	deletedMsg := send("deleted.png")
	keptMsg := send("kept.png")
	deleted := mk("deleted.png", deletedMsg, now.Add(-time.Minute))
	kept := mk("kept.png", keptMsg, now.Add(-2*time.Hour))
	old := mk("old.png", 0, now.Add(-orphanAge-time.Minute))
	young := mk("young.png", 0, now.Add(-orphanAge+time.Minute))

	url := s.fileURL(deleted.ID, conv)
	if status, body := getFile(s, url); status != 200 {
		t.Fatalf("GET %s before the delete = %d %s; want 200", url, status, body)
	}
	if _, found, err := st.(store.MessageAdmin).DeleteMessage(ctx, deletedMsg); err != nil || !found {
		t.Fatalf("DeleteMessage(%d) = %v, %v", deletedMsg, found, err)
	}

	n, err := s.SweepFiles(ctx)
	if err != nil || n != 2 {
		t.Fatalf("SweepFiles = %d, %v; want 2 (the deleted message's file and the old upload)", n, err)
	}
	for _, a := range []store.Attachment{deleted, old} {
		for _, id := range []string{a.ID, a.ThumbID} {
			if _, err := blobs.Stat(id); !errors.Is(err, files.ErrNotFound) {
				t.Errorf("%s: blob %s after the sweep: %v; want ErrNotFound", a.Name, id, err)
			}
		}
		if _, found, _ := as.Get(ctx, a.ID); found {
			t.Errorf("%s: record kept after the sweep; want removed", a.Name)
		}
	}
	for _, a := range []store.Attachment{kept, young} {
		for _, id := range []string{a.ID, a.ThumbID} {
			if _, err := blobs.Stat(id); err != nil {
				t.Errorf("%s: blob %s after the sweep: %v; want kept", a.Name, id, err)
			}
		}
		if _, found, _ := as.Get(ctx, a.ID); !found {
			t.Errorf("%s: record removed by the sweep; want kept", a.Name)
		}
	}
	for _, u := range []string{url, s.fileURL(deleted.ThumbID, conv)} {
		if status, body := getFile(s, u); status != 403 && status != 404 {
			t.Errorf("GET %s after the sweep = %d %s; want 403 or 404", u, status, body)
		}
	}
	if status, body := getFile(s, s.fileURL(kept.ID, conv)); status != 200 || string(body) != "kept.png" {
		t.Errorf("GET kept file after the sweep = %d %q; want 200 and its bytes", status, body)
	}

	// A second sweep finds nothing; an hour later the young upload goes.
	if n, err := s.SweepFiles(ctx); err != nil || n != 0 {
		t.Errorf("second SweepFiles = %d, %v; want 0", n, err)
	}
	now = now.Add(orphanAge)
	if n, err := s.SweepFiles(ctx); err != nil || n != 1 {
		t.Errorf("SweepFiles an hour later = %d, %v; want 1 (the upload never attached)", n, err)
	}
	if _, found, _ := as.Get(ctx, young.ID); found {
		t.Error("young upload kept past an hour; want removed")
	}
	if _, found, _ := as.Get(ctx, kept.ID); !found {
		t.Error("kept file removed; its message is still there")
	}
}

// getFile serves url (PublicURL/files/…) through the server's handler.
func getFile(s *Server, url string) (int, []byte) {
	var req fasthttp.Request
	req.SetRequestURI(strings.TrimPrefix(url, s.cfg.Server.PublicURL))
	req.Header.SetMethod("GET")
	ctx := &fasthttp.RequestCtx{}
	ctx.Init(&req, nil, nil) // a server behind the context, as Serve gives
	s.Handler()(ctx)
	body := ctx.Response.Body()
	if ctx.Response.IsBodyStream() {
		var b bytes.Buffer
		ctx.Response.BodyWriteTo(&b)
		body = b.Bytes()
	}
	return ctx.Response.StatusCode(), body
}
