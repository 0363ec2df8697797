package e2e

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"pollchat/files"
	"pollchat/internal/testsvc"
)

// filesKey is the test servers' files.key: the tests sign expired links.
const filesKey = "test-files-key-0123456789abcdef-0123"

func filesOpts(extra string) testsvc.Options {
	return testsvc.Options{Chat: "rate = 0", Extra: "[files]\nenabled = true\nkey = \"" + filesKey + "\"\n" + extra}
}

// upload posts a multipart upload as uid with fields and one file part.
func upload(t *testing.T, c *testsvc.Client, uid, name string, data []byte, query string, fields ...string) *testsvc.Response {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range c.Ident(uid) {
		mw.WriteField(k, v[0])
	}
	for i := 0; i+1 < len(fields); i += 2 {
		mw.WriteField(fields[i], fields[i+1])
	}
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write(data)
	mw.Close()
	req, _ := http.NewRequest("POST", c.Base+"/v1/upload"+query, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return send(t, c, req)
}

// uploadSigned is upload with the identity in the query string, as the
// widget sends it: the server then knows whose body arrives before it is
// read (a place of that user's, not of the one shared by the others).
func uploadSigned(t *testing.T, c *testsvc.Client, uid, name string, data []byte, fields ...string) *testsvc.Response {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for i := 0; i+1 < len(fields); i += 2 {
		mw.WriteField(fields[i], fields[i+1])
	}
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write(data)
	mw.Close()
	req, _ := http.NewRequest("POST", c.Base+"/v1/upload?"+c.Ident(uid).Encode(), &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return send(t, c, req)
}

func send(t *testing.T, c *testsvc.Client, req *http.Request) *testsvc.Response {
	t.Helper()
	resp, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return &testsvc.Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

func get(t *testing.T, c *testsvc.Client, u string) *testsvc.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	return send(t, c, req)
}

type attachment struct {
	ID, Name, Type, URL string
	ThumbURL            string `json:"thumb_url"`
	Size                int64
	Width, Height       int
}

func attachmentOf(t *testing.T, r *testsvc.Response) attachment {
	t.Helper()
	var v struct {
		Message struct {
			Data struct{ Attachment attachment }
		}
	}
	if r.Status != 200 || json.Unmarshal(r.Body, &v) != nil || v.Message.Data.Attachment.ID == "" {
		t.Fatalf("upload = %d %s; want a message with an attachment", r.Status, r.Body)
	}
	return v.Message.Data.Attachment
}

func pngOf(w, h int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.NRGBA{uint8(x), uint8(y), 200, 255})
		}
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

// pngClaiming is a PNG signature and an IHDR claiming w×h, nothing more.
func pngClaiming(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6
	binary.Write(&b, binary.BigEndian, uint32(13))
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

func zipOf(t *testing.T, name string, data []byte) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, err := zw.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	zw.Close()
	return b.Bytes()
}

// An image sent by 3 to 4: the answer and 4's live event carry the
// attachment; its signed URLs serve the re-encoded image and the thumbnail
// to a bare <img>-like GET with the safe headers; 4's identity works
// without a token, 5's does not; a tampered, foreign or expired token is
// 403; history hands out fresh links; a restart loses nothing.
func TestUploadImageServedToParticipantsOnly(t *testing.T) {
	t.Parallel()
	p, c := start(t, filesOpts(""))
	rcv := c.NewPoller(t, "4")
	rcv.Poll(t, 0)
	img := pngOf(640, 480)
	a := attachmentOf(t, upload(t, c, "3", "holiday.png", img, "", "to", "4"))
	if a.Type != "image/png" || a.Width != 640 || a.Height != 480 || a.ThumbURL == "" || !strings.HasPrefix(a.URL, p.URL+"/files/"+a.ID+"?t=") {
		t.Fatalf("attachment = %+v", a)
	}
	ev, _ := rcv.WaitFor(t, 10*time.Second, func(e testsvc.Event) bool { return e.Type() == "message" })
	b, _ := json.Marshal(ev["message"])
	if !strings.Contains(string(b), a.ThumbURL[len(p.URL):]) && !strings.Contains(string(b), `\u0026`) {
		t.Errorf("4's live event %s does not carry the thumbnail URL", b)
	}
	for _, u := range []string{a.URL, a.ThumbURL} {
		r := get(t, c, u)
		if r.Status != 200 || r.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(r.Header.Get("Content-Security-Policy"), "sandbox") ||
			!strings.HasPrefix(r.Header.Get("Content-Type"), "image/") || !strings.HasPrefix(r.Header.Get("Content-Disposition"), "inline") {
			t.Fatalf("GET %s = %d %v", u, r.Status, r.Header)
		}
		if _, _, err := image.Decode(bytes.NewReader(r.Body)); err != nil {
			t.Fatalf("GET %s: not an image: %v", u, err)
		}
	}
	if cfg, _, err := image.DecodeConfig(bytes.NewReader(get(t, c, a.ThumbURL).Body)); err != nil || cfg.Width > 320 || cfg.Height > 320 {
		t.Errorf("thumbnail is %dx%d, %v; want within 320x320", cfg.Width, cfg.Height, err)
	}
	// Identity instead of a token: participants only.
	bare := p.URL + "/files/" + a.ID
	if r := c.Do(t, "GET", "/files/"+a.ID, c.Ident("4")); r.Status != 200 {
		t.Errorf("GET %s as 4 (participant, no token) = %d %s", bare, r.Status, r.Body)
	}
	if r := c.Do(t, "GET", "/files/"+a.ID, c.Ident("5")); r.Status != 403 || r.ErrorCode() != "FORBIDDEN" {
		t.Errorf("GET %s as 5 (not a participant) = %d %s; want 403", bare, r.Status, r.Body)
	}
	if r := get(t, c, bare); r.Status == 200 {
		t.Errorf("GET %s with nothing = 200", bare)
	}
	tok := a.URL[strings.Index(a.URL, "?t=")+3:]
	tampered := tok[:len(tok)-2] + map[bool]string{true: "AA", false: "BB"}[!strings.HasSuffix(tok, "AA")]
	if r := get(t, c, bare+"?t="+tampered); r.Status != 403 {
		t.Errorf("tampered token = %d; want 403", r.Status)
	}
	// The image's token does not open its thumbnail (a token names one id).
	if r := get(t, c, p.URL+"/files/"+files.ThumbID(a.ID)+"?t="+tok); r.Status != 403 {
		t.Errorf("the image's token on the thumbnail = %d; want 403", r.Status)
	}
	sg, _ := files.NewSigner([]byte(filesKey))
	expired := sg.Sign(a.ID, "d:3,4", time.Now().Add(-time.Second))
	if r := get(t, c, bare+"?t="+expired); r.Status != 403 || !strings.Contains(string(r.Body), "expired") {
		t.Errorf("expired token = %d %s; want 403 expired", r.Status, r.Body)
	}
	// A well-signed token for another conversation (what 5 might hold
	// from a conversation of their own) does not open this file.
	other := sg.Sign(a.ID, "d:4,5", time.Now().Add(time.Hour))
	if r := get(t, c, bare+"?t="+other); r.Status != 403 {
		t.Errorf("token for another conversation = %d; want 403", r.Status)
	}
	// History: a fresh link, which works.
	h := c.MustCall(t, "4", "history", "with", "3")
	msgs := h["messages"].([]any)
	att := msgs[len(msgs)-1].(map[string]any)["data"].(map[string]any)["attachment"].(map[string]any)
	if r := get(t, c, att["url"].(string)); r.Status != 200 {
		t.Errorf("history's link = %d", r.Status)
	}
	// A restart keeps the file.
	p.Stop()
	p.Start()
	if r := get(t, c, a.URL); r.Status != 200 {
		t.Errorf("after a restart GET = %d", r.Status)
	}
	// Erasure of the uploader removes the file.
	req, _ := http.NewRequest("DELETE", p.URL+"/api/v1/users/3", nil)
	req.SetBasicAuth(testsvc.APILogin, testsvc.APIPassword)
	if r := send(t, c, req); r.Status != 200 {
		t.Fatalf("erase 3 = %d %s", r.Status, r.Body)
	}
	if r := get(t, c, a.URL); r.Status != 404 {
		t.Errorf("GET after the uploader's erasure = %d; want 404", r.Status)
	}
}

// Hostile files are refused with a clear code, or served so that nothing
// in them runs.
func TestUploadHostileFiles(t *testing.T) {
	t.Parallel()
	_, c := start(t, filesOpts("max_size = 2000000\n"))
	zeros := make([]byte, 30<<20)
	bomb := zipOf(t, "zeros.bin", zeros)
	pdf := []byte("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
	polyglot := append(append([]byte{}, pdf...), zipOf(t, "a.txt", []byte("hi"))...)
	for _, tc := range []struct {
		name, file string
		data       []byte
		code       string
	}{
		{"html named png", "cat.png", []byte("<!DOCTYPE html><html><script>alert(document.cookie)</script></html>"), "BAD_REQUEST"},
		{"svg with script", "logo.png", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), "BAD_REQUEST"},
		{"pdf+zip polyglot", "doc.pdf", polyglot, "BAD_REQUEST"},
		{"huge-dimension png", "big.png", pngClaiming(100000, 100000), "TOO_LONG"},
		{"zip bomb", "bomb.zip", bomb, "BAD_REQUEST"},
		{"executable", "setup.pdf", append([]byte("MZ\x90\x00"), make([]byte, 200)...), "BAD_REQUEST"},
	} {
		r := upload(t, c, "3", tc.file, tc.data, "", "to", "4")
		if r.ErrorCode() != tc.code {
			t.Errorf("%s: upload = %d %s; want %s", tc.name, r.Status, r.Body, tc.code)
		}
		var e struct{ Error struct{ Message string } }
		json.Unmarshal(r.Body, &e)
		if len(e.Error.Message) < 10 {
			t.Errorf("%s: message %q is not a clear reason", tc.name, e.Error.Message)
		}
	}
	// A PDF named .html downloads as an attachment, never renders.
	a := attachmentOf(t, upload(t, c, "3", "invoice.html", pdf, "", "to", "4"))
	r := get(t, c, a.URL)
	if r.Status != 200 || r.Header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(r.Header.Get("Content-Disposition"), "attachment") ||
		!strings.Contains(r.Header.Get("Content-Disposition"), ".html.pdf") || r.Header.Get("X-Content-Type-Options") != "nosniff" ||
		!strings.Contains(r.Header.Get("Content-Security-Policy"), "sandbox") || a.ThumbURL != "" {
		t.Errorf("PDF named .html served as %d %v (attachment %+v)", r.Status, r.Header, a)
	}
	// A script hidden in a PNG behind the image data is dropped by the
	// re-encoding.
	img := append(pngOf(32, 32), []byte("<script>alert(1)</script>")...)
	a = attachmentOf(t, upload(t, c, "3", "x.png", img, "", "to", "4"))
	if r := get(t, c, a.URL); bytes.Contains(r.Body, []byte("<script>")) {
		t.Errorf("served image still carries the script")
	}
	// A body over max_size is refused from its Content-Length, before it
	// is read: the answer comes while the client has sent only headers.
	if st, body := headersOnly(t, c, "/v1/upload", 2100000); st != 413 || !strings.Contains(body, "TOO_LONG") || !strings.Contains(body, "limit") {
		t.Errorf("over max_size: %d %s; want 413 TOO_LONG", st, body)
	}
	// The upload's larger limit is the upload's alone: the rest keeps 64 KiB.
	if st, _ := headersOnly(t, c, "/v1/send", 100<<10); st != 413 {
		t.Errorf("send with a 100 KiB Content-Length = %d; want 413", st)
	}
}

// headersOnly sends a POST's headers claiming length bytes and a few
// bytes of body, and reads the answer.
func headersOnly(t *testing.T, c *testsvc.Client, path string, length int) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(c.Base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=xx\r\nContent-Length: %d\r\n\r\n--xx\r\n", path, length)
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("POST %s of %d bytes: no answer before the body: %v", path, length, err)
	}
	rb, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(rb)
}

