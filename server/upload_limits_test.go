package server

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"mime/multipart"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"pollchat/chat"
	"pollchat/config"
	"pollchat/internal/testsvc"
)

// A user starts five uploads in a row, then one per 2 s; another user has
// a bucket of their own; the refusal says when to come back.
func TestUploadLimiter(t *testing.T) {
	t.Parallel()
	l := newUploadLimiter(uploadEvery, uploadBurst)
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	for i := 0; i < uploadBurst; i++ {
		if ok, _ := l.allow("3", t0); !ok {
			t.Fatalf("allow(3) #%d at once = false; want true (burst %d)", i+1, uploadBurst)
		}
	}
	if ok, secs := l.allow("3", t0); ok || secs != 2 {
		t.Fatalf("allow(3) #%d = %v, retry %d; want false, 2", uploadBurst+1, ok, secs)
	}
	if ok, _ := l.allow("4", t0); !ok {
		t.Fatal("allow(4) = false; want true: each user has a bucket")
	}
	if ok, secs := l.allow("3", t0.Add(time.Second)); ok || secs != 1 {
		t.Fatalf("allow(3) after 1 s = %v, retry %d; want false, 1", ok, secs)
	}
	if ok, _ := l.allow("3", t0.Add(2*time.Second)); !ok {
		t.Fatal("allow(3) after 2 s = false; want true")
	}
	if ok, _ := l.allow("3", t0.Add(2*time.Second)); ok {
		t.Fatal("allow(3) twice after 2 s = true; want false")
	}
	// A long pause refills to the burst, no further.
	later := t0.Add(time.Hour)
	for i := 0; i < uploadBurst; i++ {
		if ok, _ := l.allow("3", later); !ok {
			t.Fatalf("allow(3) #%d an hour later = false; want true", i+1)
		}
	}
	if ok, _ := l.allow("3", later); ok {
		t.Fatalf("allow(3) #%d an hour later = true; want false (the bucket holds %d)", uploadBurst+1, uploadBurst)
	}
	e := errUploadRate(2)
	if e.Code != chat.CodeRateLimited || e.RetryAfter != 2 {
		t.Fatalf("errUploadRate(2) = %+v; want RATE_LIMITED, retry_after 2", e)
	}
}

// Full buckets are dropped when the map is full, busy ones kept.
func TestUploadLimiterPrunes(t *testing.T) {
	t.Parallel()
	l := newUploadLimiter(uploadEvery, uploadBurst)
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	for i := 0; i < uploadUsers; i++ {
		l.allow(itoa(int64(i)), t0)
	}
	for i := 0; i < uploadBurst-1; i++ {
		l.allow("0", t0)
	}
	l.allow("new", t0.Add(time.Minute))
	if _, ok := l.users["0"]; ok {
		t.Errorf("bucket of user 0 kept; want dropped (full again after a minute)")
	}
	if len(l.users) != 1 {
		t.Errorf("after pruning %d buckets; want 1", len(l.users))
	}
	busy := newUploadLimiter(time.Hour, uploadBurst)
	for i := 0; i < uploadUsers; i++ {
		busy.allow(itoa(int64(i)), t0)
	}
	busy.allow("new", t0.Add(time.Minute))
	if len(busy.users) != uploadUsers+1 {
		t.Errorf("busy buckets after pruning: %d; want %d (none full)", len(busy.users), uploadUsers+1)
	}
}

