package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"pollchat/chat"
	"pollchat/files"
	"pollchat/store"
)

// Attachments (issue 17, docs/attachments.md): POST /v1/upload (upload.go)
// stores a file and sends it in a message; /files/{id} serves it to the
// conversation's participants, with a short-lived signed URL (what an
// <img> uses) or the caller's identity.

// fileSvc is the server's part of attachments, set by SetFiles.
type fileSvc struct {
	proc   *files.Processor
	signer *files.Signer
	blobs  files.Blobs
	ttl    time.Duration
	quota  int64
	// sem bounds the uploads processed at once: decoding a 12 MP photo
	// takes about 170 MB at its peak.
	sem chan struct{}
	// reads bounds the upload bodies parsed at once (uploadReads); limit
	// bounds each user's upload starts (upload_limits.go), nil when
	// chat.rate is 0.
	reads chan struct{}
	limit *uploadLimiter
	now   func() time.Time
}

// SetFiles turns attachments on with blobs keeping the bytes (a files.Dir
// or the MySQL store's blobs). Call it before Serve; without it, or with
// files.enabled false, /v1/upload and /files/ answer 404.
func (s *Server) SetFiles(blobs files.Blobs) error {
	types, err := files.ParseTypes(s.cfg.Files.Types)
	if err != nil {
		return err
	}
	if types == nil {
		types = []files.Type{} // images only
	}
	proc, err := files.NewProcessor(files.Config{MaxSize: s.cfg.Files.MaxSize, Types: types})
	if err != nil {
		return err
	}
	signer, err := files.NewSigner(s.cfg.FilesKey())
	if err != nil {
		return err
	}
	s.files = &fileSvc{proc: proc, signer: signer, blobs: blobs, ttl: s.cfg.Files.URLTTL.Duration,
		quota: s.cfg.Files.DailyQuota, sem: make(chan struct{}, max(1, min(runtime.GOMAXPROCS(0), 4))), now: time.Now,
		reads: make(chan struct{}, uploadReads)}
	if s.cfg.Chat.RateLimit() > 0 {
		// chat.rate = 0 turns the rate limits off, this one too.
		s.files.limit = newUploadLimiter(uploadEvery, uploadBurst)
	}
	return nil
}

func (s *Server) filesOn() bool { return s.files != nil && s.cfg.Files.Enabled }

var errFilesOff = chat.Errorf(chat.CodeNotFound, "attachments are off on this server (files.enabled)")

// fileError maps an error of package files to the protocol.
func fileError(err error) *chat.Error {
	code := files.Code(err)
	if code == chat.CodeInternal {
		return &chat.Error{Code: chat.CodeUnavailable, Message: "the file store failed; try again shortly", Err: err}
	}
	return &chat.Error{Code: code, Message: strings.TrimPrefix(err.Error(), "files: "), Err: err}
}

// wireAttachment is a message's attachment on the wire: the url and
// thumb_url are signed when the message is answered.
type wireAttachment struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Size     int64  `json:"size"`
	Type     string `json:"type"`
	URL      string `json:"url"`
	ThumbURL string `json:"thumb_url,omitempty"`
	Width    int    `json:"width,omitempty"`
	Height   int    `json:"height,omitempty"`
}

type attachmentData struct {
	Attachment *wireAttachment `json:"attachment"`
}

// mimeOf is the MIME type of t without parameters ("text/plain").
func mimeOf(t files.Type) string {
	m, _, _ := strings.Cut(t.MIME(), ";")
	return m
}

// fileURL is the signed URL of file id (or its thumbnail) in conv.
func (s *Server) fileURL(id string, conv store.Conv) string {
	exp := files.Expiry(s.files.now(), s.files.ttl)
	return s.cfg.Server.PublicURL + "/files/" + id + "?t=" + s.files.signer.Sign(id, string(conv), exp)
}

// attachmentJSON is a message's data for attachment a, with fresh URLs.
func (s *Server) attachmentJSON(a *store.Attachment) json.RawMessage {
	w := &wireAttachment{ID: a.ID, Name: a.Name, Size: a.Size, Type: mimeOf(files.Type(a.Type)),
		URL: s.fileURL(a.ID, a.Conv), Width: a.Width, Height: a.Height}
	if a.ThumbID != "" {
		w.ThumbURL = s.fileURL(a.ThumbID, a.Conv)
	}
	b, _ := json.Marshal(attachmentData{Attachment: w})
	return b
}

