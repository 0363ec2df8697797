package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"pollchat/chat"
	"pollchat/files"
	"pollchat/store"
)

// uploadPath is the upload endpoint; its body may be files.max_size (plus
// the form around it), every other request's 64 KiB (headerReceived).
const uploadPath = "/v1/upload"

// uploadReadTimeout bounds receiving one upload's body.
const uploadReadTimeout = 5 * time.Minute

// uploadSlack is what a multipart body may carry besides the file: the
// boundaries, part headers and the identity and text fields.
const uploadSlack = 64 << 10

// headerReceived raises the body limit of POST /v1/upload alone, before
// the body is read: fasthttp refuses a Content-Length over the limit
// without reading the body, and stops a chunked body at it.
func (s *Server) headerReceived(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	if s.cfg.Files.Enabled && h.IsPost() && isUploadURI(h.RequestURI()) && s.uploads.take(h, s.uploader(h.RequestURI()), time.Now()) {
		return fasthttp.RequestConfig{MaxRequestBodySize: int(s.cfg.Files.MaxSize) + uploadSlack, ReadTimeout: uploadReadTimeout}
	}
	return fasthttp.RequestConfig{}
}

// uploader is the user an upload's query string signs for (id, timestamp
// and hash, or token), or "" when it carries no valid identity. It is
// checked again, as for any call, when the handler runs; here it only says
// whose place the body takes (uploadGate). No network: the checks are the
// signature's.
func (s *Server) uploader(uri []byte) string {
	q := bytes.IndexByte(uri, '?')
	if q < 0 || s.verifier == nil {
		return ""
	}
	args := fasthttp.AcquireArgs()
	defer fasthttp.ReleaseArgs(args)
	args.ParseBytes(uri[q+1:])
	idn, _, err := s.verify(args.Peek)
	if err != nil {
		return ""
	}
	return idn.UserID
}

func isUploadURI(uri []byte) bool {
	return bytes.HasPrefix(uri, []byte(uploadPath)) && (len(uri) == len(uploadPath) || uri[len(uploadPath)] == '?')
}

// uploadReply answers an upload as JSON (XMLHttpRequest), JSONP, or, for
// a form posted into a hidden iframe (frame=1), as a small HTML page that
// hands the answer to the widget with postMessage.
type uploadReply struct {
	rp      reply
	frame   bool
	frameID string
	origin  string // the widget's page's origin, checked against server.allowed_origins
}

func (u uploadReply) raw(status int, body []byte) {
	if !u.frame {
		u.rp.raw(status, body)
		return
	}
	ctx := u.rp.ctx
	nonce := make([]byte, 16)
	rand.Read(nonce)
	n := base64.StdEncoding.EncodeToString(nonce)
	h := &ctx.Response.Header
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+n+"'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("text/html; charset=utf-8")
	// The message is a JSON string inside a script: AppendString escapes
	// <, >, &, U+2028 and U+2029, so nothing in it ends the script.
	msg := append([]byte(`{"pollchat_upload":`), chat.AppendString(nil, u.frameID)...)
	msg = append(msg, `,"answer":`...)
	msg = append(msg, body...)
	msg = append(msg, '}')
	b := []byte("<!DOCTYPE html><meta charset=\"utf-8\"><title>upload</title><script nonce=\"" + n + "\">")
	if u.origin == "" {
		b = append(b, "/* the page's origin is not in server.allowed_origins: nothing is posted */"...)
	} else {
		b = append(b, "try{parent.postMessage("...)
		b = chat.AppendString(b, string(msg))
		b = append(b, ',')
		b = chat.AppendString(b, u.origin)
		b = append(b, ")}catch(e){}"...)
	}
	b = append(b, "</script>"...)
	ctx.SetBody(b)
}

func (u uploadReply) fail(s *Server, err error) {
	e := chat.AsError(err)
	if e.Code == chat.CodeInternal {
		s.log.Error("server: upload", "err", err)
	}
	s.metrics.errors(e.Code)
	if !u.frame {
		u.rp.fail(e)
		return
	}
	u.raw(Status(e.Code), appendError(nil, e))
}

// frameOrigin is the origin the iframe answer may be posted to: the
// page's origin when CORS allows it (or the server's own), else "".
func (s *Server) frameOrigin(o string) string {
	o = strings.TrimRight(o, "/")
	if o == "" || len(o) > 200 || strings.ContainsAny(o, " \"'<>\\") {
		return ""
	}
	if s.anyOrig || s.origins[o] || o == publicOrigin(s.cfg.Server.PublicURL) {
		return o
	}
	return ""
}

func publicOrigin(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return ""
	}
	host, _, _ := strings.Cut(rest, "/")
	return scheme + "://" + host
}