// Refusals that are not about the content: no identity, a non-member
// target, the quota; the form a hidden iframe gets.
func TestUploadRefusalsAndIframe(t *testing.T) {
	t.Parallel()
	_, c := start(t, filesOpts("daily_quota = 3000\n"))
	img := pngOf(16, 16)
	// No identity.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("to", "4")
	fw, _ := mw.CreateFormFile("file", "a.png")
	fw.Write(img)
	mw.Close()
	req, _ := http.NewRequest("POST", c.Base+"/v1/upload", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if r := send(t, c, req); r.ErrorCode() != "AUTH_FAILED" {
		t.Errorf("upload without identity = %d %s", r.Status, r.Body)
	}
	if r := upload(t, c, "3", "a.png", img, "", "room", "nowhere"); r.ErrorCode() != "NOT_FOUND" {
		t.Errorf("upload to an unknown room = %s", r.Body)
	}
	if r := upload(t, c, "3", "a.png", img, "", "to", "4", "text", "/kick 4"); r.ErrorCode() != "BAD_REQUEST" {
		t.Errorf("upload with a command as text = %s", r.Body)
	}
	// Room upload works and is served to any user (rooms are open).
	a := attachmentOf(t, upload(t, c, "3", "a.png", img, "", "room", "lobby", "text", "look"))
	if r := c.Do(t, "GET", "/files/"+a.ID, c.Ident("5")); r.Status != 200 {
		t.Errorf("room file to another user = %d", r.Status)
	}
	// The iframe form: an HTML page that posts the answer to the origin.
	r := upload(t, c, "3", "b.png", img, "?frame=1&frame_id=u7&origin="+url.QueryEscape("https://host.example"), "to", "4")
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(r.Body), `parent.postMessage("{\"pollchat_upload\":\"u7\"`) ||
		!strings.Contains(string(r.Body), `"https://host.example")`) || !strings.Contains(r.Header.Get("Content-Security-Policy"), "script-src 'nonce-") {
		t.Errorf("iframe answer = %v\n%s", r.Header, r.Body)
	}
	// Quota: 3000 bytes a day; the next upload passes it.
	var last *testsvc.Response
	for i := 0; i < 50; i++ {
		if last = upload(t, c, "3", "c.png", img, "", "to", "4"); last.Status != 200 {
			break
		}
	}
	if last.ErrorCode() != "RATE_LIMITED" || !strings.Contains(string(last.Body), "quota") {
		t.Errorf("past the quota: %d %s; want RATE_LIMITED", last.Status, last.Body)
	}
	// The iframe gets errors the same way.
	r = upload(t, c, "3", "d.png", img, "?frame=1&frame_id=u8&origin="+url.QueryEscape("https://host.example"), "to", "4")
	if !strings.Contains(string(r.Body), "RATE_LIMITED") || !strings.Contains(string(r.Body), "postMessage") {
		t.Errorf("iframe error answer = %s", r.Body)
	}
}