// freshLinks re-signs the URLs of the attachments in msgs (history is
// answered long after the links stored with the message expired). The
// messages' Data is replaced, not changed in place.
func (s *Server) freshLinks(msgs []store.Message) {
	if s.files == nil {
		return
	}
	for i := range msgs {
		m := &msgs[i]
		if len(m.Data) == 0 || !bytes.Contains(m.Data, []byte(`"attachment"`)) {
			continue
		}
		var d map[string]json.RawMessage
		if json.Unmarshal(m.Data, &d) != nil {
			continue
		}
		var w wireAttachment
		if json.Unmarshal(d["attachment"], &w) != nil || !files.ValidID(w.ID) {
			continue
		}
		conv := m.Conv()
		w.URL = s.fileURL(w.ID, conv)
		if w.ThumbURL != "" {
			w.ThumbURL = s.fileURL(files.ThumbID(w.ID), conv)
		}
		d["attachment"], _ = json.Marshal(&w)
		if b, err := json.Marshal(d); err == nil {
			m.Data = b
		}
	}
}

func (s *Server) attachments() (*store.Attachments, *chat.Error) {
	r, err := s.records()
	if err != nil {
		return nil, err
	}
	return store.NewAttachments(r), nil
}

// serveFile is GET /files/{id}: the file (or its thumbnail, id_t) to
// whoever holds a valid signed URL for the file's conversation, or to a
// participant who sends their identity. Everything else is 403.
func (s *Server) serveFile(ctx *fasthttp.RequestCtx) {
	rp := reply{ctx: ctx}
	h := &ctx.Response.Header
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "no-store")
	if !s.filesOn() {
		s.fail(rp, errFilesOff)
		return
	}
	id, _ := ctx.UserValue("id").(string)
	base, isThumb := strings.CutSuffix(id, "_t")
	if !files.ValidID(base) {
		s.fail(rp, chat.Errorf(chat.CodeNotFound, "no such file"))
		return
	}
	as, aerr := s.attachments()
	if aerr != nil {
		s.fail(rp, aerr)
		return
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	a, found, err := as.Get(sctx, base)
	if err != nil {
		s.fail(rp, storeError(err))
		return
	}
	if !found || (isThumb && a.ThumbID != id) {
		s.fail(rp, chat.Errorf(chat.CodeNotFound, "no such file"))
		return
	}
	var exp time.Time
	if tok := ctx.QueryArgs().Peek("t"); len(tok) > 0 {
		scope, verr := s.files.signer.Verify(id, string(tok), s.files.now())
		if verr != nil {
			s.fail(rp, chat.Errorf(chat.CodeForbidden, "%s: ask for the conversation's history again for a fresh link", strings.TrimPrefix(verr.Error(), "files: ")))
			return
		}
		if scope != string(a.Conv) {
			s.fail(rp, chat.Errorf(chat.CodeForbidden, "this link is not for this file's conversation"))
			return
		}
		exp = tokenExpiry(string(tok))
	} else {
		p := newParams(ctx)
		c, ierr := s.identity(p)
		if ierr != nil {
			s.fail(rp, ierr)
			return
		}
		if !s.mayRead(sctx, c, a.Conv) {
			s.fail(rp, chat.Errorf(chat.CodeForbidden, "only the conversation's participants may fetch this file"))
			return
		}
	}
	r, info, err := s.files.blobs.Open(id)
	if err != nil {
		if errors.Is(err, files.ErrNotFound) {
			s.fail(rp, chat.Errorf(chat.CodeNotFound, "no such file"))
			return
		}
		s.fail(rp, fileError(err))
		return
	}
	t := files.Type(a.Type)
	if isThumb {
		t = sniffThumb(r)
	}
	for _, hd := range files.Headers(t, a.Name) {
		h.Set(hd.Key, hd.Value)
	}
	if !exp.IsZero() {
		// The URL names one file for one conversation until exp: the
		// browser may keep it that long, never a shared cache.
		if secs := int(time.Until(exp).Seconds()); secs > 0 {
			h.Set("Cache-Control", "private, max-age="+strconv.Itoa(secs)+", immutable")
		}
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetBodyStream(r, int(info.Size))
}

// sniffThumb tells a thumbnail's type (PNG or JPEG, what files makes) from
// its first bytes, and rewinds r.
func sniffThumb(r interface {
	Read([]byte) (int, error)
	Seek(int64, int) (int64, error)
}) files.Type {
	var head [8]byte
	n, _ := r.Read(head[:])
	r.Seek(0, 0)
	if n >= 8 && string(head[:8]) == "\x89PNG\r\n\x1a\n" {
		return files.PNG
	}
	return files.JPEG
}

// tokenExpiry reads the expiry of a verified token (scope.exp.mac).
func tokenExpiry(tok string) time.Time {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}
	}
	e, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.Unix(e, 0)
}