// uploadParams reads the multipart form's fields as the request's params
// (identity, to/room, text, client_id) and its one file.
func uploadParams(ctx *fasthttp.RequestCtx, maxSize int64) (*params, []byte, string, *chat.Error) {
	p := newParams(ctx)
	mf, err := ctx.MultipartForm()
	if err != nil {
		return p, nil, "", chat.Errorf(chat.CodeBadRequest, "send the file as multipart/form-data with a part named file")
	}
	p.body = map[string]string{}
	for k, vs := range mf.Value {
		if len(vs) != 1 {
			return p, nil, "", chat.Errorf(chat.CodeBadRequest, "parameter %q is given more than once", k)
		}
		if ctx.QueryArgs().Has(k) {
			return p, nil, "", chat.Errorf(chat.CodeBadRequest, "parameter %q is given both in the URL and in the form", k)
		}
		p.body[k] = vs[0]
	}
	if len(p.body) > MaxParams {
		return p, nil, "", chat.Errorf(chat.CodeBadRequest, "%d parameters; the limit is %d", len(p.body), MaxParams)
	}
	fhs := mf.File["file"]
	if len(fhs) != 1 || len(mf.File) != 1 {
		return p, nil, "", chat.Errorf(chat.CodeBadRequest, "send exactly one file, in a part named file")
	}
	fh := fhs[0]
	f, err := fh.Open()
	if err != nil {
		return p, nil, "", chat.Errorf(chat.CodeBadRequest, "the file part cannot be read")
	}
	defer f.Close()
	// Never more than max_size+1 bytes: one more is refused as TOO_LONG.
	data, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	if err != nil {
		return p, nil, "", chat.Errorf(chat.CodeBadRequest, "the file part cannot be read")
	}
	return p, data, fh.Filename, nil
}