// When every body-read slot is taken, an upload is answered UNAVAILABLE
// with Retry-After at once, before its form is parsed; a free slot lets it
// through and is given back.
func TestUploadBodyReadsBounded(t *testing.T) {
	t.Parallel()
	f := &fileSvc{reads: make(chan struct{}, 2)}
	r1, ok1 := f.tryRead()
	r2, ok2 := f.tryRead()
	if !ok1 || !ok2 {
		t.Fatal("tryRead with free slots = false; want true")
	}
	if _, ok := f.tryRead(); ok {
		t.Fatal("tryRead with every slot taken = true; want false")
	}
	r1()
	r3, ok := f.tryRead()
	if !ok {
		t.Fatal("tryRead after a release = false; want true")
	}
	r2()
	r3()
	if len(f.reads) != 0 {
		t.Fatalf("%d slots held after every release; want 0", len(f.reads))
	}

	// Through the handler: the answer is 503 with Retry-After.
	s := &Server{cfg: &config.Config{}, metrics: newMetrics()}
	s.cfg.Files.Enabled = true
	s.cfg.Server.PublicURL = "http://chat.test"
	s.files = &fileSvc{reads: make(chan struct{}, 1)}
	s.files.reads <- struct{}{}
	ctx := postCtx("", "multipart/form-data; boundary=x")
	ctx.Request.SetRequestURI("/v1/upload?frame=1&origin=http://chat.test")
	s.upload(ctx)
	if ctx.Response.StatusCode() != 200 || !bytes.Contains(ctx.Response.Body(), []byte(`UNAVAILABLE\"`)) || !bytes.Contains(ctx.Response.Body(), []byte("retry_after")) {
		t.Fatalf("upload with the slots full (frame) = %d %s; want the UNAVAILABLE answer", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	if errUploadBusy.RetryAfter <= 0 || Status(errUploadBusy.Code) != 503 {
		t.Fatalf("errUploadBusy = %+v (status %d); want 503 with a retry_after", errUploadBusy, Status(errUploadBusy.Code))
	}
}

// uploadCtx is a POST /v1/upload of data as uid to peer, signed as the
// test config's users are.
func uploadCtx(t *testing.T, s *Server, uid, to string, data []byte) *fasthttp.RequestCtx {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	ts := testsvc.Timestamp(time.Now())
	mw.WriteField("id", uid)
	mw.WriteField("timestamp", ts)
	mw.WriteField("hash", testsvc.SHA1Hex(uid, ts, s.cfg.Auth.Secret))
	mw.WriteField("to", to)
	fw, _ := mw.CreateFormFile("file", "dot.png")
	fw.Write(data)
	mw.Close()
	var req fasthttp.Request
	req.SetRequestURI("/v1/upload")
	req.Header.SetMethod("POST")
	req.Header.SetContentType(mw.FormDataContentType())
	req.SetBody(body.Bytes())
	ctx := &fasthttp.RequestCtx{}
	ctx.Init(&req, nil, nil)
	return ctx
}

// Through the handler, on a server whose clock stands still: a user's
// sixth upload in a row is RATE_LIMITED with Retry-After before anything
// is processed or counted against the quota; another user may upload.
func TestUploadRateLimitedBeforeProcessing(t *testing.T) {
	s, _, _ := sweepServer(t)
	now := time.Now()
	s.files.now = func() time.Time { return now }
	img := pngImage(t, 8, 8)
	as, _ := s.attachments()
	for i := 0; i < uploadBurst; i++ {
		ctx := uploadCtx(t, s, "3", "4", img)
		s.upload(ctx)
		if ctx.Response.StatusCode() != 200 {
			t.Fatalf("upload #%d = %d %s; want 200", i+1, ctx.Response.StatusCode(), ctx.Response.Body())
		}
	}
	used, err := as.Usage(context.Background(), "3")
	if err != nil || used == 0 {
		t.Fatalf("quota used after %d uploads = %d, %v; want above 0", uploadBurst, used, err)
	}
	ctx := uploadCtx(t, s, "3", "4", img)
	s.upload(ctx)
	if ctx.Response.StatusCode() != 429 || !bytes.Contains(ctx.Response.Body(), []byte(`"RATE_LIMITED"`)) || string(ctx.Response.Header.Peek("Retry-After")) != "2" {
		t.Fatalf("upload #%d = %d %s (Retry-After %q); want 429 RATE_LIMITED, Retry-After 2", uploadBurst+1,
			ctx.Response.StatusCode(), ctx.Response.Body(), ctx.Response.Header.Peek("Retry-After"))
	}
	if after, _ := as.Usage(context.Background(), "3"); after != used {
		t.Errorf("quota after a rate-limited upload = %d; want %d (not drawn)", after, used)
	}
	ctx = uploadCtx(t, s, "4", "3", img)
	s.upload(ctx)
	if ctx.Response.StatusCode() != 200 {
		t.Fatalf("upload by 4 = %d %s; want 200 (a bucket per user)", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	now = now.Add(uploadEvery)
	ctx = uploadCtx(t, s, "3", "4", img)
	s.upload(ctx)
	if ctx.Response.StatusCode() != 200 {
		t.Fatalf("upload by 3 two seconds later = %d %s; want 200", ctx.Response.StatusCode(), ctx.Response.Body())
	}
}

func pngImage(t *testing.T, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Upload places (bodies arriving at once): a user holds at most
// uploadPlacesPerUser of them and every request without an identity in
// its query string shares uploadPlacesAnon, so neither one user nor
// anybody unknown can take all of them and jam the others' uploads. A
// given-back or expired place is free again.
func TestUploadGatePlaces(t *testing.T) {
	t.Parallel()
	g := &uploadGate{max: 5, ttl: time.Minute, held: map[*fasthttp.RequestHeader]uploadPlace{}}
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	hs := make([]*fasthttp.RequestHeader, 10)
	for i := range hs {
		hs[i] = &fasthttp.RequestHeader{}
	}
	want := func(i int, user string, at time.Time, ok bool) {
		t.Helper()
		if got := g.take(hs[i], user, at); got != ok {
			t.Fatalf("take(request %d, user %q) = %v; want %v (held %d)", i, user, got, ok, len(g.held))
		}
	}
	want(0, "", t0, true)
	want(1, "", t0, false) // the one place for unknown senders is held
	want(2, "3", t0, true)
	want(3, "3", t0, true)
	want(4, "3", t0, false) // user 3 holds their two
	want(5, "4", t0, true)
	want(0, "", t0, true) // the same request again: its own place
	want(6, "5", t0, true)
	want(7, "6", t0, false) // all five held
	if !g.release(hs[2]) {
		t.Fatal("release of a held place = false; want true")
	}
	if g.release(hs[2]) {
		t.Fatal("release twice = true; want false")
	}
	want(4, "3", t0, true) // user 3 has one free again
	want(7, "6", t0, false)
	g.release(hs[5])
	want(7, "6", t0, true)
	// After the ttl every place has expired.
	later := t0.Add(2 * time.Minute)
	want(1, "", later, true)
	want(8, "3", later, true)
	want(9, "3", later, true)
	if len(g.held) != 3 {
		t.Fatalf("%d places held after expiry; want 3", len(g.held))
	}
}

// uploader reads the identity of an upload's query string: a valid one
// names the user, anything else (none, a bad hash, an identity only in
// the form) is nobody.
func TestUploader(t *testing.T) {
	s, _, _ := sweepServer(t)
	ts := testsvc.Timestamp(time.Now())
	good := "/v1/upload?id=3&timestamp=" + ts + "&hash=" + testsvc.SHA1Hex("3", ts, s.cfg.Auth.Secret)
	for uri, want := range map[string]string{
		good:                 "3",
		good + "&frame=1":    "3",
		"/v1/upload":         "",
		"/v1/upload?frame=1": "",
		"/v1/upload?id=3&timestamp=" + ts + "&hash=" + testsvc.SHA1Hex("4", ts, s.cfg.Auth.Secret): "",
		"/v1/upload?id=3":            "",
		"/v1/upload?token=not.a.jwt": "",
		"/v1/upload?token=" + (&testsvc.Client{Secret: s.cfg.Auth.Secret}).Token("4", time.Minute, nil): "4",
	} {
		if got := s.uploader([]byte(uri)); got != want {
			t.Errorf("uploader(%s) = %q; want %q", uri, got, want)
		}
	}
}