// Upload bodies are received into memory before any handler runs, so
// their total is bounded: with files.max_size at 40 MB the budget (64 MiB)
// holds 2 bodies; a third connection that announces a large body while
// two are arriving is answered UNAVAILABLE with Retry-After before it
// sends its body, and a connection that drops half-way gives its place
// back (any client could otherwise hold max_size per connection).
func TestUploadBodiesInMemoryAreBounded(t *testing.T) {
	t.Parallel()
	_, c := start(t, filesOpts("max_size = 40000000\n"))
	addr := strings.TrimPrefix(c.Base, "http://")
	a, b := slowUpload(t, addr, "?"+c.Ident("3").Encode()), slowUpload(t, addr, "?"+c.Ident("4").Encode())
	defer b.Close()
	st, body := headersOnly(t, c, "/v1/upload?"+c.Ident("5").Encode(), 30000000)
	if st != 503 || !strings.Contains(body, "UNAVAILABLE") {
		t.Fatalf("third large upload while two arrive: %d %s; want 503 UNAVAILABLE", st, body)
	}
	// The first drops mid-body: its place is free again.
	a.Close()
	waitFor(t, 10*time.Second, "a place given back", func() bool {
		st, _ := headersOnlyStatus(addr)
		return st != 503
	})
	// Small uploads still work while a large one arrives.
	r := upload(t, c, "3", "x.png", pngOf(8, 8), "", "to", "4")
	if r.Status != 200 {
		t.Fatalf("small upload while one large arrives: %d %s", r.Status, r.Body)
	}
}