// upload is POST /v1/upload: check the caller and the conversation, read
// the file (bounded), draw on the daily quota, check and re-encode it
// (a bounded number at once), store it and send it in a message, whose
// answer carries the attachment.
func (s *Server) upload(ctx *fasthttp.RequestCtx) {
	s.uploads.release(&ctx.Request.Header)
	u := uploadReply{frame: string(ctx.QueryArgs().Peek("frame")) == "1"}
	if u.frame {
		u.frameID = string(ctx.QueryArgs().Peek("frame_id"))
		if len(u.frameID) > 64 {
			u.frameID = u.frameID[:64]
		}
		u.origin = s.frameOrigin(string(ctx.QueryArgs().Peek("origin")))
		u.rp = reply{ctx: ctx}
	} else {
		rp, ok := s.begin(ctx, newParams(ctx))
		if !ok {
			return
		}
		u.rp = rp
	}
	if !s.filesOn() {
		u.fail(s, errFilesOff)
		return
	}
	release, ok := s.files.tryRead()
	if !ok {
		u.fail(s, errUploadBusy)
		return
	}
	p, data, name, perr := uploadParams(ctx, s.cfg.Files.MaxSize)
	release()
	c, err := s.identity(p)
	if err == nil && p.err != nil {
		err = p.err
	}
	if err == nil && c.With != "" {
		err = scopeCheck(ctx, p, c)
	}
	if err != nil {
		u.fail(s, err)
		return
	}
	if aerr := s.svc.Admit(ctx, c); aerr != nil {
		u.fail(s, aerr)
		return
	}
	if berr := s.banGate(ctx, c); berr != nil {
		u.fail(s, berr)
		return
	}
	if perr != nil {
		u.fail(s, perr)
		return
	}
	if ok, secs := s.files.limit.allow(c.ID, s.files.now()); !ok {
		u.fail(s, errUploadRate(secs))
		return
	}
	to, room := p.get("to"), p.get("room")
	conv, cerr := s.uploadConv(ctx, c, to, room)
	if cerr != nil {
		u.fail(s, cerr)
		return
	}
	if strings.HasPrefix(strings.TrimSpace(p.get("text")), "/") {
		u.fail(s, chat.Errorf(chat.CodeBadRequest, "a file's text cannot be a room command; send the command alone"))
		return
	}
	if int64(len(data)) > s.cfg.Files.MaxSize {
		u.fail(s, chat.Errorf(chat.CodeTooLong, "the file is larger than %s, the limit", humanSize(s.cfg.Files.MaxSize)))
		return
	}
	as, aerr := s.attachments()
	if aerr != nil {
		u.fail(s, aerr)
		return
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if s.files.quota > 0 {
		_, ok, qerr := as.AddUsage(sctx, c.ID, int64(len(data)), s.files.quota)
		if qerr != nil {
			u.fail(s, storeError(qerr))
			return
		}
		if !ok {
			u.fail(s, &chat.Error{Code: chat.CodeRateLimited, RetryAfter: secondsToMidnight(s.files.now()),
				Message: "your daily upload quota of " + humanSize(s.files.quota) + " is used up; try again tomorrow"})
			return
		}
	}
	up, ferr := s.accept(sctx, data, name)
	if ferr != nil {
		u.fail(s, ferr)
		return
	}
	a := &store.Attachment{ID: files.NewID(), Owner: c.ID, Conv: conv, Name: up.Name, Type: string(up.Type),
		Size: int64(len(up.Data)), Width: up.Width, Height: up.Height}
	if _, err := s.files.blobs.Put(a.ID, bytes.NewReader(up.Data)); err != nil {
		u.fail(s, fileError(err))
		return
	}
	if up.Thumb != nil {
		a.ThumbID = files.ThumbID(a.ID)
		if _, err := s.files.blobs.Put(a.ThumbID, bytes.NewReader(up.Thumb)); err != nil {
			s.removeFile(sctx, as, *a)
			u.fail(s, fileError(err))
			return
		}
	}
	if err := as.Save(sctx, a); err != nil {
		s.removeFile(sctx, as, *a)
		u.fail(s, storeError(err))
		return
	}
	text := strings.TrimSpace(p.get("text"))
	if text == "" {
		text = a.Name
	}
	m, serr := s.sendAttachment(ctx, c, chat.SendParams{To: to, Room: room, Text: text, ClientID: p.get("client_id")}, s.attachmentJSON(a))
	if serr != nil {
		s.removeFile(sctx, as, *a)
		u.fail(s, serr)
		return
	}
	if _, _, err := as.Attach(sctx, a.ID, m.ID); err != nil {
		// The message went out; the sweep would take the file for an
		// orphan, so say so loudly.
		s.log.Error("server: upload: recording the file's message", "file", a.ID, "message", m.ID, "err", err)
	}
	b := append([]byte(`{"message":`), chat.AppendMessage(nil, m)...)
	u.raw(fasthttp.StatusOK, append(b, '}'))
}

// uploadConv checks that c may send to the conversation and names it.
func (s *Server) uploadConv(ctx context.Context, c chat.Caller, to, room string) (store.Conv, *chat.Error) {
	switch {
	case (to == "") == (room == ""):
		return "", chat.Errorf(chat.CodeBadRequest, "give exactly one of to and room")
	case room != "":
		if !s.mayRead(ctx, c, store.RoomConv(room)) {
			return "", chat.Errorf(chat.CodeNotFound, "no room %q", room)
		}
		return store.RoomConv(room), nil
	case to == c.ID:
		return "", chat.Errorf(chat.CodeBadRequest, "cannot send a file to yourself")
	}
	if _, ok := s.svc.User(ctx, to); !ok {
		return "", chat.Errorf(chat.CodeNotFound, "no user %q", to)
	}
	return store.DirectConv(c.ID, to), nil
}

// accept runs the processor with a slot of the semaphore.
func (s *Server) accept(ctx context.Context, data []byte, name string) (*files.Upload, *chat.Error) {
	select {
	case s.files.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, &chat.Error{Code: chat.CodeUnavailable, RetryAfter: 5, Message: "the server is processing too many uploads; try again shortly"}
	}
	defer func() { <-s.files.sem }()
	up, err := s.files.proc.Accept(data, name)
	if err != nil {
		return nil, fileError(err)
	}
	return up, nil
}

// sendAttachment sends the message that carries an attachment, as any
// send: mutes, blocks and the rate limit apply.
func (s *Server) sendAttachment(ctx context.Context, c chat.Caller, p chat.SendParams, data []byte) (*store.Message, error) {
	p.Data = data
	res, err := s.svc.Send(ctx, c, p)
	if err != nil {
		return nil, err
	}
	if res.Message == nil {
		return nil, chat.Errorf(chat.CodeBadRequest, "a file cannot go with a room command; send the command alone")
	}
	return res.Message, nil
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return itoa(n>>20) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return itoa(n>>10) + " KiB"
	}
	return itoa(n) + " bytes"
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func secondsToMidnight(now time.Time) int {
	now = now.UTC()
	return int(now.Truncate(24*time.Hour).Add(24*time.Hour).Sub(now).Seconds()) + 1
}

// uploadTooLarge answers an upload whose body passed the limit before it
// was read (errorHandler): TOO_LONG, in the form the caller asked for.
func (s *Server) uploadTooLarge(ctx *fasthttp.RequestCtx) {
	e := chat.Errorf(chat.CodeTooLong, "the file is larger than %s, the limit", humanSize(s.cfg.Files.MaxSize))
	if !s.uploads.release(&ctx.Request.Header) && s.cfg.Files.Enabled {
		// It had no place (uploadGate): the limit it passed was 64 KiB.
		e = errUploadsArriving
	}
	q := ctx.QueryArgs()
	u := uploadReply{rp: reply{ctx: ctx}, frame: string(q.Peek("frame")) == "1"}
	if u.frame {
		u.frameID = string(q.Peek("frame_id"))
		if len(u.frameID) > 64 {
			u.frameID = u.frameID[:64]
		}
		u.origin = s.frameOrigin(string(q.Peek("origin")))
	} else if cb := q.Peek("callback"); ValidCallback(cb) {
		u.rp.callback = append([]byte(nil), cb...)
	}
	ctx.Response.Header.Set("X-Content-Type-Options", "nosniff")
	ctx.SetConnectionClose()
	u.fail(s, e)
}