// mayRead says whether caller c may read conversation conv: a direct
// conversation's two users; any user for a room of chat.rooms (their
// history is open to every user); the members of a created room; a scoped
// token only its own conversation.
func (s *Server) mayRead(ctx context.Context, c chat.Caller, conv store.Conv) bool {
	if room := conv.Room(); room != "" {
		if c.With != "" {
			return false
		}
		for _, r := range s.svc.Rooms() {
			if r == room {
				return true
			}
		}
		rec, ok := s.svc.Store().(store.Records)
		if !ok || len(room) > 64 {
			return false
		}
		member, err := store.NewCreatedRooms(rec).IsMember(ctx, room, c.ID)
		return err == nil && member
	}
	// Peer assumes c is one of the two: check that conv is theirs.
	peer := conv.Peer(c.ID)
	return peer != "" && store.DirectConv(c.ID, peer) == conv && (c.With == "" || c.With == peer)
}

// removeFile deletes a file's bytes, thumbnail and metadata.
func (s *Server) removeFile(ctx context.Context, as *store.Attachments, a store.Attachment) error {
	if s.files != nil {
		if err := s.files.blobs.Delete(a.ID); err != nil {
			return err
		}
		if a.ThumbID != "" {
			if err := s.files.blobs.Delete(a.ThumbID); err != nil {
				return err
			}
		}
	}
	_, err := as.Delete(ctx, a.ID)
	return err
}

// orphanAge is how long a file may exist without its message: an upload
// in progress stores the file before it sends the message.
const orphanAge = time.Hour

// SweepFiles removes the files whose message is gone: deleted by a
// moderator or an erasure (a tombstone), pruned by store.keep_days, or
// never sent (an upload that failed half-way, after orphanAge), and the
// bytes left without metadata (an erasure removes the metadata). It
// returns how many files it removed. app.go runs it every 10 minutes.
func (s *Server) SweepFiles(ctx context.Context) (int, error) {
	if s.files == nil {
		return 0, nil
	}
	as, aerr := s.attachments()
	if aerr != nil {
		return 0, aerr
	}
	st := s.svc.Store()
	now := s.files.now()
	removed := 0
	after := ""
	for {
		page, err := as.List(ctx, after, 200)
		if err != nil {
			return removed, err
		}
		for _, a := range page {
			after = a.ID
			gone := false
			if a.MessageID == 0 {
				gone = now.Sub(a.Created) > orphanAge
			} else {
				msgs, _, err := st.History(ctx, a.Conv, a.MessageID+1, 1)
				if err != nil {
					return removed, err
				}
				gone = len(msgs) == 0 || msgs[0].ID != a.MessageID || msgs[0].Deleted
			}
			if gone {
				if err := s.removeFile(ctx, as, a); err != nil {
					return removed, err
				}
				removed++
			}
		}
		if len(page) < 200 {
			break
		}
	}
	var strays []string
	err := s.files.blobs.List(func(in files.Info) error {
		if now.Sub(in.ModTime) < orphanAge {
			return nil
		}
		base, _ := strings.CutSuffix(in.ID, "_t")
		if _, found, err := as.Get(ctx, base); err != nil {
			return err
		} else if !found {
			strays = append(strays, in.ID)
		}
		return nil
	})
	for _, id := range strays {
		if derr := s.files.blobs.Delete(id); derr != nil {
			return removed, derr
		}
		if !strings.HasSuffix(id, "_t") {
			removed++
		}
	}
	return removed, err
}

// eraseFiles removes the bytes of files whose metadata an erasure removed.
func (s *Server) eraseFiles(list []store.Attachment) {
	if s.files == nil {
		return
	}
	for _, a := range list {
		for _, id := range []string{a.ID, a.ThumbID} {
			if id == "" {
				continue
			}
			if err := s.files.blobs.Delete(id); err != nil {
				s.log.Warn("server: erasing a file; the sweep retries", "file", id, "err", err)
			}
		}
	}
}