// slowUpload sends a large upload's header (to /v1/upload with query) and
// 1 MiB of its body, then nothing, and checks that the server awaits the
// rest: a refusal would be answered at once.
func slowUpload(t *testing.T, addr, query string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /v1/upload%s HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=xx\r\nContent-Length: 5000000\r\n\r\n--xx\r\n", query)
	conn.Write(make([]byte, 1<<20))
	conn.SetReadDeadline(time.Now().Add(time.Second))
	if n, _ := conn.Read(make([]byte, 512)); n > 0 {
		conn.Close()
		t.Fatalf("a large upload (%s) with a place free was answered before its body", query)
	}
	return conn
}

// Places for upload bodies are few (12 at the default 5 MiB) and a slow
// body holds its place for minutes, so nobody may take them all: clients
// with no identity in the query string share one place, a user holds at
// most two. An attacker who opens connections that announce large bodies
// and send them slowly, anonymously or as one user, leaves the others'
// uploads working.
func TestUploadPlacesNotJammed(t *testing.T) {
	t.Parallel()
	_, c := start(t, filesOpts(""))
	addr := strings.TrimPrefix(c.Base, "http://")
	var held []net.Conn
	defer func() {
		for _, conn := range held {
			conn.Close()
		}
	}()
	// Anonymous: the first holds the shared place, the others are
	// refused from their header.
	held = append(held, slowUpload(t, addr, ""))
	for i := 0; i < 3; i++ {
		if st, body := headersOnly(t, c, "/v1/upload", 5000000); st != 503 || !strings.Contains(body, "UNAVAILABLE") {
			t.Fatalf("anonymous large upload #%d while one arrives: %d %s; want 503 UNAVAILABLE", i+2, st, body)
		}
	}
	// One user: two places, no more.
	sig := "?" + c.Ident("3").Encode()
	held = append(held, slowUpload(t, addr, sig), slowUpload(t, addr, sig))
	if st, body := headersOnly(t, c, "/v1/upload"+sig, 5000000); st != 503 || !strings.Contains(body, "UNAVAILABLE") {
		t.Fatalf("user 3's third large upload at once: %d %s; want 503 UNAVAILABLE", st, body)
	}
	// A forged identity is nobody: the shared place is held.
	forged := "?id=4&timestamp=" + testsvc.Timestamp(time.Now()) + "&hash=0000000000000000000000000000000000000000"
	if st, _ := headersOnly(t, c, "/v1/upload"+forged, 5000000); st != 503 {
		t.Fatalf("large upload with a forged identity: %d; want 503 (the anonymous place is held)", st)
	}
	// Everybody else uploads as usual, large bodies included.
	big := make([]byte, 200<<10)
	for i := range big {
		big[i] = byte(i*7 + i>>8)
	}
	r := uploadSigned(t, c, "4", "notes.txt", big, "to", "3")
	if r.Status != 200 && r.ErrorCode() != "BAD_REQUEST" {
		t.Fatalf("user 4's 200 KiB upload while others hold places: %d %s; want it received (200, or its type refused)", r.Status, r.Body)
	}
	if r = uploadSigned(t, c, "4", "dot.png", pngOf(8, 8), "to", "3"); r.Status != 200 {
		t.Fatalf("user 4's upload while others hold places: %d %s; want 200", r.Status, r.Body)
	}
	// Small bodies never need a place.
	if r = upload(t, c, "4", "x.png", pngOf(8, 8), "", "to", "3"); r.Status != 200 {
		t.Fatalf("a small upload with the identity in the form: %d %s; want 200", r.Status, r.Body)
	}
}

// headersOnlyStatus is headersOnly without a test to fail: the status, or
// 0 when there is no answer within 2 s (the body is being awaited).
func headersOnlyStatus(addr string) (int, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=xx\r\nContent-Length: 30000000\r\n\r\n--xx\r\n")
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// waitFor polls cond until it holds, or fails the test after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); !cond(); {
		if time.Now().After(end) {
			t.Fatalf("waited %s for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
